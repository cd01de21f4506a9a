//! Run configuration: a TOML file (unknown keys are rejected, naming the key), a few CLI
//! overrides, and the resolved result written into the run directory.
//!
//! Every number is range-checked ([`RunConfig::validate`]); an error names the file, the line
//! of the offending key and the key: `run.toml:14: [optim] eps: must be a finite number > 0,
//! got 0`.
//!
//! One schema for every job (`job = "pretrain" | "sft" | "grpo"`): the shared sections
//! `[model] [data] [optim] [schedule] [batch] [run]` and `[adapter]`, plus the job's own
//! (`[grpo]`, `[rewards]`, `[warm_start]` for GRPO). A section of another job is an error, so a
//! GRPO key in an SFT config is not silently ignored.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Pretrain,
    Sft,
    Grpo,
    Dpo,
    Distill,
}

impl Job {
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Pretrain => "pretrain",
            Job::Sft => "sft",
            Job::Grpo => "grpo",
            Job::Dpo => "dpo",
            Job::Distill => "distill",
        }
    }
}

/// Where the model comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `tiny` (a small LFM2 for CPU runs and tests) or `lfm2-350m`; random init. The vocabulary
    /// size is taken from the tokenizer.
    #[serde(default)]
    pub preset: Option<String>,
    /// An HF checkpoint directory to continue from (config.json + model.safetensors).
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Std of the random init (finite, > 0).
    #[serde(default = "d_init_std")]
    pub init_std: f64,
    /// A PEFT LoRA adapter directory to continue training (on `init_from`, its base): its
    /// `adapter_config.json` sets `[adapter]` (which may be left out, or must agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Pre-training: a dataset directory made by `lfm data build`.
    #[serde(default)]
    pub dataset: Option<PathBuf>,
    /// SFT: a JSONL file of conversations.
    #[serde(default)]
    pub sft_jsonl: Option<PathBuf>,
    /// SFT: held-out conversations for validation loss (optional).
    #[serde(default)]
    pub sft_val_jsonl: Option<PathBuf>,
    /// GRPO: the prompts JSONL (format in data/README.md).
    #[serde(default)]
    pub prompts: Option<PathBuf>,
    /// DPO: preference pairs, JSONL or parquet (`{"prompt", "chosen", "rejected"}`, TRL's shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<PathBuf>,
    /// DPO: held-out pairs for the validation loss and reward metrics (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs_val: Option<PathBuf>,
    /// Tokenizer for SFT and GRPO (pre-training uses the dataset's own copy). Defaults to the
    /// init checkpoint's tokenizer.json.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Tokens per training row (pretrain, SFT; GRPO rows are prompt + completion).
    #[serde(default)]
    pub seq_len: usize,
    /// Pre-training: the sample order as this many interleaved streams of row groups
    /// ([`crate::streams`]); default: the replica count (devices × MPI ranks) when the training
    /// split has that many row groups, else 1. A rank reads only its own row groups when the
    /// replica count divides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<usize>,
    /// SFT: train on every assistant turn (`all_assistant`) or only the last (`last_assistant`).
    #[serde(default)]
    pub train_on: lfm_data::chat::TrainOn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimSection {
    pub lr: f64,
    #[serde(default = "d_min_lr_ratio")]
    pub min_lr_ratio: f64,
    #[serde(default = "d_beta1")]
    pub beta1: f64,
    #[serde(default = "d_beta2")]
    pub beta2: f64,
    #[serde(default = "d_eps")]
    pub eps: f64,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    /// Apply weight decay to norms, biases and embeddings too (off by default).
    #[serde(default)]
    pub decay_norms_and_embeddings: bool,
    /// Global-norm gradient clipping (0 disables).
    #[serde(default = "d_clip")]
    pub grad_clip: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Cosine,
    /// Warmup-stable-decay: constant after warmup, linear decay over the last `decay_fraction`.
    Wsd,
    Constant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    pub kind: ScheduleKind,
    pub warmup_steps: u64,
    /// WSD: fraction of the steps spent decaying.
    #[serde(default = "d_decay_fraction")]
    pub decay_fraction: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSection {
    /// Sequences per micro-batch (one forward/backward). GRPO: completions per backward pass
    /// (0, the default there: all of a step's completions at once).
    #[serde(default)]
    pub micro_batch: usize,
    /// Micro-batches accumulated per optimizer step. Ignored when `tokens_per_step` is set.
    #[serde(default = "d_one")]
    pub grad_accum: usize,
    /// Target tokens per optimizer step; sets `grad_accum = tokens_per_step / (micro_batch × seq_len)`.
    #[serde(default)]
    pub tokens_per_step: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub steps: u64,
    #[serde(default)]
    pub seed: u64,
    /// Run directory.
    pub out: PathBuf,
    /// Validation every k steps (0: only at the end).
    #[serde(default)]
    pub eval_every: u64,
    /// Validation batches per evaluation.
    #[serde(default = "d_eval_batches")]
    pub eval_batches: usize,
    /// Checkpoint every k steps (0: only at the end).
    #[serde(default)]
    pub checkpoint_every: u64,
    /// Checkpoints kept (older ones are deleted after a new one is complete).
    #[serde(default = "d_keep")]
    pub keep_last: usize,
    /// Device string (`cpu`, `wgpu`, `cuda:0`), or a comma-separated list for data-parallel
    /// training (`cuda:0,cuda:1`); the CLI's `--device` overrides it.
    #[serde(default)]
    pub device: Option<String>,
    /// `f32` or `bf16`. On GPU backends bf16 is the device's float type; on the CPU the weights,
    /// gradients and AdamW moments stay f32 and the matrix products of the linear layers and
    /// the head take bf16 operands with f32 accumulation (AVX512-BF16; emulated without it).
    #[serde(default = "d_precision")]
    pub precision: String,
}

/// `[adapter]`: train a LoRA adapter on a frozen base instead of every weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterSection {
    /// `"lora"` (the only kind so far).
    pub kind: String,
    #[serde(default = "d_lora_r")]
    pub r: usize,
    #[serde(default = "d_lora_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub dropout: f64,
    /// PEFT `target_modules`: module names or path suffixes (default: every linear layer
    /// of the blocks, `lfm_model::lora::DEFAULT_TARGETS`).
    #[serde(default = "d_lora_targets")]
    pub targets: Vec<String>,
    /// rsLoRA scaling, `alpha / sqrt(r)`.
    #[serde(default)]
    pub use_rslora: bool,
}

