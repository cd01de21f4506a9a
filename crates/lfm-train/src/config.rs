//! Run configuration: a TOML file (unknown keys are rejected, naming the key), a few CLI
//! overrides, and the resolved result written into the run directory.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Pretrain,
    Sft,
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
    /// Std of the random init.
    #[serde(default = "d_init_std")]
    pub init_std: f64,
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
    /// Tokenizer for SFT (pre-training uses the dataset's own copy). Defaults to the init
    /// checkpoint's tokenizer.json.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    pub seq_len: usize,
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
    /// Sequences per micro-batch (one forward/backward).
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
    /// Precision on GPU backends: `f32` or `bf16` (CPU runs are f32).
    #[serde(default = "d_precision")]
    pub precision: String,
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
    pub batch: BatchSection,
    pub run: RunSection,
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
}

impl RunConfig {
    /// Parses TOML; an unknown key is an error naming it. Relative paths are resolved against
    /// the current directory (not the config file), as in every `lfm` command.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: RunConfig = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let at = e.span().map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            });
            anyhow!("{origin}: {}{}", msg.replace('\n', " "), at.unwrap_or_default())
        })?;
        cfg.validate(origin)?;
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
        }
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let m = &self.model;
        if m.preset.is_some() == m.init_from.is_some() {
            bail!("{origin}: [model] needs exactly one of `preset` or `init_from`");
        }
        if let Some(p) = &m.preset {
            if !lfm_model::Lfm2Config::PRESETS.contains(&p.as_str()) {
                bail!("{origin}: [model] preset {p:?} is not one of {}", lfm_model::Lfm2Config::PRESETS.join(", "));
            }
        }
        match self.job {
            Job::Pretrain if self.data.dataset.is_none() => {
                bail!("{origin}: pretrain needs [data] dataset")
            }
            Job::Sft if self.data.sft_jsonl.is_none() => {
                bail!("{origin}: sft needs [data] sft_jsonl")
            }
            _ => {}
        }
        if self.data.seq_len < 2 {
            bail!("{origin}: [data] seq_len must be at least 2");
        }
        if self.batch.micro_batch == 0 || self.batch.grad_accum == 0 {
            bail!("{origin}: [batch] micro_batch and grad_accum must be positive");
        }
        let lr_ok = self.optim.lr.is_finite() && self.optim.lr > 0.0;
        if !lr_ok || !(0.0..=1.0).contains(&self.optim.min_lr_ratio) {
            bail!("{origin}: [optim] lr must be > 0 and min_lr_ratio in [0, 1]");
        }
        if !(0.0..1.0).contains(&self.optim.beta1) || !(0.0..1.0).contains(&self.optim.beta2) {
            bail!("{origin}: [optim] beta1 and beta2 must be in [0, 1)");
        }
        let finite_at_least = |v: f64, lo: f64| v.is_finite() && v >= lo;
        if !(self.optim.eps.is_finite() && self.optim.eps > 0.0) {
            bail!("{origin}: [optim] eps must be a finite number > 0, got {}", self.optim.eps);
        }
        if !finite_at_least(self.optim.weight_decay, 0.0) {
            bail!("{origin}: [optim] weight_decay must be a finite number >= 0, got {}", self.optim.weight_decay);
        }
        if !finite_at_least(self.optim.grad_clip, 0.0) {
            bail!(
                "{origin}: [optim] grad_clip must be a finite number >= 0 (0 disables), got {}",
                self.optim.grad_clip
            );
        }
        if !(0.0..=1.0).contains(&self.schedule.decay_fraction) {
            bail!("{origin}: [schedule] decay_fraction must be in [0, 1], got {}", self.schedule.decay_fraction);
        }
        if self.batch.tokens_per_step == Some(0) {
            bail!("{origin}: [batch] tokens_per_step must be positive");
        }
        if self.run.steps == 0 {
            bail!("{origin}: [run] steps must be at least 1");
        }
        if self.run.keep_last == 0 {
            bail!("{origin}: [run] keep_last must be at least 1");
        }
        if !["f32", "bf16"].contains(&self.run.precision.as_str()) {
            bail!("{origin}: [run] precision must be f32 or bf16");
        }
        Ok(())
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
        assert!(e.contains("t.toml") && e.contains("learning_rate") && e.contains("line"), "{e}");
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
        ] {
            let bad = OK.replace(from, to);
            assert_ne!(bad, OK);
            let e = RunConfig::from_toml(&bad, "t.toml").unwrap_err().to_string();
            assert!(e.contains("t.toml") && e.contains(key), "{to}: {e}");
        }
    }

    #[test]
    fn inconsistent_sections_are_refused() {
        let bad = OK.replace("preset = \"tiny\"", "preset = \"tiny\"\ninit_from = \"x\"");
        assert!(RunConfig::from_toml(&bad, "t").unwrap_err().to_string().contains("exactly one"));
        let bad = OK.replace("job = \"pretrain\"", "job = \"sft\"");
        assert!(RunConfig::from_toml(&bad, "t").unwrap_err().to_string().contains("sft_jsonl"));
    }
}
