//! The training loop for continued pre-training and SFT — one visible loop:
//!
//! ```text
//! for step in start+1..=steps:
//!     lr = schedule(step)
//!     fetch grad_accum micro-batches; weight each by its share of the step's target tokens
//!     for each: loss = CE(model(ids), labels); grads += weight · ∇loss
//!     stop on a non-finite loss or gradient norm (the last checkpoint stays the good one)
//!     clip to the global norm; AdamW step
//!     log metrics.jsonl; every eval_every: validation loss + loss.png; every
//!     checkpoint_every: checkpoint (model + optimizer + loader state), keep the newest k
//! ```
//!
//! Before step 1 the run directory is locked ([`OutputLock`]: a second run on the same `--out`
//! fails at once) and a pre-training dataset is verified ([`lfm_data::verify`]: paths, sizes,
//! checksums, the tokenizer against the model's, the validation split when `eval_every` is
//! set), so a damaged dataset is one error before any step instead of a panic mid-run.
//!
//! Everything that decides the numbers — initial weights (seeded), data order (seeded loader
//! state), the schedule (a function of the step) and the optimizer state — is restored from a
//! checkpoint, so on the CPU a resumed run reproduces the uninterrupted one bit for bit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::sft::{self, SftLoader};
use lfm_data::template::TextCodec;
use lfm_data::tokenizer;
use lfm_data::verify::{self, Expect};
use lfm_model::init::RandomInit;
use lfm_model::io::OutputLock;
use lfm_model::{Lfm2Config, Lfm2Model};

use crate::checkpoint::{self, Meta};
use crate::config::{Job, RunConfig};
use crate::metrics::{self, MetricsLog, StepRecord, ValRecord};
use crate::optim::{AdamW, GradAccumulator};
use crate::schedule::Schedule;

/// How to run (beyond the config).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `latest` or a checkpoint directory.
    pub resume: Option<String>,
    /// Stop (after checkpointing) once this step is done, as if interrupted — the schedule still
    /// spans `run.steps`.
    pub stop_after: Option<u64>,
    /// Progress to report to: the dataset check (prefix "shards hashed", one position per
    /// shard), then the steps (prefix "steps", message: loss, lr, gradient norm, tokens/s).
    /// Validation losses are printed above it. `None`: silent.
    pub progress: Option<ProgressBar>,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub steps_done: u64,
    pub last_loss: f64,
    pub last_val_loss: Option<f64>,
    pub last_checkpoint: Option<PathBuf>,
    pub tokens_per_s: f64,
}

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
/// learning rate `lr`. The step owns the model, so that the optimizer updates parameters in
/// place when nothing else holds them. `lfm train` and `lfm bench` both run this.
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
    let (mut acc, loss_sum, mut times) = parallel_backward(&model, devices, micros, total)?;
    let norm = acc.global_norm();
    if !norm.is_finite() {
        bail!("gradient norm is {norm}");
    }
    if grad_clip > 0.0 && norm > grad_clip {
        acc.scale((grad_clip / (norm + 1e-6)) as f32);
    }
    let t = Instant::now();
    let model = opt.step(model, &mut acc, lr)?;
    times.optimizer = t.elapsed().as_secs_f64();
    Ok((model, StepOutcome { loss: loss_sum / total as f64, grad_norm: norm, times }))
}

enum Data {
    Pretrain { train: Loader, dataset: PathBuf },
    Sft { train: SftLoader, val: Option<Vec<sft::SftExample>> },
}

