#!/usr/bin/env python3
"""Score `evals/ifeval/responses.jsonl` with the OFFICIAL IFEval checkers -> `official_verdicts.jsonl`.

This is the reference side of a differential test: the Rust IFEval checkers must reproduce every
row of `evals/ifeval/official_verdicts.jsonl`. It is not part of the build and needs lm-eval,
which the rest of the repository does not.

Set-up used (Python 3.11.7; the full lm-eval dependency tree pulls in torch and transformers,
which scoring does not need, so the package is installed without dependencies and only what
`import lm_eval.tasks.ifeval.utils` needs is added):

  python3 -m venv /work/venv-ifeval
  /work/venv-ifeval/bin/pip install --no-deps lm-eval==0.4.13
  /work/venv-ifeval/bin/pip install nltk==3.10.4 langdetect==1.0.9 immutabledict==4.3.1 \\
      typing_extensions==4.16.0 numpy==2.4.6 requests==2.34.2 PyYAML==6.0.4 Jinja2==3.1.6 \\
      datasets==5.2.0 sacrebleu==2.6.0
  (regex 2026.11.19 comes with nltk; everything after immutabledict is only imported by
  `lm_eval/tasks/__init__.py`, which Python runs before `lm_eval.tasks.ifeval`.)

  A second venv, identical except for nltk==3.9.4, supplies the `alt_nltk` verdicts:
  python3 -m venv /work/venv-ifeval-nltk3.9.4   (same two pip lines, with nltk==3.9.4)

nltk version matters. From nltk 3.10.3 on, every nltk regular expression (RegexpTokenizer(r"\\w+")
for word counts, Punkt, the Treebank word tokenizer) runs on the third-party `regex` engine
instead of Python's `re`. Their \\w and \\s differ: `regex` counts combining marks (Mn/Mc/Me, e.g.
Devanagari vowel signs, U+0301) and U+200C/U+200D as word characters and "No" numbers (², ½, ①) as
non-word characters, and does not treat U+001C..U+001F as whitespace. nltk 3.9.1-3.10.2 use `re`.
The primary verdicts use nltk 3.10.4 (what `pip install lm-eval nltk` gives today); rows whose
verdicts differ under nltk 3.9.4 carry them in `alt_nltk` (nltk 3.9.1, 3.9.4 and 3.10.0 gave
identical verdicts on every row).

Command lines used to produce the committed files:

  python3 scripts/make_ifeval_responses.py
  /work/venv-ifeval/bin/python scripts/ifeval_official_verdicts.py \\
      --alt-python /work/venv-ifeval-nltk3.9.4/bin/python

  /work/venv-ifeval/bin/python scripts/ifeval_official_verdicts.py [RESPONSES] [OUT] [--alt-python PY]

What is called, per row (official code, nothing re-implemented here): the row's prompt record
from `evals/ifeval/input_data.jsonl` (joined by `key`) becomes
`lm_eval.tasks.ifeval.utils.InputExample(key, instruction_id_list, prompt, kwargs)`, and
`lm_eval.tasks.ifeval.utils.test_instruction_following_strict(inp, response)` and
`lm_eval.tasks.ifeval.utils.test_instruction_following_loose(inp, response)` give
`follow_instruction_list` ("strict", "loose") and `follow_all_instructions` ("prompt_strict",
"prompt_loose"). These are the functions behind lm-eval's `process_results` for the `ifeval`
task (prompt_level_*_acc = follow_all_instructions, inst_level_*_acc = follow_instruction_list).

NLTK data: `nltk.data.path` is set to exactly `[evals/ifeval/nltk_data]` BEFORE lm-eval is
imported, so the Punkt parameters come only from the copies in this repository
(`tokenizers/punkt_tab/english/*`); the import-time `nltk.data.find("tokenizers/punkt_tab")` in
`instructions_util` then succeeds and never tries to download. Sentence counting loads
`nltk:tokenizers/punkt/english.pickle`, which nltk >= 3.9 redirects to those punkt_tab files;
`nltk.word_tokenize` (capital-word counting) uses them too.

Determinism. Two sources of randomness exist in the official checkers, and both are fixed here:
  * langdetect (language:response_language, change_case:english_capital,
    change_case:english_lowercase) is randomised and upstream leaves it unseeded. Here
    `langdetect.DetectorFactory.seed = 0`, so every `detect()` call seeds its own
    `random.Random` with 0: the result depends only on the text, not on call order. Rows whose
    verdicts change for ANY langdetect seed in 0..9 are marked `"langdetect_seed_sensitive": true`
    (the verdict fields always use seed 0).
  * keywords:letter_frequency replaces a `letter` kwarg that is not one ASCII letter (keys 1122
    '#' and 1129 '!') by `random.choice(string.ascii_letters)` from the global `random` module.
    The global generator is re-seeded with `random.seed(0)` immediately before every call of
    the strict and the loose function, so both pick the same letter for every row (nothing else
    draws from `random` before it with this data; under CPython 3.11 that letter is 'y'). Rows of such prompts carry
    `"letter_fallback": {"index", "letter_kwarg", "seeded_letter", "literal"}` where `literal`
    holds the strict/loose verdicts obtained with the same official functions when the fallback
    draw is forced to return the literal kwarg character (the checker then counts '#' or '!'),
    i.e. the "obvious intent" reading. The primary verdict fields are the seeded upstream ones.
Running the script twice gives byte-identical output (checked).

Output rows (same order as the responses file):
  {"key", "case", "instruction_id_list", "strict": [bool], "loose": [bool],
   "prompt_strict": bool, "prompt_loose": bool,
   optional "letter_fallback": {...}, optional "langdetect_seed_sensitive": true,
   optional "alt_nltk": {"nltk": "3.9.4", "strict", "loose", "prompt_strict", "prompt_loose"}}
"""
import argparse
import contextlib
import json
import logging
import os
import random
import string
import subprocess
import sys
import tempfile
import types
from importlib.metadata import version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IFEVAL_DIR = os.path.join(ROOT, "evals", "ifeval")
NLTK_DIR = os.path.join(IFEVAL_DIR, "nltk_data")

