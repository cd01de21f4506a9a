//! GRPO reward functions: each is the evaluation scorer of lfm-eval applied to one completion.
//!
//! A reward is one function `fn(&Task, &str) -> f64` in its own file, registered in
//! [`REGISTRY`] under the name configs use in `[rewards]` (name = weight) with the text it
//! reads ([`Reads`]): in a multi-turn tool episode (`[grpo] env`), call rewards read the first
//! turn that calls a tool and answer rewards the final answer; in a single-turn completion both
//! read the completion. The total reward is the weighted sum. Adding a reward: write the
//! function in a new file here and add one line to [`REGISTRY`].
//!
//! | name | reads | value |
//! |---|---|---|
//! | `tool_call` | calls | 1 if the calls match the task's answer by the BFCL AST rules (lfm-eval's checker), else 0 |
//! | `tool_args` | calls | partial credit: one unit per expected call of the right name plus one per argument BFCL's rules accept, over the units expected; scaled by min/max of the decoded and expected call counts (a missing or an extra call costs) |
//! | `tool_format` | calls | partial credit per call of a decodable LFM2 call list: 0.5 for an offered tool's name, +0.5 for its required (and only declared) parameters; 0 without a call |
//! | `tool_answer` | answer after tool results | fraction of the expected calls whose result (run by the episode's environment) the answer states; 0 for an episode that called no tool; episodes only |
//! | `ifeval` | answer | fraction of the task's IFEval instructions followed (strict, official checks) |
//! | `exact_match` | answer | 1 if the stripped output equals the task's `target` |
//! | `regex` | answer | 1 if the task's `pattern` matches the output |
//! | `json_format` | answer | 1 if the output parses as JSON (and holds the `schema`'s required keys, when given) |

mod exact;
mod ifeval;
mod json_format;
mod tool_answer;
mod tool_args;
mod tool_call;
mod tool_format;

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use lfm_data::chat::Conversation;
use serde_json::Value;

/// One GRPO prompt with what its rewards check (a line of the prompts JSONL).
#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    /// The prompt: tools (LFM2 tool list in the system turn) and messages before the reply.
    pub conversation: Conversation,
    /// BFCL category of the expected calls (`simple`, `multiple`, `parallel`, `parallel_multiple`).
    pub category: Option<String>,
    /// Expected calls in BFCL possible-answer form: `[{name: {arg: [accepted values]}}]`.
    pub answer: Vec<Value>,
    /// IFEval instructions (`instruction_id_list` + `kwargs`).
    pub instructions: Option<lfm_eval::ifeval::Prompt>,
    pub target: Option<String>,
    pub pattern: Option<String>,
    pub schema: Option<Value>,
    /// What correct tool results say (see `crate::env::expected_keys`); filled by an episode
    /// run from `answer`, empty otherwise.
    pub expected_keys: Vec<String>,
}

pub type RewardFn = fn(&Task, &str) -> f64;

/// Which text of an episode a reward reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// The first turn that calls a tool (or the first turn).
    Calls,
    /// The final answer: the last turn, when it calls no tool.
    Answer,
    /// The final answer, when tool results came before it (an answer without calling the
    /// tools reads as empty: a guess is not rewarded).
    AnswerAfterTools,
}

/// Every reward by config name.
pub const REGISTRY: &[(&str, RewardFn, Reads)] = &[
    ("tool_call", tool_call::reward, Reads::Calls),
    ("tool_args", tool_args::reward, Reads::Calls),
    ("tool_format", tool_format::reward, Reads::Calls),
    ("tool_answer", tool_answer::reward, Reads::AnswerAfterTools),
    ("ifeval", ifeval::reward, Reads::Answer),
    ("exact_match", exact::exact_match, Reads::Answer),
    ("regex", exact::regex, Reads::Answer),
    ("json_format", json_format::reward, Reads::Answer),
];

