//! Direct preference optimization as an [`Objective`] of the training engine (`job = "dpo"`,
//! `lfm train dpo`): adapters, exact resume, metrics and checkpoints come from the engine.
//!
//! Data: `[data] pairs` (and optionally `pairs_val`), JSONL preference pairs in TRL's shapes
//! ([`lfm_data::pairs`]), rendered with the checkpoint's chat template; a side's log-prob is the
//! sum over the completion's own assistant tokens ([`lfm_eval::pairs::completion_logps`], the
//! function `lfm eval pairs` reports). Pairs with a side longer than `[data] seq_len + 1`
//! tokens are left out and counted (an error when none is left).
//!
//! With `h = (π_c − ref_c) − (π_r − ref_r)` (log-probs of the chosen/rejected completion under
//! the policy π and the frozen reference):
//!
//! | `loss_type` | per-pair loss | log-probs |
//! |---|---|---|
//! | `sigmoid` (DPO) | `−(1 − ε) log σ(β h) − ε log σ(−β h)` (ε = `label_smoothing`) | sums, or per-token means with `length_normalized = true` |
//! | `ipo` | `(h − 1 / (2β))²` | per-token means (as TRL's IPO) |
//!
//! The step's loss is the mean over its pairs (`[batch] micro_batch` pairs per backward pass,
//! `grad_accum` passes per step). Metrics, TRL's names: `rewards/chosen` = β(π_c − ref_c),
//! `rewards/rejected`, `rewards/margins`, `rewards/accuracies` (share with chosen > rejected),
//! `logps/chosen`, `logps/rejected`; the same with `val_` in front on validation.
//!
//! The reference is the starting model, frozen: with a LoRA adapter, the model with its
//! branches switched off (the base is frozen and shared, no second copy); without one, the
//! starting checkpoint loaded once more on the plain device. `precompute_ref_logps = true`
//! computes every pair's reference log-probs once, stores them in `OUT/ref_logps.jsonl`
//! (read back on resume) and never holds the reference model.
//!
//! The pairs of step s are positions `(s − 1)·B .. s·B` of a seeded permutation per epoch, a
//! function of (seed, step): a resumed run sees the batches the uninterrupted one saw.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use lfm_data::pairs::{encode_pair, load_pairs, EncodedPair};
use lfm_data::template::TextCodec;
use lfm_eval::pairs::completion_logps;
use lfm_model::Lfm2Model;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::checkpoint;
use crate::config::RunConfig;
use crate::engine::{Learner, Objective, StepReport};
use crate::optim::GradAccumulator;

/// The preference loss (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpoLoss {
    #[default]
    Sigmoid,
    Ipo,
}

fn d_beta() -> f64 {
    0.1
}

/// `[dpo]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpoSection {
    /// Strength of the implicit KL to the reference (DPO's β).
    #[serde(default = "d_beta")]
    pub beta: f64,
    #[serde(default)]
    pub loss_type: DpoLoss,
    /// Average log-prob per completion token instead of the sum (`sigmoid`; `ipo` always
    /// averages).
    #[serde(default)]
    pub length_normalized: bool,
    /// Conservative DPO's ε: the share of labels assumed flipped, in [0, 0.5).
    #[serde(default)]
    pub label_smoothing: f64,
    /// Reference log-probs computed once, stored in `OUT/ref_logps.jsonl`.
    #[serde(default)]
    pub precompute_ref_logps: bool,
}

impl Default for DpoSection {
    fn default() -> Self {
        DpoSection {
            beta: d_beta(),
            loss_type: DpoLoss::Sigmoid,
            length_normalized: false,
            label_smoothing: 0.0,
            precompute_ref_logps: false,
        }
    }
}

impl DpoSection {
    /// Whether log-probs are divided by the completion's token count.
    pub fn averages(&self) -> bool {
        self.length_normalized || self.loss_type == DpoLoss::Ipo
    }
}

