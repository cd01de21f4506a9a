//! What an export cost: perplexity of a candidate model (e.g. quantized) and of its reference
//! (the f32 original) on the same held-out windows, and how often their top-1 next-token
//! predictions agree. The windows come from a dataset's validation split ([`val_windows`]) or
//! from plain text ([`text_windows`]).

use std::path::Path;

use anyhow::{bail, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::source::Document;
use lfm_model::Lfm2Model;
use tokenizers::Tokenizer;

/// Quality of a candidate model against the reference on the same windows.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quality {
    pub windows: usize,
    /// Tokens predicted (`seq_len` per window).
    pub tokens: usize,
    /// Perplexity of the reference.
    pub ppl_f32: f64,
    /// Perplexity of the candidate.
    pub ppl_quant: f64,
    /// Fraction of tokens where both models' arg-max predictions are the same token.
    pub top1_agreement: f64,
}

/// Up to `n` windows of `seq_len + 1` tokens from the validation split of a dataset built by
/// `lfm data build`; an error when it has none.
pub fn val_windows(dir: &Path, seq_len: usize, n: usize) -> Result<Vec<Vec<u32>>> {
    let mut l = Loader::new(dir, LoaderConfig::val(1, seq_len), None)?;
    let mut out = Vec::new();
    while out.len() < n {
        let Some(b) = l.next_batch()? else { break };
        out.push(b.window(0).to_vec());
    }
    if out.is_empty() {
        bail!("{}: no validation windows of {} tokens (build it with --val-fraction > 0)", dir.display(), seq_len + 1);
    }
    Ok(out)
}

/// Up to `n` windows of `seq_len + 1` tokens cut from documents: each document is `bos` + its
/// tokens, the documents are concatenated, and reading stops once `n` windows are filled. Empty
/// when the text has fewer than `seq_len + 1` tokens.
pub fn text_windows(
    docs: impl IntoIterator<Item = Result<Document>>,
    tok: &Tokenizer,
    bos: u32,
    seq_len: usize,
    n: usize,
) -> Result<Vec<Vec<u32>>> {
    let w = seq_len + 1;
    let mut ids = Vec::new();
    for d in docs {
        let d = d?;
        ids.push(bos);
        ids.extend(crate::encode_plain(tok, &d.text, bos)?);
        if ids.len() >= w * n {
            break;
        }
    }
    Ok(ids.chunks_exact(w).take(n).map(<[u32]>::to_vec).collect())
}

/// −ln softmax(logits)[target], in f64.
pub fn nll(logits: &[f32], target: usize) -> f64 {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = m + logits.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
    lse - logits[target] as f64
}

/// Running sums over predicted tokens.
#[derive(Default)]
struct Tally {
    nll_ref: f64,
    nll_cand: f64,
    agree: usize,
    tokens: usize,
}

impl Tally {
    /// One predicted token: both models' logits over the vocabulary and the true next token.
    fn add(&mut self, reference: &[f32], candidate: &[f32], target: usize) {
        self.nll_ref += nll(reference, target);
        self.nll_cand += nll(candidate, target);
        self.agree += (lfm_model::generate::argmax(reference) == lfm_model::generate::argmax(candidate)) as usize;
        self.tokens += 1;
    }

    fn finish(&self, windows: usize) -> Quality {
        let n = self.tokens as f64;
        Quality {
            windows,
            tokens: self.tokens,
            ppl_f32: (self.nll_ref / n).exp(),
            ppl_quant: (self.nll_cand / n).exp(),
            top1_agreement: self.agree as f64 / n,
        }
    }
}

/// Scores both models on the windows (each predicts its tokens after the first; 8 windows per
/// forward pass). `on_windows(windows done so far)` is called after each pass. Fails when
/// either model's logits are not finite: a report of NaN perplexities is not a report.
pub fn compare(
    reference: &Lfm2Model,
    candidate: &Lfm2Model,
    windows: &[Vec<u32>],
    device: &Device,
    mut on_windows: impl FnMut(usize),
) -> Result<Quality> {
    let mut tally = Tally::default();
    let mut done = 0;
    for chunk in windows.chunks(8) {
        let (rows, w) = (chunk.len(), chunk[0].len());
        let t = w - 1;
        let ids: Vec<i64> = chunk.iter().flat_map(|x| x[..t].iter().map(|&v| v as i64)).collect();
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, t]), device);
        let la = reference.forward(x.clone()).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        let lb = candidate.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        lfm_model::compare::require_finite(|| "the reference model's logits".into(), &la)?;
        lfm_model::compare::require_finite(|| "the exported model's logits".into(), &lb)?;
        let v = la.len() / (rows * t);
        for (r, window) in chunk.iter().enumerate() {
            for p in 0..t {
                let off = (r * t + p) * v;
                tally.add(&la[off..off + v], &lb[off..off + v], window[p + 1] as usize);
            }
        }
        done += rows;
        on_windows(done);
    }
    Ok(tally.finish(windows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nll_and_agreement_on_hand_computed_logits() {
        let ln3 = 3f32.ln();
        let mut t = Tally::default();
        // Token 1, target 1: reference uniform (ln 2); candidate p = 3/4 (ln 4/3). The
        // reference's tie goes to token 0, the candidate picks 1: disagree.
        t.add(&[0.0, 0.0], &[0.0, ln3], 1);
        // Token 2, target 0: both p = 3/4, both pick 0: agree.
        t.add(&[ln3, 0.0], &[ln3, 0.0], 0);
        let q = t.finish(1);
        assert_eq!((q.windows, q.tokens), (1, 2));
        assert!((q.ppl_f32 - (8.0f64 / 3.0).sqrt()).abs() < 1e-6, "{}", q.ppl_f32);
        assert!((q.ppl_quant - 4.0 / 3.0).abs() < 1e-6, "{}", q.ppl_quant);
        assert_eq!(q.top1_agreement, 0.5);
        // Large logits do not overflow.
        assert!((nll(&[1000.0, 1000.0, -1000.0], 0) - 2f64.ln()).abs() < 1e-12);
    }
}