import nltk  # noqa: E402

nltk.data.path[:] = [NLTK_DIR]

import langdetect  # noqa: E402

from lm_eval.tasks.ifeval import instructions, instructions_registry  # noqa: E402
from lm_eval.tasks.ifeval.utils import (  # noqa: E402
    InputExample,
    test_instruction_following_loose,
    test_instruction_following_strict,
)

# Detection failures are logged at ERROR level by the checkers; they are expected here.
logging.getLogger(instructions.__name__).setLevel(logging.CRITICAL)

LANGDETECT_IDS = {"language:response_language", "change_case:english_capital", "change_case:english_lowercase"}
LETTER_ID = "keywords:letter_frequency"


def letter_needs_fallback(letter):
    """Mirror of the condition under which LetterFrequencyChecker draws a random letter."""
    return not letter or len(letter) > 1 or not (97 <= ord(letter.lower()) <= 122)


def score(inp, response):
    random.seed(0)
    strict = test_instruction_following_strict(inp, response)
    random.seed(0)
    loose = test_instruction_following_loose(inp, response)
    return {
        "strict": list(strict.follow_instruction_list),
        "loose": list(loose.follow_instruction_list),
        "prompt_strict": strict.follow_all_instructions,
        "prompt_loose": loose.follow_all_instructions,
    }


@contextlib.contextmanager
def literal_letter(char):
    """Make the fallback draw `random.choice(list(string.ascii_letters))` return `char`."""
    saved = instructions.string
    instructions.string = types.SimpleNamespace(ascii_letters=char)
    try:
        yield
    finally:
        instructions.string = saved


def seeded_letter(instruction_id, kwargs):
    random.seed(0)
    checker = instructions_registry.INSTRUCTION_DICT[instruction_id](instruction_id)
    checker.build_description(**{k: v for k, v in kwargs.items() if v})
    return checker.get_instruction_args()["letter"]


PINNED = {"lm_eval": "0.4.13", "nltk": "3.10.4", "langdetect": "1.0.9"}


