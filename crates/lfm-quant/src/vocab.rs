//! A tokenizer from a GGUF file's `tokenizer.ggml.*` keys, for files that do not carry
//! `tokenizer.huggingface.json` (those written by llama.cpp's `convert_hf_to_gguf.py`).
//!
//! The keys, as the converter writes a byte-level BPE (`tokenizer.ggml.model` = `gpt2`):
//! `tokens` (the vocabulary in id order, byte-level encoded as in HF's `tokenizer.json`),
//! `token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), `merges`
//! (`"a b"` in rank order), `pre` (the pre-tokenizer's name), the special ids and
//! `add_bos_token`. Ids the HF vocabulary lacks are `[PADi]` entries of type unused.
//!
//! They are assembled with HF `tokenizers` as llama.cpp interprets them (`llama-vocab.cpp`):
//! - `pre` = `lfm2` (and the other names llama.cpp treats as llama3): the llama3 split regex
//!   ([`lfm_data::tokenizer::PRETOKENIZE_REGEX`], the regex of LFM2's own `tokenizer.json`),
//!   then byte-level without its own regex; merges are skipped for words that are a token
//!   (`ignore_merges`); BOS is added by default.
//! - `pre` = `gpt-2` / `default` / absent: GPT-2's byte-level pre-tokenizer with its regex.
//! - Control tokens become special added tokens (matched in text, dropped by
//!   `decode(.., skip_special)`), user-defined ones plain added tokens; unused ids get no token.

use std::collections::HashSet;

use anyhow::{anyhow, bail, Result};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::gguf::{GgufFile, Value};

/// llama.cpp's token types (`llama_token_type`).
const NORMAL: i64 = 1;
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;
const UNUSED: i64 = 5;

/// Pre-tokenizer names llama.cpp maps to its llama3 pre-tokenizer (`ignore_merges`, add BOS).
const LLAMA3_STYLE: [&str; 8] =
    ["lfm2", "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0"];

/// The pre-tokenizer a `tokenizer.ggml.pre` value names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pre {
    /// The llama3 regex split, then byte-level (LFM2).
    Llama3,
    /// GPT-2's byte-level pre-tokenizer with its own regex.
    Gpt2,
}

fn pre_of(g: &GgufFile) -> Result<Pre> {
    match g.get("tokenizer.ggml.pre").map(|v| v.as_str()) {
        None => Ok(Pre::Gpt2),
        Some(Some(p)) if LLAMA3_STYLE.contains(&p) => Ok(Pre::Llama3),
        Some(Some("gpt-2" | "default")) => Ok(Pre::Gpt2),
        Some(Some(p)) => {
            bail!("{}: tokenizer.ggml.pre {p:?} is not supported (lfm2, llama3-style and gpt-2 are)", g.path)
        }
        Some(None) => bail!("{}: tokenizer.ggml.pre is not a string", g.path),
    }
}

/// Whether text gets a BOS token in front: `tokenizer.ggml.add_bos_token`, else the
/// pre-tokenizer's default in llama.cpp (yes for lfm2 and the llama3 family).
pub fn add_bos(g: &GgufFile) -> bool {
    match g.get("tokenizer.ggml.add_bos_token") {
        Some(Value::Bool(b)) => *b,
        _ => matches!(pre_of(g), Ok(Pre::Llama3)),
    }
}

/// An array of strings under `key`.
fn strings<'a>(g: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let arr = g.get(key).and_then(Value::as_array).ok_or_else(|| anyhow!("{}: {key} is not an array", g.path))?;
    arr.iter().map(|v| v.as_str().ok_or_else(|| anyhow!("{}: {key} holds a non-string", g.path))).collect()
}