impl AdapterSection {
    pub fn spec(&self) -> lfm_model::lora::LoraSpec {
        lfm_model::lora::LoraSpec {
            r: self.r,
            alpha: self.alpha,
            dropout: self.dropout,
            targets: self.targets.clone(),
            use_rslora: self.use_rslora,
        }
    }
}

impl Default for BatchSection {
    fn default() -> Self {
        BatchSection { micro_batch: 0, grad_accum: 1, tokens_per_step: None }
    }
}

fn d_lora_r() -> usize {
    16
}
fn d_lora_alpha() -> f64 {
    32.0
}
fn d_lora_targets() -> Vec<String> {
    lfm_model::lora::DEFAULT_TARGETS.iter().map(|s| s.to_string()).collect()
}

/// `[adapter]` checks.
pub(crate) fn check_adapter(o: &Origin, a: &AdapterSection) -> Result<()> {
    if a.kind != "lora" {
        return Err(o.err("adapter", "kind", format!("{:?} is not supported (only \"lora\")", a.kind)));
    }
    o.check("adapter", "r", a.r as f64, Range::AtLeast(1.0))?;
    o.check("adapter", "alpha", a.alpha, Range::Positive)?;
    if !(0.0..1.0).contains(&a.dropout) {
        return Err(o.err("adapter", "dropout", format!("must be in [0, 1), got {}", a.dropout)));
    }
    if a.targets.is_empty() {
        return Err(o.err("adapter", "targets", "is empty"));
    }
    Ok(())
}

/// A whole run configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub job: Job,
    pub model: ModelSection,
    pub data: DataSection,
    pub optim: OptimSection,
    pub schedule: ScheduleSection,
    #[serde(default)]
    pub batch: BatchSection,
    pub run: RunSection,
    /// Train a LoRA adapter on the frozen model instead of every weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterSection>,
    /// GRPO: sampling and loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpo: Option<crate::grpo::GrpoSection>,
    /// GRPO: reward name → weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewards: Option<BTreeMap<String, f64>>,
    /// GRPO from a preset: a short SFT run first, into `OUT/warm_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<crate::grpo::WarmStart>,
    /// DPO: the preference loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<crate::dpo::DpoSection>,
    /// Distillation: the teacher and the top-K KL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<crate::distill::DistillSection>,
}

fn d_init_std() -> f64 {
    0.02
}
fn d_min_lr_ratio() -> f64 {
    0.1
}
fn d_beta1() -> f64 {
    0.9
}
fn d_beta2() -> f64 {
    0.95
}
fn d_eps() -> f64 {
    1e-8
}
fn d_wd() -> f64 {
    0.1
}
fn d_clip() -> f64 {
    1.0
}
fn d_decay_fraction() -> f64 {
    0.2
}
fn d_one() -> usize {
    1
}
fn d_eval_batches() -> usize {
    8
}
fn d_keep() -> usize {
    3
}
fn d_precision() -> String {
    "f32".into()
}

/// CLI overrides of the hot knobs.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub steps: Option<u64>,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    pub device: Option<String>,
    /// Start from this HF checkpoint directory instead of the config's model source.
    pub init_from: Option<PathBuf>,
    /// Continue training this PEFT adapter (`[model] adapter`).
    pub adapter: Option<PathBuf>,
}

