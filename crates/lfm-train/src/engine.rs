//! The training engine: one run directory, one optimizer step, one loop, and the objectives
//! that plug into it — the causal LM ([`crate::lm`]: pre-training, SFT), GRPO
//! ([`crate::grpo`]) and DPO ([`crate::dpo`]). Every job gets locking, resume checks, atomic checkpoints, adapters,
//! metrics, curves and the progress bar from here; an objective only turns the current model
//! into gradients (and, through [`Learner`], optimizer updates) and says what to log.
//!
//! ```text
//! run(cfg):
//!     dir = RunDir::open(cfg)        lock --out; resume: the checkpoint must be this training's
//!     init = the resumed run's start, [model] init_from, or GRPO's warm-start SFT
//!     model, optimizer, start = the checkpoint's, or init / a preset (+ a fresh LoRA adapter)
//!     objective = LmObjective | GrpoObjective | DpoObjective (its data position restored)
//!     for step in start+1..=end:
//!         learner.lr = schedule(step)
//!         model, report = objective.step(step, model, learner)
//!             ... learner.update(model, grads): finite norm, clip, AdamW
//!         metrics.jsonl: step, loss, lr, grad_norm, tokens, tokens/s, elapsed + the objective's
//!         every eval_every and at the end: objective.evaluate; curves
//!         every checkpoint_every and at the end: checkpoint (DONE last, keep_last kept)
//! ```
//!
//! Everything that decides the numbers — initial weights (seeded), data order (seeded loader
//! state, or a function of the step for GRPO), the schedule (a function of the step) and the
//! optimizer state — is restored from a checkpoint, so on the CPU a resumed run reproduces the
//! uninterrupted one bit for bit, for every job, with or without an adapter. (LoRA dropout > 0
//! draws from burn's global generator, which a checkpoint does not hold: exact resume needs
//! `dropout = 0`.)

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use burn::module::Module;
use burn::tensor::Device;
use indicatif::ProgressBar;
use lfm_data::template::TextCodec;
use lfm_data::tokenizer;
use lfm_model::init::RandomInit;
use lfm_model::io::OutputLock;
use lfm_model::{Lfm2Config, Lfm2Model};
use serde_json::{Map, Value};

use crate::checkpoint::{self, Meta};
use crate::config::{Job, RunConfig};
use crate::dpo::DpoObjective;
use crate::grpo::GrpoObjective;
use crate::lm::{LmObjective, Micro, StepOutcome};
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
    /// shard) or GRPO's warm start, then the steps (message: the step's numbers). Validation
    /// losses are printed above it. `None`: silent.
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
    /// Loss-carrying tokens per second over this process's steps.
    pub tokens_per_s: f64,
    /// The metrics records of this process's first and last steps (the objective's fields
    /// included: GRPO's `reward_mean`, ...).
    pub first_record: Option<Value>,
    pub last_record: Option<Value>,
}

/// What one engine step of an objective did.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    pub loss: f64,
    /// Global gradient norm before clipping (of the last update when a step makes several).
    pub grad_norm: f64,
    /// Tokens that carried loss.
    pub tokens: u64,
    /// The objective's own fields of the step's metrics record.
    pub extra: Map<String, Value>,
    /// The objective's part of the progress-bar message (the engine shows loss, lr, |g|, tok/s).
    pub message: String,
}

/// A training objective: what a step computes. The engine owns everything else.
pub trait Objective {
    /// One engine step at `step` (1-based): gradients of the current model and at least one
    /// [`Learner::update`] (or [`Learner::lm_step`]).
    fn step(&mut self, step: u64, model: Lfm2Model, learner: &mut Learner) -> Result<(Lfm2Model, StepReport)>;

    /// Validation loss, where the objective has validation data (`device`: the model's).
    fn evaluate(&mut self, _model: &Lfm2Model, _device: &Device) -> Result<Option<f64>> {
        Ok(None)
    }

    /// The objective's own fields of the validation record just computed by
    /// [`Objective::evaluate`] (DPO's `val_rewards/...`).
    fn val_extra(&mut self) -> Map<String, Value> {
        Map::new()
    }

    /// Records the data position in a checkpoint's meta (called on every MPI rank at the same
    /// step: it may gather the ranks' states).
    fn save_state(&self, _meta: &mut Meta) -> Result<()> {
        Ok(())
    }

    /// Curves beyond `loss.png`.
    fn plot(&self, _run_dir: &Path, _title: &str) -> Result<()> {
        Ok(())
    }
}

