//! Multi-turn tool episodes for GRPO: the model calls tools, an [`Environment`] executes the
//! calls, the results go back as `tool` messages through the checkpoint's chat template, and
//! the model continues until it answers without a call or runs out of `max_tool_turns`.
//!
//! **Tokens.** An episode is one token row: the prompt, then for every turn the model's own
//! sampled tokens (these, and only these, carry loss), then the template's text between the
//! end of that turn and the next generation prompt (the rest of the assistant turn after its
//! stop token, the tool messages, the generation prompt), tokenized and masked. That text is
//! what the template renders after the assistant turn's stop token once the tool messages
//! and the generation prompt are added. The model's tokens are kept as sampled, never
//! re-tokenized, so the old and new log-probabilities of PPO's ratio refer to the same tokens.
//! For a prefix-stable template (LFM2's) the row is, as text, exactly the template's
//! rendering of the episode. A template that rewrites earlier turns once tool results exist
//! (LFM2.5's adds a "Tool results were retrieved on ..." line to the system turn) cannot be
//! matched token for token: the episode keeps the earlier tokens the model actually saw and
//! appends the new messages as the template renders them.
//!
//! **Toy tools.** [`ToyTools`] implements the five invented tools of the bundled prompt sets
//! (`get_weather`, `convert_currency`, `count_letter`, `set_timer`, `translate`)
//! deterministically, so rewards and resumes are reproducible. Each result carries a `key`:
//! the fact a correct final answer states (a temperature, a converted amount, a count, ...),
//! which the `tool_answer` reward looks for.

use anyhow::{bail, Result};
use lfm_data::chat::{Conversation, ParsedReply, ToolCall};
use lfm_data::template::TextCodec;
use serde_json::{json, Map, Value};

/// What a tool returned: the `tool` message's content and the fact an answer should state.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    /// The content of the `tool` message (JSON text, as most tool-use data has it).
    pub content: String,
    /// The value a correct final answer states (`None` for an error).
    pub key: Option<String>,
}

/// Executes tool calls. Implementations must be deterministic (a function of the call) for
/// GRPO's exact resume.
pub trait Environment: Send + Sync {
    /// Runs one call. An unknown tool or bad arguments give an `{"error": ...}` output (the
    /// model sees it and may try again), not a Rust error.
    fn execute(&self, call: &ToolCall) -> ToolOutput;
}

/// The environments a config can name (`[episodes] env`).
pub fn lookup(name: &str) -> Result<Box<dyn Environment>> {
    match name {
        "toy_tools" => Ok(Box::new(ToyTools)),
        other => bail!("unknown environment {other:?} (known: toy_tools)"),
    }
}

/// The bundled prompt sets' five tools, implemented deterministically.
pub struct ToyTools;

/// Units of one currency per US dollar (fixed: a toy, not market data).
const RATES: [(&str, f64); 10] = [
    ("USD", 1.0),
    ("EUR", 0.92),
    ("GBP", 0.79),
    ("JPY", 150.0),
    ("INR", 83.0),
    ("BRL", 5.0),
    ("CHF", 0.88),
    ("SEK", 10.5),
    ("KRW", 1330.0),
    ("MXN", 17.0),
];
const CONDITIONS: [&str; 5] = ["sunny", "cloudy", "rainy", "windy", "snowy"];

/// FNV-1a of a string: a stable stand-in for "the weather in that city".
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

fn error(msg: impl Into<String>) -> ToolOutput {
    ToolOutput { content: json!({ "error": msg.into() }).to_string(), key: None }
}

