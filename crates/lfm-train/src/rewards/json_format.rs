//! `json_format`: the stripped output parses as JSON; with a `schema` in the task, it must also
//! be an object holding the schema's `required` keys.

use serde_json::Value;

use super::Task;

pub fn reward(t: &Task, completion: &str) -> f64 {
    let Ok(v) = serde_json::from_str::<Value>(completion.trim()) else { return 0.0 };
    let required: Vec<&str> = t
        .schema
        .as_ref()
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ok = match &v {
        Value::Object(o) => required.iter().all(|k| o.contains_key(*k)),
        _ => required.is_empty(),
    };
    ok as u8 as f64
}