impl Data {
    fn next(&mut self) -> Result<Micro> {
        match self {
            Data::Pretrain { train, .. } => {
                let b = train.next_batch()?.ok_or_else(|| anyhow!("the training loader ended"))?;
                Ok(Micro::from_packed(b))
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
) -> Result<Option<f64>> {
    let plain = model.valid();
    let mut sum = 0.0f64;
    let mut n = 0usize;
    let mut run = |m: &Micro| -> Result<()> {
        let (ids, labels) = tensors(m, device);
        let loss = Lfm2Model::loss(plain.forward(ids), labels).into_scalar::<f32>() as f64;
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

fn same_training(a: &RunConfig, b: &RunConfig) -> bool {
    a.job == b.job
        && a.model == b.model
        && a.data == b.data
        && a.batch == b.batch
        && a.optim == b.optim
        && a.schedule == b.schedule
        && a.run.seed == b.run.seed
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
    let world = devices.len();
    let split = |r: usize| -> Vec<&Micro> { micros.iter().skip(r).step_by(world).collect() };
    if world == 1 {
        return local_backward(model, &devices[0], &split(0), total);
    }
    let results: Vec<Result<(GradAccumulator, f64, StepTimes)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..world)
            .map(|r| {
                let replica = if r == 0 { model.clone() } else { model.clone().fork(&devices[r]) };
                let device = devices[r].clone();
                let mine = split(r);
                s.spawn(move || local_backward(&replica, &device, &mine, total))
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

/// Runs (or resumes) a training job on `device` (a plain device; autodiff is added here).
pub fn run(cfg: &RunConfig, device: &Device, opts: &RunOptions) -> Result<RunSummary> {
    run_parallel(cfg, std::slice::from_ref(device), opts)
}

/// Runs (or resumes) a training job data-parallel over `devices` (one model replica each; the
/// same device may repeat). Each optimizer step runs `accum_per_device × world` micro-batches.
pub fn run_parallel(cfg: &RunConfig, devices: &[Device], opts: &RunOptions) -> Result<RunSummary> {
    if devices.is_empty() {
        bail!("no device to train on");
    }
    let world = devices.len();
    let run_dir = cfg.run.out.clone();
    // One run per directory, from before anything in it is touched until this function
    // returns: a second run on the same --out fails here with one line.
    let _lock = OutputLock::acquire(&run_dir, "lfm train")?;
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("{}: cannot create the run directory", run_dir.display()))?;
    checkpoint::clean_partial(&run_dir);
    let mut devices = devices.to_vec();
    if cfg.run.precision == "bf16" {
        for device in devices.iter_mut() {
            if lfm_model::device::is_cpu(device) {
                bail!("[run] precision = \"bf16\" is for GPU backends; CPU training runs in f32");
            }
            device
                .configure(burn::tensor::FloatDType::BF16)
                .map_err(|e| anyhow!("{device:?}: cannot switch to bf16: {e:?}"))?;
        }
    }
    let ads: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    let ad = ads[0].clone();
    let hidden = ProgressBar::hidden();
    let pb = opts.progress.as_ref().unwrap_or(&hidden);

    // The checkpoint to resume from must be readable and written by this same training.
    let resume_dir = match &opts.resume {
        Some(spec) => Some(checkpoint::resolve(&run_dir, spec)?),
        None => None,
    };
    let loads = |d: &Path| checkpoint::load(d, &ad, cfg.optim.clone()).is_ok();
    let resumed_meta = match &resume_dir {
        Some(dir) => {
            let meta =
                checkpoint::read_meta(dir).map_err(|e| checkpoint::name_previous_good(e, &run_dir, dir, loads))?;
            if meta.world != world {
                bail!(
                    "{}: was written by a run on {} device(s), this one has {world} (the global batch would change)",
                    dir.display(),
                    meta.world
                );
            }
            if !same_training(&meta.run_config, cfg) {
                bail!("{}: was written by a run with another configuration (model, data, batch, optimizer, schedule or seed differ)", dir.display());
            }
            checkpoint::check_same_steps(dir, meta.run_config.run.steps, cfg.run.steps)?;
            Some(meta)
        }
        None => {
            if !checkpoint::complete(&run_dir)?.is_empty() {
                bail!("{}: already has checkpoints; pass --resume latest, or choose another --out", run_dir.display());
            }
            None
        }
    };
    // The tokenizer the model was trained with, where the model comes from a directory.
    let model_tok =
        resume_dir.as_ref().or(cfg.model.init_from.as_ref()).map(|d| d.join("tokenizer.json")).filter(|p| p.exists());

    // Pre-training data is verified before anything is built from it.
    let verified = match cfg.job {
        Job::Pretrain => {
            let ds = cfg.data.dataset.as_ref().unwrap();
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
            Some(v.manifest)
        }
        Job::Sft => None,
    };

    // Tokenizer files: pre-training uses the dataset's copy (verified above to be the model's
    // when the model has one); SFT the configured one or the initial checkpoint's.
    let tok_path = match (&verified, &cfg.data.tokenizer, &cfg.model.init_from) {
        (Some(m), _, _) => cfg.data.dataset.as_ref().unwrap().join(&m.tokenizer.path),
        (None, Some(t), _) => t.clone(),
        (None, None, Some(d)) => d.join("tokenizer.json"),
        (None, None, None) => bail!("sft with a preset model needs [data] tokenizer"),
    };
    let tok = tokenizer::load(&tok_path)?;
    // Checkpoints carry the text codec (tokenizer, its config, the chat template) and the
    // initial model's generation_config.json, so they render and sample as it did.
    let mut tok_files = TextCodec::files(&tok_path);
    if let Some(g) = cfg.model.init_from.as_ref().map(|d| d.join("generation_config.json")).filter(|p| p.exists()) {
        tok_files.push(g);
    }

    // Model and optimizer: from a checkpoint, an HF directory, or a preset.
    let (model_cfg, mut model, mut opt, start) = if let (Some(dir), Some(meta)) = (&resume_dir, &resumed_meta) {
        let (mc, model, opt, _) = checkpoint::load(dir, &ad, cfg.optim.clone())
            .map_err(|e| checkpoint::name_previous_good(e, &run_dir, dir, loads))?;
        (mc, model, opt, meta.step)
    } else {
        let (mc, model) = match (&cfg.model.preset, &cfg.model.init_from) {
            (Some(p), _) => {
                let vocab = tok.get_vocab_size(true).div_ceil(64) * 64;
                let mc = Lfm2Config::preset(p, vocab).map_err(|e| anyhow!("{e}"))?;
                let mut init = RandomInit::new(&mc, cfg.run.seed).with_std(cfg.model.init_std as f32);
                let m = Lfm2Model::build(&mc, &ad, &mut init).map_err(|e| anyhow!("{e}"))?;
                (mc, m)
            }
            (None, Some(dir)) => lfm_model::hf::load_dir(dir, &ad).map_err(|e| anyhow!("{e}"))?,
            _ => unreachable!("validated"),
        };
        // LoRA: the base is frozen, the branches are the only trained parameters.
        let model = match &cfg.adapter {
            Some(a) => lfm_model::lora::attach(model, &a.spec(), cfg.run.seed, &ad).map_err(|e| anyhow!("{e}"))?,
            None => model,
        };
        (mc, model, AdamW::new(cfg.optim.clone()), 0)
    };
    tokenizer::check_against_model(&tok, &model_cfg, &tok_path.display().to_string())?;
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
    lfm_model::io::write_atomic(&run_dir.join("config.toml"), cfg.to_toml().as_bytes())?;

    // Data.
    let pad = model_cfg.pad_token_id;
    let mut data = match cfg.job {
        Job::Pretrain => {
            let ds = cfg.data.dataset.clone().unwrap();
            let state = resumed_meta.as_ref().and_then(|m| m.loader.clone());
            let lc = LoaderConfig {
                vocab_size: Some(model_cfg.vocab_size),
                ..LoaderConfig::train(cfg.batch.micro_batch, cfg.data.seq_len, cfg.run.seed)
            };
            Data::Pretrain { train: Loader::new(&ds, lc, state)?, dataset: ds }
        }
        Job::Sft => {
            // Conversations are rendered with the chat template beside the tokenizer.
            let codec = TextCodec::for_tokenizer_file(&tok_path)?;
            let on = cfg.data.train_on;
            let (ex, skipped) = sft::load_examples(cfg.data.sft_jsonl.as_ref().unwrap(), &codec, on, cfg.data.seq_len)?;
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
            let state = resumed_meta.as_ref().and_then(|m| m.sft.clone());
            Data::Sft { train: SftLoader::new(ex, cfg.batch.micro_batch, pad, cfg.run.seed, state)?, val }
        }
    };

    let sched = Schedule::new(&cfg.schedule, cfg.optim.lr, cfg.optim.min_lr_ratio, cfg.run.steps);
    let accum = cfg.accum_per_device(world);
    let mut log = MetricsLog::open(&run_dir, resumed_meta.as_ref().map(|m| m.step))?;
    let mut tokens_seen = resumed_meta.as_ref().map_or(0, |m| m.tokens_seen);
    let elapsed0 = resumed_meta.as_ref().map_or(0.0, |m| m.elapsed_s);
    let mut last_val = resumed_meta.as_ref().and_then(|m| m.last_val_loss);
    let started = Instant::now();
    let end = opts.stop_after.map_or(cfg.run.steps, |s| s.min(cfg.run.steps));
    let title = format!(
        "{} · {} · LFM2 {:.1}M params, {} blocks ({}), hidden {}",
        run_dir.file_name().map_or_else(|| run_dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        match cfg.job {
            Job::Pretrain => "pretrain",
            Job::Sft => "sft",
        },
        model_cfg.num_params() as f64 / 1e6,
        model_cfg.num_layers(),
        model_cfg.pattern(),
        model_cfg.hidden_size
    );

    pb.set_prefix("steps");
    pb.set_length(cfg.run.steps);
    pb.set_position(start);
    pb.set_message("");
    pb.reset_eta();

    let mut last_loss = f64::NAN;
    let mut last_ckpt = None;
    let mut run_tokens = 0u64;
    let mut step = start;
    while step < end {
        step += 1;
        let t0 = Instant::now();
        let lr = sched.lr(step);
        let micros: Vec<Micro> = (0..accum * world).map(|_| data.next()).collect::<Result<_>>()?;
        let (m, out) = train_step(model, &mut opt, &ads, &micros, lr, cfg.optim.grad_clip).map_err(|e| {
            anyhow!("step {step}: {e}; stopping (last good checkpoint: {})", describe(&last_ckpt, &run_dir))
        })?;
        model = m;
        let (loss, norm) = (out.loss, out.grad_norm);
        // Predicted tokens: the ones that carry loss (a packed row of seq_len + 1 ids predicts
        // seq_len of them; SFT rows only their assistant tokens).
        let step_tokens: u64 = micros.iter().map(|m| m.targets as u64).sum();
        tokens_seen += step_tokens;
        run_tokens += step_tokens;
        let dt = t0.elapsed().as_secs_f64();
        let rec = StepRecord {
            step,
            loss,
            lr,
            grad_norm: norm,
            tokens: tokens_seen,
            tokens_per_s: step_tokens as f64 / dt.max(1e-9),
            elapsed_s: elapsed0 + started.elapsed().as_secs_f64(),
        };
        log.write(&rec)?;
        last_loss = loss;
        pb.set_position(step);
        let val = last_val.map_or(String::new(), |v| format!(" val {v:.4}"));
        pb.set_message(format!("loss {loss:.4}{val} lr {lr:.2e} |g| {norm:.3} {:.0} tok/s", rec.tokens_per_s));

        let is_last = step == cfg.run.steps;
        if (cfg.run.eval_every > 0 && step % cfg.run.eval_every == 0) || is_last {
            if let Some(v) = evaluate(&model, &data, cfg, &ad, pad, model_cfg.vocab_size)? {
                log.write(&ValRecord { step, val_loss: v, val_ppl: v.exp() })?;
                last_val = Some(v);
                if opts.progress.is_some() {
                    // Above the bar on a terminal; a plain line in a log.
                    pb.suspend(|| eprintln!("step {step}: val loss {v:.4} (ppl {:.2})", v.exp()));
                }
            }
            metrics::plot_run(&run_dir, &title)?;
        }
        if (cfg.run.checkpoint_every > 0 && step % cfg.run.checkpoint_every == 0) || is_last || step == end {
            let meta = Meta {
                world,
                format: checkpoint::FORMAT.into(),
                step,
                lr,
                tokens_seen,
                elapsed_s: rec.elapsed_s,
                model_config: model_cfg.to_hf_value(),
                run_config: cfg.clone(),
                loader: match &data {
                    Data::Pretrain { train, .. } => Some(train.state().clone()),
                    _ => None,
                },
                sft: match &data {
                    Data::Sft { train, .. } => Some(train.state().clone()),
                    _ => None,
                },
                last_val_loss: last_val,
            };
            last_ckpt = Some(checkpoint::save(
                &run_dir,
                &model.valid(),
                &model_cfg,
                &opt,
                &meta,
                &tok_files,
                cfg.run.keep_last,
            )?);
        }
    }
    if step > start {
        metrics::plot_run(&run_dir, &title)?;
    }
    Ok(RunSummary {
        run_dir,
        steps_done: step,
        last_loss,
        last_val_loss: last_val,
        last_checkpoint: last_ckpt
            .or_else(|| checkpoint::complete(&cfg.run.out).ok().and_then(|mut v| v.pop().map(|x| x.1))),
        tokens_per_s: run_tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
    })
}

fn describe(p: &Option<PathBuf>, run_dir: &Path) -> String {
    match p {
        Some(p) => p.display().to_string(),
        None => checkpoint::complete(run_dir)
            .ok()
            .and_then(|mut v| v.pop())
            .map_or("none yet".into(), |(_, p)| p.display().to_string()),
    }
}
