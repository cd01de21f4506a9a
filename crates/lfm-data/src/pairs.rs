//! Preference pairs (DPO, `lfm eval pairs`) in the shapes TRL's preference datasets use, one
//! JSON object per line:
//!
//! - explicit prompt: `{"prompt": P, "chosen": C, "rejected": R}`, where `P` is a list of
//!   messages or a string (one user turn) and `C`/`R` are lists of messages or strings (one
//!   assistant turn);
//! - implicit prompt (TRL's conversational form without `prompt`): `chosen` and `rejected` are
//!   whole conversations; the prompt is their longest common prefix of messages and each
//!   completion is the rest.
//!
//! Optional keys: `id` (string or number; default `pair-<line>`), `tools` (function schemas
//! for the template). A pair is rendered as one conversation, the prompt's messages then the
//! completion's, with the checkpoint's chat template ([`TextCodec::encode_completion`]); the
//! scored tokens are the assistant text of the completion's messages.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::chat::{message, Conversation, Encoded};
use crate::template::TextCodec;

/// One preference pair: a prompt and two completions (lists of messages).
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub id: String,
    pub prompt: Conversation,
    pub chosen: Vec<Value>,
    pub rejected: Vec<Value>,
}

/// A pair tokenized with the checkpoint's template: each side is the whole conversation with
/// the mask on the completion's tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedPair {
    pub id: String,
    pub chosen: Encoded,
    pub rejected: Encoded,
}

impl EncodedPair {
    /// Scored tokens of (chosen, rejected): mask positions after the first (position 0 has no
    /// context and is never scored).
    pub fn scored_tokens(&self) -> (usize, usize) {
        let n = |e: &Encoded| e.mask.iter().skip(1).filter(|&&m| m).count();
        (n(&self.chosen), n(&self.rejected))
    }
}

fn messages_of(v: &Value, key: &str, string_role: &str) -> Result<Vec<Value>> {
    match v {
        Value::String(s) => Ok(vec![message(string_role, s)]),
        Value::Array(m) if m.is_empty() => bail!("\"{key}\" is an empty list"),
        Value::Array(m) => Ok(m.clone()),
        _ => bail!("\"{key}\" must be a list of messages or a string"),
    }
}

/// Reads one record (see the module doc); `default_id` when it has no `id`.
pub fn parse_pair(v: &Value, default_id: String) -> Result<Pair> {
    let obj = v.as_object().ok_or_else(|| anyhow!("a pair must be a JSON object"))?;
    let id = match obj.get("id") {
        None | Some(Value::Null) => default_id,
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => bail!("\"id\" must be a string or a number"),
    };
    let tools = match obj.get("tools") {
        None | Some(Value::Null) => None,
        Some(Value::Array(t)) => Some(t.clone()),
        Some(_) => bail!("\"tools\" must be a list of function schemas"),
    };
    let side = |key: &str| -> Result<Vec<Value>> {
        messages_of(obj.get(key).ok_or_else(|| anyhow!("no \"{key}\""))?, key, "assistant")
    };
    let (chosen, rejected) = (side("chosen")?, side("rejected")?);
    let (prompt, chosen, rejected) = match obj.get("prompt") {
        Some(p) => (messages_of(p, "prompt", "user")?, chosen, rejected),
        None => {
            // TRL's implicit prompt: the common prefix of the two conversations.
            let n = chosen.iter().zip(&rejected).take_while(|(a, b)| a == b).count();
            if n == 0 {
                bail!("no \"prompt\", and \"chosen\" and \"rejected\" share no leading message to take it from");
            }
            if n == chosen.len() || n == rejected.len() {
                bail!(
                    "no \"prompt\", and one of \"chosen\"/\"rejected\" is a prefix of the other (no completion left)"
                );
            }
            (chosen[..n].to_vec(), chosen[n..].to_vec(), rejected[n..].to_vec())
        }
    };
    let prompt = Conversation::new(prompt, tools).context("\"prompt\"")?;
    for (key, c) in [("chosen", &chosen), ("rejected", &rejected)] {
        Conversation::new(c.clone(), None).with_context(|| format!("\"{key}\""))?;
    }
    Ok(Pair { id, prompt, chosen, rejected })
}

/// Every pair of a JSONL file, or of a parquet file (`.parquet`: one pair per row, the same
/// keys as columns; messages as lists of structs, as TRL's datasets store them); a malformed
/// record, a duplicate id or an empty file is an error naming the file and the line or row.
pub fn load_pairs(path: &Path) -> Result<Vec<Pair>> {
    // (where, record number, record)
    let records: Vec<(String, usize, Result<Value>)> = if path.extension().is_some_and(|e| e == "parquet") {
        parquet_rows(path)?
    } else {
        let text = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let text = String::from_utf8(text)
            .map_err(|e| anyhow!("{}: invalid UTF-8 at byte {}", path.display(), e.utf8_error().valid_up_to()))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                (format!("{}", i + 1), i + 1, serde_json::from_str(l).map_err(|e| anyhow!("invalid JSON: {e}")))
            })
            .collect()
    };
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for (at, n, v) in records {
        let at = format!("{}:{at}", path.display());
        let v = v.map_err(|e| anyhow!("{at}: {e:#}"))?;
        let pair = parse_pair(&v, format!("pair-{n}")).map_err(|e| anyhow!("{at}: {e:#}"))?;
        if !ids.insert(pair.id.clone()) {
            bail!("{at}: duplicate id {:?}", pair.id);
        }
        out.push(pair);
    }
    if out.is_empty() {
        bail!("{}: no pairs", path.display());
    }
    Ok(out)
}