impl RunConfig {
    /// Parses TOML; an unknown key is an error naming it. Relative paths are resolved against
    /// the current directory (not the config file), as in every `lfm` command.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: RunConfig = parse_toml(text, origin)?;
        cfg.validate_at(&Origin::with_text(origin, text))?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn apply(&mut self, o: &Overrides) {
        if let Some(s) = o.steps {
            self.run.steps = s;
        }
        if let Some(p) = &o.out {
            self.run.out = p.clone();
        }
        if let Some(s) = o.seed {
            self.run.seed = s;
        }
        if let Some(d) = &o.device {
            self.run.device = Some(d.clone());
        }
        if let Some(p) = &o.init_from {
            self.model.init_from = Some(p.clone());
            self.model.preset = None;
            // A given starting model needs no warm start.
            self.warm_start = None;
        }
        if let Some(p) = &o.adapter {
            self.model.adapter = Some(p.clone());
        }
    }

    /// Range and consistency checks; errors name `origin` and the key (no line: see
    /// [`RunConfig::from_toml`], which checks with the file's text).
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.validate_at(&Origin::new(origin))
    }

    fn validate_at(&self, o: &Origin) -> Result<()> {
        let m = &self.model;
        if let Some(p) = &m.preset {
            if !lfm_model::Lfm2Config::PRESETS.contains(&p.as_str()) {
                let known = lfm_model::Lfm2Config::PRESETS.join(", ");
                return Err(o.err("model", "preset", format!("{p:?} is not one of {known}")));
            }
        }
        o.check("model", "init_std", m.init_std, Range::Positive)?;
        if m.adapter.is_some() && m.init_from.is_none() {
            return Err(o.err("model", "adapter", "continues an adapter on its base: set [model] init_from too"));
        }
        if self.job == Job::Grpo {
            self.validate_grpo(o)?;
        } else {
            if m.preset.is_some() == m.init_from.is_some() {
                return Err(o.err("model", "", "needs exactly one of `preset` or `init_from`"));
            }
            for (section, present) in [
                ("grpo", self.grpo.is_some()),
                ("rewards", self.rewards.is_some()),
                ("warm_start", self.warm_start.is_some()),
            ] {
                if present {
                    let why = format!("is for job = \"grpo\", this config has job = {:?}", self.job.as_str());
                    return Err(o.err(section, "", why));
                }
            }
            if self.data.prompts.is_some() {
                return Err(o.err("data", "prompts", "is for job = \"grpo\" (SFT reads [data] sft_jsonl)"));
            }
            if self.job == Job::Dpo {
                self.validate_dpo(o)?;
            } else {
                for (key, present) in
                    [("pairs", self.data.pairs.is_some()), ("pairs_val", self.data.pairs_val.is_some())]
                {
                    if present {
                        return Err(o.err(
                            "data",
                            key,
                            format!("is for job = \"dpo\", this config has job = {:?}", self.job.as_str()),
                        ));
                    }
                }
                if self.dpo.is_some() {
                    let why = format!("is for job = \"dpo\", this config has job = {:?}", self.job.as_str());
                    return Err(o.err("dpo", "", why));
                }
            }
            if self.job == Job::Distill {
                let Some(d) = &self.distill else {
                    return Err(o.err("distill", "", "missing: job = \"distill\" needs [distill] teacher"));
                };
                o.check("distill", "top_k", d.top_k as f64, Range::AtLeast(1.0))?;
                o.check("distill", "temperature", d.temperature, Range::Positive)?;
                o.check("distill", "alpha", d.alpha, Range::Fraction)?;
                if self.data.dataset.is_some() == self.data.sft_jsonl.is_some() {
                    return Err(o.err(
                        "data",
                        "",
                        "distill needs exactly one of `dataset` (pre-training) or `sft_jsonl`",
                    ));
                }
            } else if self.distill.is_some() {
                let why = format!("is for job = \"distill\", this config has job = {:?}", self.job.as_str());
                return Err(o.err("distill", "", why));
            }
            match self.job {
                Job::Pretrain if self.data.dataset.is_none() => {
                    return Err(o.err("data", "dataset", "pretrain needs it"))
                }
                Job::Sft if self.data.sft_jsonl.is_none() => return Err(o.err("data", "sft_jsonl", "sft needs it")),
                Job::Sft if self.run.eval_every > 0 && self.data.sft_val_jsonl.is_none() => {
                    let why = format!("[run] eval_every = {} needs validation conversations", self.run.eval_every);
                    return Err(o.err("data", "sft_val_jsonl", format!("missing: {why} (or set eval_every = 0)")));
                }
                _ => {}
            }
            o.check("data", "seq_len", self.data.seq_len as f64, Range::AtLeast(2.0))?;
            if self.batch.micro_batch == 0 {
                return Err(o.err("batch", "micro_batch", "missing or 0: sequences per micro-batch, at least 1"));
            }
            if self.adapter.is_some() && m.init_from.is_none() {
                return Err(o.err("adapter", "", "an adapter trains on a base checkpoint: set [model] init_from"));
            }
        }
        o.check("batch", "grad_accum", self.batch.grad_accum as f64, Range::AtLeast(1.0))?;
        if let Some(t) = self.batch.tokens_per_step {
            o.check("batch", "tokens_per_step", t as f64, Range::AtLeast(1.0))?;
        }
        check_optim(o, &self.optim)?;
        check_schedule(o, &self.schedule)?;
        o.check("run", "steps", self.run.steps as f64, Range::AtLeast(1.0))?;
        o.check("run", "keep_last", self.run.keep_last as f64, Range::AtLeast(1.0))?;
        o.check("run", "eval_batches", self.run.eval_batches as f64, Range::AtLeast(1.0))?;
        if !["f32", "bf16"].contains(&self.run.precision.as_str()) {
            return Err(o.err("run", "precision", format!("must be f32 or bf16, got {:?}", self.run.precision)));
        }
        if let Some(a) = &self.adapter {
            check_adapter(o, a)?;
        }
        Ok(())
    }

    /// DPO's own section and data.
    fn validate_dpo(&self, o: &Origin) -> Result<()> {
        if self.model.init_from.is_none() {
            return Err(o.err(
                "model",
                "init_from",
                "dpo starts from a trained checkpoint (the policy and its reference)",
            ));
        }
        if self.data.pairs.is_none() {
            return Err(o.err("data", "pairs", "dpo needs it (a JSONL of preference pairs)"));
        }
        for (key, present) in [("dataset", self.data.dataset.is_some()), ("sft_jsonl", self.data.sft_jsonl.is_some())] {
            if present {
                return Err(o.err("data", key, "is not used by job = \"dpo\" (it reads [data] pairs)"));
            }
        }
        if self.run.eval_every > 0 && self.data.pairs_val.is_none() {
            let why = format!("[run] eval_every = {} needs validation pairs", self.run.eval_every);
            return Err(o.err("data", "pairs_val", format!("missing: {why} (or set eval_every = 0)")));
        }
        if let Some(d) = &self.dpo {
            o.check("dpo", "beta", d.beta, Range::Positive)?;
            if !(0.0..0.5).contains(&d.label_smoothing) {
                return Err(o.err("dpo", "label_smoothing", format!("must be in [0, 0.5), got {}", d.label_smoothing)));
            }
        }
        Ok(())
    }

    /// GRPO's own sections and what it needs of the shared ones.
    fn validate_grpo(&self, o: &Origin) -> Result<()> {
        let m = &self.model;
        match (&m.init_from, &m.preset, &self.warm_start) {
            (Some(_), None, _) => {}
            (None, Some(_), Some(_)) => {}
            (None, Some(_), None) => return Err(o.err("model", "preset", "needs a [warm_start] SFT section")),
            _ => return Err(o.err("model", "", "needs exactly one of `init_from` or `preset` (with [warm_start])")),
        }
        if m.preset.is_some() && self.data.tokenizer.is_none() {
            return Err(o.err("data", "tokenizer", "a preset model needs it"));
        }
        if self.data.prompts.is_none() {
            return Err(o.err("data", "prompts", "grpo needs it (a prompts JSONL)"));
        }
        for (key, present) in [
            ("dataset", self.data.dataset.is_some()),
            ("sft_jsonl", self.data.sft_jsonl.is_some()),
            ("sft_val_jsonl", self.data.sft_val_jsonl.is_some()),
        ] {
            if present {
                return Err(o.err("data", key, "is not used by job = \"grpo\" (it reads [data] prompts)"));
            }
        }
        if let Some(w) = &self.warm_start {
            let numbers = |section: &str, st: &crate::grpo::WarmStage| -> Result<()> {
                o.check(section, "steps", st.steps as f64, Range::AtLeast(1.0))?;
                o.check(section, "lr", st.lr, Range::Positive)?;
                o.check(section, "micro_batch", st.micro_batch as f64, Range::AtLeast(1.0))?;
                o.check(section, "seq_len", st.seq_len as f64, Range::AtLeast(2.0))
            };
            numbers("warm_start", &w.last_stage())?;
            let mut names = std::collections::HashSet::new();
            for st in &w.stages {
                let ok = !st.name.is_empty()
                    && st.name != "checkpoints"
                    && st.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    let why = "must be a folder name of letters, digits, '-' or '_' (not \"checkpoints\")";
                    return Err(o.err("warm_start.stages", "name", format!("{why}, got {:?}", st.name)));
                }
                if !names.insert(st.name.as_str()) {
                    return Err(o.err("warm_start.stages", "name", format!("{:?} is used twice", st.name)));
                }
                numbers("warm_start.stages", st)?;
            }
        }
        let Some(g) = &self.grpo else {
            return Err(o.err("grpo", "", "missing (group_size, prompts_per_step, max_new_tokens, ...)"));
        };
        if g.group_size < 2 {
            let why = "must be at least 2 (advantages compare completions of one prompt)";
            return Err(o.err("grpo", "group_size", format!("{why}, got {}", g.group_size)));
        }
        o.check("grpo", "prompts_per_step", g.prompts_per_step as f64, Range::AtLeast(1.0))?;
        o.check("grpo", "max_new_tokens", g.max_new_tokens as f64, Range::AtLeast(1.0))?;
        o.check("grpo", "temperature", g.temperature, Range::Positive)?;
        o.check("grpo", "top_p", g.top_p, Range::Fraction)?;
        o.check("grpo", "epsilon", g.epsilon, Range::Open01)?;
        if let Some(h) = g.epsilon_high {
            o.check("grpo", "epsilon_high", h, Range::Positive)?;
        }
        o.check("grpo", "beta", g.beta, Range::AtLeast(0.0))?;
        o.check("grpo", "num_iterations", g.num_iterations as f64, Range::AtLeast(1.0))?;
        o.check("grpo", "adv_eps", g.adv_eps, Range::Positive)?;
        o.check("grpo", "max_sampling_rounds", g.max_sampling_rounds as f64, Range::AtLeast(1.0))?;
        if let Some(e) = &g.env {
            crate::env::lookup(e).map_err(|err| o.err("grpo", "env", err))?;
            o.check("grpo", "max_tool_turns", g.max_tool_turns as f64, Range::AtLeast(1.0))?;
        }
        let known = || crate::rewards::REGISTRY.iter().map(|r| r.0).collect::<Vec<_>>().join(", ");
        match &self.rewards {
            None => return Err(o.err("rewards", "", format!("missing (name = weight; known: {})", known()))),
            Some(r) if r.is_empty() => {
                return Err(o.err("rewards", "", format!("is empty (name = weight; known: {})", known())))
            }
            Some(r) => {
                for (name, w) in r {
                    crate::rewards::lookup(name).map_err(|e| o.err("rewards", name, e))?;
                    o.check("rewards", name, *w, Range::Finite)?;
                    if name == "tool_answer" && g.env.is_none() {
                        let why = "scores the answer after tool results: set [grpo] env (e.g. \"toy_tools\")";
                        return Err(o.err("rewards", name, why));
                    }
                }
            }
        }
        if self.batch.tokens_per_step.is_some() || self.batch.grad_accum != 1 {
            let why = "GRPO's batch is [grpo] prompts_per_step × group_size; [batch] micro_batch splits its backward";
            return Err(o.err("batch", "", why));
        }
        Ok(())
    }

    /// With `[model] adapter`: `[adapter]` from the adapter's `adapter_config.json` (an
    /// `[adapter]` section in the file must agree on kind, r, alpha, targets and rsLoRA; its
    /// dropout wins). Called before a run starts, so the resolved config is what checkpoints
    /// record and resume compares.
    pub fn resolve_adapter(&mut self, origin: &str) -> Result<()> {
        let Some(dir) = &self.model.adapter else { return Ok(()) };
        let (spec, _) = lfm_model::lora::read_config(dir).map_err(|e| anyhow!("{e}"))?;
        let from_file = AdapterSection {
            kind: "lora".into(),
            r: spec.r,
            alpha: spec.alpha,
            dropout: spec.dropout,
            targets: spec.targets.clone(),
            use_rslora: spec.use_rslora,
        };
        match &self.adapter {
            None => self.adapter = Some(from_file),
            Some(a) => {
                let same = a.kind == "lora"
                    && a.r == spec.r
                    && a.alpha == spec.alpha
                    && a.targets == spec.targets
                    && a.use_rslora == spec.use_rslora;
                if !same {
                    bail!(
                        "{origin}: [adapter] (r = {}, alpha = {}, targets {:?}) disagrees with {} (r = {}, alpha = {}, targets {:?}); leave [adapter] out to continue the adapter as it is",
                        a.r,
                        a.alpha,
                        a.targets,
                        dir.join("adapter_config.json").display(),
                        spec.r,
                        spec.alpha,
                        spec.targets
                    );
                }
            }
        }
        Ok(())
    }

    /// Everything that decides the numbers, for the resume check: the whole config but the
    /// run directory, the device, the step count (checked on its own, with a clearer message)
    /// and when to evaluate or checkpoint.
    pub fn same_training(&self, other: &RunConfig) -> bool {
        let strip = |c: &RunConfig| {
            let mut c = c.clone();
            c.run = RunSection { seed: c.run.seed, precision: c.run.precision.clone(), ..other.run.clone() };
            c
        };
        strip(self) == strip(other)
    }

    /// Micro-batches per optimizer step (single device).
    pub fn accum(&self) -> usize {
        self.accum_per_device(1)
    }

    /// Micro-batches each of `world` data-parallel replicas runs per optimizer step: with
    /// `tokens_per_step` the global batch stays that size whatever the device count; with
    /// `grad_accum` the global batch is `micro_batch × grad_accum × world` (as in PyTorch DDP).
    pub fn accum_per_device(&self, world: usize) -> usize {
        match self.batch.tokens_per_step {
            Some(t) => (t / (self.batch.micro_batch * self.data.seq_len * world.max(1))).max(1),
            None => self.batch.grad_accum,
        }
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a RunConfig serializes")
    }
}

