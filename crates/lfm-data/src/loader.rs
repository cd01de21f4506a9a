//! Shards → batches of `[batch, seq_len + 1]` token windows: packed, shuffled from a seed,
//! split across data-parallel ranks, exactly resumable, read ahead on a background thread.
//!
//! **Packing rule.** Documents (each stored as `<|startoftext|> .. <|endoftext|>`) are
//! concatenated into one stream and cut into windows of `seq_len + 1` tokens with stride
//! `seq_len`: window k is `stream[k·S ..= k·S + S]`, so the last token of a window is the first
//! of the next and every stream token after the first is a training target exactly once. Windows
//! cross document boundaries (attention sees the previous document's tail behind its EOS/BOS
//! pair), as in GPT-style pre-training: no padding is wasted, no document is truncated, and the
//! BOS/EOS tokens tell the model where a document starts. (Per-document attention masks would need
//! block-diagonal masks in the attention layers and state resets in the conv layers.)
//!
//! **Shuffling.** The unit of shuffling is a row group (~1M tokens, the build's
//! `row_group_tokens`). Each epoch permutes the shard order, then the row groups within each
//! shard, then the documents within each row group, all from `(seed, epoch, shard, row group)`
//! through splitmix64 — no RNG object has to be saved, so the state stays a few integers.
//!
//! **Ranks.** In each epoch's unit order, unit i belongs to rank `i % world_size`: ranks never
//! share a row group, and together they cover the split once per epoch.
//!
//! **State.** `(epoch, unit, doc, token)` points at the next unread stream token and `carry` is
//! the token that starts the next window; with the seed and the shapes that is everything:
//! restoring it replays the exact same batches.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::{Array, ListArray, UInt32Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::shards::{mix64, Manifest, ShardInfo, IDS_COLUMN};
use crate::tokenizer::one_line;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
}

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub seq_len: usize,
    pub seed: u64,
    pub shuffle: bool,
    pub rank: usize,
    pub world_size: usize,
    pub split: Split,
    /// Batches read ahead by the background thread.
    pub prefetch: usize,
    /// Stop after this many epochs (`None`: loop forever).
    pub max_epochs: Option<u64>,
    /// Token ids must be below this (the model's vocab_size): a larger one is an error naming
    /// the shard and row group, not an out-of-range embedding lookup.
    pub vocab_size: Option<usize>,
}

impl LoaderConfig {
    /// Training: shuffled, endless, rank 0 of 1.
    pub fn train(batch_size: usize, seq_len: usize, seed: u64) -> Self {
        Self {
            batch_size,
            seq_len,
            seed,
            shuffle: true,
            rank: 0,
            world_size: 1,
            split: Split::Train,
            prefetch: 4,
            max_epochs: None,
            vocab_size: None,
        }
    }
    /// Validation: the val split once, in order.
    pub fn val(batch_size: usize, seq_len: usize) -> Self {
        Self {
            batch_size,
            seq_len,
            seed: 0,
            shuffle: false,
            rank: 0,
            world_size: 1,
            split: Split::Val,
            prefetch: 2,
            max_epochs: Some(1),
            vocab_size: None,
        }
    }
}

/// Where the loader is; serialize it into a checkpoint to resume exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderState {
    pub seed: u64,
    pub shuffle: bool,
    pub rank: usize,
    pub world_size: usize,
    pub seq_len: usize,
    pub batch_size: usize,
    pub split: Split,
    /// Completed epochs.
    pub epoch: u64,
    /// Index into this epoch's unit list of this rank.
    pub unit: u64,
    /// Index into the current unit's (permuted) documents.
    pub doc: u64,
    /// Offset of the next token in the current document.
    pub token: u64,
    /// First token of the next window (the last of the previous one).
    pub carry: Option<u32>,
    /// Batches produced so far.
    pub batches: u64,
}

