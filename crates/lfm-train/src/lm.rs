//! The causal-LM objective (pre-training and SFT): next-token cross-entropy over the
//! micro-batches of a step, each weighted by its share of the step's target tokens. With a
//! teacher (`job = "distill"`, [`crate::distill`]) the loss of a micro-batch is
//! `alpha · top-K KL + (1 − alpha) · CE` instead.
//!
//! ```text
//! step:
//!     fetch accum × world micro-batches (packed rows, or SFT rows with -100 outside the mask)
//!     for each (spread over the devices): loss = CE(model(ids), labels); grads += w · ∇loss
//!     engine::apply_gradients (finite norm, clip, AdamW)
//! ```
//!
//! Data order is a seeded loader state saved in every checkpoint, so a resumed run replays the
//! same batches.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::sft::{self, SftLoader};
use lfm_data::template::TextCodec;
use lfm_data::verify::{self, Expect};
use lfm_model::{Lfm2Config, Lfm2Model};
use serde_json::{json, Map, Value};

use crate::checkpoint::Meta;
use crate::config::{Job, RunConfig};
use crate::distill::{top_k_kl, DistillSection, StoredTopK, Teacher, TopK};

fn clone_top(t: &TopK) -> TopK {
    TopK { k: t.k, ids: t.ids.clone(), logits: t.logits.clone() }
}
use crate::engine::{apply_gradients, Learner, Objective, StepReport};
use crate::optim::{AdamW, GradAccumulator};
use crate::streams::{self, Streams};

/// A micro-batch ready for the model: `rows` rows of `len` token ids, and labels (the loss
/// shifts them; -100 is ignored).
pub struct Micro {
    ids: Vec<i64>,
    labels: Vec<i64>,
    rows: usize,
    len: usize,
    targets: usize,
}

impl Micro {
    /// Language-model rows (pre-training): the labels are the ids, so each row predicts its
    /// `len - 1` next tokens.
    pub fn lm(ids: Vec<i64>, rows: usize, len: usize) -> Micro {
        assert_eq!(ids.len(), rows * len, "{rows} rows of {len} ids");
        Micro { labels: ids.clone(), ids, rows, len, targets: rows * len.saturating_sub(1) }
    }

    /// A packed pre-training batch.
    fn from_packed(b: lfm_data::loader::Batch) -> Micro {
        let ids: Vec<i64> = b.tokens.iter().map(|&t| t as i64).collect();
        Micro::lm(ids, b.batch_size, b.seq_len + 1)
    }

    /// A packed micro-batch another MPI rank trains on ([`crate::streams`]): no tokens here,
    /// only its target count (the step's loss weights need the total).
    fn elsewhere(rows: usize, seq_len: usize) -> Micro {
        Micro { ids: vec![], labels: vec![], rows: 0, len: 0, targets: rows * seq_len }
    }

    /// An SFT batch: labels are -100 outside the assistant mask.
    fn from_sft(b: sft::SftBatch) -> Micro {
        Micro { ids: b.ids, labels: b.labels, rows: b.batch, len: b.len, targets: b.target_tokens }
    }
}

/// Seconds spent in each phase of a step, summed over its micro-batches (on replica 0 when
/// several devices share the step).
#[derive(Clone, Copy, Debug, Default)]
pub struct StepTimes {
    /// Forward pass to the loss value.
    pub forward: f64,
    pub backward: f64,
    /// Collecting (and, across replicas, summing) the gradients.
    pub gradients: f64,
    pub optimizer: f64,
}

impl StepTimes {
    pub fn total(&self) -> f64 {
        self.forward + self.backward + self.gradients + self.optimizer
    }
}

/// What one optimizer step did.
#[derive(Clone, Copy, Debug)]
pub struct StepOutcome {
    /// Mean loss over the step's target tokens.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    pub times: StepTimes,
}

/// One optimizer step: forward and backward of every micro-batch (weighted by its share of
/// the step's target tokens; spread over `devices`, see [`parallel_backward`]), the global
/// gradient norm (non-finite: an error), clipping to `grad_clip` when it is > 0, and AdamW at
/// learning rate `lr` ([`apply_gradients`]). The step owns the model, so that the optimizer
/// updates parameters in place when nothing else holds them. `lfm train` (through
/// [`LmObjective`]) and `lfm bench` both run this.
pub fn train_step(
    model: Lfm2Model,
    opt: &mut AdamW,
    devices: &[Device],
    micros: &[Micro],
    lr: f64,
    grad_clip: f64,
) -> Result<(Lfm2Model, StepOutcome)> {
    let total: usize = micros.iter().map(|m| m.targets).sum();
    if total == 0 {
        bail!("the batch has no target tokens");
    }
    let (acc, loss_sum, mut times) = parallel_backward(&model, devices, micros, total)?;
    let t = Instant::now();
    let (model, norm) = apply_gradients(model, opt, acc, lr, grad_clip)?;
    times.optimizer = t.elapsed().as_secs_f64();
    Ok((model, StepOutcome { loss: loss_sum / total as f64, grad_norm: norm, times }))
}