/// `[optim]` checks.
pub(crate) fn check_optim(o: &Origin, s: &OptimSection) -> Result<()> {
    o.check("optim", "lr", s.lr, Range::Positive)?;
    o.check("optim", "min_lr_ratio", s.min_lr_ratio, Range::Fraction)?;
    o.check("optim", "beta1", s.beta1, Range::Beta)?;
    o.check("optim", "beta2", s.beta2, Range::Beta)?;
    o.check("optim", "eps", s.eps, Range::Positive)?;
    o.check("optim", "weight_decay", s.weight_decay, Range::AtLeast(0.0))?;
    o.check("optim", "grad_clip", s.grad_clip, Range::AtLeast(0.0))
}

/// `[schedule]` checks.
pub(crate) fn check_schedule(o: &Origin, s: &ScheduleSection) -> Result<()> {
    o.check("schedule", "decay_fraction", s.decay_fraction, Range::Fraction)
}

/// Keys of earlier lfm-rs configs and their current names.
const RENAMED: [(&str, &str); 2] = [("clip_eps", "epsilon"), ("ppo_epochs", "num_iterations")];

/// Parses a TOML config; a syntax error, an unknown key or a wrong type is one line naming
/// `origin` and the line.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let mut msg = e.message().replace('\n', " ");
        for (old, new) in RENAMED {
            if msg.starts_with(&format!("unknown field `{old}`")) {
                msg = format!("`{old}` is now `{new}` (TRL's name)");
            }
        }
        match e.span() {
            Some(s) => anyhow!("{origin}:{}: {msg}", line_of(text, s.start)),
            None => anyhow!("{origin}: {msg}"),
        }
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The allowed range of a number.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Range {
    /// Finite and > 0.
    Positive,
    /// Finite and >= the bound.
    AtLeast(f64),
    /// In [0, 1].
    Fraction,
    /// In [0, 1) (Adam's betas).
    Beta,
    /// In (0, 1) (a clip range).
    Open01,
    /// Any finite number.
    Finite,
}

