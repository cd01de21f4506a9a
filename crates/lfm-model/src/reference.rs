//! Checking a model against reference outputs in the layout of a transformers fixture's
//! `reference.safetensors`: `input_ids` (I64 or I32, `[B, S]`) in; `logits` (F32 `[B, S, V]`)
//! and, after a greedy continuation through the cache, `gen_ids` (I64 `[B, N]`) and
//! `gen_logits` (F32 `[B, N, V]`) out.
//!
//! `lfm logits` writes these tensors for any checkpoint and, with `--reference`, compares;
//! `lfm quickstart` runs the same check on its embedded fixture. Value comparisons go through
//! [`crate::compare`], so a NaN anywhere is a mismatch.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::error::LfmError;
use crate::generate::{generate, GenerateOptions, SamplingConfig};
use crate::{Lfm2Config, Lfm2Model};

/// Our side of a reference check.
pub struct Outputs {
    /// `[B, S]` row-major.
    pub input_ids: Vec<i64>,
    pub shape: [usize; 2],
    /// `[B, S, V]`.
    pub logits: Vec<f32>,
    /// Greedy continuation `[B, N]` and its logits `[B, N, V]`, when asked for.
    pub gen: Option<(Vec<i64>, usize, Vec<f32>)>,
    pub vocab: usize,
}

/// One compared tensor.
pub struct Comparison {
    pub name: &'static str,
    /// Max-abs difference (values) — NaN when either side has a NaN; `None` for ids.
    pub max_abs_diff: Option<f32>,
    /// `None` when the tensor matches; otherwise why not.
    pub failure: Option<String>,
}

fn st_err(path: &Path, e: impl std::fmt::Display) -> LfmError {
    LfmError::Safetensors { file: path.display().to_string(), msg: e.to_string() }
}

fn tensor_err(path: &Path, tensor: &str, msg: String) -> LfmError {
    LfmError::Tensor { file: path.display().to_string(), tensor: tensor.into(), msg }
}

/// `input_ids` of `path` (I64 or I32, non-empty `[B, S]`), every id checked against `vocab`.
pub fn read_input_ids(path: &Path, vocab: usize) -> Result<(Vec<i64>, [usize; 2]), LfmError> {
    let bytes = std::fs::read(path).map_err(|e| LfmError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| st_err(path, e))?;
    let t = st
        .tensor("input_ids")
        .map_err(|_| LfmError::Invalid(format!("{}: no tensor \"input_ids\"", path.display())))?;
    let shape = t.shape();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(tensor_err(path, "input_ids", format!("expected a non-empty [batch, seq] shape, found {shape:?}")));
    }
    let ids: Vec<i64> = match t.dtype() {
        Dtype::I64 => t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
        Dtype::I32 => {
            t.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64).collect()
        }
        d => return Err(tensor_err(path, "input_ids", format!("dtype {d:?}, expected I64 or I32"))),
    };
    if let Some((i, bad)) = ids.iter().enumerate().find(|(_, &x)| x < 0 || x as usize >= vocab) {
        return Err(tensor_err(
            path,
            "input_ids",
            format!("id {bad} at flat index {i} is outside the vocabulary [0, {vocab})"),
        ));
    }
    Ok((ids, [shape[0], shape[1]]))
}

/// The continuation length of a reference file: `gen_ids`' second dimension.
pub fn read_gen_len(path: &Path) -> Result<usize, LfmError> {
    let bytes = std::fs::read(path).map_err(|e| LfmError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| st_err(path, e))?;
    let t =
        st.tensor("gen_ids").map_err(|_| LfmError::Invalid(format!("{}: no tensor \"gen_ids\"", path.display())))?;
    match t.shape() {
        [_, n] => Ok(*n),
        s => Err(tensor_err(path, "gen_ids", format!("expected a [batch, tokens] shape, found {s:?}"))),
    }
}

