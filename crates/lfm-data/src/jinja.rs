//! A minijinja environment that behaves like the one transformers renders chat templates in
//! (`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with loop controls,
//! its own `tojson`, `raise_exception` and `strftime_now`), so that a checkpoint's template
//! gives the same text here as in Python.
//!
//! minijinja parses Jinja2's syntax and is sandboxed, but some of its values print and test
//! differently from Python's. What this module changes, and why:
//!
//! - **Printing** (`{{ x }}`, `|string`, `|join`): Python's `str()` — `True`/`None`, floats as
//!   `repr` writes them (`1e-07`, `1e+20`, `100.0`), lists and dicts with the items' `repr`
//!   (`['a', 1]`, `{'k': None}`).
//! - **`tojson`**: `json.dumps(x, ensure_ascii=False)` as transformers registers it: separators
//!   `", "` and `": "` (`","` with an indent), no HTML escaping, keys in insertion order, and
//!   the keyword arguments `ensure_ascii`, `indent`, `separators`, `sort_keys`.
//! - **Whitespace**: `|trim`, `.strip()`, `.lstrip()`, `.rstrip()` and `.split()` use Python's
//!   notion of whitespace (which includes `\x1c`–`\x1f`).
//! - **Tests**: `is sequence` and `is iterable` hold for strings and mappings, as in Jinja2.
//! - **`{% generation %}`** is not a minijinja tag: [`rewrite_generation`] turns each block into
//!   a filter block that wraps its output in two marker characters, and the caller cuts the
//!   markers out and keeps their positions (see `template.rs`).
//!
//! No crate offers Python-compatible Jinja printing in Rust; this is the smallest layer that
//! makes minijinja agree with transformers on the constructs chat templates use.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};

/// Opens a `{% generation %}` block in rendered text (a noncharacter; inputs holding it are refused).
pub const GEN_OPEN: char = '\u{10FFFE}';
/// Closes a `{% generation %}` block in rendered text.
pub const GEN_CLOSE: char = '\u{10FFFF}';
/// The context variable `strftime_now` reads its clock from (RFC 3339); absent = the local clock.
pub const NOW_VAR: &str = "__lfm_now";
/// Prefix of the error a template's `raise_exception(...)` produces.
pub const RAISED: &str = "the template raised: ";

const GEN_FILTER: &str = "__lfm_generation";

/// Python's `str.isspace()` for one character.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `float.__repr__`: the shortest digits that round-trip, fixed notation for
/// 1e-4 <= |x| < 1e16 (always with a fractional part), scientific otherwise (`1e-07`, `1.5e+16`).
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes an integer exponent");
    let (sign, mant) = mant.strip_prefix('-').map_or(("", mant), |m| ("-", m));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let s = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{s}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// Python's `str.isprintable()` for one character, for the cases `repr` escapes: controls,
/// separators other than the space, format characters (Cf), private use and noncharacters.
/// Code points Unicode leaves unassigned are not tabulated here (Python escapes those too).
fn py_printable(c: char) -> bool {
    let u = c as u32;
    const NOT: &[(u32, u32)] = &[
        (0x00, 0x1f),
        (0x7f, 0xa0),
        (0xad, 0xad),
        (0x600, 0x605),
        (0x61c, 0x61c),
        (0x6dd, 0x6dd),
        (0x70f, 0x70f),
        (0x890, 0x891),
        (0x8e2, 0x8e2),
        (0x1680, 0x1680),
        (0x180e, 0x180e),
        (0x2000, 0x200f),
        (0x2028, 0x202f),
        (0x205f, 0x2064),
        (0x2066, 0x206f),
        (0x3000, 0x3000),
        (0xd800, 0xf8ff),
        (0xfeff, 0xfeff),
        (0xfff0, 0xfffb),
        (0xfffe, 0xffff),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
        (0xe0020, 0xe007f),
        (0xf0000, 0x10ffff),
    ];
    !NOT.iter().any(|&(a, b)| (a..=b).contains(&u)) && (u & 0xfffe) != 0xfffe
}

