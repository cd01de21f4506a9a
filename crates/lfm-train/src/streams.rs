//! The pre-training sample order as `S` interleaved streams of row groups, so that a data-parallel
//! replica reads only the row groups it trains on.
//!
//! Stream `s` is the loader's rank `s` of `S` ([`lfm_data::loader`]): in every epoch's unit
//! order, row group `i` belongs to stream `i % S`. Micro-batch `g` of the run (counted over all
//! steps and replicas) is the next batch of stream `g % S`, and replica `r` of `N` trains on the
//! micro-batches `g % N == r` (each step has a multiple of `N` of them). So:
//!
//! - The order depends on `S`, not on how the replicas are launched: one process with
//!   `grad_accum = 2` and `S = 2` takes the same steps as `mpirun -np 2` with `grad_accum = 1`.
//! - When `N` divides `S`, MPI rank `r` opens only the streams `s % N == r`: it reads its own
//!   row groups and nobody else's. Otherwise a rank reads every stream `s` with
//!   `s ≡ r (mod gcd(S, N))` and drops the batches of other ranks (with `S = 1`, every rank reads
//!   the whole stream, keeping one batch in `N`).
//! - `S` defaults to the replica count when the training split has that many row groups, else 1;
//!   `[data] streams` sets it. A checkpoint records every stream's loader state, so a resumed run
//!   continues each stream where it stopped. Ranks only hold their own streams' states; rank 0
//!   writes the checkpoint, so the states are all-gathered over MPI first.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use lfm_data::loader::{Batch, Loader, LoaderConfig, LoaderState};

use crate::checkpoint::Meta;

/// Row groups in a dataset's training split.
pub fn train_row_groups(dataset: &Path) -> Result<u64> {
    let m = lfm_data::shards::Manifest::load(dataset)?;
    Ok(m.train.shards.iter().map(|s| s.row_groups).sum())
}

