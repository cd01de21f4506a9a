//! `lfm logits`: the same tensors as a fixture's `reference.safetensors`, so lfm-rs can be
//! diffed against transformers on any checkpoint.
//!
//! Input: tensor `input_ids` (I64 or I32, [B, S]). Output: `logits` (F32 [B, S, V]) and, with
//! `--generate N`, greedy `gen_ids` (I64 [B, N]) and `gen_logits` (F32 [B, N, V]) produced
//! through the cache. `--reference FILE` compares against such a file and fails on a
//! difference above `--tol`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::tensor::Device;
use clap::Args;
use lfm_model::reference;

use crate::progress;

#[derive(Args)]
pub struct LogitsArgs {
    /// Checkpoint directory (config.json + model.safetensors) or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// A PEFT LoRA adapter directory applied to the model (unmerged; its base: --model, a directory or GGUF file).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// safetensors file with an `input_ids` tensor (I64 or I32, [B, S]).
    #[arg(long)]
    input: PathBuf,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// Also generate N greedy tokens through the cache (`gen_ids`, `gen_logits`).
    #[arg(long)]
    generate: Option<usize>,
    /// Compare with a reference file (e.g. a fixture's reference.safetensors).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Max-abs tolerance for `--reference`.
    #[arg(long, default_value_t = 1e-4)]
    tol: f32,
}

pub fn run(a: &LogitsArgs, device: &Device) -> Result<()> {
    let (cfg, model) = progress::loading(&a.model, |p| lfm_quant::load::load_model(p, device))?;
    let model = match &a.adapter {
        Some(dir) => lfm_model::lora::load_peft(model, dir, device)?.0,
        None => model,
    };
    let (ids, [b, s]) = reference::read_input_ids(&a.input, cfg.vocab_size)?;
    let pb = match a.generate {
        None => progress::spinner(format!("forward pass over {b}x{s} tokens")),
        Some(n) => progress::bar((n * b) as u64, "tokens"),
    };
    let out = reference::run(&model, &cfg, ids, [b, s], a.generate, device, || pb.inc(1))?;
    pb.finish_and_clear();
    let written = out.write(&a.out)?;
    println!("wrote {} ({})", a.out.display(), written.join(", "));

    if let Some(path) = &a.reference {
        let mut failures = Vec::new();
        for c in out.compare(path, a.tol)? {
            match c.max_abs_diff {
                Some(d) => println!("{:<12} max-abs-diff {d:.3e} (tol {:.0e})", c.name, a.tol),
                None => println!("{:<12} {}", c.name, if c.failure.is_none() { "identical" } else { "DIFFERENT" }),
            }
            failures.extend(c.failure);
        }
        if !failures.is_empty() {
            bail!("{}: mismatch against reference: {}", path.display(), failures.join("; "));
        }
    }
    Ok(())
}