/// Python's `repr()` of a string.
pub fn py_repr_str(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let u = c as u32;
                if u <= 0xff {
                    out.push_str(&format!("\\x{u:02x}"));
                } else if u <= 0xffff {
                    out.push_str(&format!("\\u{u:04x}"));
                } else {
                    out.push_str(&format!("\\U{u:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

fn is_float(v: &Value) -> bool {
    v.kind() == ValueKind::Number && !v.is_integer()
}

fn py_number(v: &Value, out: &mut String) {
    if is_float(v) {
        out.push_str(&py_float(f64::try_from(v.clone()).unwrap_or(f64::NAN)));
    } else {
        out.push_str(&v.to_string());
    }
}

/// Python's `repr()` of a value (as items of a printed list or dict show).
pub fn py_repr(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::String => py_repr_str(v.as_str().unwrap_or_default(), out),
        _ => py_str_into(v, out),
    }
}

fn py_str_into(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => py_number(v, out),
        ValueKind::String => out.push_str(v.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(items) = v.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&item, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = v.try_iter() {
                for (i, k) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&k, out);
                    out.push_str(": ");
                    py_repr(&v.get_item(&k).unwrap_or(Value::UNDEFINED), out);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

/// Python's `str()` of a value.
pub fn py_str(v: &Value) -> String {
    let mut s = String::new();
    py_str_into(v, &mut s);
    s
}

/// How [`to_json`] writes, after `json.dumps`'s keyword arguments.
#[derive(Clone, Debug)]
pub struct JsonStyle {
    pub ensure_ascii: bool,
    pub indent: Option<String>,
    pub item_sep: String,
    pub key_sep: String,
    pub sort_keys: bool,
}

impl Default for JsonStyle {
    fn default() -> Self {
        Self { ensure_ascii: false, indent: None, item_sep: ", ".into(), key_sep: ": ".into(), sort_keys: false }
    }
}

fn json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && (c as u32) >= 0x7f) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_key(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::None => "null".into(),
        ValueKind::Bool => (if k.is_true() { "true" } else { "false" }).into(),
        ValueKind::Number => {
            let mut s = String::new();
            py_number(k, &mut s);
            s
        }
        other => return Err(Error::new(ErrorKind::InvalidOperation, format!("tojson: a {other} cannot be a key"))),
    })
}

fn newline(style: &JsonStyle, depth: usize, out: &mut String) {
    if let Some(ind) = &style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn json_into(v: &Value, style: &JsonStyle, depth: usize, out: &mut String) -> Result<(), Error> {
    if depth > 200 {
        return Err(Error::new(ErrorKind::InvalidOperation, "tojson: nesting deeper than 200"));
    }
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            if is_float(v) {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                out.push_str(&if f.is_nan() {
                    "NaN".into()
                } else if f.is_infinite() {
                    (if f < 0.0 { "-Infinity" } else { "Infinity" }).to_string()
                } else {
                    py_float(f)
                });
            } else {
                out.push_str(&v.to_string());
            }
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), style.ensure_ascii, out),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(style, depth + 1, out);
                json_into(item, style, depth + 1, out)?;
            }
            newline(style, depth, out);
            out.push(']');
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                entries.push((json_key(&k)?, val));
            }
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(style, depth + 1, out);
                json_str(k, style.ensure_ascii, out);
                out.push_str(&style.key_sep);
                json_into(val, style, depth + 1, out)?;
            }
            newline(style, depth, out);
            out.push('}');
        }
        other => {
            return Err(Error::new(ErrorKind::InvalidOperation, format!("tojson: an {other} is not JSON serializable")))
        }
    }
    Ok(())
}

/// `json.dumps(v, ...)` of a template value.
pub fn to_json(v: &Value, style: &JsonStyle) -> Result<String, Error> {
    let mut out = String::new();
    json_into(v, style, 0, &mut out)?;
    Ok(out)
}

/// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
fn tojson_filter(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let names = ["ensure_ascii", "indent", "separators", "sort_keys"];
    if args.len() > names.len() {
        return Err(Error::new(ErrorKind::TooManyArguments, "tojson takes at most 4 arguments"));
    }
    let mut given: Vec<Option<Value>> = vec![None; 4];
    for (i, a) in args.iter().enumerate() {
        given[i] = Some(a.clone());
    }
    for (i, n) in names.iter().enumerate() {
        if let Some(v) = kwargs.get::<Option<Value>>(n)? {
            if given[i].is_some() {
                return Err(Error::new(ErrorKind::InvalidOperation, format!("tojson got {n} twice")));
            }
            given[i] = Some(v);
        }
    }
    kwargs.assert_all_used()?;
    let mut style = JsonStyle::default();
    if let Some(v) = &given[0] {
        style.ensure_ascii = v.is_true();
    }
    if let Some(v) = given[1].as_ref().filter(|v| !v.is_none() && !v.is_undefined()) {
        style.indent = Some(match v.kind() {
            ValueKind::String => v.as_str().unwrap_or_default().to_string(),
            ValueKind::Number if v.is_integer() => " ".repeat(usize::try_from(v.clone()).unwrap_or(0)),
            _ => return Err(Error::new(ErrorKind::InvalidOperation, "tojson: indent must be an integer or a string")),
        });
        style.item_sep = ",".into();
    }
    if let Some(v) = given[2].as_ref().filter(|v| !v.is_none() && !v.is_undefined()) {
        let parts: Vec<Value> = v.try_iter()?.collect();
        match parts.as_slice() {
            [a, b] if a.as_str().is_some() && b.as_str().is_some() => {
                style.item_sep = a.as_str().unwrap_or_default().into();
                style.key_sep = b.as_str().unwrap_or_default().into();
            }
            _ => return Err(Error::new(ErrorKind::InvalidOperation, "tojson: separators must be two strings")),
        }
    }
    if let Some(v) = &given[3] {
        style.sort_keys = v.is_true();
    }
    Ok(Value::from(to_json(value, &style)?))
}

fn string_filter(value: &Value) -> Value {
    if value.kind() == ValueKind::String {
        value.clone()
    } else {
        Value::from(py_str(value))
    }
}

fn join_filter(value: &Value, d: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let attribute: Option<Value> = kwargs.get("attribute")?;
    kwargs.assert_all_used()?;
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    let mut out = String::new();
    for (i, item) in value.try_iter()?.enumerate() {
        if i > 0 {
            out.push_str(d.as_deref().unwrap_or(""));
        }
        let item = match &attribute {
            Some(a) => item.get_item(a)?,
            None => item,
        };
        py_str_into(&item, &mut out);
    }
    Ok(out)
}

fn strip_chars<'a>(s: &'a str, chars: Option<&str>, left: bool, right: bool) -> &'a str {
    let pred = |c: char| match chars {
        Some(set) => set.contains(c),
        None => py_space(c),
    };
    let s = if left { s.trim_start_matches(pred) } else { s };
    if right {
        s.trim_end_matches(pred)
    } else {
        s
    }
}

fn trim_filter(value: &Value, chars: Option<String>) -> Value {
    let s = py_str(value);
    Value::from(strip_chars(&s, chars.as_deref(), true, true))
}

/// Python's `str.split(sep=None, maxsplit=-1)` with `sep` None: runs of whitespace separate.
fn py_split_ws(s: &str, maxsplit: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches(py_space);
    while !rest.is_empty() {
        if maxsplit >= 0 && out.len() as i64 == maxsplit {
            out.push(Value::from(rest));
            return out;
        }
        let end = rest.find(py_space).unwrap_or(rest.len());
        out.push(Value::from(&rest[..end]));
        rest = rest[end..].trim_start_matches(py_space);
    }
    out
}