def score_file(responses_path):
    with open(os.path.join(IFEVAL_DIR, "input_data.jsonl"), encoding="utf-8") as f:
        prompts = {r["key"]: r for r in map(json.loads, f)}
    assert string.ascii_letters == "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out_rows = []
    with open(responses_path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            p = prompts[row["key"]]
            inp = InputExample(key=p["key"], instruction_id_list=p["instruction_id_list"],
                               prompt=p["prompt"], kwargs=p["kwargs"])
            langdetect.DetectorFactory.seed = 0
            verdict = score(inp, row["response"])
            out = {"key": row["key"], "case": row["case"], "instruction_id_list": p["instruction_id_list"]}
            out.update(verdict)

            for i, (iid, kw) in enumerate(zip(p["instruction_id_list"], p["kwargs"])):
                if iid == LETTER_ID and letter_needs_fallback(kw.get("letter")):
                    with literal_letter(kw["letter"]):
                        literal = score(inp, row["response"])
                    out["letter_fallback"] = {"index": i, "letter_kwarg": kw["letter"],
                                              "seeded_letter": seeded_letter(iid, kw), "literal": literal}

            if LANGDETECT_IDS & set(p["instruction_id_list"]):
                for seed in range(1, 10):
                    langdetect.DetectorFactory.seed = seed
                    if score(inp, row["response"]) != verdict:
                        out["langdetect_seed_sensitive"] = True
                        break
                langdetect.DetectorFactory.seed = 0
            out_rows.append(out)
    return out_rows


VERDICT_KEYS = ("strict", "loose", "prompt_strict", "prompt_loose")


def add_alt_nltk(out_rows, responses_path, alt_python):
    """Score the same file under another venv (another nltk) and attach its differing verdicts."""
    alt_version = subprocess.run([alt_python, "-c", "import nltk; print(nltk.__version__)"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        alt_path = os.path.join(tmp, "alt.jsonl")
        subprocess.run([alt_python, os.path.abspath(__file__), responses_path, alt_path], check=True,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, IFEVAL_ALT_RUN="1"))
        with open(alt_path, encoding="utf-8") as f:
            alt_rows = [json.loads(line) for line in f]
    assert [(r["key"], r["case"]) for r in alt_rows] == [(r["key"], r["case"]) for r in out_rows]
    n = 0
    for out, alt in zip(out_rows, alt_rows):
        if any(out[k] != alt[k] for k in VERDICT_KEYS):
            out["alt_nltk"] = dict({"nltk": alt_version}, **{k: alt[k] for k in VERDICT_KEYS})
            n += 1
    print("nltk %s differs from nltk %s on %d rows" % (alt_version, version("nltk"), n))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("responses", nargs="?", default=os.path.join(IFEVAL_DIR, "responses.jsonl"))
    ap.add_argument("out", nargs="?", default=os.path.join(IFEVAL_DIR, "official_verdicts.jsonl"))
    ap.add_argument("--alt-python", help="python of a second venv (another nltk) whose differing verdicts "
                    "are attached as alt_nltk")
    args = ap.parse_args(argv[1:])
    for name, want in PINNED.items():
        if version(name) != want and not os.environ.get("IFEVAL_ALT_RUN"):
            print("warning: %s %s installed, the committed verdicts used %s" % (name, version(name), want),
                  file=sys.stderr)

    out_rows = score_file(args.responses)
    if args.alt_python:
        add_alt_nltk(out_rows, args.responses, args.alt_python)

    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for out in out_rows:
            f.write(json.dumps(out) + "\n")
    n_inst = sum(len(r["strict"]) for r in out_rows)
    print("wrote %d rows (%d instruction verdicts) to %s" % (len(out_rows), n_inst, args.out))
    print("prompt strict %d, prompt loose %d; inst strict %d, inst loose %d" % (
        sum(r["prompt_strict"] for r in out_rows), sum(r["prompt_loose"] for r in out_rows),
        sum(sum(r["strict"]) for r in out_rows), sum(sum(r["loose"]) for r in out_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
