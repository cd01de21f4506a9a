#!/usr/bin/env python3
"""Generates the argument-learning tool-use toy of configs/grpo-tools-toy.toml (issue #19,
item 4) in data/grpo/ (seeded): five short invented tools, tasks in the four BFCL AST
categories, a held-out set in BFCL v4's own file format, and the toy's tokenizer.

  tools_toy_copy.jsonl       warm-start stage 1: copy drills ("Repeat: <text>" -> <text>) and list
                             drills ("Echo each: A, B" -> echo(v="A"), echo(v="B"))
  tools_toy_sft.jsonl        warm-start stage 2: chat records, the assistant answers with the calls
                             of a weak teacher (--teacher-noise: the share of calls in which one
                             argument is the teacher's habit instead of the request's value)
  tools_toy_prompts.jsonl    GRPO prompts with their answers (BFCL possible-answer form)
  heldout_bfcl.jsonl         held-out questions, BFCL v4 format ({"id", "question", "function"})
  heldout_bfcl_answers.jsonl held-out answers ({"id", "ground_truth"})
  tools_toy_tokenizer/       tokenizer.json (+ tokenizer_config.json): every word of the
                             phrasings, tool schemas and chat layout, and the five language
                             names, is one token; any other word (every other argument value,
                             currency codes included) is spelled letter by letter and every
                             number digit by digit (make_fixture_tokenizer.py --words)

Held out means: every argument value (numbers, cities, words, phrases, currency pairs) and
every single-request phrasing of the held-out set is absent from the training files (the
connectors joining two requests are shared), so a model scores there only by reading the values
from the request. Training names and words are random letter strings drawn afresh for every
task, training phrases mix such strings with common words, and training numbers are drawn from
1..9999 without the held-out ones: copying is the only way to get them right. The held-out set
uses real city names, English words and phrases. The tokenizer knows the words of every
phrasing, held-out ones included (as any real tokenizer knows English words the model may never
have been trained on), and no argument value but the five language names. Ids follow BFCL's
category names (simple_python_N, multiple_N, parallel_N, parallel_multiple_N); `lfm eval bfcl`
takes the category from them.

Needs the `tokenizers` Python package (for the tokenizer). Usage:
  python3 scripts/make_tool_toy_data.py [--out DIR]
"""
import argparse
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture_tokenizer import word_tokenizer  # noqa: E402

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
CURRENCIES = ["USD", "EUR", "JPY", "GBP", "INR", "BRL", "CHF", "SEK", "KRW", "MXN", "AUD", "CAD", "CNY", "NOK",
              "DKK", "PLN", "TRY", "ZAR", "THB", "NZD"]

