//! `tool_call`: the completion's calls against the task's answer by the BFCL AST rules — the
//! same decoder (LFM2 wrappers stripped) and checker `lfm eval bfcl` uses.

use lfm_eval::bfcl::{self, Category, Mode, Record};
use serde_json::Value;

use super::Task;

/// BFCL's function docs use Python type names; LFM2 tool lists use JSON Schema.
pub(super) fn bfcl_doc(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x.as_str()) {
                        ("type", Some("object")) => Value::from("dict"),
                        ("type", Some("number")) => Value::from("float"),
                        _ => bfcl_doc(x),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(bfcl_doc).collect()),
        other => other.clone(),
    }
}

pub fn reward(t: &Task, completion: &str) -> f64 {
    let category = t.category.as_deref().and_then(Category::from_id).unwrap_or(if t.answer.len() > 1 {
        Category::Parallel
    } else {
        Category::Simple
    });
    let rec = Record {
        id: t.id.clone(),
        category,
        functions: t.conversation.functions().iter().map(bfcl_doc).collect(),
        truth: t.answer.clone(),
    };
    bfcl::score(&rec, completion, Mode::Lfm2).valid as u8 as f64
}
