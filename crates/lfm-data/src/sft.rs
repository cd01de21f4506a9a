//! Supervised fine-tuning batches: chat/tool conversations from JSONL, rendered with the
//! checkpoint's chat template (`crate::template`), tokenized with the assistant-only loss mask, truncated to `seq_len` and
//! right-padded per batch. Labels are the token ids where the mask is on and -100 elsewhere
//! (HF convention: position t is trained to predict label t+1).
//!
//! Order: a permutation of the conversations from `(seed, epoch)`; the state is `(epoch, next)`,
//! so resuming replays the same batches.

use std::path::Path;

use crate::chat::{Conversation, TrainOn};
use crate::loader::permutation;
use crate::shards::mix64;
use crate::template::TextCodec;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// One tokenized conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct SftExample {
    pub ids: Vec<u32>,
    pub mask: Vec<bool>,
}

/// Conversations [`load_examples`] left out, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// No assistant token to train on at all.
    pub no_reply: usize,
    /// An assistant reply, but only beyond `seq_len + 1` tokens: truncated away.
    pub truncated: usize,
    /// The smallest `seq_len` that would have kept one of the truncated conversations.
    pub seq_len_needed: Option<usize>,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.no_reply + self.truncated
    }
}

/// Reads a JSONL file of conversations (`{"messages": [...], "tools": [...]}`) and encodes each.
/// Conversations are truncated to `seq_len + 1` tokens; those left without any trained token
/// (no assistant turn, or it was truncated away) are skipped and counted by reason. A file
/// that keeps none is an error saying which reason emptied it.
pub fn load_examples(
    path: &Path,
    codec: &TextCodec,
    train_on: TrainOn,
    seq_len: usize,
) -> Result<(Vec<SftExample>, Skipped)> {
    let text = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let text = String::from_utf8(text)
        .map_err(|e| anyhow!("{}: invalid UTF-8 at byte {}", path.display(), e.utf8_error().valid_up_to()))?;
    let mut out = Vec::new();
    let mut skipped = Skipped::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let conv: Conversation = serde_json::from_str(line)
            .map_err(|e| anyhow!("{}:{}: not a conversation record: {e}", path.display(), i + 1))?;
        let mut enc = codec.encode_chat(&conv, train_on).map_err(|e| anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        // Position t is trained to predict token t (t >= 1), so the first target decides.
        let Some(first) = enc.mask.iter().skip(1).position(|&m| m).map(|p| p + 1) else {
            skipped.no_reply += 1;
            continue;
        };
        if first > seq_len {
            skipped.truncated += 1;
            skipped.seq_len_needed = Some(skipped.seq_len_needed.map_or(first, |n| n.min(first)));
            continue;
        }
        enc.ids.truncate(seq_len + 1);
        enc.mask.truncate(seq_len + 1);
        out.push(SftExample { ids: enc.ids, mask: enc.mask });
    }
    if out.is_empty() {
        let p = path.display();
        match (skipped.no_reply, skipped.truncated) {
            (_, 0) => bail!("{p}: no conversation with an assistant reply"),
            (0, t) => bail!(
                "{p}: all {t} conversations were truncated away by seq_len = {seq_len} (no assistant token within it); seq_len >= {} keeps at least one",
                skipped.seq_len_needed.unwrap_or(seq_len + 1)
            ),
            (n, t) => bail!(
                "{p}: no usable conversation: {n} have no assistant reply and the other {t} were truncated away by seq_len = {seq_len}; seq_len >= {} keeps at least one",
                skipped.seq_len_needed.unwrap_or(seq_len + 1)
            ),
        }
    }
    Ok((out, skipped))
}

/// A padded batch: `ids` and `labels` are row-major `[batch, len]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SftBatch {
    pub ids: Vec<i64>,
    pub labels: Vec<i64>,
    pub batch: usize,
    pub len: usize,
    /// Tokens that carry loss (labels != -100, excluding position 0).
    pub target_tokens: usize,
    pub state: SftState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SftState {
    pub seed: u64,
    pub epoch: u64,
    pub next: u64,
}

/// Deterministic shuffled batches over a fixed example list.
pub struct SftLoader {
    examples: Vec<SftExample>,
    batch: usize,
    pad_id: u32,
    state: SftState,
    order: Vec<usize>,
}

