//! `lfm adapter merge`: a LoRA adapter (PEFT layout) folded into its base, written as a
//! complete HF checkpoint that every `lfm` command and transformers load.

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::tensor::Device;
use clap::{Args, Subcommand};

use crate::progress;

#[derive(Subcommand)]
pub enum AdapterCommand {
    /// Writes BASE with W + (alpha / r)·B·A in every adapted projection, plus BASE's tokenizer,
    /// chat template and generation config, to --out.
    Merge(MergeArgs),
}

#[derive(Args)]
pub struct MergeArgs {
    /// The base checkpoint directory the adapter was trained on.
    #[arg(long)]
    model: PathBuf,
    /// The adapter directory (adapter_config.json + adapter_model.safetensors), from `lfm
    /// train` or PEFT.
    #[arg(long)]
    adapter: PathBuf,
    /// Destination directory (must not exist).
    #[arg(long)]
    out: PathBuf,
}

pub fn merge(a: &MergeArgs, device: &Device) -> Result<()> {
    let _lock = lfm_model::io::OutputLock::acquire(&a.out, "lfm adapter merge")?;
    if a.out.exists() {
        bail!("{}: already exists", a.out.display());
    }
    let (cfg, base) = progress::loading(&a.model, |p| lfm_model::hf::load_dir(p, device))?;
    let (model, spec) = lfm_model::lora::load_peft(base, &a.adapter, device)?;
    let adapted = model.projections().iter().filter(|(_, p)| p.lora.is_some()).count();
    let model = lfm_model::lora::merge(model)?;
    crate::cmd_convert::write_hf_dir(&model, &cfg, &a.model, &a.out)?;
    println!(
        "merged {adapted} projections (r = {}, alpha = {}) into {} -> {}",
        spec.r,
        spec.alpha,
        a.model.display(),
        a.out.display()
    );
    Ok(())
}
