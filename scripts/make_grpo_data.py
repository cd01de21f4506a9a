#!/usr/bin/env python3
"""Generates the GRPO prompt sets in data/grpo/ (standard library only, seeded).

  toy_sft.jsonl      warm-start SFT for the toy task: one tool, set_timer(minutes); the user asks
                     for a timer of 1..9 minutes, the assistant calls the tool (200 records).
  toy_prompts.jsonl  GRPO prompts for the same task (every minute count x every phrasing), with
                     the verifiable answer. A model that has only learned the call format gets
                     about 1 in 9 right by chance: the reward has signal from the first step.
  toy_episodes_sft.jsonl  warm-start SFT for the multi-turn toy (configs/grpo-episodes-toy.toml):
                     the call, the tool's result exactly as lfm-train's toy environment writes it
                     (compact JSON, sorted keys), and an answer that states it (200 records).
  tool_prompts.jsonl GRPO prompts for the real recipe: five invented typed tools, 150 single-call
                     and 150 parallel-call tasks (two calls in one list), answers in BFCL
                     possible-answer form.

No BFCL function or record is used: the tools and phrasings are written here, so evaluation data
is never trained on.

Usage: python3 scripts/make_grpo_data.py
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), '..', 'data', 'grpo')
SYSTEM = "You are a helpful assistant with access to tools."

CITIES = ["Paris", "Lima", "Oslo", "Rome", "Cairo", "Tokyo", "Delhi", "Berlin", "Madrid", "Dublin",
          "Quito", "Hanoi", "Seoul", "Dakar", "Accra", "Riga", "Kyiv", "Sofia", "Bern", "Vienna",
          "Prague", "Warsaw", "Athens", "Lisbon", "Havana", "Manila", "Nairobi", "Tunis", "Doha", "Baku",
          "Minsk", "Tallinn", "Zagreb", "Skopje", "Tirana", "Male", "Apia", "Suva", "Lagos", "Perth"]

WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                          "required": ["city"]}}

# The toy task's tool, kept short: the 512-token fixture tokenizer spends ~70 tokens on it.
TIMER_TOY = {"name": "set_timer", "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]}}
TIMER_ASK = ["Set a timer for {n} minutes.", "Timer: {n} minutes, please.", "Start a {n} minute timer.",
             "Remind me in {n} minutes.", "Count down {n} minutes.", "I need a timer of {n} minutes."]

ASK = ["What is the weather in {c}?", "Weather in {c}, please.", "How is the weather in {c} today?",
       "Tell me the weather for {c}.", "Is it raining in {c}?", "{c} weather?"]

TOOLS = [
    WEATHER,
    {"name": "convert_currency", "description": "Convert an amount of money between currencies.",
     "parameters": {"type": "object", "properties": {"amount": {"type": "integer"}, "from_currency": {"type": "string"},
                                                     "to_currency": {"type": "string"}},
                    "required": ["amount", "from_currency", "to_currency"]}},
    {"name": "count_letter", "description": "Count how often a letter occurs in a word.",
     "parameters": {"type": "object", "properties": {"word": {"type": "string"}, "letter": {"type": "string"}},
                    "required": ["word", "letter"]}},
    {"name": "set_timer", "description": "Start a countdown timer.",
     "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}, "label": {"type": "string"}},
                    "required": ["minutes"]}},
    {"name": "translate", "description": "Translate a short text.",
     "parameters": {"type": "object", "properties": {"text": {"type": "string"}, "target_language": {"type": "string"}},
                    "required": ["text", "target_language"]}},
]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "INR", "BRL", "CHF", "SEK", "KRW", "MXN"]
WORDS = ["banana", "mississippi", "letter", "balloon", "coffee", "parallel", "committee", "bookkeeper"]
LANGS = ["French", "German", "Spanish", "Italian", "Japanese"]
PHRASES = ["good morning", "thank you", "see you soon", "where is the station", "happy birthday"]


def task(rng):
    """One (user text, call dict) for a random tool."""
    k = rng.randrange(5)
    if k == 0:
        c = rng.choice(CITIES)
        return rng.choice(ASK).format(c=c), {"name": "get_weather", "arguments": {"city": c}}
    if k == 1:
        a, f, t = rng.choice([5, 20, 100, 250, 1000, 42]), *rng.sample(CURRENCIES, 2)
        return f"Convert {a} {f} to {t}.", {"name": "convert_currency", "arguments": {"amount": a, "from_currency": f, "to_currency": t}}
    if k == 2:
        w, l = rng.choice(WORDS), None
        l = rng.choice(sorted(set(w)))
        return f"How many times does the letter {l} appear in {w}?", {"name": "count_letter", "arguments": {"word": w, "letter": l}}
    if k == 3:
        m = rng.choice([1, 3, 5, 10, 15, 25, 45])
        return f"Set a timer for {m} minutes.", {"name": "set_timer", "arguments": {"minutes": m}}
    p, lang = rng.choice(PHRASES), rng.choice(LANGS)
    return f"Translate '{p}' into {lang}.", {"name": "translate", "arguments": {"text": p, "target_language": lang}}


def possible(call, tools):
    """BFCL possible-answer form: {name: {arg: [accepted values]}}; optional args may be omitted."""
    doc = next(t for t in tools if t["name"] == call["name"])
    req = doc["parameters"].get("required", [])
    args = {k: [v] for k, v in call["arguments"].items()}
    for k in doc["parameters"]["properties"]:
        if k not in req and k in args:
            args[k].append("")
    return {call["name"]: args}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(0)
    with open(os.path.join(OUT, "toy_sft.jsonl"), "w") as f:
        for i in range(200):
            n = rng.randint(1, 9)
            call = {"name": "set_timer", "arguments": {"minutes": n}}
            rec = {"tools": [TIMER_TOY], "messages": [
                {"role": "user", "content": rng.choice(TIMER_ASK).format(n=n)},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": call}]}]}
            f.write(json.dumps(rec) + "\n")
    with open(os.path.join(OUT, "toy_prompts.jsonl"), "w") as f:
        i = 0
        for n in range(1, 10):
            for ask in TIMER_ASK:
                call = {"name": "set_timer", "arguments": {"minutes": n}}
                rec = {"id": f"toy-{i}", "category": "simple", "tools": [TIMER_TOY],
                       "messages": [{"role": "user", "content": ask.format(n=n)}],
                       "answer": [possible(call, [TIMER_TOY])]}
                f.write(json.dumps(rec) + "\n")
                i += 1
    rng = random.Random(1)
    with open(os.path.join(OUT, "tool_prompts.jsonl"), "w") as f:
        for i in range(300):
            parallel = i % 2 == 1
            tools = rng.sample(TOOLS, 3)
            names = {t["name"] for t in tools}
            calls, texts = [], []
            while len(calls) < (2 if parallel else 1):
                text, call = task(rng)
                if call["name"] in names and call not in calls:
                    calls.append(call)
                    texts.append(text)
            user = texts[0] if not parallel else f"{texts[0]} Also: {texts[1][0].lower()}{texts[1][1:]}"
            cat = ("parallel_multiple" if calls[0]["name"] != calls[1]["name"] else "parallel") if parallel else "multiple"
            rec = {"id": f"tools-{i}", "category": cat, "tools": tools,
                   "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                   "answer": [possible(c, tools) for c in calls]}
            f.write(json.dumps(rec) + "\n")

    rng = random.Random(2)
    done = ["Timer set for {n} minutes.", "Done: {n} minutes on the clock.", "Your {n} minute timer is running."]
    with open(os.path.join(OUT, "toy_episodes_sft.jsonl"), "w") as f:
        for i in range(200):
            n = rng.randint(1, 9)
            call = {"name": "set_timer", "arguments": {"minutes": n}}
            result = json.dumps({"status": "started", "minutes": n}, sort_keys=True, separators=(",", ":"))
            rec = {"tools": [TIMER_TOY], "messages": [
                {"role": "user", "content": rng.choice(TIMER_ASK).format(n=n)},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": call}]},
                {"role": "tool", "content": result},
                {"role": "assistant", "content": rng.choice(done).format(n=n)}]}
            f.write(json.dumps(rec) + "\n")


main()