/// The tokenizer the `tokenizer.ggml.*` keys describe; `None` when the file has no
/// `tokenizer.ggml.model`.
pub fn ggml_tokenizer(g: &GgufFile) -> Result<Option<Tokenizer>> {
    let model = match g.get("tokenizer.ggml.model") {
        None => return Ok(None),
        Some(v) => v.as_str().ok_or_else(|| anyhow!("{}: tokenizer.ggml.model is not a string", g.path))?,
    };
    if model != "gpt2" {
        bail!("{}: tokenizer.ggml.model {model:?} is not supported (only gpt2, byte-level BPE)", g.path);
    }
    let pre = pre_of(g)?;
    let tokens = strings(g, "tokenizer.ggml.tokens")?;
    let types: Vec<i64> = match g.get("tokenizer.ggml.token_type") {
        None => vec![NORMAL; tokens.len()],
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|t| t.as_u64().map(|t| t as i64)).collect::<Option<Vec<_>>>())
            .filter(|t| t.len() == tokens.len())
            .ok_or_else(|| {
                anyhow!("{}: tokenizer.ggml.token_type must hold one integer per token ({})", g.path, tokens.len())
            })?,
    };
    let merges = match g.get("tokenizer.ggml.merges") {
        None => vec![],
        Some(_) => strings(g, "tokenizer.ggml.merges")?,
    };
    let merges: Vec<(&str, &str)> = merges
        .iter()
        .map(|m| {
            m.split_once(' ').ok_or_else(|| anyhow!("{}: tokenizer.ggml.merges entry {m:?} is not \"a b\"", g.path))
        })
        .collect::<Result<_>>()?;
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut seen = HashSet::with_capacity(tokens.len());
    for (id, (tok, ty)) in tokens.iter().zip(&types).enumerate() {
        if *ty == UNUSED {
            continue;
        }
        if !seen.insert(*tok) {
            bail!("{}: tokenizer.ggml.tokens holds {tok:?} twice (the second at id {id})", g.path);
        }
        vocab.insert(tok.to_string(), id.into());
    }
    // The BPE model through its serialized form (as text: its deserializer borrows): its
    // builder takes a hash map type that `tokenizers` does not re-export. Merges naming tokens
    // outside the vocabulary fail here.
    let model = serde_json::json!({
        "type": "BPE",
        "vocab": vocab,
        "merges": merges,
        "ignore_merges": pre == Pre::Llama3,
    });
    let bpe: BPE = serde_json::from_str(&model.to_string())
        .map_err(|e| anyhow!("{}: tokenizer.ggml.tokens/merges do not form a BPE vocabulary: {e}", g.path))?;
    let mut tok = Tokenizer::new(bpe);
    let byte_level = |use_regex| ByteLevel::new(false, true, use_regex);
    match pre {
        Pre::Llama3 => {
            let split = Split::new(
                SplitPattern::Regex(lfm_data::tokenizer::PRETOKENIZE_REGEX.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| anyhow!("pre-tokenizer regex: {e}"))?;
            tok.with_pre_tokenizer(Some(Sequence::new(vec![
                PreTokenizerWrapper::Split(split),
                PreTokenizerWrapper::ByteLevel(byte_level(false)),
            ])));
        }
        Pre::Gpt2 => {
            tok.with_pre_tokenizer(Some(byte_level(true)));
        }
    }
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    let added = |ty: i64, special: bool| -> Vec<AddedToken> {
        tokens.iter().zip(&types).filter(|(_, t)| **t == ty).map(|(s, _)| AddedToken::from(*s, special)).collect()
    };
    tok.add_special_tokens(&added(CONTROL, true));
    tok.add_tokens(&added(USER_DEFINED, false));
    // BOS in front of `encode(text, true)`, as llama.cpp adds it.
    let bos = g.get("tokenizer.ggml.bos_token_id").and_then(Value::as_u64);
    if let Some(bos) = bos.filter(|_| add_bos(g)) {
        let bos_tok = tokens
            .get(bos as usize)
            .ok_or_else(|| anyhow!("{}: tokenizer.ggml.bos_token_id {bos} is not a token id", g.path))?;
        let tp = TemplateProcessing::builder()
            .try_single(vec![bos_tok.to_string(), "$A:0".into()])
            .and_then(|b| b.try_pair(vec![bos_tok.to_string(), "$A:0".into(), format!("{bos_tok}:1"), "$B:1".into()]))
            .map_err(|e| anyhow!("{}: BOS template: {e}", g.path))?
            .special_tokens(vec![(bos_tok.to_string(), bos as u32)])
            .build()
            .map_err(|e| anyhow!("{}: BOS template: {e}", g.path))?;
        tok.with_post_processor(Some(tp));
    }
    Ok(Some(tok))
}