/// `rewards.png`: the implicit-reward accuracy and margin per step, and on validation.
pub fn plot_rewards(run_dir: &Path, title: &str) -> Result<std::path::PathBuf> {
    let fields = [
        ("accuracy (train)", "rewards/accuracies"),
        ("accuracy (validation)", "val_rewards/accuracies"),
        ("margin (train)", "rewards/margins"),
        ("margin (validation)", "val_rewards/margins"),
    ];
    crate::metrics::plot_fields(run_dir, "rewards.png", title, "implicit reward: accuracy, margin", &fields)
}

/// Per-pair losses and implicit rewards of one batch.
pub struct DpoTerms {
    /// [n], differentiable in the policy log-probs.
    pub loss: Tensor<1>,
    /// β(π_c − ref_c), β(π_r − ref_r): [n], detached.
    pub chosen_rewards: Tensor<1>,
    pub rejected_rewards: Tensor<1>,
}

/// The preference loss of `n` pairs from their (already averaged, where the loss asks for it)
/// log-probs.
///
/// # Shapes
/// - every input [n] -> [n]
pub fn dpo_terms(pc: Tensor<1>, pr: Tensor<1>, rc: Tensor<1>, rr: Tensor<1>, s: &DpoSection) -> DpoTerms {
    let dc = pc - rc;
    let dr = pr - rr;
    let h = dc.clone() - dr.clone();
    let loss = match s.loss_type {
        DpoLoss::Sigmoid => {
            let e = s.label_smoothing;
            let x = h * s.beta;
            log_sigmoid(x.clone()).mul_scalar(-(1.0 - e)) - log_sigmoid(-x).mul_scalar(e)
        }
        DpoLoss::Ipo => (h - 1.0 / (2.0 * s.beta)).powi_scalar(2),
    };
    DpoTerms { loss, chosen_rewards: dc.detach() * s.beta, rejected_rewards: dr.detach() * s.beta }
}

/// Sums of a batch's metrics (divided by the pair count when reported).
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    pairs: usize,
    loss: f64,
    chosen: f64,
    rejected: f64,
    wins: f64,
    logp_chosen: f64,
    logp_rejected: f64,
    tokens: u64,
}

impl Sums {
    fn add(&mut self, o: Sums) {
        self.pairs += o.pairs;
        self.loss += o.loss;
        self.chosen += o.chosen;
        self.rejected += o.rejected;
        self.wins += o.wins;
        self.logp_chosen += o.logp_chosen;
        self.logp_rejected += o.logp_rejected;
        self.tokens += o.tokens;
    }

    fn metrics(&self, prefix: &str) -> Map<String, Value> {
        let n = self.pairs.max(1) as f64;
        let mut m = Map::new();
        for (k, v) in [
            ("rewards/chosen", self.chosen / n),
            ("rewards/rejected", self.rejected / n),
            ("rewards/margins", (self.chosen - self.rejected) / n),
            ("rewards/accuracies", self.wins / n),
            ("logps/chosen", self.logp_chosen / n),
            ("logps/rejected", self.logp_rejected / n),
        ] {
            m.insert(format!("{prefix}{k}"), json!(v));
        }
        m
    }
}

fn host(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 values").into_iter().map(f64::from).collect()
}

/// The reference: stored log-probs, the adapter switched off, or the starting model.
enum Reference {
    Stored { train: Vec<(f64, f64)>, val: Vec<(f64, f64)> },
    AdapterOff,
    Model(Box<Lfm2Model>),
}

/// DPO's [`Objective`] (see the module doc).
pub struct DpoObjective {
    s: DpoSection,
    micro_batch: usize,
    grad_accum: usize,
    seed: u64,
    train: Vec<EncodedPair>,
    val: Vec<EncodedPair>,
    reference: Reference,
    /// The plain device (the reference model's).
    device: Device,
    /// Validation metrics of the last [`Objective::evaluate`].
    val_metrics: Map<String, Value>,
}

