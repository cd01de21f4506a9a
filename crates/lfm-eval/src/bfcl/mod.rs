//! BFCL-style tool-call scoring (single-turn Python categories: simple, multiple, parallel,
//! parallel_multiple, irrelevance, relevance).
//!
//! Hand-written: BFCL's checker is Python (`bfcl-eval`), and no Rust crate implements it. The
//! rules follow `docs/bfcl-ast.md` (written from bfcl-eval 2026.3.23) and are tested against the
//! official checker's verdicts on a committed set of responses (`evals/bfcl/`).
//!
//! - [`pyexpr`]: Python expression parser/evaluator for call syntax.
//! - [`decode`]: model text → calls (BFCL's default decoder + LFM2 wrapper stripping).
//! - [`checker`]: the AST checker.
//!
//! A run over a question file: [`load_records`], the responses ([`load_responses`], or replies
//! generated for [`conversations`]), then [`evaluate`] — one [`RecordVerdict`] per record and a
//! [`BfclSummary`] (the `per_record.jsonl` and `summary.json` of `lfm eval bfcl`).

pub mod checker;
pub mod decode;
pub mod pyexpr;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use lfm_data::chat::Conversation;
use serde::Serialize;
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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

impl Mode {
    /// The `format` of the summary: `official` or `lfm2`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Official => "official",
            Mode::Lfm2 => "lfm2",
        }
    }
}

fn invalid(error_type: &str, reason: String, decoded: Option<Value>) -> Verdict {
    Verdict { valid: false, error_type: Some(error_type.into()), reason: Some(reason), decoded }
}

/// Decodes and scores one raw response.
pub fn score(rec: &Record, raw: &str, mode: Mode) -> Verdict {
    let decoded = match mode {
        Mode::Official => decode::decode_python(raw),
        Mode::Lfm2 => decode::decode_lfm2(&decode::extract_lfm2(raw)),
    };
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

/// Responses to score, by record id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Responses {
    pub by_id: HashMap<String, String>,
    /// The line of each id in the responses file (empty for generated responses).
    pub line_of: HashMap<String, usize>,
    /// Lines that could not be used, as `file:line: problem` (their record has no response).
    pub bad_lines: Vec<String>,
}

impl Responses {
    /// Generated texts, one per record in order.
    pub fn from_generated(recs: &[Record], texts: Vec<String>) -> Responses {
        Responses {
            by_id: recs.iter().map(|r| r.id.clone()).zip(texts).collect(),
            line_of: HashMap::new(),
            bad_lines: vec![],
        }
    }

    /// Fails on the first response (in file order) whose id is not a record of the question
    /// file: official BFCL refuses a result file that does not match its prompts, and a
    /// score over the wrong file must not look like a score. `source` names the file.
    pub fn check_ids(&self, recs: &[Record], source: &str) -> Result<()> {
        let known: std::collections::HashSet<&str> = recs.iter().map(|r| r.id.as_str()).collect();
        let mut unknown: Vec<(usize, &str)> = self
            .by_id
            .keys()
            .filter(|id| !known.contains(id.as_str()))
            .map(|id| (self.line_of.get(id).copied().unwrap_or(0), id.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some((line, id)) => {
                bail!("{source}:{line}: id {id:?} is not in the question file ({} such response(s))", unknown.len())
            }
        }
    }

    /// The responses of `recs` as JSON Lines `{"id", "result"}` (the format [`load_responses`]
    /// reads), in record order; records without a response are left out.
    pub fn to_jsonl(&self, recs: &[Record]) -> String {
        recs.iter()
            .filter_map(|r| {
                self.by_id.get(&r.id).map(|t| serde_json::json!({"id": r.id, "result": t}).to_string() + "\n")
            })
            .collect()
    }
}

/// Reads a responses file, JSON Lines `{"id", "result"}`. A `result` that is not a string
/// (some runners store a structure) is scored as its JSON text; a line without both is
/// counted in `bad_lines`. A second line for an id is an error naming both lines (which one
/// to score would be a guess).
pub fn load_responses(path: &Path) -> Result<Responses> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Responses::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.bad_lines.push(format!("{}:{}: invalid JSON: {e}", path.display(), i + 1));
                continue;
            }
        };
        let (id, result) = match (v.get("id").and_then(Value::as_str), v.get("result")) {
            (Some(id), Some(Value::String(r))) => (id, r.clone()),
            (Some(id), Some(other)) => (id, other.to_string()),
            _ => {
                out.bad_lines.push(format!("{}:{}: needs \"id\" and \"result\"", path.display(), i + 1));
                continue;
            }
        };
        if let Some(first) = out.line_of.get(id) {
            bail!("{}:{}: a second response for id {id:?} (the first is on line {first})", path.display(), i + 1);
        }
        out.line_of.insert(id.to_string(), i + 1);
        out.by_id.insert(id.to_string(), result);
    }
    Ok(out)
}

