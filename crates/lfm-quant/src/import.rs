//! GGUF → lfm-model: the config from `lfm2.*` metadata, F32/F16/BF16 small tensors as dense
//! parameters, and every matrix (quantized, 16-bit or f32) served from the file as a
//! [`QuantMatrix`] that the model's linear layers, embedding and head run on directly
//! (`LFM_F32_TRANSPOSED=1` copies f32 matrices into lfm-model's `F32Matrix` instead).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use burn::tensor::Device;
use lfm_model::host::{f32_matrix, HostMatrix};
use lfm_model::model::WeightSource;
use lfm_model::names::{tensor_table, Role, Slot};
use lfm_model::{LayerKind, Lfm2Config, Lfm2Model, LfmError};

use crate::blocks::{dequantize, find_nonfinite, GgmlType};
use crate::gguf::GgufFile;
use crate::qmatrix::QuantMatrix;

/// The model config a GGUF file describes (architecture `lfm2`).
pub fn config_from_gguf(g: &GgufFile) -> Result<Lfm2Config> {
    let arch = g.get("general.architecture").and_then(|v| v.as_str()).unwrap_or("");
    if arch != "lfm2" {
        bail!("{}: architecture {arch:?} is not lfm2", g.path);
    }
    let k = |s: &str| format!("lfm2.{s}");
    let mut c = Lfm2Config::lfm2_350m();
    let n_layers = g.u64_key(&k("block_count"))? as usize;
    c.hidden_size = g.u64_key(&k("embedding_length"))? as usize;
    c.ff_dim = g.u64_key(&k("feed_forward_length"))? as usize;
    c.intermediate_size = c.ff_dim;
    c.block_auto_adjust_ff_dim = false;
    c.block_ffn_dim_multiplier = None;
    c.num_attention_heads = g.u64_key(&k("attention.head_count"))? as usize;
    let kv = g
        .get(&k("attention.head_count_kv"))
        .ok_or_else(|| anyhow!("{}: missing lfm2.attention.head_count_kv", g.path))?;
    let per_layer: Vec<usize> = match kv.as_array() {
        Some(a) => a
            .iter()
            .map(|v| v.as_u64().map(|x| x as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| anyhow!("{}: head_count_kv must hold integers", g.path))?,
        None => bail!("{}: lfm2.attention.head_count_kv must be a per-layer array (0 marks a conv layer)", g.path),
    };
    if per_layer.len() != n_layers {
        bail!("{}: head_count_kv has {} entries for {n_layers} blocks", g.path, per_layer.len());
    }
    c.layer_types = per_layer.iter().map(|&n| if n == 0 { LayerKind::Conv } else { LayerKind::Attention }).collect();
    let kvs: HashSet<usize> = per_layer.iter().copied().filter(|&n| n > 0).collect();
    if kvs.len() > 1 {
        bail!("{}: attention layers with different kv-head counts {kvs:?} are not supported", g.path);
    }
    c.num_key_value_heads = kvs.into_iter().next().unwrap_or(c.num_attention_heads);
    c.head_dim = match g.get(&k("attention.key_length")) {
        Some(v) => v.as_u64().ok_or_else(|| anyhow!("{}: key_length is not an integer", g.path))? as usize,
        None => c.hidden_size / c.num_attention_heads.max(1),
    };
    c.norm_eps = g.f64_key(&k("attention.layer_norm_rms_epsilon"))?;
    c.rope_theta = g.f64_key(&k("rope.freq_base"))?;
    c.conv_l_cache = g.u64_key(&k("shortconv.l_cache"))? as usize;
    c.max_position_embeddings = g.u64_key(&k("context_length"))? as usize;
    let embd = g.tensor("token_embd.weight").ok_or_else(|| anyhow!("{}: no token_embd.weight tensor", g.path))?;
    if embd.dims.len() != 2 {
        bail!("{}: token_embd.weight has dims {:?}, expected 2", g.path, embd.dims);
    }
    c.vocab_size = embd.dims[1];
    c.tie_embedding = g.tensor("output.weight").is_none();
    c.conv_bias = g.tensors.iter().any(|t| t.name.ends_with("shortconv.conv.bias"));
    let id = |key: &str, default: u32| g.get(key).and_then(|v| v.as_u64()).map(|v| v as u32).unwrap_or(default);
    c.bos_token_id = id("tokenizer.ggml.bos_token_id", c.bos_token_id);
    c.eos_token_id = id("tokenizer.ggml.eos_token_id", c.eos_token_id);
    c.pad_token_id = id("tokenizer.ggml.padding_token_id", c.pad_token_id);
    c.validate(&g.path).map_err(|e| anyhow!("{e}"))?;
    Ok(c)
}

/// Serves the model builder from a GGUF file.
pub struct GgufSource<'a> {
    pub g: &'a GgufFile,
    pub cfg: &'a Lfm2Config,
    pub used: HashSet<String>,
}

