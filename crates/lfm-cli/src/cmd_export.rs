//! `lfm export gguf`: write a checkpoint as a GGUF file for llama.cpp (and lfm-rs itself), then
//! report what the chosen format cost: perplexity on held-out tokens and top-1 agreement of
//! the exported (quantized) model with the f32 one.

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::tensor::Device;
use clap::{Args, Subcommand};
use lfm_eval::quality::{self, Quality};
use lfm_model::io::OutputLock;
use lfm_model::Lfm2Model;
use lfm_quant::export::{self, Mix};

use crate::progress;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// GGUF v3 (architecture lfm2) for llama.cpp, ollama, LM Studio — and `lfm --model X.gguf`.
    Gguf(GgufArgs),
    /// A LoRA adapter (PEFT layout) as llama.cpp's adapter GGUF, for `llama-cli -m BASE.gguf
    /// --lora F.gguf`.
    GgufLora(GgufLoraArgs),
}

#[derive(Args)]
pub struct GgufLoraArgs {
    /// The base checkpoint directory the adapter was trained on (its config names the tensors).
    #[arg(long)]
    model: PathBuf,
    /// The adapter directory (adapter_config.json + adapter_model.safetensors).
    #[arg(long)]
    adapter: PathBuf,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

/// `lfm export gguf-lora`.
pub fn gguf_lora(a: &GgufLoraArgs) -> Result<()> {
    let cfg = lfm_model::Lfm2Config::from_hf_file(&a.model.join("config.json"))?;
    let _lock = OutputLock::acquire(&a.out, "lfm export gguf-lora")?;
    let name = a.adapter.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "lora".into());
    let w = export::build_lora(&cfg, &a.adapter, &name)?;
    let bytes = w.write(&a.out)?;
    println!(
        "wrote {} ({:.2} MiB, {} tensors, f32 LoRA)",
        a.out.display(),
        bytes as f64 / (1 << 20) as f64,
        w.tensors.len()
    );
    Ok(())
}

#[derive(Args)]
pub struct GgufArgs {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json), or an
    /// f32/f16/bf16 GGUF file to re-encode (as `llama-quantize` would).
    #[arg(long)]
    model: PathBuf,
    /// Weight format: f32, f16, bf16, q8_0, q6_k, q5_k_m, q5_1, q5_0, q4_k_m or q4_0 — with
    /// llama.cpp's per-tensor choices (lfm_quant::export), so the tensors equal `llama-quantize`'s.
    #[arg(long, default_value = "q8_0")]
    quant: String,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Held-out tokens for the quality report: a dataset built by `lfm data build` (its
    /// validation split is used).
    #[arg(long)]
    eval_data: Option<PathBuf>,
    /// Or held-out text (txt/md, JSONL, parquet), tokenized with the checkpoint's tokenizer.
    #[arg(long, conflicts_with = "eval_data")]
    eval_text: Option<PathBuf>,
    /// Windows of `--seq-len` + 1 tokens scored by the report.
    #[arg(long, default_value_t = 32)]
    eval_windows: usize,
    /// Tokens per report window.
    #[arg(long, default_value_t = 128)]
    seq_len: usize,
}

/// The report's windows: the validation split of `--eval-data`, or `--eval-text` tokenized with
/// the checkpoint's tokenizer; `None` without either.
fn held_out_windows(a: &GgufArgs, bos: u32) -> Result<Option<Vec<Vec<u32>>>> {
    if let Some(dir) = &a.eval_data {
        return Ok(Some(quality::val_windows(dir, a.seq_len, a.eval_windows)?));
    }
    if let Some(p) = &a.eval_text {
        let tok = lfm_quant::load::load_tokenizer(&a.model)?;
        let files = lfm_data::source::expand_inputs(&[p.display().to_string()])?;
        let stream = lfm_data::source::DocStream::new(files, crate::cmd_data::read_opts("text"));
        let out = quality::text_windows(stream, &tok, bos, a.seq_len, a.eval_windows)?;
        if out.is_empty() {
            bail!("{}: fewer than {} tokens of text", p.display(), a.seq_len + 1);
        }
        return Ok(Some(out));
    }
    Ok(None)
}

