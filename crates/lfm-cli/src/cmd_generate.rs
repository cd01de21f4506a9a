//! `lfm generate`: tokenise (through the checkpoint's chat template unless `--raw`), sample
//! with the checkpoint's `generation_config.json` under the flags given, and stream the text.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::Args;
use lfm_data::tokenizer::TextStream;
use lfm_model::generate::{generate, GenerateOptions};

use crate::{progress, SamplingArgs};

#[derive(Args)]
pub struct GenerateArgs {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json) or GGUF file.
    #[arg(long)]
    pub model: PathBuf,
    /// Prompt text; repeat the flag for a batch. Text starting with `-` is still a prompt
    /// (`--prompt "-hello"`).
    #[arg(long, allow_hyphen_values = true, required_unless_present = "prompt_file")]
    pub prompt: Vec<String>,
    /// Read a prompt from a file (its whole UTF-8 text; `-` reads stdin). Repeatable; these
    /// prompts come after the `--prompt` ones in the batch.
    #[arg(long)]
    pub prompt_file: Vec<PathBuf>,
    /// System message for the chat template.
    #[arg(long)]
    pub system: Option<String>,
    /// Feed the prompt as plain text, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Maximum new tokens per prompt.
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(a: &GenerateArgs, device: &Device) -> Result<()> {
    let mut texts = a.prompt.clone();
    for f in &a.prompt_file {
        texts.push(read_prompt_file(f)?);
    }
    // The model first: a wrong --model path is then reported as such, not as a missing
    // tokenizer.
    let (cfg, model) =
        progress::loading(&a.model, |p| lfm_quant::load::load_for_inference_with(p, a.adapter.as_deref(), device))?;
    let codec = lfm_quant::load::load_codec(&a.model)?;
    lfm_data::tokenizer::check_against_model(&codec.tokenizer, &cfg, &a.model.display().to_string())?;
    let prompts = texts
        .iter()
        .map(|p| {
            if a.raw {
                codec.encode_plain(p)
            } else {
                let mut messages = Vec::new();
                if let Some(s) = &a.system {
                    messages.push(lfm_data::chat::message("system", s));
                }
                messages.push(lfm_data::chat::message("user", p));
                codec.encode_prompt(&lfm_data::chat::Conversation::new(messages, None)?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    // Sampling: the flags given, over the checkpoint's generation_config.json.
    let defaults = if a.model.is_dir() {
        lfm_model::generate::generation_defaults(&a.model.join("generation_config.json"))?
    } else {
        None
    };
    let sampling = a.sampling.over(defaults);
    sampling.validate()?;
    // Stop on the configured EOS (<|im_end|>) and, defensively, on <|endoftext|>.
    let mut stop = vec![cfg.eos_token_id];
    if let Some(id) = codec.tokenizer.token_to_id("<|endoftext|>") {
        stop.push(id);
    }
    let opts = GenerateOptions { max_new_tokens: a.max_new_tokens, stop_tokens: stop, sampling, keep_logits: false };
    // One prompt streams its text as it becomes final (an incomplete character waits for the
    // token that completes it); several print their texts at the end.
    let mut stream = (prompts.len() == 1).then(|| TextStream::new(&codec.tokenizer, true));
    let start = Instant::now();
    let mut n_tokens = 0usize;
    let out = generate(&model, &cfg, &prompts, &opts, device, |_, tok| {
        n_tokens += 1;
        if let Some(s) = stream.as_mut() {
            if let Some(text) = s.push(tok) {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
        }
    })?;
    if let Some(s) = stream {
        println!("{}", s.finish()?);
    } else {
        for (i, toks) in out.tokens.iter().enumerate() {
            println!("[{i}] {}", codec.decode(toks)?);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} prompt(s), {} prompt tokens, {n_tokens} new tokens in {secs:.2}s ({:.1} tok/s), peak RSS {}",
        prompts.len(),
        prompts.iter().map(Vec::len).sum::<usize>(),
        n_tokens as f64 / secs.max(1e-9),
        progress::peak_rss_bytes()
            .map(|b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64))
            .unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}

/// The whole text of a prompt file (`-`: stdin), which must be UTF-8.
fn read_prompt_file(path: &std::path::Path) -> Result<String> {
    let bytes = if path.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b).context("stdin: cannot read the prompt")?;
        b
    } else {
        std::fs::read(path).with_context(|| format!("{}: cannot read the prompt file", path.display()))?
    };
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!("{}: the prompt is not UTF-8 (byte {})", path.display(), e.utf8_error().valid_up_to())
    })
}