enum Data {
    Pretrain { train: Streams, dataset: PathBuf, rows: usize, seq_len: usize },
    Sft { train: SftLoader, val: Option<Vec<sft::SftExample>> },
}

impl Data {
    fn next(&mut self) -> Result<Micro> {
        match self {
            Data::Pretrain { train, rows, seq_len, .. } => {
                Ok(train.next_micro()?.map_or_else(|| Micro::elsewhere(*rows, *seq_len), Micro::from_packed))
            }
            Data::Sft { train, .. } => Ok(Micro::from_sft(train.next_batch())),
        }
    }
}

fn tensors(m: &Micro, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let ids = Tensor::from_data(TensorData::new(m.ids.clone(), [m.rows, m.len]), device);
    let labels = Tensor::from_data(TensorData::new(m.labels.clone(), [m.rows, m.len]), device);
    (ids, labels)
}

/// Mean validation loss (token-weighted) over at most `max_batches` batches.
fn evaluate(
    model: &Lfm2Model,
    data: &Data,
    cfg: &RunConfig,
    device: &Device,
    pad: u32,
    vocab: usize,
    mut teacher: Option<(&Teacher, &DistillSection, &mut DistillStats)>,
) -> Result<Option<f64>> {
    let plain = model.valid();
    let mut sum = 0.0f64;
    let mut n = 0usize;
    let mut run = |m: &Micro| -> Result<()> {
        let (ids, labels) = tensors(m, device);
        let logits = plain.forward(ids);
        if let Some((t, d, stats)) = teacher.as_mut() {
            let top = teacher_top_k(t, m, d.top_k)?;
            stats.add(&distill_terms(logits.clone(), m, &top, d, device)?.1);
        }
        let loss = Lfm2Model::loss(logits, labels).into_scalar::<f32>() as f64;
        sum += loss * m.targets as f64;
        n += m.targets;
        Ok(())
    };
    match data {
        Data::Pretrain { dataset, .. } => {
            let manifest = lfm_data::shards::Manifest::load(dataset)?;
            if manifest.val.tokens as usize <= cfg.data.seq_len {
                return Ok(None);
            }
            let lc =
                LoaderConfig { vocab_size: Some(vocab), ..LoaderConfig::val(cfg.batch.micro_batch, cfg.data.seq_len) };
            let mut l = Loader::new(dataset, lc, None)?;
            for _ in 0..cfg.run.eval_batches {
                let Some(b) = l.next_batch()? else { break };
                run(&Micro::from_packed(b))?;
            }
        }
        Data::Sft { val: Some(val), .. } => {
            for chunk in val.chunks(cfg.batch.micro_batch).take(cfg.run.eval_batches) {
                let mut l = SftLoader::new(chunk.to_vec(), chunk.len(), pad, 0, None)?;
                // One pass over the chunk in its own order: the loss is order-independent.
                run(&Micro::from_sft(l.next_batch()))?;
            }
        }
        Data::Sft { val: None, .. } => return Ok(None),
    }
    Ok((n > 0).then(|| sum / n as f64))
}

/// Forward + backward of one replica's micro-batches, each weighted by its share of the whole
/// step's target tokens. Returns the weighted gradient sum, Σ loss·targets and the phase times.
fn local_backward(
    model: &Lfm2Model,
    device: &Device,
    micros: &[&Micro],
    total: usize,
) -> Result<(GradAccumulator, f64, StepTimes)> {
    let mut acc = GradAccumulator::default();
    let mut loss_sum = 0.0f64;
    let mut times = StepTimes::default();
    for m in micros {
        let w = m.targets as f32 / total as f32;
        let t0 = Instant::now();
        let (ids, labels) = tensors(m, device);
        let loss = model.lm_loss(ids, labels);
        let lv = loss.clone().into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            bail!("loss is {lv}");
        }
        let t1 = Instant::now();
        loss_sum += lv * m.targets as f64;
        let grads = loss.backward();
        let t2 = Instant::now();
        acc.add(model, &grads, w)?;
        // The gradient store goes now, so that the accumulated gradients are the only holders
        // of their buffers when the optimizer takes them.
        drop(grads);
        times.forward += (t1 - t0).as_secs_f64();
        times.backward += (t2 - t1).as_secs_f64();
        times.gradients += t2.elapsed().as_secs_f64();
    }
    Ok((acc, loss_sum, times))
}

