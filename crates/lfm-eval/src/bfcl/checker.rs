//! BFCL's AST checker for Python categories (`docs/bfcl-ast.md` §5–6): call-count gates,
//! order-free greedy matching for parallel calls, and the per-call check — name, required
//! parameters, unexpected parameters, Python type rules (with the "variable" escape), and value
//! rules (normalised strings, lists, dicts, lists of dicts, `==` for the rest). Error types use
//! the official strings so reports line up with BFCL's.

use serde_json::Value;

use super::decode::Call;
use super::pyexpr::PyVal;

/// A failed check: BFCL's error type and a human-readable reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub error_type: String,
    pub reason: String,
}

fn fail<T>(error_type: &str, reason: String) -> Result<T, Failure> {
    Err(Failure { error_type: error_type.into(), reason })
}

/// The AST-scored categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Simple,
    Multiple,
    Parallel,
    ParallelMultiple,
    Irrelevance,
    Relevance,
}

impl Category {
    /// BFCL's name of the category (`parallel_multiple`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Category::Simple => "simple",
            Category::Multiple => "multiple",
            Category::Parallel => "parallel",
            Category::ParallelMultiple => "parallel_multiple",
            Category::Irrelevance => "irrelevance",
            Category::Relevance => "relevance",
        }
    }

    /// From a BFCL id or category name (`simple_python_3`, `live_multiple`, `irrelevance_7`).
    pub fn from_id(id: &str) -> Option<Category> {
        let id = id.strip_prefix("live_").unwrap_or(id);
        Some(if id.starts_with("parallel_multiple") {
            Category::ParallelMultiple
        } else if id.starts_with("parallel") {
            Category::Parallel
        } else if id.starts_with("multiple") {
            Category::Multiple
        } else if id.starts_with("simple") {
            Category::Simple
        } else if id.starts_with("irrelevance") {
            Category::Irrelevance
        } else if id.starts_with("relevance") {
            Category::Relevance
        } else {
            return None;
        })
    }
}

/// Python type a schema type maps to (BFCL's Python mapping).
fn py_type(schema_type: &str) -> Option<&'static str> {
    Some(match schema_type {
        "string" => "str",
        "integer" => "int",
        "float" => "float",
        "boolean" => "bool",
        "array" | "tuple" => "list",
        "dict" => "dict",
        "any" => "str",
        _ => return None,
    })
}

/// BFCL's string normalisation: drop spaces and `, . / - _ * ^`, lower-case, `'` → `"`.
pub fn standardize(s: &str) -> String {
    s.chars().filter(|c| !" ,./-_*^".contains(*c)).collect::<String>().to_lowercase().replace('\'', "\"")
}

fn std_val(v: &PyVal) -> PyVal {
    match v {
        PyVal::Str(s) => PyVal::Str(standardize(s)),
        other => other.clone(),
    }
}

fn contains(list: &[PyVal], v: &PyVal) -> bool {
    list.iter().any(|x| x.py_eq(v))
}

/// The type of the first allowed value that is not the `""` "may be omitted" marker.
fn answer_type(allowed: &[PyVal]) -> Option<&'static str> {
    allowed.iter().find(|a| **a != PyVal::Str(String::new())).map(|a| a.type_name())
}

/// Type check; `Ok(true)` when the value passed only through the "variable" escape.
fn type_check(
    param: &str,
    value: &PyVal,
    allowed: &[PyVal],
    expected: &str,
    nested: Option<&str>,
) -> Result<bool, Failure> {
    let ans_t = answer_type(allowed);
    let is_variable = ans_t.is_some_and(|t| t != expected);
    if value.type_name() == expected {
        let Some(nested) = nested else { return Ok(is_variable) };
        // Element types, against each allowed list.
        for cand in allowed {
            if let PyVal::List(_) = cand {
                let PyVal::List(items) = value else { unreachable!() };
                let ok = items.iter().all(|it| type_check(param, it, std::slice::from_ref(cand), nested, None).is_ok());
                if ok {
                    return Ok(is_variable);
                }
            } else {
                return Ok(is_variable);
            }
        }
        return fail(
            "type_error:nested",
            format!("nested type checking failed for {param:?}: expected elements of type {nested}"),
        );
    }
    if ans_t.is_some_and(|t| t == value.type_name()) {
        return Ok(true);
    }
    fail("type_error:simple", format!("incorrect type for {param:?}: expected {expected}, got {}", value.type_name()))
}

