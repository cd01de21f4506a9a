#!/usr/bin/env python3
"""Writes the DPO toy's preference pairs (configs/dpo-toy.toml, issue #20 item 5) into data/dpo/:

  pairs.jsonl      training pairs
  pairs_val.jsonl  held-out pairs: other items, other phrasings; never trained on

A prompt asks for a few items in one of two formats, bullet points or one comma-separated
line. The chosen reply uses the asked format, the rejected one the other, with the same items
in the same order. Each format is the chosen one in half of the pairs, so a model that ignores
the instruction is at chance, and the items are the same on both sides, so what the pair
teaches is the format the instruction names. Seeded; standard library only. Usage:
  python3 scripts/make_dpo_toy_data.py [--out DIR]
"""
import argparse
import json
import os
import random

WORDS = ("apple river stone cloud green paper glass horse candle window forest button silver "
         "orange garden pencil rabbit bottle hammer island ladder mirror pepper rocket saddle "
         "tunnel violin wallet yellow anchor basket carpet desert engine feather guitar helmet "
         "jacket kettle lemon marble needle office parrot quilt ribbon spoon tiger umbrella "
         "valley walnut zebra bridge castle dragon fabric gravel harbor insect jungle koala "
         "lantern meadow noodle oyster pillow rubber salmon tomato velvet wagon yogurt").split()
BULLET_ASKS = ["List these as bullet points: {items}", "Give me bullet points for: {items}",
               "Bullet list, please: {items}", "Write {items} as a bulleted list.",
               "Put these in a bullet list: {items}"]
COMMA_ASKS = ["Write these on one line, separated by commas: {items}", "Comma-separated, please: {items}",
              "Give me {items} as one comma-separated line.", "One line with commas: {items}",
              "Join these with commas: {items}"]
# The last phrasing of each format is held out, with the last 20 words.
HELD_WORDS = 20


def pair(rng, words, bullet_asks, comma_asks):
    items = rng.sample(words, rng.randint(2, 4))
    shown = " / ".join(items)
    bullets = "\n".join("- " + w for w in items)
    commas = ", ".join(items)
    if rng.random() < 0.5:
        return {"prompt": rng.choice(bullet_asks).format(items=shown), "chosen": bullets, "rejected": commas}
    return {"prompt": rng.choice(comma_asks).format(items=shown), "chosen": commas, "rejected": bullets}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data", "dpo"))
    ap.add_argument("--n-train", type=int, default=1200)
    ap.add_argument("--n-val", type=int, default=200)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(20)
    train_words, held_words = WORDS[:-HELD_WORDS], WORDS[-HELD_WORDS:]
    with open(os.path.join(a.out, "pairs.jsonl"), "w") as f:
        for i in range(a.n_train):
            p = pair(rng, train_words, BULLET_ASKS[:-1], COMMA_ASKS[:-1])
            f.write(json.dumps({"id": f"train-{i}", **p}) + "\n")
    with open(os.path.join(a.out, "pairs_val.jsonl"), "w") as f:
        for i in range(a.n_val):
            p = pair(rng, held_words, BULLET_ASKS[-1:], COMMA_ASKS[-1:])
            f.write(json.dumps({"id": f"val-{i}", **p}) + "\n")
    print(f"wrote {a.n_train} training and {a.n_val} held-out pairs to {a.out}")


if __name__ == "__main__":
    main()