/// Python methods on values: the whitespace-sensitive string methods here, the rest from
/// minijinja-contrib's `pycompat`.
fn methods(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        let arg_str = |i: usize| -> Result<Option<String>, Error> {
            match args.get(i) {
                None => Ok(None),
                Some(v) if v.is_none() => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("{method}: expected a string"))),
            }
        };
        match method {
            "strip" | "lstrip" | "rstrip" if args.len() <= 1 => {
                let chars = arg_str(0)?;
                let (l, r) = match method {
                    "strip" => (true, true),
                    "lstrip" => (true, false),
                    _ => (false, true),
                };
                return Ok(Value::from(strip_chars(s, chars.as_deref(), l, r)));
            }
            "split" if args.len() <= 2 && arg_str(0)?.is_none() => {
                let maxsplit = args.get(1).and_then(Value::as_i64).unwrap_or(-1);
                return Ok(Value::from(py_split_ws(s, maxsplit)));
            }
            "startswith" | "endswith" if args.len() == 1 && args[0].kind() == ValueKind::Seq => {
                // Python accepts a tuple of candidates.
                let any = args[0].try_iter()?.any(|p| {
                    p.as_str().is_some_and(|p| if method == "startswith" { s.starts_with(p) } else { s.ends_with(p) })
                });
                return Ok(Value::from(any));
            }
            _ => {}
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

fn strftime_now(state: &State, format: String) -> Result<String, Error> {
    use std::fmt::Write;
    let now = match state.lookup(NOW_VAR).and_then(|v| v.as_str().map(String::from)) {
        Some(s) => chrono::DateTime::parse_from_rfc3339(&s)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("bad clock {s:?}: {e}")))?
            .naive_local(),
        None => chrono::Local::now().naive_local(),
    };
    // Validate first: chrono reports an unknown directive only while writing.
    let items: Vec<chrono::format::Item> = chrono::format::StrftimeItems::new(&format).collect();
    if items.iter().any(|i| matches!(i, chrono::format::Item::Error)) {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("strftime_now: unsupported format {format:?}")));
    }
    let mut out = String::new();
    write!(out, "{}", now.format_with_items(items.into_iter()))
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("strftime_now: cannot format {format:?}")))?;
    Ok(out)
}

/// The environment chat templates are rendered in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_recursion_limit(200);
    env.set_unknown_method_callback(methods);
    env.set_formatter(|out, _state, value| {
        if let Some(s) = value.as_str() {
            out.write_str(s).map_err(Error::from)
        } else {
            out.write_str(&py_str(value)).map_err(Error::from)
        }
    });
    env.add_filter("tojson", tojson_filter);
    env.add_filter("string", string_filter);
    env.add_filter("join", join_filter);
    env.add_filter("trim", trim_filter);
    env.add_filter(GEN_FILTER, |s: String| format!("{GEN_OPEN}{s}{GEN_CLOSE}"));
    env.add_test("sequence", |v: &Value| {
        v.is_undefined() || matches!(v.kind(), ValueKind::Seq | ValueKind::String | ValueKind::Map)
    });
    env.add_test("iterable", |v: &Value| {
        matches!(v.kind(), ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Iterable)
    });
    env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, format!("{RAISED}{msg}")))
    });
    env.add_function("strftime_now", strftime_now);
    env
}