# Every phrasing names its tool's cue word (timer, weather, letter, convert, translate): a
# model trained from scratch knows no English, so a held-out sentence can only be matched to a
# tool through a word the two share.
ASK = {
    "set_timer": ["Set a timer for {minutes} minutes.", "Start a {minutes} minute timer.",
                  "Timer: {minutes} minutes, please.", "I need a timer of {minutes} minutes.",
                  "Please run a timer for {minutes} minutes.", "Can you set {minutes} minutes on the timer?",
                  "A {minutes} minute timer, please.", "Put a timer on for {minutes} minutes.",
                  "Timer for {minutes} minutes.", "Remind me with a timer in {minutes} minutes.",
                  "Could you start a timer of {minutes} minutes?", "My timer should ring in {minutes} minutes.",
                  "{minutes} minutes on the timer, please.", "Set the timer to {minutes} minutes."],
    "get_weather": ["What is the weather in {city}?", "Weather in {city}, please.",
                    "How is the weather in {city} today?", "Tell me the weather for {city}.",
                    "{city} weather?", "Check the weather in {city}.",
                    "What weather do they have in {city}?", "Give me the weather of {city}.",
                    "Is it sunny in {city}? Check the weather.", "Weather report for {city}.",
                    "Could you look up the weather in {city}?", "I want the weather of {city}.",
                    "Show the weather in {city}.", "The weather in {city}, please."],
    "count_letter": ["How many times does the letter {letter} appear in {word}?", "Count the letter {letter} in {word}.",
                     "How many letter {letter} are in the word {word}?", "Count letter {letter} in {word}.",
                     "In {word}, how often is the letter {letter}?", "Number of {letter} letters in {word}?",
                     "Tell me how many letter {letter} the word {word} has.", "Count how often the letter {letter} occurs in {word}.",
                     "Count the {letter} letters in {word}.", "How often does the letter {letter} occur in {word}?",
                     "Letter {letter} in {word}: how many?", "Could you count the letter {letter} in the word {word}?",
                     "I want to know how many {letter} letters {word} has.", "Count letter {letter} of the word {word}, please."],
    "convert_currency": ["Convert {amount} {from_currency} to {to_currency}.",
                         "Convert {amount} {from_currency} into {to_currency}, please.",
                         "{amount} {from_currency} to {to_currency}, convert it please.",
                         "Please convert {amount} {from_currency} to {to_currency}.",
                         "What do {amount} {from_currency} convert to in {to_currency}?",
                         "Can you convert {amount} {from_currency} for {to_currency}?",
                         "Convert me {amount} {from_currency} in {to_currency}.",
                         "I have {amount} {from_currency}, convert that to {to_currency}.",
                         "How much is {amount} {from_currency} in {to_currency}? Convert it.",
                         "Could you convert {amount} {from_currency} to {to_currency}?",
                         "Convert {amount} {from_currency}, I want {to_currency}.",
                         "{amount} {from_currency} in {to_currency}, please convert.",
                         "I want to convert {amount} {from_currency} to {to_currency}.",
                         "Convert the sum of {amount} {from_currency} to {to_currency}."],
    "translate": ["Translate '{text}' into {target_language}.", "Translate '{text}' to {target_language}, please.",
                  "'{text}' in {target_language}, translate it please.", "Please translate '{text}' into {target_language}.",
                  "Can you translate '{text}' to {target_language}?", "Translate to {target_language}: '{text}'.",
                  "I need '{text}' translated into {target_language}.", "Translate this into {target_language}: '{text}'.",
                  "Could you translate '{text}' into {target_language}?", "Translate '{text}', I want it in {target_language}.",
                  "How is '{text}' in {target_language}? Translate it.", "I want '{text}' translated to {target_language}.",
                  "Translate the words '{text}' to {target_language}.", "{target_language} please: translate '{text}'."],
}
JOIN = ["{a} Also, {b}", "{a} And {b}", "{a} Then {b}", "{a} Plus: {b}"]
# Words around a training request (never around a held-out one): a model that keys on "please"
# or on where a sentence starts instead of on the tool's cue word is wrong on held-out phrasings.
OPEN = ["Hey, ", "Quick one: ", "Please: ", "Now ", "Hi! ", "Okay, ", "So, "]
CLOSE = [" Thanks.", " Please.", " Now.", " Quickly, please.", " Thank you!", " Okay?"]


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def split(values, n_held, rng):
    v = list(values)
    rng.shuffle(v)
    return v[n_held:], v[:n_held]


