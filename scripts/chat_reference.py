#!/usr/bin/env python3
"""Reference chat-template renderings from Hugging Face `transformers`.

This is the reference that the Rust chat-template tests compare against: the
files under `crates/lfm-data/tests/fixtures/chat/expected/` were written by this
script (with transformers 5.25), and the Rust renderer must reproduce their
`text`, `ids` and `assistant_mask` exactly.

For every conversation in the input JSONL file it calls
`tokenizer.apply_chat_template` twice, once for the text and once for the
token ids with the assistant mask (the tokens that `{% generation %}` blocks
cover), and writes one JSON object per line:

    {"id": ..., "text": ..., "ids": [...], "assistant_mask": [0/1, ...]}

Input lines look like `{"id": ..., "messages": [...], "tools": [...]}` (tools
optional). A generation prompt is requested unless the last message is the
assistant's.

Usage:

    chat_reference.py --model DIR --input CONVS.jsonl --out OUT.jsonl \
        [--date 2026-01-15] [--template NAME]

`--date` pins what the template's `strftime_now` sees (that day, 00:00:00), so
templates that print today's date give reproducible output. `--template` is
passed as `apply_chat_template(chat_template=NAME)`: the name of one of the
checkpoint's named templates, or a whole template string.

Needs only the standard library and `transformers` (with `tokenizers` and
`jinja2`; no torch).
"""

import argparse
import datetime as _dt
import json
import sys


def pin_date(day: str) -> None:
    """Make `strftime_now` in chat templates see `day` at midnight.

    transformers' `strftime_now` global calls `datetime.now()` through the
    `datetime` name imported into `transformers.utils.chat_template_utils`, so
    replacing that name with a subclass whose `now()` is fixed is enough.
    """
    import transformers.utils.chat_template_utils as ctu

    fixed = _dt.datetime.strptime(day, "%Y-%m-%d")

    class FixedDateTime(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(fixed.year, fixed.month, fixed.day, 0, 0, 0, tzinfo=tz)

    ctu.datetime = FixedDateTime


def load_tokenizer(model_dir: str):
    """Load the tokenizer (and its chat template) from a checkpoint directory."""
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError):
        # AutoTokenizer can want a config.json to pick the class; a directory
        # with only tokenizer.json + tokenizer_config.json loads directly.
        return transformers.PreTrainedTokenizerFast.from_pretrained(model_dir)


def render(tokenizer, conv: dict, template_name):
    """Render one conversation; returns (text, ids, assistant_mask)."""
    messages = conv["messages"]
    # As given: a missing "tools" is None, an empty list stays an empty list.
    tools = conv.get("tools")
    kwargs = dict(
        tools=tools,
        add_generation_prompt=messages[-1]["role"] != "assistant",
    )
    if template_name is not None:
        kwargs["chat_template"] = template_name

    text = tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)
    enc = tokenizer.apply_chat_template(
        messages,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **kwargs,
    )
    ids = list(enc["input_ids"])
    mask = [int(m) for m in enc["assistant_masks"]]

    # The ids must be exactly the plain encoding of the text (no special
    # tokens added, no sanitizing); otherwise the fixture would be ambiguous.
    plain = tokenizer(text, add_special_tokens=False).input_ids
    if ids != list(plain):
        sys.exit(f"{conv['id']}: apply_chat_template ids differ from tokenizer(text) ids")
    if len(mask) != len(ids):
        sys.exit(f"{conv['id']}: mask length {len(mask)} != {len(ids)} ids")
    return text, ids, mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory with the tokenizer and chat template")
    ap.add_argument("--input", required=True, help="conversations, one JSON object per line")
    ap.add_argument("--out", required=True, help="where to write the renderings (JSONL)")
    ap.add_argument("--date", help="pin strftime_now to this day (YYYY-MM-DD)")
    ap.add_argument("--template", help="chat_template argument: a named template or a template string")
    args = ap.parse_args()

    if args.date:
        pin_date(args.date)
    tokenizer = load_tokenizer(args.model)

    with open(args.input, encoding="utf-8") as f:
        convs = [json.loads(line) for line in f if line.strip()]

    with open(args.out, "w", encoding="utf-8") as out:
        for conv in convs:
            text, ids, mask = render(tokenizer, conv, args.template)
            row = {"id": conv["id"], "text": text, "ids": ids, "assistant_mask": mask}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(convs)} renderings to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
