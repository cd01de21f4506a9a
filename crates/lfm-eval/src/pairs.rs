//! Preference pairs scored by a model (`lfm eval pairs`, and the log-probabilities DPO trains
//! on): a completion's log-prob is Σ over its scored tokens t of log p(token t | tokens < t),
//! the scored tokens being the assistant text of the completion's own messages
//! ([`lfm_data::pairs`]).
//!
//! Accuracy is the share of pairs whose chosen completion has the higher log-prob, or, given a
//! reference model, the higher implicit DPO reward `(logp − ref_logp)` (the β of DPO scales
//! both sides alike, so it does not change the verdict).

use anyhow::{anyhow, bail, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_data::chat::Encoded;
use lfm_data::pairs::EncodedPair;
use lfm_model::Lfm2Model;
use serde::Serialize;

/// Summed log-probs of each row's scored tokens (mask positions t ≥ 1), one forward pass over
/// the rows right-padded to the longest. The output head runs only at the positions that
/// predict a scored token, so memory grows with the completions' length times the
/// vocabulary, not the whole rows'. The result keeps the graph when `device` is an autodiff
/// device (the DPO loss differentiates it).
///
/// # Shapes
/// - returns [rows]
pub fn completion_logps(model: &Lfm2Model, rows: &[&Encoded], device: &Device) -> Tensor<1> {
    let b = rows.len();
    let len = rows.iter().map(|r| r.ids.len()).max().unwrap_or(0).max(2);
    let mut ids = vec![0i64; b * len];
    // Flat index (row · (len − 1) + t − 1) of the hidden state that predicts scored token t,
    // that token, and its row.
    let (mut at, mut targets, mut owner) = (Vec::new(), Vec::new(), Vec::new());
    for (r, row) in rows.iter().enumerate() {
        for (t, &id) in row.ids.iter().enumerate() {
            ids[r * len + t] = id as i64;
        }
        for (t, &m) in row.mask.iter().enumerate().skip(1) {
            if m && t < row.ids.len() {
                at.push((r * (len - 1) + t - 1) as i64);
                targets.push(row.ids[t] as i64);
                owner.push(r);
            }
        }
    }
    if at.is_empty() {
        return Tensor::<1>::zeros([b], device);
    }
    let m = at.len();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, len]), device);
    let hidden = model.forward_hidden(ids.narrow(1, 0, len - 1), None, false).last_hidden; // [B, len-1, H]
    let hd = hidden.dims()[2];
    let at = Tensor::<1, Int>::from_data(TensorData::new(at, [m]), device);
    let picked = hidden.reshape([b * (len - 1), hd]).select(0, at).reshape([1, m, hd]);
    let logits = model.head(picked);
    let v = logits.dims()[2];
    let logp = log_softmax(logits.reshape([m, v]), 1);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [m, 1]), device);
    let per_token = logp.gather(1, targets).reshape([m]);
    // Row sums: a [B, M] 0/1 matrix of which row owns each scored token, times the tokens.
    let mut own = vec![0f32; b * m];
    for (j, &r) in owner.iter().enumerate() {
        own[r * m + j] = 1.0;
    }
    let own = Tensor::<2>::from_data(TensorData::new(own, [b, m]), device);
    own.matmul(per_token.reshape([m, 1])).reshape([b])
}

/// (chosen, rejected) summed log-probs of one pair, as f64 (finite, else an error).
pub fn pair_logps(model: &Lfm2Model, pair: &EncodedPair, device: &Device) -> Result<(f64, f64)> {
    let longest = pair.chosen.ids.len().max(pair.rejected.ids.len());
    model.check_positions(longest, &format!("pair {:?}", pair.id))?;
    let v: Vec<f32> = completion_logps(model, &[&pair.chosen, &pair.rejected], device)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow!("reading log-probs: {e:?}"))?;
    if v.iter().any(|x| !x.is_finite()) {
        bail!("pair {:?}: the log-probs are not finite ({}, {})", pair.id, v[0], v[1]);
    }
    Ok((v[0] as f64, v[1] as f64))
}

/// One pair's line of `per_pair.jsonl`.
#[derive(Clone, Debug, Serialize)]
pub struct PairScore {
    pub id: String,
    pub logp_chosen: f64,
    pub logp_rejected: f64,
    pub n_chosen: usize,
    pub n_rejected: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_logp_chosen: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_logp_rejected: Option<f64>,
}

