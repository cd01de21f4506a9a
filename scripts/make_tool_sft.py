#!/usr/bin/env python3
"""Generate `data/sft/tool_calls.jsonl`: a small, synthetic chat + tool-use SFT set.

Every record is {"tools": [JSON schema, ...], "messages": [...]} in the format lfm-data reads
(see data/README.md). Tools are invented here from typed signatures (no BFCL function, so the
evaluation data is never trained on). Kinds of record, in equal shares:
  single    one user request -> one call -> tool result -> answer
  parallel  one request naming two items -> two calls in one list -> results -> answer
  chat      a request that needs no tool -> a plain answer (with tools on offer)
Deterministic (seeded); standard library only.

  python3 scripts/make_tool_sft.py data/sft/tool_calls.jsonl [N] [SEED]
  python3 scripts/make_tool_sft.py data/sft/tool_calls_val.jsonl 48 7 data/sft/tool_calls.jsonl
      (the held-out set: another seed, records that also occur in the training file skipped)
"""
import json
import random
import sys

CITIES = ["Paris", "Lagos", "Osaka", "Lima", "Oslo", "Cairo", "Denver", "Hanoi", "Perth", "Quito",
          "Dakar", "Porto", "Seoul", "Tunis", "Kyiv", "Austin"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "CHF", "CAD", "INR", "BRL"]
UNITS = [("km", "mi", 0.621371), ("kg", "lb", 2.20462), ("l", "gal", 0.264172), ("m", "ft", 3.28084)]
WORDS = ["apple", "river", "lantern", "orbit", "meadow", "cipher", "harbor", "velvet", "summit", "ember"]

TOOLS = {
    "get_weather": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
            "required": ["city"]},
    },
    "convert_currency": {
        "name": "convert_currency",
        "description": "Convert an amount of money from one currency to another.",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "number", "description": "Amount to convert"},
            "from_currency": {"type": "string", "description": "ISO code of the source currency"},
            "to_currency": {"type": "string", "description": "ISO code of the target currency"}},
            "required": ["amount", "from_currency", "to_currency"]},
    },
    "convert_units": {
        "name": "convert_units",
        "description": "Convert a quantity between units of length, mass or volume.",
        "parameters": {"type": "object", "properties": {
            "value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
            "required": ["value", "from_unit", "to_unit"]},
    },
    "count_letters": {
        "name": "count_letters",
        "description": "Count how many times a letter occurs in a word.",
        "parameters": {"type": "object", "properties": {
            "word": {"type": "string"}, "letter": {"type": "string", "description": "A single letter"}},
            "required": ["word", "letter"]},
    },
    "add_reminder": {
        "name": "add_reminder",
        "description": "Create a reminder at a given time of day.",
        "parameters": {"type": "object", "properties": {
            "text": {"type": "string"}, "hour": {"type": "integer", "description": "0-23"},
            "minute": {"type": "integer", "description": "0-59"}},
            "required": ["text", "hour", "minute"]},
    },
}


def weather(r):
    c = r.choice(CITIES)
    unit = r.choice(["celsius", "fahrenheit"])
    t = r.randint(-5, 35) if unit == "celsius" else r.randint(20, 95)
    sym = "°C" if unit == "celsius" else "°F"
    ask = r.choice([f"What's the weather in {c} in {unit}?", f"How warm is it in {c} right now? Use {unit}.",
                    f"Tell me the current temperature in {c} ({unit})."])
    return (ask, {"name": "get_weather", "arguments": {"city": c, "unit": unit}},
            {"city": c, "temperature": t, "unit": unit, "sky": r.choice(["clear", "cloudy", "rain"])},
            lambda res: f"It is {res['temperature']}{sym} and {res['sky']} in {c}.", c)


def money(r):
    a, b = r.sample(CURRENCIES, 2)
    amt = r.choice([10, 25, 50, 100, 250, 1000])
    rate = round(r.uniform(0.2, 3.0), 4)
    ask = r.choice([f"Convert {amt} {a} to {b}.", f"How much is {amt} {a} in {b}?"])
    return (ask, {"name": "convert_currency", "arguments": {"amount": amt, "from_currency": a, "to_currency": b}},
            {"amount": round(amt * rate, 2), "currency": b},
            lambda res: f"{amt} {a} is {res['amount']} {b}.", f"{amt} {a}")


