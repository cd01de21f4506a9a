//! LFM2 → GGUF export: tensor names, metadata and tokenizer as llama.cpp's `lfm2`
//! architecture expects them (docs/lfm2-architecture.md §8), with per-tensor types chosen like llama.cpp's
//! quantization mixes.
//!
//! Per-tensor types (`--quant`) are llama.cpp's (`llama_tensor_get_type` in `llama-quant.cpp`,
//! without an imatrix), so that exporting a checkpoint with `--quant q4_k_m` gives the same
//! tensor types and bytes as `llama-quantize F32.gguf OUT.gguf Q4_K_M` on its f32 export:
//!
//! 1. 1-D tensors (norms, biases) and the conv kernel (`shortconv.conv.weight`) stay F32.
//! 2. f32 / f16 / bf16: every matrix in that type.
//! 3. Otherwise a matrix starts at the mix's type (q8_0: Q8_0, q6_k: Q6_K, q5_k_m: Q5_K,
//!    q5_1: Q5_1, q5_0: Q5_0, q4_k_m: Q4_K, q4_0: Q4_0), then:
//!    - the output matrix — the untied head, or the embedding when it is tied — becomes Q6_K,
//!      or Q8_0 if its rows are not a multiple of the mix type's block (or the mix is q8_0);
//!    - q4_k_m and q5_k_m: `attn_v` of the k-th of n attention layers and `ffn_down` of layer i
//!      of all N layers become Q6_K where `use_more_bits(k, n)` / `use_more_bits(i, N)` (the
//!      first and last eighth, and every third layer in between).
//! 4. A type whose block does not divide the rows falls back: Q4_K → Q5_0, Q5_K → Q5_1,
//!    Q6_K → Q8_0, and to F16 if that block does not divide them either.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use lfm_model::names::{tensor_table, LayerSlot, Role, Slot};
use lfm_model::{LayerKind, Lfm2Config, Lfm2Model};
use serde_json::Value as Json;

use crate::blocks::{quantize_row, GgmlType};
use crate::gguf::{GgufWriter, Value, WriteTensor};

/// An export recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    F32,
    F16,
    BF16,
    Q8_0,
    Q6K,
    Q5KM,
    Q5_1,
    Q5_0,
    Q4KM,
    Q4_0,
}

impl Mix {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "f32" => Mix::F32,
            "f16" => Mix::F16,
            "bf16" => Mix::BF16,
            "q8_0" => Mix::Q8_0,
            "q6_k" => Mix::Q6K,
            "q5_k_m" => Mix::Q5KM,
            "q5_1" => Mix::Q5_1,
            "q5_0" => Mix::Q5_0,
            "q4_k_m" => Mix::Q4KM,
            "q4_0" => Mix::Q4_0,
            other => bail!(
                "unknown --quant {other:?} (expected one of: {})",
                Mix::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mix::F32 => "f32",
            Mix::F16 => "f16",
            Mix::BF16 => "bf16",
            Mix::Q8_0 => "q8_0",
            Mix::Q6K => "q6_k",
            Mix::Q5KM => "q5_k_m",
            Mix::Q5_1 => "q5_1",
            Mix::Q5_0 => "q5_0",
            Mix::Q4KM => "q4_k_m",
            Mix::Q4_0 => "q4_0",
        }
    }

    /// Every mix, largest files first.
    pub const ALL: [Mix; 10] =
        [Mix::F32, Mix::F16, Mix::BF16, Mix::Q8_0, Mix::Q6K, Mix::Q5KM, Mix::Q5_1, Mix::Q5_0, Mix::Q4KM, Mix::Q4_0];

    /// The type a matrix starts from (llama.cpp's `llama_ftype_get_default_type`).
    pub fn default_type(self) -> GgmlType {
        match self {
            Mix::F32 => GgmlType::F32,
            Mix::F16 => GgmlType::F16,
            Mix::BF16 => GgmlType::BF16,
            Mix::Q8_0 => GgmlType::Q8_0,
            Mix::Q6K => GgmlType::Q6K,
            Mix::Q5KM => GgmlType::Q5K,
            Mix::Q5_1 => GgmlType::Q5_1,
            Mix::Q5_0 => GgmlType::Q5_0,
            Mix::Q4KM => GgmlType::Q4K,
            Mix::Q4_0 => GgmlType::Q4_0,
        }
    }

    /// llama.cpp's `llama_ftype` for `general.file_type`.
    pub fn file_type(self) -> u32 {
        match self {
            Mix::F32 => 0,
            Mix::F16 => 1,
            Mix::Q4_0 => 2,
            Mix::Q8_0 => 7,
            Mix::Q5_0 => 8,
            Mix::Q5_1 => 9,
            Mix::Q4KM => 15,
            Mix::Q5KM => 17,
            Mix::Q6K => 18,
            Mix::BF16 => 32,
        }
    }
}