impl Range {
    fn allows(self, v: f64) -> bool {
        v.is_finite()
            && match self {
                Range::Positive => v > 0.0,
                Range::AtLeast(lo) => v >= lo,
                Range::Fraction => (0.0..=1.0).contains(&v),
                Range::Beta => (0.0..1.0).contains(&v),
                Range::Open01 => v > 0.0 && v < 1.0,
                Range::Finite => true,
            }
    }

    fn describe(self) -> String {
        match self {
            Range::Positive => "must be a finite number > 0".into(),
            Range::AtLeast(lo) if lo.fract() == 0.0 && lo >= 1.0 => format!("must be at least {lo}"),
            Range::AtLeast(lo) => format!("must be a finite number >= {lo}"),
            Range::Fraction => "must be in [0, 1]".into(),
            Range::Beta => "must be in [0, 1)".into(),
            Range::Open01 => "must be in (0, 1)".into(),
            Range::Finite => "must be a finite number".into(),
        }
    }
}

/// A config's origin for validation errors: the file name and, when the text is at hand, the
/// line of every key (from the TOML parser's spans), so that an error reads
/// `FILE:LINE: [section] key: problem`.
pub(crate) struct Origin {
    name: String,
    /// `section.key` (or `key` at the top level, `section` for a table header) → line.
    lines: HashMap<String, usize>,
}