/// One step's gradients over `devices` (autodiff devices, one replica each). Micro-batch `j`
/// goes to replica `j % world`; replica 0 is `model` itself, the others are burn `fork`s of it
/// onto their device (the broadcast of the weights), each running on its own thread. The
/// replicas' gradients are brought onto replica 0's device with burn's device transfer and
/// summed there, where the optimizer steps.
fn parallel_backward(
    model: &Lfm2Model,
    devices: &[Device],
    micros: &[Micro],
    total: usize,
) -> Result<(GradAccumulator, f64, StepTimes)> {
    let ranks = crate::dist::size();
    if ranks > 1 {
        // One device per MPI rank: this rank's share of the micro-batches, then the sums over
        // all ranks (the same gradient sum the in-process replicas build).
        let mine: Vec<&Micro> = micros.iter().skip(crate::dist::rank()).step_by(ranks).collect();
        if mine.iter().any(|m| m.rows == 0) {
            bail!("rank {} was handed a micro-batch another rank reads", crate::dist::rank());
        }
        let (mut acc, loss_sum, mut times) = local_backward(model, &devices[0], &mine, total)?;
        let t0 = Instant::now();
        acc.all_reduce()?;
        let loss_sum = crate::dist::all_reduce_f64(loss_sum);
        times.gradients += t0.elapsed().as_secs_f64();
        return Ok((acc, loss_sum, times));
    }
    let world = devices.len();
    let split = |r: usize| -> Vec<&Micro> { micros.iter().skip(r).step_by(world).collect() };
    if world == 1 {
        return local_backward(model, &devices[0], &split(0), total);
    }
    // The workers compute their products in this thread's precision (bf16 autocast).
    let precision = lfm_model::fused::matmul_precision();
    let results: Vec<Result<(GradAccumulator, f64, StepTimes)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..world)
            .map(|r| {
                let replica = if r == 0 { model.clone() } else { model.clone().fork(&devices[r]) };
                let device = devices[r].clone();
                let mine = split(r);
                s.spawn(move || {
                    let _autocast = lfm_model::fused::autocast(precision);
                    local_backward(&replica, &device, &mine, total)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a data-parallel worker panicked"))))
            .collect()
    });
    let primary = devices[0].clone().inner();
    let mut acc = GradAccumulator::default();
    let mut loss_sum = 0.0;
    let mut times = StepTimes::default();
    for (r, res) in results.into_iter().enumerate() {
        let (a, l, t) = res.map_err(|e| anyhow!("replica {r}: {e}"))?;
        let t0 = Instant::now();
        acc.merge(a, &primary)?;
        loss_sum += l;
        if r == 0 {
            times = t;
        }
        times.gradients += t0.elapsed().as_secs_f64();
    }
    Ok((acc, loss_sum, times))
}

/// Verifies a pre-training dataset (paths, sizes, checksums, the tokenizer against the
/// model's, the validation split when `eval_every` is set) before anything is built from it,
/// and returns the tokenizer file the run uses: the dataset's copy for pre-training; for SFT
/// `[data] tokenizer` or the starting checkpoint's.
pub fn prepare(cfg: &RunConfig, run_dir: &Path, init: Option<&Path>, pb: &ProgressBar) -> Result<PathBuf> {
    // A GGUF base (QLoRA) has its tokenizer files beside it, if anywhere.
    let init = init.map(|p| if p.is_file() { p.parent().unwrap_or(Path::new(".")) } else { p });
    let model_tok = init.map(|d| d.join("tokenizer.json")).filter(|p| p.exists());
    match cfg.job {
        _ if cfg.data.dataset.is_some() => {
            let ds = cfg.data.dataset.as_ref().expect("matched");
            let one_batch = (cfg.batch.micro_batch * cfg.data.seq_len + 1) as u64;
            let expect = Expect {
                model_tokenizer: model_tok,
                val_tokens: (cfg.run.eval_every > 0)
                    .then(|| (one_batch, format!("[run] eval_every = {}", cfg.run.eval_every))),
                cache_fallback: Some(run_dir.join("dataset-verified.json")),
                no_cache: false,
            };
            pb.set_prefix("shards hashed");
            let v = verify::verify_dataset(ds, &expect, pb)?;
            Ok(ds.join(&v.manifest.tokenizer.path))
        }
        _ => match (&cfg.data.tokenizer, init) {
            (Some(t), _) => Ok(t.clone()),
            (None, Some(d)) => Ok(d.join("tokenizer.json")),
            (None, None) => bail!("{} with a preset model needs [data] tokenizer", cfg.job.as_str()),
        },
    }
}

/// Pre-training and SFT as an [`Objective`].
pub struct LmObjective {
    data: Data,
    cfg: RunConfig,
    /// Micro-batches per step, over all replicas.
    micros_per_step: usize,
    pad: u32,
    vocab: usize,
    /// Distillation: the teacher and its settings.
    teacher: Option<(Teacher, DistillSection)>,
    /// Distillation from `[distill] teacher_topk`: the stored top-K of this run's batches.
    stored: Option<StoredTopK>,
    /// Validation fields of the last evaluation (distillation's `val_kl`, ...).
    val_extra: Map<String, Value>,
}

impl LmObjective {
    /// The data of `cfg` (the loader state from `resumed` when resuming), for a model of shape
    /// `model_cfg` on `world` replicas; `tok_path` from [`prepare`].
    pub fn new(
        cfg: &RunConfig,
        model_cfg: &Lfm2Config,
        tok_path: &Path,
        resumed: Option<&Meta>,
        devices: &[Device],
    ) -> Result<Self> {
        // A micro-batch the context or the memory cannot hold fails here, not as an allocation
        // abort in step 1 (the memory bound is checked on the CPU, where MemAvailable applies).
        let avail = devices.iter().all(lfm_model::device::is_cpu).then(lfm_model::device::available_memory).flatten();
        model_cfg
            .check_training_shape(
                cfg.batch.micro_batch,
                cfg.data.seq_len + 1,
                avail,
                "[data] seq_len / [batch] micro_batch",
            )
            .map_err(|e| anyhow!("{e}"))?;
        let world = devices.len() * crate::dist::size();
        let pad = model_cfg.pad_token_id;
        let data = match cfg.job {
            _ if cfg.data.dataset.is_some() => {
                let ds = cfg.data.dataset.clone().expect("matched");
                let states = Streams::resumed(resumed);
                let count = match &states {
                    Some(s) => s.len(),
                    None => streams::stream_count(cfg.data.streams, world, streams::train_row_groups(&ds)?, &ds)?,
                };
                if let (Some(want), Some(s)) = (cfg.data.streams, &states) {
                    if want != s.len() {
                        bail!("[data] streams = {want}, but the checkpoint was written with {} stream(s)", s.len());
                    }
                }
                let lc = LoaderConfig {
                    vocab_size: Some(model_cfg.vocab_size),
                    ..LoaderConfig::train(cfg.batch.micro_batch, cfg.data.seq_len, cfg.run.seed)
                };
                let (rank, ranks) = (crate::dist::rank(), crate::dist::size());
                let train = Streams::open(&ds, lc, count, rank, ranks, states)?;
                let (rows, seq_len) = (cfg.batch.micro_batch, cfg.data.seq_len);
                Data::Pretrain { train, dataset: ds, rows, seq_len }
            }
            _ => {
                // Conversations are rendered with the chat template beside the tokenizer.
                let codec = TextCodec::for_tokenizer_file(tok_path)?;
                let on = cfg.data.train_on;
                let path = cfg.data.sft_jsonl.as_ref().expect("validated");
                let (ex, skipped) = sft::load_examples(path, &codec, on, cfg.data.seq_len)?;
                if skipped.total() > 0 {
                    eprintln!(
                        "warning: {} of {} conversations skipped: {} without an assistant reply, {} truncated away by seq_len = {}",
                        skipped.total(),
                        skipped.total() + ex.len(),
                        skipped.no_reply,
                        skipped.truncated,
                        cfg.data.seq_len
                    );
                }
                let val = match &cfg.data.sft_val_jsonl {
                    Some(p) => Some(sft::load_examples(p, &codec, on, cfg.data.seq_len)?.0),
                    None => None,
                };
                let state = resumed.and_then(|m| m.sft.clone());
                Data::Sft { train: SftLoader::new(ex, cfg.batch.micro_batch, pad, cfg.run.seed, state)?, val }
            }
        };
        let teacher = match (&cfg.distill, cfg.job) {
            (Some(d), Job::Distill) => {
                if world > 1 {
                    bail!("job = \"distill\" runs on one device, got {world}");
                }
                Some((Teacher::load(d, model_cfg, tok_path, &devices[0])?, d.clone()))
            }
            _ => None,
        };
        let stored = match (&cfg.distill, cfg.job) {
            (Some(d), Job::Distill) => {
                d.teacher_topk.as_deref().map(|dir| StoredTopK::open(dir, cfg, d)).transpose()?
            }
            _ => None,
        };
        Ok(LmObjective {
            data,
            cfg: cfg.clone(),
            micros_per_step: cfg.accum_per_device(world) * world,
            pad,
            vocab: model_cfg.vocab_size,
            teacher,
            stored,
            val_extra: Map::new(),
        })
    }

    /// The next micro-batch of the run's order (`lfm data teacher` walks it).
    pub fn next_micro(&mut self) -> Result<Micro> {
        self.data.next()
    }

    /// The teacher's top-K of `m` (a distillation objective only).
    pub fn teacher_top_k(&self, m: &Micro) -> Result<TopK> {
        let (t, d) = self.teacher.as_ref().ok_or_else(|| anyhow!("not a distillation run: no teacher"))?;
        teacher_top_k(t, m, d.top_k)
    }
}

impl Objective for LmObjective {
    fn step(&mut self, step: u64, model: Lfm2Model, learner: &mut Learner) -> Result<(Lfm2Model, StepReport)> {
        let micros: Vec<Micro> = (0..self.micros_per_step).map(|_| self.data.next()).collect::<Result<_>>()?;
        if let Some((teacher, d)) = &self.teacher {
            let first = (step - 1) * self.micros_per_step as u64;
            let tops = match &mut self.stored {
                Some(st) => {
                    (0..micros.len() as u64).map(|j| st.get(first + j).map(clone_top)).collect::<Result<Vec<_>>>()?
                }
                None => micros.iter().map(|m| teacher_top_k(teacher, m, d.top_k)).collect::<Result<Vec<_>>>()?,
            };
            return distill_step(model, learner, &micros, &tops, d);
        }
        let (model, out) = learner.lm_step(model, &micros)?;
        // Predicted tokens: the ones that carry loss (a packed row of seq_len + 1 ids predicts
        // seq_len of them; SFT rows only their assistant tokens).
        let tokens = micros.iter().map(|m| m.targets as u64).sum();
        Ok((model, StepReport { loss: out.loss, grad_norm: out.grad_norm, tokens, ..Default::default() }))
    }

    fn evaluate(&mut self, model: &Lfm2Model, device: &Device) -> Result<Option<f64>> {
        let mut stats = DistillStats::default();
        let teacher = self.teacher.as_ref().map(|(t, d)| (t, d, &mut stats));
        let v = evaluate(model, &self.data, &self.cfg, device, self.pad, self.vocab, teacher)?;
        if self.teacher.is_some() && stats.positions > 0.0 {
            let n = stats.positions;
            self.val_extra.insert("val_kl".into(), json!(stats.kl / n));
            self.val_extra.insert("val_top1_agreement".into(), json!(stats.agree / n));
        }
        Ok(v)
    }

    fn val_extra(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.val_extra)
    }

    /// Distillation: `distill.png`, the two terms of the loss and the validation ones.
    fn plot(&self, run_dir: &Path, title: &str) -> Result<()> {
        if self.teacher.is_none() {
            return Ok(());
        }
        let fields = [
            ("cross-entropy (train)", "ce"),
            ("cross-entropy (validation)", "val_loss"),
            ("top-K KL (train)", "kl"),
            ("top-K KL (validation)", "val_kl"),
        ];
        crate::metrics::plot_fields(run_dir, "distill.png", title, "nats per token", &fields).map(|_| ())
    }

    fn save_state(&self, meta: &mut Meta) -> Result<()> {
        match &self.data {
            Data::Pretrain { train, .. } => train.save(meta)?,
            Data::Sft { train, .. } => meta.sft = Some(train.state().clone()),
        }
        Ok(())
    }
}