/// llama.cpp's `use_more_bits(i, n)`: the first and last eighth of the layers, and every
/// third one in between.
fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i as isize - (n / 8) as isize) % 3 == 2
}

/// The GGUF type of one tensor under `mix`; `row` is its row length (GGUF `ne[0]`). See the
/// module doc for the rules (llama.cpp's).
pub fn tensor_type(mix: Mix, slot: Slot, cfg: &Lfm2Config, row: usize) -> GgmlType {
    let role = slot.role();
    if !matches!(role, Role::Linear | Role::Embedding) {
        return GgmlType::F32;
    }
    let start = mix.default_type();
    if !start.is_quantized() {
        return start;
    }
    let is_output = slot == Slot::LmHead || (slot == Slot::Embed && cfg.tie_embedding);
    let k_m = matches!(mix, Mix::Q4KM | Mix::Q5KM);
    let more_bits = match slot {
        Slot::Layer(i, LayerSlot::W2) => use_more_bits(i, cfg.num_layers()),
        Slot::Layer(i, LayerSlot::V) => {
            let attn = cfg.attention_layers();
            let k = attn.iter().position(|&l| l == i).unwrap_or(0);
            use_more_bits(k, attn.len())
        }
        _ => false,
    };
    let chosen = if is_output {
        if !row.is_multiple_of(start.block_size()) || start == GgmlType::Q8_0 {
            GgmlType::Q8_0
        } else {
            GgmlType::Q6K
        }
    } else if k_m && more_bits {
        GgmlType::Q6K
    } else {
        start
    };
    fallback(chosen, row)
}

/// llama.cpp's fallback for rows its block does not divide (`tensor_type_fallback`).
fn fallback(t: GgmlType, row: usize) -> GgmlType {
    if row.is_multiple_of(t.block_size()) {
        return t;
    }
    let next = match t {
        GgmlType::Q4K => GgmlType::Q5_0,
        GgmlType::Q5K => GgmlType::Q5_1,
        GgmlType::Q6K => GgmlType::Q8_0,
        other => other,
    };
    if row.is_multiple_of(next.block_size()) {
        next
    } else {
        GgmlType::F16
    }
}

/// What an export wrote.
#[derive(Debug)]
pub struct ExportSummary {
    pub bytes: u64,
    /// (type, tensors, elements) per GGUF type.
    pub by_type: Vec<(GgmlType, usize, usize)>,
    /// Elements of the 2-D weights and their encoded bytes (for bits per weight).
    pub weight_elements: usize,
    pub weight_bytes: usize,
}

