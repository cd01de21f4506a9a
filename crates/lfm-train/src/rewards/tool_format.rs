//! `tool_format`: how well the output fits the tool-call format and the offered schemas, with
//! partial credit (a dense signal for models that are still learning the format).
//!
//! 0 unless the output holds a decodable LFM2 call list with at least one call (pythonic, inside
//! `<|tool_call_start|>…<|tool_call_end|>`, fenced, bare or JSON, as lfm-eval's decoder reads
//! it). Otherwise the mean over calls of: 0.5 for naming an offered tool, plus 0.5 when the call
//! passes all of that tool's `required` parameters by keyword and no parameter it does not
//! declare. A call such as `set_timer(min)` (a bare name, which BFCL drops) earns only 0.5.

use lfm_eval::bfcl::decode::{decode_lfm2, extract_lfm2};
use serde_json::Value;

use super::Task;

pub fn reward(t: &Task, completion: &str) -> f64 {
    let Ok(calls) = decode_lfm2(&extract_lfm2(completion)) else { return 0.0 };
    if calls.is_empty() {
        return 0.0;
    }
    let score = |name: &str, args: &[&str]| -> f64 {
        let functions = t.conversation.functions();
        let Some(doc) = functions.iter().find(|d| d.get("name").and_then(Value::as_str) == Some(name)) else {
            return 0.0;
        };
        let params = doc.get("parameters");
        let props = params.and_then(|p| p.get("properties")).and_then(Value::as_object);
        let required: Vec<&str> = params
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fits =
            required.iter().all(|r| args.contains(r)) && args.iter().all(|a| props.is_some_and(|p| p.contains_key(*a)));
        0.5 + 0.5 * fits as u8 as f64
    };
    calls.iter().map(|c| score(&c.name, &c.args.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())).sum::<f64>()
        / calls.len() as f64
}
