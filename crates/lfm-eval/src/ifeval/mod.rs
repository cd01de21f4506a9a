//! IFEval: instruction-following checks, strict and loose, and the four metrics (spec
//! `docs/ifeval.md`): all 25 checks, scoring of given responses, and the report files.

pub mod checks;
pub mod langdetect;
pub mod punkt;
pub mod treebank;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use lfm_data::chat::Conversation;
use serde_json::{Map, Value};

pub use checks::{check, CheckError};

/// One IFEval input row.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub key: i64,
    pub prompt: String,
    pub instruction_id_list: Vec<String>,
    pub kwargs: Vec<Map<String, Value>>,
    /// 1-based line in the input file.
    pub line: usize,
}

/// An input line that could not be read as a prompt: it still counts, as a prompt that follows
/// none of its instructions (so the denominators never shrink silently).
#[derive(Clone, Debug)]
pub struct BadInput {
    pub line: usize,
    pub key: Option<i64>,
    /// Its instruction ids when they could be read, else empty (counted as one instruction).
    pub instruction_id_list: Vec<String>,
    pub message: String,
}

/// Parses one input line (`at` names it in errors; `n` is its line number).
pub fn parse_prompt_line(line: &str, at: &str, n: usize) -> Result<Prompt> {
    let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{at}: invalid JSON: {e}"))?;
    let key = v.get("key").and_then(Value::as_i64).ok_or_else(|| anyhow!("{at}: no integer \"key\""))?;
    let prompt =
        v.get("prompt").and_then(Value::as_str).ok_or_else(|| anyhow!("{at}: no \"prompt\" string"))?.to_string();
    let ids: Vec<String> = v
        .get("instruction_id_list")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect())
        .ok_or_else(|| anyhow!("{at}: \"instruction_id_list\" must be a list of strings"))?;
    let kwargs: Vec<Map<String, Value>> = v
        .get("kwargs")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|x| x.as_object().cloned()).collect())
        .ok_or_else(|| anyhow!("{at}: \"kwargs\" must be a list of objects"))?;
    if kwargs.len() != ids.len() {
        return Err(anyhow!("{at}: {} instruction ids but {} kwargs", ids.len(), kwargs.len()));
    }
    Ok(Prompt { key, prompt, instruction_id_list: ids, kwargs, line: n })
}

/// The official IFEval prompts (541, `evals/ifeval/input_data.jsonl`), built into the
/// library so `lfm eval ifeval` finds them from any working directory.
pub const BUNDLED_INPUT: &str = include_str!("../../../../evals/ifeval/input_data.jsonl");

/// The name [`BUNDLED_INPUT`] goes by in messages and summaries.
pub const BUNDLED_INPUT_NAME: &str = "evals/ifeval/input_data.jsonl (built in)";

/// Reads `input_data.jsonl`, keeping going past malformed lines (returned with their line
/// numbers). Fails only when the file cannot be read.
pub fn load_inputs_lenient(path: &Path) -> Result<(Vec<Prompt>, Vec<BadInput>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(parse_inputs_lenient(&path.display().to_string(), &text))
}

/// [`load_inputs_lenient`] on text already read; `source` names it in messages.
pub fn parse_inputs_lenient(source: &str, text: &str) -> (Vec<Prompt>, Vec<BadInput>) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{source}:{}", i + 1);
        match parse_prompt_line(line, &at, i + 1) {
            Ok(p) => good.push(p),
            Err(e) => {
                let v: Option<Value> = serde_json::from_str(line).ok();
                let key = v.as_ref().and_then(|v| v.get("key")).and_then(Value::as_i64);
                let ids = v
                    .as_ref()
                    .and_then(|v| v.get("instruction_id_list"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                bad.push(BadInput { line: i + 1, key, instruction_id_list: ids, message: format!("{e:#}") });
            }
        }
    }
    (good, bad)
}

/// Reads `input_data.jsonl`; a malformed line is an error naming the file and line.
pub fn load_inputs(path: &Path) -> Result<Vec<Prompt>> {
    let (good, bad) = load_inputs_lenient(path)?;
    match bad.first() {
        Some(b) => Err(anyhow!("{}", b.message)),
        None => Ok(good),
    }
}