/// Sums over positions that carry loss: τ²·KL, cross-entropy, top-1 agreement.
#[derive(Clone, Copy, Debug, Default)]
struct DistillStats {
    positions: f64,
    kl: f64,
    ce: f64,
    agree: f64,
}

impl DistillStats {
    fn add(&mut self, o: &DistillStats) {
        self.positions += o.positions;
        self.kl += o.kl;
        self.ce += o.ce;
        self.agree += o.agree;
    }
}

/// The mean top-K KL over `m`'s positions that carry loss (differentiable in `logits`, the
/// student's [B, L, V] logits of the micro-batch's ids) and the sums of its statistics.
fn distill_terms(
    logits: Tensor<3>,
    m: &Micro,
    top: &TopK,
    d: &DistillSection,
    device: &Device,
) -> Result<(Tensor<1>, DistillStats)> {
    let [b, l, v] = logits.dims();
    let n = b * (l - 1);
    if top.ids.len() != n * top.k {
        bail!("the teacher's top-K covers {} positions, the micro-batch has {n}", top.ids.len() / top.k.max(1));
    }
    let mut keep = Vec::with_capacity(n);
    for r in 0..b {
        keep.extend(m.labels[r * l + 1..(r + 1) * l].iter().map(|&x| if x >= 0 { 1.0f32 } else { 0.0 }));
    }
    let student = logits.narrow(1, 0, l - 1).reshape([n, v]);
    let am: Vec<i64> = student.clone().argmax(1).into_data().convert::<i64>().try_into_vec::<i64>().expect("ids");
    let kl = top_k_kl(student, top, d.temperature);
    let count = keep.iter().sum::<f32>().max(1.0);
    let agree = (0..n).filter(|&i| keep[i] > 0.0 && am[i] == top.ids[i * top.k]).count() as f64;
    let keep_t = Tensor::<1>::from_data(TensorData::new(keep, [n]), device);
    let kl_sum = (kl * keep_t).sum();
    let kl_v = kl_sum.clone().into_scalar::<f32>() as f64;
    let stats = DistillStats { positions: count as f64, kl: kl_v, ce: 0.0, agree };
    Ok((kl_sum / count as f64, stats))
}