impl Origin {
    pub(crate) fn new(name: &str) -> Self {
        Origin { name: name.to_string(), lines: HashMap::new() }
    }

    pub(crate) fn with_text(name: &str, text: &str) -> Self {
        let mut lines = HashMap::new();
        if let Ok(doc) = toml::de::DeTable::parse(text) {
            for (k, v) in doc.get_ref().iter() {
                let section = k.get_ref().to_string();
                lines.insert(section.clone(), line_of(text, k.span().start));
                if let toml::de::DeValue::Table(t) = v.get_ref() {
                    for (k2, _) in t.iter() {
                        lines.insert(format!("{section}.{}", k2.get_ref()), line_of(text, k2.span().start));
                    }
                }
            }
        }
        Origin { name: name.to_string(), lines }
    }

    /// `FILE:LINE: [section] key: problem`; the line is the key's, else its section's, else
    /// left out (a key not in the file: a default or a command-line override).
    pub(crate) fn err(&self, section: &str, key: &str, problem: impl Display) -> anyhow::Error {
        let path = match (section, key) {
            ("", k) => k.to_string(),
            (s, "") => s.to_string(),
            (s, k) => format!("{s}.{k}"),
        };
        let line = self.lines.get(&path).or_else(|| self.lines.get(section));
        let at = line.map_or(String::new(), |l| format!(":{l}"));
        let what = match (section, key) {
            ("", k) => k.to_string(),
            (s, "") => format!("[{s}]"),
            (s, k) => format!("[{s}] {k}"),
        };
        anyhow!("{}{at}: {what}: {problem}", self.name)
    }

