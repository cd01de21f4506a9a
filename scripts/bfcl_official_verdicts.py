#!/usr/bin/env python3
"""Score `evals/bfcl/responses.jsonl` with the OFFICIAL bfcl-eval code -> `official_verdicts.jsonl`.

This is the reference side of a differential test: the Rust BFCL checker must reproduce every
row of `evals/bfcl/official_verdicts.jsonl`. It is not part of the build and needs bfcl-eval,
which the rest of the repository does not.

Package: bfcl-eval==2026.3.23 (PyPI wheel bfcl_eval-2026.3.23-py3-none-any.whl, sha256
3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a), Python 3.11.7. Set-up used
(the full dependency tree pulls in sentence-transformers/torch, which scoring does not need):

  python3 -m venv /work/venv-bfcl
  /work/venv-bfcl/bin/pip install --no-deps bfcl-eval==2026.3.23
  /work/venv-bfcl/bin/pip install anthropic openai mistralai==1.7.0 cohere==5.18.0 google-genai \\
      writer-sdk boto3 overrides "tenacity>=8.5.0" filelock==3.20.0 python-dotenv tqdm requests \\
      tree_sitter==0.21.3 tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 "pydantic>=2.8.2" \\
      qwen-agent typer tabulate numpy==1.26.4 pandas soundfile datamodel_code_generator
  (these are only what `import bfcl_eval.eval_checker.eval_runner` needs at import time)

Command line used to produce the committed file:

  /work/venv-bfcl/bin/python scripts/bfcl_official_verdicts.py

What is called, per row (all official code, nothing re-implemented here):
  * The handler is `bfcl_eval.eval_checker.eval_runner.get_handler("Qwen/Qwen3-0.6B")`, a
    prompting-mode (non-FC) model whose QwenHandler does not override decode_ast, so its
    `decode_ast(result, ReturnFormat.PYTHON, has_tool_call_tag=False)` is OSSHandler.decode_ast =
    `bfcl_eval.model_handler.utils.default_decode_ast_prompting(result, language, has_tool_call_tag)`,
    the decoder of every local model without a special handler. The model name passed to the
    checker is "Qwen_Qwen3-0.6B" (the runner's result-folder spelling); its underscore_to_dot is
    False, so dotted function names are compared as written.
  * AST categories: `eval_runner._evaluate_single_ast_entry(handler, id, result, ground_truth,
    prompt_entry, model_name, category, language=Language.PYTHON, return_format=ReturnFormat.PYTHON,
    has_tool_call_tag=False)`, which decodes, checks the decoded format
    (`utils.is_function_calling_format_output`) and calls
    `ast_checker(func_description, model_output, possible_answer, language, test_category, model_name)`.
    Decode exceptions give error_type "ast_decoder:decoder_failed"; a decoded value in the wrong
    shape gives "ast_decoder:decoder_wrong_output_format".
  * irrelevance: `eval_runner._evaluate_single_relevance_entry(handler, id, result, prompt_entry,
    model_name, category)`: valid iff decoding fails or `utils.is_empty_output(decoded)`;
    otherwise error_type "irrelevance_error:decoder_success".
  The prompt entries are the question records as the runner loads them
  (include_language_specific_hint=False, i.e. the function docs unchanged).

Output rows: {"id", "category", "case", "valid", "error_type" (null when valid), "decoded"}.
"decoded" is `handler.decode_ast(result)` as JSON, or null when decoding raised. JSON cannot hold
every Python value the decoder can produce, so: tuples become lists, a dict key that is not a
string becomes its JSON spelling (None -> "null"), and a value with no JSON form (bytes, complex,
inf/nan) becomes {"$py": repr(value)}. The verdict itself is computed on the real Python values.

  /work/venv-bfcl/bin/python scripts/bfcl_official_verdicts.py [RESPONSES] [OUT]
"""
import json
import math
import os
import sys
from collections import Counter

from bfcl_eval.constants.enums import Language, ReturnFormat
from bfcl_eval.eval_checker.eval_runner import (
    _evaluate_single_ast_entry,
    _evaluate_single_relevance_entry,
    get_handler,
)
from bfcl_eval.model_handler.local_inference.base_oss_handler import OSSHandler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "evals", "bfcl")
AST_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]
RELEVANCE_CATEGORIES = ["irrelevance"]
REGISTRY_NAME = "Qwen/Qwen3-0.6B"
MODEL_NAME = REGISTRY_NAME.replace("/", "_")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def json_key(k):
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, (bool, int, float)):
        return json.dumps(k)
    return repr(k)


def to_json(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$py": repr(v)}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {json_key(k): to_json(x) for k, x in v.items()}
    return {"$py": repr(v)}


def main():
    responses = sys.argv[1] if len(sys.argv) > 1 else os.path.join(DATA, "responses.jsonl")
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(DATA, "official_verdicts.jsonl")

    prompts, answers = {}, {}
    for cat in AST_CATEGORIES + RELEVANCE_CATEGORIES:
        for q in read_jsonl(os.path.join(DATA, "BFCL_v4_%s.first25.jsonl" % cat)):
            prompts[q["id"]] = q
        if cat in AST_CATEGORIES:
            for a in read_jsonl(os.path.join(DATA, "BFCL_v4_%s.first25.possible_answer.jsonl" % cat)):
                answers[a["id"]] = a["ground_truth"]

    handler = get_handler(REGISTRY_NAME)
    # the default prompting decoder, not a model-specific one
    assert type(handler).decode_ast is OSSHandler.decode_ast, type(handler)
    rows = []
    tally = Counter()
    for r in read_jsonl(responses):
        rid, cat, text = r["id"], r["category"], r["result"]
        try:
            decoded = to_json(handler.decode_ast(text, ReturnFormat.PYTHON, False))
        except Exception:
            decoded = None
        if cat in AST_CATEGORIES:
            verdict = _evaluate_single_ast_entry(
                handler, rid, text, answers[rid], prompts[rid], MODEL_NAME, cat,
                language=Language.PYTHON, return_format=ReturnFormat.PYTHON,
                has_tool_call_tag=False,
            )
        elif cat in RELEVANCE_CATEGORIES:
            verdict = _evaluate_single_relevance_entry(handler, rid, text, prompts[rid], MODEL_NAME, cat)
        else:
            raise ValueError("unknown category " + cat)
        valid = bool(verdict["valid"])
        error_type = None if valid else verdict["error_type"]
        if error_type == "ast_decoder:decoder_failed":
            assert decoded is None, (rid, r["case"])
        rows.append({"id": rid, "category": cat, "case": r["case"], "valid": valid,
                     "error_type": error_type, "decoded": decoded})
        tally[(cat, valid)] += 1

    with open(out_path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
    print("wrote %d rows to %s" % (len(rows), out_path), file=sys.stderr)
    for cat in AST_CATEGORIES + RELEVANCE_CATEGORIES:
        print("  %-18s valid %3d  invalid %3d" % (cat, tally[(cat, True)], tally[(cat, False)]),
              file=sys.stderr)


if __name__ == "__main__":
    main()
