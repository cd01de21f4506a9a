//! A checkpoint's text codec: its tokenizer plus its own Jinja chat template
//! (`chat_template.jinja` or `tokenizer_config.json`'s `chat_template`), rendered with
//! minijinja, and the special tokens the template needs. Without a template, LFM2's ChatML
//! layout from [`crate::chat`] is used (docs/lfm2-architecture.md §10.2). `lfm generate` renders prompts with it;
//! a GGUF file's codec is built by `lfm_quant::load::load_codec`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// A tokenizer plus what `tokenizer_config.json` says about special tokens and templates.
pub struct TextCodec {
    pub tokenizer: tokenizers::Tokenizer,
    pub chat_template: Option<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub add_bos: bool,
}

impl TextCodec {
    /// The codec of an HF checkpoint directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.exists() {
            bail!("{}: no tokenizer.json (needed to turn text into tokens)", dir.display());
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| anyhow::anyhow!("{}: bad tokenizer: {e}", tok_path.display()))?;
        let cfg_path = dir.join("tokenizer_config.json");
        let cfg: Value = if cfg_path.exists() {
            let text = std::fs::read_to_string(&cfg_path).with_context(|| cfg_path.display().to_string())?;
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: invalid JSON: {e}", cfg_path.display()))?
        } else {
            Value::Null
        };
        let token_str = |k: &str| match cfg.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(String::from),
            _ => None,
        };
        let jinja = dir.join("chat_template.jinja");
        let chat_template = if jinja.exists() {
            Some(std::fs::read_to_string(&jinja).with_context(|| jinja.display().to_string())?)
        } else {
            cfg.get("chat_template").and_then(Value::as_str).map(String::from)
        };
        Ok(Self {
            tokenizer,
            chat_template,
            bos_token: token_str("bos_token"),
            eos_token: token_str("eos_token"),
            add_bos: cfg.get("add_bos_token").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// Renders a one-turn conversation ready for the assistant's reply.
    pub fn render_chat(&self, system: Option<&str>, user: &str) -> Result<String> {
        let mut messages = Vec::new();
        if let Some(s) = system {
            messages.push(serde_json::json!({"role": "system", "content": s}));
        }
        messages.push(serde_json::json!({"role": "user", "content": user}));
        match &self.chat_template {
            Some(t) => {
                let mut env = minijinja::Environment::new();
                minijinja_contrib::add_to_environment(&mut env);
                env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
                env.add_template("chat", t).context("chat template does not parse")?;
                let ctx = minijinja::context! {
                    messages => minijinja::Value::from(minijinja::value::Serde(&messages)),
                    add_generation_prompt => true,
                    bos_token => self.bos_token.clone().unwrap_or_default(),
                    eos_token => self.eos_token.clone().unwrap_or_default(),
                };
                env.get_template("chat")?.render(ctx).context("rendering the chat template")
            }
            None => {
                // LFM2's chat format as lfm-data writes it (docs/lfm2-architecture.md §10.2).
                let conv: crate::chat::Conversation =
                    serde_json::from_value(serde_json::json!({ "messages": messages }))
                        .context("building the conversation")?;
                let opts = crate::chat::RenderOptions { add_generation_prompt: true, ..Default::default() };
                Ok(crate::chat::render(&conv, &opts)?.text)
            }
        }
    }

    /// Token ids of already-rendered text (special tokens in the text are recognised).
    pub fn encode_rendered(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| anyhow::anyhow!("tokenizing the prompt: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of plain text, with BOS in front when the tokenizer config asks for it.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_rendered(text)?;
        if self.add_bos {
            if let Some(bos) = self.bos_token.as_deref().and_then(|b| self.tokenizer.token_to_id(b)) {
                if ids.first() != Some(&bos) {
                    ids.insert(0, bos);
                }
            }
        }
        Ok(ids)
    }

    /// Text of generated ids, special tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| anyhow::anyhow!("decoding: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(template: Option<&str>) -> TextCodec {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
        let mut c = TextCodec::load(&dir).unwrap();
        c.chat_template = template.map(String::from);
        c
    }

    #[test]
    fn builtin_chatml_matches_the_spec_example() {
        let s = codec(None).render_chat(Some("You are a helpful assistant."), "What is C. elegans?").unwrap();
        assert_eq!(
            s,
            "<|startoftext|><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
             <|im_start|>user\nWhat is C. elegans?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn checkpoint_jinja_template_is_used_and_special_tokens_encode_as_one_id() {
        // A ChatML template written the way HF checkpoints ship them (uses pycompat `.strip()`).
        let t = "{{- bos_token -}}{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'].strip() }}<|im_end|>\n{%- if not loop.last or add_generation_prompt %}\n{% endif -%}{%- endfor -%}{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif %}";
        let c = codec(Some(t));
        let s = c.render_chat(None, "  hi  ").unwrap();
        assert_eq!(s, "<|startoftext|><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant");
        let ids = c.encode_rendered(&s).unwrap();
        assert_eq!(&ids[..2], &[1, 6], "BOS and <|im_start|> are single special tokens");
        assert!(ids.contains(&7));
    }
}