impl Environment for ToyTools {
    fn execute(&self, call: &ToolCall) -> ToolOutput {
        let a = &call.arguments;
        let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::trim);
        let n = |k: &str| a.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|t| t.trim().parse().ok())));
        match call.name.as_str() {
            "get_weather" => match s("city") {
                Some(c) if !c.is_empty() => {
                    let h = fnv(&c.to_lowercase());
                    let t = (h % 36) as i64 - 5;
                    let cond = CONDITIONS[(h / 36 % 5) as usize];
                    ToolOutput {
                        content: json!({"city": c, "temperature_c": t, "condition": cond}).to_string(),
                        key: Some(t.to_string()),
                    }
                }
                _ => error("get_weather needs a city"),
            },
            "convert_currency" => {
                let rate = |k: &str| {
                    let code = s(k)?.to_uppercase();
                    RATES.iter().find(|(c, _)| *c == code).map(|&(c, r)| (c, r))
                };
                match (n("amount"), rate("from_currency"), rate("to_currency")) {
                    (Some(x), Some((_, rf)), Some((ct, rt))) => {
                        let v = (x as f64 / rf * rt * 100.0).round() / 100.0;
                        let key = format!("{v:.2}");
                        ToolOutput { content: json!({"amount": v, "currency": ct}).to_string(), key: Some(key) }
                    }
                    (None, _, _) => error("convert_currency needs an integer amount"),
                    _ => error("unknown currency code"),
                }
            }
            "count_letter" => match (s("word"), s("letter")) {
                (Some(w), Some(l)) if l.chars().count() == 1 => {
                    let c = l.chars().next().expect("one char").to_lowercase().next().expect("lowercase");
                    let k = w.to_lowercase().chars().filter(|&x| x == c).count();
                    ToolOutput {
                        content: json!({"word": w, "letter": l, "count": k}).to_string(),
                        key: Some(k.to_string()),
                    }
                }
                _ => error("count_letter needs a word and a single letter"),
            },
            "set_timer" => match n("minutes") {
                Some(m) if m > 0 => ToolOutput {
                    content: json!({"status": "started", "minutes": m}).to_string(),
                    key: Some(m.to_string()),
                },
                _ => error("set_timer needs a positive number of minutes"),
            },
            "translate" => match (s("text"), s("target_language")) {
                (Some(t), Some(l)) if !t.is_empty() && !l.is_empty() => {
                    // No dictionary: a deterministic stand-in the answer must repeat.
                    let out = format!("{} ({})", t.to_lowercase(), l.to_lowercase());
                    ToolOutput { content: json!({"translation": out}).to_string(), key: Some(out) }
                }
                _ => error("translate needs text and target_language"),
            },
            other => error(format!("no tool named {other:?}")),
        }
    }
}

/// The keys of a task's expected calls (BFCL possible-answer form, the first accepted value
/// of each argument; an empty-string value means "omitted") run through `env`.
pub fn expected_keys(env: &dyn Environment, answer: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for item in answer {
        let Some((name, args)) = item.as_object().and_then(|m| m.iter().next()) else { continue };
        let mut arguments = Map::new();
        for (k, vals) in args.as_object().into_iter().flatten() {
            match vals.as_array().and_then(|v| v.first()) {
                Some(Value::String(s)) if s.is_empty() => {}
                Some(v) => {
                    arguments.insert(k.clone(), v.clone());
                }
                None => {}
            }
        }
        if let Some(k) = env.execute(&ToolCall { name: name.clone(), arguments }).key {
            out.push(k);
        }
    }
    out
}