/// Runs the model on `ids` (`[B, S]`): the logits of the full sequence and, with
/// `generate = Some(n)`, `n` greedy tokens per row through the cache. `on_token` is called
/// once per generated token (progress).
pub fn run(
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    ids: Vec<i64>,
    [b, s]: [usize; 2],
    generate_n: Option<usize>,
    device: &Device,
    mut on_token: impl FnMut(),
) -> Result<Outputs, LfmError> {
    model.check_positions(s, "input_ids")?;
    let input: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids.clone(), [b, s]), device);
    let logits = model
        .forward_chunked(input)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| LfmError::Invalid(format!("logits: {e:?}")))?;
    crate::compare::require_finite(|| "logits".into(), &logits)?;
    let gen = match generate_n {
        None => None,
        Some(n) => {
            let prompts: Vec<Vec<u32>> = ids.chunks(s).map(|r| r.iter().map(|&x| x as u32).collect()).collect();
            let opts = GenerateOptions {
                max_new_tokens: n,
                stop_tokens: vec![],
                sampling: SamplingConfig::greedy(),
                keep_logits: true,
            };
            let g = generate(model, cfg, &prompts, &opts, device, |_, _| on_token())?;
            let gen_ids: Vec<i64> = g.tokens.iter().flatten().map(|&t| t as i64).collect();
            let gen_logits: Vec<f32> = g.logits.unwrap_or_default().into_iter().flatten().flatten().collect();
            Some((gen_ids, n, gen_logits))
        }
    };
    Ok(Outputs { input_ids: ids, shape: [b, s], logits, gen, vocab: cfg.vocab_size })
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Outputs {
    /// The tensors by name, with dtype, shape and little-endian bytes.
    fn tensors(&self) -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
        let ([b, s], v) = (self.shape, self.vocab);
        let mut out = vec![
            ("input_ids", Dtype::I64, vec![b, s], i64_bytes(&self.input_ids)),
            ("logits", Dtype::F32, vec![b, s, v], crate::hf::f32_bytes(&self.logits)),
        ];
        if let Some((ids, n, logits)) = &self.gen {
            out.push(("gen_ids", Dtype::I64, vec![b, *n], i64_bytes(ids)));
            out.push(("gen_logits", Dtype::F32, vec![b, *n, v], crate::hf::f32_bytes(logits)));
        }
        out
    }

    /// Writes the tensors as a safetensors file (through a temporary sibling and a rename);
    /// returns "name [shape]" for each.
    pub fn write(&self, path: &Path) -> Result<Vec<String>, LfmError> {
        let tensors = self.tensors();
        let views = tensors
            .iter()
            .map(|(n, d, s, bytes)| TensorView::new(*d, s.clone(), bytes).map(|v| (n.to_string(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| st_err(path, e))?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = crate::io::temp_file_in(dir)
            .map_err(|e| LfmError::io(dir, format!("cannot create a temporary file: {e}")))?;
        safetensors::serialize_to_file(views, None, tmp.path()).map_err(|e| st_err(path, e))?;
        tmp.persist(path).map_err(|e| LfmError::io(path, format!("rename failed: {}", e.error)))?;
        Ok(tensors.iter().map(|(n, _, s, _)| format!("{n} {s:?}")).collect())
    }

    /// Compares `logits`, `gen_logits` (max-abs within `tol`) and `gen_ids` (identical) with
    /// the same tensors of the reference file, for each one both sides have.
    pub fn compare(&self, reference: &Path, tol: f32) -> Result<Vec<Comparison>, LfmError> {
        let bytes = std::fs::read(reference).map_err(|e| LfmError::io(reference, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| st_err(reference, e))?;
        let mut out = Vec::new();
        for (name, _, shape, mine) in self.tensors() {
            if name == "input_ids" {
                continue;
            }
            let Ok(theirs) = st.tensor(name) else { continue };
            let mut c = Comparison { name, max_abs_diff: None, failure: None };
            if theirs.shape() != shape.as_slice() {
                c.failure = Some(format!("{name}: shape {shape:?} vs reference {:?}", theirs.shape()));
            } else if name == "gen_ids" {
                if theirs.dtype() != Dtype::I64 || theirs.data() != mine.as_slice() {
                    c.failure = Some("gen_ids differ".into());
                }
            } else if theirs.dtype() != Dtype::F32 {
                c.failure = Some(format!("{name}: reference dtype {:?}, expected F32", theirs.dtype()));
            } else {
                let f = |b: &[u8]| -> Vec<f32> {
                    b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect()
                };
                let (a, b) = (f(&mine), f(theirs.data()));
                c.max_abs_diff = Some(crate::compare::max_abs_diff(&a, &b));
                c.failure = crate::compare::check_close(name, &a, &b, tol).err();
            }
            out.push(c);
        }
        Ok(out)
    }
}