impl PairScore {
    /// What decides the verdict: the log-prob margin, or the implicit-reward margin
    /// `(logp_c − ref_c) − (logp_r − ref_r)` with a reference.
    pub fn margin(&self) -> f64 {
        let m = self.logp_chosen - self.logp_rejected;
        match (self.ref_logp_chosen, self.ref_logp_rejected) {
            (Some(c), Some(r)) => m - (c - r),
            _ => m,
        }
    }
}

/// `summary.json` of `lfm eval pairs`.
#[derive(Clone, Debug, Serialize)]
pub struct PairsSummary {
    pub pairs: usize,
    /// Share of pairs with a positive margin ([`PairScore::margin`]).
    pub accuracy: f64,
    /// `"logp"` or `"implicit_reward"` (a reference was given).
    pub scored_by: &'static str,
    pub mean_margin: f64,
    /// Means per token over all pairs: Σ logp / Σ tokens, chosen and rejected.
    pub logp_per_token_chosen: f64,
    pub logp_per_token_rejected: f64,
}

/// The summary of scored pairs (at least one).
pub fn summarize(scores: &[PairScore]) -> PairsSummary {
    let n = scores.len().max(1) as f64;
    let with_ref = scores.first().is_some_and(|s| s.ref_logp_chosen.is_some());
    let per_token = |lp: fn(&PairScore) -> f64, nt: fn(&PairScore) -> usize| {
        scores.iter().map(lp).sum::<f64>() / scores.iter().map(nt).sum::<usize>().max(1) as f64
    };
    PairsSummary {
        pairs: scores.len(),
        accuracy: scores.iter().filter(|s| s.margin() > 0.0).count() as f64 / n,
        scored_by: if with_ref { "implicit_reward" } else { "logp" },
        mean_margin: scores.iter().map(PairScore::margin).sum::<f64>() / n,
        logp_per_token_chosen: per_token(|s| s.logp_chosen, |s| s.n_chosen),
        logp_per_token_rejected: per_token(|s| s.logp_rejected, |s| s.n_rejected),
    }
}

/// Scores every pair with `model` (and `reference`, when given); `progress(n)` after each.
pub fn score_pairs(
    model: &Lfm2Model,
    reference: Option<&Lfm2Model>,
    pairs: &[EncodedPair],
    device: &Device,
    mut progress: impl FnMut(usize),
) -> Result<Vec<PairScore>> {
    let mut out = Vec::with_capacity(pairs.len());
    for (i, p) in pairs.iter().enumerate() {
        let (c, r) = pair_logps(model, p, device)?;
        let refs = reference.map(|m| pair_logps(m, p, device)).transpose()?;
        let (n_chosen, n_rejected) = p.scored_tokens();
        out.push(PairScore {
            id: p.id.clone(),
            logp_chosen: c,
            logp_rejected: r,
            n_chosen,
            n_rejected,
            ref_logp_chosen: refs.map(|x| x.0),
            ref_logp_rejected: refs.map(|x| x.1),
        });
        progress(i + 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(c: f64, r: f64, refs: Option<(f64, f64)>) -> PairScore {
        PairScore {
            id: "p".into(),
            logp_chosen: c,
            logp_rejected: r,
            n_chosen: 2,
            n_rejected: 4,
            ref_logp_chosen: refs.map(|x| x.0),
            ref_logp_rejected: refs.map(|x| x.1),
        }
    }

    #[test]
    fn accuracy_counts_positive_margins_with_or_without_a_reference() {
        let s = summarize(&[score(-1.0, -2.0, None), score(-3.0, -2.0, None), score(-1.0, -1.0, None)]);
        assert_eq!((s.accuracy, s.scored_by), (1.0 / 3.0, "logp"));
        assert!((s.mean_margin - 0.0).abs() < 1e-12);
        assert!((s.logp_per_token_chosen - (-5.0 / 6.0)).abs() < 1e-12);
        assert!((s.logp_per_token_rejected - (-5.0 / 12.0)).abs() < 1e-12);
        // With a reference the margins are (-1 + 3) - (-2 + 1) = 3 and (-1 - 0) - (-2 + 4) = -3.
        let s = summarize(&[score(-1.0, -2.0, Some((-3.0, -1.0))), score(-1.0, -2.0, Some((0.0, -4.0)))]);
        assert_eq!((s.accuracy, s.scored_by), (0.5, "implicit_reward"));
    }
}