impl LoaderState {
    pub fn start(cfg: &LoaderConfig) -> Self {
        Self {
            seed: cfg.seed,
            shuffle: cfg.shuffle,
            rank: cfg.rank,
            world_size: cfg.world_size,
            seq_len: cfg.seq_len,
            batch_size: cfg.batch_size,
            split: cfg.split,
            epoch: 0,
            unit: 0,
            doc: 0,
            token: 0,
            carry: None,
            batches: 0,
        }
    }
}

/// `batch_size` windows of `seq_len + 1` tokens, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub tokens: Vec<u32>,
    pub batch_size: usize,
    pub seq_len: usize,
    /// Epoch of the batch's last window.
    pub epoch: u64,
    /// Loader state after this batch: save it with the checkpoint of the step that used it.
    pub state: LoaderState,
}

impl Batch {
    pub fn window(&self, i: usize) -> &[u32] {
        let w = self.seq_len + 1;
        &self.tokens[i * w..(i + 1) * w]
    }
}

/// A deterministic permutation of 0..n from a key (Fisher–Yates over splitmix64).
pub fn permutation(n: usize, key: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    let mut s = key;
    for i in (1..n).rev() {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let j = (mix64(s) % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

fn key(parts: &[u64]) -> u64 {
    parts.iter().fold(0x1f2e_3d4c_5b6a_7988, |h, &x| mix64(h ^ x))
}

/// Unigram entropy (nats/token) of a dataset's training split: the loss of the best model
/// that ignores context, the baseline a trained model's validation loss is compared with.
pub fn unigram_entropy(dir: &Path) -> Result<f64> {
    let m = crate::shards::Manifest::load(dir)?;
    let mut counts = std::collections::HashMap::<u32, u64>::new();
    for sh in &m.train.shards {
        for rg in 0..sh.row_groups as usize {
            for doc in read_row_group(&dir.join(&sh.file), rg)? {
                for t in doc {
                    *counts.entry(t).or_default() += 1;
                }
            }
        }
    }
    let n: u64 = counts.values().sum();
    Ok(counts.values().map(|&c| c as f64 / n as f64).map(|p| -p * p.ln()).sum())
}

/// Reads row group `rg` of a shard: one `Vec<u32>` per document.
pub fn read_row_group(path: &Path, rg: usize) -> Result<Vec<Vec<u32>>> {
    let h = File::open(path).with_context(|| format!("{}: cannot open shard", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(h)
        .map_err(|e| anyhow!("{}: not a readable parquet shard: {}", path.display(), one_line(&e.to_string())))?;
    if rg >= builder.metadata().num_row_groups() {
        bail!(
            "{}: has {} row groups, manifest expects at least {}",
            path.display(),
            builder.metadata().num_row_groups(),
            rg + 1
        );
    }
    if builder.schema().index_of(IDS_COLUMN).is_err() {
        bail!("{}: no {IDS_COLUMN:?} column", path.display());
    }
    let reader = builder
        .with_row_groups(vec![rg])
        .with_batch_size(1 << 16)
        .build()
        .map_err(|e| anyhow!("{}: {}", path.display(), one_line(&e.to_string())))?;
    let mut docs = Vec::new();
    for b in reader {
        let b = b.map_err(|e| anyhow!("{}: corrupt row group {rg}: {}", path.display(), one_line(&e.to_string())))?;
        let col =
            b.column_by_name(IDS_COLUMN).ok_or_else(|| anyhow!("{}: no {IDS_COLUMN:?} column", path.display()))?;
        let list = col
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| anyhow!("{}: column {IDS_COLUMN:?} is not list<uint32>", path.display()))?;
        let values = list
            .values()
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| anyhow!("{}: column {IDS_COLUMN:?} is not list<uint32>", path.display()))?;
        let offs = list.value_offsets();
        for i in 0..list.len() {
            let (a, z) = (offs[i] as usize, offs[i + 1] as usize);
            docs.push(values.values()[a..z].to_vec());
        }
    }
    Ok(docs)
}

/// The synchronous core: walks the stream and cuts windows.
pub struct Cursor {
    dir: PathBuf,
    shards: Vec<ShardInfo>,
    cfg: LoaderConfig,
    state: LoaderState,
    units: Vec<(usize, usize)>,
    units_epoch: Option<u64>,
    docs: Option<Vec<Vec<u32>>>,
}

impl Cursor {
    pub fn new(dir: &Path, cfg: LoaderConfig, state: Option<LoaderState>) -> Result<Self> {
        if cfg.batch_size == 0 || cfg.seq_len == 0 {
            bail!("batch_size and seq_len must be positive");
        }
        if cfg.world_size == 0 || cfg.rank >= cfg.world_size {
            bail!("rank {} is not in 0..{}", cfg.rank, cfg.world_size);
        }
        let manifest = Manifest::load(dir)?;
        let shards = match cfg.split {
            Split::Train => manifest.train.shards,
            Split::Val => manifest.val.shards,
        };
        if shards.iter().all(|s| s.tokens == 0) {
            bail!("{}: the {:?} split is empty", dir.display(), cfg.split);
        }
        let state = match state {
            None => LoaderState::start(&cfg),
            Some(s) => {
                let fresh = LoaderState::start(&cfg);
                let same = (s.seed, s.shuffle, s.rank, s.world_size, s.seq_len, s.batch_size, s.split)
                    == (
                        fresh.seed,
                        fresh.shuffle,
                        fresh.rank,
                        fresh.world_size,
                        fresh.seq_len,
                        fresh.batch_size,
                        fresh.split,
                    );
                if !same {
                    bail!(
                        "loader state was saved with seed {} rank {}/{} batch {}x{} split {:?}, but this run uses seed {} rank {}/{} batch {}x{} split {:?}",
                        s.seed, s.rank, s.world_size, s.batch_size, s.seq_len, s.split,
                        fresh.seed, fresh.rank, fresh.world_size, fresh.batch_size, fresh.seq_len, fresh.split
                    );
                }
                s
            }
        };
        let mut c = Self { dir: dir.to_path_buf(), shards, cfg, state, units: vec![], units_epoch: None, docs: None };
        c.ensure_units();
        if c.units.is_empty() {
            bail!(
                "{}: rank {} of {} gets no row groups (the split has fewer row groups than ranks)",
                dir.display(),
                c.cfg.rank,
                c.cfg.world_size
            );
        }
        Ok(c)
    }

    pub fn state(&self) -> &LoaderState {
        &self.state
    }

    /// This rank's units `(shard, row group)` of an epoch, in order.
    pub fn units_of_epoch(&self, epoch: u64) -> Vec<(usize, usize)> {
        let seed = self.cfg.seed;
        let n = self.shards.len();
        let shard_order =
            if self.cfg.shuffle { permutation(n, key(&[seed, epoch, u64::MAX])) } else { (0..n).collect() };
        let mut all = Vec::new();
        for s in shard_order {
            let rgs = self.shards[s].row_groups as usize;
            let order = if self.cfg.shuffle {
                permutation(rgs, key(&[seed, epoch, s as u64, u64::MAX - 1]))
            } else {
                (0..rgs).collect()
            };
            all.extend(order.into_iter().map(|r| (s, r)));
        }
        all.into_iter().enumerate().filter(|(i, _)| i % self.cfg.world_size == self.cfg.rank).map(|(_, u)| u).collect()
    }

    fn ensure_units(&mut self) {
        if self.units_epoch != Some(self.state.epoch) {
            self.units = self.units_of_epoch(self.state.epoch);
            self.units_epoch = Some(self.state.epoch);
        }
    }

    fn load_unit(&mut self) -> Result<()> {
        let (s, rg) = self.units[self.state.unit as usize];
        let path = self.dir.join(&self.shards[s].file);
        let mut docs = read_row_group(&path, rg)?;
        if let Some(v) = self.cfg.vocab_size {
            if let Some(&bad) = docs.iter().flatten().find(|&&t| t as usize >= v) {
                bail!(
                    "{}: row group {rg}: token id {bad} is outside the model's vocabulary (vocab_size {v}); the shard is damaged or was built with another tokenizer",
                    path.display()
                );
            }
        }
        if self.cfg.shuffle {
            let perm = permutation(docs.len(), key(&[self.cfg.seed, self.state.epoch, s as u64, rg as u64]));
            let mut taken: Vec<Option<Vec<u32>>> = docs.into_iter().map(Some).collect();
            docs = perm.into_iter().map(|i| taken[i].take().unwrap()).collect();
        }
        self.docs = Some(docs);
        Ok(())
    }

    fn next_token(&mut self) -> Result<Option<u32>> {
        loop {
            self.ensure_units();
            if self.state.unit as usize >= self.units.len() {
                if self.cfg.max_epochs.is_some_and(|m| self.state.epoch + 1 >= m) {
                    return Ok(None);
                }
                self.state.epoch += 1;
                self.state.unit = 0;
                self.state.doc = 0;
                self.state.token = 0;
                self.docs = None;
                continue;
            }
            if self.docs.is_none() {
                self.load_unit()?;
            }
            let docs = self.docs.as_ref().unwrap();
            let Some(d) = docs.get(self.state.doc as usize) else {
                self.state.unit += 1;
                self.state.doc = 0;
                self.state.token = 0;
                self.docs = None;
                continue;
            };
            if let Some(&t) = d.get(self.state.token as usize) {
                self.state.token += 1;
                return Ok(Some(t));
            }
            self.state.doc += 1;
            self.state.token = 0;
        }
    }

    /// The next batch, or `None` when `max_epochs` is reached (a partial batch is dropped).
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        let (b, s) = (self.cfg.batch_size, self.cfg.seq_len);
        let mut tokens = Vec::with_capacity(b * (s + 1));
        for _ in 0..b {
            let start = tokens.len();
            if let Some(c) = self.state.carry {
                tokens.push(c);
            }
            while tokens.len() - start < s + 1 {
                match self.next_token()? {
                    Some(t) => tokens.push(t),
                    None => return Ok(None),
                }
            }
            self.state.carry = tokens.last().copied();
        }
        self.state.batches += 1;
        Ok(Some(Batch { tokens, batch_size: b, seq_len: s, epoch: self.state.epoch, state: self.state.clone() }))
    }
}

/// [`Cursor`] on a background thread with `prefetch` batches read ahead.
pub struct Loader {
    rx: Receiver<Result<Batch>>,
    handle: Option<JoinHandle<()>>,
    state: LoaderState,
    done: bool,
}

impl Loader {
    /// Opens the dataset at `dir` (a directory with `manifest.json`), from `state` if given.
    pub fn new(dir: &Path, cfg: LoaderConfig, state: Option<LoaderState>) -> Result<Self> {
        let prefetch = cfg.prefetch.max(1);
        let mut cursor = Cursor::new(dir, cfg, state)?;
        let start = cursor.state().clone();
        let (tx, rx) = sync_channel(prefetch);
        let handle = std::thread::Builder::new()
            .name("lfm-data-loader".into())
            .spawn(move || loop {
                match cursor.next_batch() {
                    Ok(Some(b)) => {
                        if tx.send(Ok(b)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            })
            .context("spawning the loader thread")?;
        Ok(Self { rx, handle: Some(handle), state: start, done: false })
    }

    /// The next batch; `None` at the end (only with `max_epochs`).
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv() {
            Ok(Ok(b)) => {
                self.state = b.state.clone();
                Ok(Some(b))
            }
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            Err(_) => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// State after the last batch handed out (the start state before the first).
    pub fn state(&self) -> &LoaderState {
        &self.state
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Dropping the receiver makes the producer's next send fail; it then exits.
        let (_tx, rx) = sync_channel(1);
        drop(std::mem::replace(&mut self.rx, rx));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Iterator for Loader {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Result<Batch>> {
        self.next_batch().transpose()
    }
}
