#!/usr/bin/env python3
"""Re-score an `lfm eval bfcl --model` run with the OFFICIAL bfcl-eval checker and compare its
verdicts with lfm's, row by row.

  /work/venv-bfcl/bin/python scripts/bfcl_official_rescore.py QUESTIONS ANSWERS EVAL_DIR

QUESTIONS / ANSWERS are the BFCL-format files the run scored (e.g. data/grpo/heldout_bfcl.jsonl
and data/grpo/heldout_bfcl_answers.jsonl); EVAL_DIR is the `--out` folder of `lfm eval bfcl`
(its responses.jsonl and per_record.jsonl). The category comes from the id as BFCL names it
(simple_python_N, multiple_N, parallel_N, parallel_multiple_N). Each response is the model's
text with LFM2's tool-call markers (<|tool_call_start|>, <|tool_call_end|>) removed, which leaves
the Python call list that BFCL's prompting decoder reads; the verdict is
`eval_runner._evaluate_single_ast_entry` with the same handler and settings as
scripts/bfcl_official_verdicts.py (set-up of the bfcl-eval environment there). Prints the
official accuracy per category and every row where the two verdicts differ; exits 1 if any do.
"""
import os
import re
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bfcl_official_verdicts import AST_CATEGORIES, MODEL_NAME, REGISTRY_NAME, read_jsonl  # noqa: E402

from bfcl_eval.constants.enums import Language, ReturnFormat  # noqa: E402
from bfcl_eval.eval_checker.eval_runner import _evaluate_single_ast_entry, get_handler  # noqa: E402

MARKERS = ("<|tool_call_start|>", "<|tool_call_end|>")


def category(rid):
    cat = re.sub(r"_\d+$", "", rid)
    if cat not in AST_CATEGORIES:
        raise ValueError("%s: not an AST category id" % rid)
    return cat


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    questions, answers, run = sys.argv[1:]
    prompts = {q["id"]: q for q in read_jsonl(questions)}
    truth = {a["id"]: a["ground_truth"] for a in read_jsonl(answers)}
    ours = {r["id"]: r for r in read_jsonl(os.path.join(run, "per_record.jsonl"))}
    handler = get_handler(REGISTRY_NAME)
    tally, differ = Counter(), []
    for r in read_jsonl(os.path.join(run, "responses.jsonl")):
        rid, text = r["id"], r["result"]
        for m in MARKERS:
            text = text.replace(m, "")
        cat = category(rid)
        v = _evaluate_single_ast_entry(
            handler, rid, text.strip(), truth[rid], prompts[rid], MODEL_NAME, cat,
            language=Language.PYTHON, return_format=ReturnFormat.PYTHON, has_tool_call_tag=False,
        )
        valid = bool(v["valid"])
        tally[(cat, valid)] += 1
        if valid != bool(ours[rid]["valid"]):
            differ.append((rid, valid, ours[rid]["valid"], v.get("error_type"), ours[rid].get("error_type")))
    total = sum(tally.values())
    ok = sum(n for (c, valid), n in tally.items() if valid)
    for cat in AST_CATEGORIES:
        n = tally[(cat, True)] + tally[(cat, False)]
        if n:
            print("%-18s official %3d / %3d valid" % (cat, tally[(cat, True)], n))
    print("all                official %3d / %3d = %.1f%%; verdicts differing from lfm's: %d"
          % (ok, total, 100.0 * ok / max(total, 1), len(differ)))
    for d in differ:
        print("  %s: official %s (%s), lfm %s (%s)" % (d[0], d[1], d[3], d[2], d[4]))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
