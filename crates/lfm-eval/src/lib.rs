//! lfm-eval: scorers that double as GRPO rewards, and the evaluation loops the `lfm eval` and
//! `lfm export` commands run.
//!
//! - [`bfcl`]: BFCL-style tool-call scoring — LFM2's tool-call output decoded and matched
//!   against possible answers by the AST rules of `bfcl-eval` (see `evals/bfcl/README.md`).
//! - [`choice`]: multiple choice by log-likelihood of the answer letter or by a generated reply.
//! - [`pairs`]: preference pairs scored by completion log-probs (`lfm eval pairs`, DPO).
//! - [`perplexity`]: perplexity and bits per byte over windows of a token stream.
//! - [`ifeval`]: IFEval instruction checks, strict/loose, the four metrics.
//! - [`generation`]: greedy chat-template generation of one reply per conversation.
//! - [`quality`]: perplexity and top-1 agreement of an exported model against its original.

pub mod bfcl;
pub mod choice;
pub mod generation;
pub mod ifeval;
pub mod pairs;
pub mod perplexity;
pub mod quality;

use anyhow::{anyhow, Result};
use tokenizers::Tokenizer;

/// Rows as JSON Lines: one compact JSON object per row, each ending in a newline.
pub fn to_jsonl<T: serde::Serialize>(rows: &[T]) -> serde_json::Result<String> {
    let mut out = String::new();
    for r in rows {
        out.push_str(&serde_json::to_string(r)?);
        out.push('\n');
    }
    Ok(out)
}

/// The tokens of plain text (no special tokens added), with any `bos` the tokenizer inserts
/// removed.
pub(crate) fn encode_plain(tok: &Tokenizer, text: &str, bos: u32) -> Result<Vec<u32>> {
    let enc = tok.encode(text, false).map_err(|e| anyhow!("tokenizing: {e}"))?;
    Ok(enc.get_ids().iter().copied().filter(|&t| t != bos).collect())
}