/// The optimizer side of a step: AdamW, the replicas' devices, the step's learning rate and
/// the clipping norm.
pub struct Learner {
    pub opt: AdamW,
    /// Autodiff devices, one replica each; the first holds the model.
    pub devices: Vec<Device>,
    pub lr: f64,
    pub grad_clip: f64,
}

impl Learner {
    pub fn new(opt: AdamW, devices: Vec<Device>, grad_clip: f64) -> Self {
        Learner { opt, devices, lr: 0.0, grad_clip }
    }

    /// The model's (autodiff) device.
    pub fn device(&self) -> &Device {
        &self.devices[0]
    }

    /// One update from accumulated gradients ([`apply_gradients`]); returns the norm.
    pub fn update(&mut self, model: Lfm2Model, acc: GradAccumulator) -> Result<(Lfm2Model, f64)> {
        apply_gradients(model, &mut self.opt, acc, self.lr, self.grad_clip)
    }

    /// The causal-LM step over `micros`, spread over the replicas ([`crate::lm::train_step`]).
    pub fn lm_step(&mut self, model: Lfm2Model, micros: &[Micro]) -> Result<(Lfm2Model, StepOutcome)> {
        crate::lm::train_step(model, &mut self.opt, &self.devices, micros, self.lr, self.grad_clip)
    }
}

/// The update every objective ends in: the global gradient norm (non-finite: an error, nothing
/// changes), clipping to `grad_clip` when it is > 0, and AdamW at `lr`. Returns the model and
/// the norm before clipping.
pub fn apply_gradients(
    model: Lfm2Model,
    opt: &mut AdamW,
    mut acc: GradAccumulator,
    lr: f64,
    grad_clip: f64,
) -> Result<(Lfm2Model, f64)> {
    let norm = acc.global_norm();
    if !norm.is_finite() {
        bail!("gradient norm is {norm}");
    }
    if grad_clip > 0.0 && norm > grad_clip {
        acc.scale((grad_clip / (norm + 1e-6)) as f32);
    }
    let model = opt.step(model, &mut acc, lr)?;
    Ok((model, norm))
}

/// A run directory: locked for this process (a second run on the same `--out` fails at once),
/// its checkpoints, and the checkpoint this run resumes from, checked to be this training's.
pub struct RunDir {
    pub path: PathBuf,
    _lock: Option<OutputLock>,
    /// The checkpoint to resume from and its meta.
    pub resume: Option<(PathBuf, Meta)>,
    last_checkpoint: Option<PathBuf>,
}

impl RunDir {
    /// Locks and creates `cfg.run.out` and clears half-written checkpoints. With `resume`
    /// (`latest` or a path) the checkpoint must load (`loads`), and have been written by a run
    /// with the same training config, step count and `world`; without it the directory must
    /// hold no checkpoint yet.
    pub fn open(cfg: &RunConfig, world: usize, resume: Option<&str>, loads: impl Fn(&Path) -> bool) -> Result<Self> {
        let path = cfg.run.out.clone();
        // Under MPI only rank 0 writes the directory (and holds its lock).
        let lock = if crate::dist::writes() {
            let lock = OutputLock::acquire(&path, "lfm train")?;
            std::fs::create_dir_all(&path)
                .with_context(|| format!("{}: cannot create the run directory", path.display()))?;
            checkpoint::clean_partial(&path);
            Some(lock)
        } else {
            None
        };
        let resume = match resume {
            Some(spec) => {
                let dir = checkpoint::resolve(&path, spec)?;
                let meta =
                    checkpoint::read_meta(&dir).map_err(|e| checkpoint::name_previous_good(e, &path, &dir, &loads))?;
                if meta.world != world {
                    bail!(
                        "{}: was written by a run on {} replica(s) (devices × MPI ranks), this one has {world} (the global batch would change)",
                        dir.display(),
                        meta.world
                    );
                }
                if !meta.run_config.same_training(cfg) {
                    bail!("{}: was written by a run with another configuration (job, model, data, batch, optimizer, schedule, adapter, seed or the job's own sections differ)", dir.display());
                }
                checkpoint::check_same_steps(&dir, meta.run_config.run.steps, cfg.run.steps)?;
                Some((dir, meta))
            }
            None => {
                if !checkpoint::complete(&path)?.is_empty() {
                    bail!("{}: already has checkpoints; pass --resume latest, or choose another --out", path.display());
                }
                None
            }
        };
        Ok(RunDir { path, _lock: lock, resume, last_checkpoint: None })
    }