/// Rewrites `{% generation %}` / `{% endgeneration %}` (with their `-`/`+` whitespace marks)
/// into a filter block that wraps the block's output in [`GEN_OPEN`]/[`GEN_CLOSE`]. An inner
/// `{% with %}` scope keeps assignments made inside the block local to it, as in transformers
/// (its tag is a call block). Returns the new source and whether any block was found.
pub fn rewrite_generation(src: &str) -> (String, bool) {
    let mut out = String::with_capacity(src.len() + 64);
    let mut rest = src;
    let mut found = false;
    while let Some(i) = rest.find("{%") {
        out.push_str(&rest[..i]);
        let tag = &rest[i..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return (out, found);
        };
        let inner = &tag[2..end];
        let (lmark, body) = match inner.chars().next() {
            Some(c @ ('-' | '+')) => (c.to_string(), &inner[1..]),
            _ => (String::new(), inner),
        };
        let (rmark, body) = match body.chars().last() {
            Some(c @ ('-' | '+')) => (c.to_string(), &body[..body.len() - 1]),
            _ => (String::new(), body),
        };
        match body.trim() {
            "generation" => {
                found = true;
                out.push_str(&format!("{{%{lmark} filter {GEN_FILTER} %}}{{% with {rmark}%}}"));
            }
            "endgeneration" => out.push_str(&format!("{{%{lmark} endwith %}}{{% endfilter {rmark}%}}")),
            _ => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        // Values from Python 3: repr(x) for each x.
        let cases = [
            (1e-7, "1e-07"),
            (1e20, "1e+20"),
            (100.0, "100.0"),
            (2.5, "2.5"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (-1.5e-10, "-1.5e-10"),
            (123456.789, "123456.789"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float(x), want, "{x:e}");
        }
    }

    #[test]
    fn values_print_as_python_str() {
        let env = environment();
        let r = |src: &str| env.render_str(src, ()).unwrap();
        // Python: str(x) / Jinja2 output for each.
        assert_eq!(r("{{ none }}|{{ true }}|{{ false }}|{{ 3 }}|{{ 2.0 }}"), "None|True|False|3|2.0");
        assert_eq!(r("{{ ['a', \"it's\", 1, none, true, 1e-7] }}"), "['a', \"it's\", 1, None, True, 1e-07]");
        assert_eq!(r("{{ {'k': [1, 'x\\ny']} }}"), "{'k': [1, 'x\\ny']}");
        // Python: repr(['\u2069', '\xad', 'é']) escapes the format characters only.
        assert_eq!(r("{{ ['\u{2069}', '\u{00ad}', 'é'] }}"), "['\\u2069', '\\xad', 'é']");
        assert_eq!(r("{{ [1, 2] | string }}|{{ [true] | join(',') }}|{{ ['a', 'b'] | join }}"), "[1, 2]|True|ab");
        assert_eq!(r("{{ x }}"), "");
    }

    #[test]
    fn tojson_is_python_json_dumps() {
        let env = environment();
        let r = |src: &str| env.render_str(src, ()).unwrap();
        // Python: json.dumps({"a": [1, 2.5, None, True], "b": "é<>&'\"\\"}, ensure_ascii=False)
        assert_eq!(
            r(r#"{{ {"a": [1, 2.5, none, true], "b": "é<>&'\"\\"} | tojson }}"#),
            r#"{"a": [1, 2.5, null, true], "b": "é<>&'\"\\"}"#
        );
        // json.dumps({"z": 1, "a": {}}, indent=2, sort_keys=True)
        assert_eq!(
            r(r#"{{ {"z": 1, "a": {}} | tojson(indent=2, sort_keys=true) }}"#),
            "{\n  \"a\": {},\n  \"z\": 1\n}"
        );
        // json.dumps(["é", 1e-07], ensure_ascii=True, separators=(",", ":"))
        assert_eq!(
            r(r#"{{ ["é😀", 1e-7] | tojson(ensure_ascii=true, separators=(",", ":")) }}"#),
            r#"["\u00e9\ud83d\ude00",1e-07]"#
        );
        // Insertion order is kept.
        assert_eq!(r(r#"{{ {"b": 1, "a": 2} | tojson }}"#), r#"{"b": 1, "a": 2}"#);
    }

    #[test]
    fn python_whitespace_and_tests() {
        let env = environment();
        let r = |src: &str| env.render_str(src, ()).unwrap();
        assert_eq!(r("[{{ '\\x1c a b\\x1f' | trim }}]"), "[a b]");
        assert_eq!(
            r("{{ ' a  b\\tc '.split() }}|{{ 'a</think> x '.split('</think>')[-1] | trim }}"),
            "['a', 'b', 'c']|x"
        );
        assert_eq!(
            r("{{ 'x' is sequence }}{{ {} is sequence }}{{ 'x' is iterable }}{{ 3 is iterable }}"),
            "TrueTrueTrueFalse"
        );
        assert_eq!(r("{{ 'abc'.endswith(('x', 'c')) }}"), "True");
    }

    #[test]
    fn generation_blocks_are_rewritten_with_their_whitespace_marks() {
        let (s, found) = rewrite_generation("a{%- generation -%} b {%+ endgeneration %}c{% if x %}{% endif %}");
        assert!(found);
        assert_eq!(
            s,
            "a{%- filter __lfm_generation %}{% with -%} b {%+ endwith %}{% endfilter %}c{% if x %}{% endif %}"
        );
        let env = environment();
        let out = env.render_str(&s, ()).unwrap();
        assert_eq!(out, format!("a{GEN_OPEN}b {GEN_CLOSE}c"));
        assert!(!rewrite_generation("{% if generation %}{% endif %}").1);
    }

    #[test]
    fn raise_exception_and_strftime_now() {
        let env = environment();
        let e = env.render_str("{{ raise_exception('no tools') }}", ()).unwrap_err();
        assert!(e.to_string().contains("the template raised: no tools"), "{e}");
        let ctx = minijinja::context! { __lfm_now => "2026-01-15T09:30:00+00:00" };
        assert_eq!(
            env.render_str("{{ strftime_now('%Y-%m-%d|%d %B %Y|%b %a') }}", ctx).unwrap(),
            "2026-01-15|15 January 2026|Jan Thu"
        );
    }
}
