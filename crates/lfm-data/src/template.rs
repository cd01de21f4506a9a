//! The one chat renderer: a checkpoint's text codec (tokenizer, special tokens, chat template)
//! and every conversion from messages to tokens — generation prompts, SFT examples with their
//! loss mask, evaluation prompts, `lfm chat render`.
//!
//! **Which template.** As transformers loads a checkpoint directory: `chat_template.jinja`
//! (named `default`) plus `additional_chat_templates/*.jinja` (named by file); when there is
//! no `chat_template.jinja`, `tokenizer_config.json`'s `chat_template`, a string or a list of
//! `{"name", "template"}`. With several named templates, `tool_use` is taken when the
//! conversation has tools, else `default`. A GGUF file contributes `tokenizer.chat_template`
//! (see `lfm_quant::load::load_codec`). Only a checkpoint without any template uses the
//! built-in LFM2 layout of [`crate::chat::render`], and says so once on stderr
//! ([`take_fallback_note`]).
//!
//! **How it renders.** As `apply_chat_template` does (transformers 5.x): messages' keys whose
//! value is null are dropped; a message's reasoning (`reasoning_content`, `thinking` or
//! `reasoning`) is offered under both `thinking` and `reasoning_content`; the context holds
//! `messages`, `tools` (none when absent), `add_generation_prompt`, the named special tokens
//! (`bos_token`, `eos_token`, `unk_token`, `sep_token`, `pad_token`, `cls_token`,
//! `mask_token`, where `tokenizer_config.json` sets them) and any extra template variables.
//! The Jinja dialect is the one of `crate::jinja`.
//!
//! **Assistant mask.** `{% generation %}` blocks mark the assistant text; a token is in the
//! mask when it holds any character of a block (transformers' `return_assistant_tokens_mask`).
//! `lfm chat render` reports exactly that, so a template without generation blocks gives an
//! all-zero mask there, as in transformers. For SFT such a template needs another rule, and
//! ours is: the text of assistant message *i* is what rendering messages `0..=i` adds to
//! rendering messages `0..i` with the generation prompt; the template must be
//! prefix-stable for it (each shorter rendering a prefix of the longer), and a template
//! that is not is refused with the message index.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

use crate::chat::{self, Conversation, Encoded, RenderOptions, TrainOn};
use crate::jinja;

/// The special-token names transformers passes to templates.
const SPECIAL_NAMES: [&str; 7] =
    ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];
/// The reasoning fields transformers aliases (the first is the standard one).
const REASONING: [&str; 3] = ["reasoning_content", "thinking", "reasoning"];

/// One compiled chat template and where it came from.
pub struct ChatTemplate {
    /// The file (and key or name) it was read from; error messages start with it.
    pub origin: String,
    /// Whether it marks assistant text with `{% generation %}` blocks.
    pub has_generation: bool,
    env: minijinja::Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// A rendering: the text and the byte ranges of its `{% generation %}` blocks (or, for the
/// built-in layout, of its assistant turns), in order.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedChat {
    pub text: String,
    pub generation: Vec<Range<usize>>,
}

/// What a rendering needs besides the conversation.
#[derive(Clone, Debug, Default)]
pub struct ChatOptions {
    pub add_generation_prompt: bool,
    /// The clock `strftime_now` reads (RFC 3339); `None` = the local clock, as transformers.
    pub now: Option<String>,
    /// Extra template variables (e.g. `keep_past_thinking`), as `apply_chat_template(**kwargs)`.
    pub extra: Map<String, Value>,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn describe(origin: &str, e: &minijinja::Error) -> anyhow::Error {
    let detail = e.detail().map(String::from).unwrap_or_else(|| e.kind().to_string());
    let line = e.line().map(|l| format!(" (template line {l})")).unwrap_or_default();
    if let Some(msg) = detail.strip_prefix(jinja::RAISED) {
        return anyhow!("{origin}: the chat template raised an exception: {}{line}", one_line(msg));
    }
    match e.kind() {
        minijinja::ErrorKind::SyntaxError => {
            anyhow!("{origin}: the chat template does not parse: {}{line}", one_line(&detail))
        }
        kind => {
            let what = if detail.contains(&kind.to_string()) {
                one_line(&detail)
            } else {
                format!("{kind}: {}", one_line(&detail))
            };
            anyhow!("{origin}: rendering the chat template failed: {what}{line}")
        }
    }
}

impl ChatTemplate {
    /// Compiles `source`; a syntax error is reported with `origin` and the template line.
    pub fn new(origin: impl Into<String>, source: &str) -> Result<Self> {
        let origin = origin.into();
        let (rewritten, has_generation) = jinja::rewrite_generation(source);
        let mut env = jinja::environment();
        env.add_template_owned("chat", rewritten).map_err(|e| describe(&origin, &e))?;
        Ok(Self { origin, has_generation, env })
    }