pub fn lookup(name: &str) -> Result<(RewardFn, Reads)> {
    REGISTRY.iter().find(|(n, _, _)| *n == name).map(|(_, f, r)| (*f, *r)).ok_or_else(|| {
        anyhow!("unknown reward {name:?} (known: {})", REGISTRY.iter().map(|r| r.0).collect::<Vec<_>>().join(", "))
    })
}

/// Reads a prompts JSONL file (format in data/README.md); errors name the file and line.
pub fn load_tasks(path: &Path) -> Result<Vec<Task>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{at}: invalid JSON: {e}"))?;
        let conversation: Conversation = serde_json::from_value(serde_json::json!({"messages": v.get("messages").cloned().unwrap_or(Value::Null), "tools": v.get("tools").cloned().unwrap_or(Value::Null)}))
            .map_err(|e| anyhow!("{at}: bad \"messages\"/\"tools\": {e}"))?;
        if conversation.messages.is_empty() {
            bail!("{at}: no messages");
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let instructions = match v.get("instructions") {
            None | Some(Value::Null) => None,
            Some(ins) => {
                let mut o = ins.clone();
                o["key"] = Value::from(i as i64);
                o["prompt"] = Value::from("");
                let line = o.to_string();
                let tmp = lfm_eval::ifeval::parse_prompt_line(&line, &at, i + 1)?;
                Some(tmp)
            }
        };
        out.push(Task {
            id: s("id").unwrap_or_else(|| format!("line-{}", i + 1)),
            conversation,
            category: s("category"),
            answer: v.get("answer").and_then(Value::as_array).cloned().unwrap_or_default(),
            instructions,
            target: s("target"),
            pattern: s("pattern"),
            schema: v.get("schema").cloned(),
            expected_keys: Vec::new(),
        });
    }
    if out.is_empty() {
        bail!("{}: no prompts", path.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weather_task() -> Task {
        let conv: Conversation = serde_json::from_value(json!({
            "tools": [{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}],
            "messages": [{"role": "user", "content": "Weather in Paris?"}]
        }))
        .unwrap();
        Task {
            id: "t".into(),
            conversation: conv,
            category: Some("simple".into()),
            answer: vec![json!({"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}})],
            instructions: None,
            target: Some("42".into()),
            pattern: Some(r"^\d+$".into()),
            schema: Some(json!({"required": ["a"]})),
            expected_keys: vec!["12".into()],
        }
    }

    #[test]
    fn tool_rewards_use_the_bfcl_rules() {
        let t = weather_task();
        let r = lookup("tool_call").unwrap().0;
        let f = lookup("tool_format").unwrap().0;
        let good = "<|tool_call_start|>[get_weather(city=\"Paris\")]<|tool_call_end|>";
        assert_eq!((r(&t, good), f(&t, good)), (1.0, 1.0));
        // BFCL string normalisation: case and spaces do not matter; optional arg may be given.
        assert_eq!(r(&t, "<|tool_call_start|>[get_weather(city='paris', unit='celsius')]<|tool_call_end|>"), 1.0);
        // Wrong value: well-formed, but not correct.
        let wrong = "<|tool_call_start|>[get_weather(city=\"Lima\")]<|tool_call_end|>";
        assert_eq!((r(&t, wrong), f(&t, wrong)), (0.0, 1.0));
        // Schema: a required parameter missing, or one the tool does not declare.
        assert_eq!(f(&t, "<|tool_call_start|>[get_weather(unit=\"celsius\")]<|tool_call_end|>"), 0.5);
        assert_eq!(f(&t, "<|tool_call_start|>[get_weather(city=\"Paris\", days=3)]<|tool_call_end|>"), 0.5);
        assert_eq!(f(&t, "<|tool_call_start|>[get_weather(Paris)]<|tool_call_end|>"), 0.5);
        assert_eq!(
            f(&t, "<|tool_call_start|>[get_weather(city=\"Oslo\"), get_time(city=\"Oslo\")]<|tool_call_end|>"),
            0.5
        );
        // Unknown function or broken syntax: neither.
        assert_eq!(f(&t, "<|tool_call_start|>[get_time(city=\"Paris\")]<|tool_call_end|>"), 0.0);
        assert_eq!((r(&t, "[get_weather(city="), f(&t, "[get_weather(city=")), (0.0, 0.0));
        assert_eq!(f(&t, "It is sunny."), 0.0);
    }

    #[test]
    fn tool_args_gives_a_unit_per_name_and_right_argument() {
        let t = weather_task();
        let a = lookup("tool_args").unwrap().0;
        let w = |calls: &str| format!("<|tool_call_start|>[{calls}]<|tool_call_end|>");
        // Units: name, city, unit (optional: right when omitted) = 3.
        assert_eq!(a(&t, &w("get_weather(city='Paris')")), 1.0);
        assert_eq!(a(&t, &w("get_weather(city='Lima')")), 2.0 / 3.0);
        assert_eq!(a(&t, &w("get_weather(city='Lima', unit='kelvin')")), 1.0 / 3.0);
        // An extra call halves the credit of the right one; another tool earns nothing.
        assert_eq!(a(&t, &w("get_weather(city='Lima'), get_weather(city='Paris')")), 0.5);
        assert_eq!(a(&t, &w("get_time(city='Paris')")), 0.0);
        assert_eq!(a(&t, "[get_weather(city="), 0.0);
        // Two expected calls (6 units): the best pairs are taken first, whatever the order.
        let mut two = weather_task();
        two.answer = vec![
            json!({"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}}),
            json!({"get_weather": {"city": ["Oslo"], "unit": ["celsius", ""]}}),
        ];
        assert_eq!(a(&two, &w("get_weather(city='Oslo'), get_weather(city='Rome')")), 5.0 / 6.0);
        // A missing call costs as an extra one does: 3 of 6 units, times 1/2 calls.
        assert_eq!(a(&two, &w("get_weather(city='Oslo')")), 3.0 / 6.0 * 0.5);
    }

    #[test]
    fn text_rewards() {
        let t = weather_task();
        assert_eq!(lookup("exact_match").unwrap().0(&t, " 42\n"), 1.0);
        assert_eq!(lookup("exact_match").unwrap().0(&t, "41"), 0.0);
        assert_eq!(lookup("regex").unwrap().0(&t, "123"), 1.0);
        assert_eq!(lookup("regex").unwrap().0(&t, "12a"), 0.0);
        assert_eq!(lookup("json_format").unwrap().0(&t, "{\"a\": 1}"), 1.0);
        assert_eq!(lookup("json_format").unwrap().0(&t, "{\"b\": 1}"), 0.0);
        assert_eq!(lookup("json_format").unwrap().0(&t, "{\"a\": "), 0.0);
        assert!(lookup("nope").is_err());
        // tool_answer: the answer states what the expected call's result says (12 degrees).
        let (a, reads) = lookup("tool_answer").unwrap();
        assert_eq!(reads, Reads::AnswerAfterTools);
        assert_eq!(a(&t, "It is 12 degrees in Paris."), 1.0);
        assert_eq!(a(&t, "It is 112 degrees in Paris."), 0.0);
    }

    #[test]
    fn ifeval_reward_is_the_fraction_of_instructions_followed() {
        let mut t = weather_task();
        let line = json!({"key": 1, "prompt": "", "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]}).to_string();
        t.instructions = Some(lfm_eval::ifeval::parse_prompt_line(&line, "x", 1).unwrap());
        let f = lookup("ifeval").unwrap().0;
        assert_eq!(f(&t, "the weather in paris is mild and sunny today"), 1.0);
        assert_eq!(f(&t, "The weather in paris is mild and sunny today"), 0.5);
        assert_eq!(f(&t, "The weather, in Paris"), 0.0);
    }
}