/// The stream count of a run: `[data] streams`, else the replica count `world` when the split
/// has at least that many row groups, else 1.
pub fn stream_count(configured: Option<usize>, world: usize, row_groups: u64, dataset: &Path) -> Result<usize> {
    match configured {
        Some(0) => bail!("[data] streams must be at least 1"),
        Some(s) if s as u64 > row_groups => bail!(
            "[data] streams = {s}, but the training split of {} has {row_groups} row group(s) (each stream needs one; \
             rebuild with a smaller --row-group-tokens or lower streams)",
            dataset.display()
        ),
        Some(s) => Ok(s),
        None if world as u64 <= row_groups => Ok(world.max(1)),
        None => Ok(1),
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The streams one rank reads, and where the run is in the interleaved order.
pub struct Streams {
    /// Stream `s` is `Some` when this rank reads it.
    loaders: Vec<Option<Loader>>,
    /// States of every stream as of the resumed checkpoint (for the streams this rank does not
    /// read they never change; [`Streams::states`] gathers the current ones).
    states: Vec<LoaderState>,
    /// The next micro-batch's index in the run.
    next: u64,
    rank: usize,
    ranks: usize,
}

impl Streams {
    /// Rank `rank` of `ranks` on the dataset `dir` with `count` streams; `cfg` is stream 0's
    /// loader config (its rank and world size are set per stream). `resumed`: the states of all
    /// streams from a checkpoint.
    pub fn open(
        dir: &Path,
        cfg: LoaderConfig,
        count: usize,
        rank: usize,
        ranks: usize,
        resumed: Option<Vec<LoaderState>>,
    ) -> Result<Self> {
        if let Some(r) = &resumed {
            if r.len() != count {
                bail!("the checkpoint has {} data stream(s), this run reads {count}", r.len());
            }
        }
        let g = gcd(count, ranks);
        let mut loaders = Vec::with_capacity(count);
        let mut states = Vec::with_capacity(count);
        for s in 0..count {
            let c = LoaderConfig { rank: s, world_size: count, ..cfg.clone() };
            let state = resumed.as_ref().map(|r| r[s].clone());
            states.push(state.clone().unwrap_or_else(|| LoaderState::start(&c)));
            loaders.push(if s % g == rank % g { Some(Loader::new(dir, c, state)?) } else { None });
        }
        let next = states.iter().map(|s| s.batches).sum();
        Ok(Streams { loaders, states, next, rank, ranks })
    }

    /// Indices of the streams this rank reads.
    pub fn read_here(&self) -> Vec<usize> {
        (0..self.loaders.len()).filter(|&s| self.loaders[s].is_some()).collect()
    }

    /// The next micro-batch of the run: its tokens when this rank trains on it, `None` when
    /// another rank does (read and dropped here, or not read at all).
    pub fn next_micro(&mut self) -> Result<Option<Batch>> {
        let g = self.next;
        self.next += 1;
        let s = (g % self.loaders.len() as u64) as usize;
        let mine = g % self.ranks as u64 == self.rank as u64;
        match &mut self.loaders[s] {
            Some(l) => {
                let b = l.next_batch()?.ok_or_else(|| anyhow!("the training loader ended"))?;
                self.states[s] = b.state.clone();
                Ok(mine.then_some(b))
            }
            None if mine => bail!("micro-batch {g} of stream {s} is not read on rank {}", self.rank),
            None => {
                // Another rank reads it: only the count moves here.
                self.states[s].batches += 1;
                Ok(None)
            }
        }
    }

    /// Every stream's state after the last micro-batch (a collective under MPI: every rank
    /// calls it at the same step). The states of streams read on other ranks come from them.
    pub fn states(&self) -> Result<Vec<LoaderState>> {
        if self.ranks == 1 {
            return Ok(self.states.clone());
        }
        let mine: Vec<(usize, &LoaderState)> = self.read_here().into_iter().map(|s| (s, &self.states[s])).collect();
        let all = crate::dist::all_gather_bytes(&serde_json::to_vec(&mine)?);
        let mut out = self.states.clone();
        for bytes in all {
            let theirs: Vec<(usize, LoaderState)> = serde_json::from_slice(&bytes)?;
            for (s, st) in theirs {
                out[s] = st;
            }
        }
        Ok(out)
    }

    /// Saves the states into a checkpoint's meta: `loader` for one stream (the layout of
    /// checkpoints before streams), `streams` for several.
    pub fn save(&self, meta: &mut Meta) -> Result<()> {
        let mut all = self.states()?;
        if all.len() == 1 {
            meta.loader = all.pop();
        } else {
            meta.streams = Some(all);
        }
        Ok(())
    }

    /// The stream states a checkpoint recorded (`None` when it has none: SFT, or no checkpoint).
    pub fn resumed(meta: Option<&Meta>) -> Option<Vec<LoaderState>> {
        let m = meta?;
        m.streams.clone().or_else(|| m.loader.clone().map(|l| vec![l]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dataset of at least 6 row groups in its training split.
    fn dataset(dir: &Path) -> std::path::PathBuf {
        use lfm_data::tokenizer::{self, BpeOptions};
        let texts: Vec<String> = (0..60)
            .map(|d| (0..40).map(|w| format!("w{} x{}", (d * 7 + w * 13) % 97, w % 11)).collect::<Vec<_>>().join(" "))
            .collect();
        let src = dir.join("docs.jsonl");
        let lines: Vec<String> = texts.iter().map(|t| serde_json::json!({ "text": t }).to_string()).collect();
        std::fs::write(&src, lines.join("\n")).unwrap();
        let tok = tokenizer::train_bpe(texts.iter(), &BpeOptions { vocab_size: 300, ..Default::default() }).unwrap();
        tokenizer::save_dir(&tok, &dir.join("tok"), 4096).unwrap();
        let out = dir.join("ds");
        let mut o = lfm_data::shards::BuildOptions::new(
            vec![src.display().to_string()],
            dir.join("tok/tokenizer.json"),
            out.clone(),
        );
        o.row_group_tokens = 400;
        o.val_fraction = 0.0;
        lfm_data::shards::build(&o, &indicatif::ProgressBar::hidden()).unwrap();
        out
    }

    fn batches(s: &mut Streams, n: usize) -> Vec<Option<Vec<u32>>> {
        (0..n).map(|_| s.next_micro().unwrap().map(|b| b.tokens)).collect()
    }

    /// Two ranks with two streams each read one stream, train on the micro-batches the
    /// one-rank order gives them, and together record the same states.
    #[test]
    fn ranks_read_only_their_streams_and_follow_the_one_rank_order() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(tmp.path());
        assert!(train_row_groups(&ds).unwrap() >= 6);
        let cfg = LoaderConfig::train(2, 16, 7);
        let mut one = Streams::open(&ds, cfg.clone(), 2, 0, 1, None).unwrap();
        let mut r0 = Streams::open(&ds, cfg.clone(), 2, 0, 2, None).unwrap();
        let mut r1 = Streams::open(&ds, cfg.clone(), 2, 1, 2, None).unwrap();
        assert_eq!((one.read_here(), r0.read_here(), r1.read_here()), (vec![0, 1], vec![0], vec![1]));
        let (a, b, c) = (batches(&mut one, 40), batches(&mut r0, 40), batches(&mut r1, 40));
        for g in 0..40 {
            let (mine, other) = if g % 2 == 0 { (&b[g], &c[g]) } else { (&c[g], &b[g]) };
            assert_eq!(mine, &a[g], "micro-batch {g}");
            assert!(other.is_none());
        }
        // The streams differ from each other and from the one-stream order.
        let mut single = Streams::open(&ds, cfg.clone(), 1, 0, 1, None).unwrap();
        assert_ne!(batches(&mut single, 40), a);
        assert_ne!(a[0], a[1]);
        // With one rank the states are local; a resumed pair continues the one-rank order.
        let states = one.states().unwrap();
        assert_eq!(states.iter().map(|s| s.batches).collect::<Vec<_>>(), vec![20, 20]);
        let mut back = Streams::open(&ds, cfg.clone(), 2, 0, 1, Some(states)).unwrap();
        assert_eq!(batches(&mut back, 10), batches(&mut one, 10));
    }

    /// Three streams over two ranks: gcd 1, so each rank reads all three and drops the
    /// other's micro-batches; one stream and two ranks likewise.
    #[test]
    fn streams_that_ranks_do_not_divide_are_read_by_every_rank() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(tmp.path());
        let cfg = LoaderConfig::train(2, 16, 3);
        for count in [1, 3] {
            let mut one = Streams::open(&ds, cfg.clone(), count, 0, 1, None).unwrap();
            let mut r1 = Streams::open(&ds, cfg.clone(), count, 1, 2, None).unwrap();
            assert_eq!(r1.read_here(), (0..count).collect::<Vec<_>>());
            let (a, c) = (batches(&mut one, 12), batches(&mut r1, 12));
            for g in 0..12 {
                assert_eq!(c[g].as_ref(), if g % 2 == 1 { a[g].as_ref() } else { None }, "{count} streams, {g}");
            }
        }
    }

    #[test]
    fn the_default_count_is_the_replica_count_when_the_split_allows() {
        let p = Path::new("ds");
        assert_eq!(stream_count(None, 2, 6, p).unwrap(), 2);
        assert_eq!(stream_count(None, 8, 6, p).unwrap(), 1);
        assert_eq!(stream_count(Some(3), 2, 6, p).unwrap(), 3);
        let e = stream_count(Some(7), 1, 6, p).unwrap_err().to_string();
        assert!(e.contains("6 row group(s)") && e.contains("streams = 7"), "{e}");
        assert!(stream_count(Some(0), 1, 6, p).is_err());
    }
}
