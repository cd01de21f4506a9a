//! Library use in a dozen lines: load a checkpoint for inference (host f32 weights on the CPU),
//! then generate one greedy chat reply. `cargo test` builds this file, so it cannot drift from
//! the API it shows.
//!
//! ```sh
//! cargo run --release -p lfm-eval --example chat_reply -- data/lfm2-tiny "Say hi."
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use lfm_data::chat::Conversation;
use lfm_eval::generation::{chat_generate, ChatGenOptions};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: chat_reply CHECKPOINT_DIR [PROMPT]")?);
    let prompt = args.next().unwrap_or_else(|| "Say hi.".into());
    let device = lfm_model::device::parse_device("cpu")?;
    let (cfg, model) = lfm_model::infer::load_dir(&dir, &device)?;
    // The checkpoint's tokenizer and chat template (LFM2's built-in layout when it has none).
    let codec = lfm_data::template::TextCodec::load(&dir)?;
    let opts = ChatGenOptions { max_new_tokens: 32, batch_size: 1, keep_special: false, sampling: Default::default() };
    let reply = chat_generate(&model, &cfg, &codec, &[Conversation::user(&prompt)], &opts, &device, |_| {})?;
    println!("{}", reply[0]);
    Ok(())
}
