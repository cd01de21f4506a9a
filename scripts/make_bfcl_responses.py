#!/usr/bin/env python3
"""Generate `evals/bfcl/responses.jsonl`: synthetic raw model replies for the BFCL subsets.

The replies are a differential-test fixture for the Rust BFCL AST checker: each one is scored by
the official bfcl-eval code (`scripts/bfcl_official_verdicts.py` -> `official_verdicts.jsonl`),
and the Rust port must reproduce every verdict.

Rows: {"id": record id, "category": ..., "case": short variant name, "result": raw model text}.

For every record of the AST subsets (simple_python, multiple, parallel, parallel_multiple) the
"oracle" reply is written first: the ground truth rendered in Python call syntax
`[f(a=1, b="x")]`, taking the first allowed value of every ground-truth parameter and leaving out
parameters whose allowed list contains "" unless the schema requires them (nested dict candidates
are resolved the same way). Then each record gets a few mutations of that oracle (near misses and
adversarial forms: names, parameters, types, values, string normalisation, lists, dicts, decoder
quirks, wrappers, call counts). Mutations are handed out round-robin from one queue; one that
does not apply to a record waits for the next record where it does, so every mutation is used.
Irrelevance records get prose, empty lists, junk and real calls the same way.

Deterministic; standard library only.

  python3 scripts/make_bfcl_responses.py            # writes evals/bfcl/responses.jsonl
  python3 scripts/make_bfcl_responses.py OUT.jsonl
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "evals", "bfcl")
AST_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]
MUTATIONS_PER_AST_RECORD = 5
MUTATIONS_PER_IRRELEVANCE_RECORD = 4


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------- rendering Python call syntax

class Raw:
    """A value written verbatim into the call text (an expression, not a literal)."""

    def __init__(self, text):
        self.text = text


def render(v):
    if isinstance(v, Raw):
        return v.text
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, tuple):
        inner = ", ".join(render(x) for x in v)
        return "(" + inner + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(render(k) + ": " + render(x) for k, x in v.items()) + "}"
    raise TypeError(type(v))


def render_call(call, sep=", ", eq="="):
    name, args = call
    parts = []
    for k, v in args:
        parts.append(render(v) if k is None else k + eq + render(v))
    return name + "(" + sep.join(parts) + ")"


def render_calls(calls):
    return "[" + ", ".join(render_call(c) for c in calls) + "]"


# ---------------------------------------------------------------- oracle

def first_allowed(choices):
    for c in choices:
        if c != "":
            return c
    return ""


def resolve_candidate_dict(cand):
    out = {}
    for k, choices in cand.items():
        if "" in choices:
            continue
        out[k] = resolve_value(first_allowed(choices))
    return out


def resolve_value(v):
    if isinstance(v, dict):
        return resolve_candidate_dict(v)
    if isinstance(v, list):
        return [resolve_candidate_dict(x) if isinstance(x, dict) else x for x in v]
    return v


KEEP = object()


class Ctx:
    """One AST record: its schema, ground truth and oracle calls."""

    def __init__(self, category, index, q, a):
        self.category = category
        self.index = index
        self.id = q["id"]
        self.funcs = {f["name"]: f for f in q["function"]}
        self.func_list = q["function"]
        self.gt = [next(iter(g.items())) for g in a["ground_truth"]]
        self.oracle = []
        for name, params in self.gt:
            schema = self.funcs[name]["parameters"]
            req = schema.get("required", [])
            args = []
            for p, choices in params.items():
                if "" in choices and p not in req:
                    continue
                args.append((p, resolve_value(first_allowed(choices))))
            self.oracle.append((name, args))

    def copy_calls(self):
        return [(n, list(a)) for n, a in self.oracle]

    def props(self, name):
        return self.funcs[name]["parameters"]["properties"]

    def required(self, name):
        return self.funcs[name]["parameters"].get("required", [])

    def call_order(self):
        """Call indices starting from one that depends on the record (so targets vary)."""
        n = len(self.oracle)
        s = self.index % n
        return [(s + i) % n for i in range(n)]

    def find_arg(self, pred):
        """First (call index, arg index, name, value, schema type) in the oracle with pred true."""
        for ci in self.call_order():
            name, args = self.oracle[ci]
            props = self.props(name)
            for ai, (k, v) in enumerate(args):
                t = props.get(k, {}).get("type")
                if pred(k, v, t, props.get(k, {})):
                    return ci, ai, name, v, t
        return None

    def with_arg(self, hit, new_value=KEEP, new_key=None, drop=False):
        ci, ai = hit[0], hit[1]
        calls = self.copy_calls()
        name, args = calls[ci]
        k, v = args[ai]
        if drop:
            del args[ai]
        else:
            args[ai] = (k if new_key is None else new_key, v if new_value is KEEP else new_value)
        return render_calls(calls)


def is_str(v):
    return isinstance(v, str)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_float(v):
    return isinstance(v, float)


# ---------------------------------------------------------------- AST mutations
# Each takes a Ctx and returns the reply text, or None when it does not apply to the record.

M = {}


def mutation(name):
    def deco(f):
        M[name] = f
        return f
    return deco


def oracle_text(c):
    return render_calls(c.oracle)


# --- wrappers and decoder preprocessing
@mutation("fmt_no_brackets")
def _(c):
    return ", ".join(render_call(x) for x in c.oracle)


@mutation("fmt_open_bracket_only")
def _(c):
    return oracle_text(c)[:-1]


@mutation("fmt_close_bracket_only")
def _(c):
    return oracle_text(c)[1:]


@mutation("fmt_backticks_inline")
def _(c):
    return "`" + oracle_text(c) + "`"


@mutation("fmt_fence_plain")
def _(c):
    return "```\n" + oracle_text(c) + "\n```"


@mutation("fmt_fence_python")
def _(c):
    return "```python\n" + oracle_text(c) + "\n```"


@mutation("fmt_surrounding_whitespace")
def _(c):
    return "\n\n  " + oracle_text(c) + " \n"


@mutation("fmt_tab_prefix")
def _(c):
    return "\t" + oracle_text(c)


@mutation("fmt_crlf_suffix")
def _(c):
    return oracle_text(c) + "\r\n"


@mutation("fmt_single_quoted")
def _(c):
    return "'" + oracle_text(c) + "'"


@mutation("fmt_double_quoted")
def _(c):
    return '"' + oracle_text(c) + '"'


@mutation("fmt_prose_before")
def _(c):
    return "Sure, here is the function call: " + oracle_text(c)


@mutation("fmt_prose_after")
def _(c):
    return oracle_text(c) + "\nLet me know if you need anything else."


@mutation("fmt_think_prefix")
def _(c):
    return "<think>\nThe user wants a tool call.\n</think>\n\n" + oracle_text(c)


@mutation("fmt_tool_call_tokens")
def _(c):
    return "<|tool_call_start|>" + oracle_text(c) + "<|tool_call_end|>"


@mutation("fmt_tool_call_tokens_with_prose")
def _(c):
    return "<|tool_call_start|>" + oracle_text(c) + "<|tool_call_end|>Checking that for you."


@mutation("fmt_json_objects")
def _(c):
    return json.dumps([{"name": n, "arguments": {k: v for k, v in a}} for n, a in c.oracle])


@mutation("fmt_json_single_object")
def _(c):
    n, a = c.oracle[0]
    return json.dumps({"name": n, "parameters": {k: v for k, v in a}})


@mutation("fmt_empty_list")
def _(c):
    return "[]"


@mutation("fmt_empty_string")
def _(c):
    return ""


@mutation("fmt_plain_prose")
def _(c):
    return "I'm sorry, but I cannot help with that request."


@mutation("fmt_paren_outer")
def _(c):
    return "(" + ", ".join(render_call(x) for x in c.oracle) + ")"


@mutation("fmt_nested_list")
def _(c):
    return "[" + oracle_text(c) + "]"


@mutation("fmt_trailing_comma")
def _(c):
    return "[" + ", ".join(render_call(x) for x in c.oracle) + ",]"


@mutation("fmt_multiline")
def _(c):
    return "[\n" + ",\n".join("    " + render_call(x, sep=",\n        ") for x in c.oracle) + "\n]"


@mutation("fmt_comment_inside")
def _(c):
    return "[" + ", ".join(render_call(x) for x in c.oracle) + "  # done\n]"


@mutation("fmt_spaced_tokens")
def _(c):
    def spaced(call):
        name, args = call
        return " . ".join(name.split(".")) + " ( " + render_call(("", args), sep=" , ", eq=" = ")[1:]
    return "[ " + " , ".join(spaced(x) for x in c.oracle) + " ]"


@mutation("fmt_two_lists")
def _(c):
    return oracle_text(c) + "\n" + oracle_text(c)


@mutation("fmt_semicolon")
def _(c):
    return oracle_text(c) + ";"


@mutation("fmt_call_per_line_no_brackets")
def _(c):
    if len(c.oracle) < 2:
        return None
    return "\n".join(render_call(x) for x in c.oracle)


# --- function names
@mutation("name_wrong_suffix")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci] = (calls[ci][0] + "_v2", calls[ci][1])
    return render_calls(calls)


@mutation("name_case_changed")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    n = calls[ci][0]
    calls[ci] = (n[0].swapcase() + n[1:], calls[ci][1])
    return render_calls(calls)


@mutation("name_dots_to_underscores")
def _(c):
    ci = next((i for i in c.call_order() if "." in c.oracle[i][0]), None)
    if ci is None:
        return None
    calls = c.copy_calls()
    calls[ci] = (calls[ci][0].replace(".", "_"), calls[ci][1])
    return render_calls(calls)


@mutation("name_extra_module_prefix")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci] = ("functions." + calls[ci][0], calls[ci][1])
    return render_calls(calls)


@mutation("name_other_offered_function")
def _(c):
    ci = c.call_order()[0]
    others = [f["name"] for f in c.func_list if f["name"] != c.oracle[ci][0]]
    if not others:
        return None
    calls = c.copy_calls()
    calls[ci] = (others[c.index % len(others)], calls[ci][1])
    return render_calls(calls)


@mutation("name_callee_not_a_name")
def _(c):
    # f()(a=1): the callee is a call, so the decoded name is ""
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci] = (calls[ci][0] + "()", calls[ci][1])
    return render_calls(calls)


# --- parameters present / absent
@mutation("param_missing_required")
def _(c):
    for ci in c.call_order():
        name, args = c.oracle[ci]
        for ai, (k, v) in enumerate(args):
            if k in c.required(name):
                return c.with_arg((ci, ai), drop=True)
    return None


@mutation("param_missing_not_optional")
def _(c):
    # a ground-truth parameter without "" that the schema does not require
    for ci in c.call_order():
        name, args = c.oracle[ci]
        for ai, (k, v) in enumerate(args):
            if k not in c.required(name):
                return c.with_arg((ci, ai), drop=True)
    return None


@mutation("param_optional_supplied")
def _(c):
    # supply the ""-optional ground-truth parameters that the oracle left out (first real value)
    calls = c.copy_calls()
    changed = False
    for ci, (name, params) in enumerate(c.gt):
        present = {k for k, _ in calls[ci][1]}
        for p, choices in params.items():
            if p in present or p not in c.props(name) or first_allowed(choices) == "":
                continue
            calls[ci][1].append((p, resolve_value(first_allowed(choices))))
            changed = True
    return render_calls(calls) if changed else None


@mutation("param_optional_empty_string")
def _(c):
    # pass "" explicitly for a parameter whose allowed list contains ""
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            if "" in choices and p in c.props(name):
                calls = c.copy_calls()
                calls[ci][1][:] = [(k, v) for k, v in calls[ci][1] if k != p] + [(p, "")]
                return render_calls(calls)
    return None


@mutation("param_only_empty_choice_supplied")
def _(c):
    # a parameter whose only allowed value is "" (must be omitted), supplied anyway
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            if all(x == "" for x in choices) and p in c.props(name):
                t = c.props(name)[p].get("type")
                calls = c.copy_calls()
                calls[ci][1].append((p, sample_value(t)))
                return render_calls(calls)
    return None


@mutation("param_gt_only_not_in_schema")
def _(c):
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            if p not in c.props(name) and first_allowed(choices) != "":
                calls = c.copy_calls()
                calls[ci][1].append((p, first_allowed(choices)))
                return render_calls(calls)
    return None


def sample_value(t):
    return {"string": "default", "integer": 1, "float": 1.5, "boolean": True, "array": ["x"],
            "tuple": [1, 2], "dict": {"k": "v"}, "any": "x"}.get(t, "x")


@mutation("param_extra_schema_only")
def _(c):
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, spec in c.props(name).items():
            if p not in params:
                calls = c.copy_calls()
                v = spec.get("default", sample_value(spec.get("type")))
                calls[ci][1].append((p, v))
                return render_calls(calls)
    return None


@mutation("param_extra_unknown")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci][1].append(("verbose", True))
    return render_calls(calls)


@mutation("param_renamed")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: True)
    if hit is None:
        return None
    return c.with_arg(hit, new_key=c.oracle[hit[0]][1][hit[1]][0] + "_value")


@mutation("param_all_positional")
def _(c):
    calls = [(n, [(None, v) for _, v in a]) for n, a in c.oracle]
    if not any(a for _, a in calls):
        return None
    return render_calls(calls)


@mutation("param_first_positional")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: True)
    if hit is None:
        return None
    calls = c.copy_calls()
    ci, ai = hit[0], hit[1]
    k, v = calls[ci][1].pop(ai)
    calls[ci][1].insert(0, (None, v))
    return render_calls(calls)


@mutation("param_star_args_positional")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci][1].insert(0, (None, Raw("*[1, 2]")))
    return render_calls(calls)


@mutation("param_reversed_order")
def _(c):
    calls = [(n, list(reversed(a))) for n, a in c.oracle]
    if all(len(a) < 2 for _, a in calls):
        return None
    return render_calls(calls)


@mutation("param_duplicate_keyword_last_wrong")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_int(v))
    if hit is None:
        return None
    calls = c.copy_calls()
    ci, ai = hit[0], hit[1]
    k, v = calls[ci][1][ai]
    calls[ci][1].append((k, v + 1))
    return render_calls(calls)


@mutation("param_duplicate_keyword_last_right")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_int(v))
    if hit is None:
        return None
    calls = c.copy_calls()
    ci, ai = hit[0], hit[1]
    k, v = calls[ci][1][ai]
    calls[ci][1][ai] = (k, v + 1)
    calls[ci][1].append((k, v))
    return render_calls(calls)


@mutation("param_kwargs_splat")
def _(c):
    ci = c.call_order()[0]
    name, args = c.oracle[ci]
    if not args:
        return None
    calls = c.copy_calls()
    calls[ci] = (name, [(None, Raw("**" + render({k: v for k, v in args})))])
    return render_calls(calls)


@mutation("param_reserved_word_keyword")
def _(c):
    calls = c.copy_calls()
    ci = c.call_order()[0]
    calls[ci][1].append(("from", "x"))
    return render_calls(calls)


@mutation("param_no_arguments")
def _(c):
    return render_calls([(n, []) for n, _ in c.oracle])


# --- scalar types
@mutation("type_int_as_float")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, float(hit[3]))


@mutation("type_float_as_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v) and v == int(v))
    return None if hit is None else c.with_arg(hit, int(hit[3]))


@mutation("type_float_truncated_to_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v) and v != int(v))
    return None if hit is None else c.with_arg(hit, int(hit[3]))


@mutation("type_float_scientific")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v))
    return None if hit is None else c.with_arg(hit, Raw("%.6e" % hit[3]))


@mutation("type_int_scientific")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v) and v > 0)
    return None if hit is None else c.with_arg(hit, Raw("%de0" % hit[3]))


@mutation("type_bool_as_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "boolean" and isinstance(v, bool))
    return None if hit is None else c.with_arg(hit, int(hit[3]))


@mutation("type_int_as_bool")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and v in (0, 1) and is_int(v))
    if hit is None:
        hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, bool(hit[3]))


@mutation("type_bool_as_string")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "boolean" and isinstance(v, bool))
    return None if hit is None else c.with_arg(hit, str(hit[3]))


@mutation("type_int_as_string")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, str(hit[3]))


@mutation("type_float_as_string")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v))
    return None if hit is None else c.with_arg(hit, repr(hit[3]))


@mutation("type_string_as_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v))
    return None if hit is None else c.with_arg(hit, 7)


@mutation("type_hex_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v) and v >= 0)
    return None if hit is None else c.with_arg(hit, Raw(hex(hit[3])))


@mutation("type_int_digit_separator")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v) and v >= 1000)
    return None if hit is None else c.with_arg(hit, Raw("{:_}".format(hit[3])))


@mutation("val_none")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: True)
    return None if hit is None else c.with_arg(hit, None)


@mutation("val_int_off_by_one")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, hit[3] + 1)


@mutation("val_float_perturbed")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v))
    return None if hit is None else c.with_arg(hit, hit[3] + 1e-9)


@mutation("val_bool_flipped")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "boolean" and isinstance(v, bool))
    return None if hit is None else c.with_arg(hit, not hit[3])


# --- expression forms the decoder evaluates or rejects
@mutation("expr_unary_plus")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t in ("integer", "float") and (is_int(v) or is_float(v)) and v != 0)
    return None if hit is None else c.with_arg(hit, Raw("+" + render(abs(hit[3]))))


@mutation("expr_unary_plus_on_negative_truth")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: (is_int(v) or is_float(v)) and v < 0)
    return None if hit is None else c.with_arg(hit, Raw("+" + render(-hit[3])))


@mutation("expr_double_negation")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_int(v) or is_float(v))
    return None if hit is None else c.with_arg(hit, Raw("--" + render(abs(hit[3]))))


@mutation("expr_negated_parenthesised")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: (is_int(v) or is_float(v)) and v < 0)
    return None if hit is None else c.with_arg(hit, Raw("-(" + render(-hit[3]) + ")"))


@mutation("expr_not_true")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "boolean" and isinstance(v, bool))
    return None if hit is None else c.with_arg(hit, Raw("not " + render(not hit[3])))


@mutation("expr_int_addition")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, Raw("%d + 1" % (hit[3] - 1)))


@mutation("expr_float_halved")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v))
    return None if hit is None else c.with_arg(hit, Raw(repr(hit[3] * 2) + " / 2"))


@mutation("expr_int_division")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, Raw("%d / 2" % (hit[3] * 2)))


@mutation("expr_bool_plus_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, Raw("True + %d" % (hit[3] - 1)))


@mutation("expr_string_concat_plus")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and len(v) >= 2)
    if hit is None:
        return None
    v = hit[3]
    return c.with_arg(hit, Raw(render(v[:1]) + " + " + render(v[1:])))


@mutation("expr_string_concat_implicit")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and len(v) >= 2)
    if hit is None:
        return None
    v = hit[3]
    return c.with_arg(hit, Raw(render(v[:1]) + " " + render(v[1:])))


@mutation("expr_bare_identifier")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and re.fullmatch(r"[A-Za-z_]\w*", v))
    if hit is None:
        return None
    return c.with_arg(hit, Raw(hit[3]))


@mutation("expr_identifier_underscored")
def _(c):
    # "New York" -> New_York: a variable name that normalises to the same string
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and re.fullmatch(r"[A-Za-z][A-Za-z0-9 ]*", v) and " " in v)
    if hit is None:
        return None
    return c.with_arg(hit, Raw(hit[3].replace(" ", "_")))


@mutation("expr_identifier_for_int")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "integer" and is_int(v))
    return None if hit is None else c.with_arg(hit, Raw("num_value"))


@mutation("expr_subscript")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_str(v) and re.fullmatch(r"\w+\['\w+'\]", v))
    if hit is None:
        hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v))
        if hit is None:
            return None
        return c.with_arg(hit, Raw("data['value']"))
    return c.with_arg(hit, Raw(hit[3]))


@mutation("expr_ellipsis")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string")
    return None if hit is None else c.with_arg(hit, Raw("..."))


@mutation("expr_nested_call_positional")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_int(v) or is_str(v))
    if hit is None:
        return None
    fn = "int" if is_int(hit[3]) else "str"
    return c.with_arg(hit, Raw(fn + "(" + render(hit[3]) + ")"))


@mutation("expr_nested_call_keyword")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: True)
    return None if hit is None else c.with_arg(hit, Raw("compute(x=" + render(hit[3]) + ")"))


@mutation("expr_attribute")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "float")
    if hit is None:
        hit = c.find_arg(lambda k, v, t, p: True)
    return None if hit is None else c.with_arg(hit, Raw("math.pi"))


@mutation("expr_negated_name")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_int(v) or is_float(v))
    return None if hit is None else c.with_arg(hit, Raw("-x"))


@mutation("expr_fstring")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v))
    return None if hit is None else c.with_arg(hit, Raw("f" + render(hit[3])))


@mutation("expr_set_literal")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t in ("array", "tuple") and isinstance(v, list) and v)
    if hit is None:
        return None
    return c.with_arg(hit, Raw("{" + ", ".join(render(x) for x in hit[3]) + "}"))


@mutation("expr_comparison")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "boolean")
    if hit is None:
        hit = c.find_arg(lambda k, v, t, p: True)
    return None if hit is None else c.with_arg(hit, Raw("1 < 2"))


@mutation("expr_lambda")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_str(v) and "x" in v and ("**" in v or "(" in v))
    if hit is None:
        return None
    body = hit[3]
    if body.startswith("lambda"):
        return c.with_arg(hit, Raw(body))
    return c.with_arg(hit, Raw("lambda x: " + body.replace("3x", "3*x").replace("2x", "2*x")))


@mutation("expr_bytes")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and v.isascii())
    return None if hit is None else c.with_arg(hit, Raw("b" + render(hit[3])))


@mutation("expr_list_repeat")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t in ("array", "tuple") and isinstance(v, list) and v and not isinstance(v[0], dict))
    if hit is None:
        return None
    return c.with_arg(hit, Raw(render(hit[3][:1]) + " * " + str(len(hit[3]))))


@mutation("expr_starred_list")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: t in ("array", "tuple") and isinstance(v, list))
    return None if hit is None else c.with_arg(hit, Raw("[*values]"))


# --- string normalisation
def str_hit(c, pred=lambda v: True):
    return c.find_arg(lambda k, v, t, p: t == "string" and is_str(v) and v != "" and pred(v))


@mutation("str_upper")
def _(c):
    hit = str_hit(c, lambda v: v.upper() != v)
    return None if hit is None else c.with_arg(hit, hit[3].upper())


@mutation("str_lower")
def _(c):
    hit = str_hit(c, lambda v: v.lower() != v)
    return None if hit is None else c.with_arg(hit, hit[3].lower())


@mutation("str_spaces_removed")
def _(c):
    hit = str_hit(c, lambda v: " " in v)
    return None if hit is None else c.with_arg(hit, hit[3].replace(" ", ""))


@mutation("str_punctuation_added")
def _(c):
    hit = str_hit(c)
    if hit is None:
        return None
    v = hit[3].replace(" ", "-")
    return c.with_arg(hit, "_" + v[:1] + "." + v[1:] + "/*^,")


@mutation("str_underscores_for_spaces")
def _(c):
    hit = str_hit(c, lambda v: " " in v)
    return None if hit is None else c.with_arg(hit, hit[3].replace(" ", "_"))


@mutation("str_colon_added")
def _(c):
    hit = str_hit(c)
    return None if hit is None else c.with_arg(hit, hit[3] + ":")


@mutation("str_exclamation_added")
def _(c):
    hit = str_hit(c)
    return None if hit is None else c.with_arg(hit, hit[3] + "!")


@mutation("str_parentheses_added")
def _(c):
    hit = str_hit(c)
    return None if hit is None else c.with_arg(hit, "(" + hit[3] + ")")


@mutation("str_power_as_caret")
def _(c):
    hit = str_hit(c, lambda v: "**" in v)
    return None if hit is None else c.with_arg(hit, hit[3].replace("**", "^"))


@mutation("str_power_spaced")
def _(c):
    hit = str_hit(c, lambda v: "**" in v)
    return None if hit is None else c.with_arg(hit, hit[3].replace("**", " * * "))


@mutation("str_first_word_only")
def _(c):
    hit = str_hit(c, lambda v: " " in v.strip())
    return None if hit is None else c.with_arg(hit, hit[3].split()[0])


@mutation("str_suffix_dropped")
def _(c):
    # "San Diego, CA" -> "San Diego" style: drop everything after the first comma, or one char
    hit = str_hit(c, lambda v: "," in v)
    if hit is not None:
        return c.with_arg(hit, hit[3].split(",")[0])
    hit = str_hit(c, lambda v: len(v) > 1)
    return None if hit is None else c.with_arg(hit, hit[3][:-1])


@mutation("str_last_allowed_value")
def _(c):
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            real = [x for x in choices if x != ""]
            if len(real) > 1 and is_str(real[-1]) and p in c.props(name):
                calls = c.copy_calls()
                calls[ci][1][:] = [(k, v) for k, v in calls[ci][1] if k != p] + [(p, real[-1])]
                return render_calls(calls)
    return None


@mutation("str_quotes_swapped")
def _(c):
    hit = c.find_arg(lambda k, v, t, p: is_str(v) and ("'" in v or '"' in v))
    if hit is None:
        hit = str_hit(c)
        if hit is None:
            return None
        return c.with_arg(hit, hit[3] + "'s")
    v = hit[3]
    return c.with_arg(hit, v.replace("'", "\0").replace('"', "'").replace("\0", '"'))


@mutation("str_single_quoted_literal")
def _(c):
    hit = str_hit(c, lambda v: "'" not in v and "\\" not in v)
    return None if hit is None else c.with_arg(hit, Raw("'" + hit[3] + "'"))


@mutation("str_triple_quoted_literal")
def _(c):
    hit = str_hit(c, lambda v: '"' not in v and "\\" not in v)
    return None if hit is None else c.with_arg(hit, Raw('"""' + hit[3] + '"""'))


@mutation("str_unicode_escape")
def _(c):
    hit = str_hit(c, lambda v: v[:1].isascii())
    if hit is None:
        return None
    v = hit[3]
    return c.with_arg(hit, Raw('"\\u%04x' % ord(v[0]) + json.dumps(v[1:])[1:]))


@mutation("str_leading_trailing_space")
def _(c):
    hit = str_hit(c)
    return None if hit is None else c.with_arg(hit, "  " + hit[3] + " ")


@mutation("str_tab_inside")
def _(c):
    hit = str_hit(c, lambda v: " " in v)
    return None if hit is None else c.with_arg(hit, hit[3].replace(" ", "\t", 1))


@mutation("str_punctuation_only_for_optional")
def _(c):
    # a string made only of removed characters normalises to "", which matches an allowed ""
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            if "" in choices and c.props(name).get(p, {}).get("type") == "string":
                calls = c.copy_calls()
                calls[ci][1][:] = [(k, v) for k, v in calls[ci][1] if k != p] + [(p, " - ")]
                return render_calls(calls)
    return None


@mutation("expr_ellipsis_for_optional")
def _(c):
    for ci in c.call_order():
        name, params = c.gt[ci]
        for p, choices in params.items():
            if "" in choices and c.props(name).get(p, {}).get("type") == "string":
                calls = c.copy_calls()
                calls[ci][1][:] = [(k, v) for k, v in calls[ci][1] if k != p] + [(p, Raw("..."))]
                return render_calls(calls)
    return None


@mutation("expr_float_inexact_sum")
def _(c):
    # a sum whose IEEE result differs from the truth in the last bit: floats compare exactly
    def split(v):
        for d in (0.1, 0.2, 0.3, 0.7, 0.01):
            a = float(repr(v - d))
            if a + d != v:
                return Raw(repr(a) + " + " + repr(d))
        return None
    hit = c.find_arg(lambda k, v, t, p: t == "float" and is_float(v) and split(v) is not None)
    return None if hit is None else c.with_arg(hit, split(hit[3]))


# --- "variables": ground-truth values whose Python type differs from the schema type
# (they are compared by exact membership, without string normalisation)
PY_TYPE = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list,
           "tuple": list, "dict": dict, "any": str}


def var_hit(c):
    return c.find_arg(lambda k, v, t, p: t in PY_TYPE and v != "" and type(v) is not PY_TYPE[t])


@mutation("var_as_expression")
def _(c):
    hit = var_hit(c)
    return None if hit is None or not is_str(hit[3]) else c.with_arg(hit, Raw(hit[3]))


@mutation("var_as_expression_double_quoted")
def _(c):
    # data["sales"] decodes through ast.unparse, which re-quotes it as data['sales']
    hit = var_hit(c)
    if hit is None or not is_str(hit[3]) or "'" not in hit[3]:
        return None
    return c.with_arg(hit, Raw(hit[3].replace("'", '"')))


@mutation("var_quotes_swapped")
def _(c):
    hit = var_hit(c)
    if hit is None or not is_str(hit[3]):
        return None
    v = hit[3]
    return c.with_arg(hit, v.replace("'", "\0").replace('"', "'").replace("\0", '"'))


@mutation("var_case_changed")
def _(c):
    hit = var_hit(c)
    return None if hit is None or not is_str(hit[3]) else c.with_arg(hit, hit[3].upper())


@mutation("var_spaces_added")
def _(c):
    hit = var_hit(c)
    return None if hit is None or not is_str(hit[3]) else c.with_arg(hit, hit[3].replace("[", " [ "))


@mutation("var_wrapped_in_list")
def _(c):
    hit = var_hit(c)
    return None if hit is None else c.with_arg(hit, [hit[3]])


# --- lists and tuples
def list_hit(c, pred=lambda v: True):
    return c.find_arg(lambda k, v, t, p: t in ("array", "tuple") and isinstance(v, list) and pred(v))


@mutation("list_reversed")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 2 and v != v[::-1])
    return None if hit is None else c.with_arg(hit, hit[3][::-1])


@mutation("list_truncated")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, hit[3][:-1])


@mutation("list_extended")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, hit[3] + hit[3][-1:])


@mutation("list_as_tuple")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, tuple(hit[3]))


@mutation("list_scalar_instead")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, hit[3][0])


@mutation("list_ints_for_floats")
def _(c):
    hit = list_hit(c, lambda v: v and all(is_float(x) for x in v))
    if hit is None:
        return None
    return c.with_arg(hit, [int(x) if x == int(x) else x for x in hit[3]])


@mutation("list_floats_for_ints")
def _(c):
    hit = list_hit(c, lambda v: v and all(is_int(x) for x in v))
    return None if hit is None else c.with_arg(hit, [float(x) for x in hit[3]])


@mutation("list_strings_case_changed")
def _(c):
    hit = list_hit(c, lambda v: v and all(is_str(x) for x in v))
    return None if hit is None else c.with_arg(hit, [x.upper().replace(" ", "-") for x in hit[3]])


@mutation("list_string_element_wrong")
def _(c):
    hit = list_hit(c, lambda v: v and all(is_str(x) for x in v))
    return None if hit is None else c.with_arg(hit, hit[3][:-1] + [hit[3][-1] + "!"])


@mutation("list_nested_tuple_elements")
def _(c):
    hit = list_hit(c, lambda v: len(v) >= 2 and all(is_int(x) or is_float(x) for x in v))
    if hit is None:
        return None
    return c.with_arg(hit, Raw("[" + render(tuple(hit[3])) + "]"))


@mutation("list_empty")
def _(c):
    hit = list_hit(c)
    return None if hit is None else c.with_arg(hit, [])


# --- dicts
def dict_hit(c, pred=lambda v: True):
    return c.find_arg(lambda k, v, t, p: t == "dict" and isinstance(v, dict) and pred(v))


@mutation("dict_key_dropped")
def _(c):
    hit = dict_hit(c, lambda v: len(v) >= 1)
    if hit is None:
        return None
    d = dict(hit[3])
    d.pop(next(iter(d)))
    return c.with_arg(hit, d)


@mutation("dict_key_added")
def _(c):
    hit = dict_hit(c)
    if hit is None:
        return None
    d = dict(hit[3])
    d["extra"] = 1
    return c.with_arg(hit, d)


@mutation("dict_value_changed")
def _(c):
    hit = dict_hit(c, lambda v: any(is_int(x) for x in v.values()))
    if hit is None:
        return None
    d = dict(hit[3])
    k = next(k for k, x in d.items() if is_int(x))
    d[k] = d[k] + 1
    return c.with_arg(hit, d)


@mutation("dict_value_as_float")
def _(c):
    hit = dict_hit(c, lambda v: any(is_int(x) for x in v.values()))
    if hit is None:
        return None
    d = {k: (float(x) if is_int(x) else x) for k, x in hit[3].items()}
    return c.with_arg(hit, d)


@mutation("dict_value_as_string")
def _(c):
    hit = dict_hit(c, lambda v: any(is_int(x) for x in v.values()))
    if hit is None:
        return None
    d = {k: (str(x) if is_int(x) else x) for k, x in hit[3].items()}
    return c.with_arg(hit, d)


@mutation("dict_keys_reordered")
def _(c):
    hit = dict_hit(c, lambda v: len(v) >= 2)
    return None if hit is None else c.with_arg(hit, dict(reversed(list(hit[3].items()))))


@mutation("dict_key_case_changed")
def _(c):
    hit = dict_hit(c, lambda v: any(k.upper() != k for k in v))
    if hit is None:
        return None
    return c.with_arg(hit, {k.upper(): x for k, x in hit[3].items()})


@mutation("dict_as_list_of_pairs")
def _(c):
    hit = dict_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, [[k, x] for k, x in hit[3].items()])


@mutation("dict_splat_inside")
def _(c):
    hit = dict_hit(c, lambda v: len(v) >= 1)
    return None if hit is None else c.with_arg(hit, Raw("{**base}"))


# --- call counts and order
@mutation("call_duplicated")
def _(c):
    ci = c.call_order()[0]
    calls = c.copy_calls()
    calls.insert(ci + 1, calls[ci])
    return render_calls(calls)


@mutation("call_dropped")
def _(c):
    if len(c.oracle) < 2:
        return None
    calls = c.copy_calls()
    del calls[c.call_order()[0]]
    return render_calls(calls)


@mutation("call_reversed_order")
def _(c):
    if len(c.oracle) < 2:
        return None
    return render_calls(c.copy_calls()[::-1])


@mutation("call_rotated_order")
def _(c):
    if len(c.oracle) < 3:
        return None
    calls = c.copy_calls()
    return render_calls(calls[1:] + calls[:1])


@mutation("call_replaced_by_copy")
def _(c):
    if len(c.oracle) < 2:
        return None
    calls = c.copy_calls()
    order = c.call_order()
    calls[order[1]] = calls[order[0]]
    return render_calls(calls)


@mutation("call_extra_other_function")
def _(c):
    used = {n for n, _ in c.oracle}
    other = next((f for f in c.func_list if f["name"] not in used), None)
    if other is None:
        return None
    args = [(p, sample_value(other["parameters"]["properties"][p].get("type")))
            for p in other["parameters"].get("required", []) if p in other["parameters"]["properties"]]
    return render_calls(c.copy_calls() + [(other["name"], args)])


@mutation("call_single_for_parallel")
def _(c):
    if len(c.oracle) < 2:
        return None
    return render_calls(c.copy_calls()[c.call_order()[0]:][:1])


@mutation("call_nested_in_argument")
def _(c):
    if len(c.oracle) < 2:
        return None
    calls = c.copy_calls()
    inner = calls.pop(1)
    name, args = calls[0]
    calls[0] = (name, args + [("then", Raw(render_call(inner)))])
    return render_calls(calls)


# ---------------------------------------------------------------- irrelevance replies

def irr_call_for(q, mode):
    f = q["function"][0]
    props = f["parameters"]["properties"]
    req = [p for p in f["parameters"].get("required", []) if p in props]
    if mode == "noargs":
        return (f["name"], [])
    args = [(p, sample_value(props[p].get("type"))) for p in req]
    return (f["name"], args)


IRR = {
    "irr_prose": lambda q: "I'm sorry, none of the available functions can answer that question.",
    "irr_empty_list": lambda q: "[]",
    "irr_empty_string": lambda q: "",
    "irr_whitespace_only": lambda q: " \n ",
    "irr_junk": lambda q: "[[[ ((( }}} nonsense",
    "irr_none_literal": lambda q: "None",
    "irr_bare_word": lambda q: "Sorry",
    "irr_string_literal": lambda q: '"No suitable function."',
    "irr_number": lambda q: "42",
    "irr_empty_call_list_nested": lambda q: "[[]]",
    "irr_json_call": lambda q: json.dumps([{"name": q["function"][0]["name"], "arguments": {}}]),
    "irr_real_call": lambda q: render_calls([irr_call_for(q, "required")]),
    "irr_real_call_no_brackets": lambda q: render_call(irr_call_for(q, "required")),
    "irr_call_no_args": lambda q: render_calls([irr_call_for(q, "noargs")]),
    "irr_unknown_function_call": lambda q: "[lookup_answer(query=\"anything\")]",
    "irr_call_in_fence_python": lambda q: "```python\n" + render_calls([irr_call_for(q, "required")]) + "\n```",
    "irr_call_in_fence_plain": lambda q: "```\n" + render_calls([irr_call_for(q, "required")]) + "\n```",
    "irr_call_in_tool_tokens": lambda q: "<|tool_call_start|>" + render_calls([irr_call_for(q, "required")]) + "<|tool_call_end|>",
    "irr_call_with_prose": lambda q: "Let me try: " + render_calls([irr_call_for(q, "required")]),
    "irr_positional_only_call": lambda q: render_calls([(q["function"][0]["name"], [(None, 1)])]),
    "irr_tuple_of_calls": lambda q: "(" + render_call(irr_call_for(q, "noargs")) + ", " + render_call(irr_call_for(q, "noargs")) + ")",
    "irr_paren_call": lambda q: "(" + render_call(irr_call_for(q, "noargs")) + ")",
}
IRR_ALWAYS = ["irr_prose", "irr_empty_list"]


# ---------------------------------------------------------------- round-robin assignment

def assign(queue, counts, rarity, applicable, k):
    """Pick k applicable names: least used first, then rarest (applicable to the fewest records),
    then queue order. A rare name (applicable to at most RARE records) that is still unused is
    picked even past k. Picked names move to the back of the queue."""
    picked = []
    order = sorted(queue, key=lambda n: (counts[n], rarity.get(n, 0)))
    for name in order:
        rare_unused = counts[name] == 0 and rarity.get(name, RARE + 1) <= RARE
        if len(picked) >= k and not rare_unused:
            continue
        out = applicable(name)
        if out is not None:
            picked.append((name, out))
    for name, _ in picked:
        counts[name] += 1
        queue.remove(name)
        queue.append(name)
    return picked


RARE = 3


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(DATA, "responses.jsonl")
    rows = []
    records = []
    for cat in AST_CATEGORIES:
        qs = read_jsonl(os.path.join(DATA, "BFCL_v4_%s.first25.jsonl" % cat))
        ans = read_jsonl(os.path.join(DATA, "BFCL_v4_%s.first25.possible_answer.jsonl" % cat))
        assert [q["id"] for q in qs] == [a["id"] for a in ans]
        for q, a in zip(qs, ans):
            records.append(Ctx(cat, len(records), q, a))

    def mutate(name, c):
        text = M[name](c)
        return None if text is None or text == oracle_text(c) else text

    rarity = {n: sum(mutate(n, c) is not None for c in records) for n in M}
    queue = list(M)
    counts = {n: 0 for n in M}
    for c in records:
        rows.append({"id": c.id, "category": c.category, "case": "oracle", "result": oracle_text(c)})
        seen = {oracle_text(c)}
        for name, text in assign(queue, counts, rarity, lambda n, c=c: mutate(n, c),
                                 MUTATIONS_PER_AST_RECORD):
            if text in seen:
                continue
            seen.add(text)
            rows.append({"id": c.id, "category": c.category, "case": name, "result": text})

    irr_queue = [n for n in IRR if n not in IRR_ALWAYS]
    irr_counts = {n: 0 for n in irr_queue}
    for q in read_jsonl(os.path.join(DATA, "BFCL_v4_irrelevance.first25.jsonl")):
        for name in IRR_ALWAYS:
            rows.append({"id": q["id"], "category": "irrelevance", "case": name, "result": IRR[name](q)})
        for name, text in assign(irr_queue, irr_counts, {}, lambda n, q=q: IRR[n](q),
                                 MUTATIONS_PER_IRRELEVANCE_RECORD):
            rows.append({"id": q["id"], "category": "irrelevance", "case": name, "result": text})

    with open(out_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    unused = [n for n in M if not any(r["case"] == n for r in rows)]
    print("wrote %d rows to %s" % (len(rows), out_path), file=sys.stderr)
    if unused:
        print("mutations never applicable: " + ", ".join(unused), file=sys.stderr)


if __name__ == "__main__":
    main()