/// A parquet file's rows as JSON objects (parquet's record reader), labelled `row N`
/// (1-based); a file parquet cannot read is an error naming it.
fn parquet_rows(path: &Path) -> Result<Vec<(String, usize, Result<Value>)>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bad = |e: &dyn std::fmt::Display| anyhow!("{}: not a readable parquet file: {e}", path.display());
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let reader = SerializedFileReader::new(file).map_err(|e| bad(&e))?;
    let rows = reader.get_row_iter(None).map_err(|e| bad(&e))?;
    rows.enumerate()
        .map(|(i, r)| {
            let row = r.map_err(|e| bad(&e))?;
            Ok((format!("row {}", i + 1), i + 1, Ok(row.to_json_value())))
        })
        .collect()
}

/// A pair tokenized with `codec` ([`TextCodec::encode_completion`] for each side).
pub fn encode_pair(codec: &TextCodec, pair: &Pair) -> Result<EncodedPair> {
    let side = |name: &str, c: &[Value]| {
        codec.encode_completion(&pair.prompt, c).map_err(|e| anyhow!("pair {:?}, {name}: {e:#}", pair.id))
    };
    Ok(EncodedPair {
        id: pair.id.clone(),
        chosen: side("chosen", &pair.chosen)?,
        rejected: side("rejected", &pair.rejected)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_prompt_strings_become_one_turn_each() {
        let p = parse_pair(&json!({"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}), "x".into()).unwrap();
        assert_eq!(p.id, "x");
        assert_eq!(p.prompt.messages, vec![message("user", "Hi")]);
        assert_eq!(p.chosen, vec![message("assistant", "Hello!")]);
        assert_eq!(p.rejected, vec![message("assistant", "Go away.")]);
    }

    #[test]
    fn implicit_prompt_is_the_common_prefix() {
        let sys = message("system", "Be brief.");
        let user = message("user", "2+2?");
        let v = json!({"id": 7, "chosen": [sys, user, message("assistant", "4")],
                       "rejected": [sys, user, message("assistant", "5")]});
        let p = parse_pair(&v, "x".into()).unwrap();
        assert_eq!(p.id, "7");
        assert_eq!(p.prompt.messages, vec![sys, user]);
        assert_eq!(p.chosen, vec![message("assistant", "4")]);
        assert_eq!(p.rejected, vec![message("assistant", "5")]);
    }

    /// TRL's conversational parquet layout: `chosen`/`rejected` as lists of
    /// `{role, content}` structs (implicit prompt), next to a string-form row.
    #[test]
    fn parquet_pairs_read_like_jsonl() {
        use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
        use arrow_array::{ArrayRef, RecordBatch};
        use arrow_schema::{DataType, Field};
        use std::sync::Arc;
        let fields = vec![Field::new("role", DataType::Utf8, false), Field::new("content", DataType::Utf8, false)];
        let conv = |rows: &[&[(&str, &str)]]| -> ArrayRef {
            let mut b = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 0));
            for row in rows {
                for (role, content) in *row {
                    let s = b.values();
                    s.field_builder::<StringBuilder>(0).unwrap().append_value(role);
                    s.field_builder::<StringBuilder>(1).unwrap().append_value(content);
                    s.append(true);
                }
                b.append(true);
            }
            Arc::new(b.finish())
        };
        let chosen = conv(&[&[("user", "2+2?"), ("assistant", "4")], &[("user", "Hi"), ("assistant", "Hello")]]);
        let rejected = conv(&[&[("user", "2+2?"), ("assistant", "5")], &[("user", "Hi"), ("assistant", "Go")]]);
        let batch = RecordBatch::try_from_iter([("chosen", chosen), ("rejected", rejected)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.parquet");
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let pairs = load_pairs(&path).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].id, "pair-1");
        assert_eq!(pairs[0].prompt.messages, vec![message("user", "2+2?")]);
        assert_eq!(pairs[0].chosen, vec![message("assistant", "4")]);
        assert_eq!(pairs[1].rejected, vec![message("assistant", "Go")]);
        std::fs::write(&path, b"not parquet").unwrap();
        let e = load_pairs(&path).unwrap_err().to_string();
        assert!(e.contains("pairs.parquet") && e.contains("parquet"), "{e}");
    }

    #[test]
    fn malformed_pairs_are_refused_with_the_reason() {
        let err = |v: Value| parse_pair(&v, "x".into()).unwrap_err().to_string();
        assert!(err(json!({"prompt": "a", "chosen": "b"})).contains("no \"rejected\""));
        assert!(err(json!({"prompt": "a", "chosen": 3, "rejected": "c"})).contains("\"chosen\" must be"));
        assert!(err(json!({"chosen": [message("user", "a")], "rejected": [message("user", "b")]}))
            .contains("share no leading message"));
        let same = json!([message("user", "a"), message("assistant", "b")]);
        assert!(err(json!({"chosen": same, "rejected": same})).contains("prefix of the other"));
        assert!(err(json!({"prompt": [], "chosen": "b", "rejected": "c"})).contains("empty list"));
    }
}