    /// Checks `value` (the key's value, as f64) against `range`.
    pub(crate) fn check(&self, section: &str, key: &str, value: f64, range: Range) -> Result<()> {
        if range.allows(value) {
            return Ok(());
        }
        Err(self.err(section, key, format!("{}, got {value}", range.describe())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
job = "pretrain"
[model]
preset = "tiny"
[data]
dataset = "runs/data"
seq_len = 64
[optim]
lr = 1e-3
[schedule]
kind = "cosine"
warmup_steps = 10
[batch]
micro_batch = 4
tokens_per_step = 1024
[run]
steps = 100
out = "runs/x"
"#;

    #[test]
    fn parses_with_defaults_and_derives_accumulation() {
        let c = RunConfig::from_toml(OK, "t.toml").unwrap();
        assert_eq!(c.accum(), 4);
        assert_eq!(c.optim.beta2, 0.95);
        assert_eq!(c.run.keep_last, 3);
        // The resolved config round-trips.
        assert_eq!(RunConfig::from_toml(&c.to_toml(), "r").unwrap(), c);
    }

    #[test]
    fn unknown_keys_are_named() {
        let bad = OK.replace("lr = 1e-3", "lr = 1e-3\nlearning_rate = 2");
        let e = RunConfig::from_toml(&bad, "t.toml").unwrap_err().to_string();
        let line = 1 + bad.lines().position(|l| l.starts_with("learning_rate")).unwrap();
        assert!(e.starts_with(&format!("t.toml:{line}: ")) && e.contains("learning_rate"), "{e}");
        let bad = OK.replace("[run]", "[runn]");
        let e = RunConfig::from_toml(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains("runn"), "{e}");
    }

    #[test]
    fn out_of_range_numbers_are_named() {
        for (from, to, key) in [
            ("lr = 1e-3", "lr = 1e-3\neps = 0.0", "eps"),
            ("lr = 1e-3", "lr = 1e-3\neps = -1e-8", "eps"),
            ("lr = 1e-3", "lr = 1e-3\nweight_decay = -0.1", "weight_decay"),
            ("lr = 1e-3", "lr = 1e-3\nweight_decay = nan", "weight_decay"),
            ("lr = 1e-3", "lr = 1e-3\ngrad_clip = -1.0", "grad_clip"),
            ("lr = 1e-3", "lr = 1e-3\ngrad_clip = inf", "grad_clip"),
            ("lr = 1e-3", "lr = nan", "lr"),
            ("warmup_steps = 10", "warmup_steps = 10\ndecay_fraction = 1.5", "decay_fraction"),
            ("tokens_per_step = 1024", "tokens_per_step = 0", "tokens_per_step"),
            ("steps = 100", "steps = 0", "steps"),
            ("preset = \"tiny\"", "preset = \"tiny\"\ninit_std = nan", "init_std"),
            ("preset = \"tiny\"", "preset = \"tiny\"\ninit_std = -0.02", "init_std"),
            ("preset = \"tiny\"", "preset = \"tiny\"\ninit_std = 0.0", "init_std"),
            ("lr = 1e-3", "lr = 1e-3\nbeta2 = 1.0", "beta2"),
            ("lr = 1e-3", "lr = 1e-3\nmin_lr_ratio = -0.5", "min_lr_ratio"),
            ("seq_len = 64", "seq_len = 1", "seq_len"),
            ("micro_batch = 4", "micro_batch = 0", "micro_batch"),
            ("out = \"runs/x\"", "out = \"runs/x\"\nkeep_last = 0", "keep_last"),
            ("out = \"runs/x\"", "out = \"runs/x\"\neval_batches = 0", "eval_batches"),
        ] {
            let bad = OK.replace(from, to);
            assert_ne!(bad, OK);
            let e = RunConfig::from_toml(&bad, "t.toml").unwrap_err().to_string();
            // The line of the key, counted here from the text itself.
            let line = 1 + bad.lines().position(|l| l.starts_with(&format!("{key} ="))).expect("key in the text");
            assert!(e.starts_with(&format!("t.toml:{line}: ")) && e.contains(&format!("] {key}: ")), "{to}: {e}");
            assert!(!e.contains('\n'), "{e}");
            // Without the text (after command-line overrides) the key is still named.
            let cfg: RunConfig = toml::from_str(&bad).unwrap();
            let e = cfg.validate("t.toml").unwrap_err().to_string();
            assert!(e.starts_with("t.toml: [") && e.contains(key), "{e}");
        }
        // An override to a bad value is caught by `validate` too.
        let mut cfg = RunConfig::from_toml(OK, "t.toml").unwrap();
        cfg.apply(&Overrides { steps: Some(0), ..Default::default() });
        assert!(cfg.validate("t.toml").unwrap_err().to_string().contains("[run] steps"));
    }

    /// GRPO configs get the same checks on every number, with lines.
    #[test]
    fn grpo_numbers_are_named_with_their_line() {
        let toy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/grpo-toy.toml")).unwrap();
        RunConfig::from_toml(&toy, "g.toml").unwrap();
        for (from, to, key) in [
            ("temperature = 1.0", "temperature = nan", "temperature"),
            ("temperature = 1.0", "temperature = 0.0", "temperature"),
            ("epsilon = 0.2", "epsilon = 1.5", "epsilon"),
            ("epsilon = 0.2", "epsilon = 0.2\nepsilon_high = -0.3", "epsilon_high"),
            ("beta = 0.0", "beta = -0.1", "beta"),
            ("beta = 0.0", "beta = inf", "beta"),
            ("num_iterations = 2", "num_iterations = 0", "num_iterations"),
            ("num_iterations = 2", "num_iterations = 2\nadv_eps = 0.0", "adv_eps"),
            ("num_iterations = 2", "num_iterations = 2\ntop_p = 1.5", "top_p"),
            ("group_size = 8", "group_size = 1", "group_size"),
            ("prompts_per_step = 4", "prompts_per_step = 0", "prompts_per_step"),
            ("max_new_tokens = 24", "max_new_tokens = 0", "max_new_tokens"),
            ("tool_call = 1.0", "tool_call = nan", "tool_call"),
            ("weight_decay = 0.0", "weight_decay = -1.0", "weight_decay"),
            ("grad_clip = 1.0", "grad_clip = nan", "grad_clip"),
            ("lr = 1e-3", "lr = 0.0", "lr"),
            ("lr = 1e-3", "lr = 1e-3\neps = 0.0", "eps"),
            ("warmup_steps = 2", "warmup_steps = 2\ndecay_fraction = 2.0", "decay_fraction"),
            ("lr = 3e-3", "lr = -3e-3", "lr"),
            ("seq_len = 192", "seq_len = 0", "seq_len"),
            ("micro_batch = 16", "micro_batch = 0", "micro_batch"),
            ("steps = 30\nlr", "steps = 0\nlr", "steps"),
            ("checkpoint_every = 10", "checkpoint_every = 10\nkeep_last = 0", "keep_last"),
        ] {
            assert_eq!(toy.matches(from).count(), 1, "{from}");
            let bad = toy.replace(from, to);
            let e = RunConfig::from_toml(&bad, "g.toml").unwrap_err().to_string();
            let line = 1 + bad.lines().position(|l| l.starts_with(&format!("{key} =")) && to.contains(l)).expect("key");
            assert!(e.starts_with(&format!("g.toml:{line}: ")) && e.contains(&format!(" {key}: ")), "{to}: {e}");
        }
    }

    #[test]
    fn inconsistent_sections_are_refused() {
        let bad = OK.replace("preset = \"tiny\"", "preset = \"tiny\"\ninit_from = \"x\"");
        assert!(RunConfig::from_toml(&bad, "t").unwrap_err().to_string().contains("exactly one"));
        let bad = OK.replace("job = \"pretrain\"", "job = \"sft\"");
        assert!(RunConfig::from_toml(&bad, "t").unwrap_err().to_string().contains("sft_jsonl"));
        // A section of another job is refused with its line, not ignored.
        let bad = format!("{OK}[rewards]\ntool_call = 1.0\n");
        let line = 1 + bad.lines().position(|l| l == "[rewards]").unwrap();
        let e = RunConfig::from_toml(&bad, "t").unwrap_err().to_string();
        assert!(e.starts_with(&format!("t:{line}: [rewards]: is for job = \"grpo\"")), "{e}");
        // And GRPO refuses what only pretrain / SFT read.
        let toy = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/grpo-toy.toml")).unwrap();
        let bad = toy.replace("[data]\n", "[data]\nsft_jsonl = \"x.jsonl\"\n");
        let e = RunConfig::from_toml(&bad, "g").unwrap_err().to_string();
        assert!(e.contains("[data] sft_jsonl: is not used by job = \"grpo\""), "{e}");
        let bad = toy.replace("[grpo]", "[batch]\ngrad_accum = 2\n\n[grpo]");
        assert!(RunConfig::from_toml(&bad, "g").unwrap_err().to_string().contains("[batch]"));
        // Knob values TRL does not have are refused with the line; old key names with the new.
        let bad = toy.replace("loss_type = \"dapo\"", "loss_type = \"ppo\"");
        let line = 1 + bad.lines().position(|l| l.starts_with("loss_type")).unwrap();
        let e = RunConfig::from_toml(&bad, "g").unwrap_err().to_string();
        assert!(e.starts_with(&format!("g:{line}: ")) && e.contains("dr_grpo"), "{e}");
        let bad = toy.replace("num_iterations = 2", "ppo_epochs = 2");
        let e = RunConfig::from_toml(&bad, "g").unwrap_err().to_string();
        assert!(e.contains("`ppo_epochs` is now `num_iterations`"), "{e}");
    }
}