fn string_check(param: &str, v: &str, allowed: &[PyVal]) -> Result<(), Failure> {
    let s = standardize(v);
    if allowed.iter().any(|a| matches!(a, PyVal::Str(x) if standardize(x) == s)) {
        return Ok(());
    }
    fail("value_error:string", format!("invalid value for {param:?}: {}", PyVal::Str(v.into()).repr()))
}

fn list_check(param: &str, v: &[PyVal], allowed: &[PyVal]) -> Result<(), Failure> {
    let got = PyVal::List(v.iter().map(std_val).collect());
    for a in allowed {
        if let PyVal::List(items) = a {
            if PyVal::List(items.iter().map(std_val).collect()).py_eq(&got) {
                return Ok(());
            }
        }
    }
    fail("value_error:list/tuple", format!("invalid value for {param:?}: {}", PyVal::List(v.to_vec()).repr()))
}

fn dict_check(param: &str, v: &[(PyVal, PyVal)], allowed: &[PyVal]) -> Result<(), Failure> {
    let mut last =
        Failure { error_type: "dict_checker:unclear".into(), reason: format!("no candidate dict for {param:?}") };
    'cands: for cand in allowed {
        let PyVal::Dict(cand) = cand else { continue };
        for (k, x) in v {
            let Some((_, choices)) = cand.iter().find(|(ck, _)| ck.py_eq(k)) else {
                last = Failure {
                    error_type: "value_error:dict_key".into(),
                    reason: format!("unexpected dict key {} in {param:?}", k.repr()),
                };
                continue 'cands;
            };
            let choices: Vec<PyVal> = match choices {
                PyVal::List(c) => c.iter().map(std_val).collect(),
                other => vec![std_val(other)],
            };
            if !contains(&choices, &std_val(x)) {
                last = Failure {
                    error_type: "value_error:dict_value".into(),
                    reason: format!("invalid value {} for dict key {} in {param:?}", x.repr(), k.repr()),
                };
                continue 'cands;
            }
        }
        for (ck, choices) in cand {
            let optional = matches!(choices, PyVal::List(c) if contains(c, &PyVal::Str(String::new())));
            if !optional && !v.iter().any(|(k, _)| k.py_eq(ck)) {
                last = Failure {
                    error_type: "value_error:dict_key".into(),
                    reason: format!("missing dict key {} in {param:?}", ck.repr()),
                };
                continue 'cands;
            }
        }
        return Ok(());
    }
    Err(last)
}

fn list_dict_check(param: &str, v: &[PyVal], allowed: &[PyVal]) -> Result<(), Failure> {
    let mut last =
        Failure { error_type: "list_dict_checker:unclear".into(), reason: format!("no candidate list for {param:?}") };
    'cands: for cand in allowed {
        let PyVal::List(cand) = cand else { continue };
        if cand.len() != v.len() {
            last = Failure {
                error_type: "value_error:list_dict_count".into(),
                reason: format!("wrong number of dicts in {param:?}"),
            };
            continue;
        }
        for (x, c) in v.iter().zip(cand) {
            let PyVal::Dict(d) = x else {
                last = Failure {
                    error_type: "value_error:list_dict_count".into(),
                    reason: format!("non-dict element in {param:?}"),
                };
                continue 'cands;
            };
            if let Err(f) = dict_check(param, d, std::slice::from_ref(c)) {
                last = f;
                continue 'cands;
            }
        }
        return Ok(());
    }
    Err(last)
}

