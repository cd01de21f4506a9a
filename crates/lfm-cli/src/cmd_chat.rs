//! `lfm chat render`: conversations through the checkpoint's own chat template, as transformers'
//! `apply_chat_template` renders them (the renderer is `lfm_data::template`).

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use lfm_data::chat::Conversation;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum ChatCommand {
    /// For each line `{"id", "messages", "tools"?}` of --input, writes `{"id", "text", "ids",
    /// "assistant_mask"}` to --out: the text the checkpoint's chat template renders (with the
    /// generation prompt exactly when the last message is not the assistant's), its token ids
    /// (no special tokens added), and the tokens inside `{% generation %}` blocks.
    Render(RenderArgs),
}

#[derive(Args)]
pub struct RenderArgs {
    /// Checkpoint directory (tokenizer.json, tokenizer_config.json, chat_template.jinja) or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// Conversations, one JSON object per line.
    #[arg(long)]
    input: PathBuf,
    /// Output JSON Lines; written only when every line renders.
    #[arg(long)]
    out: PathBuf,
    /// The clock `strftime_now` reads, `YYYY-MM-DD` or RFC 3339 (default: now, local time).
    #[arg(long)]
    now: Option<String>,
    /// Use this named template instead of transformers' choice (`default`, or `tool_use` with tools).
    #[arg(long)]
    chat_template: Option<String>,
}

/// `--now`: a date (midnight, local offset) or an RFC 3339 time.
pub fn parse_now(s: &str) -> Result<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.to_rfc3339());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow!("--now {s:?}: expected YYYY-MM-DD or an RFC 3339 time"))?;
    let t = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local = t.and_local_timezone(chrono::Local).earliest().map(|t| t.fixed_offset());
    Ok(local.unwrap_or_else(|| t.and_utc().fixed_offset()).to_rfc3339())
}

pub fn render(a: &RenderArgs) -> Result<()> {
    let mut codec = lfm_quant::load::load_codec(&a.model)?;
    if let Some(n) = &a.now {
        codec.options.now = Some(parse_now(n)?);
    }
    codec.template_name = a.chat_template.clone();
    let input = a.input.display();
    let text = std::fs::read(&a.input).with_context(|| format!("{input}: cannot read"))?;
    let text = String::from_utf8(text)
        .map_err(|e| anyhow!("{input}: invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()))?;
    let mut out = String::new();
    let mut n = 0usize;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: anyhow::Error| anyhow!("{input}:{}: {e:#}", i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| at(anyhow!("invalid JSON: {e}")))?;
        let conv = Conversation::from_value(&v).map_err(at)?;
        let (text, ids, mask) = codec.render_with_mask(&conv).map_err(at)?;
        let row = json!({
            "id": v.get("id").cloned().unwrap_or(Value::Null),
            "text": text,
            "ids": ids,
            "assistant_mask": mask.iter().map(|&m| m as u8).collect::<Vec<_>>(),
        });
        out.push_str(&serde_json::to_string(&row)?);
        out.push('\n');
        n += 1;
    }
    if n == 0 {
        anyhow::bail!("{input}: no conversations");
    }
    let _lock = lfm_model::io::OutputLock::acquire(&a.out, "lfm chat render")?;
    lfm_model::io::write_atomic(&a.out, out.as_bytes())?;
    eprintln!("{n} conversations rendered with {}", codec.prompt_source());
    println!("-> {}", a.out.display());
    Ok(())
}
