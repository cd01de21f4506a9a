//! `lfm export gguf`: write a checkpoint as a GGUF file for llama.cpp (and lfm-rs itself), then
//! report what the chosen format cost: perplexity on held-out tokens and top-1 agreement of
//! the exported (quantized) model with the f32 one.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::{Args, Subcommand};
use lfm_model::Lfm2Model;
use lfm_quant::export::{self, Mix};

use crate::progress;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// GGUF v3 (architecture lfm2) for llama.cpp, ollama, LM Studio — and `lfm --model X.gguf`.
    Gguf(GgufArgs),
}

#[derive(Args)]
pub struct GgufArgs {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// Weight format: q8_0, q4_0, q4_k_m, f16, bf16 or f32 (per-tensor choices: lfm_quant::export).
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

/// Quality of an exported model against the f32 original on the same windows.
pub struct Quality {
    pub windows: usize,
    pub tokens: usize,
    pub ppl_f32: f64,
    pub ppl_quant: f64,
    pub top1_agreement: f64,
}

/// Up to `n` windows of `seq_len + 1` tokens from the validation split of a dataset.
pub fn val_windows(dir: &std::path::Path, seq_len: usize, n: usize) -> Result<Vec<Vec<u32>>> {
    let mut l = lfm_data::loader::Loader::new(dir, lfm_data::loader::LoaderConfig::val(1, seq_len), None)?;
    let mut out = Vec::new();
    while out.len() < n {
        let Some(b) = l.next_batch()? else { break };
        out.push(b.window(0).to_vec());
    }
    if out.is_empty() {
        bail!("{}: no validation windows of {} tokens (build it with --val-fraction > 0)", dir.display(), seq_len + 1);
    }
    Ok(out)
}

fn held_out_windows(a: &GgufArgs, bos: u32) -> Result<Option<Vec<Vec<u32>>>> {
    let w = a.seq_len + 1;
    if let Some(dir) = &a.eval_data {
        let out = val_windows(dir, a.seq_len, a.eval_windows)?;
        return Ok(Some(out));
    }
    if let Some(p) = &a.eval_text {
        let tok = lfm_quant::load::load_tokenizer(&a.model)?;
        let files = lfm_data::source::expand_inputs(&[p.display().to_string()])?;
        let mut stream = lfm_data::source::DocStream::new(files, crate::cmd_data::read_opts("text"));
        let mut ids = Vec::new();
        while let Some(d) = stream.next() {
            let d = d?;
            ids.push(bos);
            ids.extend(
                tok.encode(d.text.as_str(), false)
                    .map_err(|e| anyhow!("tokenizing: {e}"))?
                    .get_ids()
                    .iter()
                    .copied()
                    .filter(|&t| t != bos),
            );
            if ids.len() >= w * a.eval_windows {
                break;
            }
        }
        let out: Vec<Vec<u32>> = ids.chunks_exact(w).take(a.eval_windows).map(<[u32]>::to_vec).collect();
        if out.is_empty() {
            bail!("{}: fewer than {w} tokens of text", p.display());
        }
        return Ok(Some(out));
    }
    Ok(None)
}

/// Scores both models on the windows (8 per forward pass).
pub fn compare(reference: &Lfm2Model, candidate: &Lfm2Model, windows: &[Vec<u32>], device: &Device) -> Quality {
    let (mut nll_a, mut nll_b, mut agree, mut n) = (0.0f64, 0.0f64, 0usize, 0usize);
    let pb = progress::bar(windows.len() as u64, "report windows");
    for chunk in windows.chunks(8) {
        let (rows, w) = (chunk.len(), chunk[0].len());
        let t = w - 1;
        let ids: Vec<i64> = chunk.iter().flat_map(|x| x[..t].iter().map(|&v| v as i64)).collect();
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, t]), device);
        let la = reference.forward(x.clone()).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        let lb = candidate.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
        let v = la.len() / (rows * t);
        for r in 0..rows {
            for p in 0..t {
                let off = (r * t + p) * v;
                let target = chunk[r][p + 1] as usize;
                let (ra, rb) = (&la[off..off + v], &lb[off..off + v]);
                nll_a += nll(ra, target);
                nll_b += nll(rb, target);
                agree += (argmax(ra) == argmax(rb)) as usize;
                n += 1;
            }
        }
        pb.inc(rows as u64);
    }
    pb.finish_and_clear();
    Quality {
        windows: windows.len(),
        tokens: n,
        ppl_f32: (nll_a / n as f64).exp(),
        ppl_quant: (nll_b / n as f64).exp(),
        top1_agreement: agree as f64 / n as f64,
    }
}

fn nll(logits: &[f32], target: usize) -> f64 {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = m + logits.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
    lse - logits[target] as f64
}

fn argmax(v: &[f32]) -> usize {
    lfm_model::generate::argmax(v) as usize
}

pub fn gguf(a: &GgufArgs, device: &Device) -> Result<()> {
    let mix = Mix::parse(&a.quant)?;
    if lfm_quant::load::is_gguf(&a.model) {
        bail!(
            "{}: --model must be a checkpoint directory (re-exporting a GGUF would quantize twice)",
            a.model.display()
        );
    }
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
    let name = dir.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "lfm2".into());
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
            let r = compare(model, &q.model, windows, device);
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
