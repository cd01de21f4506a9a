//! Chat generation for evaluations: one assistant turn per conversation, rendered with the
//! checkpoint's own chat template (`lfm_data::template`), batched, greedy unless the options
//! say otherwise, stopping at `<|im_end|>` / `<|endoftext|>`. The model and codec are loaded
//! by the caller.

use anyhow::{anyhow, Result};
use burn::tensor::Device;
use lfm_data::chat::Conversation;
use lfm_data::template::TextCodec;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::{Lfm2Config, Lfm2Model};

/// How [`chat_generate`] generates.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatGenOptions {
    /// New tokens per reply at most.
    pub max_new_tokens: usize,
    /// Conversations per forward batch (0 is taken as 1).
    pub batch_size: usize,
    /// Keep special tokens (e.g. LFM2's tool-call markers) in the decoded text.
    pub keep_special: bool,
    /// How tokens are picked (greedy by default).
    pub sampling: SamplingConfig,
}

/// One greedy assistant reply per conversation, in order. The stop token is never part of a
/// reply. `on_batch(conversations done so far)` is called after each batch.
pub fn chat_generate(
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    codec: &TextCodec,
    convs: &[Conversation],
    opts: &ChatGenOptions,
    device: &Device,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<String>> {
    let mut prompts = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        prompts.push(codec.encode_prompt(conv).map_err(|e| anyhow!("prompt {i}: {e:#}"))?);
    }
    let tok = &codec.tokenizer;
    let stop = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tok.token_to_id(t)).collect::<Vec<_>>();
    let gen = GenerateOptions {
        max_new_tokens: opts.max_new_tokens,
        stop_tokens: stop.clone(),
        sampling: opts.sampling.clone(),
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
