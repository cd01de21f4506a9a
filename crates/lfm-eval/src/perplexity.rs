//! Perplexity and bits per byte of a model on token sequences.
//!
//! Each document is cut into windows of `seq_len + 1` tokens that overlap by one token (stride
//! `seq_len`), so every token after the first is predicted exactly once, from at most `seq_len`
//! tokens of context within its window (no context carried across windows; a longer `seq_len`
//! gives lower, more "true" perplexity). Full-length windows are batched.
//!
//! [`tokenize_docs`] turns documents into the token sequences scored here: `<|startoftext|>`
//! followed by the document's tokens, so bits per byte covers the documents' UTF-8 bytes
//! exactly.

use anyhow::Result;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_data::source::Document;
use lfm_model::{Lfm2Model, LfmError};
use tokenizers::Tokenizer;

/// Documents as token sequences, with the UTF-8 bytes they cover.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenizedDocs {
    /// Each document: `bos`, then its tokens.
    pub docs: Vec<Vec<u32>>,
    /// Σ UTF-8 bytes of the documents' text.
    pub bytes: usize,
}

impl TokenizedDocs {
    /// Tokens predicted when the documents are scored (all but each document's BOS).
    pub fn tokens_to_score(&self) -> usize {
        self.docs.iter().map(|d| d.len() - 1).sum()
    }
}

/// Tokenizes documents for scoring: each non-empty document becomes `bos` + its tokens (a BOS
/// the tokenizer adds is dropped); empty documents are skipped. `limit` keeps the first N
/// documents.
pub fn tokenize_docs(
    docs: impl IntoIterator<Item = Result<Document>>,
    tok: &Tokenizer,
    bos: u32,
    limit: Option<usize>,
) -> Result<TokenizedDocs> {
    let mut out = TokenizedDocs::default();
    for d in docs {
        let d = d?;
        if limit.is_some_and(|n| out.docs.len() >= n) {
            break;
        }
        if d.text.is_empty() {
            continue;
        }
        let mut ids = vec![bos];
        ids.extend(crate::encode_plain(tok, &d.text, bos)?);
        out.bytes += d.text.len();
        out.docs.push(ids);
    }
    Ok(out)
}

/// Summed negative log-likelihood over the scored tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NllSum {
    /// Σ −ln p(token | context), in nats.
    pub nll: f64,
    /// Tokens scored.
    pub tokens: usize,
}

impl NllSum {
    /// Mean loss in nats per token.
    pub fn mean(&self) -> f64 {
        self.nll / self.tokens.max(1) as f64
    }
    pub fn perplexity(&self) -> f64 {
        self.mean().exp()
    }
    /// Bits per byte of the text the scored tokens cover.
    pub fn bits_per_byte(&self, bytes: usize) -> f64 {
        self.nll / std::f64::consts::LN_2 / bytes.max(1) as f64
    }
}

fn windows(doc: &[u32], seq_len: usize) -> Vec<&[u32]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start + 1 < doc.len() {
        let end = (start + seq_len + 1).min(doc.len());
        out.push(&doc[start..end]);
        start += seq_len;
    }
    out
}

/// Scores every document (each must start with its context, e.g. BOS; its first token is not
/// predicted). Fails when a window (`seq_len + 1` tokens) is longer than the model's context
/// or a loss is not finite.
pub fn score_docs(
    model: &Lfm2Model,
    docs: &[Vec<u32>],
    seq_len: usize,
    batch: usize,
    device: &Device,
) -> Result<NllSum, LfmError> {
    score_docs_with_progress(model, docs, seq_len, batch, device, |_| {})
}

/// [`score_docs`], calling `progress(tokens scored so far)` after each forward pass.
pub fn score_docs_with_progress(
    model: &Lfm2Model,
    docs: &[Vec<u32>],
    seq_len: usize,
    batch: usize,
    device: &Device,
    mut progress: impl FnMut(usize),
) -> Result<NllSum, LfmError> {
    model.check_positions(seq_len.max(1) + 1, "a window of seq_len + 1 tokens")?;
    let mut total = NllSum::default();
    let all: Vec<&[u32]> = docs.iter().flat_map(|d| windows(d, seq_len.max(1))).collect();
    let (full, tails): (Vec<&[u32]>, Vec<&[u32]>) = all.into_iter().partition(|w| w.len() == seq_len + 1);
    let mut run = |group: &[&[u32]]| -> Result<(), LfmError> {
        let (rows, len) = (group.len(), group[0].len());
        let ids: Vec<i64> = group.iter().flat_map(|w| w.iter().map(|&t| t as i64)).collect();
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, len]), device);
        let loss = Lfm2Model::loss(model.forward_chunked(x.clone()), x).into_scalar::<f32>();
        lfm_model::compare::require_finite(|| format!("the loss after {} scored tokens", total.tokens), &[loss])?;
        let n = rows * (len - 1);
        total.nll += loss as f64 * n as f64;
        total.tokens += n;
        progress(total.tokens);
        Ok(())
    };
    for g in full.chunks(batch.max(1)) {
        run(g)?;
    }
    for w in tails {
        run(&[w])?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_predict_every_token_once() {
        let doc: Vec<u32> = (0..10).collect();
        let w = windows(&doc, 4);
        assert_eq!(w, vec![&doc[0..5], &doc[4..9], &doc[8..10]]);
        let predicted: usize = w.iter().map(|w| w.len() - 1).sum();
        assert_eq!(predicted, 9);
        assert!(windows(&doc[..1], 4).is_empty());
    }
}
