#!/usr/bin/env python3
"""Rewrite a chat JSONL file from lfm-rs's earlier layout into the OpenAI / HF message shape.

Usage: python3 scripts/convert_chat_jsonl.py IN.jsonl OUT.jsonl   (OUT may equal IN)

The earlier layout wrote an assistant's tool calls as `{"name": ..., "arguments": {...}}`.
lfm-rs now reads, like transformers' chat templates, `{"type": "function", "function":
{"name": ..., "arguments": {...}}}`. Every other key (tools, ids, answers, ...) is copied as it
is; tools may stay plain function schemas (with or without the OpenAI wrapper). Standard
library only. The output is written to a temporary file and renamed, so a failed run leaves
OUT untouched.
"""

import json
import os
import sys
import tempfile


def convert_call(call):
    if isinstance(call, dict) and "function" not in call and "name" in call:
        fn = {"name": call["name"]}
        if "arguments" in call:
            fn["arguments"] = call["arguments"]
        elif "parameters" in call:
            fn["arguments"] = call["parameters"]
        return {"type": "function", "function": fn}
    return call


def convert_line(rec):
    for m in rec.get("messages") or []:
        if isinstance(m, dict) and isinstance(m.get("tool_calls"), list):
            m["tool_calls"] = [convert_call(c) for c in m["tool_calls"]]
    return rec


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    src, dst = sys.argv[1], sys.argv[2]
    out = []
    changed = 0
    with open(src, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{src}:{n}: invalid JSON: {e}")
            before = json.dumps(rec, ensure_ascii=False)
            after = json.dumps(convert_line(rec), ensure_ascii=False)
            changed += before != after
            out.append(after)
    d = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(dst) + ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, dst)
    print(f"{dst}: {len(out)} lines, {changed} converted")


if __name__ == "__main__":
    main()