/// BFCL's function docs as LFM2 tool schemas (`"type": "dict"` → `"object"`, recursively).
pub fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if k == "type" && x == "dict" { Value::String("object".into()) } else { to_json_schema(x) };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// The prompt of each record as a chat conversation: the first turn of its question (from the
/// question file, read again, in the order [`load_records`] gives) with its functions as
/// tools.
pub fn conversations(questions: &Path, recs: &[Record]) -> Result<Vec<Conversation>> {
    let qs = read_jsonl(questions)?;
    recs.iter()
        .zip(&qs)
        .map(|(rec, q)| {
            let turn = q
                .pointer("/question/0")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("{}: no question turn", rec.id))?;
            let messages = turn
                .iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                    serde_json::json!({"role": role, "content": m.get("content").cloned().unwrap_or(Value::Null)})
                })
                .collect();
            Conversation::new(messages, Some(rec.functions.iter().map(to_json_schema).collect()))
                .map_err(|e| anyhow!("{}: {e}", rec.id))
        })
        .collect()
}

/// One line of `per_record.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordVerdict {
    pub id: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Records and valid responses of one category.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CategoryCount {
    pub records: usize,
    pub valid: usize,
    pub accuracy: f64,
}

/// `summary.json` of a BFCL run. Every record counts; one without a response is invalid
/// (error type `no_response`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BfclSummary {
    pub accuracy: f64,
    pub records: usize,
    pub valid: usize,
    /// How responses were read ([`Mode::name`]).
    pub format: String,
    /// By BFCL's category name (`simple`, `parallel_multiple`, …).
    pub categories: BTreeMap<String, CategoryCount>,
    /// Invalid responses by BFCL error type.
    pub errors: BTreeMap<String, usize>,
    pub missing_responses: usize,
    pub malformed_response_lines: usize,
    /// The question file; [`evaluate`] leaves it empty for the caller to fill in.
    pub data: String,
}