/// A pairs file tokenized with `codec`; pairs with a side over `max_len` tokens are dropped
/// and counted.
fn encode_file(path: &Path, codec: &TextCodec, max_len: usize) -> Result<Vec<EncodedPair>> {
    let pairs = load_pairs(path)?;
    let mut out = Vec::with_capacity(pairs.len());
    let mut long = 0;
    for p in &pairs {
        let e = encode_pair(codec, p).map_err(|e| anyhow!("{}: {e:#}", path.display()))?;
        if e.chosen.ids.len().max(e.rejected.ids.len()) > max_len {
            long += 1;
            continue;
        }
        out.push(e);
    }
    if out.is_empty() {
        bail!("{}: all {} pairs are longer than [data] seq_len + 1 = {max_len} tokens", path.display(), pairs.len());
    }
    if long > 0 {
        eprintln!(
            "note: {}: {long} of {} pairs are longer than {max_len} tokens and left out",
            path.display(),
            pairs.len()
        );
    }
    Ok(out)
}

impl DpoObjective {
    /// Pairs of `[data] pairs` / `pairs_val` rendered with the chat template beside
    /// `tok_path`, and the reference (see the module doc): `model` is the policy at its start
    /// (or as resumed), `init` the starting checkpoint.
    pub fn new(
        cfg: &RunConfig,
        tok_path: &Path,
        init: &Path,
        model: &Lfm2Model,
        run_dir: &Path,
        device: &Device,
        model_device: &Device,
    ) -> Result<Self> {
        let s = cfg.dpo.clone().unwrap_or_default();
        let codec = TextCodec::for_tokenizer_file(tok_path)?;
        let max_len = cfg.data.seq_len + 1;
        let train = encode_file(cfg.data.pairs.as_deref().expect("validated"), &codec, max_len)?;
        let val = match &cfg.data.pairs_val {
            Some(p) => encode_file(p, &codec, max_len)?,
            None => Vec::new(),
        };
        // Stored log-probs of a resumed run are read back: no reference model is loaded then.
        let stored = s.precompute_ref_logps && run_dir.join("ref_logps.jsonl").exists();
        let live = if cfg.adapter.is_some() || stored {
            Reference::AdapterOff
        } else {
            Reference::Model(Box::new(checkpoint::load_base(init, device)?.1))
        };
        let mut o = DpoObjective {
            s,
            micro_batch: cfg.batch.micro_batch.max(1),
            grad_accum: cfg.batch.grad_accum.max(1),
            seed: cfg.run.seed,
            train,
            val,
            reference: live,
            device: device.clone(),
            val_metrics: Map::new(),
        };
        if o.s.precompute_ref_logps {
            o.reference = o.stored_reference(model, run_dir, model_device)?;
        }
        Ok(o)
    }