pub fn gguf(a: &GgufArgs, device: &Device) -> Result<()> {
    let mix = Mix::parse(&a.quant)?;
    if lfm_quant::load::is_gguf(&a.model) {
        // Like llama-quantize: an f32/f16/bf16 GGUF is re-encoded; a quantized one is refused
        // (quantizing twice compounds the error).
        let g = lfm_quant::gguf::GgufFile::open(&a.model)?;
        if let Some(t) = g.tensors.iter().find(|t| t.ty.is_quantized()) {
            bail!(
                "{}: tensor {} is already {}; give the checkpoint directory or an f32/f16/bf16 GGUF (quantizing twice compounds the error)",
                a.model.display(),
                t.name,
                t.ty.name()
            );
        }
    }
    // One export per output at a time; holding the lock, the temporary files a killed export
    // of this output left behind (named after it) are known to be stale.
    let lock = OutputLock::acquire(&a.out, "lfm export")?;
    lock.remove_stale_temps()?;
    let (cfg, model) = progress::loading(&a.model, |p| lfm_quant::load::load_model(p, device))?;
    let windows = held_out_windows(a, cfg.bos_token_id)?;
    export_and_report(&a.model, &cfg, &model, mix, &a.out, windows.as_deref(), device)
}

/// Writes `model` (a checkpoint in `dir`) as GGUF, prints what was written and, given held-out
/// windows, the quality report.
pub fn export_and_report(
    dir: &std::path::Path,
    cfg: &lfm_model::Lfm2Config,
    model: &Lfm2Model,
    mix: Mix,
    out: &std::path::Path,
    windows: Option<&[Vec<u32>]>,
    device: &Device,
) -> Result<()> {
    model.probe_finite(cfg, device)?;
    let dir_name = || dir.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "lfm2".into());
    // A re-encoded GGUF keeps its name (so its f32 → q* output equals the checkpoint's).
    let name = match lfm_quant::load::is_gguf(dir) {
        true => lfm_quant::gguf::GgufFile::open(dir)?
            .get("general.name")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(dir_name),
        false => dir_name(),
    };
    let pb = progress::bar(0, "tensors encoded");
    let (w, summary) = export::build(model, cfg, Some(dir), &name, mix, |k, n| {
        pb.set_length(n as u64);
        pb.set_position(k as u64);
    })?;
    pb.finish_and_clear();
    let sp = progress::spinner(format!("writing {}", out.display()));
    let bytes = w.write(out)?;
    sp.finish_and_clear();
    println!(
        "wrote {} ({:.2} MiB, {} tensors, {})",
        out.display(),
        bytes as f64 / (1 << 20) as f64,
        w.tensors.len(),
        mix.name()
    );
    for (ty, n, elems) in &summary.by_type {
        println!("  {:<6} {n:>4} tensors {elems:>12} weights", ty.name());
    }
    println!(
        "  2-D weights: {:.2} bits per weight",
        8.0 * summary.weight_bytes as f64 / summary.weight_elements as f64
    );
    match windows {
        None => println!("(no quality report: pass --eval-data DATASET_DIR or --eval-text FILE)"),
        Some(windows) => {
            let q = lfm_quant::import::load_gguf(out, device)?;
            let pb = progress::bar(windows.len() as u64, "report windows");
            let r = quality::compare(model, &q.model, windows, device, |n| pb.set_position(n as u64))?;
            pb.finish_and_clear();
            print_quality(mix.name(), &r);
        }
    }
    Ok(())
}

pub fn print_quality(format: &str, r: &Quality) {
    println!("quality on {} held-out windows ({} tokens):", r.windows, r.tokens);
    println!("  {:<14} {:>10} {:>14}", "", "perplexity", "top-1 vs f32");
    println!("  {:<14} {:>10.3} {:>13.2}%", "f32", r.ppl_f32, 100.0);
    println!(
        "  {:<14} {:>10.3} {:>13.2}%   (perplexity {:+.2}%)",
        format,
        r.ppl_quant,
        100.0 * r.top1_agreement,
        100.0 * (r.ppl_quant / r.ppl_f32 - 1.0)
    );
}