    /// Renders `conv` as transformers' `apply_chat_template(..., tokenize=False)` does, with
    /// the byte ranges of the generation blocks.
    pub fn render(
        &self,
        conv: &Conversation,
        specials: &Map<String, Value>,
        opts: &ChatOptions,
    ) -> Result<RenderedChat> {
        let messages: Vec<Value> = conv.messages.iter().map(normalize_message).collect();
        let mut ctx = Map::new();
        for (k, v) in specials {
            ctx.insert(k.clone(), v.clone());
        }
        for (k, v) in &opts.extra {
            ctx.insert(k.clone(), v.clone());
        }
        ctx.insert("messages".into(), Value::Array(messages));
        ctx.insert("tools".into(), conv.tools.clone().map(Value::Array).unwrap_or(Value::Null));
        ctx.insert("documents".into(), Value::Null);
        ctx.insert("add_generation_prompt".into(), Value::Bool(opts.add_generation_prompt));
        let ctx = Value::Object(ctx);
        if holds_marker(&ctx) {
            bail!("the conversation holds U+10FFFE or U+10FFFF, which lfm reserves for marking generation blocks");
        }
        let mut mctx = minijinja::Value::from(minijinja::value::Serde(&ctx));
        if let Some(now) = &opts.now {
            mctx = minijinja::context! { __lfm_now => now.clone(), ..mctx };
        }
        let tmpl = self.env.get_template("chat").map_err(|e| describe(&self.origin, &e))?;
        let raw = tmpl.render(mctx).map_err(|e| describe(&self.origin, &e))?;
        Ok(cut_markers(&raw))
    }
}

/// transformers' message normalisation: null-valued keys dropped, reasoning aliased.
fn normalize_message(m: &Value) -> Value {
    let Some(obj) = m.as_object() else { return m.clone() };
    let obj: Map<String, Value> =
        obj.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    let Some(reasoning) = REASONING.iter().find_map(|k| obj.get(*k)).cloned() else { return Value::Object(obj) };
    // {"thinking": r, **message, "reasoning_content": r}
    let mut out = Map::new();
    out.insert("thinking".into(), reasoning.clone());
    for (k, v) in obj {
        out.insert(k, v);
    }
    out.insert("reasoning_content".into(), reasoning);
    Value::Object(out)
}

fn holds_marker(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains([jinja::GEN_OPEN, jinja::GEN_CLOSE]),
        Value::Array(a) => a.iter().any(holds_marker),
        Value::Object(o) => o.iter().any(|(k, v)| holds_marker(&Value::String(k.clone())) || holds_marker(v)),
        _ => false,
    }
}

/// Removes the generation markers and returns the blocks' byte ranges in the clean text
/// (outermost blocks only; nested ones lie inside them). An empty block is kept: as in
/// transformers, it marks a token that holds its position strictly inside.
fn cut_markers(raw: &str) -> RenderedChat {
    let mut text = String::with_capacity(raw.len());
    let mut generation = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for c in raw.chars() {
        match c {
            jinja::GEN_OPEN => open.push(text.len()),
            jinja::GEN_CLOSE => {
                if let Some(start) = open.pop() {
                    if open.is_empty() {
                        generation.push(start..text.len());
                    }
                }
            }
            c => text.push(c),
        }
    }
    RenderedChat { text, generation }
}

/// A checkpoint's templates, by name.
pub struct ChatTemplates {
    /// `(name, template)`; a single unnamed template has the name `default`.
    pub templates: Vec<(String, ChatTemplate)>,
}