    /// Writes a checkpoint ([`checkpoint::save`]).
    pub fn save(
        &mut self,
        model: &Lfm2Model,
        model_cfg: &Lfm2Config,
        opt: &AdamW,
        meta: &Meta,
        tokenizer_files: &[PathBuf],
        keep_last: usize,
    ) -> Result<PathBuf> {
        let p = checkpoint::save(&self.path, model, model_cfg, opt, meta, tokenizer_files, keep_last)?;
        self.last_checkpoint = Some(p.clone());
        Ok(p)
    }

    /// The newest complete checkpoint, for messages.
    pub fn last_good(&self) -> String {
        match &self.last_checkpoint {
            Some(p) => p.display().to_string(),
            None => checkpoint::complete(&self.path)
                .ok()
                .and_then(|mut v| v.pop())
                .map_or("none yet".into(), |(_, p)| p.display().to_string()),
        }
    }
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
    let mut resolved = cfg.clone();
    resolved.resolve_adapter("the run config")?;
    let cfg = &resolved;
    // Replicas: the local devices of this process times the MPI ranks (one device each).
    let ranks = crate::dist::size();
    if ranks > 1 && devices.len() > 1 {
        bail!("under MPI each rank trains on one device; got {} for this rank", devices.len());
    }
    let world = devices.len() * ranks;
    if matches!(cfg.job, Job::Grpo | Job::Dpo) && world > 1 {
        let job = cfg.job.as_str();
        bail!("job = \"{job}\" runs on one device, got {world} (data-parallel {job} is not implemented)");
    }
    let mut devices = devices.to_vec();
    // bf16 on the CPU: f32 weights, gradients and AdamW moments, bf16 operands with f32
    // accumulation in every linear layer and the head (lfm_model::bf16), for this thread's
    // forward passes (the data-parallel workers take it over, lm::parallel_backward).
    let _autocast = (cfg.run.precision == "bf16" && devices.iter().any(lfm_model::device::is_cpu)).then(|| {
        if !lfm_model::bf16::native() {
            eprintln!(
                "note: this CPU has no AVX512-BF16: bf16 products are emulated (operands rounded to bf16, \
                 multiplied at f32 speed)"
            );
        }
        lfm_model::fused::autocast(lfm_model::fused::MatmulPrecision::Bf16)
    });
    if cfg.run.precision == "bf16" {
        for device in devices.iter_mut().filter(|d| !lfm_model::device::is_cpu(d)) {
            device
                .configure(burn::tensor::FloatDType::BF16)
                .map_err(|e| anyhow!("{device:?}: cannot switch to bf16: {e:?}"))?;
        }
    }
    let ads: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    let ad = ads[0].clone();
    let loads = |d: &Path| checkpoint::load(d, &ad, cfg.optim.clone()).is_ok();
    let mut dir = RunDir::open(cfg, world, opts.resume.as_deref(), loads)?;
    let hidden = ProgressBar::hidden();
    let pb = opts.progress.as_ref().unwrap_or(&hidden);