    /// `OUT/ref_logps.jsonl`: read back when it lists exactly these pairs, else computed with
    /// the live reference and written atomically.
    fn stored_reference(&self, model: &Lfm2Model, run_dir: &Path, model_device: &Device) -> Result<Reference> {
        let path = run_dir.join("ref_logps.jsonl");
        let ids: Vec<(&str, &str)> = self
            .train
            .iter()
            .map(|p| ("train", p.id.as_str()))
            .chain(self.val.iter().map(|p| ("val", p.id.as_str())))
            .collect();
        if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
            let rows: Vec<Value> = text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!("{}: invalid: {e}", path.display()))?;
            let same = rows.len() == ids.len()
                && rows.iter().zip(&ids).all(|(r, (set, id))| r["set"] == *set && r["id"] == *id);
            if !same {
                bail!("{}: stored reference log-probs are for other pairs than [data] pairs/pairs_val", path.display());
            }
            let lp = |r: &Value, k: &str| r[k].as_f64().ok_or_else(|| anyhow!("{}: no {k}", path.display()));
            let all = rows
                .iter()
                .map(|r| Ok((lp(r, "ref_logp_chosen")?, lp(r, "ref_logp_rejected")?)))
                .collect::<Result<Vec<_>>>()?;
            let val = all[self.train.len()..].to_vec();
            let mut train = all;
            train.truncate(self.train.len());
            return Ok(Reference::Stored { train, val });
        }
        let mut lines = String::new();
        let mut all = Vec::with_capacity(ids.len());
        for ((set, id), p) in ids.iter().zip(self.train.iter().chain(&self.val)) {
            let v = self.reference_logps(model, &[p], None, model_device)?;
            let (c, r) = (v[0], v[1]);
            lines.push_str(&format!(
                "{}\n",
                json!({"set": set, "id": id, "ref_logp_chosen": c, "ref_logp_rejected": r})
            ));
            all.push((c, r));
        }
        lfm_model::io::write_atomic(&path, lines.as_bytes())?;
        let val = all[self.train.len()..].to_vec();
        all.truncate(self.train.len());
        Ok(Reference::Stored { train: all, val })
    }

    /// Reference log-probs (summed) of `pairs`: chosen ones then rejected ones. `stored`:
    /// indices into the stored table (train or val) when the reference is stored.
    /// `model_device`: the policy's (autodiff) device.
    fn reference_logps(
        &self,
        model: &Lfm2Model,
        pairs: &[&EncodedPair],
        stored: Option<(&[usize], bool)>,
        model_device: &Device,
    ) -> Result<Vec<f64>> {
        let rows: Vec<_> = pairs.iter().map(|p| &p.chosen).chain(pairs.iter().map(|p| &p.rejected)).collect();
        let v = match (&self.reference, stored) {
            (Reference::Stored { train, val }, Some((idx, is_val))) => {
                let t = if is_val { val } else { train };
                idx.iter().map(|&i| t[i].0).chain(idx.iter().map(|&i| t[i].1)).collect()
            }
            (Reference::Stored { .. }, None) => bail!("stored reference log-probs without pair indices"),
            (Reference::AdapterOff, _) => {
                // The frozen base shares the policy's tensors; with no branch left, nothing in
                // this forward requires a gradient.
                let base = model.without_adapter();
                host(completion_logps(&base, &rows, model_device).detach())
            }
            (Reference::Model(m), _) => host(completion_logps(m, &rows, &self.device)),
        };
        if v.iter().any(|x| !x.is_finite()) {
            bail!("the reference log-probs are not finite");
        }
        Ok(v)
    }

    /// The training pair indices of `step`.
    fn pairs_of(&self, step: u64) -> Vec<usize> {
        let n = self.train.len();
        let per_step = self.micro_batch * self.grad_accum;
        (0..per_step)
            .map(|k| {
                let flat = (step - 1) as usize * per_step + k;
                let (epoch, pos) = (flat / n, flat % n);
                lfm_data::loader::permutation(n, self.seed ^ 0xD90_0000 ^ (epoch as u64).wrapping_mul(0x9E37_79B9))[pos]
            })
            .collect()
    }

    /// Loss terms and metric sums of pairs `idx` of the train or val set.
    fn batch(&self, model: &Lfm2Model, idx: &[usize], is_val: bool, device: &Device) -> Result<(Tensor<1>, Sums)> {
        let set = if is_val { &self.val } else { &self.train };
        let pairs: Vec<&EncodedPair> = idx.iter().map(|&i| &set[i]).collect();
        let n = pairs.len();
        let rows: Vec<_> = pairs.iter().map(|p| &p.chosen).chain(pairs.iter().map(|p| &p.rejected)).collect();
        let counts: Vec<f64> = pairs
            .iter()
            .map(|p| p.scored_tokens().0)
            .chain(pairs.iter().map(|p| p.scored_tokens().1))
            .map(|c| c.max(1) as f64)
            .collect();
        let policy = completion_logps(model, &rows, device);
        let refs = self.reference_logps(model, &pairs, Some((idx, is_val)), device)?;
        let scale: Vec<f32> = counts.iter().map(|&c| if self.s.averages() { (1.0 / c) as f32 } else { 1.0 }).collect();
        let scale_t = Tensor::<1>::from_data(TensorData::new(scale.clone(), [2 * n]), device);
        let policy = policy * scale_t;
        let refs: Vec<f32> = refs.iter().zip(&scale).map(|(&r, &s)| r as f32 * s).collect();
        let refs = Tensor::<1>::from_data(TensorData::new(refs, [2 * n]), device);
        let t = dpo_terms(
            policy.clone().narrow(0, 0, n),
            policy.clone().narrow(0, n, n),
            refs.clone().narrow(0, 0, n),
            refs.narrow(0, n, n),
            &self.s,
        );
        let (c, r) = (host(t.chosen_rewards), host(t.rejected_rewards));
        let lp = host(policy.detach());
        let loss_v = host(t.loss.clone().detach());
        if loss_v.iter().any(|x| !x.is_finite()) {
            bail!("the DPO loss is not finite");
        }
        let sums = Sums {
            pairs: n,
            loss: loss_v.iter().sum(),
            chosen: c.iter().sum(),
            rejected: r.iter().sum(),
            wins: c.iter().zip(&r).filter(|(a, b)| a > b).count() as f64,
            logp_chosen: lp[..n].iter().sum(),
            logp_rejected: lp[n..].iter().sum(),
            tokens: pairs.iter().map(|p| (p.scored_tokens().0 + p.scored_tokens().1) as u64).sum(),
        };
        Ok((t.loss, sums))
    }
}