impl GgufSource<'_> {
    fn info(&self, slot: Slot) -> Result<&crate::gguf::TensorInfo, LfmError> {
        let name = slot.gguf_name();
        let t = self.g.tensor(&name).ok_or_else(|| LfmError::Tensor {
            file: self.g.path.clone(),
            tensor: name.clone(),
            msg: "missing from the GGUF file".into(),
        })?;
        let want = slot.gguf_dims(self.cfg);
        if t.dims != want {
            return Err(LfmError::Tensor {
                file: self.g.path.clone(),
                tensor: name,
                msg: format!("dims {:?} do not match {want:?} expected from the metadata", t.dims),
            });
        }
        Ok(t)
    }
}

impl WeightSource for GgufSource<'_> {
    fn get(&mut self, slot: Slot, shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        let t = self.info(slot)?.clone();
        let v = dequantize(t.ty, self.g.data(&t));
        debug_assert_eq!(v.len(), shape.iter().product::<usize>());
        self.used.insert(t.name.clone());
        Ok(v)
    }

    fn host_matrix(&mut self, slot: Slot) -> Result<Option<HostMatrix>, LfmError> {
        if !matches!(slot.role(), Role::Linear | Role::Embedding) {
            return Ok(None);
        }
        let t = self.info(slot)?.clone();
        if t.ty == GgmlType::F32 && std::env::var_os("LFM_F32_TRANSPOSED").is_some() {
            // On request, f32 weights are copied into burn's layout (F32Matrix: faster
            // prefill, slower decode than running them from the file).
            self.used.insert(t.name.clone());
            let v = dequantize(t.ty, self.g.data(&t));
            return Ok(Some(f32_matrix(v, [t.dims[1], t.dims[0]])));
        }
        self.used.insert(t.name.clone());
        let m = QuantMatrix::new(self.g.bytes.clone(), t.start, t.ty, t.dims[1], t.dims[0]);
        Ok(Some(HostMatrix(Arc::new(m))))
    }
}

/// Refuses NaN/±Inf anywhere in the weights: elements of f32/f16/bf16 tensors, block scales of
/// the block formats ([`find_nonfinite`]). One line names the file, the tensor (the first in
/// file order that has any), the count and the first bad element or block;
/// `LFM_ALLOW_NONFINITE=1` lets such a file load (as for HF checkpoints). One pass over the
/// data, tensors in parallel.
pub fn check_finite(g: &GgufFile) -> Result<()> {
    use rayon::prelude::*;
    if lfm_model::hf::allow_nonfinite() {
        return Ok(());
    }
    let found: Vec<_> = g.tensors.par_iter().map(|t| find_nonfinite(t.ty, g.data(t))).collect();
    let Some((t, nf)) = g.tensors.iter().zip(found).find_map(|(t, f)| f.map(|f| (t, f))) else {
        return Ok(());
    };
    let at = |i: usize| match t.dims[..] {
        [cols, _] => format!("index {i} (row {}, column {})", i / cols, i % cols),
        _ => format!("index {i}"),
    };
    let what = match nf.field {
        None => format!("{} non-finite value(s), the first {} at {}", nf.count, nf.value, at(nf.first)),
        Some(field) => {
            let bs = t.ty.block_size();
            format!(
                "{} {} block(s) with a non-finite scale, the first block {} ({field} = {}, elements from {})",
                nf.count,
                t.ty.name(),
                nf.first,
                nf.value,
                at(nf.first * bs)
            )
        }
    };
    Err(LfmError::Tensor {
        file: g.path.clone(),
        tensor: t.name.clone(),
        msg: format!("{what} ({}=1 loads it anyway)", lfm_model::hf::ALLOW_NONFINITE_ENV),
    }
    .into())
}

/// A GGUF model ready to run, with its tokenizer when the file carries one.
pub struct Loaded {
    pub cfg: Lfm2Config,
    pub model: Lfm2Model,
    /// See [`tokenizer`].
    pub tokenizer: Option<tokenizers::Tokenizer>,
    /// Bytes of packed weights held (mapped from the file).
    pub packed_bytes: usize,
}

