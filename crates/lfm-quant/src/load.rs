//! Opening a model by path: an HF checkpoint directory or a `.gguf` file.
//!
//! Lives here because this is the crate that reads GGUF; a directory is delegated to
//! lfm-model, and its tokenizer to lfm-data. Two purposes, two functions:
//! - [`load_model`]: burn parameters (training, export, parity checks, `lfm logits`); a GGUF
//!   file's quantized weights stay packed either way.
//! - [`load_for_inference`]: what generation and evaluation use — on the CPU, f32 weights as
//!   host matrices ([`lfm_model::infer`] decides, `LFM_DENSE_F32=1` switches it off).

use std::path::Path;

use anyhow::{anyhow, Result};
use burn::tensor::Device;
use lfm_data::template::{ChatTemplate, ChatTemplates, TextCodec};
use lfm_model::{Lfm2Config, Lfm2Model};
use tokenizers::Tokenizer;

use crate::gguf::GgufFile;

/// Whether `path` names a GGUF file (rather than an HF checkpoint directory).
pub fn is_gguf(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// Loads a model with burn parameters: an HF checkpoint directory, or a `.gguf` file whose
/// quantized weights stay packed (the model runs on them directly).
pub fn load_model(path: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model)> {
    if is_gguf(path) {
        let l = crate::import::load_gguf(path, device)?;
        return Ok((l.cfg, l.model));
    }
    Ok(lfm_model::hf::load_dir(path, device)?)
}

/// Loads a model for inference: as [`load_model`], with a directory's f32 weights held as
/// host matrices on the CPU ([`lfm_model::infer::load_dir`]).
pub fn load_for_inference(path: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model)> {
    if is_gguf(path) {
        return load_model(path, device);
    }
    Ok(lfm_model::infer::load_dir(path, device)?)
}

/// [`load_for_inference`] with a PEFT LoRA adapter (`adapter_config.json` +
/// `adapter_model.safetensors`) merged into the weights first, so inference runs at the
/// base model's speed. The base must be an HF checkpoint directory.
pub fn load_for_inference_with(
    path: &Path,
    adapter: Option<&Path>,
    device: &Device,
) -> Result<(Lfm2Config, Lfm2Model)> {
    let Some(a) = adapter else { return load_for_inference(path, device) };
    if is_gguf(path) {
        // A packed base stays packed: the adapter runs beside it, unmerged (QLoRA inference).
        let (cfg, base) = load_model(path, device)?;
        let (model, _) = lfm_model::lora::load_peft(base, a, device)?;
        return Ok((cfg, model));
    }
    let (cfg, base) = lfm_model::hf::load_dir(path, device)?;
    let (model, _) = lfm_model::lora::load_peft(base, a, device)?;
    Ok((cfg, lfm_model::lora::merge(model)?.into_inference()))
}

/// The tokenizer of a checkpoint directory (`tokenizer.json`) or of a GGUF file
/// ([`crate::import::tokenizer`]).
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if is_gguf(path) {
        return gguf_tokenizer(&GgufFile::open(path)?);
    }
    lfm_data::tokenizer::load(&path.join("tokenizer.json"))
}

/// The tokenizer stored in an opened GGUF file, or an error saying it has none.
pub fn gguf_tokenizer(g: &GgufFile) -> Result<Tokenizer> {
    crate::import::tokenizer(g)?.ok_or_else(|| {
        anyhow!("{}: no tokenizer in the file (neither tokenizer.huggingface.json nor tokenizer.ggml.model)", g.path)
    })
}

/// [`load_for_inference`] with the checkpoint's tokenizer, checked against the config (ids fit
/// the embedding; bos/eos/pad are the tokenizer's special tokens).
pub fn load_with_tokenizer(path: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model, Tokenizer)> {
    let (cfg, model) = load_for_inference(path, device)?;
    let tok = load_tokenizer(path)?;
    lfm_data::tokenizer::check_against_model(&tok, &cfg, &path.display().to_string())?;
    Ok((cfg, model, tok))
}

/// The text codec (tokenizer, chat template, special tokens) of a checkpoint directory or of a
/// GGUF file (`tokenizer.chat_template` and the `tokenizer.ggml.*` special-token ids).
pub fn load_codec(path: &Path) -> Result<TextCodec> {
    if !is_gguf(path) {
        return TextCodec::load(path);
    }
    let g = GgufFile::open(path)?;
    let tokenizer = gguf_tokenizer(&g)?;
    let text = |k: &str| g.get(k).and_then(|v| v.as_str()).map(String::from);
    let id_text = |k: &str| g.get(k).and_then(|v| v.as_u64()).and_then(|i| tokenizer.id_to_token(i as u32));
    let mut specials = serde_json::Map::new();
    for (name, key) in [
        ("bos_token", "tokenizer.ggml.bos_token_id"),
        ("eos_token", "tokenizer.ggml.eos_token_id"),
        ("unk_token", "tokenizer.ggml.unknown_token_id"),
        ("sep_token", "tokenizer.ggml.seperator_token_id"),
        ("pad_token", "tokenizer.ggml.padding_token_id"),
    ] {
        if let Some(t) = id_text(key) {
            specials.insert(name.into(), serde_json::Value::String(t));
        }
    }
    let templates = match text("tokenizer.chat_template") {
        Some(src) => Some(ChatTemplates {
            templates: vec![(
                "default".into(),
                ChatTemplate::new(format!("{} (tokenizer.chat_template)", path.display()), &src)?,
            )],
        }),
        None => None,
    };
    Ok(TextCodec {
        templates,
        specials,
        add_bos: crate::vocab::add_bos(&g),
        source: path.display().to_string(),
        options: Default::default(),
        template_name: None,
        tokenizer,
    })
}