impl SftLoader {
    pub fn new(
        examples: Vec<SftExample>,
        batch: usize,
        pad_id: u32,
        seed: u64,
        state: Option<SftState>,
    ) -> Result<Self> {
        if examples.is_empty() || batch == 0 {
            bail!("SFT loader needs examples and a positive batch size");
        }
        let state = state.unwrap_or(SftState { seed, epoch: 0, next: 0 });
        if state.seed != seed {
            bail!("SFT loader state was saved with seed {}, this run uses {seed}", state.seed);
        }
        let order = permutation(examples.len(), mix64(seed ^ mix64(state.epoch)));
        Ok(Self { examples, batch, pad_id, state, order })
    }

    pub fn state(&self) -> &SftState {
        &self.state
    }

    pub fn next_batch(&mut self) -> SftBatch {
        let mut rows = Vec::with_capacity(self.batch);
        for _ in 0..self.batch {
            if self.state.next as usize >= self.order.len() {
                self.state.epoch += 1;
                self.state.next = 0;
                self.order = permutation(self.examples.len(), mix64(self.state.seed ^ mix64(self.state.epoch)));
            }
            rows.push(&self.examples[self.order[self.state.next as usize]]);
            self.state.next += 1;
        }
        let len = rows.iter().map(|r| r.ids.len()).max().unwrap();
        let mut ids = vec![self.pad_id as i64; self.batch * len];
        let mut labels = vec![-100i64; self.batch * len];
        let mut target_tokens = 0;
        for (r, ex) in rows.iter().enumerate() {
            for (t, (&id, &m)) in ex.ids.iter().zip(&ex.mask).enumerate() {
                ids[r * len + t] = id as i64;
                if m {
                    labels[r * len + t] = id as i64;
                    if t > 0 {
                        target_tokens += 1;
                    }
                }
            }
        }
        SftBatch { ids, labels, batch: self.batch, len, target_tokens, state: self.state.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(n: usize, first_trained: usize) -> SftExample {
        SftExample { ids: (100..100 + n as u32).collect(), mask: (0..n).map(|i| i >= first_trained).collect() }
    }

    #[test]
    fn batches_pad_right_and_label_only_masked_tokens() {
        let mut l = SftLoader::new(vec![ex(5, 3), ex(3, 1)], 2, 0, 1, None).unwrap();
        let b = l.next_batch();
        assert_eq!((b.batch, b.len), (2, 5));
        // Find each row by its length: the short one is right-padded with pad id 0.
        let rows: Vec<(&[i64], &[i64])> =
            (0..2).map(|r| (&b.ids[r * 5..r * 5 + 5], &b.labels[r * 5..r * 5 + 5])).collect();
        let (long, short) = if rows[0].0[4] != 0 { (rows[0], rows[1]) } else { (rows[1], rows[0]) };
        assert_eq!(long.0, &[100, 101, 102, 103, 104]);
        assert_eq!(long.1, &[-100, -100, -100, 103, 104]);
        assert_eq!(short.0, &[100, 101, 102, 0, 0]);
        assert_eq!(short.1, &[-100, 101, 102, -100, -100]);
        assert_eq!(b.target_tokens, 4);
    }

    #[test]
    fn every_epoch_is_a_permutation_and_state_resumes_exactly() {
        let data: Vec<SftExample> = (0..7).map(|i| ex(2 + i, 1)).collect();
        let mut l = SftLoader::new(data.clone(), 3, 0, 42, None).unwrap();
        let mut seen = vec![];
        let mut states = vec![];
        let mut batches = vec![];
        for _ in 0..10 {
            states.push(l.state().clone());
            let b = l.next_batch();
            for r in 0..3 {
                // Row length (first pad or end) identifies the example: ids 100.. without padding.
                let row = &b.ids[r * b.len..(r + 1) * b.len];
                seen.push(row.iter().take_while(|&&x| x != 0).count());
            }
            batches.push(b);
        }
        // First 7 rows are epoch 0: each example exactly once.
        let mut e0 = seen[..7].to_vec();
        e0.sort();
        assert_eq!(e0, (2..9).collect::<Vec<_>>());
        assert_ne!(seen[..7], seen[7..14], "epochs are reshuffled");
        // Restoring any saved state replays the same batches.
        for k in [0, 2, 5] {
            let mut r = SftLoader::new(data.clone(), 3, 0, 42, Some(states[k].clone())).unwrap();
            for b in &batches[k..] {
                assert_eq!(&r.next_batch(), b);
            }
        }
        assert!(SftLoader::new(data, 3, 0, 43, Some(states[1].clone())).is_err());
    }
}
