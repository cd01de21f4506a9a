//! Top-K logit distillation (`job = "distill"`, `lfm train distill`): the causal-LM objective
//! of [`crate::lm`] (its data, loader state and exact resume) with a teacher checkpoint of the
//! same tokenizer beside the student, as LFM2's pre-training distils from a larger model
//! through its top-K logits.
//!
//! For every predicted position the teacher's K largest logits z (computed online on the plain
//! device) give the renormalized distribution on that support, `p = softmax(z / τ)` over the K
//! tokens, and the student's logits s at the same K tokens give `q = softmax(s / τ)` over
//! them. The position's term is `τ² · KL(p ‖ q) = τ² Σ_k p_k (log p_k − log q_k)` (the τ² of
//! Hinton et al. keeps gradient sizes comparable across temperatures); with K = vocab it is
//! the dense KL. The loss mixes it with the data's cross-entropy:
//! `alpha · KL + (1 − alpha) · CE`, each a mean over the positions that carry loss.
//!
//! Metrics: `kl` and `ce` per step; on validation the student's cross-entropy is the
//! validation loss (so a distilled student and one trained on CE alone compare directly), with
//! `val_kl` and `val_top1_agreement` (share of positions where the student's arg-max token is
//! the teacher's).

use anyhow::{anyhow, bail, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_model::{Lfm2Config, Lfm2Model};
use serde::{Deserialize, Serialize};

fn d_top_k() -> usize {
    32
}
fn one() -> f64 {
    1.0
}
fn d_alpha() -> f64 {
    0.5
}

/// `[distill]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSection {
    /// The teacher: an HF checkpoint directory (or GGUF file) with the student's tokenizer.
    pub teacher: std::path::PathBuf,
    /// Teacher logits kept per position (K).
    #[serde(default = "d_top_k")]
    pub top_k: usize,
    /// Softmax temperature of both distributions on the support (τ).
    #[serde(default = "one")]
    pub temperature: f64,
    /// Weight of the KL term; `1 − alpha` weighs the data's cross-entropy.
    #[serde(default = "d_alpha")]
    pub alpha: f64,
}

/// The teacher's top-K of a batch: per position (row-major over [B, T]) K token ids and their
/// logits, largest first.
pub struct TopK {
    pub k: usize,
    pub ids: Vec<i64>,
    pub logits: Vec<f32>,
}

/// The K largest entries of each row of `logits` ([N, V] row-major), ties to the lower id.
pub fn top_k_rows(logits: &[f32], vocab: usize, k: usize) -> TopK {
    let n = logits.len() / vocab;
    let mut ids = Vec::with_capacity(n * k);
    let mut vals = Vec::with_capacity(n * k);
    let mut order: Vec<usize> = Vec::with_capacity(vocab);
    for row in logits.chunks_exact(vocab) {
        order.clear();
        order.extend(0..vocab);
        let cmp = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
        if k < vocab {
            order.select_nth_unstable_by(k - 1, cmp);
            order.truncate(k);
        }
        order.sort_by(cmp);
        for &i in &order {
            ids.push(i as i64);
            vals.push(row[i]);
        }
    }
    TopK { k, ids, logits: vals }
}

/// The teacher, on the plain device.
pub struct Teacher {
    model: Lfm2Model,
    device: Device,
    vocab: usize,
}

impl Teacher {
    /// Loads `s.teacher` on `device`; its vocabulary must be the student's.
    pub fn load(s: &DistillSection, student: &Lfm2Config, device: &Device) -> Result<Self> {
        let (cfg, model) = crate::checkpoint::load_base(&s.teacher, device)
            .map_err(|e| anyhow!("[distill] teacher {}: {e:#}", s.teacher.display()))?;
        if cfg.vocab_size != student.vocab_size {
            bail!(
                "[distill] teacher {}: vocabulary of {} tokens, the student's has {} (distillation needs the same tokenizer)",
                s.teacher.display(),
                cfg.vocab_size,
                student.vocab_size
            );
        }
        if s.top_k == 0 || s.top_k > cfg.vocab_size {
            bail!("[distill] top_k = {} must be in 1..={}", s.top_k, cfg.vocab_size);
        }
        Ok(Teacher { model, device: device.clone(), vocab: cfg.vocab_size })
    }

