//! Conversations in the OpenAI / Hugging Face shape, LFM2's built-in chat layout, and the
//! parser that turns an assistant reply back into text and structured tool calls.
//!
//! A [`Conversation`] keeps its messages as the JSON objects they were read from, so that a
//! checkpoint's own chat template (`crate::template`) sees exactly what transformers'
//! `apply_chat_template` would: `role`, `content` (a string, `null`, or a list of
//! `{"type": "text", "text": …}` parts), optional `thinking`, and for assistant turns optional
//! `tool_calls: [{"type": "function", "function": {"name", "arguments"}}]`; `tools` are OpenAI
//! function schemas, with or without the `{"type": "function", "function": …}` wrapper. The
//! earlier lfm layout of a call, `{"name", "arguments"}` without the wrapper, is refused with a
//! message that names `scripts/convert_chat_jsonl.py`.
//!
//! [`render`] writes LFM2's layout (docs/lfm2-architecture.md §10.2, §10.3) for checkpoints that
//! ship no template: BOS text first; a leading system message (plus the tool list,
//! `List of tools: <|tool_list_start|>[..]<|tool_list_end|>`) as the system turn; every message
//! as `<|im_start|>{role}\n{content}<|im_end|>\n`; tool results wrapped in
//! `<|tool_response_start|>..<|tool_response_end|>`; an assistant's tool calls as
//! `<|tool_call_start|>[..]<|tool_call_end|>` in front of its text. JSON is written as Python's
//! `json.dumps` writes it (see `crate::jinja`).
//!
//! The reply parser reads both dialects LFM2-family templates produce and models emit —
//! `[f(a='x', n=2)]` and `[f(a="x", b={"k": [1, 2]})]`, with dotted names and parallel calls —
//! as well as JSON call lists. It is hand-written: no crate parses Python call literals.

use std::ops::Range;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokenizers::Tokenizer;

use crate::tokenizer::{
    BOS, IM_END, IM_START, TOOL_CALL_END, TOOL_CALL_START, TOOL_LIST_END, TOOL_LIST_START, TOOL_RESPONSE_END,
    TOOL_RESPONSE_START,
};

/// The one-line hint for files in the earlier lfm layout.
pub const CONVERT_HINT: &str = "scripts/convert_chat_jsonl.py IN OUT rewrites a file in the OpenAI shape";

/// One function call: a name and keyword arguments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Map<String, Value>,
}

impl ToolCall {
    /// The call as an OpenAI / HF message's `tool_calls` item:
    /// `{"type": "function", "function": {"name", "arguments": {…}}}`.
    pub fn to_openai(&self) -> Value {
        serde_json::json!({"type": "function", "function": {"name": self.name, "arguments": Value::Object(self.arguments.clone())}})
    }
}

impl<'de> Deserialize<'de> for ToolCall {
    /// Accepts `{"name", "arguments"}` and OpenAI's `{"type": "function", "function": {"name",
    /// "arguments"}}`, with `arguments` an object or a JSON string of one.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        call_from_json(&v).map_err(serde::de::Error::custom)
    }
}

fn call_from_json(v: &Value) -> Result<ToolCall> {
    let v = v.get("function").unwrap_or(v);
    let name = v.get("name").and_then(Value::as_str).ok_or_else(|| anyhow!("tool call without a \"name\""))?;
    let args = v.get("arguments").or_else(|| v.get("parameters")).cloned().unwrap_or(Value::Object(Map::new()));
    let args = match args {
        Value::Object(m) => m,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => bail!("tool call {name}: arguments string is not a JSON object"),
        },
        Value::Null => Map::new(),
        _ => bail!("tool call {name}: arguments must be an object"),
    };
    Ok(ToolCall { name: name.to_string(), arguments: args })
}

/// A message object `{"role": role, "content": content}`.
pub fn message(role: &str, content: &str) -> Value {
    serde_json::json!({"role": role, "content": content})
}

/// A conversation in the OpenAI / HF shape, kept as the JSON it came from (see the module doc).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conversation {
    /// Message objects, each with a string `role`.
    pub messages: Vec<Value>,
    /// Tool schemas (objects, or strings a template writes verbatim); `None` when not given.
    pub tools: Option<Vec<Value>>,
}