/// Whether `key` occurs in `text` as a whole token (case-insensitive; not inside a longer
/// number or word, so "7" is not found in "17").
pub fn mentions(text: &str, key: &str) -> bool {
    let (t, k) = (text.to_lowercase(), key.to_lowercase());
    if k.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric();
    let mut from = 0;
    while let Some(i) = t[from..].find(&k) {
        let (s, e) = (from + i, from + i + k.len());
        let before = t[..s].chars().next_back().is_none_or(|c| !word(c));
        let after = t[e..].chars().next().is_none_or(|c| !word(c));
        if before && after {
            return true;
        }
        from = s + t[s..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The tokens that follow a tool-calling turn: the rest of the assistant turn after the
/// model's stop token, the `tool` messages with `results`, and the generation prompt.
///
/// `conv` is the conversation before this turn; `reply` the turn parsed into its text and
/// calls (`lfm_data::chat::parse_reply`); `stop_text` the stop token's text.
/// Returns the conversation with the turn and the tool messages, and the token ids.
pub fn continuation(
    codec: &TextCodec,
    conv: &Conversation,
    reply: &ParsedReply,
    results: &[ToolOutput],
    stop_text: &str,
) -> Result<(Conversation, Vec<u32>)> {
    let mut assistant = json!({"role": "assistant", "content": reply.text});
    if !reply.calls.is_empty() {
        assistant["tool_calls"] = Value::Array(reply.calls.iter().map(ToolCall::to_openai).collect());
    }
    let mut messages = conv.messages.clone();
    messages.push(assistant);
    let with_turn = Conversation::new(messages.clone(), conv.tools.clone())?;
    for r in results {
        messages.push(json!({"role": "tool", "content": r.content}));
    }
    let with_tools = Conversation::new(messages, conv.tools.clone())?;
    let before = codec.render(&with_turn, false)?.text;
    let after = codec.render(&with_tools, true)?.text;
    // The assistant turn ends at the n-th stop token of the rendering, n counted in the
    // rendering that ends with it. Counting (rather than requiring `after` to start with
    // `before`) also serves templates that rewrite earlier turns once tool results exist.
    let n = before.matches(stop_text).count();
    let end = match after.match_indices(stop_text).nth(n.max(1) - 1) {
        Some((i, _)) if n > 0 => i + stop_text.len(),
        _ => bail!("{}: the assistant turn does not end with {stop_text:?}", codec.prompt_source()),
    };
    let text = &after[end..];
    Ok((with_tools, codec.encode_rendered(text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall { name: name.into(), arguments: args.as_object().unwrap().clone() }
    }

    #[test]
    fn toy_tools_compute_their_results() {
        let t = ToyTools;
        let r = t.execute(&call("count_letter", json!({"word": "Mississippi", "letter": "s"})));
        assert_eq!(r.key.as_deref(), Some("4"));
        // 100 EUR -> USD -> JPY: 100 / 0.92 * 150 = 16304.347... -> 16304.35.
        let r =
            t.execute(&call("convert_currency", json!({"amount": 100, "from_currency": "eur", "to_currency": "JPY"})));
        assert_eq!(r.key.as_deref(), Some("16304.35"));
        assert_eq!(r.content, r#"{"amount":16304.35,"currency":"JPY"}"#);
        let r = t.execute(&call("set_timer", json!({"minutes": "12"})));
        assert_eq!(r.key.as_deref(), Some("12"));
        // The same city gives the same weather, whatever its case.
        let a = t.execute(&call("get_weather", json!({"city": "Oslo"})));
        let b = t.execute(&call("get_weather", json!({"city": "OSLO"})));
        assert_eq!(a.key, b.key);
        let k: i64 = a.key.unwrap().parse().unwrap();
        assert!((-5..=30).contains(&k));
        // Errors are outputs the model sees, without a key.
        for bad in [
            call("set_timer", json!({})),
            call("fly", json!({})),
            call("count_letter", json!({"word": "a", "letter": "ab"})),
        ] {
            let r = t.execute(&bad);
            assert!(r.content.contains("error") && r.key.is_none(), "{r:?}");
        }
    }

    #[test]
    fn expected_keys_run_the_first_accepted_values() {
        let ans = vec![
            json!({"set_timer": {"minutes": [7], "label": ["", "tea"]}}),
            json!({"count_letter": {"word": ["banana"], "letter": ["a"]}}),
        ];
        assert_eq!(expected_keys(&ToyTools, &ans), vec!["7".to_string(), "3".to_string()]);
    }

    #[test]
    fn mentions_matches_whole_tokens_only() {
        assert!(mentions("It is 7 degrees.", "7"));
        assert!(!mentions("It is 17 degrees.", "7"));
        assert!(mentions("Total: 16304.35 JPY", "16304.35"));
        assert!(!mentions("Total: 16304.356", "16304.35"));
        assert!(mentions("GOOD MORNING (french)", "good morning (french)"));
        assert!(!mentions("anything", ""));
    }
}
