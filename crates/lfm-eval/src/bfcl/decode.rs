//! Model text → tool calls, as BFCL's default prompting-mode decoder reads Python syntax
//! (`docs/bfcl-ast.md` §4), plus the LFM2 wrappers it does not
//! strip itself.
//!
//! BFCL's quirks kept on purpose (they decide verdicts):
//! - only keyword arguments are kept; positional ones are silently dropped;
//! - a bare name becomes its identifier as a string;
//! - a nested call with keywords becomes `{name: {kw: v}}`, one without keywords its source
//!   text (`ast.unparse` style);
//! - arithmetic is evaluated, but **any unary operator at the top of a value means negation**
//!   (`+5` → -5, `not True` → -1).

use super::pyexpr::{self, eval, unparse, Expr, PyVal, UnOp};

/// One decoded call: dotted function name and keyword arguments in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<(String, PyVal)>,
}

impl Call {
    /// `{name: {arg: value}}` as JSON (BFCL's decoded form).
    pub fn to_json(&self) -> serde_json::Value {
        let args: serde_json::Map<String, serde_json::Value> =
            self.args.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        serde_json::json!({ self.name.clone(): args })
    }
}

/// Why decoding failed.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// BFCL's default decoder for Python-syntax output: trim, bracket, parse, resolve.
pub fn decode_python(text: &str) -> Result<Vec<Call>, DecodeError> {
    decode_with(text, false)
}

/// [`decode_python`] for the dialect LFM2-family chat templates write, which BFCL's decoder
/// misreads: LFM2.5's template writes mapping arguments with `tojson`, so a dict holds JSON's
/// `true`/`false`/`null` (read here as `True`/`False`/`None`, where BFCL would take them for
/// bare names and make strings of them), and writes a string `arguments` verbatim as one
/// positional JSON object `f({"a": 1})` (read here as the keyword arguments). Everything else
/// is BFCL's reading.
pub fn decode_lfm2(text: &str) -> Result<Vec<Call>, DecodeError> {
    decode_with(text, true)
}

fn decode_with(text: &str, lfm2: bool) -> Result<Vec<Call>, DecodeError> {
    let mut s = text.trim_matches(|c| c == '`' || c == '\n' || c == ' ').to_string();
    if !s.starts_with('[') {
        s.insert(0, '[');
    }
    if !s.ends_with(']') {
        s.push(']');
    }
    let s = s.trim_matches('\'');
    let e = pyexpr::parse(s).map_err(DecodeError)?;
    let calls: Vec<&Expr> = match &e {
        Expr::List(v) | Expr::Tuple(v) => v.iter().collect(),
        c @ Expr::Call { .. } => vec![c],
        other => return Err(DecodeError(format!("not a call or a list of calls: {}", unparse(other)))),
    };
    calls.into_iter().map(|c| call(c, lfm2)).collect()
}

fn call(e: &Expr, lfm2: bool) -> Result<Call, DecodeError> {
    let Expr::Call { func, keywords, args: positional } = e else {
        return Err(DecodeError(format!("not a call: {}", unparse(e))));
    };
    // A callee that is not a (dotted) name decodes to the empty name, as in BFCL.
    let name = dotted(func).unwrap_or_default();
    // Keyword arguments into a dict, as BFCL does: a repeated keyword keeps its first position
    // and its last value (Python's parser accepts it), `**x` lands under the key None (shown
    // here as `**`, which no parameter can be named). Positional arguments are dropped.
    let mut args: Vec<(String, PyVal)> = Vec::new();
    if let (true, [Expr::Dict(items)], true) = (lfm2, positional.as_slice(), keywords.is_empty()) {
        for (k, v) in items {
            let PyVal::Str(k) = resolve(k, lfm2)? else {
                return Err(DecodeError("a JSON-object argument with a key that is not a string".into()));
            };
            args.push((k, resolve(v, lfm2)?));
        }
        return Ok(Call { name, args });
    }
    for (k, v) in keywords {
        let k = k.clone().unwrap_or_else(|| "**".to_string());
        let v = resolve(v, lfm2)?;
        match args.iter_mut().find(|(a, _)| *a == k) {
            Some(slot) => slot.1 = v,
            None => args.push((k, v)),
        }
    }
    Ok(Call { name, args })
}

fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.clone()),
        Expr::Attribute(b, n) => Some(format!("{}.{n}", dotted(b)?)),
        _ => None,
    }
}

/// An argument value, BFCL-style (`lfm2`: JSON's literals inside dicts, see [`decode_lfm2`]).
fn resolve(e: &Expr, lfm2: bool) -> Result<PyVal, DecodeError> {
    let r = |x: &Expr| resolve(x, lfm2);
    Ok(match e {
        Expr::Const(PyVal::Ellipsis) => PyVal::Str("...".into()),
        Expr::Const(v) => v.clone(),
        Expr::Name(n) => PyVal::Str(n.clone()),
        Expr::List(v) => PyVal::List(v.iter().map(r).collect::<Result<_, _>>()?),
        Expr::Tuple(v) => PyVal::Tuple(v.iter().map(r).collect::<Result<_, _>>()?),
        Expr::Dict(v) => PyVal::Dict(
            v.iter()
                .map(|(k, x)| {
                    let value = match x {
                        Expr::Name(n) if lfm2 => match n.as_str() {
                            "true" => PyVal::Bool(true),
                            "false" => PyVal::Bool(false),
                            "null" => PyVal::None,
                            _ => r(x)?,
                        },
                        _ => r(x)?,
                    };
                    Ok((r(k)?, value))
                })
                .collect::<Result<_, DecodeError>>()?,
        ),
        Expr::Call { keywords, .. } => {
            if keywords.is_empty() {
                PyVal::Str(unparse(e))
            } else {
                let c = call(e, lfm2)?;
                PyVal::Dict(vec![(
                    PyVal::Str(c.name),
                    PyVal::Dict(c.args.into_iter().map(|(k, v)| (PyVal::Str(k), v)).collect()),
                )])
            }
        }
        // Any unary operator: the negation of its operand, which must be a literal (`--2`,
        // `-x`, `-(1+2)` fail to decode).
        Expr::Unary(_, x) => match x.as_ref() {
            Expr::Const(v) => negate(v.clone())?,
            other => return Err(DecodeError(format!("unsupported operand of a unary operator: {}", unparse(other)))),
        },
        Expr::Binary(..) => eval(e).map_err(DecodeError)?,
        // Subscripts become their source text.
        Expr::Subscript(..) => PyVal::Str(unparse(e)),
        other => return Err(DecodeError(format!("unsupported value: {}", unparse(other)))),
    })
}

fn negate(v: PyVal) -> Result<PyVal, DecodeError> {
    eval(&Expr::Unary(UnOp::Neg, Box::new(Expr::Const(v)))).map_err(DecodeError)
}

/// Strips the wrappers LFM2 puts around tool calls (`<|tool_call_start|>…<|tool_call_end|>`,
/// a ```` ```python ```` fence, prose around the list) so that BFCL's decoder sees just the
/// call list — the model-specific step BFCL leaves to a handler (it ships none for LFM2).
/// JSON-form calls (`[{"name": …, "arguments": {…}}]`) are rewritten as Python calls.
pub fn extract_lfm2(text: &str) -> String {
    let mut t = text.trim();
    if let Some(a) = t.find("<|tool_call_start|>") {
        t = &t[a + "<|tool_call_start|>".len()..];
        t = t.find("<|tool_call_end|>").map_or(t, |b| &t[..b]);
    } else if let Some(a) = t.find("```") {
        let rest = &t[a + 3..];
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        t = rest.find("```").map_or(rest, |b| &rest[..b]);
    }
    let t = t.trim();
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(t) {
        if let Some(py) = json_calls_to_python(&items) {
            return py;
        }
    }
    if let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(t) {
        if let Some(py) = json_calls_to_python(&[v]) {
            return py;
        }
    }
    t.to_string()
}