impl Conversation {
    /// Checked messages and tools.
    pub fn new(messages: Vec<Value>, tools: Option<Vec<Value>>) -> Result<Self> {
        let c = Self { messages, tools };
        c.validate()?;
        Ok(c)
    }

    /// A single user turn.
    pub fn user(text: &str) -> Self {
        Self { messages: vec![message("user", text)], tools: None }
    }

    /// Reads `{"messages": [...], "tools": [...]?}` (other keys are ignored).
    pub fn from_value(v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| anyhow!("a conversation must be a JSON object"))?;
        let messages = match obj.get("messages") {
            Some(Value::Array(m)) => m.clone(),
            Some(_) => bail!("\"messages\" must be a list of message objects"),
            None => bail!("no \"messages\" list"),
        };
        let tools = match obj.get("tools") {
            None | Some(Value::Null) => None,
            Some(Value::Array(t)) => Some(t.clone()),
            Some(_) => bail!("\"tools\" must be a list of function schemas"),
        };
        Self::new(messages, tools)
    }

    /// The role of message `i`.
    pub fn role(&self, i: usize) -> &str {
        self.messages.get(i).and_then(|m| m.get("role")).and_then(Value::as_str).unwrap_or("")
    }

    /// Whether the conversation ends with an assistant turn.
    pub fn ends_with_assistant(&self) -> bool {
        self.messages.last().is_some_and(|_| self.role(self.messages.len() - 1) == "assistant")
    }

    /// The first `n` messages, same tools.
    pub fn prefix(&self, n: usize) -> Self {
        Self { messages: self.messages[..n.min(self.messages.len())].to_vec(), tools: self.tools.clone() }
    }

    /// Checks the shape: a non-empty list of objects with a string `role` (`content` is what
    /// the template makes of it, as in transformers); `tool_calls` a list of objects in the
    /// OpenAI shape (the earlier bare `{"name", "arguments"}` refused); tools objects or
    /// strings. What is inside a call or a schema is the template's to read, as in
    /// transformers; [`Conversation::tool_calls`] checks it where lfm reads calls itself.
    pub fn validate(&self) -> Result<()> {
        if self.messages.is_empty() {
            bail!("\"messages\" is empty");
        }
        for (i, m) in self.messages.iter().enumerate() {
            let Some(obj) = m.as_object() else { bail!("message {i} is not an object") };
            match obj.get("role") {
                Some(Value::String(_)) => {}
                Some(_) => bail!("message {i}: \"role\" must be a string"),
                None => bail!("message {i}: no \"role\""),
            }
            match obj.get("tool_calls") {
                None | Some(Value::Null) => {}
                Some(Value::Array(calls)) => {
                    for (j, c) in calls.iter().enumerate() {
                        check_call(c).map_err(|e| anyhow!("message {i}: tool_calls[{j}]: {e}"))?;
                    }
                }
                Some(_) => bail!("message {i}: \"tool_calls\" must be a list"),
            }
        }
        if let Some(tools) = &self.tools {
            for (i, t) in tools.iter().enumerate() {
                if !matches!(t, Value::String(_) | Value::Object(_)) {
                    bail!("tools[{i}] is not a function schema (an object, with or without the {{\"type\": \"function\", \"function\": …}} wrapper)");
                }
            }
        }
        Ok(())
    }

    /// The structured tool calls of message `i` (empty when it has none).
    pub fn tool_calls(&self, i: usize) -> Result<Vec<ToolCall>> {
        match self.messages.get(i).and_then(|m| m.get("tool_calls")) {
            Some(Value::Array(calls)) => calls.iter().map(call_from_json).collect(),
            _ => Ok(vec![]),
        }
    }

    /// The tool schemas without the OpenAI wrapper: `{"name", "description", "parameters"}`.
    pub fn functions(&self) -> Vec<Value> {
        self.tools
            .iter()
            .flatten()
            .filter(|t| t.is_object())
            .map(|t| t.get("function").filter(|f| f.is_object()).unwrap_or(t).clone())
            .collect()
    }
}