/// Tokenizer metadata from an HF `tokenizer.json` (+ optional `tokenizer_config.json`).
pub fn tokenizer_metadata(w: &mut GgufWriter, dir: &Path, cfg: &Lfm2Config) -> Result<()> {
    let path = dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let tj: Json = serde_json::from_str(&text).map_err(|e| anyhow!("{}: invalid JSON: {e}", path.display()))?;
    let model = tj.get("model").ok_or_else(|| anyhow!("{}: no \"model\"", path.display()))?;
    if model.get("type").and_then(Json::as_str) != Some("BPE") {
        bail!("{}: only BPE tokenizers can be exported to GGUF", path.display());
    }
    let vocab = model
        .get("vocab")
        .and_then(Json::as_object)
        .ok_or_else(|| anyhow!("{}: no model.vocab object", path.display()))?;
    let mut tokens: Vec<Option<String>> = vec![None; cfg.vocab_size];
    let mut types = vec![1i32; cfg.vocab_size]; // NORMAL
    let mut put = |tok: &str, id: u64| -> Result<()> {
        let i = id as usize;
        if i >= cfg.vocab_size {
            bail!("{}: token {tok:?} has id {id}, beyond the model's vocab size {}", path.display(), cfg.vocab_size);
        }
        tokens[i] = Some(tok.to_string());
        Ok(())
    };
    for (tok, id) in vocab {
        put(tok, id.as_u64().ok_or_else(|| anyhow!("{}: vocab id of {tok:?} is not an integer", path.display()))?)?;
    }
    for a in tj.get("added_tokens").and_then(Json::as_array).map(|v| v.as_slice()).unwrap_or_default() {
        let (Some(id), Some(content)) = (a.get("id").and_then(Json::as_u64), a.get("content").and_then(Json::as_str))
        else {
            bail!("{}: malformed added_tokens entry {a}", path.display());
        };
        put(content, id)?;
        // CONTROL for special tokens, USER_DEFINED for other added ones (llama.cpp's converter).
        types[id as usize] = if a.get("special").and_then(Json::as_bool).unwrap_or(false) { 3 } else { 4 };
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.unwrap_or_else(|| {
                types[i] = 5; // UNUSED
                format!("[PAD{i}]")
            })
        })
        .collect();
    let merges: Vec<String> = model
        .get("merges")
        .and_then(Json::as_array)
        .map(|m| {
            m.iter()
                .map(|x| match x {
                    Json::String(s) => Some(s.clone()),
                    Json::Array(p) if p.len() == 2 => Some(format!("{} {}", p[0].as_str()?, p[1].as_str()?)),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>()
        })
        .unwrap_or(Some(vec![]))
        .ok_or_else(|| anyhow!("{}: malformed model.merges", path.display()))?;
    // The pre-tokenizer: LFM2's own (a Split regex before byte-level) or plain GPT-2 byte-level.
    let pre = match tj.get("pre_tokenizer").and_then(|p| p.get("type")).and_then(Json::as_str) {
        Some("Sequence") => "lfm2",
        _ => "gpt-2",
    };
    w.set("tokenizer.ggml.model", Value::Str("gpt2".into()));
    w.set("tokenizer.ggml.pre", Value::Str(pre.into()));
    w.set("tokenizer.ggml.tokens", Value::strings(tokens));
    w.set("tokenizer.ggml.token_type", Value::i32s(types));
    w.set("tokenizer.ggml.merges", Value::strings(merges));
    w.set("tokenizer.ggml.bos_token_id", Value::U32(cfg.bos_token_id));
    w.set("tokenizer.ggml.eos_token_id", Value::U32(cfg.eos_token_id));
    w.set("tokenizer.ggml.padding_token_id", Value::U32(cfg.pad_token_id));
    let tcfg: Option<Json> =
        std::fs::read_to_string(dir.join("tokenizer_config.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let add_bos = tcfg.as_ref().and_then(|v| v.get("add_bos_token")).and_then(Json::as_bool).unwrap_or(true);
    w.set("tokenizer.ggml.add_bos_token", Value::Bool(add_bos));
    w.set("tokenizer.ggml.add_eos_token", Value::Bool(false));
    let template = std::fs::read_to_string(dir.join("chat_template.jinja")).ok().or_else(|| {
        match tcfg.as_ref().and_then(|v| v.get("chat_template")) {
            Some(Json::String(s)) => Some(s.clone()),
            // A named list: GGUF's tokenizer.chat_template holds the default one.
            Some(Json::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
                .and_then(|t| t.get("template").and_then(Json::as_str))
                .map(str::to_string),
            _ => None,
        }
    });
    if let Some(t) = template {
        w.set("tokenizer.chat_template", Value::Str(t));
    }
    // The whole HF tokenizer, so lfm-rs can tokenize exactly as before from the GGUF alone.
    w.set("tokenizer.huggingface.json", Value::Str(text));
    Ok(())
}

/// Model metadata (`general.*`, `lfm2.*`).
pub fn model_metadata(w: &mut GgufWriter, cfg: &Lfm2Config, name: &str, mix: Mix) {
    w.set("general.architecture", Value::Str("lfm2".into()));
    w.set("general.name", Value::Str(name.into()));
    w.set("general.file_type", Value::U32(mix.file_type()));
    if !matches!(mix, Mix::F32 | Mix::F16 | Mix::BF16) {
        w.set("general.quantization_version", Value::U32(2));
    }
    w.set("lfm2.vocab_size", Value::U32(cfg.vocab_size as u32));
    w.set("lfm2.context_length", Value::U32(cfg.max_position_embeddings as u32));
    w.set("lfm2.embedding_length", Value::U32(cfg.hidden_size as u32));
    w.set("lfm2.feed_forward_length", Value::U32(cfg.ff_dim as u32));
    w.set("lfm2.block_count", Value::U32(cfg.num_layers() as u32));
    w.set("lfm2.attention.head_count", Value::U32(cfg.num_attention_heads as u32));
    let kv: Vec<i32> = cfg
        .layer_types
        .iter()
        .map(|k| if *k == LayerKind::Attention { cfg.num_key_value_heads as i32 } else { 0 })
        .collect();
    w.set("lfm2.attention.head_count_kv", Value::i32s(kv));
    w.set("lfm2.attention.key_length", Value::U32(cfg.head_dim as u32));
    w.set("lfm2.attention.value_length", Value::U32(cfg.head_dim as u32));
    w.set("lfm2.attention.layer_norm_rms_epsilon", Value::F32(cfg.norm_eps as f32));
    w.set("lfm2.rope.freq_base", Value::F32(cfg.rope_theta as f32));
    w.set("lfm2.shortconv.l_cache", Value::U32(cfg.conv_l_cache as u32));
}

/// Builds the GGUF image of `model` (metadata, tokenizer from `tok_dir` when given — llama.cpp
/// needs it —, every tensor). `tok_dir` is a checkpoint directory (its `tokenizer.json`) or a
/// GGUF file (its `tokenizer.*` metadata is copied, for re-encoding an f32/f16/bf16 GGUF).
pub fn build(
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    tok_dir: Option<&Path>,
    name: &str,
    mix: Mix,
    mut progress: impl FnMut(usize, usize),
) -> Result<(GgufWriter, ExportSummary)> {
    // Check every tensor's type first: a bad shape fails before any work.
    let slots = tensor_table(cfg);
    let types: Vec<GgmlType> = slots.iter().map(|s| tensor_type(mix, *s, cfg, s.gguf_dims(cfg)[0])).collect();
    let mut w = GgufWriter::default();
    model_metadata(&mut w, cfg, name, mix);
    match tok_dir {
        Some(p) if crate::load::is_gguf(p) => {
            let g = crate::gguf::GgufFile::open(p)?;
            for (k, v) in g.kv.iter().filter(|(k, _)| k.starts_with("tokenizer.")) {
                w.set(k, v.clone());
            }
        }
        Some(dir) => tokenizer_metadata(&mut w, dir, cfg)?,
        None => {}
    }
    let mut summary = ExportSummary { bytes: 0, by_type: vec![], weight_elements: 0, weight_bytes: 0 };
    let tensors = model.hf_tensors(cfg);
    let n = tensors.len();
    for (k, ((slot, _shape, values), ty)) in tensors.into_iter().zip(types).enumerate() {
        let dims = slot.gguf_dims(cfg);
        // Row-major HF data is GGUF data with ne = reversed shape: rows of ne[0] elements.
        let data: Vec<u8> = values.chunks(dims[0]).flat_map(|row| quantize_row(ty, row)).collect();
        let elems: usize = dims.iter().product();
        if matches!(slot.role(), Role::Linear | Role::Embedding) {
            summary.weight_elements += elems;
            summary.weight_bytes += data.len();
        }
        match summary.by_type.iter_mut().find(|e| e.0 == ty) {
            Some(e) => {
                e.1 += 1;
                e.2 += elems;
            }
            None => summary.by_type.push((ty, 1, elems)),
        }
        w.add_tensor(WriteTensor { name: slot.gguf_name(), dims, ty, data });
        progress(k + 1, n);
    }
    Ok((w, summary))
}

/// llama.cpp's LoRA adapter GGUF (what its `convert_lora_to_gguf.py` writes, and what
/// `llama-cli -m BASE.gguf --lora F.gguf` applies): `general.type = "adapter"`,
/// `adapter.type = "lora"`, `adapter.lora.alpha`, and for each adapted weight
/// `<GGUF name>.lora_a` (PEFT's `lora_A` [r, in], so GGUF ne [in, r]) and `.lora_b` (PEFT's
/// `lora_B` [out, r], ne [r, out]) in f32. `cfg` is the base model's; the adapter's modules
/// must be its projections. The alpha written is the adapter's own (llama.cpp scales by
/// alpha / r, as PEFT).
pub fn build_lora(cfg: &Lfm2Config, adapter_dir: &Path, name: &str) -> Result<GgufWriter> {
    let (spec, _) = lfm_model::lora::read_config(adapter_dir)?;
    if spec.use_rslora {
        bail!(
            "{}: use_rslora scales by alpha / sqrt(r), which llama.cpp's LoRA GGUF cannot express; merge the adapter (lfm adapter merge) and export the merged model",
            adapter_dir.join("adapter_config.json").display()
        );
    }
    let file = adapter_dir.join("adapter_model.safetensors");
    let src = lfm_model::hf::SafetensorsSource::open_files(std::slice::from_ref(&file))?;
    // HF module path -> the base tensor's slot.
    let slots: std::collections::HashMap<String, Slot> = tensor_table(cfg)
        .into_iter()
        .filter(|s| s.role() == Role::Linear)
        .map(|s| (s.hf_name().trim_end_matches(".weight").to_string(), s))
        .collect();
    let mut names: Vec<&str> = src.names();
    names.sort();
    let mut w = GgufWriter::default();
    w.set("general.architecture", Value::Str("lfm2".into()));
    w.set("general.type", Value::Str("adapter".into()));
    w.set("general.name", Value::Str(name.into()));
    w.set("general.file_type", Value::U32(Mix::F32.file_type()));
    w.set("adapter.type", Value::Str("lora".into()));
    w.set("adapter.lora.alpha", Value::F32(spec.alpha as f32));
    for n in names {
        let stripped = n.strip_prefix("base_model.model.").unwrap_or(n);
        let (module, suffix) = if let Some(m) = stripped.strip_suffix(".lora_A.weight") {
            (m, "lora_a")
        } else if let Some(m) = stripped.strip_suffix(".lora_B.weight") {
            (m, "lora_b")
        } else {
            bail!("{}: tensor {n} is not a lora_A/lora_B weight", file.display());
        };
        let slot = slots
            .get(module)
            .ok_or_else(|| anyhow!("{}: tensor {n}: the base model has no linear module {module}", file.display()))?;
        let (shape, values) = src.read(n)?;
        let [out, inp] = {
            let d = slot.hf_shape(cfg);
            [d[0], d[1]]
        };
        let want = if suffix == "lora_a" { [spec.r, inp] } else { [out, spec.r] };
        if shape != want {
            bail!("{}: tensor {n}: shape {shape:?}, expected {want:?}", file.display());
        }
        let dims = vec![shape[1], shape[0]];
        let data = quantize_row(GgmlType::F32, &values);
        w.add_tensor(WriteTensor { name: format!("{}.{suffix}", slot.gguf_name()), dims, ty: GgmlType::F32, data });
    }
    if w.tensors.is_empty() {
        bail!("{}: no LoRA tensors", file.display());
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_more_bits_matches_llama_cpp_for_16_layers() {
        // n = 16: i < 2, i >= 14, or (i - 2) % 3 == 2 -> 0, 1, 4, 7, 10, 13, 14, 15.
        let picked: Vec<usize> = (0..16).filter(|&i| use_more_bits(i, 16)).collect();
        assert_eq!(picked, vec![0, 1, 4, 7, 10, 13, 14, 15]);
        // n = 6 attention layers: 6/8 = 0, 7*6/8 = 5 -> 2 and 5.
        let picked: Vec<usize> = (0..6).filter(|&i| use_more_bits(i, 6)).collect();
        assert_eq!(picked, vec![2, 5]);
    }

    #[test]
    fn mixes_choose_types_like_llama_cpp() {
        let c = Lfm2Config::lfm2_350m();
        let t = |m, s: Slot| tensor_type(m, s, &c, s.gguf_dims(&c)[0]);
        use LayerSlot::*;
        assert_eq!(t(Mix::Q4KM, Slot::Layer(0, W1)), GgmlType::Q4K);
        assert_eq!(t(Mix::Q4KM, Slot::Layer(0, W2)), GgmlType::Q6K); // use_more_bits(0, 16)
        assert_eq!(t(Mix::Q4KM, Slot::Layer(2, W2)), GgmlType::Q4K);
        assert_eq!(t(Mix::Q4KM, Slot::Layer(8, V)), GgmlType::Q6K); // third attention layer
        assert_eq!(t(Mix::Q4KM, Slot::Layer(2, V)), GgmlType::Q4K);
        assert_eq!(t(Mix::Q4KM, Slot::Embed), GgmlType::Q6K); // tied: the output
        assert_eq!(t(Mix::Q5KM, Slot::Layer(2, W2)), GgmlType::Q5K);
        assert_eq!(t(Mix::Q5KM, Slot::Layer(15, W2)), GgmlType::Q6K);
        assert_eq!(t(Mix::Q6K, Slot::Layer(2, W2)), GgmlType::Q6K);
        assert_eq!(t(Mix::Q4_0, Slot::Embed), GgmlType::Q6K);
        assert_eq!(t(Mix::Q8_0, Slot::Embed), GgmlType::Q8_0);
        assert_eq!(t(Mix::Q4_0, Slot::Layer(0, W2)), GgmlType::Q4_0); // no use_more_bits in q4_0
        assert_eq!(t(Mix::Q4_0, Slot::Layer(3, ConvInProj)), GgmlType::Q4_0);
        assert_eq!(t(Mix::Q8_0, Slot::Layer(3, ConvKernel)), GgmlType::F32);
        assert_eq!(t(Mix::F16, Slot::FinalNorm), GgmlType::F32);
        assert_eq!(t(Mix::F16, Slot::Layer(3, ConvOutProj)), GgmlType::F16);
        // Rows the block does not divide fall back as llama.cpp does.
        let r = |m, s, row| tensor_type(m, s, &c, row);
        assert_eq!(r(Mix::Q4KM, Slot::Layer(0, W1), 128), GgmlType::Q5_0);
        assert_eq!(r(Mix::Q5KM, Slot::Layer(0, W1), 128), GgmlType::Q5_1);
        assert_eq!(r(Mix::Q4KM, Slot::Layer(0, W2), 128), GgmlType::Q8_0); // Q6_K -> Q8_0
        assert_eq!(r(Mix::Q4KM, Slot::Embed, 128), GgmlType::Q8_0);
        assert_eq!(r(Mix::Q4_0, Slot::Embed, 96), GgmlType::Q8_0); // Q6_K would not fit
        assert_eq!(r(Mix::Q4_0, Slot::Layer(0, W1), 48), GgmlType::F16);
        assert_eq!(r(Mix::Q4KM, Slot::Layer(0, W1), 48), GgmlType::F16);
    }
}