fn json_calls_to_python(items: &[serde_json::Value]) -> Option<String> {
    let mut calls = Vec::new();
    for it in items {
        let name = it.get("name")?.as_str()?;
        let args = it.get("arguments").or_else(|| it.get("parameters"))?;
        let args = match args {
            serde_json::Value::String(s) => serde_json::from_str(s).ok()?,
            a => a.clone(),
        };
        let obj = args.as_object()?;
        let parts: Vec<String> = obj.iter().map(|(k, v)| format!("{k}={}", PyVal::from_json(v).repr())).collect();
        calls.push(format!("{name}({})", parts.join(", ")));
    }
    Some(format!("[{}]", calls.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Call {
        let mut v = decode_python(s).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn spec_examples() {
        let c = one("[math.factorial(number=5)]");
        assert_eq!(c.name, "math.factorial");
        assert_eq!(c.args, vec![("number".into(), PyVal::Int(5))]);
        // Brackets added, positional dropped, names become strings, 1e3 a float.
        let c = one("f(1, a=x, b=1e3, c=None)");
        assert_eq!(
            c.args,
            vec![("a".into(), PyVal::Str("x".into())), ("b".into(), PyVal::Float(1000.0)), ("c".into(), PyVal::None)]
        );
        // Unary operators all negate; arithmetic is evaluated.
        let c = one("[f(a=+5, b=not True, c=-2, d=2+3)]");
        assert_eq!(
            c.args.iter().map(|a| a.1.clone()).collect::<Vec<_>>(),
            vec![PyVal::Int(-5), PyVal::Int(-1), PyVal::Int(-2), PyVal::Int(5)]
        );
        // Nested calls.
        let c = one("[f(a=g(x=1), b=h(2))]");
        assert_eq!(
            c.args[0].1,
            PyVal::Dict(vec![(PyVal::Str("g".into()), PyVal::Dict(vec![(PyVal::Str("x".into()), PyVal::Int(1))]))])
        );
        assert_eq!(c.args[1].1, PyVal::Str("h(2)".into()));
        // Wrappers are decode failures for the bare decoder...
        assert!(decode_python("```python\n[f(a=1)]\n```").is_err());
        assert!(decode_python("Sure: [f(a=1)]").is_err());
        assert!(decode_python("<|tool_call_start|>[f(a=1)]<|tool_call_end|>").is_err());
        // ...and are stripped by the LFM2 extraction.
        for t in [
            "<|tool_call_start|>[f(a=1)]<|tool_call_end|>",
            "```python\n[f(a=1)]\n```",
            "[{\"name\": \"f\", \"arguments\": {\"a\": 1}}]",
        ] {
            assert_eq!(
                decode_python(&extract_lfm2(t)).unwrap(),
                vec![Call { name: "f".into(), args: vec![("a".into(), PyVal::Int(1))] }],
                "{t}"
            );
        }
    }
    #[test]
    fn the_lfm25_dialect_reads_json_literals_and_a_json_object_argument() {
        // Official BFCL: `true` inside a dict is a bare name, i.e. the string "true"; a
        // positional argument is dropped.
        let off = one("[f(b={\"k\": [1, 2], \"on\": true, \"none\": null})]");
        assert_eq!(off.args[0].1.to_json(), serde_json::json!({"k": [1, 2], "on": "true", "none": "null"}));
        assert!(one("[f({\"a\": 1})]").args.is_empty());
        // The LFM2 dialect: what the template meant.
        let c =
            decode_lfm2("[f(a=\"x\", b={\"k\": [1, 2], \"on\": true, \"none\": null}), g({\"a\": 1, \"s\": \"t\"})]")
                .unwrap();
        assert_eq!(c[0].to_json(), serde_json::json!({"f": {"a": "x", "b": {"k": [1, 2], "on": true, "none": null}}}));
        assert_eq!(c[1].to_json(), serde_json::json!({"g": {"a": 1, "s": "t"}}));
        // Python's own literals and bare names keep BFCL's reading.
        let c = decode_lfm2("[f(a=True, b=x, c={'k': None})]").unwrap();
        assert_eq!(c[0].to_json(), serde_json::json!({"f": {"a": true, "b": "x", "c": {"k": null}}}));
    }
}