/// Keeps the first `n` input lines, malformed ones included (the `--limit` of `lfm eval
/// ifeval`): lines are counted in the input file, not among the well-formed prompts.
pub fn keep_first_lines(prompts: &mut Vec<Prompt>, bad: &mut Vec<BadInput>, n: usize) {
    let mut lines: Vec<usize> = prompts.iter().map(|p| p.line).chain(bad.iter().map(|b| b.line)).collect();
    lines.sort_unstable();
    let last = lines.get(n.saturating_sub(1)).copied().unwrap_or(usize::MAX);
    prompts.retain(|p| n > 0 && p.line <= last);
    bad.retain(|b| n > 0 && b.line <= last);
}

/// One user turn per prompt (the conversations to generate responses for).
pub fn conversations(prompts: &[Prompt]) -> Vec<Conversation> {
    prompts.iter().map(|p| Conversation::user(&p.prompt)).collect()
}

/// Generated responses, one per prompt in order, as JSON Lines `{"key", "prompt", "response"}`
/// (a file [`load_responses`] reads).
pub fn responses_jsonl(prompts: &[Prompt], texts: &[String]) -> String {
    prompts
        .iter()
        .zip(texts)
        .map(|(p, t)| serde_json::json!({"key": p.key, "prompt": p.prompt, "response": t}).to_string() + "\n")
        .collect()
}

/// Responses to score, by prompt key and by prompt text (lm-eval writes `{"prompt",
/// "response"}`; `{"key", "response"}` is accepted too).
#[derive(Default)]
pub struct Responses {
    pub by_key: HashMap<i64, String>,
    pub by_prompt: HashMap<String, String>,
    /// Lines that could not be used, as `file:line: problem`.
    pub bad_lines: Vec<String>,
}

impl Responses {
    /// Generated texts, one per prompt in order (joined by key).
    pub fn from_generated(prompts: &[Prompt], texts: Vec<String>) -> Responses {
        Responses { by_key: prompts.iter().map(|p| p.key).zip(texts).collect(), ..Default::default() }
    }

    pub fn get(&self, p: &Prompt) -> Option<&str> {
        self.by_key.get(&p.key).or_else(|| self.by_prompt.get(&p.prompt)).map(String::as_str)
    }
}

/// Reads a responses file, counting (not dropping silently) lines it cannot use.
pub fn load_responses(path: &Path) -> Result<Responses> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut r = Responses::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{}:{}", path.display(), i + 1);
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                r.bad_lines.push(format!("{at}: invalid JSON: {e}"));
                continue;
            }
        };
        let Some(resp) = v.get("response").and_then(Value::as_str) else {
            r.bad_lines.push(format!("{at}: no \"response\" string"));
            continue;
        };
        match (v.get("key").and_then(Value::as_i64), v.get("prompt").and_then(Value::as_str)) {
            (Some(k), _) => {
                r.by_key.insert(k, resp.to_string());
            }
            (None, Some(p)) => {
                r.by_prompt.insert(p.to_string(), resp.to_string());
            }
            (None, None) => r.bad_lines.push(format!("{at}: needs an integer \"key\" or a \"prompt\" string")),
        }
    }
    Ok(r)
}

/// Python truthiness of a JSON value (lm-eval drops falsy kwargs: the HF copy pads with nulls).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The loose variants of a response (docs/ifeval.md §2.3): as is, without `*`, without the first / last /
/// both lines (stripped), and those without `*`.
pub fn loose_candidates(r: &str) -> Vec<String> {
    let lines: Vec<&str> = r.split('\n').collect();
    let n = lines.len();
    let join =
        |a: usize, b: usize| if a >= b { String::new() } else { checks::py_strip(&lines[a..b].join("\n")).to_string() };
    let r2 = join(1, n);
    let r3 = join(0, n.saturating_sub(1));
    let r4 = join(1, n.saturating_sub(1));
    let nostar = |s: &str| s.replace('*', "");
    vec![r.to_string(), nostar(r), nostar(&r2), nostar(&r3), nostar(&r4), r2, r3, r4]
}