fn check_call(c: &Value) -> Result<()> {
    let Some(obj) = c.as_object() else { bail!("not an object") };
    match obj.get("function") {
        Some(Value::Object(_)) => Ok(()),
        Some(_) => bail!("\"function\" must be an object"),
        None if obj.contains_key("name") => bail!("the earlier {{\"name\", \"arguments\"}} layout; write {{\"type\": \"function\", \"function\": {{\"name\": …, \"arguments\": {{…}}}}}} ({CONVERT_HINT})"),
        None => bail!("no \"function\" object"),
    }
}

impl Serialize for Conversation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = Map::new();
        m.insert("messages".into(), Value::Array(self.messages.clone()));
        if let Some(t) = &self.tools {
            m.insert("tools".into(), Value::Array(t.clone()));
        }
        Value::Object(m).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Conversation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_value(&v).map_err(serde::de::Error::custom)
    }
}

/// How structured tool calls are written into assistant turns by the built-in layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallFormat {
    /// `[f(a=1, b="x")]` — what LFM2 emits by default.
    #[default]
    Pythonic,
    /// `[{"name": "f", "arguments": {"a": 1, "b": "x"}}]`.
    Json,
}

/// Which assistant turns carry loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainOn {
    /// Every assistant turn (content, tool calls and its `<|im_end|>`).
    #[default]
    AllAssistant,
    /// Only the final assistant turn.
    LastAssistant,
}

#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    pub add_generation_prompt: bool,
    pub call_format: CallFormat,
}

/// Rendered text plus the byte ranges of the assistant turns (the loss is computed on them).
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub trainable: Vec<Range<usize>>,
}

/// Token ids with a per-token loss mask (`true` = the model is trained to predict this token).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub mask: Vec<bool>,
}

/// JSON the way Python's `json.dumps(x, ensure_ascii=False)` writes it.
pub fn py_json(v: &Value) -> String {
    crate::jinja::to_json(&minijinja::Value::from(minijinja::value::Serde(v)), &crate::jinja::JsonStyle::default())
        .expect("JSON values serialize")
}

/// The text of a message's content: strings as they are, null as nothing, a list of parts as
/// its text parts joined, anything else as JSON.
pub fn content_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) if parts.iter().all(|p| p.get("type").and_then(Value::as_str) == Some("text")) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect()
        }
        Some(other) => py_json(other),
    }
}

