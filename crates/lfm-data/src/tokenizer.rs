//! Tokenizers: load any HF `tokenizer.json`, train a byte-level BPE with LFM2's special tokens
//! at LFM2's ids, and check a tokenizer against a model config. All of it is HF `tokenizers`;
//! this module only assembles the pipeline and reports errors with the file name.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use lfm_model::Lfm2Config;
use sha2::{Digest, Sha256};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
pub use tokenizers::Tokenizer;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, TokenizerImpl};

/// LFM2's special tokens, in id order (docs/lfm2-architecture.md §10.1): id `i` is `SPECIAL_TOKENS[i]`.
pub const SPECIAL_TOKENS: [&str; 14] = [
    "<|pad|>",
    "<|startoftext|>",
    "<|endoftext|>",
    "<|fim_pre|>",
    "<|fim_mid|>",
    "<|fim_suf|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|tool_list_start|>",
    "<|tool_list_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "<|tool_response_start|>",
    "<|tool_response_end|>",
];
pub const PAD: &str = "<|pad|>";
pub const BOS: &str = "<|startoftext|>";
pub const END_OF_TEXT: &str = "<|endoftext|>";
pub const IM_START: &str = "<|im_start|>";
pub const IM_END: &str = "<|im_end|>";
pub const TOOL_LIST_START: &str = "<|tool_list_start|>";
pub const TOOL_LIST_END: &str = "<|tool_list_end|>";
pub const TOOL_CALL_START: &str = "<|tool_call_start|>";
pub const TOOL_CALL_END: &str = "<|tool_call_end|>";
pub const TOOL_RESPONSE_START: &str = "<|tool_response_start|>";
pub const TOOL_RESPONSE_END: &str = "<|tool_response_end|>";

/// The split pattern of llama3-style pre-tokenizers, which LFM2's tokenizer follows (docs/lfm2-architecture.md §8.2:
/// llama.cpp treats `lfm2` like the llama3 regex): contractions, letter runs with one leading
/// non-letter, numbers of at most three digits, punctuation runs, newlines, other spaces.
pub const PRETOKENIZE_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Loads a `tokenizer.json` with a one-line error naming the file.
pub fn load(path: &Path) -> Result<Tokenizer> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Tokenizer::from_bytes(&bytes)
        .map_err(|e| anyhow!("{}: not a valid tokenizer.json: {}", path.display(), one_line(&e.to_string())))
}

/// sha256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Id of a token the tokenizer must have, with an error naming it.
pub fn require_id(tok: &Tokenizer, token: &str) -> Result<u32> {
    tok.token_to_id(token).ok_or_else(|| anyhow!("tokenizer has no {token} token"))
}

/// Options for [`train_bpe`].
#[derive(Clone, Debug)]
pub struct BpeOptions {
    /// Final vocabulary size, special tokens and the 256 byte symbols included.
    pub vocab_size: usize,
    /// A pair must occur this often to be merged.
    pub min_frequency: u64,
    /// Post-processor adds `<|startoftext|>` in front of every encoding (as LFM2's does).
    pub add_bos: bool,
    pub show_progress: bool,
}

impl Default for BpeOptions {
    fn default() -> Self {
        Self { vocab_size: 8192, min_frequency: 2, add_bos: true, show_progress: false }
    }
}

/// Trains a byte-level BPE on a stream of documents: LFM2's 14 special tokens at ids 0..13,
/// then the 256 byte symbols, then learned merges up to `vocab_size` (fewer if the corpus runs
/// out of pairs at `min_frequency`).
pub fn train_bpe<I, S>(docs: I, opts: &BpeOptions) -> Result<Tokenizer>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    let min = SPECIAL_TOKENS.len() + 256;
    if opts.vocab_size < min {
        bail!(
            "--vocab-size {} is too small: LFM2's 14 special tokens and 256 byte symbols need {min}",
            opts.vocab_size
        );
    }
    let split = Split::new(SplitPattern::Regex(PRETOKENIZE_REGEX.into()), SplitDelimiterBehavior::Isolated, false)
        .map_err(|e| anyhow!("pre-tokenizer regex: {e}"))?;
    let pre = Sequence::new(vec![
        PreTokenizerWrapper::Split(split),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, false)),
    ]);
    let mut tok: TokenizerImpl<_, _, _, _, _> = Tokenizer::new(BPE::default()).into_inner();
    tok.with_pre_tokenizer(Some(pre));
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    if opts.add_bos {
        let tp = TemplateProcessing::builder()
            .try_single(format!("{BOS}:0 $A:0"))
            .map_err(|e| anyhow!("template: {e}"))?
            .try_pair(format!("{BOS}:0 $A:0 {BOS}:1 $B:1"))
            .map_err(|e| anyhow!("template: {e}"))?
            .special_tokens(vec![(BOS, 1u32)])
            .build()
            .map_err(|e| anyhow!("template: {e}"))?;
        tok.with_post_processor(Some(tp));
    }
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|s| AddedToken::from(*s, true)).collect();
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(opts.vocab_size)
        .min_frequency(opts.min_frequency)
        .show_progress(opts.show_progress)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    tok.train(&mut trainer, docs).map_err(|e| anyhow!("BPE training failed: {e}"))?;
    let tok: Tokenizer = tok.into();
    for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
        let id = tok.token_to_id(s);
        if id != Some(i as u32) {
            bail!("internal: special token {s} got id {id:?}, expected {i}");
        }
    }
    Ok(tok)
}