impl ChatTemplates {
    /// The template transformers would pick for a conversation with or without tools.
    pub fn select(&self, has_tools: bool) -> Result<&ChatTemplate> {
        if self.templates.len() == 1 {
            return Ok(&self.templates[0].1);
        }
        let find = |n: &str| self.templates.iter().find(|(name, _)| name == n).map(|(_, t)| t);
        if has_tools {
            if let Some(t) = find("tool_use") {
                return Ok(t);
            }
        }
        find("default").ok_or_else(|| {
            let names: Vec<&str> = self.templates.iter().map(|(n, _)| n.as_str()).collect();
            anyhow!(
                "{}: several chat templates ({}) and none named \"default\"",
                self.templates[0].1.origin,
                names.join(", ")
            )
        })
    }

    /// A template by name.
    pub fn named(&self, name: &str) -> Result<&ChatTemplate> {
        self.templates.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or_else(|| {
            let names: Vec<&str> = self.templates.iter().map(|(n, _)| n.as_str()).collect();
            anyhow!("no chat template named {name:?} (the checkpoint has: {})", names.join(", "))
        })
    }

    /// Reads a checkpoint directory's templates (see the module doc); `None` when it has none.
    pub fn load_dir(dir: &Path, tokenizer_config: &Value) -> Result<Option<Self>> {
        let mut templates = Vec::new();
        let jinja_path = dir.join("chat_template.jinja");
        if jinja_path.exists() {
            let src = std::fs::read_to_string(&jinja_path)
                .with_context(|| format!("{}: cannot read", jinja_path.display()))?;
            templates.push(("default".to_string(), ChatTemplate::new(jinja_path.display().to_string(), &src)?));
        }
        let extra_dir = dir.join("additional_chat_templates");
        if extra_dir.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(&extra_dir)
                .with_context(|| format!("{}: cannot list", extra_dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jinja"))
                .collect();
            files.sort();
            for p in files {
                let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let src = std::fs::read_to_string(&p).with_context(|| format!("{}: cannot read", p.display()))?;
                templates.push((name, ChatTemplate::new(p.display().to_string(), &src)?));
            }
        }
        if templates.is_empty() {
            let cfg_path = dir.join("tokenizer_config.json");
            let origin = |name: Option<&str>| match name {
                Some(n) => format!("{} (chat_template {n:?})", cfg_path.display()),
                None => format!("{} (chat_template)", cfg_path.display()),
            };
            match tokenizer_config.get("chat_template") {
                None | Some(Value::Null) => {}
                Some(Value::String(src)) => templates.push(("default".into(), ChatTemplate::new(origin(None), src)?)),
                Some(Value::Array(list)) => {
                    for (i, item) in list.iter().enumerate() {
                        let (Some(name), Some(src)) =
                            (item.get("name").and_then(Value::as_str), item.get("template").and_then(Value::as_str))
                        else {
                            bail!("{}: chat_template[{i}] is not {{\"name\": …, \"template\": …}}", cfg_path.display());
                        };
                        templates.push((name.to_string(), ChatTemplate::new(origin(Some(name)), src)?));
                    }
                }
                Some(_) => bail!("{}: chat_template must be a string or a list of named templates", cfg_path.display()),
            }
        }
        Ok((!templates.is_empty()).then_some(Self { templates }))
    }
}

static FALLBACK_USED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
static FALLBACK_TAKEN: AtomicBool = AtomicBool::new(false);

/// Once per process: `Some(what)` when a conversation was rendered with the built-in layout
/// because the checkpoint has no template (`lfm` prints it on stderr when the command ends
/// well, so that an error stays the only line of a failed run).
pub fn take_fallback_note() -> Option<String> {
    let note = FALLBACK_USED.lock().ok()?.clone()?;
    (!FALLBACK_TAKEN.swap(true, Ordering::Relaxed)).then_some(note)
}

/// A tokenizer plus the checkpoint's chat templates and special tokens.
pub struct TextCodec {
    pub tokenizer: tokenizers::Tokenizer,
    /// `None`: the checkpoint has no template; the built-in LFM2 layout is used.
    pub templates: Option<ChatTemplates>,
    /// Named special tokens (`bos_token`, …) as strings, passed to templates.
    pub specials: Map<String, Value>,
    pub add_bos: bool,
    /// Where the codec came from (a directory or a GGUF file), for messages.
    pub source: String,
    /// Clock and extra variables for every rendering.
    pub options: ChatOptions,
    /// A template name to use instead of transformers' choice (`--chat-template NAME`).
    pub template_name: Option<String>,
}

impl TextCodec {
    /// The codec of an HF checkpoint directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.exists() {
            bail!("{}: no tokenizer.json (needed to turn text into tokens)", dir.display());
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| anyhow!("{}: bad tokenizer: {}", tok_path.display(), one_line(&e.to_string())))?;
        let cfg_path = dir.join("tokenizer_config.json");
        let cfg: Value = if cfg_path.exists() {
            let text =
                std::fs::read_to_string(&cfg_path).with_context(|| format!("{}: cannot read", cfg_path.display()))?;
            serde_json::from_str(&text).map_err(|e| anyhow!("{}: invalid JSON: {e}", cfg_path.display()))?
        } else {
            Value::Null
        };
        let mut specials = Map::new();
        for name in SPECIAL_NAMES {
            let v = match cfg.get(name) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(String::from),
                _ => None,
            };
            if let Some(v) = v {
                specials.insert(name.to_string(), Value::String(v));
            }
        }
        Ok(Self {
            tokenizer,
            templates: ChatTemplates::load_dir(dir, &cfg)?,
            specials,
            add_bos: cfg.get("add_bos_token").and_then(Value::as_bool).unwrap_or(false),
            source: dir.display().to_string(),
            options: ChatOptions::default(),
            template_name: None,
        })
    }

    /// The codec of a tokenizer file: its directory's chat templates and special tokens when
    /// the file is a `tokenizer.json`, else the tokenizer alone (the built-in layout).
    pub fn for_tokenizer_file(path: &Path) -> Result<Self> {
        if path.file_name().is_some_and(|n| n == "tokenizer.json") {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            return Self::load(dir);
        }
        Ok(Self {
            tokenizer: crate::tokenizer::load(path)?,
            templates: None,
            specials: Map::new(),
            add_bos: false,
            source: path.display().to_string(),
            options: ChatOptions::default(),
            template_name: None,
        })
    }

    /// The files beside a tokenizer that make up the text codec of a checkpoint and that a
    /// trained checkpoint must carry on: `tokenizer.json`, `tokenizer_config.json`,
    /// `chat_template.jinja`, `special_tokens_map.json` (those that exist).
    pub fn files(tokenizer_path: &Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![tokenizer_path.to_path_buf()];
        for f in ["tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"] {
            let p = tokenizer_path.with_file_name(f);
            if p.exists() {
                out.push(p);
            }
        }
        out.retain(|p| p.exists());
        out
    }

    /// The BOS token text, when known.
    pub fn bos_token(&self) -> Option<&str> {
        self.specials.get("bos_token").and_then(Value::as_str)
    }

    /// The EOS token text, when known.
    pub fn eos_token(&self) -> Option<&str> {
        self.specials.get("eos_token").and_then(Value::as_str)
    }

    fn template_for(&self, conv: &Conversation) -> Result<Option<&ChatTemplate>> {
        let Some(ts) = &self.templates else { return Ok(None) };
        Ok(Some(match &self.template_name {
            Some(n) => ts.named(n)?,
            None => ts.select(conv.tools.is_some())?,
        }))
    }

    /// Where prompts come from: the template file, or the built-in layout.
    pub fn prompt_source(&self) -> String {
        match &self.templates {
            Some(ts) => match &self.template_name {
                Some(n) => ts.named(n).map(|t| t.origin.clone()).unwrap_or_else(|_| n.clone()),
                None if ts.templates.len() == 1 => ts.templates[0].1.origin.clone(),
                None => {
                    let names: Vec<&str> = ts.templates.iter().map(|(n, _)| n.as_str()).collect();
                    format!("{} (named templates: {})", ts.templates[0].1.origin, names.join(", "))
                }
            },
            None => format!("built-in LFM2 layout ({} has no chat template)", self.source),
        }
    }

    /// Renders a conversation with the checkpoint's template (or the built-in layout).
    pub fn render(&self, conv: &Conversation, add_generation_prompt: bool) -> Result<RenderedChat> {
        match self.template_for(conv)? {
            Some(t) => {
                let opts = ChatOptions { add_generation_prompt, ..self.options.clone() };
                t.render(conv, &self.specials, &opts)
            }
            None => {
                if let Ok(mut used) = FALLBACK_USED.lock() {
                    if used.is_none() {
                        *used = Some(format!("prompts were rendered with the {}", self.prompt_source()));
                    }
                }
                let r = chat::render(conv, &RenderOptions { add_generation_prompt, ..Default::default() })?;
                Ok(RenderedChat { text: r.text, generation: r.trainable })
            }
        }
    }

    /// Whether renderings mark assistant text (generation blocks, or the built-in layout).
    pub fn marks_assistant_text(&self, conv: &Conversation) -> Result<bool> {
        Ok(self.template_for(conv)?.is_none_or(|t| t.has_generation))
    }

    /// A generation prompt's token ids: the conversation rendered with the generation prompt.
    pub fn encode_prompt(&self, conv: &Conversation) -> Result<Vec<u32>> {
        let r = self.render(conv, true)?;
        self.encode_rendered(&r.text)
    }

    /// The text, ids and assistant mask `lfm chat render` reports, as transformers'
    /// `apply_chat_template(..., return_assistant_tokens_mask=True)`: the generation prompt is
    /// added when the last message is not the assistant's; the mask comes from generation
    /// blocks only (all zero without them; the built-in layout marks its assistant turns).
    pub fn render_with_mask(&self, conv: &Conversation) -> Result<(String, Vec<u32>, Vec<bool>)> {
        let r = self.render(conv, !conv.ends_with_assistant())?;
        let enc = self.tokenizer.encode(r.text.as_str(), false).map_err(|e| anyhow!("tokenizing: {e}"))?;
        // A template's generation blocks; for the built-in layout, its assistant turns.
        let mask = chat::overlap_mask(enc.get_offsets(), &r.generation);
        Ok((r.text, enc.get_ids().to_vec(), mask))
    }

    /// An SFT example: the whole conversation rendered without a generation prompt, and the
    /// tokens to train on (see the module doc for templates without generation blocks).
    pub fn encode_chat(&self, conv: &Conversation, train_on: TrainOn) -> Result<Encoded> {
        let (text, mut spans) = self.assistant_spans(conv)?;
        if train_on == TrainOn::LastAssistant {
            spans = spans.pop().into_iter().collect();
        }
        self.encode_spans(&text, &spans)
    }

    /// A preference pair's side (DPO, `lfm eval pairs`): `prompt`'s messages followed by the
    /// `completion` messages, rendered as one conversation without a generation prompt; the
    /// mask covers the assistant text of the completion's own assistant messages only (the
    /// last spans, one per assistant message), never an assistant turn of the prompt.
    pub fn encode_completion(&self, prompt: &Conversation, completion: &[Value]) -> Result<Encoded> {
        let wanted = completion.iter().filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant")).count();
        if wanted == 0 {
            bail!("the completion has no assistant message");
        }
        let mut messages = prompt.messages.clone();
        messages.extend_from_slice(completion);
        let conv = Conversation::new(messages, prompt.tools.clone())?;
        let (text, spans) = self.assistant_spans(&conv)?;
        if spans.len() < wanted {
            bail!(
                "{}: the rendering marks {} assistant span(s), fewer than the completion's {wanted} assistant message(s)",
                self.prompt_source(),
                spans.len()
            );
        }
        let enc = self.encode_spans(&text, &spans[spans.len() - wanted..])?;
        if !enc.mask.iter().skip(1).any(|&m| m) {
            bail!("the completion renders to no token");
        }
        Ok(enc)
    }

    /// The conversation rendered without a generation prompt and the byte spans of its
    /// assistant turns, in order: the template's generation blocks (or the built-in layout's
    /// turns), else the prefix rule.
    fn assistant_spans(&self, conv: &Conversation) -> Result<(String, Vec<Range<usize>>)> {
        let r = self.render(conv, false)?;
        let spans =
            if self.marks_assistant_text(conv)? { r.generation.clone() } else { self.prefix_spans(conv, &r.text)? };
        Ok((r.text, spans))
    }

    fn encode_spans(&self, text: &str, spans: &[Range<usize>]) -> Result<Encoded> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| anyhow!("tokenizing a conversation: {e}"))?;
        Ok(Encoded { ids: enc.get_ids().to_vec(), mask: chat::overlap_mask(enc.get_offsets(), spans) })
    }

    /// Assistant spans of a template without generation blocks, by the prefix rule.
    fn prefix_spans(&self, conv: &Conversation, full: &str) -> Result<Vec<Range<usize>>> {
        let mut spans = Vec::new();
        for i in 0..conv.messages.len() {
            if conv.role(i) != "assistant" {
                continue;
            }
            let not_stable = || {
                anyhow!(
                    "{}: the template has no {{% generation %}} block and renders message {i} differently once later messages follow, so the assistant text cannot be found; add generation blocks around assistant turns",
                    self.prompt_source()
                )
            };
            let before = if i == 0 { String::new() } else { self.render(&conv.prefix(i), true)?.text };
            let upto = self.render(&conv.prefix(i + 1), false)?.text;
            if !upto.starts_with(&before) || !full.starts_with(&upto) {
                return Err(not_stable());
            }
            if upto.len() > before.len() {
                spans.push(before.len()..upto.len());
            }
        }
        Ok(spans)
    }

    /// Token ids of already-rendered text (special tokens in the text are recognised).
    pub fn encode_rendered(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| anyhow!("tokenizing the prompt: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Token ids of plain text, with BOS in front when the tokenizer config asks for it.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_rendered(text)?;
        if self.add_bos {
            if let Some(bos) = self.bos_token().and_then(|b| self.tokenizer.token_to_id(b)) {
                if ids.first() != Some(&bos) {
                    ids.insert(0, bos);
                }
            }
        }
        Ok(ids)
    }

    /// Text of generated ids, special tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| anyhow!("decoding: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codec(template: Option<&str>) -> TextCodec {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
        let mut c = TextCodec::load(&dir).unwrap();
        c.templates = template
            .map(|t| ChatTemplates { templates: vec![("default".into(), ChatTemplate::new("t.jinja", t).unwrap())] });
        c
    }

    fn conv(v: Value) -> Conversation {
        Conversation::from_value(&v).unwrap()
    }

    #[test]
    fn builtin_layout_matches_the_spec_example() {
        let c = conv(
            json!({"messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is C. elegans?"}]}),
        );
        let s = codec(None).render(&c, true).unwrap().text;
        assert_eq!(
            s,
            "<|startoftext|><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
             <|im_start|>user\nWhat is C. elegans?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn checkpoint_template_is_used_and_special_tokens_encode_as_one_id() {
        let t = "{{- bos_token -}}{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'].strip() }}<|im_end|>\n{%- if not loop.last or add_generation_prompt %}\n{% endif -%}{%- endfor -%}{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif %}";
        let c = codec(Some(t));
        let s = c.render(&Conversation::user("  hi  "), true).unwrap().text;
        // trim_blocks drops the newline after `%}`, as Jinja2 does for transformers.
        assert_eq!(s, "<|startoftext|><|im_start|>user\nhi<|im_end|><|im_start|>assistant");
        let ids = c.encode_rendered(&s).unwrap();
        assert_eq!(&ids[..2], &[1, 6], "BOS and <|im_start|> are single special tokens");
        assert!(ids.contains(&7));
    }

    #[test]
    fn generation_spans_give_the_mask_and_null_keys_are_dropped() {
        let t = "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% if m.tool_calls is defined %}CALLS{% endif %}<|im_end|>{% endgeneration %}\n{% else %}{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}";
        let c = codec(Some(t));
        let cv = conv(
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": null}]}),
        );
        let r = c.render(&cv, false).unwrap();
        // Checked against transformers: trim_blocks drops the newline after `{% endgeneration %}`.
        assert_eq!(r.text, "<|startoftext|><|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>");
        assert_eq!(&r.text[r.generation[0].clone()], "b<|im_end|>");
        let (_, ids, mask) = c.render_with_mask(&cv).unwrap();
        let on: Vec<u32> = ids.iter().zip(&mask).filter(|(_, m)| **m).map(|(i, _)| *i).collect();
        assert_eq!(c.tokenizer.decode(&on, false).unwrap(), "b<|im_end|>");
        let enc = c.encode_chat(&cv, TrainOn::AllAssistant).unwrap();
        assert_eq!(enc.mask, mask);
    }

    #[test]
    fn without_generation_blocks_sft_uses_the_prefix_rule_and_chat_render_reports_no_mask() {
        let t = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        let c = codec(Some(t));
        let cv = conv(
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}),
        );
        let (_, _, mask) = c.render_with_mask(&cv).unwrap();
        assert!(mask.iter().all(|m| !m));
        let enc = c.encode_chat(&cv, TrainOn::AllAssistant).unwrap();
        let on: Vec<u32> = enc.ids.iter().zip(&enc.mask).filter(|(_, m)| **m).map(|(i, _)| *i).collect();
        assert_eq!(c.tokenizer.decode(&on, false).unwrap(), "b<|im_end|>\nd<|im_end|>\n");
        let last = c.encode_chat(&cv, TrainOn::LastAssistant).unwrap();
        let on: Vec<u32> = last.ids.iter().zip(&last.mask).filter(|(_, m)| **m).map(|(i, _)| *i).collect();
        assert_eq!(c.tokenizer.decode(&on, false).unwrap(), "d<|im_end|>\n");
        // A template that rewrites earlier turns once later ones follow is refused.
        let unstable = codec(Some("{% for m in messages %}{{ m.content if loop.last else '-' }}|{% endfor %}"));
        let e = unstable.encode_chat(&cv, TrainOn::AllAssistant).unwrap_err().to_string();
        assert!(e.contains("message 1") && e.contains("generation"), "{e}");
    }

    #[test]
    fn a_completion_is_masked_without_the_prompts_own_assistant_turns() {
        let prompt = conv(
            json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
        );
        let completion = [json!({"role": "assistant", "content": "d"})];
        let masked = |c: &TextCodec| {
            let e = c.encode_completion(&prompt, &completion).unwrap();
            let on: Vec<u32> = e.ids.iter().zip(&e.mask).filter(|(_, m)| **m).map(|(i, _)| *i).collect();
            c.tokenizer.decode(&on, false).unwrap()
        };
        // Built-in layout, a template with generation blocks, one without (prefix rule).
        assert_eq!(masked(&codec(None)), "d<|im_end|>");
        let gen = "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}\n{% else %}{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}";
        assert_eq!(masked(&codec(Some(gen))), "d<|im_end|>");
        let plain = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        assert_eq!(masked(&codec(Some(plain))), "d<|im_end|>\n");
        let e = codec(None).encode_completion(&prompt, &[json!({"role": "user", "content": "x"})]).unwrap_err();
        assert!(e.to_string().contains("no assistant message"), "{e}");
    }

    #[test]
    fn template_errors_name_the_file_and_the_line() {
        let e = ChatTemplate::new("dir/chat_template.jinja", "a\n{% if x %}b").unwrap_err().to_string();
        assert!(
            e.starts_with("dir/chat_template.jinja: the chat template does not parse:") && e.contains("line"),
            "{e}"
        );
        let t = ChatTemplate::new(
            "x.jinja",
            "{% if messages[0].role != 'system' %}{{ raise_exception('system first') }}{% endif %}",
        )
        .unwrap();
        let e = t.render(&Conversation::user("u"), &Map::new(), &ChatOptions::default()).unwrap_err().to_string();
        assert_eq!(e, "x.jinja: the chat template raised an exception: system first (template line 1)");
        let t = ChatTemplate::new("y.jinja", "\n{{ nothing_here() }}").unwrap();
        let e = t.render(&Conversation::user("u"), &Map::new(), &ChatOptions::default()).unwrap_err().to_string();
        assert!(
            e.starts_with("y.jinja: rendering the chat template failed:") && e.contains("line 2") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn reasoning_fields_are_aliased_as_transformers_does() {
        let m = normalize_message(&json!({"role": "assistant", "content": "x", "reasoning": "r", "tool_calls": null}));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"thinking":"r","role":"assistant","content":"x","reasoning":"r","reasoning_content":"r"}"#
        );
        let m = normalize_message(&json!({"role": "assistant", "thinking": "t", "content": "x"}));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"thinking":"t","role":"assistant","content":"x","reasoning_content":"t"}"#
        );
    }
}
