#!/usr/bin/env python3
"""Turn the Jargon File (Debian package `jargon-text` 4.4.7, public domain) into
`data/corpus/jargon.jsonl`: one JSON object {"title", "text"} per document, where a document
is one glossary entry, one chapter, or one appendix section.

Get the input with:  apt-get download jargon-text && dpkg -x jargon-text_*.deb x &&
                     zcat x/usr/share/doc/jargon-text/jargon.txt.gz > jargon.txt
Usage:               python3 scripts/make_jargon_corpus.py jargon.txt data/corpus/jargon.jsonl
Standard library only.
"""
import json
import re
import sys


def dedent(lines):
    out = [l[3:] if l.startswith("   ") else l for l in lines]
    text = "\n".join(out).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def main(src, dst):
    lines = open(src, encoding="utf-8").read().replace("\u00a0", " ").split("\n")
    heading = re.compile(r"^(Chapter \d+\..*|Appendix [A-C]\..*|[A-Z][A-Za-z ,'‘’-]+)$")
    entry = re.compile(r"^   :(.+?):")
    # Where the glossary index (titles only) starts and the entries start/end.
    glossary_index = lines.index("Glossary")
    first_entry = next(i for i, l in enumerate(lines) if entry.match(l))
    appendix_a = next(i for i, l in enumerate(lines) if l.startswith("Appendix A."))
    bibliography = next(i for i, l in enumerate(lines) if l == "Bibliography")

    docs = []

    def sections(lo, hi):
        cur, title = [], None
        for l in lines[lo:hi]:
            if heading.match(l) and not l.startswith(" "):
                if title is not None and cur:
                    docs.append((title, [title, ""] + cur))
                title, cur = l, []
            else:
                cur.append(l)
        if title is not None and cur:
            docs.append((title, [title, ""] + cur))

    chapter_1 = next(i for i, l in enumerate(lines) if l.startswith("Chapter 1."))
    sections(chapter_1, glossary_index)
    cur, title = [], None
    for l in lines[first_entry:appendix_a]:
        m = entry.match(l)
        if m:
            if title is not None:
                docs.append((title, cur))
            title, cur = m.group(1), [l]
        else:
            cur.append(l)
    if title is not None:
        docs.append((title, cur))
    sections(appendix_a, bibliography)

    n = 0
    with open(dst, "w", encoding="utf-8") as f:
        for title, body in docs:
            text = dedent(body)
            if len(text) < 20:
                continue
            f.write(json.dumps({"title": title, "text": text}, ensure_ascii=False) + "\n")
            n += 1
    print(f"wrote {n} documents to {dst}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
