#!/usr/bin/env python3
"""Generates the argument-learning tool-use toy of issue #19 (item 4, in progress: no config
ships yet, see docs/history.md) in data/grpo/ (standard library only, seeded): five short
invented tools, tasks in the four BFCL AST categories, and a held-out set in BFCL v4's own file
format.

  tools_toy_sft.jsonl        warm-start SFT: chat records, the assistant answers with the calls
  tools_toy_prompts.jsonl    GRPO prompts with their answers (BFCL possible-answer form)
  heldout_bfcl.jsonl         held-out questions, BFCL v4 format ({"id", "question", "function"})
  heldout_bfcl_answers.jsonl held-out answers ({"id", "ground_truth"})

Held out means: every argument value (numbers, cities, words, phrases, currency pairs) and
every single-request phrasing of the held-out set is absent from the SFT and GRPO files (the
connectors joining two requests are shared), so a model scores
there only by reading the values from the request. Training names, words and phrases are
random letter strings drawn afresh for every task, so copying is the only way to get them right;
the held-out set uses real city names, English words and phrases. Ids follow BFCL's category names
(simple_python_N, multiple_N, parallel_N, parallel_multiple_N); `lfm eval bfcl` takes the
category from them.

Usage: python3 scripts/make_tool_toy_data.py
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), '..', 'data', 'grpo')


def tool(name, props, required):
    return {"name": name, "parameters": {"type": "object", "properties": props, "required": required}}


S, I = {"type": "string"}, {"type": "integer"}
TOOLS = {
    "set_timer": tool("set_timer", {"minutes": I}, ["minutes"]),
    "get_weather": tool("get_weather", {"city": S}, ["city"]),
    "count_letter": tool("count_letter", {"word": S, "letter": S}, ["word", "letter"]),
    "convert_currency": tool("convert_currency", {"amount": I, "from_currency": S, "to_currency": S},
                             ["amount", "from_currency", "to_currency"]),
    "translate": tool("translate", {"text": S, "target_language": S}, ["text", "target_language"]),
}

CITIES = ["Paris", "Lima", "Oslo", "Rome", "Cairo", "Tokyo", "Delhi", "Berlin", "Madrid", "Dublin",
          "Quito", "Hanoi", "Seoul", "Dakar", "Accra", "Riga", "Kyiv", "Sofia", "Bern", "Vienna",
          "Prague", "Warsaw", "Athens", "Lisbon", "Havana", "Manila", "Nairobi", "Tunis", "Doha", "Baku",
          "Minsk", "Tallinn", "Zagreb", "Skopje", "Tirana", "Apia", "Suva", "Lagos", "Perth", "Porto",
          "Boston", "Denver", "Austin", "Miami", "Dallas", "Toronto", "Ottawa", "Milan", "Naples", "Munich"]
WORDS = ["banana", "apple", "letter", "balloon", "coffee", "parallel", "committee", "bookkeeper", "pepper",
         "rabbit", "butter", "cherry", "mirror", "summer", "kitten", "puppy", "pizza", "tomato", "potato",
         "window", "yellow", "hello", "little", "google", "cookie", "moon", "spoon", "street", "tree", "sheep"]
PHRASES = ["good morning", "thank you", "see you soon", "where is the station", "happy birthday", "good night",
           "how are you", "nice to meet you", "i am hungry", "the bill please", "open the door", "i love tea",
           "where is the hotel", "a cup of coffee", "see you tomorrow", "good luck", "welcome home", "call me"]
LANGS = ["French", "German", "Spanish", "Italian", "Japanese"]
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "INR", "BRL", "CHF", "SEK", "KRW", "MXN"]

# Every phrasing names its tool's cue word (timer, weather, letter, convert, translate): a
# model trained from scratch knows no English, so a held-out sentence can only be matched to a
# tool through a word the two share.
ASK = {
    "set_timer": ["Set a timer for {minutes} minutes.", "Start a {minutes} minute timer.",
                  "Timer: {minutes} minutes, please.", "I need a timer of {minutes} minutes.",
                  "Please run a timer for {minutes} minutes.", "Can you set {minutes} minutes on the timer?",
                  "A {minutes} minute timer, please.", "Put a timer on for {minutes} minutes."],
    "get_weather": ["What is the weather in {city}?", "Weather in {city}, please.",
                    "How is the weather in {city} today?", "Tell me the weather for {city}.",
                    "{city} weather?", "Check the weather in {city}.",
                    "What weather do they have in {city}?", "Give me the weather of {city}."],
    "count_letter": ["How many times does the letter {letter} appear in {word}?", "Count the letter {letter} in {word}.",
                     "How many letter {letter} are in the word {word}?", "Count letter {letter} in {word}.",
                     "In {word}, how often is the letter {letter}?", "Number of {letter} letters in {word}?",
                     "Tell me how many letter {letter} the word {word} has.", "Count how often the letter {letter} occurs in {word}."],
    "convert_currency": ["Convert {amount} {from_currency} to {to_currency}.",
                         "Convert {amount} {from_currency} into {to_currency}, please.",
                         "{amount} {from_currency} to {to_currency}, convert it please.",
                         "Please convert {amount} {from_currency} to {to_currency}.",
                         "What do {amount} {from_currency} convert to in {to_currency}?",
                         "Can you convert {amount} {from_currency} for {to_currency}?",
                         "Convert me {amount} {from_currency} in {to_currency}.",
                         "I have {amount} {from_currency}, convert that to {to_currency}."],
    "translate": ["Translate '{text}' into {target_language}.", "Translate '{text}' to {target_language}, please.",
                  "'{text}' in {target_language}, translate it please.", "Please translate '{text}' into {target_language}.",
                  "Can you translate '{text}' to {target_language}?", "Translate to {target_language}: '{text}'.",
                  "I need '{text}' translated into {target_language}.", "Translate this into {target_language}: '{text}'."],
}
JOIN = ["{a} Also, {b}", "{a} And {b}", "{a} Then {b}", "{a} Plus: {b}"]


def split(values, n_held, rng):
    v = list(values)
    rng.shuffle(v)
    return v[n_held:], v[:n_held]


def pseudo(rng, parts):
    """A made-up word of random letters (2 parts: 3-5 letters, 3 parts: 5-8): no pattern a
    model could learn to produce instead of copying."""
    n = rng.randint(3, 5) if parts == 2 else rng.randint(5, 8)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


class Fresh(list):
    """A value pool that draws a new made-up value for every use (never memorizable)."""

    def __init__(self, make):
        super().__init__([None])
        self.make = make


def pick(pool, rng):
    return pool.make(rng) if isinstance(pool, Fresh) else rng.choice(pool)


def pools(rng):
    """(train, held-out) value pools and phrasings, disjoint. Training draws made-up names,
    words and phrases (so the only way to the right argument is to copy it from the request);
    the held-out set uses real ones, and numbers and currency pairs never drawn in training."""
    train, held = {}, {}
    nums = list(range(1, 100))
    rng.shuffle(nums)
    held["minutes"], minutes_train = nums[:20], nums[20:]
    train["minutes"] = minutes_train
    amounts = [5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 100, 120, 150, 200, 250, 300, 400, 500, 750, 800, 1000,
               1200, 1500, 2000, 2500, 5000]
    train["amount"], held["amount"] = split(amounts, 6, rng)
    train["city"] = Fresh(lambda r: pseudo(r, r.choice([2, 3])).capitalize())
    held["city"] = CITIES
    train["word"] = Fresh(lambda r: pseudo(r, r.choice([2, 3])))
    held["word"] = WORDS
    train["text"] = Fresh(lambda r: " ".join(pseudo(r, r.choice([1, 2])) for _ in range(r.choice([2, 3]))))
    held["text"] = PHRASES
    pairs = [(a, b) for a in CURRENCIES for b in CURRENCIES if a != b]
    train["pair"], held["pair"] = split(pairs, 18, rng)
    train["ask"], held["ask"] = {}, {}
    for name, asks in ASK.items():
        train["ask"][name], held["ask"][name] = split(asks, 2, rng)
    # The connectors between two requests are shared: what is held out is every value and
    # every single-request phrasing.
    train["join"] = held["join"] = JOIN
    return train, held


def call(name, p, rng):
    """One call of `name` with values from pool `p`, and its request text."""
    if name == "set_timer":
        args = {"minutes": pick(p["minutes"], rng)}
    elif name == "get_weather":
        args = {"city": pick(p["city"], rng)}
    elif name == "count_letter":
        w = pick(p["word"], rng)
        args = {"word": w, "letter": rng.choice(sorted(set(w)))}
    elif name == "convert_currency":
        a, b = rng.choice(p["pair"])
        args = {"amount": pick(p["amount"], rng), "from_currency": a, "to_currency": b}
    else:
        args = {"text": pick(p["text"], rng), "target_language": rng.choice(LANGS)}
    return args, rng.choice(p["ask"][name]).format(**args)


def sample(category, p, rng):
    """(tools, user text, calls) of one task of a BFCL category."""
    names = list(TOOLS)
    if category == "simple":
        n = rng.choice(names)
        args, text = call(n, p, rng)
        return [TOOLS[n]], text, [(n, args)]
    if category == "multiple":
        n, other = rng.sample(names, 2)
        args, text = call(n, p, rng)
        tools = [TOOLS[n], TOOLS[other]]
        rng.shuffle(tools)
        return tools, text, [(n, args)]
    if category == "parallel":
        n = rng.choice(names)
        while True:
            (a1, t1), (a2, t2) = call(n, p, rng), call(n, p, rng)
            if a1 != a2:
                break
        return [TOOLS[n]], rng.choice(p["join"]).format(a=t1, b=t2[0].lower() + t2[1:]), [(n, a1), (n, a2)]
    n1, n2 = rng.sample(names, 2)
    (a1, t1), (a2, t2) = call(n1, p, rng), call(n2, p, rng)
    tools = [TOOLS[n1], TOOLS[n2]]
    rng.shuffle(tools)
    return tools, rng.choice(p["join"]).format(a=t1, b=t2[0].lower() + t2[1:]), [(n1, a1), (n2, a2)]


def possible(calls):
    """BFCL possible-answer form: [{name: {arg: [value]}}]."""
    return [{n: {k: [v] for k, v in a.items()}} for n, a in calls]


def bfcl_doc(t):
    """A tool as BFCL writes function docs ("dict" for objects)."""
    d = json.loads(json.dumps(t))
    d["parameters"]["type"] = "dict"
    return d


CATS = ["simple", "multiple", "parallel", "parallel_multiple"]
N_SFT = 3000


def main():
    rng = random.Random(2026)
    train, held = pools(rng)
    seen = set()
    with open(os.path.join(OUT, "tools_toy_sft.jsonl"), "w") as f:
        for i in range(N_SFT):
            tools, text, calls = sample(CATS[i % 4], train, rng)
            seen.add(text)
            tc = [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in calls]
            f.write(json.dumps({"tools": tools, "messages": [{"role": "user", "content": text},
                                                             {"role": "assistant", "content": "", "tool_calls": tc}]}) + "\n")
    with open(os.path.join(OUT, "tools_toy_prompts.jsonl"), "w") as f:
        for i in range(400):
            cat = CATS[i % 4]
            tools, text, calls = sample(cat, train, rng)
            f.write(json.dumps({"id": f"toy-tools-{i}", "category": cat, "tools": tools,
                                "messages": [{"role": "user", "content": text}], "answer": possible(calls)}) + "\n")
    ids = {"simple": "simple_python"}
    with open(os.path.join(OUT, "heldout_bfcl.jsonl"), "w") as q, \
            open(os.path.join(OUT, "heldout_bfcl_answers.jsonl"), "w") as a:
        for i in range(100):
            cat = CATS[i % 4]
            tools, text, calls = sample(cat, held, rng)
            assert text not in seen
            rid = f"{ids.get(cat, cat)}_{i // 4}"
            q.write(json.dumps({"id": rid, "question": [[{"role": "user", "content": text}]],
                                "function": [bfcl_doc(t) for t in tools]}) + "\n")
            a.write(json.dumps({"id": rid, "ground_truth": possible(calls)}) + "\n")


main()
