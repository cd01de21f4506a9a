//! Greedy chat generation for evaluations: one assistant turn per conversation, rendered with
//! the LFM2 chat template (`lfm_data::chat`), batched, stopping at `<|im_end|>` /
//! `<|endoftext|>`. The model and tokenizer are loaded by the caller.

use anyhow::{anyhow, Result};
use burn::tensor::Device;
use lfm_data::chat::{self, Conversation, RenderOptions};
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::{Lfm2Config, Lfm2Model};
use tokenizers::Tokenizer;

/// How [`chat_generate`] generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatGenOptions {
    /// New tokens per reply at most.
    pub max_new_tokens: usize,
    /// Conversations per forward batch (0 is taken as 1).
    pub batch_size: usize,
    /// Keep special tokens (e.g. LFM2's tool-call markers) in the decoded text.
    pub keep_special: bool,
}

/// One greedy assistant reply per conversation, in order. The stop token is never part of a
/// reply. `on_batch(conversations done so far)` is called after each batch.
pub fn chat_generate(
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    tok: &Tokenizer,
    convs: &[Conversation],
    opts: &ChatGenOptions,
    device: &Device,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<String>> {
    let mut prompts = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let r = chat::render(conv, &RenderOptions { add_generation_prompt: true, ..Default::default() })?;
        prompts.push(
            tok.encode(r.text.as_str(), false).map_err(|e| anyhow!("prompt {i}: tokenizing: {e}"))?.get_ids().to_vec(),
        );
    }
    let stop = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tok.token_to_id(t)).collect::<Vec<_>>();
    let gen = GenerateOptions {
        max_new_tokens: opts.max_new_tokens,
        stop_tokens: stop.clone(),
        sampling: SamplingConfig::greedy(),
        keep_logits: false,
    };
    let mut out = Vec::new();
    for chunk in prompts.chunks(opts.batch_size.max(1)) {
        let g = generate(model, cfg, chunk, &gen, device, |_, _| {})?;
        for ids in &g.tokens {
            let ids: &[u32] = match ids.last() {
                Some(t) if stop.contains(t) => &ids[..ids.len() - 1],
                _ => ids,
            };
            out.push(tok.decode(ids, !opts.keep_special).map_err(|e| anyhow!("decoding: {e}"))?);
        }
        on_batch(out.len());
    }
    Ok(out)
}