def pseudo(rng, lo, hi):
    """A made-up word of lo..hi random letters: no pattern a model could produce instead of
    copying it."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def vocabulary_text():
    """Every text whose words the tokenizer keeps whole: all phrasings (placeholders removed,
    each also with a lower-case first letter as it stands after a connector), the connectors,
    the tool schemas, the chat layout's words and the languages (currency codes are values to
    copy, so they are spelled like names)."""
    lines = []
    for asks in ASK.values():
        for a in asks:
            t = re.sub(r"\{[a-z_]+\}", " ", a)
            lines += [t, t[0].lower() + t[1:]]
    lines += [re.sub(r"\{[a-z]\}", " ", j) for j in JOIN] + OPEN + CLOSE
    lines += [json.dumps(list(TOOLS.values())), "List of tools: system user assistant tool Repeat:",
              " ".join(LANGS)]
    return "\n".join(lines)


def common_words():
    """Lower-case whole words of the phrasings: training phrases mix them with made-up words,
    so that copying a phrase is learned for word tokens too."""
    return sorted({w for w in re.findall(r"[a-z]{2,}", " ".join(" ".join(a) for a in ASK.values()))
                   if w not in {"minutes", "city", "word", "letter", "amount", "from_currency",
                                "to_currency", "text", "target_language"}})


class Pool:
    """Training values: a fresh draw for every use, never one of the held-out values."""

    def __init__(self, make, held):
        self.make, self.held = make, set(held)

    def __call__(self, rng):
        while True:
            v = self.make(rng)
            if v not in self.held:
                return v


def pools(rng):
    """(train, held-out) value pools and phrasings, disjoint. Training draws made-up names,
    words and phrases and numbers outside the held-out ones (so the only way to the right
    argument is to copy it from the request); the held-out set uses real names, words and
    phrases, numbers and currency pairs never drawn in training."""
    train, held = {}, {}
    nums = list(range(1, 100))
    rng.shuffle(nums)
    held["minutes"] = nums[:20]
    train["minutes"] = Pool(lambda r: r.choice([r.randint(1, 99), r.randint(1, 999)]), held["minutes"])
    held["amount"] = [15, 30, 150, 1200, 1500, 2500]
    train["amount"] = Pool(lambda r: r.choice([r.randint(1, 99), r.randint(1, 9999), 5 * r.randint(1, 400)]),
                           held["amount"])
    held["city"] = CITIES
    train["city"] = Pool(lambda r: pseudo(r, 3, 9).capitalize(), CITIES)
    held["word"] = WORDS
    train["word"] = Pool(lambda r: pseudo(r, 3, 10), WORDS)
    held["text"] = PHRASES
    common = common_words()
    train["text"] = Pool(lambda r: " ".join(pseudo(r, 1, 7) if r.random() < 0.6 else r.choice(common)
                                            for _ in range(r.randint(1, 4))), PHRASES)
    pairs = [(a, b) for a in CURRENCIES for b in CURRENCIES if a != b]
    train["pair"], held["pair"] = split(pairs, 60, rng)
    train["pair"] = Pool(lambda r, ps=train["pair"]: r.choice(ps), held["pair"])
    held["pair"] = Pool(lambda r, ps=held["pair"]: r.choice(ps), [])
    for k in ["minutes", "amount", "city", "word", "text"]:
        held[k] = Pool(lambda r, vs=held[k]: r.choice(vs), [])
    train["ask"], held["ask"] = {}, {}
    for name, asks in ASK.items():
        train["ask"][name], held["ask"][name] = split(asks, 2, rng)
    # The connectors between two requests are shared: what is held out is every value and
    # every single-request phrasing.
    train["join"] = held["join"] = JOIN
    train["wrap"], held["wrap"] = True, False
    return train, held


def call(name, p, rng):
    """One call of `name` with values from pool `p`, its request text, and the text as it
    stands after a connector (first letter lower-cased unless it begins with a value)."""
    if name == "set_timer":
        args = {"minutes": p["minutes"](rng)}
    elif name == "get_weather":
        args = {"city": p["city"](rng)}
    elif name == "count_letter":
        w = p["word"](rng)
        args = {"word": w, "letter": rng.choice(sorted(set(w)))}
    elif name == "convert_currency":
        a, b = p["pair"](rng)
        args = {"amount": p["amount"](rng), "from_currency": a, "to_currency": b}
    else:
        args = {"text": p["text"](rng), "target_language": rng.choice(LANGS)}
    ask = rng.choice(p["ask"][name])
    text = ask.format(**args)

    def decap(t):
        # Lower-case the first letter of a phrasing's own word, never of a value.
        return t if ask.startswith("{") else t[0].lower() + t[1:]

    if p["wrap"] and rng.random() < 0.5:
        o, c = rng.choice(OPEN + [""]), rng.choice(CLOSE + [""])
        text = o + (decap(text) if o else text) + c
        return args, text, decap(text) if not o else text[0].lower() + text[1:]
    return args, text, decap(text)


def sample(category, p, rng):
    """(tools, user text, calls) of one task of a BFCL category."""
    names = list(TOOLS)
    if category == "simple":
        n = rng.choice(names)
        args, text, _ = call(n, p, rng)
        return [TOOLS[n]], text, [(n, args)]
    if category == "multiple":
        n, other = rng.sample(names, 2)
        args, text, _ = call(n, p, rng)
        tools = [TOOLS[n], TOOLS[other]]
        rng.shuffle(tools)
        return tools, text, [(n, args)]
    if category == "parallel":
        n = rng.choice(names)
        while True:
            (a1, t1, _), (a2, _, b2) = call(n, p, rng), call(n, p, rng)
            if a1 != a2:
                break
        return [TOOLS[n]], rng.choice(p["join"]).format(a=t1, b=b2), [(n, a1), (n, a2)]
    n1, n2 = rng.sample(names, 2)
    (a1, t1, _), (a2, _, b2) = call(n1, p, rng), call(n2, p, rng)
    tools = [TOOLS[n1], TOOLS[n2]]
    rng.shuffle(tools)
    return tools, rng.choice(p["join"]).format(a=t1, b=b2), [(n1, a1), (n2, a2)]


def copy_drill(rng, common, list_share):
    """A "Repeat: ..." record: 1-4 items (made-up words, common words, numbers, currency codes,
    languages), the reply the same text. With probability `list_share` a record of two or more
    items is a list drill instead, "Echo each: A, B and C" answered `echo(v="A"), echo(v="B"),
    echo(v="C")`: the second value follows the same `v="` as the first, so copying "what came
    after this last time" is wrong there, as it is for the second call of a parallel task."""
    items = []
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        if k < 0.45:
            w = pseudo(rng, 1, 9)
            items.append(w.capitalize() if rng.random() < 0.3 else w)
        elif k < 0.65:
            items.append(rng.choice(common))
        elif k < 0.85:
            items.append(str(rng.randint(1, 9999)))
        else:
            items.append(rng.choice(CURRENCIES + LANGS))
    if list_share > 0 and rng.random() < list_share and len(items) >= 2:
        sep = rng.choice([", ", " and ", "; ", " then "])
        return {"messages": [{"role": "user", "content": "Echo each: " + sep.join(items)},
                             {"role": "assistant", "content": ", ".join('echo(v="%s")' % x for x in items)}]}
    v = " ".join(items)
    return {"messages": [{"role": "user", "content": "Repeat: " + v}, {"role": "assistant", "content": v}]}