/// The teacher's top-K for the positions of `m` that predict a token: position t of a row
/// predicts token t + 1, so the teacher reads ids[.., ..len-1].
fn teacher_top_k(teacher: &Teacher, m: &Micro, k: usize) -> Result<TopK> {
    let l = m.len;
    let mut inputs = Vec::with_capacity(m.rows * (l - 1));
    for r in 0..m.rows {
        inputs.extend_from_slice(&m.ids[r * l..r * l + l - 1]);
    }
    teacher.top_k(&inputs, m.rows, k)
}

/// One distillation step on one device: per micro-batch `alpha · KL + (1 − alpha) · CE`,
/// weighted by its share of the step's target tokens, then the optimizer.
fn distill_step(
    model: Lfm2Model,
    learner: &mut Learner,
    micros: &[Micro],
    tops: &[TopK],
    d: &DistillSection,
) -> Result<(Lfm2Model, StepReport)> {
    let total: usize = micros.iter().map(|m| m.targets).sum();
    if total == 0 {
        bail!("the batch has no target tokens");
    }
    let device = learner.device().clone();
    let mut acc = GradAccumulator::default();
    let (mut loss_sum, mut stats) = (0.0f64, DistillStats::default());
    for (m, top) in micros.iter().zip(tops) {
        let (ids, labels) = tensors(m, &device);
        let logits = model.forward(ids);
        let (kl, mut st) = distill_terms(logits.clone(), m, top, d, &device)?;
        let ce = Lfm2Model::loss(logits, labels);
        st.ce = ce.clone().into_scalar::<f32>() as f64 * st.positions;
        let loss = kl * d.alpha + ce * (1.0 - d.alpha);
        let lv = loss.clone().into_scalar::<f32>() as f64;
        if !lv.is_finite() {
            bail!("distillation loss is {lv}");
        }
        loss_sum += lv * m.targets as f64;
        stats.add(&st);
        acc.add(&model, &loss.backward(), m.targets as f32 / total as f32)?;
    }
    let (model, norm) = learner.update(model, acc)?;
    let n = stats.positions.max(1.0);
    let mut extra = Map::new();
    extra.insert("kl".into(), json!(stats.kl / n));
    extra.insert("ce".into(), json!(stats.ce / n));
    extra.insert("top1_agreement".into(), json!(stats.agree / n));
    let message = format!("kl {:.4} ce {:.4}", stats.kl / n, stats.ce / n);
    let report = StepReport { loss: loss_sum / total as f64, grad_norm: norm, tokens: total as u64, extra, message };
    Ok((model, report))
}
