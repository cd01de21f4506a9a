//! Checkpoints: `RUN/checkpoints/step-NNNNNN/` holding the model in HF layout
//! (`config.json`, `model.safetensors`, `generation_config.json`, plus the tokenizer), so `lfm
//! logits`, `lfm generate` and transformers load it directly; `optimizer.safetensors` (AdamW
//! moments and step); `meta.json` (model config, resolved run config, loader state, schedule
//! position, counters); and `DONE`, written last.
//!
//! Everything is written into `checkpoints/.tmp-step-NNNNNN/`, `DONE` last, then the directory
//! is renamed into place. Resume only trusts `step-*` directories with a `DONE` file, so a
//! process killed at any moment leaves either a complete checkpoint or an ignored temp dir.
//! Old checkpoints are retired by renaming them to `.del-*` before deleting, so a half-deleted
//! directory never looks complete either.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::Device;
use lfm_data::loader::LoaderState;
use lfm_data::sft::SftState;
use lfm_model::{Lfm2Config, Lfm2Model};
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::optim::AdamW;

pub const FORMAT: &str = "lfm-train/checkpoint-v1";

/// `meta.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub format: String,
    pub step: u64,
    /// Learning rate of the step that produced this checkpoint.
    pub lr: f64,
    pub tokens_seen: u64,
    pub elapsed_s: f64,
    pub model_config: serde_json::Value,
    pub run_config: RunConfig,
    #[serde(default)]
    pub loader: Option<LoaderState>,
    /// Pre-training read as several streams ([`crate::streams`]): every stream's state (`loader`
    /// holds the one stream's state otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<LoaderState>>,
    #[serde(default)]
    pub sft: Option<SftState>,
    /// Best validation loss so far (if any evaluation ran).
    #[serde(default)]
    pub last_val_loss: Option<f64>,
    /// Data-parallel replicas the run used (the global batch depends on it).
    #[serde(default = "one")]
    pub world: usize,
    /// The checkpoint the run started from (an adapter's base; GRPO's KL reference), when it
    /// did not start from random weights. For GRPO after a warm start this is the warm start's
    /// checkpoint, which the config does not name.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// AdamW updates so far (GRPO makes `num_iterations` per step; absent: one per step).
    #[serde(default)]
    pub optimizer_steps: Option<u64>,
}

impl Meta {
    /// The starting checkpoint: the recorded one, else the config's `init_from`.
    pub fn init_dir(&self) -> Option<&Path> {
        self.init.as_deref().or(self.run_config.model.init_from.as_deref())
    }
}

fn one() -> usize {
    1
}

pub fn root(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

pub fn step_name(step: u64) -> String {
    format!("step-{step:06}")
}

fn sync_file(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.sync_all();
    }
}

/// What an adapter checkpoint records besides the tensors: its spec and the base model.
#[derive(Clone, Debug)]
pub struct AdapterInfo {
    pub spec: lfm_model::lora::LoraSpec,
    pub base: PathBuf,
}

/// Writes a checkpoint for `meta.step` and keeps the newest `keep_last`. A run with an
/// `[adapter]` writes the adapter in PEFT's layout instead of the model.
pub fn save(
    run_dir: &Path,
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    opt: &AdamW,
    meta: &Meta,
    tokenizer_files: &[PathBuf],
    keep_last: usize,
) -> Result<PathBuf> {
    let meta_json = serde_json::to_string_pretty(meta)?;
    let step = meta.step;
    let adapter = meta
        .run_config
        .adapter
        .as_ref()
        .map(|a| AdapterInfo { spec: a.spec(), base: meta.init_dir().map(Path::to_path_buf).unwrap_or_default() });
    let adapter = adapter.as_ref();
    let root = root(run_dir);
    std::fs::create_dir_all(&root).with_context(|| format!("{}: cannot create", root.display()))?;
    let name = step_name(step);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("{}: cannot clear", tmp.display()))?;
    }
    let weights = match adapter {
        Some(a) => {
            lfm_model::lora::save_peft(model, &a.spec, &a.base.display().to_string(), &tmp)
                .map_err(|e| anyhow!("{e}"))?;
            "adapter_model.safetensors"
        }
        None => {
            lfm_model::hf::save_dir(model, cfg, &tmp).map_err(|e| anyhow!("{e}"))?;
            "model.safetensors"
        }
    };
    for f in tokenizer_files {
        if f.exists() {
            let dest = tmp.join(f.file_name().unwrap());
            std::fs::copy(f, &dest).with_context(|| format!("{}: cannot copy into the checkpoint", f.display()))?;
        }
    }
    opt.save(&tmp.join("optimizer.safetensors"))?;
    lfm_model::io::write_atomic(&tmp.join("meta.json"), meta_json.as_bytes()).map_err(|e| anyhow!("{e}"))?;
    for f in [weights, "optimizer.safetensors", "meta.json", "config.json", "adapter_config.json"] {
        sync_file(&tmp.join(f));
    }
    std::fs::write(tmp.join("DONE"), format!("{step}\n"))
        .with_context(|| format!("{}: cannot write DONE", tmp.display()))?;
    sync_file(&tmp.join("DONE"));
    sync_file(&tmp);
    let dest = root.join(&name);
    if dest.exists() {
        retire(&root, &dest)?;
    }
    std::fs::rename(&tmp, &dest).with_context(|| format!("{}: rename failed", dest.display()))?;
    sync_file(&root);
    // Keep the newest `keep_last` complete checkpoints.
    let all = complete(run_dir)?;
    if all.len() > keep_last {
        for (_, old) in &all[..all.len() - keep_last] {
            retire(&root, old)?;
        }
    }
    Ok(dest)
}