    // Where the weights start: the resumed run's start, the configured checkpoint, or (GRPO
    // from a preset) the warm-start SFT's final checkpoint.
    let init: Option<PathBuf> = match &dir.resume {
        Some((_, meta)) => meta.init_dir().map(Path::to_path_buf),
        None => match (&cfg.model.init_from, &cfg.warm_start) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(_)) => Some(crate::grpo::warm_start(cfg, &devices[0], opts.progress.clone())?),
            (None, None) => None,
        },
    };
    // A packed base (QLoRA) is differentiable only through the CPU's host kernels.
    if let Some(g) = init.as_deref().filter(|p| lfm_quant::load::is_gguf(p)) {
        if !devices.iter().all(lfm_model::device::is_cpu) {
            bail!(
                "{}: a GGUF (packed) base trains on the CPU only (QLoRA); use its HF checkpoint on other devices",
                g.display()
            );
        }
    }
    // The tokenizer (a pre-training dataset is verified first, against the model's tokenizer).
    let model_dir = dir.resume.as_ref().map(|r| r.0.clone()).or(init.clone());
    // Under MPI rank 0 verifies the dataset first (and caches the result); the others then
    // find the cache.
    let tok_path = if crate::dist::writes() {
        let t = crate::lm::prepare(cfg, &dir.path, model_dir.as_deref(), pb)?;
        crate::dist::barrier();
        t
    } else {
        crate::dist::barrier();
        crate::lm::prepare(cfg, &dir.path, model_dir.as_deref(), pb)?
    };
    let tok = tokenizer::load(&tok_path)?;
    // Checkpoints carry the text codec (tokenizer, its config, the chat template) and the
    // initial model's generation_config.json, so they render and sample as it did.
    let mut tok_files = TextCodec::files(&tok_path);
    let init_dir = init.as_deref().map(|p| if p.is_file() { p.parent().unwrap_or(Path::new(".")) } else { p });
    if let Some(g) = init_dir.map(|d| d.join("generation_config.json")).filter(|p| p.exists()) {
        tok_files.push(g);
    }

    // Model and optimizer: from the checkpoint, the starting directory, or a preset.
    let (model_cfg, mut model, opt, start) = match &dir.resume {
        Some((d, meta)) => {
            let (mc, m, o, _) = checkpoint::load(d, &ad, cfg.optim.clone())
                .map_err(|e| checkpoint::name_previous_good(e, &dir.path, d, loads))?;
            (mc, m, o, meta.step)
        }
        None => {
            let (mc, m) = match (&init, &cfg.model.preset) {
                // An HF directory, or a GGUF file whose weights stay packed (QLoRA: an adapter
                // is required, checked below).
                (Some(d), _) => crate::checkpoint::load_base(d, &ad)?,
                (None, Some(p)) => {
                    let vocab = tok.get_vocab_size(true).div_ceil(64) * 64;
                    let mc = Lfm2Config::preset(p, vocab).map_err(|e| anyhow!("{e}"))?;
                    let mut init = RandomInit::new(&mc, cfg.run.seed).with_std(cfg.model.init_std as f32);
                    let m = Lfm2Model::build(&mc, &ad, &mut init).map_err(|e| anyhow!("{e}"))?;
                    (mc, m)
                }
                (None, None) => unreachable!("validated: a preset or a starting checkpoint"),
            };
            // LoRA: the base is frozen, the branches are the only trained parameters: a given
            // adapter's, or fresh ones (A random, B = 0).
            let m = match &cfg.adapter {
                Some(_) if cfg.model.adapter.is_some() => {
                    let dir = cfg.model.adapter.as_ref().unwrap();
                    lfm_model::lora::load_peft(m, dir, &ad).map_err(|e| anyhow!("{e}"))?.0
                }
                Some(a) => lfm_model::lora::attach(m, &a.spec(), cfg.run.seed, &ad).map_err(|e| anyhow!("{e}"))?,
                None if init.as_deref().is_some_and(lfm_quant::load::is_gguf) => bail!(
                    "{}: a GGUF base is packed and cannot be trained in full; add an [adapter] section (QLoRA)",
                    init.as_ref().unwrap().display()
                ),
                None => m,
            };
            (mc, m, AdamW::new(cfg.optim.clone()), 0)
        }
    };
    tokenizer::check_against_model(&tok, &model_cfg, &tok_path.display().to_string())?;
    let resumed = dir.resume.as_ref().map(|r| r.1.clone());
    let mut objective: Box<dyn Objective> = match cfg.job {
        Job::Pretrain | Job::Sft | Job::Distill => {
            Box::new(LmObjective::new(cfg, &model_cfg, &tok_path, resumed.as_ref(), &devices)?)
        }
        Job::Grpo => {
            let init = init.as_deref().expect("GRPO starts from a checkpoint");
            Box::new(GrpoObjective::new(cfg, &model_cfg, &tok_path, init, &devices[0])?)
        }
        Job::Dpo => {
            let init = init.as_deref().expect("validated: DPO starts from a checkpoint");
            Box::new(DpoObjective::new(cfg, &tok_path, init, &model, &dir.path, &devices[0], &ad)?)
        }
    };
    let writes = crate::dist::writes();
    if writes {
        lfm_model::io::write_atomic(&dir.path.join("config.toml"), cfg.to_toml().as_bytes())?;
    }

    let sched = Schedule::new(&cfg.schedule, cfg.optim.lr, cfg.optim.min_lr_ratio, cfg.run.steps);
    let mut learner = Learner::new(opt, ads.clone(), cfg.optim.grad_clip);
    let mut log = if writes { Some(MetricsLog::open(&dir.path, resumed.as_ref().map(|m| m.step))?) } else { None };
    let mut tokens_seen = resumed.as_ref().map_or(0, |m| m.tokens_seen);
    let elapsed0 = resumed.as_ref().map_or(0.0, |m| m.elapsed_s);
    let mut last_val = resumed.as_ref().and_then(|m| m.last_val_loss);
    let started = Instant::now();
    let end = opts.stop_after.map_or(cfg.run.steps, |s| s.min(cfg.run.steps));
    let title = format!(
        "{} · {} · LFM2 {:.1}M params, {} blocks ({}), hidden {}{}",
        dir.path.file_name().map_or_else(|| dir.path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        cfg.job.as_str(),
        model_cfg.num_params() as f64 / 1e6,
        model_cfg.num_layers(),
        model_cfg.pattern(),
        model_cfg.hidden_size,
        if cfg.adapter.is_some() { " · LoRA" } else { "" }
    );
    pb.set_prefix(if cfg.job == Job::Grpo { "GRPO steps" } else { "steps" });
    pb.set_length(cfg.run.steps);
    pb.set_position(start);
    pb.set_message("");
    pb.reset_eta();

    let (mut last_loss, mut run_tokens) = (f64::NAN, 0u64);
    let (mut first_record, mut last_record) = (None, None);
    let mut step = start;
    while step < end {
        step += 1;
        let t0 = Instant::now();
        learner.lr = sched.lr(step);
        let (m, rep) = objective
            .step(step, model, &mut learner)
            .map_err(|e| anyhow!("step {step}: {e:#}; stopping (last good checkpoint: {})", dir.last_good()))?;
        model = m;
        tokens_seen += rep.tokens;
        run_tokens += rep.tokens;
        let dt = t0.elapsed().as_secs_f64();
        let rec = StepRecord {
            step,
            loss: rep.loss,
            lr: learner.lr,
            grad_norm: rep.grad_norm,
            tokens: tokens_seen,
            tokens_per_s: rep.tokens as f64 / dt.max(1e-9),
            elapsed_s: elapsed0 + started.elapsed().as_secs_f64(),
        };
        let mut line = serde_json::to_value(&rec)?;
        if let Value::Object(o) = &mut line {
            o.extend(rep.extra.clone());
        }
        if let Some(log) = log.as_mut() {
            log.write(&line)?;
        }
        first_record.get_or_insert_with(|| line.clone());
        last_record = Some(line);
        last_loss = rep.loss;
        pb.set_position(step);
        let val = last_val.map_or(String::new(), |v| format!(" val {v:.4}"));
        let own = if rep.message.is_empty() { String::new() } else { format!(" {}", rep.message) };
        pb.set_message(format!(
            "loss {:.4}{val} lr {:.2e} |g| {:.3} {:.0} tok/s{own}",
            rep.loss, learner.lr, rep.grad_norm, rec.tokens_per_s
        ));

        let is_last = step == cfg.run.steps;
        let eval_due = (cfg.run.eval_every > 0 && step % cfg.run.eval_every == 0) || is_last;
        let checkpoint_due = (cfg.run.checkpoint_every > 0 && step % cfg.run.checkpoint_every == 0) || step == end;
        if eval_due && writes {
            if let Some(v) = objective.evaluate(&model, &ad)? {
                let val_ppl = (cfg.job != Job::Dpo).then(|| v.exp());
                let mut line = serde_json::to_value(ValRecord { step, val_loss: v, val_ppl })?;
                if let Value::Object(o) = &mut line {
                    o.extend(objective.val_extra());
                }
                if let Some(log) = log.as_mut() {
                    log.write(&line)?;
                }
                last_val = Some(v);
                if opts.progress.is_some() {
                    // Above the bar on a terminal; a plain line in a log.
                    let ppl = if cfg.job == Job::Dpo { String::new() } else { format!(" (ppl {:.2})", v.exp()) };
                    pb.suspend(|| eprintln!("step {step}: val loss {v:.4}{ppl}"));
                }
            }
        }
        if (eval_due || checkpoint_due) && writes {
            metrics::plot_run(&dir.path, &title)?;
            objective.plot(&dir.path, &title)?;
        }
        if checkpoint_due {
            let mut meta = Meta {
                world,
                format: checkpoint::FORMAT.into(),
                step,
                lr: learner.lr,
                tokens_seen,
                elapsed_s: rec.elapsed_s,
                model_config: model_cfg.to_hf_value(),
                run_config: cfg.clone(),
                loader: None,
                streams: None,
                sft: None,
                last_val_loss: last_val,
                init: init.clone(),
                optimizer_steps: Some(learner.opt.step),
            };
            objective.save_state(&mut meta)?;
            if writes {
                dir.save(&model.valid(), &model_cfg, &learner.opt, &meta, &tok_files, cfg.run.keep_last)?;
            }
        }
    }
    let last_checkpoint = dir
        .last_checkpoint
        .clone()
        .or_else(|| checkpoint::complete(&dir.path).ok().and_then(|mut v| v.pop().map(|x| x.1)));
    Ok(RunSummary {
        steps_done: step,
        last_loss,
        last_val_loss: last_val,
        last_checkpoint,
        tokens_per_s: run_tokens as f64 / started.elapsed().as_secs_f64().max(1e-9),
        first_record,
        last_record,
        run_dir: dir.path.clone(),
    })
}