impl Objective for DpoObjective {
    fn step(&mut self, step: u64, model: Lfm2Model, learner: &mut Learner) -> Result<(Lfm2Model, StepReport)> {
        let ad = learner.device().clone();
        let idx = self.pairs_of(step);
        let total = idx.len() as f64;
        let mut acc = GradAccumulator::default();
        let mut sums = Sums::default();
        for chunk in idx.chunks(self.micro_batch) {
            let (loss, s) = self.batch(&model, chunk, false, &ad)?;
            let loss = loss.sum() / total;
            acc.add(&model, &loss.backward(), 1.0)?;
            sums.add(s);
        }
        let (model, norm) = learner.update(model, acc)?;
        let extra = sums.metrics("");
        let message = format!(
            "acc {:.2} margin {:.3}",
            extra["rewards/accuracies"].as_f64().unwrap_or(0.0),
            extra["rewards/margins"].as_f64().unwrap_or(0.0)
        );
        Ok((model, StepReport { loss: sums.loss / total, grad_norm: norm, tokens: sums.tokens, extra, message }))
    }

    /// The DPO loss over `[data] pairs_val` (its reward metrics: [`Objective::val_extra`]).
    fn evaluate(&mut self, model: &Lfm2Model, device: &Device) -> Result<Option<f64>> {
        if self.val.is_empty() {
            return Ok(None);
        }
        let mut sums = Sums::default();
        let all: Vec<usize> = (0..self.val.len()).collect();
        for chunk in all.chunks(self.micro_batch) {
            let (_, s) = self.batch(model, chunk, true, device)?;
            sums.add(s);
        }
        self.val_metrics = sums.metrics("val_");
        Ok(Some(sums.loss / sums.pairs as f64))
    }