/// Writes `tokenizer.json` and a `tokenizer_config.json` (LFM2's bos/eos/pad, BOS added) into
/// `dir`, each atomically.
pub fn save_dir(tok: &Tokenizer, dir: &Path, model_max_length: usize) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let json = tok.to_string(true).map_err(|e| anyhow!("serializing tokenizer: {e}"))?;
    lfm_model::io::write_atomic(&dir.join("tokenizer.json"), json.as_bytes())?;
    let cfg = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": IM_END,
        "pad_token": PAD,
        "add_bos_token": true,
        "model_max_length": model_max_length,
    });
    lfm_model::io::write_atomic(&dir.join("tokenizer_config.json"), serde_json::to_string_pretty(&cfg)?.as_bytes())?;
    Ok(())
}

/// Checks that a tokenizer fits a model: every id fits the embedding, and the config's
/// bos/eos/pad ids are the tokenizer's `<|startoftext|>` / `<|im_end|>` or `<|endoftext|>` /
/// `<|pad|>`. `what` names the tokenizer file in errors.
pub fn check_against_model(tok: &Tokenizer, cfg: &Lfm2Config, what: &str) -> Result<()> {
    let v = tok.get_vocab_size(true);
    if v > cfg.vocab_size {
        bail!("{what}: tokenizer has {v} tokens but the model's vocab_size is {}", cfg.vocab_size);
    }
    let check = |name: &str, id: u32, allowed: &[&str]| -> Result<()> {
        let tok_str = tok.id_to_token(id);
        match tok_str {
            Some(s) if allowed.contains(&s.as_str()) => Ok(()),
            Some(s) => {
                bail!("{what}: model's {name} {id} is {s:?} in this tokenizer, expected {}", allowed.join(" or "))
            }
            None => bail!("{what}: model's {name} {id} is not in this tokenizer"),
        }
    };
    check("bos_token_id", cfg.bos_token_id, &[BOS])?;
    check("eos_token_id", cfg.eos_token_id, &[IM_END, END_OF_TEXT])?;
    check("pad_token_id", cfg.pad_token_id, &[PAD])?;
    Ok(())
}

/// Text of generated tokens as it becomes final, for printing while generating.
///
/// Built on `tokenizers`' own `DecodeStream`, which decodes a short window of recent tokens and
/// holds text back while it ends in an incomplete character (U+FFFD). That stream has no end:
/// text still held when generation stops would be lost, so [`TextStream::finish`] decodes the
/// whole output once and returns whatever was not yet handed out. Every chunk returned, joined,
/// is exactly `tokenizer.decode(all ids, skip_special)`; if the library's stream ever reports an
/// error, nothing more is handed out until `finish`, which completes the text or reports it.
pub struct TextStream<'a> {
    tok: &'a Tokenizer,
    stream: tokenizers::DecodeStream<
        'a,
        tokenizers::ModelWrapper,
        tokenizers::NormalizerWrapper,
        tokenizers::PreTokenizerWrapper,
        tokenizers::PostProcessorWrapper,
        tokenizers::DecoderWrapper,
    >,
    skip_special: bool,
    ids: Vec<u32>,
    emitted: String,
    broken: bool,
}

impl<'a> TextStream<'a> {
    /// A stream over `tok`; `skip_special` drops special tokens as `Tokenizer::decode` does.
    pub fn new(tok: &'a Tokenizer, skip_special: bool) -> Self {
        let stream = tok.decode_stream(skip_special);
        TextStream { tok, stream, skip_special, ids: Vec::new(), emitted: String::new(), broken: false }
    }

    /// Adds one token; returns the text that became final with it (often none, or a word).
    /// A decoding error stops the streaming; [`TextStream::finish`] reports it.
    pub fn push(&mut self, id: u32) -> Option<String> {
        self.ids.push(id);
        if self.broken {
            return None;
        }
        match self.stream.step(id) {
            Ok(text) => {
                self.emitted.push_str(text.as_deref().unwrap_or(""));
                text
            }
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }

    /// The rest of the text: everything decoded from all tokens that was not returned yet.
    pub fn finish(self) -> Result<String> {
        let all = self.tok.decode(&self.ids, self.skip_special).map_err(|e| anyhow!("decoding: {e}"))?;
        match all.strip_prefix(self.emitted.as_str()) {
            Some(rest) => Ok(rest.to_string()),
            None => bail!("decoding: the streamed text is not a prefix of the full decode"),
        }
    }
}