/// A Python literal for a JSON value: `True`/`False`/`None`, double-quoted strings.
pub fn py_literal(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(_) => py_json(v),
        Value::String(_) => py_json(v),
        Value::Array(a) => format!("[{}]", a.iter().map(py_literal).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", py_json(&Value::String(k.clone())), py_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Writes calls in the chosen format (without the surrounding special tokens).
pub fn format_calls(calls: &[ToolCall], format: CallFormat) -> String {
    match format {
        CallFormat::Pythonic => {
            let items: Vec<String> = calls
                .iter()
                .map(|c| {
                    let args: Vec<String> = c.arguments.iter().map(|(k, v)| format!("{k}={}", py_literal(v))).collect();
                    format!("{}({})", c.name, args.join(", "))
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        CallFormat::Json => {
            let v: Vec<Value> = calls
                .iter()
                .map(|c| serde_json::json!({"name": c.name, "arguments": Value::Object(c.arguments.clone())}))
                .collect();
            py_json(&Value::Array(v))
        }
    }
}

/// Renders a conversation in LFM2's built-in layout; `trainable` holds every assistant turn
/// (its content, calls and `<|im_end|>`).
pub fn render(conv: &Conversation, opts: &RenderOptions) -> Result<Rendered> {
    let mut text = String::from(BOS);
    let mut trainable = Vec::new();
    let mut first = 0;
    let mut system = String::new();
    if conv.role(0) == "system" {
        system = content_text(conv.messages[0].get("content"));
        first = 1;
    }
    if let Some(tools) = conv.tools.as_ref().filter(|t| !t.is_empty()) {
        let tools: Vec<String> = tools
            .iter()
            .map(|t| match t {
                Value::String(s) => s.clone(),
                other => py_json(other),
            })
            .collect();
        if !system.is_empty() {
            system.push('\n');
        }
        system.push_str(&format!("List of tools: {TOOL_LIST_START}[{}]{TOOL_LIST_END}", tools.join(", ")));
    }
    if !system.is_empty() {
        text.push_str(&format!("{IM_START}system\n{system}{IM_END}\n"));
    }
    for i in first..conv.messages.len() {
        let role = conv.role(i);
        match role {
            "system" | "user" | "assistant" | "tool" => {}
            other => bail!("message {i}: unknown role {other:?} (expected system, user, assistant or tool)"),
        }
        text.push_str(&format!("{IM_START}{role}\n"));
        let start = text.len();
        let mut body = String::new();
        let calls = conv.tool_calls(i)?;
        if !calls.is_empty() {
            if role != "assistant" {
                bail!("message {i}: only assistant messages carry tool_calls");
            }
            body.push_str(TOOL_CALL_START);
            body.push_str(&format_calls(&calls, opts.call_format));
            body.push_str(TOOL_CALL_END);
        }
        let content = content_text(conv.messages[i].get("content"));
        if role == "tool" {
            body.push_str(&format!("{TOOL_RESPONSE_START}{content}{TOOL_RESPONSE_END}"));
        } else {
            body.push_str(&content);
        }
        text.push_str(&body);
        text.push_str(IM_END);
        if role == "assistant" {
            trainable.push(start..text.len());
        }
        text.push('\n');
    }
    if opts.add_generation_prompt {
        text.push_str(&format!("{IM_START}assistant\n"));
    }
    Ok(Rendered { text, trainable })
}

/// Tokenizes rendered text in one piece (so ids equal tokenizing the whole string) and marks
/// the tokens that hold any byte of a trainable range — the rule transformers'
/// `return_assistant_tokens_mask` applies to `{% generation %}` spans.
pub fn encode(tok: &Tokenizer, r: &Rendered) -> Result<Encoded> {
    let enc = tok.encode(r.text.as_str(), false).map_err(|e| anyhow!("tokenizing a conversation: {e}"))?;
    let ids = enc.get_ids().to_vec();
    let mask = overlap_mask(enc.get_offsets(), &r.trainable);
    Ok(Encoded { ids, mask })
}

/// For each token `[s, e)`, whether it overlaps one of `spans` (`e > a && s < b`).
pub fn overlap_mask(offsets: &[(usize, usize)], spans: &[Range<usize>]) -> Vec<bool> {
    offsets.iter().map(|&(s, e)| spans.iter().any(|r| e > r.start && s < r.end)).collect()
}

/// An assistant reply split into its text and its tool calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedReply {
    pub text: String,
    pub calls: Vec<ToolCall>,
}

/// Splits an assistant reply into text and tool calls. Calls are read from every
/// `<|tool_call_start|>..<|tool_call_end|>` block (a missing end token is tolerated at the end
/// of the reply); when there is no block, a reply that is, in full, a call list (as left when
/// special tokens are skipped in decoding) is read as calls. Each block is JSON if it starts
/// with `{` or `[{`, Pythonic otherwise. An unparsable block is an error.
pub fn parse_reply(reply: &str) -> Result<ParsedReply> {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut rest = reply;
    let mut found = false;
    while let Some(i) = rest.find(TOOL_CALL_START) {
        found = true;
        text.push_str(&rest[..i]);
        let after = &rest[i + TOOL_CALL_START.len()..];
        let (block, next) = match after.find(TOOL_CALL_END) {
            Some(j) => (&after[..j], &after[j + TOOL_CALL_END.len()..]),
            None => (after, ""),
        };
        calls.extend(parse_calls(block)?);
        rest = next;
    }
    text.push_str(rest);
    if !found {
        let t = reply.trim();
        if t.starts_with('[') && t.ends_with(']') {
            if let Ok(c) = parse_calls(t) {
                return Ok(ParsedReply { text: String::new(), calls: c });
            }
        }
    }
    Ok(ParsedReply { text: text.trim().to_string(), calls })
}

/// Parses one call list, JSON or Pythonic.
pub fn parse_calls(block: &str) -> Result<Vec<ToolCall>> {
    let b = block.trim();
    let json_like = b.starts_with('{') || (b.starts_with('[') && b[1..].trim_start().starts_with('{'));
    if json_like {
        let v: Value = serde_json::from_str(b).map_err(|e| anyhow!("tool call is not valid JSON: {e}"))?;
        return match v {
            Value::Array(items) => items.iter().map(call_from_json).collect(),
            obj @ Value::Object(_) => Ok(vec![call_from_json(&obj)?]),
            _ => bail!("tool call JSON must be an object or a list of objects"),
        };
    }
    let mut p = Py { s: b.as_bytes(), i: 0 };
    let calls = p.call_list()?;
    p.ws();
    if p.i != p.s.len() {
        bail!("unexpected text after the tool call list at byte {}", p.i);
    }
    Ok(calls)
}

/// A recursive-descent reader for Python call lists with literal keyword arguments.
struct Py<'a> {
    s: &'a [u8],
    i: usize,
}

impl Py<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            bail!("expected '{}' at byte {} of the tool call", c as char, self.i)
        }
    }
    fn ident(&mut self) -> Result<String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'_' | b'.' | b'-'))
        {
            self.i += 1;
        }
        if start == self.i || self.s[start].is_ascii_digit() {
            bail!("expected a name at byte {start} of the tool call");
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn call_list(&mut self) -> Result<Vec<ToolCall>> {
        let bracketed = self.eat(b'[');
        let mut calls = Vec::new();
        loop {
            if bracketed && self.eat(b']') {
                break;
            }
            calls.push(self.call()?);
            if self.eat(b',') {
                continue;
            }
            if bracketed {
                self.expect(b']')?;
            }
            break;
        }
        Ok(calls)
    }
    fn call(&mut self) -> Result<ToolCall> {
        let name = self.ident()?;
        self.expect(b'(')?;
        // `f({"a": 1})`: the arguments as one JSON object (templates write a string
        // `arguments` verbatim between the parentheses).
        if self.peek() == Some(b'{') {
            let Value::Object(args) = self.literal()? else { unreachable!("a brace literal is an object") };
            self.expect(b')')?;
            return Ok(ToolCall { name, arguments: args });
        }
        let mut args = Map::new();
        loop {
            if self.eat(b')') {
                break;
            }
            let key = self.ident()?;
            if !self.eat(b'=') {
                bail!("positional argument in call to {name}: expected '=' after {key}");
            }
            let v = self.literal()?;
            if args.insert(key.clone(), v).is_some() {
                bail!("argument {key} given twice in call to {name}");
            }
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(ToolCall { name, arguments: args })
    }
    fn literal(&mut self) -> Result<Value> {
        match self.peek() {
            Some(b'"') | Some(b'\'') => self.string().map(Value::String),
            Some(b'[') | Some(b'(') => {
                let close = if self.s[self.i] == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.literal()?);
                    if !self.eat(b',') {
                        self.expect(close)?;
                        break;
                    }
                }
                Ok(Value::Array(items))
            }
            Some(b'{') => {
                self.i += 1;
                let mut m = Map::new();
                loop {
                    if self.eat(b'}') {
                        break;
                    }
                    let k = match self.literal()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.expect(b':')?;
                    let v = self.literal()?;
                    m.insert(k, v);
                    if !self.eat(b',') {
                        self.expect(b'}')?;
                        break;
                    }
                }
                Ok(Value::Object(m))
            }
            Some(c) if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let word = self.ident()?;
                match word.as_str() {
                    "True" | "true" => Ok(Value::Bool(true)),
                    "False" | "false" => Ok(Value::Bool(false)),
                    "None" | "null" => Ok(Value::Null),
                    other => bail!("{other} is not a literal (strings must be quoted)"),
                }
            }
            None => bail!("tool call ends inside an argument"),
        }
    }
    fn number(&mut self) -> Result<Value> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'_') {
            self.i += 1;
        }
        let raw: String = String::from_utf8_lossy(&self.s[start..self.i]).replace('_', "");
        if let Ok(i) = raw.parse::<i64>() {
            return Ok(Value::from(i));
        }
        let f: f64 = raw.parse().map_err(|_| anyhow!("bad number {raw:?} in the tool call"))?;
        serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| anyhow!("number {raw} is not finite"))
    }
    fn string(&mut self) -> Result<String> {
        let q = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if c == q {
                return String::from_utf8(out).map_err(|_| anyhow!("string is not UTF-8"));
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = self.s.get(self.i) else { break };
            self.i += 1;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'0' => out.push(0),
                b'\\' | b'\'' | b'"' => out.push(e),
                b'u' => {
                    let hex = self.s.get(self.i..self.i + 4).ok_or_else(|| anyhow!("short \\u escape"))?;
                    let code = u32::from_str_radix(std::str::from_utf8(hex)?, 16)?;
                    self.i += 4;
                    let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        }
        bail!("unterminated string in the tool call")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_chat_example_renders_exactly() {
        // docs/lfm2-architecture.md §10.2
        let conv = Conversation::new(
            vec![message("system", "You are a helpful assistant."), message("user", "What is C. elegans?")],
            None,
        )
        .unwrap();
        let r = render(&conv, &RenderOptions { add_generation_prompt: true, ..Default::default() }).unwrap();
        assert_eq!(
            r.text,
            "<|startoftext|><|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is C. elegans?<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(r.trainable.is_empty());
    }

    #[test]
    fn tools_go_into_the_system_turn_and_results_are_wrapped() {
        let tool = json!({"name": "get_candidate_status", "description": "Status", "parameters": {"type": "object", "properties": {"candidate_id": {"type": "string"}}}});
        let conv: Conversation = serde_json::from_value(json!({
            "tools": [tool],
            "messages": [
                {"role": "user", "content": "Status of 12345?"},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_candidate_status", "arguments": {"candidate_id": "12345"}}}]},
                {"role": "tool", "content": "{\"status\": \"hired\"}"},
                {"role": "assistant", "content": "Hired."}
            ]
        }))
        .unwrap();
        let r = render(&conv, &RenderOptions::default()).unwrap();
        let expect = concat!(
            "<|startoftext|><|im_start|>system\nList of tools: <|tool_list_start|>[",
            r#"{"name": "get_candidate_status", "description": "Status", "parameters": {"type": "object", "properties": {"candidate_id": {"type": "string"}}}}"#,
            "]<|tool_list_end|><|im_end|>\n",
            "<|im_start|>user\nStatus of 12345?<|im_end|>\n",
            "<|im_start|>assistant\n<|tool_call_start|>[get_candidate_status(candidate_id=\"12345\")]<|tool_call_end|><|im_end|>\n",
            "<|im_start|>tool\n<|tool_response_start|>{\"status\": \"hired\"}<|tool_response_end|><|im_end|>\n",
            "<|im_start|>assistant\nHired.<|im_end|>\n"
        );
        assert_eq!(r.text, expect);
        let spans: Vec<&str> = r.trainable.iter().map(|s| &r.text[s.clone()]).collect();
        assert_eq!(
            spans,
            vec![
                "<|tool_call_start|>[get_candidate_status(candidate_id=\"12345\")]<|tool_call_end|><|im_end|>",
                "Hired.<|im_end|>"
            ]
        );
    }

    #[test]
    fn system_text_and_tools_join_with_a_newline() {
        let conv =
            Conversation::new(vec![message("system", "Be brief."), message("user", "hi")], Some(vec![json!("f(x)")]))
                .unwrap();
        let r = render(&conv, &RenderOptions::default()).unwrap();
        assert!(r.text.starts_with("<|startoftext|><|im_start|>system\nBe brief.\nList of tools: <|tool_list_start|>[f(x)]<|tool_list_end|><|im_end|>\n"), "{}", r.text);
    }

    #[test]
    fn python_json_matches_json_dumps() {
        // json.dumps({"a": [1, 2.5, None, True], "b": "é\"x"}, ensure_ascii=False)
        let v = json!({"a": [1, 2.5, null, true], "b": "é\"x"});
        assert_eq!(py_json(&v), r#"{"a": [1, 2.5, null, true], "b": "é\"x"}"#);
    }

    #[test]
    fn pythonic_calls_parse() {
        // docs/lfm2-architecture.md §10.3 example
        let p = parse_reply(
            "<|tool_call_start|>[get_candidate_status(candidate_id=\"12345\")]<|tool_call_end|>Checking now.",
        )
        .unwrap();
        assert_eq!(p.text, "Checking now.");
        assert_eq!(
            p.calls,
            vec![ToolCall {
                name: "get_candidate_status".into(),
                arguments: json!({"candidate_id": "12345"}).as_object().unwrap().clone()
            }]
        );
        let c = parse_calls("[f(a=1, b='x', c=[1, -2.5e3], d={'k': None}, e=True), g()]").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            Value::Object(c[0].arguments.clone()),
            json!({"a": 1, "b": "x", "c": [1, -2500.0], "d": {"k": null}, "e": true})
        );
        assert_eq!(c[1].name, "g");
        assert!(c[1].arguments.is_empty());
        // Round trip through the formatter.
        assert_eq!(parse_calls(&format_calls(&c, CallFormat::Pythonic)).unwrap(), c);
        assert_eq!(parse_calls(&format_calls(&c, CallFormat::Json)).unwrap(), c);
    }

    #[test]
    fn json_calls_parse() {
        let c = parse_calls(r#"[{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": "{\"b\": \"x\"}"}]"#)
            .unwrap();
        assert_eq!(c[0].name, "f");
        assert_eq!(c[1].arguments["b"], json!("x"));
        let one = parse_calls(r#"{"name": "h", "parameters": {}}"#).unwrap();
        assert_eq!(one[0].name, "h");
    }

    #[test]
    fn bare_call_list_without_special_tokens() {
        let p = parse_reply("[calc(x=2)]").unwrap();
        assert_eq!(p.calls[0].name, "calc");
        let t = parse_reply("[not a call] just text").unwrap();
        assert!(t.calls.is_empty());
        assert_eq!(t.text, "[not a call] just text");
    }

    #[test]
    fn malformed_calls_are_errors() {
        for bad in ["[f(1)]", "[f(a=)]", "[f(a=1]", "[f(a=x)]", "[f(a=\"x)]", "[f(a=1, a=2)]", "[{\"name\": 1}]"] {
            assert!(parse_calls(bad).is_err(), "{bad} parsed");
        }
        assert!(parse_reply("<|tool_call_start|>[f(a=1]<|tool_call_end|>").is_err());
    }
    #[test]
    fn the_earlier_call_layout_and_bad_shapes_are_refused_with_the_reason() {
        let bad = |v: Value| Conversation::from_value(&v).unwrap_err().to_string();
        let e = bad(
            json!({"messages": [{"role": "assistant", "content": "", "tool_calls": [{"name": "f", "arguments": {}}]}]}),
        );
        assert!(e.contains("message 0: tool_calls[0]: the earlier") && e.contains("convert_chat_jsonl.py"), "{e}");
        assert!(bad(json!({"messages": []})).contains("empty"));
        assert!(bad(json!({"messages": [{"content": "x"}]})).contains("no \"role\""));
        assert!(bad(json!({"messages": [{"role": "user", "content": "x"}], "tools": [3]})).contains("tools[0]"));
        // What is inside a call is the template's to read; lfm checks it where it reads calls.
        let odd = Conversation::from_value(&json!({"messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]})).unwrap();
        let e = odd.tool_calls(0).unwrap_err().to_string();
        assert!(e.contains("not a JSON object"), "{e}");
        // The OpenAI shape, with string or object arguments, and tools with or without the wrapper.
        let ok = Conversation::from_value(&json!({
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                         {"role": "assistant", "content": null, "tool_calls": [
                             {"type": "function", "function": {"name": "a.b", "arguments": "{\"x\": 1}"}},
                             {"function": {"name": "g", "arguments": {"y": [1]}}}]}],
            "tools": [{"type": "function", "function": {"name": "a.b", "parameters": {}}}, {"name": "g"}]
        }))
        .unwrap();
        let calls = ok.tool_calls(1).unwrap();
        assert_eq!((calls[0].name.as_str(), calls[0].arguments["x"].clone()), ("a.b", json!(1)));
        assert_eq!(calls[1].arguments["y"], json!([1]));
        assert_eq!(ok.functions().iter().map(|f| f["name"].as_str().unwrap()).collect::<Vec<_>>(), ["a.b", "g"]);
        assert_eq!(content_text(ok.messages[0].get("content")), "hi");
    }
}
