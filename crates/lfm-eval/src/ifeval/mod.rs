//! IFEval: instruction-following checks, strict and loose, and the four metrics (spec
//! `ifeval.md`): all 25 checks, scoring of given responses, and the report files.

pub mod checks;
pub mod langdetect;
pub mod punkt;
pub mod treebank;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::{Map, Value};

pub use checks::{check, CheckError};

/// One IFEval input row.
#[derive(Clone, Debug)]
pub struct Prompt {
    pub key: i64,
    pub prompt: String,
    pub instruction_id_list: Vec<String>,
    pub kwargs: Vec<Map<String, Value>>,
}

/// Reads `input_data.jsonl`; a malformed line is an error naming the file and line.
pub fn load_inputs(path: &Path) -> Result<Vec<Prompt>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), i + 1);
        let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{}: invalid JSON: {e}", at()))?;
        let key = v.get("key").and_then(Value::as_i64).ok_or_else(|| anyhow!("{}: no integer \"key\"", at()))?;
        let prompt = v.get("prompt").and_then(Value::as_str).ok_or_else(|| anyhow!("{}: no \"prompt\"", at()))?.to_string();
        let ids: Vec<String> = v
            .get("instruction_id_list")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect())
            .ok_or_else(|| anyhow!("{}: \"instruction_id_list\" must be a list of strings", at()))?;
        let kwargs: Vec<Map<String, Value>> = v
            .get("kwargs")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|x| x.as_object().cloned()).collect())
            .ok_or_else(|| anyhow!("{}: \"kwargs\" must be a list of objects", at()))?;
        if kwargs.len() != ids.len() {
            return Err(anyhow!("{}: {} instruction ids but {} kwargs", at(), ids.len(), kwargs.len()));
        }
        out.push(Prompt { key, prompt, instruction_id_list: ids, kwargs });
    }
    Ok(out)
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

/// The loose variants of a response (spec §2.3): as is, without `*`, without the first / last /
/// both lines (stripped), and those without `*`.
pub fn loose_candidates(r: &str) -> Vec<String> {
    let lines: Vec<&str> = r.split('\n').collect();
    let n = lines.len();
    let join = |a: usize, b: usize| if a >= b { String::new() } else { checks::py_strip(&lines[a..b].join("\n")).to_string() };
    let r2 = join(1, n);
    let r3 = join(0, n.saturating_sub(1));
    let r4 = join(1, n.saturating_sub(1));
    let nostar = |s: &str| s.replace('*', "");
    vec![r.to_string(), nostar(r), nostar(&r2), nostar(&r3), nostar(&r4), r2, r3, r4]
}

/// Strict and loose verdicts of every instruction of one prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdicts {
    pub strict: Vec<bool>,
    pub loose: Vec<bool>,
}

/// Scores one response.
pub fn score(p: &Prompt, response: &str) -> Result<Verdicts, CheckError> {
    let cands = loose_candidates(response);
    let mut strict = Vec::new();
    let mut loose = Vec::new();
    for (id, kw) in p.instruction_id_list.iter().zip(&p.kwargs) {
        let kw: Map<String, Value> = kw.iter().filter(|(_, v)| truthy(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
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
        strict.push(s);
        loose.push(l);
    }
    Ok(Verdicts { strict, loose })
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
    /// id → [instructions, strict passes, loose passes]
    pub per_instruction: BTreeMap<String, [usize; 3]>,
}

/// Aggregates verdicts (prompt-level: all instructions followed; instruction-level: pooled).
pub fn summarize(rows: &[(&Prompt, &Verdicts)]) -> Summary {
    let mut s = Summary { prompts: rows.len(), ..Default::default() };
    let (mut ps, mut pl, mut is, mut il) = (0, 0, 0, 0);
    for (p, v) in rows {
        ps += v.strict.iter().all(|&x| x) as usize;
        pl += v.loose.iter().all(|&x| x) as usize;
        for (i, id) in p.instruction_id_list.iter().enumerate() {
            s.instructions += 1;
            is += v.strict[i] as usize;
            il += v.loose[i] as usize;
            let e = s.per_instruction.entry(id.clone()).or_default();
            e[0] += 1;
            e[1] += v.strict[i] as usize;
            e[2] += v.loose[i] as usize;
        }
    }
    let f = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    s.prompt_level_strict = f(ps, s.prompts);
    s.prompt_level_loose = f(pl, s.prompts);
    s.inst_level_strict = f(is, s.instructions);
    s.inst_level_loose = f(il, s.instructions);
    s
}