/// Checks one call against one expected `{name: {param: [allowed...]}}` and its function doc.
pub fn check_call(doc: &Value, call: &Call, expected: &Value) -> Result<(), Failure> {
    let fname = doc.get("name").and_then(Value::as_str).unwrap_or_default();
    if call.name != fname {
        return fail(
            "simple_function_checker:wrong_func_name",
            format!("function name {:?} does not match {fname:?}", call.name),
        );
    }
    let empty = serde_json::Map::new();
    let answers = expected.get(fname).and_then(Value::as_object).unwrap_or(&empty);
    let params = doc.pointer("/parameters/properties").and_then(Value::as_object).unwrap_or(&empty);
    let required: Vec<&str> = doc
        .pointer("/parameters/required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for r in &required {
        if !call.args.iter().any(|(k, _)| k == r) {
            return fail("simple_function_checker:missing_required", format!("missing required parameter {r:?}"));
        }
    }
    for (param, value) in &call.args {
        let (Some(details), Some(allowed)) = (params.get(param), answers.get(param)) else {
            return fail("simple_function_checker:unexpected_param", format!("unexpected parameter {param:?}"));
        };
        let allowed: Vec<PyVal> = match PyVal::from_json(allowed) {
            PyVal::List(v) => v,
            other => vec![other],
        };
        let stype = details.get("type").and_then(Value::as_str).unwrap_or("any");
        let expected_t = py_type(stype).unwrap_or("str");
        let nested = if stype == "array" || stype == "tuple" {
            details.pointer("/items/type").and_then(Value::as_str).and_then(py_type)
        } else {
            None
        };
        let mut value = value.clone();
        if stype == "tuple" {
            if let PyVal::Tuple(v) = value {
                value = PyVal::List(v);
            }
        }
        if stype == "float" {
            if let PyVal::Int(i) = value {
                value = PyVal::Float(i as f64);
            }
        }
        let is_variable = type_check(param, &value, &allowed, expected_t, nested)?;
        if !is_variable {
            match (&value, expected_t) {
                (PyVal::Dict(d), "dict") => {
                    dict_check(param, d, &allowed)?;
                    continue;
                }
                (PyVal::List(v), "list") if nested == Some("dict") => {
                    list_dict_check(param, v, &allowed)?;
                    continue;
                }
                (PyVal::Str(s), "str") => {
                    string_check(param, s, &allowed)?;
                    continue;
                }
                (PyVal::List(v), "list") => {
                    list_check(param, v, &allowed)?;
                    continue;
                }
                _ => {}
            }
        }
        if !contains(&allowed, &value) {
            return fail("value_error:others", format!("invalid value for {param:?}: {}", value.repr()));
        }
    }
    for (param, allowed) in answers {
        let optional = allowed.as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some("")));
        if !optional && !call.args.iter().any(|(k, _)| k == param) {
            return fail(
                "simple_function_checker:missing_optional",
                format!("optional parameter {param:?} not provided"),
            );
        }
    }
    Ok(())
}

/// Partial credit of decoded calls against the ground truth, in [0, 1]: a dense signal for
/// reinforcement learning where BFCL's verdict is all or nothing (not a BFCL metric).
///
/// Each expected call is worth `1 + its parameters` units: one for a decoded call of its name,
/// one per parameter whose value passes [`check_call`]'s rules on that parameter alone (an
/// optional parameter, one whose answers include `""`, also earns its unit when omitted).
/// Expected and decoded calls of the same name are paired greedily, the pair earning the most
/// units first. The credit is the units earned over the units expected, scaled by
/// `min(decoded, expected) / max(decoded, expected)` calls, so that a missing call costs as
/// much as an extra one: one right call where two were asked earns 0.5 x 0.5. (Without the
/// scale for missing calls, GRPO on the toy learned to answer two requests with one call: a
/// sure half beat two calls that were sometimes broken.) No calls: 0.
pub fn arg_credit(docs: &[Value], calls: &[Call], truth: &[Value]) -> f64 {
    if calls.is_empty() || truth.is_empty() {
        return 0.0;
    }
    let empty = serde_json::Map::new();
    let units = |t: &Value, call: &Call| -> usize {
        let name = expected_name(t);
        if call.name != name {
            return 0;
        }
        let answers = expected_args(t).unwrap_or(&empty);
        let props = find_doc(docs, name)
            .and_then(|d| d.pointer("/parameters/properties"))
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let right = |param: &String, allowed: &Value| -> bool {
            let Some((_, value)) = call.args.iter().find(|(k, _)| k == param) else {
                return allowed.as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some("")));
            };
            let mut one_props = serde_json::Map::new();
            if let Some(d) = props.get(param) {
                one_props.insert(param.clone(), d.clone());
            }
            let one_doc = serde_json::json!({"name": name, "parameters": {"type": "dict", "properties": one_props, "required": []}});
            let one_truth = serde_json::json!({ name: { param.clone(): allowed.clone() } });
            let one_call = Call { name: call.name.clone(), args: vec![(param.clone(), value.clone())] };
            check_call(&one_doc, &one_call, &one_truth).is_ok()
        };
        1 + answers.iter().filter(|(p, a)| right(p, a)).count()
    };
    let total: usize = truth.iter().map(|t| 1 + expected_args(t).map_or(0, |a| a.len())).sum();
    let mut pairs: Vec<(usize, usize, usize)> = (0..truth.len())
        .flat_map(|ti| (0..calls.len()).map(move |ci| (ti, ci)))
        .map(|(ti, ci)| (units(&truth[ti], &calls[ci]), ti, ci))
        .filter(|&(u, _, _)| u > 0)
        .collect();
    // Most units first; ties in source order (stable sort).
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0));
    let (mut t_used, mut c_used) = (vec![false; truth.len()], vec![false; calls.len()]);
    let mut earned = 0;
    for (u, ti, ci) in pairs {
        if !t_used[ti] && !c_used[ci] {
            (t_used[ti], c_used[ci]) = (true, true);
            earned += u;
        }
    }
    let scale = truth.len().min(calls.len()) as f64 / truth.len().max(calls.len()) as f64;
    earned as f64 / total.max(1) as f64 * scale
}

