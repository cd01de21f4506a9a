//! `lfm convert --model SRC --out DST`: loads a checkpoint and writes it back as an f32 HF
//! checkpoint (e.g. to upcast released bf16 weights before training), copying the
//! tokenizer files. DST appears whole or not at all: it is written as a temporary sibling
//! directory and renamed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use clap::Args;

use crate::progress;

#[derive(Args)]
pub struct ConvertArgs {
    /// Source checkpoint directory.
    #[arg(long)]
    model: PathBuf,
    /// Destination directory (must not exist).
    #[arg(long)]
    out: PathBuf,
}

const SIDE_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "generation_config.json",
];

pub fn run(a: &ConvertArgs, device: &Device) -> Result<()> {
    // One conversion per destination, held until the rename: a second one fails at once.
    let _lock = lfm_model::io::OutputLock::acquire(&a.out, "lfm convert")?;
    if a.out.exists() {
        bail!("{}: already exists", a.out.display());
    }
    let (cfg, model) = progress::loading(&a.model, |p| lfm_quant::load::load_model(p, device))?;
    write_hf_dir(&model, &cfg, &a.model, &a.out)?;
    println!("wrote {} ({} parameters, f32)", a.out.display(), cfg.num_params());
    Ok(())
}

/// Writes `model` as a complete HF checkpoint at `out` (which the caller has locked and found
/// absent), with the tokenizer, template and generation files of `src`: into a temporary
/// sibling directory, renamed into place, so `out` appears whole or not at all.
pub(crate) fn write_hf_dir(
    model: &lfm_model::Lfm2Model,
    cfg: &lfm_model::Lfm2Config,
    src: &Path,
    out: &Path,
) -> Result<()> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    let tmp = lfm_model::io::temp_dir_in(parent, ".lfm-convert-")?;
    // Removed if SIGINT/SIGTERM/SIGHUP stops the write; on an error, when `tmp` is dropped.
    let _cleanup = lfm_model::io::register_temp(tmp.path());
    let pb = progress::spinner(format!("writing {}", out.display()));
    lfm_model::hf::save_dir(model, cfg, tmp.path())?;
    for f in SIDE_FILES {
        let from = src.join(f);
        if from.exists() {
            std::fs::copy(&from, tmp.path().join(f)).with_context(|| from.display().to_string())?;
        }
    }
    std::fs::rename(tmp.path(), out).with_context(|| out.display().to_string())?;
    // Renamed into place: nothing left for the temporary directory's drop to delete.
    let _ = tmp.keep();
    pb.finish_and_clear();
    Ok(())
}