fn retire(root: &Path, dir: &Path) -> Result<()> {
    let dead = root.join(format!(".del-{}", dir.file_name().unwrap().to_string_lossy()));
    if dead.exists() {
        let _ = std::fs::remove_dir_all(&dead);
    }
    std::fs::rename(dir, &dead).with_context(|| format!("{}: cannot retire", dir.display()))?;
    std::fs::remove_dir_all(&dead).with_context(|| format!("{}: cannot delete", dead.display()))?;
    Ok(())
}

/// Complete checkpoints (a `step-*` dir with `DONE`), oldest first.
pub fn complete(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let root = root(run_dir);
    if !root.exists() {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root).with_context(|| format!("{}: cannot list", root.display()))? {
        let p = e?.path();
        let Some(n) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(step) = n.strip_prefix("step-").and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if p.join("DONE").exists() {
            out.push((step, p));
        }
    }
    out.sort();
    Ok(out)
}

/// Removes leftovers of interrupted saves (`.tmp-*`, `.del-*`).
pub fn clean_partial(run_dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(root(run_dir)) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".tmp-") || n.starts_with(".del-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `latest` → the newest complete checkpoint of `run_dir`; anything else is a checkpoint path.
pub fn resolve(run_dir: &Path, spec: &str) -> Result<PathBuf> {
    if spec == "latest" {
        return complete(run_dir)?
            .pop()
            .map(|(_, p)| p)
            .ok_or_else(|| anyhow!("{}: no complete checkpoint to resume from", root(run_dir).display()));
    }
    let p = PathBuf::from(spec);
    if !p.join("DONE").exists() {
        bail!("{}: not a complete checkpoint (no DONE marker)", p.display());
    }
    Ok(p)
}

/// The step a checkpoint directory's name says (`step-000042` → 42).
pub fn step_of(dir: &Path) -> Option<u64> {
    dir.file_name()?.to_str()?.strip_prefix("step-")?.parse().ok()
}

/// `e`, an error loading checkpoint `bad` of `run_dir`, with the newest earlier complete
/// checkpoint that `loads` accepts named in it (or a note that none does): a damaged newest
/// checkpoint must not leave the user guessing which one to resume from.
pub fn name_previous_good(
    e: anyhow::Error,
    run_dir: &Path,
    bad: &Path,
    loads: impl Fn(&Path) -> bool,
) -> anyhow::Error {
    let before = step_of(bad).unwrap_or(u64::MAX);
    let good =
        complete(run_dir).unwrap_or_default().into_iter().rev().filter(|(s, _)| *s < before).find(|(_, p)| loads(p));
    match good {
        Some((_, p)) => anyhow!(
            "{e:#}; the previous good checkpoint is {}: resume from it with --resume {}",
            p.display(),
            p.display()
        ),
        None => anyhow!("{e:#}; no earlier checkpoint in {} loads", root(run_dir).display()),
    }
}

/// Refuses a resume that changes `[run] steps`: the learning-rate schedule spans the run's
/// steps, so a resumed run with another count would continue from a different point of a
/// different curve (a cosine would jump up or down at once). Said in the error, with what to do.
pub fn check_same_steps(dir: &Path, saved: u64, now: u64) -> Result<()> {
    if saved != now {
        bail!(
            "{}: was written by a run of {saved} steps, this one asks for {now}: the learning-rate schedule spans [run] steps, so resuming with another count would jump the schedule; resume with steps = {saved} (--stop-after N stops earlier), or start a new run from this checkpoint with --init-from {} --out NEW_DIR",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

/// A starting model: an HF checkpoint directory, or a GGUF file whose quantized weights stay
/// packed (host matrices, differentiable in their input on the CPU: the QLoRA base).
pub fn load_base(path: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model)> {
    lfm_quant::load::load_model(path, device)
}

pub fn read_meta(dir: &Path) -> Result<Meta> {
    let p = dir.join("meta.json");
    let text = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
    let m: Meta = serde_json::from_str(&text).map_err(|e| anyhow!("{}: invalid: {e}", p.display()))?;
    if m.format != FORMAT {
        bail!("{}: format {:?}, expected {FORMAT:?}", p.display(), m.format);
    }
    Ok(m)
}

/// Loads model (on `device`), optimizer and meta.
pub fn load(
    dir: &Path,
    device: &Device,
    opt_cfg: crate::config::OptimSection,
) -> Result<(Lfm2Config, Lfm2Model, AdamW, Meta)> {
    let meta = read_meta(dir)?;
    let (cfg, model) = if dir.join("adapter_config.json").exists() {
        // An adapter checkpoint: the run's base, then the adapter on it.
        let base = meta.init_dir().ok_or_else(|| {
            anyhow!("{}: an adapter checkpoint, but the run names no [model] init_from base", dir.display())
        })?;
        let (cfg, base) = load_base(base, device)?;
        let (model, _) = lfm_model::lora::load_peft(base, dir, device).map_err(|e| anyhow!("{e}"))?;
        (cfg, model)
    } else {
        lfm_model::hf::load_dir(dir, device).map_err(|e| anyhow!("{e}"))?
    };
    let opt = AdamW::load(opt_cfg, &dir.join("optimizer.safetensors"), device)?;
    let expected = meta.optimizer_steps.unwrap_or(meta.step);
    if opt.step != expected {
        bail!("{}: optimizer step {} but meta.json records {expected} updates", dir.display(), opt.step);
    }
    Ok((cfg, model, opt, meta))
}