def possible(calls):
    """BFCL possible-answer form: [{name: {arg: [value]}}]."""
    return [{n: {k: [v] for k, v in a.items()}} for n, a in calls]


def bfcl_doc(t):
    """A tool as BFCL writes function docs ("dict" for objects)."""
    d = json.loads(json.dumps(t))
    d["parameters"]["type"] = "dict"
    return d


# The weak teacher's habits: per tool, the argument it fills from habit instead of reading the
# request, and the value it writes (never a held-out value: no held-out word has a "q").
HABIT = {"set_timer": ("minutes", 10), "get_weather": ("city", "London"), "count_letter": ("letter", "q"),
         "convert_currency": ("amount", 100), "translate": ("target_language", "English")}


def teacher(name, args, noise, rng):
    """The tool-SFT demonstration of one call by a weak teacher: with probability `noise` one
    argument of the call is the teacher's habit instead of the value in the request."""
    if noise > 0 and rng.random() < noise:
        k, v = HABIT[name]
        args = dict(args, **{k: v})
    return args


CATS = ["simple", "multiple", "parallel", "parallel_multiple"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-copy", type=int, default=6000, help="copy-drill records")
    ap.add_argument("--n-sft", type=int, default=4000, help="tool SFT records")
    ap.add_argument("--n-prompts", type=int, default=4000, help="GRPO prompts")
    ap.add_argument("--n-heldout", type=int, default=200, help="held-out tasks")
    ap.add_argument("--list-drills", type=float, default=0.37,
                    help="share of the copy drills of 2+ items that are list drills")
    ap.add_argument("--teacher-noise", type=float, default=0.6,
                    help="probability that an SFT call's first argument is the weak teacher's habit")
    ap.add_argument("--out", default=OUT, help="output folder (default data/grpo)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train, held = pools(random.Random(2026))
    # One generator per file: changing one file's size leaves the others as they are.
    rng_copy, rng_sft, rng_prompts, rng_held = (random.Random(s) for s in (1, 2, 3, 4))
    seen = set()
    common = common_words()
    with open(os.path.join(a.out, "tools_toy_copy.jsonl"), "w") as f:
        for _ in range(a.n_copy):
            f.write(json.dumps(copy_drill(rng_copy, common, a.list_drills)) + "\n")
    with open(os.path.join(a.out, "tools_toy_sft.jsonl"), "w") as f:
        for i in range(a.n_sft):
            tools, text, calls = sample(CATS[i % 4], train, rng_sft)
            seen.add(text)
            calls = [(n, teacher(n, args, a.teacher_noise, rng_sft)) for n, args in calls]
            tc = [{"type": "function", "function": {"name": n, "arguments": a}} for n, a in calls]
            f.write(json.dumps({"tools": tools, "messages": [{"role": "user", "content": text},
                                                             {"role": "assistant", "content": "", "tool_calls": tc}]}) + "\n")
    with open(os.path.join(a.out, "tools_toy_prompts.jsonl"), "w") as f:
        for i in range(a.n_prompts):
            cat = CATS[i % 4]
            tools, text, calls = sample(cat, train, rng_prompts)
            seen.add(text)
            f.write(json.dumps({"id": f"toy-tools-{i}", "category": cat, "tools": tools,
                                "messages": [{"role": "user", "content": text}], "answer": possible(calls)}) + "\n")
    ids = {"simple": "simple_python"}
    with open(os.path.join(a.out, "heldout_bfcl.jsonl"), "w") as q, \
            open(os.path.join(a.out, "heldout_bfcl_answers.jsonl"), "w") as ans:
        for i in range(a.n_heldout):
            cat = CATS[i % 4]
            tools, text, calls = sample(cat, held, rng_held)
            assert text not in seen
            rid = f"{ids.get(cat, cat)}_{i // 4}"
            q.write(json.dumps({"id": rid, "question": [[{"role": "user", "content": text}]],
                                "function": [bfcl_doc(t) for t in tools]}) + "\n")
            ans.write(json.dumps({"id": rid, "ground_truth": possible(calls)}) + "\n")
    tdir = os.path.join(a.out, "tools_toy_tokenizer")
    os.makedirs(tdir, exist_ok=True)
    tok = word_tokenizer(vocabulary_text())
    tok.save(os.path.join(tdir, "tokenizer.json"))
    with open(os.path.join(tdir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|startoftext|>",
                   "eos_token": "<|im_end|>", "pad_token": "<|pad|>", "add_bos_token": True,
                   "model_max_length": 4096}, f, indent=2)
        f.write("\n")
    print(f"wrote {a.out}: {a.n_copy} copy drills, {a.n_sft} SFT records, {a.n_prompts} prompts, "
          f"{a.n_heldout} held-out tasks, tokenizer of {tok.get_vocab_size()} tokens")


if __name__ == "__main__":
    main()
