//! `lfm logits`: the same tensors as a fixture's `reference.safetensors`, so lfm-rs can be
//! diffed against transformers on any checkpoint.
//!
//! Input: tensor `input_ids` (I64 or I32, [B, S]). Output: `logits` (F32 [B, S, V]) and, with
//! `--generate N`, greedy `gen_ids` (I64 [B, N]) and `gen_logits` (F32 [B, N, V]) produced
//! through the cache. `--reference FILE` compares against such a file and fails on a
//! difference above `--tol`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::progress;

#[derive(Args)]
pub struct LogitsArgs {
    /// Checkpoint directory (config.json + model.safetensors) or GGUF file.
    #[arg(long)]
    model: PathBuf,
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

/// Reads `input_ids` as (rows of ids, [B, S]).
fn read_input_ids(path: &Path, vocab: usize) -> Result<(Vec<i64>, [usize; 2])> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: bad safetensors file: {e}", path.display()))?;
    let t = st.tensor("input_ids").map_err(|_| anyhow::anyhow!("{}: no tensor \"input_ids\"", path.display()))?;
    let shape = t.shape();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        bail!("{}: tensor input_ids: expected a non-empty [batch, seq] shape, found {shape:?}", path.display());
    }
    let ids: Vec<i64> = match t.dtype() {
        Dtype::I64 => t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
        Dtype::I32 => t.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect(),
        d => bail!("{}: tensor input_ids: dtype {d:?}, expected I64 or I32", path.display()),
    };
    if let Some((i, bad)) = ids.iter().enumerate().find(|(_, &x)| x < 0 || x as usize >= vocab) {
        bail!(
            "{}: tensor input_ids: id {bad} at flat index {i} is outside the vocabulary [0, {vocab})",
            path.display()
        );
    }
    Ok((ids, [shape[0], shape[1]]))
}

fn f32_view(v: &[f32]) -> Vec<u8> {
    lfm_model::hf::f32_bytes(v)
}

pub fn run(a: &LogitsArgs, device: &Device) -> Result<()> {
    let (cfg, model) = progress::load_model(&a.model, device)?;
    let (ids, [b, s]) = read_input_ids(&a.input, cfg.vocab_size)?;
    let v = cfg.vocab_size;

    let pb = progress::spinner(format!("forward pass over {b}x{s} tokens"));
    let input: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids.clone(), [b, s]), device);
    let logits = model
        .forward(input)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    pb.finish_and_clear();

    let mut out: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
        ("input_ids".into(), Dtype::I64, vec![b, s], ids.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ("logits".into(), Dtype::F32, vec![b, s, v], f32_view(&logits)),
    ];
    if let Some(n) = a.generate {
        let prompts: Vec<Vec<u32>> = ids.chunks(s).map(|r| r.iter().map(|&x| x as u32).collect()).collect();
        let opts = GenerateOptions {
            max_new_tokens: n,
            stop_tokens: vec![],
            sampling: SamplingConfig::greedy(),
            keep_logits: true,
        };
        let pb = progress::bar((n * b) as u64, "tokens");
        let gen = generate(&model, &cfg, &prompts, &opts, device, |_, _| pb.inc(1))?;
        pb.finish_and_clear();
        let gen_ids: Vec<u8> = gen.tokens.iter().flatten().flat_map(|&t| (t as i64).to_le_bytes()).collect();
        let gen_logits: Vec<f32> = gen.logits.unwrap_or_default().into_iter().flatten().flatten().collect();
        out.push(("gen_ids".into(), Dtype::I64, vec![b, n], gen_ids));
        out.push(("gen_logits".into(), Dtype::F32, vec![b, n, v], f32_view(&gen_logits)));
    }
    let views = out
        .iter()
        .map(|(n, d, s, bytes)| Ok((n.clone(), TensorView::new(*d, s.clone(), bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    // serialize_to_file writes a temporary sibling and renames it: no partial output.
    safetensors::serialize_to_file(views, None, &a.out).map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    println!(
        "wrote {} ({})",
        a.out.display(),
        out.iter().map(|(n, _, s, _)| format!("{n} {s:?}")).collect::<Vec<_>>().join(", ")
    );

    if let Some(reference) = &a.reference {
        let ours: HashMap<String, (Vec<usize>, Vec<u8>)> = out.into_iter().map(|(n, _, s, b)| (n, (s, b))).collect();
        compare(reference, &ours, a.tol)?;
    }
    Ok(())
}

/// Prints max-abs differences against a reference file; errors if any exceeds `tol` or the
/// greedy ids differ.
fn compare(path: &Path, ours: &HashMap<String, (Vec<usize>, Vec<u8>)>, tol: f32) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: bad safetensors file: {e}", path.display()))?;
    let mut failures = Vec::new();
    for name in ["logits", "gen_logits", "gen_ids"] {
        let (Some((shape, mine)), Ok(theirs)) = (ours.get(name), st.tensor(name)) else { continue };
        if theirs.shape() != shape.as_slice() {
            failures.push(format!("{name}: shape {shape:?} vs reference {:?}", theirs.shape()));
            continue;
        }
        if name == "gen_ids" {
            let same = theirs.dtype() == Dtype::I64 && theirs.data() == mine.as_slice();
            println!("{name:<12} {}", if same { "identical" } else { "DIFFERENT" });
            if !same {
                failures.push("gen_ids differ".into());
            }
            continue;
        }
        let a: Vec<f32> = mine.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let b: Vec<f32> = theirs.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let d = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        println!("{name:<12} max-abs-diff {d:.3e} (tol {tol:.0e})");
        if d > tol || d.is_nan() {
            failures.push(format!("{name} differs by {d:e}"));
        }
    }
    if !failures.is_empty() {
        bail!("{}: mismatch against reference: {}", path.display(), failures.join("; "));
    }
    Ok(())
}