/// Opens `path` and builds the model with quantized weights left packed.
pub fn load_gguf(path: &Path, device: &Device) -> Result<Loaded> {
    let g = GgufFile::open(path)?;
    let cfg = config_from_gguf(&g)?;
    check_finite(&g)?;
    let mut src = GgufSource { g: &g, cfg: &cfg, used: HashSet::new() };
    let model = Lfm2Model::build(&cfg, device, &mut src).map_err(|e| anyhow!("{e}"))?;
    let expected: HashSet<String> = tensor_table(&cfg).iter().map(|s| s.gguf_name()).collect();
    if let Some(extra) = g.tensors.iter().find(|t| !expected.contains(&t.name)) {
        bail!("{}: tensor {} is not part of the model the metadata describes", g.path, extra.name);
    }
    let packed_bytes = g.tensors.iter().filter(|t| t.ty != GgmlType::F32).map(|t| t.nbytes).sum();
    let tokenizer = tokenizer(&g)?;
    Ok(Loaded { cfg, model, tokenizer, packed_bytes })
}

/// The tokenizer a GGUF file carries: the whole HF tokenizer in `tokenizer.huggingface.json`
/// (lfm-rs exports write it, so tokenization is exactly the checkpoint's), else the one the
/// `tokenizer.ggml.*` keys describe ([`crate::vocab`]; files from llama.cpp's converter);
/// `None` when it has neither.
pub fn tokenizer(g: &GgufFile) -> Result<Option<tokenizers::Tokenizer>> {
    match g.get("tokenizer.huggingface.json").and_then(|v| v.as_str()) {
        Some(s) => Ok(Some(
            tokenizers::Tokenizer::from_bytes(s.as_bytes())
                .map_err(|e| anyhow!("{}: tokenizer.huggingface.json: {e}", g.path))?,
        )),
        None => crate::vocab::ggml_tokenizer(g),
    }
}

/// What `lfm info` shows of a GGUF file.
pub struct GgufSummary {
    pub cfg: Lfm2Config,
    pub version: u32,
    pub file_bytes: usize,
    pub metadata_keys: usize,
    /// (type, tensors, elements, bytes) per tensor type, in the order of first appearance.
    pub by_type: Vec<(GgmlType, usize, usize, usize)>,
    pub tensors: usize,
    /// Tensors the metadata's model has.
    pub expected: usize,
    /// GGUF names the metadata's model needs that the file lacks, and ones it has but the
    /// model does not use.
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// Where the tokenizer comes from and its size with added tokens; `None` without one.
    pub tokenizer: Option<(String, usize)>,
    pub chat_template: bool,
}

/// Reads and checks a GGUF file's header, config, weights ([`check_finite`]) and tokenizer,
/// without building the model.
pub fn summarize(path: &Path) -> Result<GgufSummary> {
    let g = GgufFile::open(path)?;
    let cfg = config_from_gguf(&g)?;
    check_finite(&g)?;
    let mut by_type: Vec<(GgmlType, usize, usize, usize)> = Vec::new();
    for t in &g.tensors {
        match by_type.iter_mut().find(|e| e.0 == t.ty) {
            Some(e) => {
                e.1 += 1;
                e.2 += t.elements();
                e.3 += t.nbytes;
            }
            None => by_type.push((t.ty, 1, t.elements(), t.nbytes)),
        }
    }
    let expected: Vec<String> = tensor_table(&cfg).iter().map(|s| s.gguf_name()).collect();
    let expected_set: HashSet<&str> = expected.iter().map(String::as_str).collect();
    let missing = expected.iter().filter(|n| g.tensor(n).is_none()).cloned().collect();
    let unexpected =
        g.tensors.iter().filter(|t| !expected_set.contains(t.name.as_str())).map(|t| t.name.clone()).collect();
    let source = if g.get("tokenizer.huggingface.json").is_some() {
        "tokenizer.huggingface.json".to_string()
    } else {
        let s = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        format!("tokenizer.ggml.* (model {}, pre {})", s("tokenizer.ggml.model"), s("tokenizer.ggml.pre"))
    };
    let tokenizer = tokenizer(&g)?.map(|t| (source, t.get_vocab_size(true)));
    Ok(GgufSummary {
        version: g.version,
        file_bytes: g.bytes.len(),
        metadata_keys: g.kv.len(),
        by_type,
        tensors: g.tensors.len(),
        expected: expected.len(),
        missing,
        unexpected,
        tokenizer,
        chat_template: g.get("tokenizer.chat_template").is_some(),
        cfg,
    })
}