/// Strict and loose verdicts of every instruction of one prompt, and the configuration error
/// (unknown id, ill-typed kwarg) of each instruction that could not be checked — such an
/// instruction counts as not followed.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdicts {
    pub strict: Vec<bool>,
    pub loose: Vec<bool>,
    pub errors: Vec<Option<CheckError>>,
}

/// Scores one response.
pub fn score(p: &Prompt, response: &str) -> Verdicts {
    let cands = loose_candidates(response);
    let mut v = Verdicts { strict: Vec::new(), loose: Vec::new(), errors: Vec::new() };
    for (id, kw) in p.instruction_id_list.iter().zip(&p.kwargs) {
        let kw: Map<String, Value> =
            kw.iter().filter(|(_, v)| truthy(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let one = || -> Result<(bool, bool), CheckError> {
            let s = !checks::py_strip(response).is_empty() && check(id, &kw, response)?;
            let mut l = s;
            if !l {
                for c in &cands {
                    if !checks::py_strip(c).is_empty() && check(id, &kw, c)? {
                        l = true;
                        break;
                    }
                }
            }
            Ok((s, l))
        };
        // Configuration errors do not depend on the response: probe once with a non-empty text.
        let r = check(id, &kw, "x").and_then(|_| one());
        let (s, l, e) = match r {
            Ok((s, l)) => (s, l, None),
            Err(e) => (false, false, Some(e)),
        };
        v.strict.push(s);
        v.loose.push(l);
        v.errors.push(e);
    }
    v
}

/// The outcome for one input line (a scored prompt, or one that could not be scored).
#[derive(Clone, Debug, serde::Serialize)]
pub struct PromptResult {
    pub key: Option<i64>,
    /// "scored", "no_response" or "malformed_input".
    pub status: &'static str,
    pub line: usize,
    pub instruction_id_list: Vec<String>,
    pub strict: bool,
    pub loose: bool,
    pub strict_per_instruction: Vec<bool>,
    pub loose_per_instruction: Vec<bool>,
    /// Why the prompt or an instruction could not be scored (it then counts as not followed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl PromptResult {
    pub fn scored(p: &Prompt, v: &Verdicts) -> Self {
        let errors = v
            .errors
            .iter()
            .zip(&p.instruction_id_list)
            .filter_map(|(e, id)| e.as_ref().map(|e| format!("line {}: {id}: {e}", p.line)))
            .collect();
        PromptResult {
            key: Some(p.key),
            status: "scored",
            line: p.line,
            instruction_id_list: p.instruction_id_list.clone(),
            strict: v.strict.iter().all(|&x| x),
            loose: v.loose.iter().all(|&x| x),
            strict_per_instruction: v.strict.clone(),
            loose_per_instruction: v.loose.clone(),
            errors,
        }
    }

    /// A prompt that gets no verdicts (no response, or a malformed input line): every
    /// instruction fails; an input line whose ids cannot be read counts as one instruction.
    pub fn failed(status: &'static str, key: Option<i64>, line: usize, ids: &[String], why: String) -> Self {
        let ids = if ids.is_empty() { vec!["(unreadable)".to_string()] } else { ids.to_vec() };
        let n = ids.len();
        PromptResult {
            key,
            status,
            line,
            instruction_id_list: ids,
            strict: false,
            loose: false,
            strict_per_instruction: vec![false; n],
            loose_per_instruction: vec![false; n],
            errors: vec![why],
        }
    }
}

/// The four IFEval metrics and per-instruction counts.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub prompt_level_strict: f64,
    pub inst_level_strict: f64,
    pub prompt_level_loose: f64,
    pub inst_level_loose: f64,
    pub prompts: usize,
    pub instructions: usize,
    /// Input lines that could not be read as prompts (counted as failed prompts).
    pub malformed_input_lines: usize,
    /// Prompts without a response (counted as failed).
    pub missing_responses: usize,
    /// Instructions of scored prompts that could not be checked (unknown id, bad kwargs).
    pub instruction_errors: usize,
    /// id → [instructions, strict passes, loose passes]
    pub per_instruction: BTreeMap<String, [usize; 3]>,
}

impl Summary {
    /// Instruction counts pooled by group, the part of the id before `:` (`punctuation`,
    /// `length_constraints`, …): group → [instructions, strict passes, loose passes].
    pub fn per_group(&self) -> BTreeMap<String, [usize; 3]> {
        let mut groups: BTreeMap<String, [usize; 3]> = BTreeMap::new();
        for (id, c) in &self.per_instruction {
            let g = groups.entry(id.split(':').next().unwrap_or(id).to_string()).or_default();
            for k in 0..3 {
                g[k] += c[k];
            }
        }
        groups
    }
}

/// Aggregates results (prompt-level: all instructions followed; instruction-level: pooled).
pub fn summarize(rows: &[PromptResult]) -> Summary {
    let mut s = Summary { prompts: rows.len(), ..Default::default() };
    let (mut ps, mut pl, mut is, mut il) = (0, 0, 0, 0);
    for r in rows {
        ps += r.strict as usize;
        pl += r.loose as usize;
        match r.status {
            "no_response" => s.missing_responses += 1,
            "malformed_input" => s.malformed_input_lines += 1,
            _ => s.instruction_errors += r.errors.len(),
        }
        for (i, id) in r.instruction_id_list.iter().enumerate() {
            s.instructions += 1;
            is += r.strict_per_instruction[i] as usize;
            il += r.loose_per_instruction[i] as usize;
            let e = s.per_instruction.entry(id.clone()).or_default();
            e[0] += 1;
            e[1] += r.strict_per_instruction[i] as usize;
            e[2] += r.loose_per_instruction[i] as usize;
        }
    }
    let f = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    s.prompt_level_strict = f(ps, s.prompts);
    s.prompt_level_loose = f(pl, s.prompts);
    s.inst_level_strict = f(is, s.instructions);
    s.inst_level_loose = f(il, s.instructions);
    s
}

/// Scores every input line against the responses: the rows of `per_prompt.jsonl`, in input order.
pub fn evaluate(prompts: &[Prompt], bad: &[BadInput], responses: &Responses) -> Vec<PromptResult> {
    let mut rows: Vec<PromptResult> =
        prompts
            .iter()
            .map(|p| match responses.get(p) {
                Some(r) => PromptResult::scored(p, &score(p, r)),
                None => PromptResult::failed(
                    "no_response",
                    Some(p.key),
                    p.line,
                    &p.instruction_id_list,
                    format!("line {}: no response for key {}", p.line, p.key),
                ),
            })
            .chain(bad.iter().map(|b| {
                PromptResult::failed("malformed_input", b.key, b.line, &b.instruction_id_list, b.message.clone())
            }))
            .collect();
    rows.sort_by_key(|r| r.line);
    rows
}

#[cfg(test)]
mod limit_and_group_tests {
    use super::*;

    fn prompt(line: usize) -> Prompt {
        Prompt { key: line as i64, prompt: String::new(), instruction_id_list: vec![], kwargs: vec![], line }
    }

    fn bad(line: usize) -> BadInput {
        BadInput { line, key: None, instruction_id_list: vec![], message: String::new() }
    }

    #[test]
    fn limit_counts_input_lines_malformed_ones_included() {
        let lines = |n: usize| {
            let (mut p, mut b) = (vec![prompt(1), prompt(3), prompt(5)], vec![bad(2), bad(4)]);
            keep_first_lines(&mut p, &mut b, n);
            (p.iter().map(|p| p.line).collect::<Vec<_>>(), b.iter().map(|b| b.line).collect::<Vec<_>>())
        };
        assert_eq!(lines(3), (vec![1, 3], vec![2]));
        assert_eq!(lines(4), (vec![1, 3], vec![2, 4]));
        assert_eq!(lines(0), (vec![], vec![]));
        assert_eq!(lines(10), (vec![1, 3, 5], vec![2, 4]));
    }

    #[test]
    fn groups_pool_instructions_by_id_prefix() {
        let mut s = Summary::default();
        s.per_instruction.insert("punctuation:no_comma".into(), [2, 1, 2]);
        s.per_instruction.insert("punctuation:other".into(), [1, 1, 1]);
        s.per_instruction.insert("length_constraints:number_words".into(), [3, 0, 1]);
        let g = s.per_group();
        assert_eq!(
            g.into_iter().collect::<Vec<_>>(),
            vec![("length_constraints".to_string(), [3, 0, 1]), ("punctuation".to_string(), [3, 2, 3])]
        );
    }
}
