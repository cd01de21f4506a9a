//! BFCL-style tool-call scoring (single-turn Python categories: simple, multiple, parallel,
//! parallel_multiple, irrelevance, relevance).
//!
//! Hand-written: BFCL's checker is Python (`bfcl-eval`), and no Rust crate implements it. The
//! rules follow `bfcl_ast.md` (written from bfcl-eval 2026.3.23) and are tested against the
//! official checker's verdicts on a committed set of responses (`evals/bfcl/`).
//!
//! - [`pyexpr`]: Python expression parser/evaluator for call syntax.
//! - [`decode`]: model text → calls (BFCL's default decoder + LFM2 wrapper stripping).
//! - [`checker`]: the AST checker.

pub mod checker;
pub mod decode;
pub mod pyexpr;

use serde_json::Value;

pub use checker::{Category, Failure};
pub use decode::Call;

/// A BFCL question record joined with its ground truth.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub category: Category,
    pub functions: Vec<Value>,
    /// `ground_truth` (absent for relevance categories).
    pub truth: Vec<Value>,
}

/// The verdict on one response.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub valid: bool,
    /// BFCL's error type when invalid.
    pub error_type: Option<String>,
    pub reason: Option<String>,
    /// The decoded calls (`[{name: {args}}]`), when decoding succeeded.
    pub decoded: Option<Value>,
}

/// How to read the raw model text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Exactly BFCL's default prompting-mode decoder (what the official verdicts use).
    Official,
    /// Strip LFM2's wrappers first (`<|tool_call_start|>…<|tool_call_end|>`, fences, JSON
    /// form) — the handler BFCL does not ship for LFM2.
    Lfm2,
}

fn invalid(error_type: &str, reason: String, decoded: Option<Value>) -> Verdict {
    Verdict { valid: false, error_type: Some(error_type.into()), reason: Some(reason), decoded }
}

/// Decodes and scores one raw response.
pub fn score(rec: &Record, raw: &str, mode: Mode) -> Verdict {
    let text = match mode {
        Mode::Official => raw.to_string(),
        Mode::Lfm2 => decode::extract_lfm2(raw),
    };
    let decoded = decode::decode_python(&text);
    let as_json = |calls: &[Call]| Value::Array(calls.iter().map(Call::to_json).collect());
    match rec.category {
        Category::Irrelevance | Category::Relevance => {
            // BFCL: a call is present iff decoding succeeds with a non-empty list.
            let has_call = matches!(&decoded, Ok(c) if !c.is_empty());
            let dj = decoded.as_ref().ok().map(|c| as_json(c));
            match (rec.category, has_call) {
                (Category::Irrelevance, false) | (Category::Relevance, true) => {
                    Verdict { valid: true, error_type: None, reason: None, decoded: dj }
                }
                (Category::Irrelevance, true) => {
                    invalid("irrelevance_error:decoder_success", "a function was called".into(), dj)
                }
                _ => invalid("relevance_error:decoder_failed", "no function was called".into(), dj),
            }
        }
        cat => match decoded {
            Err(e) => invalid("ast_decoder:decoder_failed", e.0, None),
            Ok(calls) => {
                let dj = Some(as_json(&calls));
                match checker::check(cat, &rec.functions, &calls, &rec.truth) {
                    Ok(()) => Verdict { valid: true, error_type: None, reason: None, decoded: dj },
                    Err(f) => invalid(&f.error_type, f.reason, dj),
                }
            }
        },
    }
}

fn read_jsonl(path: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: invalid JSON: {e}", path.display(), i + 1))?;
        out.push(v);
    }
    Ok(out)
}

/// Loads a BFCL question file (JSON Lines) and, for AST categories, its possible-answer file;
/// ids must line up. The category comes from each id.
pub fn load_records(questions: &std::path::Path, answers: Option<&std::path::Path>) -> anyhow::Result<Vec<Record>> {
    use anyhow::bail;
    let qs = read_jsonl(questions)?;
    let ans = match answers {
        Some(p) => Some(read_jsonl(p)?),
        None => None,
    };
    let mut by_id = std::collections::HashMap::new();
    if let (Some(ans), Some(p)) = (&ans, answers) {
        for (i, a) in ans.iter().enumerate() {
            let id = a
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow::anyhow!("{}:{}: no \"id\"", p.display(), i + 1))?;
            let gt = a
                .get("ground_truth")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow::anyhow!("{}:{}: no \"ground_truth\" list", p.display(), i + 1))?;
            by_id.insert(id.to_string(), gt.clone());
        }
    }
    let mut out = Vec::new();
    for (i, q) in qs.iter().enumerate() {
        let at = || format!("{}:{}", questions.display(), i + 1);
        let id = q.get("id").and_then(Value::as_str).ok_or_else(|| anyhow::anyhow!("{}: no \"id\"", at()))?;
        let category =
            Category::from_id(id).ok_or_else(|| anyhow::anyhow!("{}: unknown category for id {id:?}", at()))?;
        let functions = q.get("function").and_then(Value::as_array).cloned().unwrap_or_default();
        let truth = match category {
            Category::Irrelevance | Category::Relevance => vec![],
            _ => match by_id.remove(id) {
                Some(t) => t,
                None if answers.is_none() => bail!("{}: {id} needs a possible-answer file", at()),
                None => bail!("{}: {id} has no possible answer", at()),
            },
        };
        out.push(Record { id: id.to_string(), category, functions, truth });
    }
    Ok(out)
}
