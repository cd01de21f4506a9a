//! `lfm generate`: tokenise (through the chat template unless `--raw`), generate with the
//! cache and stream the text.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
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
    /// Prompt text; repeat the flag for a batch.
    #[arg(long, required = true)]
    pub prompt: Vec<String>,
    /// System message for the chat template.
    #[arg(long)]
    pub system: Option<String>,
    /// Feed the prompt as plain text, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Maximum new tokens per prompt.
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(a: &GenerateArgs, device: &Device) -> Result<()> {
    let codec = lfm_quant::load::load_codec(&a.model)?;
    let (cfg, model) = progress::loading(&a.model, |p| lfm_quant::load::load_for_inference(p, device))?;
    let prompts = a
        .prompt
        .iter()
        .map(|p| {
            if a.raw {
                codec.encode_plain(p)
            } else {
                codec.encode_rendered(&codec.render_chat(a.system.as_deref(), p)?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    // Stop on the configured EOS (<|im_end|>) and, defensively, on <|endoftext|>.
    let mut stop = vec![cfg.eos_token_id];
    if let Some(id) = codec.tokenizer.token_to_id("<|endoftext|>") {
        stop.push(id);
    }
    let opts = GenerateOptions {
        max_new_tokens: a.max_new_tokens,
        stop_tokens: stop,
        sampling: a.sampling.to_config(),
        keep_logits: false,
    };
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