def units(r):
    u, v, f = r.choice(UNITS)
    x = r.choice([1, 2, 5, 10, 42, 100])
    ask = r.choice([f"How many {v} is {x} {u}?", f"Convert {x} {u} to {v}."])
    return (ask, {"name": "convert_units", "arguments": {"value": x, "from_unit": u, "to_unit": v}},
            {"value": round(x * f, 3), "unit": v},
            lambda res: f"{x} {u} is {res['value']} {v}.", f"{x} {u}")


def letters(r):
    w = r.choice(WORDS)
    l = r.choice(sorted(set(w)))
    ask = f"How many times does the letter '{l}' appear in '{w}'?"
    return (ask, {"name": "count_letters", "arguments": {"word": w, "letter": l}},
            {"count": w.count(l)},
            lambda res: f"The letter '{l}' appears {res['count']} time{'s' if res['count'] != 1 else ''} in '{w}'.", w)


def reminder(r):
    what = r.choice(["call the dentist", "water the plants", "submit the report", "buy bread", "stretch"])
    h, m = r.randint(6, 21), r.choice([0, 15, 30, 45])
    ask = f"Remind me to {what} at {h:02d}:{m:02d}."
    return (ask, {"name": "add_reminder", "arguments": {"text": what, "hour": h, "minute": m}},
            {"ok": True, "id": r.randint(100, 999)},
            lambda res: f"Done: I will remind you to {what} at {h:02d}:{m:02d}.", what)


MAKERS = [weather, money, units, letters, reminder]
CHAT = [
    ("What is a hash table?", "A hash table stores key-value pairs in an array and uses a hash of the key to find the slot, so lookups take constant time on average."),
    ("Give me a synonym for 'quick'.", "Fast."),
    ("What does CPU stand for?", "Central processing unit."),
    ("Say hello in French.", "Bonjour."),
    ("Is 17 a prime number?", "Yes, 17 is prime: it has no divisors other than 1 and itself."),
    ("What is the capital of Japan?", "Tokyo."),
    ("Write a haiku about rain.", "Soft rain on the roof\nthe gutters hum their one note\nthe street turns to glass"),
    ("What is 12 times 12?", "144."),
    ("Name three primary colours.", "Red, yellow and blue."),
    ("Explain recursion in one sentence.", "Recursion is when a function solves a problem by calling itself on smaller instances of the same problem."),
]


def tool_subset(r, names):
    others = [n for n in TOOLS if n not in names]
    pick = list(names) + r.sample(others, r.randint(0, 2))
    r.shuffle(pick)
    return [TOOLS[n] for n in pick]


def openai_call(call):
    """A call in the OpenAI / HF message shape."""
    return {"type": "function", "function": call}


def record(r, kind):
    system = {"role": "system", "content": "You are a helpful assistant with access to tools."}
    if kind == "single":
        ask, call, res, answer, _ = r.choice(MAKERS)(r)
        return {"tools": tool_subset(r, [call["name"]]), "messages": [
            system, {"role": "user", "content": ask},
            {"role": "assistant", "content": "", "tool_calls": [openai_call(call)]},
            {"role": "tool", "content": json.dumps(res)},
            {"role": "assistant", "content": answer(res)}]}
    if kind == "parallel":
        mk = r.choice(MAKERS)
        a = mk(r)
        for _ in range(20):
            b = mk(r)
            if b[1] != a[1]:
                break
        ask = f"{a[0]} Also: {b[0][0].lower() + b[0][1:]}"
        return {"tools": tool_subset(r, [a[1]["name"]]), "messages": [
            system, {"role": "user", "content": ask},
            {"role": "assistant", "content": "", "tool_calls": [openai_call(a[1]), openai_call(b[1])]},
            {"role": "tool", "content": json.dumps(a[2])},
            {"role": "tool", "content": json.dumps(b[2])},
            {"role": "assistant", "content": f"{a[3](a[2])} {b[3](b[2])}"}]}
    q, ans = r.choice(CHAT)
    return {"tools": tool_subset(r, []), "messages": [system, {"role": "user", "content": q}, {"role": "assistant", "content": ans}]}


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 240
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 20261124)
    kinds = ["single", "parallel", "chat"]
    exclude = set()
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as f:
            exclude = set(f.read().splitlines())
    with open(out, "w", encoding="utf-8") as f:
        i = written = 0
        while written < n:
            line = json.dumps(record(r, kinds[i % 3]), ensure_ascii=False)
            i += 1
            if line not in exclude:
                f.write(line + "\n")
                written += 1
    print(f"wrote {n} records to {out}")


if __name__ == "__main__":
    main()