/// Scores every record against its response.
pub fn evaluate(recs: &[Record], responses: &Responses, mode: Mode) -> (Vec<RecordVerdict>, BfclSummary) {
    let mut per = Vec::new();
    let mut categories: BTreeMap<String, CategoryCount> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = 0;
    for rec in recs {
        let verdict = match responses.by_id.get(&rec.id) {
            Some(r) => score(rec, r, mode),
            None => {
                missing += 1;
                invalid("no_response", "no response for this id".into(), None)
            }
        };
        let c = categories.entry(rec.category.name().to_string()).or_default();
        c.records += 1;
        c.valid += verdict.valid as usize;
        if let Some(t) = &verdict.error_type {
            *errors.entry(t.clone()).or_default() += 1;
        }
        per.push(RecordVerdict { id: rec.id.clone(), verdict });
    }
    for c in categories.values_mut() {
        c.accuracy = c.valid as f64 / c.records as f64;
    }
    let valid = per.iter().filter(|p| p.verdict.valid).count();
    let summary = BfclSummary {
        accuracy: valid as f64 / recs.len().max(1) as f64,
        records: recs.len(),
        valid,
        format: mode.name().to_string(),
        categories,
        errors,
        missing_responses: missing,
        malformed_response_lines: responses.bad_lines.len(),
        data: String::new(),
    };
    (per, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: &str, functions: Vec<Value>, truth: Vec<Value>) -> Record {
        Record { id: id.into(), category: Category::from_id(id).unwrap(), functions, truth }
    }

    #[test]
    fn summary_counts_categories_errors_and_missing_responses() {
        let doc = json!({"name": "area", "parameters": {"type": "dict", "properties": {"base": {"type": "integer"}}, "required": ["base"]}});
        let truth = json!({"area": {"base": [10]}});
        let recs = vec![
            rec("simple_python_0", vec![doc.clone()], vec![truth.clone()]),
            rec("simple_python_1", vec![doc.clone()], vec![truth.clone()]),
            rec("simple_python_2", vec![doc], vec![truth]),
            rec("irrelevance_0", vec![], vec![]),
            rec("irrelevance_1", vec![], vec![]),
        ];
        let mut responses = Responses { bad_lines: vec!["r.jsonl:9: invalid JSON".into()], ..Default::default() };
        for (id, r) in [
            ("simple_python_0", "[area(base=10)]"),
            ("simple_python_1", "[area(base=11)]"),
            ("irrelevance_0", "I cannot help with that."),
            ("irrelevance_1", "[area(base=1)]"),
        ] {
            responses.by_id.insert(id.into(), r.into());
        }
        let (per, s) = evaluate(&recs, &responses, Mode::Official);
        // Valid: simple_python_0 and irrelevance_0; simple_python_2 has no response.
        assert_eq!((s.records, s.valid, s.accuracy), (5, 2, 0.4));
        assert_eq!((s.missing_responses, s.malformed_response_lines), (1, 1));
        let cat = |k: &str| (s.categories[k].records, s.categories[k].valid);
        assert_eq!((cat("simple"), cat("irrelevance")), ((3, 1), (2, 1)));
        assert_eq!(s.categories["irrelevance"].accuracy, 0.5);
        assert_eq!(s.errors.values().sum::<usize>(), 3);
        assert_eq!(s.errors["no_response"], 1);
        assert_eq!(s.errors["irrelevance_error:decoder_success"], 1);
        assert_eq!(per.iter().map(|p| p.verdict.valid).collect::<Vec<_>>(), vec![true, false, false, true, false]);
        // The file formats: summary keys in order, and a record line.
        let v = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "accuracy",
                "records",
                "valid",
                "format",
                "categories",
                "errors",
                "missing_responses",
                "malformed_response_lines",
                "data"
            ]
        );
        assert_eq!(v["format"], "official");
        assert_eq!(v["categories"]["simple"], json!({"records": 3, "valid": 1, "accuracy": 1.0 / 3.0}));
        assert_eq!(
            serde_json::to_string(&per[2]).unwrap(),
            r#"{"id":"simple_python_2","valid":false,"error_type":"no_response","reason":"no response for this id","decoded":null}"#
        );
    }

    #[test]
    fn responses_file_keeps_structured_results_and_counts_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.jsonl");
        std::fs::write(
            &p,
            "{\"id\": \"a\", \"result\": \"[f()]\"}\n\n{\"id\": \"b\", \"result\": [1, 2]}\n{oops\n{\"id\": \"c\"}\n",
        )
        .unwrap();
        let r = load_responses(&p).unwrap();
        assert_eq!(r.by_id.len(), 2);
        let recs =
            |ids: &[&str]| ids.iter().map(|id| rec(&format!("simple_python_{id}"), vec![], vec![])).collect::<Vec<_>>();
        let named = |r: &Responses| Responses {
            by_id: r.by_id.iter().map(|(k, v)| (format!("simple_python_{k}"), v.clone())).collect(),
            line_of: r.line_of.iter().map(|(k, v)| (format!("simple_python_{k}"), *v)).collect(),
            bad_lines: vec![],
        };
        named(&r).check_ids(&recs(&["a", "b", "z"]), "r.jsonl").unwrap();
        let e = named(&r).check_ids(&recs(&["a", "z"]), "r.jsonl").unwrap_err().to_string();
        assert_eq!(e, "r.jsonl:3: id \"simple_python_b\" is not in the question file (1 such response(s))");
        std::fs::write(&p, "{\"id\": \"a\", \"result\": \"[f()]\"}\n{\"id\": \"b\", \"result\": \"x\"}\n{\"id\": \"a\", \"result\": \"[g()]\"}\n")
            .unwrap();
        let e = load_responses(&p).unwrap_err().to_string();
        assert!(e.ends_with("r.jsonl:3: a second response for id \"a\" (the first is on line 1)"), "{e}");
        assert_eq!((r.by_id["a"].as_str(), r.by_id["b"].as_str()), ("[f()]", "[1,2]"));
        assert_eq!(r.bad_lines.len(), 2);
        assert!(
            r.bad_lines[0].ends_with("r.jsonl:4: invalid JSON: key must be a string at line 1 column 2"),
            "{}",
            r.bad_lines[0]
        );
        assert!(r.bad_lines[1].ends_with("r.jsonl:5: needs \"id\" and \"result\""), "{}", r.bad_lines[1]);
    }

    #[test]
    fn json_schema_renames_dict_types_only() {
        let doc = json!({"name": "f", "parameters": {"type": "dict", "properties": {
            "opts": {"type": "dict", "description": "dict", "properties": {"x": {"type": "array", "items": {"type": "dict"}}}}}}});
        let want = json!({"name": "f", "parameters": {"type": "object", "properties": {
            "opts": {"type": "object", "description": "dict", "properties": {"x": {"type": "array", "items": {"type": "object"}}}}}}});
        assert_eq!(to_json_schema(&doc), want);
    }
}