    fn val_extra(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.val_metrics)
    }

    fn plot(&self, run_dir: &Path, title: &str) -> Result<()> {
        plot_rewards(run_dir, title).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lfm_model::device::parse_device;

    fn t(v: &[f64], d: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), [v.len()]), d)
    }

    fn sig(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Loss and d loss / d π_c, d loss / d π_r by hand for one pair.
    fn by_hand(pc: f64, pr: f64, rc: f64, rr: f64, s: &DpoSection) -> (f64, f64, f64) {
        let h = (pc - rc) - (pr - rr);
        match s.loss_type {
            DpoLoss::Sigmoid => {
                let (b, e) = (s.beta, s.label_smoothing);
                let loss = -(1.0 - e) * sig(b * h).ln() - e * sig(-b * h).ln();
                // d/dh: −(1 − ε) β σ(−βh) + ε β σ(βh); dh/dπ_c = 1, dh/dπ_r = −1.
                let g = -(1.0 - e) * b * sig(-b * h) + e * b * sig(b * h);
                (loss, g, -g)
            }
            DpoLoss::Ipo => {
                let d = h - 1.0 / (2.0 * s.beta);
                (d * d, 2.0 * d, -2.0 * d)
            }
        }
    }

    /// Length normalization (and IPO) divide each side's summed log-prob by its token count,
    /// the policy's and the reference's alike.
    #[test]
    fn length_normalized_and_ipo_losses_use_per_token_means() {
        use lfm_data::chat::Encoded;
        let device = parse_device("cpu").unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
        let (_, model) = lfm_model::hf::load_dir(&dir, &device).unwrap();
        let ids: Vec<u32> = (0..14).map(|i| 20 + 7 * i).collect();
        let chosen = Encoded { ids: ids.clone(), mask: (0..14).map(|t| t >= 9).collect() };
        let rejected =
            Encoded { ids: ids[..11].iter().map(|&t| t + 3).collect(), mask: (0..11).map(|t| t >= 5).collect() };
        let pair = EncodedPair { id: "p".into(), chosen: chosen.clone(), rejected: rejected.clone() };
        let sums = host(completion_logps(&model, &[&chosen, &rejected], &device));
        let (nc, nr) = (5.0, 6.0);
        let (rc, rr) = (-30.0, -41.0);
        for s in [
            DpoSection { beta: 0.3, length_normalized: true, ..Default::default() },
            DpoSection { beta: 0.3, loss_type: DpoLoss::Ipo, ..Default::default() },
            DpoSection { beta: 0.3, ..Default::default() },
        ] {
            let o = DpoObjective {
                s: s.clone(),
                micro_batch: 1,
                grad_accum: 1,
                seed: 0,
                train: vec![pair.clone()],
                val: Vec::new(),
                reference: Reference::Stored { train: vec![(rc, rr)], val: Vec::new() },
                device: device.clone(),
                val_metrics: Map::new(),
            };
            let (loss, _) = o.batch(&model, &[0], false, &device).unwrap();
            let got = host(loss)[0];
            let (a, b) = if s.averages() { (nc, nr) } else { (1.0, 1.0) };
            let want = by_hand(sums[0] / a, sums[1] / b, rc / a, rr / b, &s).0;
            assert!((got - want).abs() < 1e-5 * (1.0 + want.abs()), "{s:?}: {got} vs {want}");
        }
    }

    #[test]
    fn losses_and_gradients_match_hand_computed_values() {
        let plain = parse_device("cpu").unwrap();
        let ad = plain.clone().autodiff();
        let (pc, pr, rc, rr) = ([-3.0, -10.0, -1.5], [-4.0, -2.0, -1.0], [-3.5, -9.0, -2.0], [-3.0, -2.5, -1.2]);
        for s in [
            DpoSection::default(),
            DpoSection { beta: 0.5, label_smoothing: 0.1, ..Default::default() },
            DpoSection { beta: 0.2, loss_type: DpoLoss::Ipo, ..Default::default() },
        ] {
            let pct = t(&pc, &ad).require_grad();
            let prt = t(&pr, &ad).require_grad();
            let terms = dpo_terms(pct.clone(), prt.clone(), t(&rc, &ad), t(&rr, &ad), &s);
            let loss = host(terms.loss.clone());
            let grads = terms.loss.sum().backward();
            let gc = host(pct.grad(&grads).unwrap());
            let gr = host(prt.grad(&grads).unwrap());
            let cr = host(terms.chosen_rewards);
            for i in 0..3 {
                let (l, dc, dr) = by_hand(pc[i], pr[i], rc[i], rr[i], &s);
                assert!((loss[i] - l).abs() < 1e-5, "{s:?} pair {i}: loss {} vs {l}", loss[i]);
                assert!((gc[i] - dc).abs() < 1e-5, "{s:?} pair {i}: d/dchosen {} vs {dc}", gc[i]);
                assert!((gr[i] - dr).abs() < 1e-5, "{s:?} pair {i}: d/drejected {} vs {dr}", gr[i]);
                assert!((cr[i] - s.beta * (pc[i] - rc[i])).abs() < 1e-5);
            }
        }
        // Hand-computed anchor: β = 0.1, h = 0 gives log 2 for the sigmoid loss.
        let z = dpo_terms(
            t(&[-1.0], &plain),
            t(&[-2.0], &plain),
            t(&[-1.0], &plain),
            t(&[-2.0], &plain),
            &DpoSection::default(),
        );
        assert!((host(z.loss)[0] - std::f64::consts::LN_2).abs() < 1e-6);
    }
}