    /// Top-K of the teacher's logits for `inputs` ([B, T] ids, host row-major).
    pub fn top_k(&self, inputs: &[i64], rows: usize, k: usize) -> Result<TopK> {
        let t = inputs.len() / rows;
        let ids = Tensor::<2, Int>::from_data(TensorData::new(inputs.to_vec(), [rows, t]), &self.device);
        let logits: Vec<f32> = self
            .model
            .forward(ids)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow!("reading teacher logits: {e:?}"))?;
        if logits.iter().any(|x| !x.is_finite()) {
            bail!("the teacher's logits are not finite");
        }
        Ok(top_k_rows(&logits, self.vocab, k))
    }
}

/// Per-position τ²·KL(p ‖ q) on the teacher's top-K support.
///
/// # Shapes
/// - `student`: [N, V] logits; the top-K of N positions -> [N]
pub fn top_k_kl(student: Tensor<2>, top: &TopK, temperature: f64) -> Tensor<1> {
    let [n, _] = student.dims();
    let device = student.device();
    let k = top.k;
    let idx = Tensor::<2, Int>::from_data(TensorData::new(top.ids.clone(), [n, k]), &device);
    let s = student.gather(1, idx) / temperature;
    let log_q = log_softmax(s, 1);
    // The teacher's side is a constant: p and log p on the host, in f64.
    let mut p = Vec::with_capacity(n * k);
    let mut log_p = Vec::with_capacity(n * k);
    for row in top.logits.chunks_exact(k) {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64 / temperature));
        let lse = m + row.iter().map(|&z| (z as f64 / temperature - m).exp()).sum::<f64>().ln();
        for &z in row {
            let lp = z as f64 / temperature - lse;
            log_p.push(lp as f32);
            p.push(lp.exp() as f32);
        }
    }
    let p = Tensor::<2>::from_data(TensorData::new(p, [n, k]), &device);
    let log_p = Tensor::<2>::from_data(TensorData::new(log_p, [n, k]), &device);
    (p * (log_p - log_q)).sum_dim(1).reshape([n]) * (temperature * temperature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lfm_model::device::parse_device;

    #[test]
    fn top_k_keeps_the_largest_first_with_ties_to_the_lower_id() {
        let t = top_k_rows(&[0.5, 2.0, 2.0, -1.0, 3.0, 1.0, 1.0, 0.0], 4, 2);
        assert_eq!(t.ids, vec![1, 2, 0, 1]);
        assert_eq!(t.logits, vec![2.0, 2.0, 3.0, 1.0]);
    }

    /// With K = vocab the top-K KL is the dense KL(softmax(t/τ) ‖ softmax(s/τ)) · τ², and its
    /// gradient in the student logits is τ (q − p).
    #[test]
    fn full_support_equals_the_dense_kl_and_its_gradient() {
        let ad = parse_device("cpu").unwrap().autodiff();
        let (n, v) = (3, 5);
        let teacher: Vec<f32> = (0..n * v).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.4).collect();
        let student: Vec<f32> = (0..n * v).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.3).collect();
        for tau in [1.0, 2.0] {
            let top = top_k_rows(&teacher, v, v);
            let s = Tensor::<2>::from_data(TensorData::new(student.clone(), [n, v]), &ad).require_grad();
            let kl = top_k_kl(s.clone(), &top, tau);
            let got: Vec<f32> = kl.clone().into_data().convert::<f32>().try_into_vec().unwrap();
            let grads = kl.sum().backward();
            let g: Vec<f32> = s.grad(&grads).unwrap().into_data().convert::<f32>().try_into_vec().unwrap();
            let softmax = |row: &[f32]| {
                let m = row.iter().fold(f64::MIN, |a, &b| a.max(b as f64 / tau));
                let e: Vec<f64> = row.iter().map(|&x| (x as f64 / tau - m).exp()).collect();
                let z: f64 = e.iter().sum();
                e.into_iter().map(|x| x / z).collect::<Vec<f64>>()
            };
            for r in 0..n {
                let p = softmax(&teacher[r * v..(r + 1) * v]);
                let q = softmax(&student[r * v..(r + 1) * v]);
                let want: f64 = tau * tau * p.iter().zip(&q).map(|(a, b)| a * (a.ln() - b.ln())).sum::<f64>();
                assert!((got[r] as f64 - want).abs() < 1e-5, "τ {tau} row {r}: {} vs {want}", got[r]);
                for j in 0..v {
                    let gw = tau * (q[j] - p[j]);
                    assert!((g[r * v + j] as f64 - gw).abs() < 1e-5, "τ {tau} d/ds[{r},{j}]: {} vs {gw}", g[r * v + j]);
                }
            }
        }
    }
}