fn find_doc<'a>(docs: &'a [Value], name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d.get("name").and_then(Value::as_str) == Some(name))
}

/// The `{param: [allowed...]}` map of an expected `{name: {...}}` call.
fn expected_args(e: &Value) -> Option<&serde_json::Map<String, Value>> {
    e.get(expected_name(e)).and_then(Value::as_object)
}

fn expected_name(e: &Value) -> &str {
    e.as_object().and_then(|o| o.keys().next()).map(String::as_str).unwrap_or_default()
}

/// Scores decoded calls for an AST category against the ground truth list.
pub fn check(cat: Category, docs: &[Value], calls: &[Call], truth: &[Value]) -> Result<(), Failure> {
    match cat {
        Category::Simple => {
            if calls.len() != 1 {
                return fail("simple_function_checker:wrong_count", format!("expected 1 call, got {}", calls.len()));
            }
            let doc =
                docs.first().ok_or_else(|| Failure { error_type: "data".into(), reason: "no function".into() })?;
            check_call(doc, &calls[0], truth.first().unwrap_or(&Value::Null))
        }
        Category::Multiple => {
            if calls.len() != truth.len() {
                return fail(
                    "multiple_function_checker:wrong_count",
                    format!("expected {} call(s), got {}", truth.len(), calls.len()),
                );
            }
            let Some(t) = truth.first() else { return Ok(()) };
            let doc = find_doc(docs, expected_name(t)).ok_or_else(|| Failure {
                error_type: "data".into(),
                reason: format!("no function named {:?}", expected_name(t)),
            })?;
            check_call(doc, &calls[0], t)
        }
        Category::Parallel | Category::ParallelMultiple => {
            if calls.len() != truth.len() {
                return fail(
                    "parallel_function_checker_no_order:wrong_count",
                    format!("expected {} call(s), got {}", truth.len(), calls.len()),
                );
            }
            let mut used = vec![false; calls.len()];
            for t in truth {
                let doc = find_doc(docs, expected_name(t)).ok_or_else(|| Failure {
                    error_type: "data".into(),
                    reason: format!("no function named {:?}", expected_name(t)),
                })?;
                let hit = (0..calls.len()).find(|&i| !used[i] && check_call(doc, &calls[i], t).is_ok());
                match hit {
                    Some(i) => used[i] = true,
                    None => {
                        return fail(
                            "parallel_function_checker_no_order:cannot_find_match",
                            format!("no call matches {}", serde_json::to_string(t).unwrap_or_default()),
                        )
                    }
                }
            }
            Ok(())
        }
        Category::Irrelevance | Category::Relevance => Ok(()),
    }
}
