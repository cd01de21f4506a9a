#!/usr/bin/env python3
"""Generate `evals/ifeval/responses.jsonl`: synthetic model replies for the IFEval differential test.

Standard library only and fully deterministic (no randomness, no clock): the same input file
always gives the same output bytes. Run from anywhere:

  python3 scripts/make_ifeval_responses.py [OUT]

Each output row is `{"key": <IFEval prompt key>, "case": <short variant name>, "response": <text>}`.
`(key, case)` is unique. The rows are scored by `scripts/ifeval_official_verdicts.py` with the
official lm-eval checkers; the Rust IFEval checkers must reproduce those verdicts on every row.

The variants cover all 25 registered instruction ids with passing replies and near misses, for
both strict and loose scoring (loose also tries the reply without its first and/or last line and
without `*`, so several variants fail strictly but pass loosely), plus the edge cases listed in
`docs/ifeval.md` (Punkt sentence splitting, `\\w+` word counts, `***` paragraphs, `\\n\\n`
paragraphs, placeholders, bullets, highlights, sections, JSON fences, titles, postscripts,
langdetect, str.isupper/islower on non-ASCII text, and so on). Case names start with a short
prefix naming the instruction the variant targets; the other instructions of a multi-instruction
prompt are scored too. `EXPECT` (not written out) records, for some rows, the prompt-level
(strict, loose) verdict the variant was designed to get; `--check VERDICTS` compares it with a
verdict file, which is how the variants were debugged.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUT = os.path.join(ROOT, "evals", "ifeval", "input_data.jsonl")
DEFAULT_OUT = os.path.join(ROOT, "evals", "ifeval", "responses.jsonl")

with open(INPUT, encoding="utf-8") as _f:
    PROMPTS = {row["key"]: row for row in map(json.loads, _f)}

ROWS = []  # (key, case, response)
EXPECT = {}  # (key, case) -> (prompt_strict, prompt_loose), where the design intent is known
_SEEN = set()


def add(key, case, response, expect=None):
    """Append one variant; `expect` is an optional (prompt_strict, prompt_loose) design intent."""
    assert key in PROMPTS, key
    assert (key, case) not in _SEEN, (key, case)
    assert isinstance(response, str)
    _SEEN.add((key, case))
    ROWS.append((key, case, response))
    if expect is not None:
        EXPECT[(key, case)] = expect


PASS = (True, True)
FAIL = (False, False)
LOOSE = (False, True)  # strict fails, loose passes


def L(*lines):
    """Lines joined with single newlines."""
    return "\n".join(lines)


def P(*paras):
    """Paragraphs joined with blank lines."""
    return "\n\n".join(paras)


def nwords(text):
    """IFEval word count: maximal runs of \\w (Unicode)."""
    return len(re.findall(r"\w+", text))


def kwarg(key, iid, name):
    row = PROMPTS[key]
    return row["kwargs"][row["instruction_id_list"].index(iid)][name]


# ---------------------------------------------------------------------------------------------
# Shared English material: sentences that Punkt splits exactly at their final period (no
# abbreviations, no initials, no numbers before the period), used to build texts of a known
# length in words and sentences.
# ---------------------------------------------------------------------------------------------

SLEEP = [
    "A hammock cradles the body in a gentle curve that many people find restful.",
    "The slight rocking motion helps the brain drift into deeper sleep more quickly.",
    "Researchers in Geneva found that swaying beds shortened the time needed to fall asleep.",
    "Sleeping outdoors also exposes you to fresh air and the natural rhythm of daylight.",
    "Because a hammock has no springs to wear out, it stays comfortable for many years.",
    "Pressure points on the hips and shoulders are reduced when the fabric spreads your weight.",
    "People with back pain sometimes report that a diagonal position feels easier on the spine.",
    "A hammock is also light enough to pack for camping trips and long weekends away.",
    "Setting one up takes only two sturdy anchor points and a few minutes of practice.",
    "Children love the feeling of floating and often settle down faster for an afternoon nap.",
    "A quiet evening in a hammock can become a small ritual that signals the end of the day.",
    "Some sleepers add a thin pad underneath to stay warm on cool autumn nights.",
    "Others hang a mosquito net above the hammock so that insects never bother them.",
    "The best fabrics are breathable cotton or soft parachute nylon that dries quickly.",
    "If you sleep diagonally across the hammock, your back stays almost completely flat.",
    "Many travellers say that their hammock is the single item they would never leave behind.",
    "Good sleep depends on routine as much as on the bed that you choose.",
    "Try to go to bed and wake up at the same time every single day.",
    "Keep the bedroom cool and dark so that your body knows it is time to rest.",
    "Screens give off blue light that can delay the release of melatonin.",
    "A warm shower an hour before bed can help your muscles relax.",
    "Heavy meals late at night often lead to restless and broken sleep.",
    "Caffeine stays in the blood for hours, so an afternoon coffee may still keep you awake.",
    "Writing down tomorrow's tasks can quiet a busy mind before you turn off the light.",
    "Gentle stretching or slow breathing prepares the body for deep and steady sleep.",
]

TRAVEL = [
    "Our trip to Japan began in Tokyo on a bright spring morning.",
    "The trains were spotless and arrived exactly when the timetable promised.",
    "We spent the first afternoon wandering through the narrow lanes of Asakusa.",
    "A small family restaurant served us the best bowl of ramen we have ever tasted.",
    "The next day we took the bullet train west to Kyoto.",
    "Thousands of orange gates climbed the hillside at the Fushimi Inari shrine.",
    "In the evening we watched lanterns glow along the river in Gion.",
    "Nara was our favourite day because friendly deer followed us through the park.",
    "We ended the journey in Osaka with street food and loud arcade games.",
    "Japan felt calm and polite, yet full of surprises around every corner.",
    "Pack light, carry some cash, and bring comfortable shoes for all the walking.",
    "Most of all, leave time to get lost, because the best moments are never planned.",
]

BUSINESS = [
    "Our team builds simple tools that help small shops manage their stock.",
    "Every product starts with a conversation with the people who will use it.",
    "We test each idea with real customers before we write a single line of code.",
    "Clear pricing and honest support have earned us loyal clients across the region.",
    "Last year our revenue doubled while our costs grew by only a small margin.",
    "We now plan to open a second office and hire twelve new engineers.",
    "Investors who join us today will share in a market that is still wide open.",
    "We believe that good software should feel as friendly as a neighbourhood store.",
]


def take(pool, n):
    """The first n sentences of a pool, cycling if needed, joined by spaces."""
    return " ".join(pool[i % len(pool)] for i in range(n))


def text_with_words(pool, n, tail_pool=None):
    """A space-joined text from `pool` with exactly n IFEval words (trims the last sentence)."""
    out = []
    i = 0
    while nwords(" ".join(out)) < n:
        out.append(pool[i % len(pool)])
        i += 1
    text = " ".join(out)
    # Drop trailing words until the count is exact, then end the sentence cleanly.
    toks = text.split(" ")
    while nwords(" ".join(toks)) > n:
        toks.pop()
    text = " ".join(toks).rstrip(",;:")
    if not text.endswith((".", "!", "?")):
        text += "."
    assert nwords(text) == n, (nwords(text), n)
    return text


# =============================================================================================
# keywords:existence — case-insensitive regex search, no word boundaries
# =============================================================================================

def keywords_existence():
    proposal = L(
        "<h1>Proposal: Accessible Towns for Everyone</h1>",
        "<p>This project studies how small changes to public spaces improve daily life for people "
        "with disabilities. Our pilot town, nicknamed {A} by its residents because it floods every "
        "spring, has agreed to host the study.</p>",
        "<p>We will work with the local {C}, who knows every street, ramp and bus stop, to map the "
        "barriers that residents meet each day.</p>",
        "<ul><li>Survey 200 households.</li><li>Fix the ten worst barriers.</li>"
        "<li>Measure quality of life again after one year.</li></ul>",
    )
    add(1531, "kwe_all_present", proposal.format(A="Atlantis", C="constable"), PASS)
    add(1531, "kwe_upper_case", proposal.format(A="ATLANTIS", C="Constable"), PASS)
    add(1531, "kwe_inside_longer_word", proposal.format(A="Atlantis-on-Sea", C="constables"), PASS)
    add(1531, "kwe_missing_one", proposal.format(A="Atlantis", C="police officer"), FAIL)
    add(1531, "kwe_hyphen_split", proposal.format(A="Atlan-tis", C="constable"), FAIL)
    add(1531, "kwe_bold_inside_word", proposal.format(A="Atlan**tis**", C="constable"), LOOSE)
    add(1531, "kwe_html_entity_split", proposal.format(A="Atlan&shy;tis", C="constable"), FAIL)
    add(1531, "kwe_line_break_inside", proposal.format(A="Atlan\ntis", C="constable"), FAIL)

    limerick = L(
        "There once was a gamer named Rodney,",
        "Who played {Z} each night, rather oddly;",
        "Through {H} he'd roam,",
        "With {L} far from home,",
        "Till {G} was beaten quite soundly.",
    )
    add(2602, "kwe_all_four", limerick.format(Z="Zelda", H="Hyrule", L="Link", G="Ganon"), PASS)
    add(2602, "kwe_substrings_count", limerick.format(
        Z="Zelda", H="Hyrule's fields", L="a blinking sword", G="Ganondorf"), PASS)
    add(2602, "kwe_missing_ganon", limerick.format(Z="Zelda", H="Hyrule", L="Link", G="the boss"), FAIL)
    add(2602, "kwe_diaeresis", limerick.format(Z="Zëlda", H="Hyrule", L="Link", G="Ganon"), FAIL)
    add(2602, "kwe_all_caps", limerick.format(Z="ZELDA", H="HYRULE", L="LINK", G="GANON"), PASS)

    page = L(
        "<html><head><title>Limericks about Bill</title></head><body>",
        "<p>A collection compiled by {J}, a retired economist who loves wordplay.</p>",
        "<ol>",
        "<li>There once was a fellow named Bill, / who sat on a very high hill.</li>",
        "<li>Young Bill from the bank / found his savings had sank.</li>",
        "</ol></body></html>",
    )
    add(3439, "kwe_ascii_jurgen", page.format(J="Jurgen Weber"), PASS)
    add(3439, "kwe_umlaut_jurgen", page.format(J="J\u00fcrgen Weber"), FAIL)
    add(3439, "kwe_decomposed_umlaut", page.format(J="Ju\u0308rgen Weber"), FAIL)
    add(3439, "kwe_jurgen_in_attribute", page.format(J='<span data-author="jurgen">our editor</span>'), PASS)

    dog = P(
        "Training a dog is like practising for a big show. Every day you learn a little more, and "
        "the {F} is the moment your puppy sits on command in front of the whole family!",
        "Keep sessions short. Five minutes is enough, unless your dog is still having fun. "
        "Always reward good behaviour with a treat, and never shout.",
    )
    add(2567, "kwe_less_inside_unless", dog.format(F="finale"), PASS)
    add(2567, "kwe_final_not_finale", dog.format(F="final"), FAIL)
    add(2567, "kwe_finale_with_accent", dog.format(F="final\u00e9"), FAIL)
    add(2567, "kwe_finale_bold_in_first_line",
        "**Fi**nale tip: practise daily.\n\n" + dog.format(F="big moment"), LOOSE)

    add(2485, "kwe_ink_in_thinking",
        "In thinking about prices this year, we see steady progress. My memoirs will one day "
        "record that families kept more of what they earned.", PASS)
    add(2485, "kwe_memoir_singular",
        "In thinking about prices this year, we see steady progress. My memoir will one day "
        "record that families kept more of what they earned.", FAIL)

    song = L(
        "Verse 1 (C - G - Am - F)",
        "Down by the Genesee {R}, where the water runs wide,",
        "Lilac {F} in May, with the whole town outside.",
        "Chorus (F - G - C)",
        "Rochester, Rochester, you carry my song,",
        "From the High Falls to the lakeshore all summer long.",
    )
    add(3732, "kwe_song_pass", song.format(R="river", F="Festival"), PASS)
    add(3732, "kwe_riverbank", song.format(R="riverbank", F="festivals"), PASS)
    add(3732, "kwe_fest_not_festival", song.format(R="river", F="Fest"), FAIL)

    add(2662, "kwe_tweet_pass",
        "Today America engages the world with confidence, and we tread lightly on no one's hopes. "
        "Proud of our diplomats!", PASS)
    add(2662, "kwe_engage_singular",
        "Today America will engage the world with confidence, and we tread lightly on no one's "
        "hopes. Proud of our diplomats!", FAIL)

    letter = L(
        "Dear Support Team,",
        "",
        "I bought a blender from your store on 3 March and it arrived broken and {U}. I placed my "
        "{T} in your {B} because of its reputation, and I expected a quick refund.",
        "",
        "Your own refund {P} promises a full refund within 30 days, and consumer protection {L} "
        "requires the same. As a loyal {C} I ask you to honour it.",
        "",
        "Sincerely,",
        "Dana Whitfield",
    )
    kw = dict(U="unusable", T="trust", B="brand", P="policy", L="law", C="customer")
    add(3156, "kwe_six_keywords", letter.format(**kw), PASS)
    add(3156, "kwe_lawyer_for_law", letter.format(**dict(kw, L="my lawyer says it")), PASS)
    add(3156, "kwe_missing_policy", letter.format(**dict(kw, P="terms")), FAIL)
    add(3156, "kwe_hyphenated_across_lines", letter.format(**dict(kw, C="cus-\ntomer")), FAIL)


# =============================================================================================
# keywords:frequency — count of non-overlapping case-insensitive regex matches
# =============================================================================================

def keywords_frequency():
    syn = [
        "Using two names for the same thing gives writers variety.",
        "Synonyms keep a long report from sounding repetitive.",
        "However, synonyms can confuse readers who think two names mean two things.",
        "In code, SYNONYMS for one variable are a classic source of bugs.",
        "A glossary that lists synonyms side by side solves most of the trouble.",
    ]
    add(1393, "kwf_exactly_three", " ".join(syn[:4]), PASS)
    add(1393, "kwf_only_two", " ".join(syn[:3]), FAIL)
    add(1393, "kwf_synonymous_not_counted",
        " ".join(syn[:3]) + " Two synonymous labels are fine in poetry.", FAIL)
    add(1393, "kwf_bold_split_third",
        " ".join(syn[:3]) + " In code, **syn**onyms for one variable are a classic source of bugs.", LOOSE)

    tweet = ("Meet {0}: the team that ships on time. {1} builds apps, {2} fixes bugs, {3} answers "
             "support at 3am, and {4} never stops. #{5} #hiring")
    add(1857, "kwf_grid_five", tweet.format("grid", "Grid", "GRID", "grid", "grid", "devlife"), PASS)
    add(1857, "kwf_grid_in_hashtag_and_gridlock",
        tweet.format("grid", "Grid", "we", "grid", "nothing (not even gridlock)", "grid"), PASS)
    add(1857, "kwf_grid_four", tweet.format("grid", "Grid", "we", "grid", "grid", "devlife"), FAIL)

    cover = L(
        "Dear Hiring Manager,",
        "",
        "I am writing to apply for a software engineering role at your company. For six years I "
        "have built web apps, led small teams and shipped products used by millions.",
        "",
        "{X}",
        "",
        "I would love to bring my skills to your team. Thank you for your time.",
        "",
        "Kind regards,",
        "Sam Ortiz",
    )
    add(2716, "kwf_the_zero", cover.format(X="My strongest skill is turning vague ideas into clear plans."), PASS)
    add(2716, "kwf_the_once", cover.format(X="My strongest skill is turning the vague ideas into clear plans."), PASS)
    add(2716, "kwf_the_inside_words",
        cover.format(X="My strongest skill is turning ideas into plans that others can use, whether small or large."), FAIL)
    add(2716, "kwf_the_twice", cover.format(X="The best part of my job is the moment a product launches."), FAIL)
    add(2716, "kwf_preamble_line_has_the",
        "Here is the letter you asked for:\n" + cover.format(
            X="My strongest skill is turning the vague ideas into clear plans."), LOOSE)

    itin = ('{{"day_1": "Red Square, St. Basil\'s Cathedral and the Kremlin, symbol of the city since '
            'its {0}", "day_2": "Tretyakov Gallery and Gorky Park", "day_3": "Metro tour and '
            'Izmailovo market{1}"}}')
    add(2392, "kwf_founding_once", itin.format("founding", ""), PASS)
    add(2392, "kwf_founding_twice_mixed_case", itin.format("founding", ", near a Founding-era church"), FAIL)
    add(2392, "kwf_cofounding_counts", itin.format("founding", ", and the co-founding families"), FAIL)
    add(2392, "kwf_founding_in_last_line",
        itin.format("founding", "") + "\nTip: read about the founding of Moscow first.", LOOSE)

    letter = L(
        "Dear Editor,",
        "",
        "I am writing as a resident who is worried about pollution in our river. {X}",
        "",
        "Sincerely,",
        "[Your name]",
    )
    add(2997, "kwf_para_inside_paragraph",
        letter.format(X="In this short paragraph I ask the council to act before summer."), PASS)
    add(2997, "kwf_para_as_word", letter.format(X="Para mi, this is a question of health."), PASS)
    add(2997, "kwf_para_inside_separate",
        letter.format(X="We must separate sewage from storm water."), PASS)
    add(2997, "kwf_para_absent", letter.format(X="Please act before summer."), FAIL)

    quiz = L(
        "Bits Quiz",
        "1. How many bits are in a byte? Hint: more than an {0} has legs.",
        "2. A bit can be 0 or 1. Which value means 'on'?",
        "3. If an {1} remembers everything, how many bits would it need for one yes/no fact?",
        "4. Bonus: draw an {2} using only 0s and 1s.",
    )
    add(3091, "kwf_elephant_three", quiz.format("elephant", "elephant", "elephant"), PASS)
    add(3091, "kwf_elephants_plural_counts", quiz.format("elephant", "Elephants", "ELEPHANT"), PASS)
    add(3091, "kwf_elephant_two", quiz.format("elephant", "elephant", "animal"), FAIL)
    add(3091, "kwf_elephant_bold_split", quiz.format("elephant", "elephant", "ele**phant**"), LOOSE)

    tale = P(
        "Once upon a time a princess met a dragon at the edge of the kingdom. \"Why do you guard "
        "this bridge?\" she asked.",
        "\"Because nobody ever brings me tea,\" the dragon {0}.",
        "\"Then I shall bring you tea every Sunday,\" the princess {1}, and they were friends ever after.",
    )
    add(1733, "kwf_replied_twice", tale.format("replied", "replied"), PASS)
    add(1733, "kwf_replied_caps", tale.format("REPLIED", "Replied"), PASS)
    add(1733, "kwf_replies_not_replied", tale.format("replies", "replied"), FAIL)

    add(2871, "kwf_fiesta_plural", "Father Luis, tell me about the old reductions, where each fiesta "
        "filled the plaza. The fiestas were the heart of the mission.", PASS)
    add(2871, "kwf_fiesta_accent", "Father Luis, tell me about the old reductions, where each fi\u00e9sta "
        "filled the plaza. The fiestas were the heart of the mission.", FAIL)

    story = ("At thirty, Mara realised adulthood meant remembering birthdays. Her {0} laughed at "
             "her calendar, but the {1} still came to her flat every Sunday. One of her {2} said it "
             "was the best part of growing up.")
    add(3109, "kwf_cousins_three", story.format("cousins", "cousins", "cousins"), PASS)
    add(3109, "kwf_cousins_apostrophe", story.format("cousins'", "cousins", "cousin's friends"), FAIL)

    add(2292, "kwf_clearly_in_unclearly",
        "Moms, meet Breach Posterior. Cancer treatment is often explained unclearly, so we keep it "
        "simple. Clearly, families deserve better, and our cure delivers.", PASS)

    pitch = ("Meet Breach Posterior! We clearly love moms. Our cure is {0} the best news your family "
             "will hear this year.")
    add(2292, "kwf_clearly_twice", pitch.format("clearly"), PASS)
    add(2292, "kwf_clearly_once", pitch.format("simply"), FAIL)

    song = L(
        "Tomatoes and brothers, a saucy affair,",
        "Word associations fly through the air;",
        "Red means ripe and loud means Jake,",
        "Associations we cannot shake.",
        "Brotherly associations, juicy and bright,",
        "{0}",
    )
    add(1498, "kwf_associations_four", song.format("Our associations last all night!"), PASS)
    add(1498, "kwf_associations_three", song.format("Tomato fights last all night!"), FAIL)

    prop = ("Course proposal: The History of the World, as Told by Dogs. Week one looks at wolves, "
            "the predatory ancestors of every poodle. Week two asks whether a {0} instinct survives "
            "in the family terrier.")
    add(2142, "kwf_predatory_twice", prop.format("predatory"), PASS)
    add(2142, "kwf_predator_not_predatory", prop.format("predator's"), FAIL)

    # Prompts with two frequency instructions on the same keyword (a range).
    essay = ("Snow is falling again, and they want you to believe it is natural. {0} Wake up, "
             "dammit! Look at the sky.")
    fake = lambda n: " ".join(["This snow is fake."] * n)
    add(3327, "kwf_range_six", essay.format(fake(6)), PASS)
    add(3327, "kwf_range_seven", essay.format(fake(7)), PASS)
    add(3327, "kwf_range_eight", essay.format(fake(8)), FAIL)
    add(3327, "kwf_range_five", essay.format(fake(5)), FAIL)
    add(3327, "kwf_range_fakery_counts", essay.format(fake(5) + " Pure fakery."), PASS)


# =============================================================================================
# keywords:forbidden_words — case-insensitive whole-word regex \bWORD\b (Unicode \b)
# =============================================================================================

def keywords_forbidden():
    bike = P(
        "Maya wanted to {X} her red bike all the way to the park. Her dad held the seat while "
        "she pedalled, wobbling left and right.",
        "\"You {Y} do it!\" he cheered. On the third try she kept her balance, and soon she was "
        "zooming past the canoe club with a huge grin.",
    )
    add(1580, "kwfb_clean", bike.format(X="pedal", Y="will"), PASS)
    add(1580, "kwfb_can_t_contraction", bike.format(X="pedal", Y="can't fail to"), LOOSE)
    add(1580, "kwfb_ride_capitalised", bike.format(X="Ride", Y="will"), LOOSE)
    add(1580, "kwfb_ride_middle_paragraph", P(bike.format(X="pedal", Y="will"), "Next week they will ride to the lake.",
        "The end."), FAIL)
    add(1580, "kwfb_rider_and_pride", bike.format(X="proudly pedal, a rider full of pride, on", Y="will"), PASS)
    add(1580, "kwfb_can_in_canada_canoe", bike.format(X="pedal to Canada on", Y="will"), PASS)
    add(1580, "kwfb_ride_only_in_first_line",
        "Learning to Ride\n" + bike.format(X="pedal", Y="will"), LOOSE)

    arctic = ("{A} The Arctic is extremely cold for most of the year. Winter temperatures often fall "
              "below minus thirty degrees, and even summer rarely feels warm. {B}")
    add(2028, "kwfb_clean", arctic.format(A="Absolutely.", B="Nobody should visit without good boots."), PASS)
    add(2028, "kwfb_yes_first_word", arctic.format(A="Yes.", B="Bring good boots."), FAIL)
    add(2028, "kwfb_no_hyphenated", arctic.format(A="Indeed.", B="Almost no-one visits in January."), FAIL)
    add(2028, "kwfb_substrings_eyes_know", arctic.format(
        A="Indeed, as you probably know from yesterday's forecast.", B="Your eyes need sunglasses because the snow is so bright."), PASS)
    add(2028, "kwfb_yes_on_own_first_line",
        "Yes!\n" + arctic.format(A="Indeed.", B="Bring good boots."), LOOSE)
    add(2028, "kwfb_no_in_last_line",
        arctic.format(A="Indeed.", B="Bring good boots.") + "\nNo exceptions.", LOOSE)

    add(2207, "kwfb_clean", "Summary: We found that VHF radio waves do not affect the growth of "
        "bacteria. The effect is negligible in all samples we haven't excluded.", PASS)
    add(2207, "kwfb_have_present", "Summary: We have found that VHF radio waves do not affect the "
        "growth of bacteria.", FAIL)
    add(2207, "kwfb_ours_with_period", "Summary: The finding that VHF radio waves do not affect "
        "bacteria is ours.", FAIL)
    add(2207, "kwfb_behave_yours", "Summary: Bacteria behave normally under VHF radio waves; yours "
        "will too.", PASS)

    sap = L(
        "How to document a GM (goods movement) in SAP:",
        "1. Open transaction MIGO and choose the movement type.",
        "2. Enter the material, plant and storage location.",
        "3. {X}",
        "4. Post the document and note the material document number.",
    )
    add(3166, "kwfb_clean", sap.format(X="Check the quantity and the posting date."), PASS)
    add(3166, "kwfb_step_by_step", sap.format(X="Check each field step-by-step."), FAIL)
    add(3166, "kwfb_footsteps_stepwise", sap.format(X="Check the fields in a stepwise way, following in the footsteps of your team lead."), PASS)
    add(3166, "kwfb_steps_capitalised", sap.format(X="Repeat Steps 1 and 2 for each item."), FAIL)

    add(1629, "kwfb_clean", "The bus rolled into the terminal with a hiss of brakes and a sigh of relief.", PASS)
    add(1629, "kwfb_station_plain", "The bus finally rolled into the station with a hiss of brakes.", FAIL)
    add(1629, "kwfb_stationary", "The bus came to a stationary halt with a hiss of brakes.", PASS)
    add(1629, "kwfb_station_umlaut_suffix", "The bus reached the station\u00e4re Haltestelle with a hiss of brakes.", PASS)
    add(1629, "kwfb_station_possessive", "The station's clock chimed as the bus rolled in.", FAIL)
    add(1629, "kwfb_station_underscore", "The bus rolled into bus_station_7 with a hiss of brakes.", PASS)

    add(1675, "kwfb_clean", "\"Das Wetter ist sch\u00f6n.\" Or, to stress the day: \"Am heutigen Tag ist das Wetter sch\u00f6n.\"", PASS)
    add(1675, "kwfb_heute_present", "\"Heute ist das Wetter sch\u00f6n.\"", FAIL)
    add(1675, "kwfb_heutzutage", "\"Das Wetter ist sch\u00f6n.\" Heutzutage sagt man auch: \"Was f\u00fcr ein sch\u00f6ner Tag!\"", PASS)

    add(2534, "kwfb_clean", "German: \"Werner war ein guter Freund von mir, aber nicht sehr klug.\" "
        "Critique: the sentence is polite but a little cold.", PASS)
    add(2534, "kwfb_schlau_present", "German: \"Werner war ein guter Freund von mir, aber nicht sehr schlau.\" "
        "Critique: the sentence is polite but a little cold.", FAIL)
    add(2534, "kwfb_schlauer_schlaumeier", "German: \"Werner war ein guter Freund, aber kein Schlaumeier, "
        "und nicht schlauer als ich.\"", PASS)

    rap = L(
        "Mic in my hand and the beat on loop,",
        "Rhymes on the stove like a hot bowl of soup,",
        "{X}",
        "Stay cool, stay kind, that's the end of the troop.",
    )
    add(2811, "kwfb_clean", rap.format(X="Yoga in the morning, chess when it's checkmate,"), PASS)
    add(2811, "kwfb_yo_exclaim", rap.format(X="Yo! Listen up, I'm never late,"), FAIL)
    add(2811, "kwfb_check_in_hyphen", rap.format(X="Check-in at the club, I'm never late,"), FAIL)
    add(2811, "kwfb_peaceful_yours", rap.format(X="Peaceful like a lake, the win is yours, mate,"), PASS)

    pitch = "Introducing MemoryVault: a {X} service that seals letters and photos for your future self."
    add(2328, "kwfb_clean", pitch.format(X="time-lock"), PASS)
    add(2328, "kwfb_capsule_present", pitch.format(X="time capsule"), FAIL)
    add(2328, "kwfb_startups_plural", pitch.format(X="time-lock") + " Startups love it; so do capsules of nostalgia.", PASS)
    add(2328, "kwfb_start_up_hyphen", pitch.format(X="time-lock") + " We are a young start-up.", PASS)
    add(2328, "kwfb_startup_camel", pitch.format(X="time-lock") + " A StartUp with heart.", FAIL)

    add(3445, "kwfb_clean", "Say that you study how machines think and how to build the programs "
        "that run the modern world.", PASS)
    add(3445, "kwfb_both_present", "Say that you study Computer Science.", FAIL)
    add(3445, "kwfb_computational_sciences", "Say that you study computational sciences.", PASS)

    add(301, "kwfb_clean", "First, find a flat path. Hold the handlebars, push off, and pedal "
        "steadily. Look ahead, not down, and you will probably stay balanced, unlike most "
        "beginners who are kidding themselves about training wheels.", PASS)
    add(301, "kwfb_like_present", "First, find a flat path. Pedal like a pro.", FAIL)
    add(301, "kwfb_kids_plural", "First, find a flat path where other kids play.", PASS)

    add(2432, "kwfb_clean", "I am so sorry for the loss of your best friend. Please let me know "
        "if I can bring you dinner or just sit with you this week.", PASS)
    add(2432, "kwfb_drowned_in_first_line",
        "I am so sorry your friend drowned.\nPlease let me know if I can bring you dinner or "
        "just sit with you this week.", LOOSE)
    add(2432, "kwfb_died_in_body", "I am so sorry. When my cousin died, friends brought food; "
        "let me do the same for you.", FAIL)

    add(2828, "kwfb_parody_title_line",
        "Parody: Ars Poetica for the Smartphone Age\nA poem should be swipeable,\nlike a notification.", LOOSE)
    add(2828, "kwfb_parodies_plural", "Ars Poetica, Remixed (one of many parodies)\nA poem should be "
        "swipeable,\nlike a notification.", PASS)

    add(3595, "kwfb_clean", "A rose at dawn, so red, so bright,\nthe most beautiful bloom in morning light.", PASS)
    add(3595, "kwfb_prettiest", "A rose at dawn, the prettiest sight,\nbeautiful and bold in morning light.", PASS)
    add(3595, "kwfb_pretty_present", "A rose at dawn, so pretty, so bright.", FAIL)

    add(3401, "kwfb_clean", L("* Dota 2: two teams, five heroes each, one giant tree to smash!",
        "* Made by Valve, played by millions, snacks not included.",
        "* The International prize pool once topped forty million dollars. Wild!"), PASS)
    add(3401, "kwfb_blizzard_possessive", L("* Dota 2 started as a mod for a Blizzard game.",
        "* Made by Valve, played by millions."), LOOSE)
    add(3401, "kwfb_icefrog_mixed_case", L("* Made by Valve!", "* Mysterious IceFrog designs the heroes!",
        "* Played by millions."), FAIL)

    add(3081, "kwfb_clean", "My fellow Americans, a man was discovered lifeless in his home, and "
        "investigators are working around the clock. This report is thin, yet its users deserve "
        "more care.", PASS)
    add(3081, "kwfb_use_present", "My fellow Americans, we must use every tool to find the truth.", FAIL)
    add(3081, "kwfb_used_user", "My fellow Americans, investigators used every tool; each user of this "
        "paper deserves the truth.", PASS)

    add(2957, "kwfb_clean", "A tale in the crib, a yarn at the door,\nthe babies all listened and begged for some more.", PASS)
    add(2957, "kwfb_nursery_present", "In the nursery at night, a tale at the door.", FAIL)


# =============================================================================================
# keywords:letter_frequency — Counter(response.lower())[letter], compared with the relation.
# Keys 1122 ('#') and 1129 ('!') have a non-letter `letter`: upstream picks a random letter.
# =============================================================================================

def letter_count(text, letter):
    return text.lower().count(letter)


def keywords_letter():
    quiz = ("Logic puzzle for young minds: four friends each pick one sofa. Anna picks pink. Ben "
            "picks blue. Carl dislikes wool. Dora picks red. Who picks a chesterfield, which is "
            "dark green? Clue: his name ends in L.")
    assert letter_count(quiz, "t") == 1
    add(1130, "klf_t_once", quiz, PASS)
    add(1130, "klf_t_twice", quiz.replace("Carl dislikes wool", "Carl hates wool"), FAIL)
    add(1130, "klf_uppercase_T_counts", quiz.replace("Dora picks red", "Tess picks red"), FAIL)
    add(1130, "klf_t_in_first_line", "Quiz Time\n" + quiz, LOOSE)
    add(1130, "klf_fullwidth_T_not_counted", quiz.replace("Dora picks red", "\uff34ess picks red"), PASS)

    story = ("Jack walked home. \"Good evening,\" Sam called. \"How was work?\" \"Long day,\" Jack "
             "answered. \"Tomorrow Tom and I go to the shore.\"")
    assert letter_count(story, "i") == 2
    add(201, "klf_i_twice", story, PASS)
    add(201, "klf_i_three_times", story.replace("the shore", "the islands"), FAIL)
    add(201, "klf_dotted_capital_I_lowercases_to_i",
        story.replace("the shore", "\u0130stanbul"), FAIL)  # 'İ'.lower() == 'i' + U+0307
    add(201, "klf_dotless_i_not_counted", story.replace("the shore", "Kad\u0131k\u00f6y"), PASS)

    song = "Layton, you rock my world,\nYou stole my soul so quick,\nWe groove under the lights,\nYou're my song, my pick."
    assert letter_count(song, "a") == 1
    add(3478, "klf_a_once", song, PASS)
    add(3478, "klf_a_twice", song.replace("soul", "heart"), LOOSE)
    add(3478, "klf_title_line_adds_A", "A Song for Layton\n" + song, LOOSE)
    add(3478, "klf_a_with_accent_not_counted", song.replace("soul", "\u00e2me"), PASS)

    rubric = "A poem should sing; judge its rhythm,\nIts images, its sound, its heart,\nIts ending should surprise the reader,\nEach line should play its part."
    assert letter_count(rubric, "w") == 0
    add(2447, "klf_w_zero", rubric, PASS)
    add(2447, "klf_w_once", rubric.replace("should sing", "should swing"), PASS)
    add(2447, "klf_w_twice_one_uppercase", "What Makes a Poem Work\n" + rubric, LOOSE)
    add(2447, "klf_w_twice_in_body", rubric.replace("should sing", "should swing") + "\nWell done.", LOOSE)
    add(2447, "klf_w_twice_mid", rubric.replace("judge its rhythm", "weigh its rhythm").replace(
        "surprise the reader", "wake the reader"), LOOSE)

    resume = L(
        "helene moreau",
        "email: helene@example.com",
        "summary: caring store clerk, five years of retail work.",
        "skills: cash desk, stock, help for buyers.",
    )
    assert letter_count(resume, "n") == 3
    add(251, "klf_n_three", resume, PASS)
    add(251, "klf_n_eight_mid", resume.replace("\nskills", "\nlanguages: french, english, spanish, german.\nskills"), FAIL)
    add(251, "klf_n_six_mid", resume.replace("\nskills", "\nlanguages: french, english.\nskills"), PASS)

    panda = ("The panda is a big animal. It is black and white. It eats bamboo, lolling lazily all "
             "day long in a little hollow.")
    add(2107, "klf_l_many", panda, PASS)
    add(2107, "klf_l_four", "The panda is a big animal. It is black and white. It eats bamboo all day.", FAIL)
    add(2107, "klf_capital_L_counts", "The panda is a big animal. It is black and white. It eats "
        "bamboo all day. LOL, LOL.", PASS)

    rap = L(
        "Yo, the {Q}uick chief with the {Q}uiet {Q}uill,",
        "Signs the bills with a steady will,",
        "Asks the {Q}uestion that the nation can't ignore:",
        "Who keeps the peace and who keeps score?",
    )
    add(2265, "klf_q_four", rap.replace("{Q}", "q"), PASS)
    add(2265, "klf_q_uppercase_counts", rap.replace("{Q}", "Q"), PASS)
    add(2265, "klf_q_three", rap.replace("{Q}uiet ", "silent ").replace("{Q}", "q"), FAIL)

    tax = ("In this quarter we must quickly and quietly equip every taxpayer with quality guidance, "
           "so that no quibble, query or quarrel delays the filing of a single honest return.")
    assert letter_count(tax, "q") == 8
    add(3428, "klf_q_eight", tax, PASS)
    add(3428, "klf_q_five", "In this quarter we must quickly equip every taxpayer with guidance, so "
        "that no query or quarrel delays the filing of a single honest return.", FAIL)

    tmpl = L(
        "Subject: {S}",
        "",
        "Hi [Manager],",
        "Could we review the budgets for next quarter? I have a quick question about spending.",
        "Thanks,",
        "[Name]",
    )
    add(2768, "klf_q_five", tmpl.format(S="Quarterly budget question"), PASS)
    add(2768, "klf_q_three", tmpl.format(S="Budget review"), FAIL)
    add(2779, "klf_q_under_five", L(
        "* \"Hi Bautista, please let me know if you need help with the graphs.\"",
        "* \"Bautista, I am happy to assist with the charts whenever you like.\""), PASS)
    add(2779, "klf_q_in_heading_line", L(
        "Quick, quality, quirky phrasings (quoted):",
        "* \"Hi Bautista, please let me know if you need help with the graphs.\"",
        "* \"Bautista, I am happy to assist with the charts whenever you like.\" Any questions?"), LOOSE)

    # Non-letter kwargs: upstream replaces '#' / '!' by a random ASCII letter.
    tweet = "new issue out now. {H} cover star, {H} interview, {H} fashion, {H} party. link in bio."
    add(1122, "klf_hash_four", tweet.format(H="#").replace("# cover", "#cover").replace(
        "# interview", "#interview").replace("# fashion", "#fashion").replace("# party", "#party"))
    add(1122, "klf_hash_three", "new issue out now. #coverstar #interview #fashion and a party. link in bio.")
    add(1122, "klf_hash_many_letters", "#playboy #newissue #covergirl #fashion #style #bunny #party "
        "#weekend #magazine #lifestyle. pick up your copy today, darling.")
    add(1122, "klf_hash_none_no_letters", "!!! ??? 123 ... 456")

    req = PROMPTS[1129]["kwargs"][1]["prompt_to_repeat"]
    add(1129, "klf_bang_total_seven", req + "\nSunnis ice cream is here! Gentle on the stomach! Creamy! "
        "Dreamy! Zero bloat! Buy it today!")
    add(1129, "klf_bang_total_five", req + "\nSunnis ice cream is here! Gentle on the stomach. Creamy! "
        "Dreamy! Zero bloat! Buy it today.")
    add(1129, "klf_bang_total_one", req + "\nSunnis ice cream: gentle on the stomach, kind to everyone.")



# =============================================================================================
# language:response_language — langdetect.detect(response) == code; a detection exception
# (no letters at all) counts as followed. Texts were chosen so that langdetect gives the same
# answer under every seed tried (0..11); `hinglish` is the exception and flips between 'id' and
# 'so' (both fail a 'hi' requirement).
# =============================================================================================

LANG_TEXT = {
"kn": "ಹ್ಯಾಂಬರ್ಗರ್ ಒಂದು ರೀತಿಯ ಸ್ಯಾಂಡ್‌ವಿಚ್ ಎಂದು ಹಲವರು ಭಾವಿಸುತ್ತಾರೆ. ಎರಡು ಬ್ರೆಡ್ ತುಂಡುಗಳ ನಡುವೆ ಮಾಂಸದ ಪ್ಯಾಟಿ ಇರುತ್ತದೆ, ಆದ್ದರಿಂದ ಇದು ಸ್ಯಾಂಡ್‌ವಿಚ್‌ನಂತೆಯೇ ಕಾಣುತ್ತದೆ. ಆದರೆ ಅನೇಕ ಜನರು ಇದನ್ನು ಪ್ರತ್ಯೇಕ ಆಹಾರವೆಂದು ಪರಿಗಣಿಸುತ್ತಾರೆ.",
"kn2": "ಅಮೆರಿಕದ ಇತಿಹಾಸದ ಬಗ್ಗೆ ಕೆಲವು ಉತ್ತಮ ಪುಸ್ತಕಗಳು ಇಲ್ಲಿವೆ. ಮೊದಲನೆಯದು ಸ್ವಾತಂತ್ರ್ಯ ಸಂಗ್ರಾಮದ ಕಥೆಯನ್ನು ಸರಳವಾಗಿ ಹೇಳುತ್ತದೆ. ಎರಡನೆಯದು ಅಂತರ್ಯುದ್ಧದ ಕಾಲದ ಜನರ ಜೀವನವನ್ನು ವಿವರಿಸುತ್ತದೆ.",
"pa": "ਸਾਫਟਵੇਅਰ ਇੰਜੀਨੀਅਰ ਦੇ ਤਕਨੀਕੀ ਹੁਨਰ ਦਾ ਮੁਲਾਂਕਣ ਕਰਨ ਲਈ ਇਹ ਰੂਬਰਿਕ ਵਰਤੋ। ਪਹਿਲਾ ਹਿੱਸਾ ਕੋਡ ਦੀ ਗੁਣਵੱਤਾ ਬਾਰੇ ਹੈ। ਦੂਜਾ ਹਿੱਸਾ ਸਮੱਸਿਆ ਹੱਲ ਕਰਨ ਦੀ ਯੋਗਤਾ ਬਾਰੇ ਹੈ। ਤੀਜਾ ਹਿੱਸਾ ਟੀਮ ਨਾਲ ਮਿਲ ਕੇ ਕੰਮ ਕਰਨ ਬਾਰੇ ਹੈ।",
"mr": "सकाळी घाईघाईने कामावर जाताना रस्त्यावर खूप गर्दी असते.\nबस चुकली की मन अस्वस्थ होते आणि घड्याळ पुढे धावते.\nतरीही आकाशातील सूर्य हसत असतो आणि मी पुन्हा धावायला लागतो.",
"hi": "आज जो खाना परोसा गया वह बिल्कुल बेस्वाद और ठंडा था। मैं इस बात से बहुत नाराज़ हूँ कि रसोई में साफ़-सफ़ाई का कोई ध्यान नहीं रखा गया। कृपया इस समस्या को तुरंत ठीक करें, वरना हम सब शिकायत दर्ज करेंगे।",
"hi2": "नए विचारों की धूप में, सपनों का व्यापार खिले,\nछोटे गाँव के किसानों को, मोबाइल पर बाज़ार मिले।\nपढ़ाई हो घर-घर तक, हर बच्चे के हाथ किताब,\nयही है मेरे स्टार्टअप का, सबसे सुंदर ख़्वाब।",
"ne": "बिराटनगरको दस दिने यात्राको योजना यस प्रकार छ। पहिलो दिन हामी सहरको बजार घुम्नेछौं र स्थानीय खाना खानेछौं। दोस्रो दिन कोशी नदीको किनारमा जानेछौं। तेस्रो दिन नजिकैको गाउँमा बस्नेछौं र त्यहाँका मानिसहरूसँग कुरा गर्नेछौं।",
"fa": "یودا ناگهان در جهانی دیگر بیدار شد. آسمان آن جهان بنفش بود و درختان آواز می‌خواندند. او با خود گفت که این‌جا خانه‌ی من نیست، اما شاید بتوانم چیزی یاد بگیرم.",
"ar": "تتطلع الشركة إلى توسيع عملياتها في أسواق جديدة خلال هذا العام. وسوف يؤدي هذا التوسع إلى خلق مئات من فرص العمل للشباب في المنطقة. كما تخطط الشركة لافتتاح مكاتب جديدة في عدة مدن.",
"ur": "احمد: کیا تم نے نئی کتاب پڑھی ہے؟\nسارہ: ہاں، میں نے اسے دو دن میں ختم کر لیا۔ یہ گھر میں تعلیم کے بارے میں ایک بہترین رہنمائی ہے۔\nاحمد: مجھے بھی یہ بہت پسند آئی، اس میں والدین کے لیے بہت سے مفید مشورے ہیں۔",
"ko": "제방과 둑은 비슷해 보이지만 차이가 있습니다. 제방은 주로 강물이 넘치지 않도록 강가를 따라 쌓은 구조물입니다. 둑은 더 넓은 의미로 물이나 흙을 막기 위해 쌓은 모든 구조물을 말합니다.",
"sw": "Kwa nini mchumba alikataa pete ya uchumba? Kwa sababu alisema almasi ni ndogo kuliko matumaini yake! Hata hivyo walicheka pamoja na kuamua kuoana mwaka ujao.",
"sw2": "Siku ya Alhamisi, mwalimu aliwauliza wanafunzi maana ya neno amalgamation. Mwanafunzi mmoja alijibu kwamba ni mchanganyiko wa chai ya asubuhi na maandazi ya jana! Darasa zima lilicheka sana.",
"ru": "Решётка — это узор из точек, которые повторяются через одинаковые промежутки. Представь себе шахматную доску или пчелиные соты. Каждая точка стоит на своём месте, и вместе они образуют красивую и правильную структуру.",
"bg": "Решетката е структура от точки, които се повтарят на равни разстояния. Представете си шахматна дъска или пчелна пита. Всяка точка е на своето място и заедно те образуват красива и правилна форма.",
"gu": "ગુજરાતી વ્યક્તિને પહેલી વાર મળો ત્યારે તમે પૂછી શકો કે તમારી મનપસંદ ગુજરાતી વાનગી કઈ છે? આ પ્રશ્નથી વાતચીત સરળતાથી શરૂ થાય છે અને સામેની વ્યક્તિને પોતાની સંસ્કૃતિ વિશે વાત કરવાની તક મળે છે.",
"te": "మేము సృష్టికర్తల బృందం. మేము కలిసి కొత్త ఆలోచనలను నిజం చేస్తాము. ఈ వాక్యాన్ని ఎంచుకున్నాను ఎందుకంటే ఇది సహకారాన్ని స్పష్టంగా చూపిస్తుంది.",
"de": "Google, Facebook, Microsoft, Apple und Amazon geben jedes Jahr Millionen für Lobbyarbeit in Washington aus. Amazon und Facebook gehören seit einigen Jahren zu den größten Ausgebern. Die Unternehmen wollen vor allem Einfluss auf Regeln zum Datenschutz und zum Wettbewerb nehmen.",
"vi": "Câu này buồn cười quá vì mẹ không phải là nhân viên của công ty nuôi dạy con cái",
"pt": "Bom dia, Brasil! Hoje é um ótimo dia para aprender algo novo e sorrir com os amigos.",
"it": "Caro Marco, ti scrivo per raccontarti del mio viaggio a Roma. La città è bellissima e il cibo è davvero squisito.",
"ta": "இந்த படம் மிகவும் அருமையான குடும்பக் கதை கொண்டது மற்றும் இசை மனதை தொடும்",
"fi": "Kun haistat kukkaa, nenäsi tunnistaa pieniä tuoksuhiukkasia. Aivosi kertovat sinulle, että kukka tuoksuu hyvältä.",
"th": "อะไรเอ่ยมีช่องเต็มไปหมดแต่ไม่ใช่ตาข่าย ใช้คำนวณตัวเลขได้ทั้งวันโดยไม่เหนื่อย",
"bn": "২০২২ সালের গুগল আই/ও সম্মেলনে অনেক নতুন প্রযুক্তি ঘোষণা করা হয়েছে। নতুন পিক্সেল ফোন এবং উন্নত অনুবাদ সুবিধা সবার নজর কেড়েছে।",
"hinglish": "Aaj ka khana bilkul bekaar tha aur bahut thanda bhi tha, kripya isse jaldi theek karo.",
}


ENGLISH_ANSWER = ("Yes, in a loose sense. A hamburger is a hot patty served between two halves of a "
                  "bun, which is exactly how most people would describe a sandwich.")


def response_language():
    single = {1108: "kn", 2685: "kn2", 1154: "pa", 1259: "mr", 3130: "hi", 2464: "hi2", 3653: "ne",
              1477: "fa", 3241: "ar", 3567: "ur", 2225: "ko", 2299: "sw", 2309: "sw2", 240: "ru",
              3112: "gu", 3191: "te", 3682: "de"}
    for key, name in single.items():
        assert kwarg(key, "language:response_language", "language") == name.rstrip("2"), key
        add(key, "lang_native", LANG_TEXT[name], PASS)
        add(key, "lang_english_answer", ENGLISH_ANSWER, FAIL)
    # Close neighbours: same script, different language.
    add(3130, "lang_marathi_for_hindi", LANG_TEXT["mr"], FAIL)
    add(3130, "lang_nepali_for_hindi", LANG_TEXT["ne"], FAIL)
    add(3130, "lang_romanised_hindi", LANG_TEXT["hinglish"], FAIL)
    add(1259, "lang_hindi_for_marathi", LANG_TEXT["hi"], FAIL)
    add(3567, "lang_persian_for_urdu", LANG_TEXT["fa"], FAIL)
    add(1477, "lang_arabic_for_persian", LANG_TEXT["ar"], FAIL)
    add(1477, "lang_urdu_for_persian", LANG_TEXT["ur"], FAIL)
    add(240, "lang_bulgarian_for_russian", LANG_TEXT["bg"], FAIL)
    # Mixed: an English preamble line. Short preamble: detection still sees the target language;
    # long preamble on its own first line: strict fails, loose (first line removed) passes.
    add(2225, "lang_short_english_preamble", "Sure!\n" + LANG_TEXT["ko"], PASS)
    long_pre = ("Sure, here is a lame joke about engagements, written entirely in Swahili as you asked "
                "me to do in your message today, and I really hope that you and all of your friends "
                "will enjoy reading it as much as I enjoyed writing it for you: It took me a while to find "
                "the right words, because jokes are always hard to translate, but I think this one works well "
                "and it should make everyone at the party laugh out loud.")
    add(2299, "lang_long_english_first_line", long_pre + "\n" + LANG_TEXT["sw"], LOOSE)
    add(3682, "lang_english_sign_off_last_line",
        "Lobbyarbeit: Google und Amazon geben viel Geld aus.\nI hope this summary of the lobbying "
        "spending of these large technology companies is helpful for your research project.", LOOSE)
    add(3682, "lang_german_with_english_names", LANG_TEXT["de"], PASS)
    # No letters at all: langdetect raises LangDetectException -> counted as followed.
    add(1108, "lang_emoji_only_detection_error", "\U0001F354 \U0001F96A ? \U0001F914", PASS)
    add(240, "lang_digits_only_detection_error", "1 + 1 = 2; 2 + 2 = 4.", PASS)
    add(3112, "lang_fullwidth_latin_detection_error", "\uff27\uff55\uff4a\uff41\uff52\uff41\uff54\uff49?", PASS)


# =============================================================================================
# length_constraints:number_sentences — len(Punkt English sentence tokenizer(response))
# =============================================================================================

INTERNET = [
    "The Internet began as a small research network that linked four American universities.",
    "Its designers wanted computers to share information even if part of the network failed.",
    "Messages were broken into packets that could travel along many different paths.",
    "Over the next decade the network grew to connect laboratories across the country.",
    "Engineers then agreed on a common language that let different networks talk to each other.",
    "That shared protocol is still the foundation of every website we visit today.",
    "Electronic mail quickly became the most popular use of the young network.",
    "Scientists who had never met began to collaborate across oceans and time zones.",
    "A physicist in Switzerland later proposed a simple way to link documents together.",
    "His idea became the World Wide Web, and it opened the network to ordinary people.",
    "Graphical browsers turned pages of text into colourful windows on the world.",
    "Companies soon realised that the Web was a new place to sell things.",
    "Some of those early businesses failed spectacularly when the first bubble burst.",
    "Others survived and grew into the giants that shape our lives today.",
    "Search engines made the growing mountain of information easy to explore.",
    "Broadband replaced the screech of dial-up modems in millions of homes.",
    "Social networks let families share photos and friends share every passing thought.",
    "Smartphones then put the entire network into our pockets.",
    "Today billions of people are online, and many cannot imagine life without it.",
    "Yet the story of the Internet is also a story of open standards and generosity.",
    "Much of its core software was given away freely by its creators.",
    "Volunteers still maintain many of the tools that keep it running.",
    "Our film will tell this story through the voices of the people who built it.",
    "We have already recorded interviews with pioneers from five countries.",
    "Archive footage will show the machines and laboratories where it all began.",
    "Animated sequences will explain packets, protocols and links in a playful way.",
    "The film is aimed at a broad audience, from students to grandparents.",
    "We expect strong interest from schools, libraries and streaming services.",
    "Our director has made three award-winning documentaries about science.",
    "Our producer has brought every one of her projects in on budget.",
    "The total budget is modest for a feature documentary of this scope.",
    "Half of it will cover filming, and the rest will cover editing and music.",
    "Investors will share in revenue from licensing, screenings and education packages.",
    "We also plan a companion website with lesson plans for teachers.",
    "Festivals have already shown interest in an early cut of the film.",
    "Our schedule allows eighteen months from the first shoot to the premiere.",
    "Every month we will send investors a short update with clips and numbers.",
    "Risks are limited because most interviews are already in the can.",
    "The remaining shoots are planned in cities with strong film crews.",
    "We have secured the rights to the archive footage we need.",
    "Music will be composed by a young artist who grew up online.",
    "The visual style will mix old terminals with bright modern graphics.",
    "We believe audiences are ready for a warm and human history of the network.",
    "The people who built it are getting older, and their memories deserve to be recorded.",
    "This is the right moment to tell their story.",
    "Your support will make sure it is told well.",
    "We would be delighted to show you our trailer in person.",
    "Please let us know when a short meeting would suit you.",
    "Thank you for considering this proposal.",
    "Together we can bring the story of the Internet to the big screen.",
    "We look forward to hearing from you.",
    "With warm regards from the whole team.",
]

GOOD_LIFE = [
    "Hey Sam, I have been thinking about what makes a good life.",
    "My first ingredient is good friends, which is why I am writing to you.",
    "The second ingredient is a decent breakfast, preferably pancakes.",
    "Third, you need a hobby that makes you lose track of time.",
    "Mine is still gardening, even though the snails are winning.",
    "Fourth, you need at least one ridiculous hat.",
    "I bought a new one last week and it has a feather.",
    "Fifth, sleep is not optional, no matter what the internet says.",
    "Sixth, call your mother, because she is probably waiting by the phone.",
    "Seventh, learn to cook one dish really well.",
    "My dish is lasagne, and I will make it when you visit.",
    "Eighth, walk somewhere every day, even if it is only to the bakery.",
    "Ninth, keep a little money aside for emergencies and ice cream.",
    "Tenth, laugh at yourself before anybody else gets the chance.",
    "Eleventh, read books that are a little too hard for you.",
    "Twelfth, say thank you more often than seems necessary.",
    "Thirteenth, get a dog, or at least borrow one on weekends.",
    "Fourteenth, forgive people, because holding grudges is exhausting.",
    "Fifteenth, dance badly at weddings.",
    "Sixteenth, write letters like this one instead of short texts.",
    "Seventeenth, remember that nobody has it all figured out.",
    "Eighteenth, visit the sea at least once a year.",
    "Finally, surround yourself with people who make you feel at home.",
    "Write back soon and tell me your list.",
]


def number_sentences():
    # --- 3739: less than 3 --------------------------------------------------------------------
    add(3739, "sent_two", "The green-eyed monster is jealousy. Shakespeare named it in Othello.", PASS)
    add(3739, "sent_three", "The green-eyed monster is jealousy. Shakespeare named it in Othello. "
        "Iago warns Othello about it.", FAIL)
    add(3739, "sent_one_no_final_period", "The green-eyed monster is jealousy", PASS)
    add(3739, "sent_abbrev_dr", "Dr. Lee says the green-eyed monster is jealousy. Shakespeare named "
        "it in Othello.", PASS)
    add(3739, "sent_abbrev_mr_mrs", "Mr. and Mrs. Smith agree that it is jealousy. Shakespeare named it.", PASS)
    add(3739, "sent_eg_mid_sentence", "The monster is jealousy, e.g. envy of a rival. Shakespeare "
        "named it.", FAIL)
    add(3739, "sent_ie_mid_sentence", "The monster is jealousy, i.e. envy. Shakespeare named it.", FAIL)
    add(3739, "sent_decimal_number", "Jealousy troubles 3.5 out of 10 people. Shakespeare called it "
        "the green-eyed monster.", PASS)
    add(3739, "sent_ellipsis_lowercase", "It is jealousy... the green-eyed monster from Othello. "
        "Shakespeare named it.", PASS)
    add(3739, "sent_ellipsis_capital", "It is jealousy... The green-eyed monster comes from Othello. "
        "Shakespeare named it.", FAIL)
    add(3739, "sent_info_separator_char", "It is jealousy.\x1fShakespeare named it.\x1fIago used it.")
    add(3739, "sent_quoted_period", "Iago calls it \"the green-eyed monster.\" It is jealousy.", PASS)
    add(3739, "sent_curly_quoted_period", "Iago calls it \u201cthe green-eyed monster.\u201d It is jealousy.", PASS)
    add(3739, "sent_us_abbrev_then_capital", "Jealousy is common in the U.S. Shakespeare named it. "
        "Iago used it.", PASS)
    add(3739, "sent_us_abbrev_then_he", "Jealousy is common in the U.S. He named it. Iago used it.", FAIL)
    add(3739, "sent_pm_then_capital", "Jealousy peaks at 11 p.m. Then it fades. Shakespeare named it.")
    add(3739, "sent_mt_abbrev", "Jealousy is as old as Mt. Olympus. Shakespeare named it.")
    add(3739, "sent_no_space_after_period", "It is jealousy.Shakespeare named it.Iago used it.", PASS)
    add(3739, "sent_multiple_bangs", "Jealousy!!! Shakespeare named it?! Yes.", FAIL)
    add(3739, "sent_numbered_list", "1. Jealousy.\n2. Envy.", LOOSE)
    add(3739, "sent_lines_without_punctuation", "Jealousy\nthe green-eyed monster\nnamed by Shakespeare", PASS)
    add(3739, "sent_preamble_line", "Sure. Happy to help.\nThe green-eyed monster is jealousy. "
        "Shakespeare named it.", LOOSE)
    add(3739, "sent_trailing_note_line", "The green-eyed monster is jealousy. Shakespeare named it.\n"
        "Hope this helps.", LOOSE)
    add(3739, "sent_non_ascii", "C\u2019est la jalousie, le monstre aux yeux verts. Shakespeare l\u2019a "
        "nomm\u00e9e ainsi. Tr\u00e8s connu.", FAIL)
    add(3739, "sent_cjk_punctuation", "\u5ac9\u5992\u662f\u7eff\u773c\u775b\u7684\u602a\u7269\u3002"
        "\u838e\u58eb\u6bd4\u4e9a\u8fd9\u6837\u547d\u540d\u5b83\u3002\u4f0a\u963f\u53e4\u7528\u8fc7\u3002")

    # --- 2859: XML summary, less than 4 ---------------------------------------------------------
    xml = L(
        "<summary>",
        "  <sentence>Quantum entanglement links particles so that one cannot be described alone.</sentence>",
        "  <sentence>Measuring one particle instantly tells us about the other.</sentence>",
        "  <sentence>Einstein called this spooky action at a distance.</sentence>",
        "</summary>",
    )
    add(2859, "sent_xml_period_before_tag", xml, PASS)
    add(2859, "sent_xml_spaced_periods", xml.replace(".</sentence>", ". </sentence>"), FAIL)
    add(2859, "sent_xml_single_line", "<summary>Entanglement links particles. Measuring one tells us "
        "about the other. Einstein found it spooky. It still puzzles physicists.</summary>", FAIL)

    # --- 2780, 2617, 1268: less than 6 ---------------------------------------------------------
    train = ("I do not have live timetables. Trains to London usually leave every half hour. The "
             "next one is often at 10 a.m. It takes about two hours. Please check the National "
             "Rail website. Have a good trip.")
    add(2780, "sent_am_abbrev_merges", train)
    add(2780, "sent_five", "I do not have live timetables. Trains to London usually leave every half "
        "hour. The journey takes about two hours. Please check the National Rail website. Have a good trip.", PASS)
    add(2780, "sent_six", "I do not have live timetables. Trains to London usually leave every half "
        "hour. The journey takes about two hours. Tickets are cheaper off-peak. Please check the "
        "National Rail website. Have a good trip.", FAIL)
    add(2780, "sent_bullets_no_periods", L("Next trains to London (typical):", "- 10:00 from platform 2",
        "- 10:30 from platform 4", "- 11:00 from platform 2", "- 11:30 from platform 1",
        "- 12:00 from platform 3", "- 12:30 from platform 2"), PASS)
    add(2780, "sent_bullets_with_periods", L("Next trains to London (typical):", "- 10:00 from platform 2.",
        "- 10:30 from platform 4.", "- 11:00 from platform 2.", "- 11:30 from platform 1.",
        "- 12:00 from platform 3.", "- 12:30 from platform 2."), LOOSE)

    tulsa = ["Tulsa starts each morning by collecting five excited dogs from their homes.",
             "She walks them along the river for about an hour.",
             "Along the way she picks up after them and hands out treats for good manners.",
             "After lunch she takes the older dogs on a slower stroll around the park.",
             "In the evening she sends each owner a photo and a short report.",
             "Her clients say their dogs sleep like babies afterwards."]
    add(2617, "sent_five", " ".join(tulsa[:5]), PASS)
    add(2617, "sent_six", " ".join(tulsa), FAIL)
    add(2617, "sent_five_with_st_abbrev", " ".join(tulsa[:4]) + " In the evening she drives to St. "
        "Francis Street and sends each owner a photo.")
    add(2617, "sent_five_plus_title_line", "Tulsa's Day.\n" + " ".join(tulsa[:5]), LOOSE)
    add(2617, "sent_paragraphs_without_periods", "Tulsa collects five dogs each morning\n\nShe walks "
        "them by the river\n\nShe sends owners a photo every evening", PASS)

    journal = ("Dear journal, today the deadline piled up and my chest felt tight. I closed the laptop, "
               "walked around the block and wrote down three things I could control. By dinner I "
               "felt calmer. I came up with this example by imagining a typical workday and the "
               "simplest habits that actually help.")
    add(1268, "sent_four", journal, PASS)
    add(1268, "sent_four_with_questions", journal + " Does it work? Try it!", FAIL)
    add(1268, "sent_quoted_dialogue", "Dear journal, my boss said, \"We ship on Friday.\" I breathed "
        "slowly. I listed what I could control. Then I went for a walk. That is how stress got smaller.", PASS)

    # --- 2266: less than 7 ----------------------------------------------------------------------
    template = L(
        "Template: offset of an element in an array",
        "1. Find the base address of the array, e.g. 0x1000.",
        "2. Find the size of one element in bytes.",
        "3. Multiply the index by the element size.",
        "4. Add the result to the base address.",
        "Formula: address = base + index * size.",
    )
    add(2266, "sent_numbered_template", template)
    add(2266, "sent_prose_template", "To find an element's offset, take its index. Multiply it by the "
        "size of one element. Add the base address. The result is the element's address. For "
        "example, index 3 with 4-byte ints gives an offset of 12 bytes.", PASS)

    # --- 2674, 1381: less than 10 ---------------------------------------------------------------
    song_lines = ["We need a playground, hear our call", "Swings and slides for one and all",
                  "Monkey bars to climb up high", "A rocket ship to touch the sky",
                  "Sandbox castles, seesaw fun", "Room to jump and room to run",
                  "Mr Hall says it will cost a lot", "But happy kids are worth the lot",
                  "So sign the form and raise your hand", "Let's build the best playground in the land",
                  "Recess will never be the same", "Come on and join our playground game"]
    add(1381, "sent_lyrics_no_punctuation", L(*song_lines), PASS)
    add(1381, "sent_lyrics_every_line_period", L(*[s + "." for s in song_lines]), FAIL)
    add(1381, "sent_lyrics_nine_periods", L(*[s + "." for s in song_lines[:9]]), PASS)
    add(1381, "sent_lyrics_verse_labels", L("Verse 1:", *song_lines[:4], "Chorus:", *song_lines[4:8],
        "Verse 2:", *song_lines[8:]), PASS)

    itin = ["Day one starts with breakfast at Pike Place Market.",
            "Ride the monorail to the Space Needle before lunch.",
            "Spend the afternoon at the Chihuly Garden and Glass.",
            "Watch the sunset from Kerry Park.",
            "On day two take the ferry to Bainbridge Island.",
            "Walk through the village and taste the local wine.",
            "Return for dinner in Capitol Hill.",
            "End the trip with a slow walk along the waterfront.",
            "Enjoy your first adventure as a married couple.",
            "Safe travels from New York."]
    add(2674, "sent_nine", " ".join(itin[:9]), PASS)
    add(2674, "sent_ten", " ".join(itin), FAIL)
    add(2674, "sent_ten_one_ends_with_exclamation_inside_quote",
        " ".join(itin[:8]) + " Say \"cheers!\" to married life and safe travels from New York.", FAIL)

    # --- 2589: less than 17 ---------------------------------------------------------------------
    animals = ["The bumblebee bat is about 3 cm long.", "A pygmy shrew reaches about 5 cm.",
               "The dwarf gecko measures roughly 1.6 cm from snout to vent.",
               "A house mouse is around 8 cm without its tail.", "A hamster is about 15 cm.",
               "A domestic cat averages 46 cm.", "A red fox is about 70 cm long.",
               "A golden retriever is around 60 cm tall.", "A wolf reaches roughly 1.5 m.",
               "A lion is about 2.5 m from nose to tail.", "A tiger can reach 3 m.",
               "A giraffe stands about 5 m tall.", "An African elephant is roughly 6.5 m long.",
               "A saltwater crocodile can exceed 6 m.", "A whale shark reaches about 12 m.",
               "A sperm whale grows to 16 m.", "A blue whale can reach 30 m."]
    add(2589, "sent_sixteen", " ".join(animals[:16]), PASS)
    # "m." after a number is a known abbreviation: "1.5 m. A lion" does not split, "5 cm. A" does.
    add(2589, "sent_seventeen_metre_abbrev_merges", " ".join(animals), PASS)
    add(2589, "sent_seventeen", " ".join(a.replace(" m.", " metres.").replace(" m ", " metres ") for a in animals), FAIL)
    add(2589, "sent_seventeen_one_approx", " ".join(animals[:16]).replace("is about 3 cm", "is approx. 3 cm"))

    # --- 292, 2749, 179, 3329: at least N -------------------------------------------------------
    add(292, "sent_twenty", " ".join(GOOD_LIFE[:20]), PASS)
    add(292, "sent_nineteen", " ".join(GOOD_LIFE[:19]), FAIL)
    add(292, "sent_twenty_four_paragraphs", P(" ".join(GOOD_LIFE[:8]), " ".join(GOOD_LIFE[8:16]),
        " ".join(GOOD_LIFE[16:])), PASS)
    add(292, "sent_nineteen_plus_ps", " ".join(GOOD_LIFE[:19]) + "\n\nP.S. Bring the hat.")
    add(292, "sent_twenty_with_abbrevs", " ".join(GOOD_LIFE[:19]).replace(
        "call your mother", "call Mrs. Jones, your mother") + " Dr. Patel agrees with all of it.", PASS)
    add(292, "sent_eighteen_plus_list", " ".join(GOOD_LIFE[:18]) + "\n* more naps\n* more pie")

    marketing = ["A digital marketing agency brings skills that most small teams simply do not have.",
                 "It knows which channels reach your customers and which ones waste money.",
                 "Agencies track results every day, so budgets move quickly to what works.",
                 "They also have access to expensive tools for analytics and automation.",
                 "Your staff can focus on the product while experts run the campaigns.",
                 "Fresh eyes often spot problems that insiders have stopped noticing.",
                 "A good agency will test many headlines before choosing the best one.",
                 "It will also write content that search engines and readers both enjoy.",
                 "Social media becomes a conversation rather than a chore.",
                 "Email campaigns are timed and personalised for each customer group.",
                 "Paid ads are tuned so that every click has a purpose.",
                 "Reports arrive in plain language with clear next steps.",
                 "Costs are predictable because most agencies offer monthly plans.",
                 "You can scale the work up for a launch and down in quiet months.",
                 "Agencies see trends across many clients and share those lessons with you.",
                 "They keep up with changes to platforms so that you do not have to.",
                 "Creative work like video and design is handled by specialists.",
                 "Mistakes become cheaper because tests are small and fast.",
                 "Over time, your brand becomes more consistent everywhere it appears.",
                 "In short, a good agency is a partner that helps your business grow."]
    add(2749, "sent_twenty", " ".join(marketing), PASS)
    add(2749, "sent_nineteen", " ".join(marketing[:19]), FAIL)
    add(2749, "sent_twenty_with_markdown_headings", "# Why Hire a Digital Marketing Agency\n\n" +
        P(" ".join(marketing[:10]), "## The Details", " ".join(marketing[10:])), PASS)

    add(179, "sent_fifty", " ".join(INTERNET[:50]), PASS)
    add(179, "sent_forty_nine", " ".join(INTERNET[:49]), FAIL)
    add(179, "sent_fifty_merged_to_forty_nine", " ".join(INTERNET[:49]) + "Thank you.", FAIL)
    add(179, "sent_fifty_multi_paragraph", P(*[" ".join(INTERNET[i:i + 10]) for i in range(0, 50, 10)]), PASS)

    rubric = []
    for item in ["processor speed", "memory", "storage", "battery life", "screen quality",
                 "build quality", "keyboard comfort", "weight", "ports", "price"]:
        rubric.append("The next criterion is %s." % item)
        rubric.append("A score of five means the laptop is excellent on %s for its price." % item)
        rubric.append("A score of one means %s is a serious weakness." % item)
    add(3329, "sent_thirty", " ".join(rubric), PASS)
    add(3329, "sent_twenty_nine", " ".join(rubric[:29]), FAIL)
    add(3329, "sent_twenty_nine_plus_eg_split", " ".join(rubric[:28]) + " Judge ports carefully, e.g. count the USB-C ones.", PASS)


# =============================================================================================
# length_constraints:number_paragraphs — re.split(r"\s?\*\*\*\s?"), empty edge pieces dropped,
# an empty middle piece fails, the count must be equal.
# =============================================================================================

def number_paragraphs():
    a = ("Leo woke up to a cheerful chime and a floating health bar above his bed. When he opened "
         "the fridge, a message appeared: \"Quest accepted: Make Breakfast.\"")
    b = ("By noon he had learned the rules. Helping neighbours gave experience points, and the grumpy "
         "baker was clearly the first boss. Leo smiled, cracked his knuckles and pressed start.")
    add(1082, "par_blank_lines_around_divider", a + "\n\n***\n\n" + b, PASS)
    add(1082, "par_newlines_around_divider", a + "\n***\n" + b, PASS)
    add(1082, "par_divider_no_whitespace", a + "***" + b, PASS)
    add(1082, "par_blank_line_only", a + "\n\n" + b, FAIL)
    add(1082, "par_spaced_asterisks", a + "\n\n* * *\n\n" + b, FAIL)
    add(1082, "par_six_asterisks", a + "\n\n******\n\n" + b, FAIL)
    add(1082, "par_hr_dashes", a + "\n\n---\n\n" + b, FAIL)
    add(1082, "par_leading_and_trailing_dividers", "***\n" + a + "\n***\n" + b + "\n***", PASS)
    add(1082, "par_double_divider", a + "\n***\n***\n" + b, FAIL)
    add(1082, "par_three_paragraphs_last_line", a + "\n***\n" + b + "\n***\nThe End.", LOOSE)
    add(1082, "par_bold_italic_splits", a.replace("Quest accepted", "***Quest accepted***") + "\n***\n" + b, FAIL)
    add(1082, "par_heading_line_before_divider", "Game On\n***\n" + a + "\n***\n" + b, LOOSE)
    add(1082, "par_three_paragraphs_middle", a + "\n***\nAnd then?\n***\n" + b, LOOSE)
    add(1082, "par_trailing_divider_and_blank", a + "\n***\n" + b + "\n***\n\n", PASS)
    add(1082, "par_nbsp_around_divider", a + "\u00a0***\u00a0" + b, PASS)
    add(1082, "par_two_spaces_around_divider", a + "  ***  " + b, PASS)
    add(1082, "par_four_asterisks", a + "\n****\n" + b, PASS)
    add(1082, "par_heading_first_line_no_divider", "Title: Game On\n" + a + "\n***\n" + b, PASS)
    add(1082, "par_divider_then_preamble_line", "Sure, here is a two paragraph story:\n" + a + "\n***\n" + b, PASS)

    ad = ["Sink into the Cloudline armchair and feel the day melt away. Deep cushions, a gently "
          "curved back and wide arms make it the seat everyone fights over.",
          "Designers love it too. Clean lines, solid oak legs and fabrics in twelve muted colours "
          "mean it looks at home in a loft, a cottage or a boardroom.",
          "Every chair is built to last a lifetime and comes with a ten-year guarantee. Visit our "
          "showroom this weekend and find your new favourite place to sit."]
    add(1236, "par_three_markdown", "\n\n***\n\n".join(ad), PASS)
    add(1236, "par_three_blank_lines_only", "\n\n".join(ad), FAIL)
    add(1236, "par_bold_title_line_loose", "**Cloudline Armchairs**\n***\n" + "\n***\n".join(ad), LOOSE)
    add(1236, "par_four_pieces_middle_extra", "\n***\n".join(ad[:1] + ["Call now!"] + ad[1:]), LOOSE)
    add(1236, "par_first_line_extra_piece", "Cloudline: comfort, certified\n***\n" + "\n***\n".join(ad), LOOSE)
    add(1236, "par_last_line_extra_piece", "\n***\n".join(ad) + "\n***\n(Ad ends)", LOOSE)

    verses = ["Yo, they cuffed him on Main for a car he didn't steal,\nNow the whole block knows how the system feels.",
              "Bail got paid, but the shame don't fade,\nNeighbours whisper every move he made.",
              "Judge looked bored, cop looked proud,\nHe kept his head up, kept it loud.",
              "So here's the verse for the man set free,\nAngry as a hornet, loud as the sea."]
    add(1248, "par_four_verses", "\n***\n".join(verses), PASS)
    add(1248, "par_four_verses_labelled", "\n***\n".join("Verse %d\n%s" % (i + 1, v) for i, v in enumerate(verses)), PASS)
    add(1248, "par_four_verses_bold_labels", "\n***\n".join("**Verse %d**\n%s" % (i + 1, v) for i, v in enumerate(verses)), PASS)
    add(1248, "par_four_verses_bold_italic_label", "\n***\n".join("***Verse %d***\n%s" % (i + 1, v) for i, v in enumerate(verses)), FAIL)
    add(1248, "par_five_verses_last_line", "\n***\n".join(verses + ["Peace out."]), LOOSE)

    plan = ["Part 1. Task Summary\nMigrate the billing service from cron jobs to a queue.",
            "Part 2. Motivation\nCron jobs fail silently and are hard to retry.",
            "Part 3. Milestone objectives\nQueue in staging by March; production by April.",
            "Part 4. Timeline\nSix weeks in total, including a week of testing.",
            "Part 5. Doc history\nv1 drafted by [name] on [date]."]
    add(1377, "par_five_parts", "\n***\n".join(plan), PASS)
    add(1377, "par_five_parts_spaced", " *** ".join(p.replace("\n", " ") for p in plan), PASS)
    add(1377, "par_four_parts", "\n***\n".join(plan[:4]), FAIL)
    add(1377, "par_five_parts_dividers_with_markdown_rule", "\n***\n".join(plan[:4]) + "\n\n---\n\n" + plan[4], FAIL)

    angry = ["Listen carefully, because I will only say this once more: one plus one is two.",
             "I have shown you apples, fingers and a calculator, and still you insist on three.",
             "Mathematics does not bend to your enthusiasm, however loud it gets.",
             "Please stop emailing me at midnight about this."]
    add(1858, "par_four", "\n\n***\n\n".join(angry), PASS)
    add(1858, "par_four_leading_divider", "***\n\n" + "\n\n***\n\n".join(angry), PASS)
    add(1858, "par_four_one_empty_middle", "\n\n***\n\n".join(angry[:2] + [""] + angry[2:]), FAIL)
    add(1858, "par_four_whitespace_only_middle", "\n***\n".join(angry[:2] + ["   "] + angry[2:]), FAIL)
    add(1858, "par_three", "\n\n***\n\n".join(angry[:3]), FAIL)

    paris = ["Day 1: Eiffel Tower at opening time, then crepes by the river.",
             "Day 2: Louvre highlights tour, only ninety minutes, then the Tuileries.",
             "Day 3: Montmartre street artists and a quick climb to Sacr\u00e9-C\u0153ur.",
             "Day 4: Bike ride along the Seine and a boat trip at sunset."]
    add(2357, "par_four_non_ascii", "\n***\n".join(paris), PASS)
    add(2357, "par_four_with_closing_line", "\n***\n".join(paris) + "\nBon voyage!", PASS)
    add(2357, "par_four_with_closing_paragraph", "\n***\n".join(paris) + "\n***\nBon voyage!", LOOSE)

    rap = ["Down in the abyss where the echoes sleep,\nI drop my bars and the silence runs deep.",
           "No light, no floor, just the sound of my beat,\nBouncing off walls that I never will meet.",
           "The void stares back and it nods its head,\nEven the darkness likes what I said.",
           "So climb on out with a rope of rhyme,\nThe abyss was cold but I owned that time."]
    add(2467, "par_four_stanzas", "\n***\n".join(rap), PASS)
    add(2467, "par_four_stanzas_hr_underscores", "\n___\n".join(rap), FAIL)
    add(2467, "par_four_stanzas_extra_star_bullet", "\n***\n".join(rap) + "\n* outro: drop the mic", PASS)

    add(2921, "par_two_math", "First, add a and b: 10 + 30 = 40. Then divide by c: 40 / 20 = 2."
        "\n***\nSo the value of (a + b) / c is 2.", PASS)
    add(2921, "par_two_math_with_multiplication_stars", "First, add a and b: 10 + 30 = 40. Note that "
        "2 * 20 = 40, so 40 / 20 = 2.\n***\nSo the value of (a + b) / c is 2.", PASS)
    add(2921, "par_two_math_power_stars", "First, (a + b) = 40 and c**2 = 400. So 40 / 20 = 2."
        "\n***\nSo the value of (a + b) / c is 2.", PASS)
    add(2921, "par_two_math_triple_star_operator", "Note: a***b is not an operator. 40 / 20 = 2."
        "\n***\nSo the value of (a + b) / c is 2.", LOOSE)

    stanzas = ["Buy my socks, they are warm and bright,", "They glow like lamps in the dead of night,",
               "They never smell, they never tear,", "You can wear them here or anywhere,",
               "Your feet will dance, your toes will sing,", "So buy my socks, they are everything!"]
    add(2941, "par_six", "\n***\n".join(stanzas), PASS)
    add(2941, "par_six_crlf", "\r\n***\r\n".join(stanzas), PASS)
    add(2941, "par_five", "\n***\n".join(stanzas[:5]), FAIL)

    advice = ["advice 1 .... Your identity can change, and that is normal.",
              "advice 2 .... Talk to someone you trust about how you feel.",
              "advice 3 .... Try new things and notice what makes you feel like yourself."]
    add(2977, "par_three_exact_format", " *** ".join(advice), PASS)
    add(2977, "par_three_newline_format", "\n***\n".join(advice), PASS)
    add(2977, "par_three_blank_lines", "\n\n".join(advice), FAIL)


# =============================================================================================
# length_constraints:number_words — len(re.findall(r"\w+")), Unicode-aware
# =============================================================================================

ESSAY_SUNNI_SHIA = [
    "Sunni and Shi'a Muslims share the core beliefs of Islam, including faith in one God and the Prophet Muhammad.",
    "Both read the same Quran, pray toward Mecca and fast during the month of Ramadan.",
    "The division began after the death of the Prophet in the seventh century.",
    "One group believed the community should choose its leader, and its members became known as Sunnis.",
    "Another group believed leadership belonged to the Prophet's family through his cousin Ali.",
    "Those followers of Ali became known as the Shi'a, a word that means party or partisans.",
    "Over time the two traditions developed different schools of law and theology.",
    "Shi'a Muslims give special honour to a line of Imams descended from Ali.",
    "Sunni Muslims look to the consensus of scholars and the practice of the early community.",
    "There are also differences in the details of prayer, such as the position of the hands.",
    "Many Shi'a Muslims commemorate the martyrdom of Husayn during the month of Muharram.",
    "Sunnis make up the large majority of Muslims around the world today.",
    "Shi'a Muslims form majorities in Iran, Iraq, Azerbaijan and Bahrain.",
    "Politics has often deepened the divide more than theology has.",
    "Yet in many cities the two communities have lived side by side for centuries.",
    "Intermarriage and shared festivals are common in many places.",
    "Scholars from both traditions continue to call for mutual respect and understanding.",
    "Understanding their history helps explain much of the modern Middle East.",
]

DIME = [
    "My fellow Americans, a single dime may look small, but it carries the promise of this nation.",
    "Save it, and you will learn the discipline that built our railroads and our cities.",
    "Give it, and you will join the long tradition of neighbours helping neighbours.",
    "Invest it, even in a simple savings account, and you will see how patience is rewarded.",
    "Put it in a jar with other dimes, and one day you will have enough for something meaningful.",
    "Let it remind you that every great enterprise in our history started with modest means.",
    "Above all, do not underestimate what you can accomplish with very little.",
    "That is the American way, and it begins with the coin in your hand.",
]

SALON = [
    "Tired of bad hair days that last all year?",
    "Come to Shear Genius, where our stylists treat every strand like royalty.",
    "This month everything in the salon is twenty five percent off, from trims to full colour.",
    "Our chairs are comfy, our coffee is strong and our gossip is top secret.",
    "Bring a friend and walk out looking like the stars of your own shampoo commercial.",
    "Book today, because our calendar fills faster than a drain full of hair.",
]

TRUSTS = [
    "TrustBridge makes it simple for anyone to set up a legal trust online in under an hour.",
    "Today, creating a trust usually means expensive lawyers, long meetings and piles of paperwork.",
    "Our guided questionnaire turns that process into a friendly conversation.",
    "Licensed attorneys review every document before it is signed.",
    "Clients pay a flat fee instead of surprise hourly bills.",
    "We store documents securely and remind families when updates are needed.",
    "Millions of families who need a trust have never created one.",
    "We are raising a seed round to expand to every state.",
]

EUCALYPTUS = [
    "Tall and silver in the morning light,",
    "The eucalyptus sways from left to right,",
    "Its bark peels off in ribbons long,",
    "Its leaves release a minty song,",
    "Koalas doze in its gentle arms,",
    "Its oil protects from colds and harms,",
    "Builders shape its timber strong,",
    "Its honey sweetens all day long,",
]


def number_words():
    # Exact boundaries.
    ad = text_with_words(BUSINESS, 150)
    add(1217, "words_exactly_150_under_151", ad, PASS)
    add(1217, "words_151", text_with_words(BUSINESS, 151), FAIL)
    # 150 whitespace tokens but contractions split into extra \w words.
    base = text_with_words(BUSINESS, 143)
    contr = base + " Don't wait, it's here, you'll love it."
    assert len(contr.split()) == 150 and nwords(contr) == 153
    add(1217, "words_contractions_count_twice", contr, FAIL)
    # Hyphenated compounds count per part.
    hyph = text_with_words(BUSINESS, 146) + " State-of-the-art."
    assert nwords(hyph) == 150
    add(1217, "words_hyphenated_compound_counts_parts", hyph, PASS)
    hyph2 = text_with_words(BUSINESS, 147) + " State-of-the-art."
    assert len(hyph2.split()) == 148 and nwords(hyph2) == 151
    add(1217, "words_hyphenated_pushes_over", hyph2, FAIL)
    add(1217, "words_preamble_line_pushes_over",
        "Here is a short ad copy for your digital photo frame:\n" + text_with_words(BUSINESS, 145), LOOSE)

    # Non-ASCII letters are word characters: an ASCII-only \w would split "Zürich" into two.
    def padded(suffix, total):
        text = text_with_words(TRAVEL, total - nwords(suffix)) + suffix
        assert nwords(text) == total
        return text
    uni = (" Caf\u00e9s in Z\u00fcrich, na\u00efve \u00c5se, S\u00e3o Paulo, \u0141\u00f3d\u017a, "
           "stra\u00dfe, fa\u00e7ade, co\u00f6perate.")
    add(2243, "words_non_ascii_letters_single_words", padded(uni, 149), PASS)
    add(2243, "words_non_ascii_150", padded(uni[:-1] + " ol\u00e9.", 150), FAIL)
    # Combining marks (category Mn) are NOT \w in Python's re: "Cafe\u0301" is one word, but
    # "re\u0301sume\u0301" is two ("re", "sume"). Unicode-\w engines that include marks count 2, not 3.
    comb = " Cafe\u0301 re\u0301sume\u0301."
    assert nwords(comb) == 3
    add(2243, "words_combining_accent_150_by_re", padded(comb, 150))
    # Modifier letter apostrophe (U+02BC, category Lm) IS a word character, unlike ' and U+2019.
    add(2243, "words_modifier_apostrophe_joins", padded(" Hawaiʻi and Shi\u02bca.", 149), PASS)
    # CJK: a run of ideographs/kana is a single \w+ match.
    cjk = " \u6771\u4eac\u90fd\u5e81\u306f\u65b0\u5bbf\u306b\u3042\u308a\u307e\u3059 \u4eac\u90fd \u5927\u962a \u5948\u826f."
    assert nwords(cjk) == 4
    add(2243, "words_cjk_runs_one_word_each", padded(cjk, 149), PASS)
    # Numbers: "3.14" is two words, "1,000" is two words; underscores join; emoji are not words.
    nums = " Pi is 3.14, a rink is 1,000 ft, snake_case \U0001F600 x."
    assert nwords(nums) == 12
    add(2243, "words_numbers_split_underscore_joins", padded(nums, 149), PASS)
    add(2243, "words_numbers_150", padded(nums, 150), FAIL)
    # Superscript and circled digits: str.isdigit() is true, so they are \w too.
    add(2243, "words_superscripts_and_fractions", padded(" E = mc\u00b2 and \u00bd cup \u2460 step.", 149), PASS)
    # Indic vowel signs and Thai marks are combining marks (Mc/Mn): not \w for Python's re, so
    # re-based counting splits words at every vowel sign; nltk >= 3.10.3 uses the `regex` engine,
    # whose \w includes marks. These rows get different official verdicts under the two.
    add(2243, "words_hindi_vowel_signs_split", P(LANG_TEXT["hi"], LANG_TEXT["hi2"], LANG_TEXT["hi"]))
    add(1217, "words_thai_marks_split", " ".join([LANG_TEXT["th"]] * 9))
    add(1072, "words_hindi_at_least_400", P(*[LANG_TEXT["hi"] + " " + LANG_TEXT["hi2"]] * 4))
    # Answer with keys, as the prompt asks.
    add(2243, "words_short_keyed_answer", L("(1) Name: John Gamgee", "(2) Location: Chelsea, London",
        "(3) Year: 1876", "Gamgee's Glaciarium used a chilled copper pipe system under the ice."), PASS)

    add(1092, "words_299", text_with_words(TRAVEL, 299), PASS)
    add(1092, "words_300", text_with_words(TRAVEL, 300), FAIL)
    add(1092, "words_296_plus_heading_line", "# My Trip to Japan\n" + text_with_words(TRAVEL, 296), LOOSE)
    add(1092, "words_297_plus_signoff_line", text_with_words(TRAVEL, 297) + "\nThanks for reading, friends!", LOOSE)
    add(164, "words_short_review", "The latest episode finally answered who sent the letters: it was the "
        "quiet neighbour all along. The finale set up a second season with a new city and a new mystery.", PASS)
    add(164, "words_markdown_heavy", "## Recap\n\n**Episode 8** \u2014 *The Letters*\n\n- Reveal: the neighbour\n"
        "- Cliffhanger: a new city\n\n> Best episode yet.", PASS)

    # At-least boundaries.
    add(1072, "words_400", P(text_with_words(SLEEP[:8], 200), text_with_words(SLEEP[8:16], 200)), PASS)
    add(1072, "words_399", P(text_with_words(SLEEP[:8], 200), text_with_words(SLEEP[8:16], 199)), FAIL)
    add(209, "words_400_markdown", "# How to Sleep Well\n\n" + text_with_words(SLEEP[16:], 396), PASS)
    add(209, "words_399_markdown", "# How to Sleep Well\n\n" + text_with_words(SLEEP[16:], 395), FAIL)
    add(209, "words_underscore_runs_join", text_with_words(SLEEP[16:], 398) + " good_night_sleep_tips.", FAIL)
    add(209, "words_slash_splits", text_with_words(SLEEP[16:], 396) + " on/off day/night.", PASS)
    add(1251, "words_poem_350", text_with_words(EUCALYPTUS, 350).replace(", ", ",\n"), PASS)
    add(1251, "words_poem_349", text_with_words(EUCALYPTUS, 349).replace(", ", ",\n"), FAIL)
    add(1258, "words_600", text_with_words(DIME, 600), PASS)
    add(1258, "words_599_with_apostrophes", text_with_words(DIME, 597) + " Don't forget.", PASS)
    add(1258, "words_598", text_with_words(DIME, 598), FAIL)
    add(2323, "words_200", text_with_words(SALON, 200), PASS)
    add(2323, "words_199", text_with_words(SALON, 199), FAIL)
    add(2323, "words_200_with_emoji", text_with_words(SALON, 199) + " \u2702\ufe0f\U0001F487 Wow!", PASS)
    add(343, "words_300", text_with_words(TRUSTS, 300), PASS)
    add(343, "words_299", text_with_words(TRUSTS, 299), FAIL)
    add(3425, "words_1200", P(*[text_with_words(ESSAY_SUNNI_SHIA, 300)] * 4), PASS)
    add(3425, "words_1199", P(*([text_with_words(ESSAY_SUNNI_SHIA, 300)] * 3 + [text_with_words(ESSAY_SUNNI_SHIA, 299)])), FAIL)
    shia = P(*[text_with_words(ESSAY_SUNNI_SHIA, 300)] * 4)
    add(3425, "words_1200_ascii_apostrophe_vs_curly", shia.replace("Shi'a", "Shi\u2019a"), PASS)
    add(3425, "words_1200_shia_joined_with_modifier_apostrophe", shia.replace("Shi'a", "Shi\u02bca"), FAIL)


# =============================================================================================
# length_constraints:nth_paragraph_first_word — split on "\n\n"; count excludes blank pieces;
# the nth raw piece's first token, quotes stripped, cut at . , ? ! ' " and lower-cased.
# =============================================================================================

def nth_paragraph_first_word():
    p2 = ("Now the first set, the set of all sets that are not members of themselves, is Russell's "
          "famous troublemaker: R = {x | x \u2209 x}. Ask whether R \u2208 R and you get a contradiction "
          "either way, which is why naive set theory had to be repaired.")
    p1 = ("{W} time, friends! The set of all sets, V = {{x | x = x}}, sounds innocent, but it is far "
          "too big to be a set in ZF. It is a proper class.")
    def mk(w, sep="\n\n"):
        return p1.format(W=w) + sep + p2
    add(2880, "nth_exact", mk("Booster"), PASS)
    add(2880, "nth_lowercase", mk("booster"), PASS)
    add(2880, "nth_colon_not_cut", mk("Booster:"), FAIL)
    add(2880, "nth_bold_word", mk("**Booster**"), LOOSE)
    add(2880, "nth_italic_word", mk("*Booster*"), LOOSE)
    add(2880, "nth_comma_cut", mk("Booster,"), PASS)
    add(2880, "nth_exclamation_cut", mk("Booster!"), PASS)
    add(2880, "nth_double_quote_stripped", mk("\"Booster\""), PASS)
    add(2880, "nth_single_quote_stripped", mk("'Booster'"), PASS)
    add(2880, "nth_single_then_double_quote", mk("'\"Booster\""), PASS)
    add(2880, "nth_double_then_single_quote", mk("\"'Booster'"), FAIL)
    add(2880, "nth_curly_quote_not_stripped", mk("\u201cBooster\u201d"), FAIL)
    add(2880, "nth_apostrophe_s_cut", mk("Booster's"), PASS)
    add(2880, "nth_hyphen_not_cut", mk("Booster-style"), FAIL)
    add(2880, "nth_semicolon_not_cut", mk("Booster;"), FAIL)
    add(2880, "nth_period_cut", mk("Booster."), PASS)
    add(2880, "nth_heading_hash", mk("# Booster"), FAIL)
    add(2880, "nth_leading_spaces_in_paragraph", mk("   Booster"), PASS)
    add(2880, "nth_wrong_word", mk("Boost"), FAIL)
    add(2880, "nth_three_newlines_between", mk("Booster", "\n\n\n"), PASS)
    add(2880, "nth_four_newlines_between", mk("Booster", "\n\n\n\n"), PASS)
    add(2880, "nth_blank_line_with_spaces", mk("Booster", "\n \n"), FAIL)
    add(2880, "nth_crlf_blank_line", mk("Booster", "\r\n\r\n"), FAIL)
    add(2880, "nth_three_paragraphs", p1.format(W="Booster") + "\n\nLet me explain.\n\n" + p2, LOOSE)
    add(2880, "nth_three_paragraphs_last_line", mk("Booster") + "\n\nHope that helps!", LOOSE)
    add(2880, "nth_leading_blank_lines", "\n\n" + mk("Booster"), LOOSE)
    add(2880, "nth_trailing_blank_lines", mk("Booster") + "\n\n", PASS)
    add(2880, "nth_preamble_line_same_paragraph", "Sure!\n" + mk("Booster"), LOOSE)
    add(2880, "nth_uppercase_word", mk("BOOSTER"), PASS)
    add(2880, "nth_turkish_dotted_capital", mk("BOOSTER").replace("BOOSTER", "B\u0130OSTER"), FAIL)

    poem = ["Fellow Americans, energy is free, but only some of it, believe me.",
            "{W} is Gibbs who tells us what will flow: G equals H minus T S, you know.",
            "When delta G is negative, the deal is done; the reaction runs, it's spontaneous, everyone.",
            "So make chemistry great again, tremendous, the best; Gibbs free energy beats all the rest."]
    add(3624, "nth_it_exact", "\n\n".join(p.format(W="It") for p in poem), PASS)
    add(3624, "nth_its_apostrophe_cut", "\n\n".join(p.format(W="It's") for p in poem), PASS)
    add(3624, "nth_itself_wrong", "\n\n".join(p.format(W="Itself, it") for p in poem), FAIL)
    add(3624, "nth_it_quoted_curly_apostrophe", "\n\n".join(p.format(W="It\u2019s") for p in poem), FAIL)
    add(3624, "nth_five_paragraphs", "\n\n".join(p.format(W="It") for p in poem) + "\n\nGod bless America.", LOOSE)
    add(3624, "nth_four_newlines_shift", "\n\n\n\n".join(p.format(W="It") for p in poem), FAIL)
    add(3624, "nth_four_newlines_shift_first_only",
        poem[0] + "\n\n\n\n" + "\n\n".join(p.format(W="It") for p in poem[1:]), FAIL)
    add(3624, "nth_stanza_lines_single_newlines", "\n\n".join(p.format(W="It").replace("; ", ";\n").replace(": ", ":\n") for p in poem), PASS)

    uses = ["Poppy seeds are the tiny seeds of the opium poppy, used in kitchens worldwide.",
            "Bakers sprinkle them on bagels, rolls and pretzels for crunch.",
            "In Central Europe they are ground into sweet fillings for strudel and kolache.",
            "Indian cooks grind white poppy seeds to thicken rich curries.",
            "Pressed poppy seeds give an oil used in salad dressings and by painters.",
            "Some people use them in scrubs and homemade cosmetics.",
            "{W} poppy seeds add flavour, texture and tradition to many dishes."]
    add(1954, "nth_seventh_summary", "\n\n".join(u.format(W="Summary:") if "{W}" in u else u for u in uses), FAIL)
    add(1954, "nth_seventh_summary_comma", "\n\n".join(u.format(W="Summary, ") if "{W}" in u else u for u in uses), PASS)
    add(1954, "nth_seventh_summary_word", "\n\n".join(u.format(W="Summary") if "{W}" in u else u for u in uses), PASS)
    add(1954, "nth_seventh_bold_summary", "\n\n".join(u.format(W="**Summary**") if "{W}" in u else u for u in uses), LOOSE)
    add(1954, "nth_seventh_in_summary", "\n\n".join(u.format(W="In summary,") if "{W}" in u else u for u in uses), FAIL)
    add(1954, "nth_six_paragraphs", "\n\n".join(u.format(W="Summary") for u in uses[1:]), FAIL)

    cover = ["{W} that my 10 years in clutch sales fit your team, I am applying for the regional "
             "sales role. I have grown territories, trained dealers and closed fleet contracts.",
             "I would welcome the chance to talk about how I can do the same for you. Thank you."]
    add(2215, "nth_realising", "\n\n".join(c.format(W="Realising") for c in cover), PASS)
    add(2215, "nth_realizing_us_spelling", "\n\n".join(c.format(W="Realizing") for c in cover), FAIL)
    add(2215, "nth_realising_single_newline", "\n".join(c.format(W="Realising") for c in cover), FAIL)

    seat = ["Read the car manual and the car seat manual before you start.",
            "Install the seat in the back, rear-facing for babies, and use either the belt or the anchors.",
            "Push down firmly and check that the seat moves less than an inch at the belt path.",
            "{W} trees shade the parking lot at our clinic, where a technician will check your work for free."]
    add(2250, "nth_elm_fourth", "\n\n".join(s.format(W="Elm") for s in seat), PASS)
    add(2250, "nth_elm_fourth_with_trailing_blank_pieces", "\n\n".join(s.format(W="Elm") for s in seat) + "\n\n\n\n", PASS)
    add(2250, "nth_elm_fourth_extra_blank_middle", "\n\n".join(s.format(W="Elm") for s in seat[:2]) + "\n\n\n\n" +
        "\n\n".join(s.format(W="Elm") for s in seat[2:]), FAIL)
    add(2250, "nth_elm_heading_lines", "\n\n".join("Tip %d\n%s" % (i + 1, s.format(W="Elm")) for i, s in enumerate(seat)), FAIL)

    grafton = ["{W} a postcard from Grafton and your friends will be jealous: covered bridges, white "
               "churches and maple trees everywhere.",
               "Life is quiet. There are few shops and winters are long, so you need a car and patience.",
               "If you love nature and community, it is a wonderful place to live."]
    add(2590, "nth_send", "\n\n".join(g.format(W="Send") for g in grafton), PASS)
    add(2590, "nth_send_quoted", "\"" + "\n\n".join(g.format(W="Send") for g in grafton) + "\"", PASS)
    add(2590, "nth_sending", "\n\n".join(g.format(W="Sending") for g in grafton), FAIL)

    firms = ["{W} across the country are adjusting to a slower economy, and I am doing well, thank you for asking.",
             "Many companies are hiring more carefully and investing in automation.",
             "Small businesses are finding creative ways to keep customers loyal.",
             "Overall, the mood is cautious but hopeful."]
    add(3073, "nth_firms", "\n\n".join(f.format(W="Firms") for f in firms), PASS)
    add(3073, "nth_firms_heading_paragraph", "Today's Update\n\n" + "\n\n".join(f.format(W="Firms") for f in firms), LOOSE)
    add(3073, "nth_firms_heading_line", "Today's Update\n" + "\n\n".join(f.format(W="Firms") for f in firms), LOOSE)
    add(3073, "nth_firms_non_breaking_space", "\n\n".join(f.format(W="Firms\u00a0") for f in firms), PASS)

    news = ["BREAKING: Aliens have landed in Ohio and immediately asked for directions to the nearest taco stand.",
            "{W} Smith addressed the nation from a lawn chair, saying the visitors seem friendly but terrible at parking.",
            "The aliens, who are seven feet tall and bright green, have already joined three bowling leagues.",
            "Scientists confirm that the invaders' main weapon is a ray that turns socks inside out.",
            "Local businesses report record sales of tinfoil hats and novelty antennas.",
            "At press time, the aliens had filed for a fishing licence."]
    add(181, "nth_president", "\n\n".join(n.format(W="President") for n in news), PASS)
    add(181, "nth_president_lowercase", "\n\n".join(n.format(W="president") for n in news), PASS)
    add(181, "nth_president_abbrev", "\n\n".join(n.format(W="Pres.") for n in news), FAIL)
    add(181, "nth_the_president", "\n\n".join(n.format(W="The President") for n in news), FAIL)


# =============================================================================================
# detectable_content:number_placeholders — len(re.findall(r"\[.*?\]")) >= N
# =============================================================================================

def number_placeholders():
    resume = L(
        "[Full Name]",
        "[Street Address], [City], [State] [ZIP]",
        "[Phone Number] | [Email Address]",
        "",
        "Objective",
        "Motivated recent graduate of [High School Name] seeking a first job at [Company Name].",
        "",
        "Education",
        "High School Diploma, [Graduation Year], GPA [GPA]",
        "",
        "Skills",
        "- Customer service, teamwork, punctuality",
        "- Languages: English, Spanish",
        "",
        "References",
        "Available on request from [Reference Name]{EXTRA}",
    )
    add(1005, "ph_twelve", resume.format(EXTRA="."), PASS)
    add(1005, "ph_thirteen", resume.format(EXTRA=" at [Reference Phone]."), PASS)
    add(1005, "ph_eleven", resume.format(EXTRA=".").replace("GPA [GPA]", "GPA 3.8"), FAIL)
    add(1005, "ph_empty_brackets_count", resume.format(EXTRA=".").replace("GPA [GPA]", "GPA []"), PASS)
    add(1005, "ph_markdown_link_counts", resume.format(EXTRA=".").replace("GPA [GPA]", "GPA 3.8 ([transcript](https://example.com))"), PASS)
    add(1005, "ph_multiline_bracket_not_counted", resume.format(EXTRA=".").replace("[GPA]", "[GPA\nout of 4]"), FAIL)
    add(1005, "ph_curly_braces_not_counted", resume.format(EXTRA=".").replace("[GPA]", "{GPA}"), FAIL)
    add(1005, "ph_fullwidth_brackets_not_counted", resume.format(EXTRA=".").replace("[GPA]", "\uff3bGPA\uff3d"), FAIL)
    add(1005, "ph_nested_brackets_count_once", resume.format(EXTRA=".").replace("[GPA]", "[[GPA]]").replace(
        "[Reference Name]", "Reference Name"), FAIL)
    add(1005, "ph_brackets_spanning_words", resume.format(EXTRA=".").replace("GPA [GPA]", "GPA [3.8 / 4.0 scale]"), PASS)

    joke = "Why did the IRS agent bring a ladder to [City Name]? Because he heard the taxes were going up!"
    add(2136, "ph_one", joke, PASS)
    add(2136, "ph_zero", joke.replace("[City Name]", "Denver"), FAIL)
    add(2136, "ph_array_index_counts", "Why did the IRS agent love arrays? Because refunds[0] always comes first!", PASS)
    add(2136, "ph_parentheses_not_counted", "Why did the IRS agent bring a ladder to (City Name)? Because taxes were going up!", FAIL)
    add(2136, "ph_only_in_first_line", "[Title]\nWhy did the IRS agent bring a ladder? Because taxes were going up!", PASS)
    add(2136, "ph_unclosed_bracket", "Why did the IRS agent bring a ladder to [City Name? Because taxes were going up!", FAIL)
    add(2136, "ph_reversed_brackets", "Why did the IRS agent bring a ladder to ]City Name[? Because taxes were going up!", FAIL)

    toy = L(
        "Introducing the Squeaker by [Brand Name]!",
        "Made of soft natural latex, the Squeaker is safe for dogs of all ages and sizes.",
        "Available in [Color 1], [Color 2] and more, starting at [Price].",
    )
    add(2164, "ph_four", toy, PASS)
    add(2164, "ph_two", toy.replace("[Color 1], [Color 2]", "red, blue"), FAIL)
    add(2164, "ph_three_one_line", "[Brand] [Color] [Price]", PASS)

    blog = L(
        "# A Day at Ripley's Aquarium",
        "Last [day of the week], I visited Ripley's Aquarium in [location] with [number] friends.",
        "The shark tunnel was the highlight: [describe the moment].",
        "Tickets cost [price] and the visit took about [hours] hours.",
        "Tip: arrive before [time] to avoid crowds.",
    )
    add(1372, "ph_seven", blog, PASS)
    add(1372, "ph_six", blog.replace("[hours] hours", "three hours"), FAIL)
    add(1372, "ph_seven_bold_placeholders", blog.replace("[location]", "**[location]**"), PASS)

    email = L(
        "Subject: [Subject]",
        "Dear [Recipient Name],",
        "I recently bought the [Product Name] boots from [Store Name] on [Date]. They are warm, but "
        "they feel a little uncomfortable around the [Body Part].",
        "Could you advise whether an exchange for size [Size] is possible? My order number is [Order Number].",
        "Best regards,",
        "[Your Name]",
        "[Phone Number]",
    )
    add(1927, "ph_ten", email, PASS)
    add(1927, "ph_nine", email.replace("[Phone Number]", "555-0100"), FAIL)


# =============================================================================================
# detectable_content:postscript — lower-cased, MULTILINE findall, not anchored to line start
# =============================================================================================

def postscript():
    email = L(
        "Hi Luheng,",
        "",
        "I have been listening to Lilith on repeat all week and I think you would love it. The "
        "production is dreamy and the lyrics are sharp. Start with the title track!",
        "",
        "Talk soon,",
        "Mia",
    )
    ps = "P.S. The vinyl edition has a bonus track."
    add(1620, "ps_standard", email + "\n\n" + ps, PASS)
    add(1620, "ps_lowercase", email + "\n\np.s. the vinyl edition has a bonus track.", PASS)
    add(1620, "ps_spaced", email + "\n\nP. S. The vinyl edition has a bonus track.", PASS)
    add(1620, "ps_two_spaces_fail", email + "\n\nP.  S. The vinyl edition has a bonus track.", FAIL)
    add(1620, "ps_no_final_period", email + "\n\nP.S The vinyl edition has a bonus track.", FAIL)
    add(1620, "ps_ps_colon", email + "\n\nPS: The vinyl edition has a bonus track.", FAIL)
    add(1620, "ps_pps_satisfies_ps", email + "\n\nP.P.S. The vinyl edition has a bonus track.", PASS)
    add(1620, "ps_bold_marker", email + "\n\n**P.S.** The vinyl edition has a bonus track.", PASS)
    add(1620, "ps_mid_sentence", "Hi Luheng, I love Lilith (p.s. so will you). Talk soon, Mia", PASS)
    add(1620, "ps_inside_ups_abbreviation", "Hi Luheng, I sent you the Lilith CD via U.P.S. yesterday. Talk soon, Mia", PASS)
    add(1620, "ps_at_start", ps + "\n\n" + email, PASS)
    add(1620, "ps_missing", email, FAIL)
    add(1620, "ps_bold_letters_loose", email + "\n\n**P**.**S**. The vinyl edition has a bonus track.", LOOSE)
    add(1620, "ps_cyrillic_er", email + "\n\n\u0420.S. The vinyl edition has a bonus track.", FAIL)
    add(1620, "ps_fullwidth", email + "\n\n\uff30.\uff33. The vinyl edition has a bonus track.", FAIL)
    add(1620, "ps_newline_between_letters_matches", email + "\n\nP.\nS. The vinyl edition has a bonus track.", PASS)

    poem = L("Fresh from the loom, a scarf of blue,", "Soft as a cloud and warm right through,",
             "Wrap it twice and you will see,", "It is the scarf you need, trust me.")
    add(1246, "pps_standard", poem + "\n\nP.P.S. Machine washable.", PASS)
    add(1246, "pps_no_final_period", poem + "\n\nP.P.S Machine washable.", PASS)
    add(1246, "pps_spaced", poem + "\n\nP. P. S. Machine washable.", PASS)
    add(1246, "pps_only_ps", poem + "\n\nP.S. Machine washable.", FAIL)
    add(1246, "pps_pps_no_dots", poem + "\n\nPPS: Machine washable.", FAIL)
    add(1246, "pps_lowercase", poem + "\n\np.p.s. machine washable.", PASS)
    add(1246, "pps_bold_s_loose", poem + "\n\nP.P.**S** Machine washable.", LOOSE)
    add(1246, "pps_marker_in_last_line_only_after_bold", poem + "\n\n**P.P.S.** Machine washable.", PASS)
    add(1246, "pps_inside_word", poem + "\n\nSee the apps.p.p.store for more.", PASS)
    add(1367, "pps_session_plan", L("Session plan: Java in style",
        "1. Champagne welcome and a tour of the JVM.", "2. Classes and objects, served on silver platters.",
        "3. Streams and lambdas by the pool.", "", "P.P.S. Dress code: black tie and a laptop."), PASS)
    add(1367, "pps_ps_then_pps", L("Session plan: Java in style", "1. Classes.", "2. Streams.", "",
        "P.S. Bring a laptop.", "P.P.S. And a charger."), PASS)
    add(1537, "pps_medieval_poem", L("Hark! The ball of felt so bright,", "Yellow as the morning light,",
        "Struck by knights with racquet strong,", "Bounced upon the courts so long.", "",
        "P.P.S. They are pressurised, good sir."), PASS)
    add(2273, "pps_math", "Let the sum of all 11 be 11 * 51 = 561. First five: 5 * 49 = 245. Last nine: "
        "9 * 52 = 468. Overlap: 245 + 468 - 561 = 152? Wiggle-woggle, that counts results 3 to 5 twice, so "
        "recompute carefully.\nP.P.S. Numbers are weird, friend.", PASS)
    add(2362, "pps_missing_in_body_present_in_prompt_quote", "An exiled scientist is a \"stay-at-home scholar\".", FAIL)
    add(2396, "pps_end", L("The guns went quiet after twenty years,", "But the fields still hold the mothers' tears.",
        "", "P.P.S: Remember them."), PASS)
    add(2628, "pps_html_br", "Hey McQueen!<br>Roses are red, velocity is v = d / t<br>You drive so fast, "
        "I'm jealous of thee<br>P.P.S. Slow down near schools!", PASS)

    ps_keys = {1759: "How to write a good Chinese poem: choose an image, keep lines balanced, and use tonal contrast.",
               1800: "We have seasons because Earth is tilted, so sunlight hits us at different angles during the year.",
               2070: "| Pros | Cons |\n|---|---|\n| Keeps the public safe | Can harm development |\n| Structure | Stigma |",
               2622: "How about \"The Herald Teen\" or \"Melbourne Now\"?",
               2929: "Find your spark at DateNight Social: real people, real conversations, no swiping fatigue."}
    for key, body in ps_keys.items():
        add(key, "ps_present", body + "\n\nP.S. Thanks for reading!", PASS)
        add(key, "ps_absent", body, FAIL)
    add(2070, "ps_ps_in_table_cell", "| Pros | Cons |\n|---|---|\n| Safety | Stigma. p.s. see note |", PASS)
    add(2622, "ps_photoshop_ps_not_counted", "How about \"The Herald Teen\"? I mocked up a logo in PS.", FAIL)
    add(1759, "ps_ps_in_url", "Read more at http://example.com/tips.s.html", FAIL)
    add(1800, "ps_inside_word_map_s", "Tilted Earth gives us seasons (see the map.s. below).", PASS)


# =============================================================================================
# detectable_format:number_bullet_lists — count of ^\s*\*[^\*].*$ plus ^\s*-.*$ (MULTILINE), ==N
# =============================================================================================

def bullets():
    items = ["It starts with a lizard-sized hero and ends with a galaxy-sized fight.",
             "The good guys wear white and the bad guys breathe heavily.",
             "Every kid wanted a lightsaber, and every adult still does.",
             "The music tells you exactly how to feel."]
    add(1934, "bul_star_four", L(*["* " + i for i in items]), PASS)
    add(1934, "bul_dash_four", L(*["- " + i for i in items]), PASS)
    add(1934, "bul_mixed_star_dash", L("* " + items[0], "- " + items[1], "* " + items[2], "- " + items[3]), PASS)
    add(1934, "bul_three", L(*["* " + i for i in items[:3]]), FAIL)
    add(1934, "bul_five_with_intro_bullet", L("* Why Star Wars works:", *["* " + i for i in items]), LOOSE)
    add(1934, "bul_plus_not_counted", L(*["+ " + i for i in items]), FAIL)
    add(1934, "bul_unicode_bullet_not_counted", L(*["\u2022 " + i for i in items]), FAIL)
    add(1934, "bul_numbered_not_counted", L(*["%d. %s" % (n + 1, i) for n, i in enumerate(items)]), FAIL)
    add(1934, "bul_indented", L(*["    * " + i for i in items]), PASS)
    add(1934, "bul_tab_indented_dash", L(*["\t- " + i for i in items]), PASS)
    add(1934, "bul_no_space_after_star", L(*["*" + i for i in items]), PASS)
    add(1934, "bul_bold_start_not_counted", L("**Why it works**", *["* " + i for i in items]), PASS)
    add(1934, "bul_bold_item_start_not_counted", L(*["**" + i[:10] + "**" + i[10:] for i in items]), FAIL)
    add(1934, "bul_italic_item_start_counted", L(*["*" + i[:10] + "*" + i[10:] for i in items]), PASS)
    add(1934, "bul_star_then_bold", L(*["* **Point:** " + i for i in items]), PASS)
    add(1934, "bul_three_plus_hr_rule_counts", L(*["* " + i for i in items[:3]]) + "\n---\nThanks!", PASS)
    add(1934, "bul_hr_rule_last_lines", L(*["* " + i for i in items]) + "\n\n---", LOOSE)
    add(1934, "bul_signoff_dash_last_line", L(*["* " + i for i in items]) + "\n-- Obi-Wan", LOOSE)
    add(1934, "bul_hyphenated_word_line_start", L(*["* " + i for i in items[:3]], "-based on a true story (not really)."), PASS)
    add(1934, "bul_negative_number_line", L(*["* " + i for i in items]) + "\n-1 points for Jar Jar.", LOOSE)
    add(1934, "bul_blank_lines_between", "\n\n".join("* " + i for i in items), PASS)
    add(1934, "bul_nested_sub_bullets", L("* " + items[0], "  - " + items[1], "* " + items[2], "  * " + items[3]), PASS)
    add(1934, "bul_lone_star_line_then_text", L("* " + items[0], "* " + items[1], "* " + items[2], "*", items[3]), PASS)
    add(1934, "bul_lone_star_at_end", L("* " + items[0], "* " + items[1], "* " + items[2], items[3], "*"), FAIL)
    add(1934, "bul_em_dash_not_counted", L(*["\u2014 " + i for i in items]), FAIL)
    add(1934, "bul_nbsp_indent", L(*["\u00a0* " + i for i in items]), PASS)
    add(1934, "bul_inline_stars_one_line", "* " + " * ".join(items), FAIL)

    names = ["Domino", "Oreo", "Panda"]
    add(2314, "bul_three_names", L(*["* " + n for n in names]), PASS)
    add(2314, "bul_three_names_intro_line", "Here are three names:\n" + L(*["* " + n for n in names]), PASS)
    add(2314, "bul_three_names_bold", L(*["* **" + n + "**" for n in names]), PASS)
    add(2314, "bul_two_names", L(*["* " + n for n in names[:2]]), FAIL)
    add(2314, "bul_names_with_trailing_dash_note", L(*["* " + n for n in names]) + "\n- Bonus: Tuxedo", LOOSE)
    add(2314, "bul_windows_newlines", "\r\n".join("* " + n for n in names), PASS)

    add(2078, "bul_one_riddle", L("I am quick and brave and snake-proof too,", "I live in burrows, what am I to you?",
        "* Hint: I starred in a Kipling story."), PASS)
    add(2078, "bul_one_riddle_plus_dash_answer", L("I am quick and brave and snake-proof too,",
        "* Hint: I starred in a Kipling story.", "- Answer: a mongoose"), LOOSE)
    add(2832, "bul_one_pitch", L("Save the world, level up, and laugh the whole way.",
        "* Epic boss fights, zero grinding, and a soundtrack you will hum for weeks."), PASS)
    add(2832, "bul_one_pitch_em_dash_list", L("Save the world \u2014 level up \u2014 laugh.",
        "* Epic boss fights."), PASS)

    pts = ["Trees and flowers thrive.", "Birds sing in every garden.", "People go outside and enjoy it.",
           "Life feels full of possibility."]
    add(2801, "bul_four", L(*["* " + p for p in pts]), PASS)
    add(2801, "bul_four_star_tab", L(*["*\t" + p for p in pts]), PASS)
    add(2801, "bul_four_line_continuations", L(*["* " + p + "\n  (and it is wonderful)" for p in pts]), PASS)
    add(2801, "bul_four_continuation_dash", L(*["* " + p + "\n  - wonderful" for p in pts]), LOOSE)
    add(3557, "bul_ten_attorneys", L(*["* [Attorney %d], [Firm %d], [City]" % (i, i) for i in range(1, 11)]), PASS)
    add(3557, "bul_ten_with_heading_rule", L("Top attorneys", "---", *["* [Attorney %d]" % i for i in range(1, 11)]), LOOSE)
    add(3557, "bul_nine", L(*["* [Attorney %d]" % i for i in range(1, 10)]), FAIL)
    add(1286, "bul_six_colonies", L(
        "* The 13 colonies rebelled in 1776; Canada and the Caribbean stayed loyal.",
        "* They had elected assemblies with real power.",
        "* Their economies were diverse: farms, ports and trade.",
        "* Many settlers came for religious freedom.",
        "* They shared a growing American identity.",
        "* They were close enough to cooperate against Britain."), PASS)
    add(1286, "bul_six_colonies_markdown_table_dashes", L("| Colony | Loyal? |", "|---|---|",
        "* Virginia", "* Massachusetts", "* New York", "* Georgia", "* Quebec", "* Jamaica"), PASS)


# =============================================================================================
# detectable_format:constrained_response — one of three exact case-sensitive substrings
# =============================================================================================

def constrained():
    add(227, "cr_no_exact", "My answer is no.", PASS)
    add(227, "cr_no_with_reason", "Golden retrievers are usually larger than standard poodles. My answer is no.", PASS)
    add(227, "cr_no_missing_period", "My answer is no", FAIL)
    add(227, "cr_capital_no", "My answer is No.", FAIL)
    add(227, "cr_quoted_option", "\"My answer is no.\"", PASS)
    add(227, "cr_colon_variant", "My answer is: no.", FAIL)
    add(227, "cr_double_space", "My answer is  no.", FAIL)
    add(227, "cr_nbsp", "My answer is\u00a0no.", FAIL)
    add(227, "cr_bold_whole", "**My answer is no.**", PASS)
    add(227, "cr_bold_word_inside", "My answer is **no**.", LOOSE)
    add(227, "cr_lowercase_my", "my answer is no.", FAIL)
    add(227, "cr_ellipsis_after", "My answer is no...", PASS)
    add(227, "cr_all_three_listed", "Options: My answer is yes. My answer is no. My answer is maybe.", PASS)
    add(3749, "cr_maybe", "Both are all-time greats with different strengths. My answer is maybe.", PASS)
    add(3749, "cr_curly_quotes_around", "\u201dMy answer is maybe.\"", PASS)
    add(3749, "cr_perhaps", "My answer is perhaps.", FAIL)
    add(3750, "cr_no", "My answer is no. The moon landings are among the best documented events in history.", PASS)
    add(3750, "cr_french_spacing", "My answer is no .", FAIL)
    add(3751, "cr_maybe_multiline", "It is often said so, but records are unclear.\nMy answer is maybe.", PASS)
    add(3751, "cr_split_across_lines", "My answer is\nmaybe.", FAIL)
    add(3752, "cr_maybe_reasoned", "a + b = 10 and a > b, so a could be 6 (b = 4) but need not be. My answer is maybe.", PASS)
    add(3752, "cr_fullwidth_period", "My answer is maybe\u3002", FAIL)
    add(3753, "cr_no_math", "a = 30 - 10 - 5 = 15, not 20. My answer is no.", PASS)
    add(3753, "cr_uppercase", "MY ANSWER IS NO.", FAIL)
    add(3754, "cr_maybe_reasoning", "Wins are not transitive in pool. My answer is maybe.", PASS)
    add(3755, "cr_trailing_text", "My answer is maybe. It depends on kryptonite.", PASS)
    add(3756, "cr_think_then_answer", "Pikachu is a Pok\u00e9mon, not a Marvel hero. My answer is no.", PASS)
    add(3757, "cr_yes_prefix_line", "Let me think.\nMy answer is yes.", PASS)
    add(3757, "cr_yes_exclamation", "My answer is yes!", FAIL)
    add(3757, "cr_yes_period_inside_bold", "My answer is **yes.**", LOOSE)


# =============================================================================================
# detectable_format:number_highlighted_sections — single-star pairs + double-star pairs, >= N
# =============================================================================================

def highlights():
    add(1773, "hl_one_italic", "*Barefoot Summers*\nDust on my ankles, sun on my face,\nGrandma's porch was my favourite place.", PASS)
    add(1773, "hl_one_bold", "**Barefoot Summers**\nDust on my ankles, sun on my face.", PASS)
    add(1773, "hl_none", "Barefoot Summers\nDust on my ankles, sun on my face.", FAIL)
    add(1773, "hl_underscore_not_counted", "_Barefoot Summers_\nDust on my ankles, sun on my face.", FAIL)
    add(1773, "hl_blank_pair_not_counted", "* *\nDust on my ankles, sun on my face.", FAIL)
    add(1773, "hl_empty_pair_not_counted", "**\nDust on my ankles, sun on my face.", FAIL)
    add(1773, "hl_spanning_lines_not_counted", "*Barefoot\nSummers*\nDust on my ankles.", FAIL)
    add(1773, "hl_bullet_pair_same_line", "* Barefoot Summers * a song", PASS)
    add(1773, "hl_bullets_on_separate_lines", "* Barefoot Summers\n* Dust on my ankles", FAIL)
    add(1773, "hl_math_stars", "The chorus repeats 2*3*4 times.", PASS)
    add(1773, "hl_heading_hash_not_counted", "# Barefoot Summers\nDust on my ankles.", FAIL)
    add(1773, "hl_whitespace_only_inside", "*   *\nDust on my ankles.", FAIL)
    add(1773, "hl_nbsp_only_inside", "*\u00a0*\nDust on my ankles.", FAIL)
    add(1773, "hl_zero_width_space_inside", "*\u200b*\nDust on my ankles.", PASS)

    letter = L(
        "Dear Bean There Coffee,",
        "I pour with *patience* and I foam with *care*,",
        "I know every regular and *how they like their fare*,",
        "With *three years of experience* and a *smile that's always there*,",
        "Hire me, and your mornings will be brighter, I swear.",
    )
    add(1644, "hl_five_italic", letter, PASS)
    add(1644, "hl_four_italic", letter.replace("*care*", "care"), FAIL)
    add(1644, "hl_four_italic_one_bold", letter.replace("*care*", "**care**"), PASS)
    add(1644, "hl_bold_italic_counts_twice", letter.replace("*care*", "care").replace("*patience*", "***patience***"), PASS)
    add(1644, "hl_stars_removed_by_loose_irrelevant", letter.replace("*", ""), FAIL)

    post = ("Animals are more alike than you think. *Elephants mourn their dead*, *crows hold grudges* "
            "and *octopuses solve puzzles*. Even *bees dance to share directions*. {X}")
    add(1646, "hl_five_inline", post.format(X="And *dogs dream*, just like us."), PASS)
    add(1646, "hl_four_inline", post.format(X="And dogs dream, just like us."), FAIL)
    add(1646, "hl_adjacent_pairs", post.format(X="*dogs**dream*"), PASS)
    add(1646, "hl_four_plus_bold_empty", post.format(X="****"), FAIL)

    add(167, "hl_section_names", L("*Executive Summary*", "Warm sweatshirts for Bremen's rainy days.",
        "*Market Analysis*", "Students and tourists want local designs.", "*Products*", "Hoodies with harbour motifs.",
        "*Marketing*", "Instagram and the Schlachte market.", "*Finances*", "Break-even in year two."), PASS)
    add(167, "hl_section_names_markdown_headings", L("## Executive Summary", "Warm sweatshirts.", "## Market Analysis",
        "Students.", "## Products", "Hoodies.", "## Marketing", "Instagram.", "## Finances", "Break-even."), FAIL)
    add(167, "hl_bold_headings_five", L("**Executive Summary**", "x", "**Market Analysis**", "x", "**Products**", "x",
        "**Marketing**", "x", "**Finances**", "x"), PASS)
    add(167, "hl_bullets_with_bold_labels", L("* **Executive Summary:** warm sweatshirts",
        "* **Market:** students", "* **Products:** hoodies", "* **Marketing:** Instagram", "* **Finances:** year two"), PASS)
    add(167, "hl_non_ascii_inside", L("*\u00dcbersicht*", "*Marktanalyse*", "*Produkte*", "*Vertrieb*", "*Finanzen f\u00fcr 2025*"), PASS)

    add(1307, "hl_fifteen", L(*["%d. *Section %d: %s*" % (i, i, t) for i, t in enumerate(
        ["Origins", "Mocha port", "Sufi rituals", "Ottoman trade", "Dutch smuggling", "Terraces", "Varieties",
         "Processing", "Decline", "Qat competition", "Revival", "Specialty market", "War", "Exports", "Future"], 1)]), PASS)
    add(1307, "hl_fourteen", L(*["%d. *%s*" % (i, t) for i, t in enumerate(
        ["Origins", "Mocha port", "Sufi rituals", "Ottoman trade", "Dutch smuggling", "Terraces", "Varieties",
         "Processing", "Decline", "Qat competition", "Revival", "Specialty market", "War", "Exports"], 1)]), FAIL)
    add(168, "hl_three_template", L("Marriage Rating Template (for two moms who already know everything)",
        "*Communication:* __/10 (who actually reads the group chat?)",
        "*Chore Division:* __/10 (the dishwasher knows the truth)",
        "*Date Nights:* __/10 (falling asleep during the movie counts)"), PASS)
    add(2253, "hl_three_bold_headings", L("Workshop: Diversity at Work", "**Welcome and goals**", "**Why diversity matters**",
        "**Action plan**"), PASS)
    add(2381, "hl_three_mixed", "Dear Committee, I would love to be your *rally organizer*. I have "
        "**five years of event experience** and a ***loud voice***.", PASS)
    add(2515, "hl_one_in_last_line", "Gideon could sell, store or donate his crops.\n*Donating to the food bank* is the kindest choice.", PASS)
    add(2752, "hl_two_answer", "The opposite of youth is not age, but *stagnation*. Staying *curious* keeps us young.", PASS)
    add(2790, "hl_one_rap", "Phone rings at noon, it's a prince on the line,\n*Long lost cousin*, you're the heir to the shine!", PASS)
    add(2905, "hl_two_story", "Tom tried to throw his *cold* at his brother, but it stuck to him like *glue*.", PASS)
    add(3453, "hl_five_italics", "Japan's history spans the *Jomon* hunters, the *Heian* court, the *samurai* era, "
        "the *Meiji Restoration* and the postwar *economic miracle*.", PASS)
    add(3549, "hl_two_haiku", "John the Quaker *sits*\nIn De Smet, quiet as *snow*\nHis oats speak for him", PASS)
    add(3629, "hl_one_continuation", "The Grammys celebrated *Adele* and many more, honoring the year's finest recordings.", PASS)
    add(3644, "hl_two_dutch", "Dutch has a word for cosy: *gezellig*. It also gave English *cookie* and *yacht*.", PASS)
    add(3644, "hl_one_dutch", "Dutch has a word for cosy: *gezellig*. It also gave English cookie and yacht.", FAIL)
    add(3071, "hl_three_rap", "Renaissance vibes, *Leonardo on the mic*,\n*Michelangelo* painting ceilings day and night,\n*Gutenberg* printing every rhyme I write.", PASS)
    add(2759, "hl_three_weird", "Behold *The Golden Palace*, where *Indian feasts* shimmer in the *city centre* like lost comets.", PASS)
    add(1886, "hl_three_facade_riddle", "I am a *face without a body*, *a front without a back*, *all show and no depth*. What am I? (fa\u00e7ade)", PASS)


# =============================================================================================
# detectable_format:multiple_sections — re.split(r"\s?" + splitter + r"\s?\d+\s?"), pieces-1 >= N
# =============================================================================================

def sections():
    story = ["Harry bought a dog named Pickles, who immediately ate his left shoe.",
             "Harry tried obedience school; Pickles graduated, Harry did not.",
             "Now Pickles walks Harry every morning, and the neighbours applaud."]
    add(357, "sec_three", L(*["SECTION %d\n%s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_three_colon", L(*["SECTION %d: %s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_three_bold", L(*["**SECTION %d**\n%s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_bold_word_only_loose", L(*["**SECTION** %d\n%s" % (i + 1, t) for i, t in enumerate(story)]), LOOSE)
    add(357, "sec_three_markdown_heading", L(*["## SECTION %d\n%s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_titlecase_not_matching", L(*["Section %d\n%s" % (i + 1, t) for i, t in enumerate(story)]), FAIL)
    add(357, "sec_letter_x_not_matching", L(*["SECTION X\n%s" % t for t in story]), FAIL)
    add(357, "sec_roman_not_matching", L(*["SECTION %s\n%s" % (r, t) for r, t in zip(["I", "II", "III"], story)]), FAIL)
    add(357, "sec_no_space", L(*["SECTION%d\n%s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_two_spaces_before_digit", L(*["SECTION  %d\n%s" % (i + 1, t) for i, t in enumerate(story)]), FAIL)
    add(357, "sec_two", L(*["SECTION %d\n%s" % (i + 1, t) for i, t in enumerate(story[:2])]), FAIL)
    add(357, "sec_four_is_enough", L(*["SECTION %d\n%s" % (i + 1, t) for i, t in enumerate(story + ["The end."])]), PASS)
    add(357, "sec_same_number_repeated", L(*["SECTION 1\n%s" % t for t in story]), PASS)
    add(357, "sec_mentioned_in_text", "SECTION 1\n" + story[0] + " (See SECTION 2 and SECTION 3 for more.)", PASS)
    add(357, "sec_inside_word", "SUBSECTION 1 " + story[0] + " SUBSECTION 2 " + story[1] + " SUBSECTION 3 " + story[2], PASS)
    add(357, "sec_arabic_indic_digits", L(*["SECTION %s\n%s" % (d, t) for d, t in zip(["\u0661", "\u0662", "\u0663"], story)]), PASS)
    add(357, "sec_fullwidth_digits", L(*["SECTION %s\n%s" % (d, t) for d, t in zip(["\uff11", "\uff12", "\uff13"], story)]), PASS)
    add(357, "sec_superscript_digit_not_decimal", L(*["SECTION %s\n%s" % (d, t) for d, t in zip(["\u00b9", "\u00b2", "\u00b3"], story)]), FAIL)
    add(357, "sec_nbsp_before_digit", L(*["SECTION\u00a0%d\n%s" % (i + 1, t) for i, t in enumerate(story)]), PASS)
    add(357, "sec_hash_number", L(*["SECTION #%d\n%s" % (i + 1, t) for i, t in enumerate(story)]), FAIL)
    add(1548, "sec_four_cafe", L("SECTION 1: Welcome to The Rainbow Cafe", "SECTION 2: Our menu", "SECTION 3: Our values",
                                 "SECTION 4: Visit us"), PASS)
    add(1548, "sec_four_in_one_line", "SECTION 1 welcome SECTION 2 menu SECTION 3 values SECTION 4 visit", PASS)
    add(2023, "sec_four_poem", "SECTION 1\nCandy is dandy\nSECTION 2\nBut teeth go bye\nSECTION 3\nSo eat an apple\nSECTION 4\nAnd wave sweets goodbye", PASS)
    add(2023, "sec_three_of_four", "SECTION 1\nCandy is dandy\nSECTION 2\nBut teeth go bye\nSECTION 3\nSo eat an apple", FAIL)
    add(2925, "sec_three_joke", "SECTION 1 Anarchists in Tulsa planned a meeting. SECTION 2 Nobody agreed who should chair it. SECTION 3 So they all chaired it.", PASS)
    add(1131, "sec_titlecase_section", L("Section 1: Contact", "Phil Larkin, professional clown.", "Section 2: Experience",
                                        "Twenty years of balloon animals.", "Section 3: Skills", "Juggling, unicycling.",
                                        "Section 4: References", "Available on request."), PASS)
    add(1131, "sec_uppercase_for_titlecase_splitter", L("SECTION 1: Contact", "SECTION 2: Experience", "SECTION 3: Skills", "SECTION 4: References"), FAIL)
    add(1131, "sec_subsection_lowercase_not_matching", L("Subsection 1", "subsection 2", "Section 3", "Section 4"), FAIL)
    add(1131, "sec_subsection_camel_matching", L("SubSection 1", "SubSection 2", "SubSection 3", "SubSection 4"), PASS)


# =============================================================================================
# detectable_format:json_format — strip, remove one ```json/```Json/```JSON/``` prefix and one
# ``` suffix, strip, json.loads
# =============================================================================================

def json_format():
    obj = ('{\n  "product": "CloudSoft Diaper",\n  "headline": "Happy babies, dry nights",\n'
           '  "features": ["breathable", "stretchy waistband", "12-hour protection"],\n  "price_usd": 12.99\n}')
    add(1075, "json_plain_object", obj, PASS)
    add(1075, "json_fenced_json", "```json\n" + obj + "\n```", PASS)
    add(1075, "json_fenced_upper", "```JSON\n" + obj + "\n```", PASS)
    add(1075, "json_fenced_title", "```Json\n" + obj + "\n```", PASS)
    add(1075, "json_fenced_plain", "```\n" + obj + "\n```", PASS)
    add(1075, "json_fenced_mixed_case_jSON", "```jSON\n" + obj + "\n```", LOOSE)
    add(1075, "json_fenced_javascript", "```javascript\n" + obj + "\n```", LOOSE)
    add(1075, "json_fenced_jsonc", "```jsonc\n" + obj + "\n```", LOOSE)
    add(1075, "json_fence_with_space", "``` json\n" + obj + "\n```", LOOSE)
    add(1075, "json_no_closing_fence", "```json\n" + obj, PASS)
    add(1075, "json_no_opening_fence", obj + "\n```", PASS)
    add(1075, "json_surrounding_whitespace", "\n\n   ```json\n" + obj + "\n```   \n", PASS)
    add(1075, "json_prose_before_fence", "Here is your ad:\n```json\n" + obj + "\n```", LOOSE)
    add(1075, "json_prose_same_line_before_fence", "Here is your ad: ```json\n" + obj + "\n```", LOOSE)
    add(1075, "json_fence_one_line", "```json " + obj.replace("\n", " ") + " ```", PASS)
    add(1075, "json_prose_before_one_line_json", "Here is your ad: " + obj.replace("\n", " "), FAIL)
    add(1075, "json_prose_after_fence", "```json\n" + obj + "\n```\nHope this helps!", LOOSE)
    add(1075, "json_prose_both_sides", "Here you go:\n```json\n" + obj + "\n```\nEnjoy!", LOOSE)
    add(1075, "json_prose_two_lines_before", "Sure!\nHere is your ad:\n```json\n" + obj + "\n```", FAIL)
    add(1075, "json_trailing_comma", obj.replace('"price_usd": 12.99', '"price_usd": 12.99,'), FAIL)
    add(1075, "json_single_quotes", obj.replace('"', "'"), FAIL)
    add(1075, "json_comment_line", obj.replace('{\n', '{\n  // ad copy\n', 1), FAIL)
    add(1075, "json_two_objects", obj + "\n" + obj, FAIL)
    add(1075, "json_two_fenced_blocks", "```json\n" + obj + "\n```\n```json\n" + obj + "\n```", FAIL)
    add(1075, "json_nan_accepted", obj.replace("12.99", "NaN"), PASS)
    add(1075, "json_infinity_accepted", obj.replace("12.99", "-Infinity"), PASS)
    add(1075, "json_duplicate_keys_accepted", obj.replace('"price_usd": 12.99', '"price_usd": 12.99, "price_usd": 10'), PASS)
    add(1075, "json_huge_integer", obj.replace("12.99", "1" + "0" * 40), PASS)
    add(1075, "json_non_ascii_content", obj.replace("Happy babies, dry nights", "B\u00e9b\u00e9s heureux \u2014 \u5e78\u305b\u306a\u8d64\u3061\u3083\u3093 \U0001F476"), PASS)
    add(1075, "json_unicode_escapes", obj.replace("Happy babies", "Happy \\u00e9b\\ud83d\\udc76"), PASS)
    add(1075, "json_lone_surrogate_escape", obj.replace("Happy babies", "Happy \\ud83d babies"), PASS)
    add(1075, "json_raw_newline_in_string", obj.replace("Happy babies, dry nights", "Happy babies,\ndry nights"), FAIL)
    add(1075, "json_raw_tab_in_string", obj.replace("Happy babies, dry nights", "Happy babies,\tdry nights"), FAIL)
    add(1075, "json_bom_prefix", "\ufeff" + obj, FAIL)
    add(1075, "json_nbsp_indent", obj.replace("  ", "\u00a0\u00a0"), FAIL)
    add(1075, "json_bold_markdown_inside", obj.replace('"CloudSoft Diaper"', '"**CloudSoft** Diaper"'), PASS)
    add(1075, "json_ending_asterisks", obj + "\n**", LOOSE)
    add(1094, "json_array_top_level", "[\"Marge Simpson\", \"Morticia Addams\", \"Lorelai Gilmore\", \"Molly Weasley\", \"Lois Griffin\"]", PASS)
    add(1094, "json_bare_string", "\"Marge Simpson, Morticia Addams, Lorelai Gilmore, Molly Weasley, Lois Griffin\"", PASS)
    add(1094, "json_bare_number", "5", PASS)
    add(1094, "json_bare_true", "true", PASS)
    add(1094, "json_bare_null", "null", PASS)
    add(1094, "json_python_literal_none", "None", FAIL)
    add(1094, "json_python_true", "True", FAIL)
    add(1094, "json_empty_fence", "```json\n```", FAIL)
    add(1094, "json_empty_object", "{}", PASS)
    add(1148, "json_pros_cons", '```json\n{"advantages": ["flying", "never late"], "disadvantages": ["capes snag", "secret identity stress"]}\n```', PASS)
    add(1148, "json_triple_backtick_inside_string", '```json\n{"note": "use ``` for code"}\n```', PASS)
    add(1148, "json_fence_inline_one_line", '```json {"advantages": ["flying"]} ```', PASS)
    add(13, "json_history", '```JSON\n{"park": "Prospect Park", "opened": 1867, "designers": ["Olmsted", "Vaux"]}\n```', PASS)
    add(13, "json_tilde_fence", '~~~json\n{"park": "Prospect Park"}\n~~~', LOOSE)
    add(2404, "json_radcliffe", '{"Radcliffe": {"traits": ["stealthy", "clever", "persuasive"]}}', PASS)
    add(2857, "json_rubric", '```\n{"rubric": {"code_quality": "1-5", "collaboration": "1-5", "delivery": "1-5"}}\n```', PASS)
    add(321, "json_pitch", '{"app": "Tipperary", "problem": "Nobody knows the right tip.", "solution": "Average tips per restaurant."}', PASS)
    add(3223, "json_messi", '```json\n{"name": "Lionel Messi", "born": "1987-06-24", "ballon_dor": 8}\n```', PASS)
    add(3223, "json_python_dict_style", "{'name': 'Lionel Messi', 'born': '1987-06-24'}", FAIL)


# =============================================================================================
# detectable_format:title — some <<[^\n]+>> match (greedy) with non-blank content after
# stripping '<', '>' and whitespace
# =============================================================================================

def title():
    body = ("Kotlin offers null safety, concise syntax and coroutines, while Java has a larger "
            "ecosystem, more developers and decades of tooling.")
    add(1322, "title_standard", "<<Kotlin vs Java>>\n\n" + body, PASS)
    add(1322, "title_middle_of_text", body + " <<Kotlin vs Java>> " + body, PASS)
    add(1322, "title_bold_wrapped", "**<<Kotlin vs Java>>**\n\n" + body, PASS)
    add(1322, "title_markdown_heading", "# <<Kotlin vs Java>>\n\n" + body, PASS)
    add(1322, "title_blank", "<< >>\n\n" + body, FAIL)
    add(1322, "title_empty", "<<>>\n\n" + body, FAIL)
    add(1322, "title_only_angles", "<<>>>\n\n" + body, FAIL)
    add(1322, "title_spanning_lines", "<<Kotlin\nvs Java>>\n\n" + body, FAIL)
    add(1322, "title_single_angles", "<Kotlin vs Java>\n\n" + body, FAIL)
    add(1322, "title_guillemets", "\u00abKotlin vs Java\u00bb\n\n" + body, FAIL)
    add(1322, "title_unclosed", "<<Kotlin vs Java>\n\n" + body, FAIL)
    add(1322, "title_triple_angles", "<<<Kotlin vs Java>>>\n\n" + body, PASS)
    add(1322, "title_html_entities", "&lt;&lt;Kotlin vs Java&gt;&gt;\n\n" + body, FAIL)
    add(1322, "title_stars_only", "<<**>>\n\n" + body, PASS)
    add(1322, "title_blank_then_later_close", "<< >> is how titles look >>\n\n" + body, PASS)
    add(1322, "title_two_on_one_line", "<<Kotlin>> vs <<Java>>\n\n" + body, PASS)
    add(1322, "title_nbsp_only", "<<\u00a0>>\n\n" + body, FAIL)
    add(1322, "title_non_ascii", "<<Kotlin \u2194 Java: \u5bf9\u6bd4>>\n\n" + body, PASS)
    add(1322, "title_crlf_inside", "<<Kotlin\r vs Java>>\n\n" + body, PASS)
    add(1551, "title_two_letters", "<<Concise Cover Letter>>\nDear Google team, ...\n\n<<Long Cover Letter>>\nDear Hiring Committee, ...", PASS)
    add(1802, "title_answer_in_angles", "A 10 year old would understand it, but it needs more detail.\n<<Mostly yes, with a bit more context>>", PASS)
    add(2097, "title_essay", "<<The 2000 Election: Decided by Chads>>\nThe 2000 race between Bush and Gore came down to Florida.", PASS)
    add(2229, "title_pitch", "<<The Diaper That Hugs Back>>\nMoms, meet the diaper your baby will thank you for.", PASS)
    add(2807, "title_lowercase_ad", "<<witches' legal eagle>>\nhexed by a copycat spell? call us before the full moon.", PASS)
    add(295, "title_shakespeare", "# <<A Royal Decree>>\n\nHear ye, hear ye, the King commands...", PASS)
    add(2969, "title_sloop_table", "<<Sail Away Today>>\n| Feature | Detail |\n|---|---|\n| Mast | One |", PASS)
    add(3057, "title_riddle", "<<The Undoing>>\nI take what you did and give it back; what am I? (f\u207b\u00b9)", PASS)
    add(3606, "title_missing", "In a world where dreams are battlegrounds, a boxer discovers his fists can bend reality.", FAIL)
    add(3690, "title_critique", "<<Swipe Right on Clarity>>\nThe copy is upbeat but vague about how matching works.", PASS)
    add(3697, "title_pitch_deck", "Slide 1: <<Dear Neighbor>>\nSlide 2: Problem\nSlide 3: Solution", PASS)
    add(3719, "title_song", "<<Bone in the Potomac>>\nI was eating by the river when the chicken fought back...", PASS)


# =============================================================================================
# combination:two_responses — split on "******"; blank pieces only at the ends; exactly two
# non-blank pieces that differ after strip
# =============================================================================================

def two_responses():
    r1 = "Many people call God \"the Almighty\"."
    r2 = "In Islam, God is called Allah."
    add(1098, "two_standard", r1 + "\n******\n" + r2, PASS)
    add(1098, "two_blank_lines", r1 + "\n\n******\n\n" + r2, PASS)
    add(1098, "two_identical", r1 + "\n******\n" + r1, FAIL)
    add(1098, "two_identical_up_to_whitespace", r1 + "\n******\n  " + r1 + "  ", FAIL)
    add(1098, "two_identical_up_to_case", r1 + "\n******\n" + r1.upper(), PASS)
    add(1098, "two_seven_asterisks", r1 + "\n*******\n" + r2, PASS)
    add(1098, "two_twelve_asterisks", r1 + "\n************\n" + r2, FAIL)
    add(1098, "two_three_asterisks", r1 + "\n***\n" + r2, FAIL)
    add(1098, "two_spaced_asterisks", r1 + "\n* * * * * *\n" + r2, FAIL)
    add(1098, "two_leading_separator", "******\n" + r1 + "\n******\n" + r2, PASS)
    add(1098, "two_trailing_separator", r1 + "\n******\n" + r2 + "\n******", PASS)
    add(1098, "two_three_responses", r1 + "\n******\n" + r2 + "\n******\nYahweh.", LOOSE)
    r1m = r1 + "\nOthers simply say \"the Lord\"."
    r2m = r2 + "\nIn Judaism, many say Adonai."
    add(1098, "two_three_responses_middle", r1m + "\n******\nYahweh.\n******\n" + r2m, FAIL)
    add(1098, "two_three_responses_middle_one_line_ends", r1 + "\n******\nYahweh.\n******\n" + r2, LOOSE)
    add(1098, "two_one_response", r1, FAIL)
    add(1098, "two_double_separator", r1 + "\n******\n******\n" + r2, FAIL)
    add(1098, "two_separator_inline", r1 + " ****** " + r2, PASS)
    add(1098, "two_labels_with_bold", "**Response 1:** " + r1 + "\n******\n**Response 2:** " + r2, PASS)
    add(1098, "two_fullwidth_asterisks", r1 + "\n\uff0a\uff0a\uff0a\uff0a\uff0a\uff0a\n" + r2, FAIL)
    add(1098, "two_separator_as_last_line_only", r1 + "\n" + r2 + "\n******", FAIL)
    add(1332, "two_tables", "| Day | India |\n|---|---|\n| 1 | Delhi |\n| 2 | Agra |\n******\n| Day | China |\n|---|---|\n| 1 | Beijing |\n| 2 | Xi'an |", PASS)
    add(1591, "two_limericks", L("My kids leave their socks on the stair,", "Their plates and their cups everywhere,",
        "I ask and I plead,", "They never take heed,", "So I'm selling their beds at the fair!") + "\n******\n" +
        L("The chore chart is taped to the door,", "It's been there since twenty-twenty-four,", "Not one box is ticked,",
          "My patience is nicked,", "I'm going on strike, nothing more!"), PASS)
    add(1746, "two_essay_and_poem", "Benjamin Franklin was a printer, scientist and diplomat who helped found a nation.\n"
        "******\nA printer's boy with a kite in the storm,\nHe helped a young nation take its form.", PASS)
    add(2383, "two_grammar", "Yes, it is grammatically correct.\n******\nThe sentence is correct; \"Mrs.\" keeps its period in American English.", PASS)
    add(247, "two_raps", "Yo, from han to ken, the map got redrawn...\n******\nEighteen seventy-one, the daimyo gone...", PASS)
    add(2918, "two_rubric_then_summary", "Rubric: ideas 40%, structure 30%, style 20%, mechanics 10%.\n******\nSummary: reward clear thinking first.", PASS)
    add(2918, "two_summary_after_separator_only_once", "******\nSummary: reward clear thinking first.", FAIL)
    add(322, "two_advisors", "[Joe Biden's national security advisor is Jake Sullivan.]\n******\n[Donald Trump's national security advisors included Michael Flynn, H. R. McMaster, John Bolton and Robert O'Brien.]", PASS)
    add(3263, "two_jiang", "Yes, Jiang (\u848b / \u6c5f) is a common Chinese surname.\n******\nSimilar names include Zhang, Wang, Jing and Yang.", PASS)
    add(3263, "two_jiang_cjk_identical", "\u848b\n******\n\u848b", FAIL)


# =============================================================================================
# combination:repeat_prompt — response.strip().lower().startswith(prompt_to_repeat.strip().lower())
# =============================================================================================

def repeat_prompt():
    answers = {
        1480: "Last week a man boarded my bus carrying a full-size canoe.",
        1518: "Here is a cover letter draft tailored to your seven years of experience.",
        1686: "Sure! The movie is a great way to discuss ethics with your students.",
        1906: "Oh great, 45 minutes late AGAIN. I could have learned Italian by now.",
        1922: "A bank! A dome? A vault? Walls? I am clearly the world's most disappointing bank.",
        2071: "Frodo walks a long way to throw away some jewellery, with help from his friends.",
        2192: "Class, I'm sure the font you chose has a lovely personality. Perhaps it could meet a different one.",
        2355: "Some argue it was written for muskets, not modern weapons; others disagree strongly.",
        2359: "Chester the corgi chases a ball, he's the happiest dog of all!",
        2465: "Call it Almost-O'Clock Time!",
        2482: "Behold, the sentence, reborn in the tongue of pirates!",
        2585: "Yo, Gatsby threw parties every night, but Daisy was the only light.",
        288: "Yes. Ballistics uses physics to study how projectiles move and behave.",
        3224: "I am a number: square me and add me, you get 12. What am I? (Answer: 3)",
        3563: "Sir Ian McKellen played Gandalf.",
    }
    for key, ans in answers.items():
        req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
        add(key, "rep_exact_then_answer", req + "\n\n" + ans, PASS)
    key = 3563
    req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
    ans = answers[key]
    add(key, "rep_case_changed", req.upper() + "\n" + ans, PASS)
    add(key, "rep_leading_whitespace", "\n\n   " + req + "\n" + ans, PASS)
    add(key, "rep_preamble_same_line", "Sure! " + req + "\n" + ans, FAIL)
    add(key, "rep_preamble_own_line", "Sure!\n" + req + "\n" + ans, LOOSE)
    add(key, "rep_quoted", "\"" + req + "\"\n" + ans, FAIL)
    add(key, "rep_bold", "**" + req + "**\n" + ans, LOOSE)
    add(key, "rep_missing_question_mark", req.rstrip("?") + "\n" + ans, FAIL)
    add(key, "rep_double_space_inside", req.replace("the actor", "the  actor") + "\n" + ans, FAIL)
    add(key, "rep_answer_only", ans, FAIL)
    add(key, "rep_only_repeat_no_answer", req, PASS)
    add(key, "rep_full_prompt_repeated", PROMPTS[key]["prompt"] + "\n" + ans, PASS)
    add(key, "rep_nbsp_inside", req.replace("the actor", "the\u00a0actor") + "\n" + ans, FAIL)
    key = 1922
    req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
    add(key, "rep_exact_single_newline", req + "\n" + answers[key], PASS)
    add(key, "rep_line_break_instead_of_space", req.replace("? What am I? ", "?\nWhat am I?\n") + "\n" + answers[key], FAIL)
    key = 2192
    req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
    add(key, "rep_curly_quotes_substituted", req.replace('"You', "\u201cYou").replace('font."', "font.\u201d") + "\n" + answers[key], FAIL)
    key = 2465
    req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
    add(key, "rep_regex_chars_literal", req + "\n" + answers[key], PASS)
    add(key, "rep_utc_changed", req.replace("UTC+00:05:28", "UTC+0:05:28") + "\n" + answers[key], FAIL)
    # Prompts where the text to repeat is not at the start of the prompt.
    for key in (16, 3305):
        req = kwarg(key, "combination:repeat_prompt", "prompt_to_repeat")
        add(key, "rep_whole_prompt", PROMPTS[key]["prompt"] + "\n" + "My answer follows.")


# =============================================================================================
# startend:end_checker — response.strip().strip('"').lower().endswith(phrase.strip().lower())
# =============================================================================================

def end_checker():
    phrase = "Is there anything else I can help with?"
    body = ("Multivariate analysis looks at many things at once. Instead of asking how one factor "
            "affects sales, it asks how price, weather and advertising work together.")
    add(2268, "end_exact", body + " " + phrase, PASS)
    add(2268, "end_trailing_whitespace", body + " " + phrase + "  \n\n", PASS)
    add(2268, "end_own_line", body + "\n\n" + phrase, PASS)
    add(2268, "end_lowercase", body + " " + phrase.lower(), PASS)
    add(2268, "end_quoted", "\"" + body + " " + phrase + "\"", PASS)
    add(2268, "end_quoted_phrase_only", body + " \"" + phrase + "\"", PASS)
    add(2268, "end_double_quotes_twice", body + " \"\"" + phrase + "\"\"", PASS)
    add(2268, "end_single_quoted", body + " '" + phrase + "'", FAIL)
    add(2268, "end_curly_quoted", body + " \u201c" + phrase + "\u201d", FAIL)
    add(2268, "end_extra_period", body + " " + phrase + ".", FAIL)
    add(2268, "end_bold", body + " **" + phrase + "**", LOOSE)
    add(2268, "end_emoji_after", body + " " + phrase + " \U0001F642", FAIL)
    add(2268, "end_signoff_line", body + " " + phrase + "\n- Your assistant", LOOSE)
    add(2268, "end_signoff_two_lines", body + " " + phrase + "\n\nBest,\nYour assistant", FAIL)
    add(2268, "end_missing_question_mark", body + " Is there anything else I can help with", FAIL)
    add(2268, "end_fullwidth_question_mark", body + " Is there anything else I can help with\uff1f", FAIL)
    add(2268, "end_nbsp_inside", body + " Is there anything else I can\u00a0help with?", FAIL)
    add(2268, "end_glued_to_previous_word", body + phrase, PASS)
    add(2268, "end_phrase_only", phrase, PASS)
    add(1893, "end_peace", "Alexander rode to Pella with a crown on his head,\nThe whole of Macedon bowed, that's what I said.\nPeace!", PASS)
    add(1893, "end_peace_out", "Alexander rode to Pella with a crown on his head.\nPeace out!", FAIL)
    add(1893, "end_peace_repeated", "Alexander rode to Pella.\nPeace! Peace!", PASS)
    add(1939, "end_which_one", "Option 1: crate training. Option 2: clicker training. Option 3: puppy classes. Which one you choose?", PASS)
    add(1939, "end_which_one_grammar_fixed", "Option 1: crate training. Option 2: clicker training. Which one do you choose?", FAIL)
    add(2398, "end_case_insensitive_mixed", "Golden hills and fog-kissed bay,\nCalifornia, take my heart away.\nWith all YOUR LOVE, AND THANKS.", PASS)
    add(2398, "end_missing_comma", "Golden hills and fog-kissed bay,\nWith your love and thanks.", FAIL)
    add(3198, "end_phone", "I would love to join your team as a project coordinator. Call me at 631-481-4867", PASS)
    add(3198, "end_phone_with_period", "I would love to join your team. Call me at 631-481-4867.", FAIL)
    add(3198, "end_phone_unicode_hyphens", "I would love to join your team. Call me at 631\u2011481\u20114867", FAIL)
    add(2677, "end_dave", "A guy named Dave would never behave,\nHe'd skip all his chores and then rave,\nHis mom called his name,\nHe answered the same:\nYes Mom, I am Dave.", PASS)
    add(3203, "end_naomi", "The Canucks need to respect our rivers and forests. Naomi thanks you for reading.", PASS)
    add(1659, "end_college", "Start early, write honestly, and ask for feedback. You cannot fail with the steps listed above.", PASS)
    add(1902, "end_code", "1. Pick a language. 2. Build tiny projects. 3. Read code. 4. Ask questions. 5. Keep going. "
        "Follow the 5 steps listed above, and you will be successful.", PASS)
    add(2475, "end_tldr", "- ISIL lost most of its territory.\n- US strikes continue.\nLet me know if you have additional questions.", PASS)
    add(1128, "end_sentiment", "The sentiment is negative. Is there anything else I can help with?", PASS)
    add(1220, "end_poem", "Two cups, one table, a shy hello,\nThe rain outside began to slow.\nIs there anything else I can help with?", PASS)
    add(1446, "end_article_trailing_quote_only", "Disability is part of life for one in six people. Is there anything else I can help with?\"", PASS)
    add(3001, "end_list", "1. Rename your files.\n2. Alphabetise the snacks.\nIs there anything else I can help with?", PASS)
    add(3048, "end_buildings_phrase_mid", "Is there anything else I can help with? The Burj Khalifa is 828 m tall.", FAIL)
    add(3079, "end_letter", "Dear 6th graders, snacks are important. Always share them.\nIs there anything else I can help with?", PASS)
    add(2505, "end_improved", "The best way to learn a culture is to live in it. Is there anything else I can help with?", PASS)


# =============================================================================================
# startend:quotation — stripped response has length > 1 and starts and ends with ASCII '"'
# =============================================================================================

def quotation():
    blog = ("Hey teens! Before TikTok and group chats, the internet was a handful of university "
            "computers swapping messages. Today it shapes how you learn, laugh and make friends.")
    add(122, "quo_standard", "\"" + blog + "\"", PASS)
    add(122, "quo_outer_whitespace", "  \n\"" + blog + "\"\n\n", PASS)
    add(122, "quo_multi_paragraph", "\"" + blog + "\n\nStay curious online, and stay kind.\"", PASS)
    add(122, "quo_curly", "\u201c" + blog + "\u201d", FAIL)
    add(122, "quo_single", "'" + blog + "'", FAIL)
    add(122, "quo_missing_close", "\"" + blog, FAIL)
    add(122, "quo_missing_open", blog + "\"", FAIL)
    add(122, "quo_period_after_close", "\"" + blog + "\".", FAIL)
    add(122, "quo_preamble_line", "Here is the blog post:\n\"" + blog + "\"", LOOSE)
    add(122, "quo_signoff_line", "\"" + blog + "\"\n(Word count: 32)", LOOSE)
    add(122, "quo_both_extra_lines", "Blog post:\n\"" + blog + "\"\nEnjoy!", LOOSE)
    add(122, "quo_bold_quotes", "**\"" + blog + "\"**", LOOSE)
    add(122, "quo_single_char", "\"", FAIL)
    add(122, "quo_two_quotes_only", "\"\"", PASS)
    add(122, "quo_inner_quotes_fine", "\"" + blog.replace("the internet", "\"the internet\"") + "\"", PASS)
    add(122, "quo_nbsp_outside", "\u00a0\"" + blog + "\"\u00a0", PASS)
    add(122, "quo_ideographic_space_outside", "\u3000\"" + blog + "\"\u3000", PASS)
    add(122, "quo_zero_width_space_outside", "\u200b\"" + blog + "\"", FAIL)
    add(122, "quo_unit_separator_outside", "\x1f\"" + blog + "\"\x1f", PASS)
    add(122, "quo_bom_outside", "\ufeff\"" + blog + "\"", FAIL)
    add(122, "quo_fullwidth_quotes", "\uff02" + blog + "\uff02", FAIL)
    add(122, "quo_two_separate_quotes", "\"Hey teens!\" and then \"stay kind\"", PASS)
    add(1776, "quo_math_steps", "\"Give every member 1 pet: 20 pets. 12 pets remain. Each 3-pet member needs 2 more, "
        "so at most 6 members can have 3 pets.\"", PASS)
    add(2010, "quo_review", "\"IBM's 1956 program played a simplified game on a 6x6 board, but it was a landmark.\"", PASS)
    add(2015, "quo_tagline", "\"Laugh Local: Where the Jokes Are Homegrown!\"", PASS)
    add(219, "quo_opinion", "\"Kareena Kapoor is widely praised for her range, from comedy to drama.\"", PASS)
    add(2209, "quo_proposal_markdown", "\"# Proposal\n\n**Goal:** add offline mode.\n\n**Plan:** three sprints.\"", PASS)
    add(2239, "quo_rewrite_nested", "\"\"I hurled my hatred into the roaring fire.\"\"", PASS)
    add(2441, "quo_speech", "\"My fellow citizens, this election belongs to you.\"", PASS)
    add(2532, "quo_email", "\"Hi Jo,\n\nLoud chewing and last-minute plans trigger me. Let's talk.\n\nLove, Ana\"", PASS)
    add(2691, "quo_cover_letter_smart_close", "\"Dear Darius, I would bring jokes and spreadsheets to Ventura.\u201d", FAIL)
    add(281, "quo_joke", "\"Why did the XML file break up with the HTML file? Too many unclosed issues.\"", PASS)
    add(2829, "quo_piano", "\"Because Helsinki had the only piano tuned to his favourite note.\"", PASS)
    add(2985, "quo_alex_jones", "\"They don't want you to know why engineers stay, folks!\"", PASS)
    add(3536, "quo_song", "\"Build it, break it, make it new,\nInnovation starts with you!\"", PASS)


# =============================================================================================
# change_case:capital_word_frequency — count of nltk.word_tokenize tokens with str.isupper()
# =============================================================================================

def capital_word_frequency():
    summary = ("Researchers from Stanford and the University of California say the US can reach "
               "{A} renewable energy by 2050 using wind, water and sunlight. The plan would {B} "
               "jobs and cut pollution, and it is {C}.")
    add(1592, "cap_three", summary.format(A="100% RENEWABLE", B="CREATE", C="AFFORDABLE"), PASS)
    add(1592, "cap_two_plus_us", summary.format(A="100% RENEWABLE", B="CREATE", C="affordable"), PASS)
    add(1592, "cap_one_plus_us", summary.format(A="100%", B="CREATE", C="affordable"), FAIL)
    add(1592, "cap_i_pronoun_counts", summary.format(A="100%", B="create", C="affordable") + " I agree. I think so.", PASS)
    add(1592, "cap_hyphenated_token", summary.format(A="100%", B="create", C="CO2-FREE"), FAIL)
    add(1592, "cap_digits_not_upper", summary.replace("the US", "the country").format(A="100%", B="create", C="2050-ready"), FAIL)
    add(1592, "cap_non_ascii_upper", summary.replace("the US", "the country").format(A="\u00c9NORME", B="\u00dcBER", C="\u0152UVRE"), PASS)
    add(1592, "cap_greek_cyrillic", summary.replace("the US", "the country").format(A="\u0391\u0392\u0393", B="\u0416\u0418\u0412", C="ok"), FAIL)
    add(1592, "cap_abbreviation_with_dots", summary.replace("the US", "the U.S.").format(A="100%", B="create", C="N.B."))
    add(1592, "cap_contraction_split", summary.replace("the US", "the country").format(A="100%", B="create", C="NASA's and NOAA's and IT'S"), PASS)
    add(1592, "cap_bold_wrapped", summary.replace("the US", "the country").format(A="**100% RENEWABLE**", B="**CREATE**", C="**AFFORDABLE**"), PASS)
    add(1592, "cap_titlecase_digraph_not_upper", summary.replace("the US", "the country").format(A="\u01c5", B="\u01c5", C="\u01c5"), FAIL)

    story = ("Mira learned that the TRUTH is often quiet. Her grandfather never said he was {X}, but "
             "he fixed every neighbour's fence. She finally understood: kindness is {Y}.")
    add(1996, "cap_few", story.format(X="brave", Y="LOUDER than words"), PASS)
    caps20 = " ".join(["REALLY"] * 19)
    add(1996, "cap_twenty", story.format(X="brave", Y=caps20), FAIL)
    add(1996, "cap_nineteen", story.format(X="brave", Y=" ".join(["REALLY"] * 18)), PASS)
    add(1996, "cap_heading_line_pushes_over", "THE TRUTH ABOUT QUIET PEOPLE\n" + story.format(X="brave", Y=" ".join(["REALLY"] * 15)), LOOSE)

    riddle = L(
        "I am a TRIP that you never planned,",
        "A STITCH in time, a needle's hand,",
        "I TEAR through seams and MEND them too,",
        "I {A} the CLOTH and {B} through,",
        "I travel FAR but never ROAM,",
        "I STAY beside the FIRE at HOME.",
        "What am I? A {C}.",
    )
    # 10 intended capital words plus 6 x "I" and 2 x "A" (pronoun/article count too) -> 18-21.
    add(2820, "cap_pronouns_and_articles_count", riddle.format(A="hold", B="pull", C="needle"), PASS)
    add(2820, "cap_with_placeholders_upper", riddle.format(A="HOLD", B="PULL", C="NEEDLE"), PASS)
    riddle2 = L("Your TRIP begins with a single thread,", "One STITCH in time keeps the hem ahead,",
                "We TEAR, we MEND, we PULL it through,", "The CLOTH holds FAST for me and you,",
                "No ROAM, no ROAD, just HOME and FIRE,", "The NEEDLE's EYE is my desire.", "What am I?{X}")
    add(2820, "cap_fourteen", riddle2.format(X=""), FAIL)
    add(2820, "cap_fifteen_via_pronoun_i", riddle2.format(X=" I bet you know."), PASS)
    add(2820, "cap_fourteen_plus_lowercase_i", riddle2.format(X=" i bet you know."), FAIL)
    add(2849, "cap_two", "A man from Nantucket (N) kept cash in a BUCKET (B), said his wife with a WINK: "
        "\"N + B = broke.\"", PASS)
    add(2849, "cap_single_letters", "A man from Nantucket had B and C in a bucket.", PASS)
    add(2849, "cap_none", "A man from Nantucket kept cash in a bucket.", FAIL)
    add(2870, "cap_three_rubric", "Book review rubric: PLOT (1-5), CHARACTERS (1-5), and your HONEST opinion.", PASS)
    add(2870, "cap_mixed_case_not", "Book review rubric: Plot, Characters, and McDONALD-style iPhone reviews.", FAIL)
    add(3455, "cap_five_email", "Hi Callum, volunteering at the Aberdeen soup kitchen is FREE, FUN and it REALLY "
        "MATTERS. Shifts are on SATURDAY mornings.", PASS)
    add(3455, "cap_three_email", "Hi Callum, volunteering at the Aberdeen soup kitchen is FREE, FUN and it REALLY "
        "matters. Shifts are on Saturday mornings.", FAIL)
    add(3455, "cap_initialisms", "Hi Callum, the NHS, BBC and SNP all praise the Aberdeen soup kitchen. So does the UK and EU press.", PASS)
    add(3513, "cap_twenty_resume", "JANE DOE | SOFTWARE ENGINEER | SAN FRANCISCO, CA\nSKILLS: PYTHON, GO, SQL, AWS, GCP, "
        "KUBERNETES, CI/CD\nEXPERIENCE: SENIOR ENGINEER AT ACME (5+ YEARS), LED API AND ETL TEAMS", PASS)
    add(3513, "cap_acronyms_only", "Jane Doe, software engineer. Skills: AWS, GCP, SQL, API, ETL.", FAIL)


# =============================================================================================
# change_case:english_capital / english_lowercase — str.isupper()/islower() and langdetect 'en'
# =============================================================================================

CAPS_STORY = ("THE MILLER FAMILY PACKED THE CAR, DROVE INTO THE WOODS AND PITCHED THEIR TENT BESIDE "
              "A QUIET LAKE. DAD BURNED THE SAUSAGES, MOM TOLD GHOST STORIES, AND THE KIDS COUNTED "
              "SHOOTING STARS UNTIL THEY FELL ASLEEP. IN THE MORNING THEY SWAM, FISHED AND LAUGHED "
              "ABOUT THE RACCOON THAT STOLE THEIR MARSHMALLOWS.")

LOWER_REVIEW = ("the social network is a sharp, fast film about ambition and friendship. jesse eisenberg "
                "plays mark zuckerberg as brilliant and lonely, and the script crackles with clever "
                "dialogue. the music is moody and the ending stays with you long after the credits.")


def english_case():
    add(3424, "caps_story", CAPS_STORY, PASS)
    add(3424, "caps_one_lowercase_letter", CAPS_STORY.replace("QUIET", "QUiET"), FAIL)
    add(3424, "caps_title_line_mixed_case", "The Camping Trip\n" + CAPS_STORY, LOOSE)
    add(3424, "caps_digits_and_punctuation", CAPS_STORY + " DAY 2: 7 FISH, 0 BEARS!", PASS)
    add(3424, "caps_german_text", "DIE FAMILIE MILLER PACKTE DAS AUTO, FUHR IN DEN WALD UND BAUTE IHR ZELT NEBEN "
        "EINEM STILLEN SEE AUF. DER VATER VERBRANNTE DIE W\u00dcRSTCHEN UND DIE KINDER Z\u00c4HLTEN STERNSCHNUPPEN.", FAIL)
    add(3424, "caps_eszett_lowercase", CAPS_STORY + " THEY WALKED DOWN THE STRA\u00dfE.", FAIL)
    add(3424, "caps_capital_eszett", CAPS_STORY + " THEY WALKED DOWN THE STRA\u1e9eE.", PASS)
    add(3424, "caps_accented", CAPS_STORY.replace("GHOST STORIES", "GHOST STORIES AND ATE CR\u00caPES"), PASS)
    add(3424, "caps_circled_letters_detection_error", "\u24b6\u24b7\u24b8 \u24b9\u24ba\u24bb", PASS)
    add(3424, "caps_bold_markdown", "**" + CAPS_STORY + "**", PASS)
    add(3424, "caps_placeholder_mixed", CAPS_STORY + "\n[Your Name]", LOOSE)
    add(3424, "caps_placeholder_upper", CAPS_STORY + " [YOUR NAME]", PASS)
    add(3424, "caps_digits_only", "2024 12 31", FAIL)
    add(1645, "caps_short_riddle", "WHO IS SMART, LOVES TRAINS AND HAS A SPOT ON THE COUCH?", PASS)
    add(1645, "caps_very_short", "HELLO THERE, HOW ARE YOU DOING TODAY 123")
    add(2341, "caps_answer", "YES, PRAYING FOR SOMEONE'S HEALTH CAN BE A KIND AND COMFORTING IDEA. IT SHOWS CARE "
        "AND CAN GIVE HOPE, ESPECIALLY WHEN COMBINED WITH PRACTICAL SUPPORT LIKE VISITS AND MEALS.", PASS)
    add(2341, "caps_answer_lowercase_unit", "YES. IT HELPS 9 OUT OF 10 PEOPLE FEEL CARED FOR, ACCORDING TO A 2019 SURVEY OF 500 ADULTS (n=500).", FAIL)
    add(3572, "caps_name", "FAREWISE ANALYTICS: WE TRACK EVERY BUS, TRAIN AND FERRY FARE SO CITIES CAN PLAN BETTER.", PASS)
    add(3617, "caps_three_names", "1. BYTEBLOOM\n2. CLOUDCART\n3. LEDGERLY")
    add(1566, "caps_song", "VERSE 1: I LEFT YOUR LETTERS IN THE RAIN, NOW EVERY WORD IS WASHED AWAY. "
        "EXPLANATION: THE RAIN STANDS FOR TIME, AND THE LETTERS ARE THE CHANCES SHE NEVER TOOK.", PASS)
    add(1999, "caps_summary", "WORLD WAR II WAS A GLOBAL CONFLICT FROM 1939 TO 1945 THAT INVOLVED MOST NATIONS, "
        "INCLUDING ALL GREAT POWERS, ORGANISED INTO TWO OPPOSING MILITARY ALLIANCES.", PASS)

    add(1087, "lower_review", LOWER_REVIEW, PASS)
    add(1087, "lower_one_capital", LOWER_REVIEW.replace("jesse", "Jesse"), FAIL)
    add(1087, "lower_pronoun_i", LOWER_REVIEW + " i loved it, and I would watch it again.", FAIL)
    add(1087, "lower_title_line", "The Social Network: A Review\n" + LOWER_REVIEW, LOOSE)
    add(1087, "lower_signoff_line", LOWER_REVIEW + "\n- Reviewed by Sam", LOOSE)
    add(1087, "lower_placeholder_capital", LOWER_REVIEW + " [Your Name]", FAIL)
    add(1087, "lower_accented", LOWER_REVIEW.replace("clever dialogue", "clever, na\u00efve dialogue and a caf\u00e9 scene"), PASS)
    add(1087, "lower_eszett_and_final_sigma", LOWER_REVIEW + " stra\u00dfe \u03c2", PASS)
    add(1087, "lower_markdown_bold", "**" + LOWER_REVIEW + "**", PASS)
    add(1087, "lower_fullwidth_only_detection_error", "\uff48\uff45\uff4c\uff4c\uff4f \uff57\uff4f\uff52\uff4c\uff44", PASS)
    add(1087, "lower_roman_numeral_capital", LOWER_REVIEW + " part \u2161 is coming.", FAIL)
    add(1087, "lower_roman_numeral_small", LOWER_REVIEW + " part \u2171 is coming.", PASS)
    add(1087, "lower_numbers_only", "1 2 3 4 5", FAIL)
    add(1019, "lower_question", "what are the two young boys going to do with their toy guns and horns?", PASS)
    add(1019, "lower_question_first_capital", "What are the two young boys going to do with their toy guns and horns?", FAIL)
    add(1051, "lower_letter", "hey sam,\n\nelection day is tuesday and your vote really matters. the polls are open "
        "from seven to eight, and i can drive you if you need a ride.\n\nsee you there,\nalex", PASS)
    add(1361, "lower_lyrics", "rent goes up and wages stay,\nwe work all night and sleep all day,\nthe city shines "
        "but not for us,\nwe count our coins and miss the bus.", PASS)
    add(1593, "lower_poem_name", "barnet, my friend with the crooked grin,\nyou always let the stray cats in.", PASS)
    add(202, "lower_one_word", "etchings")
    add(202, "lower_one_word_spanish", "grabados")
    add(2517, "lower_haiku", "her voice lifts the room\nsinging is life, she reminds\nmoms hum on the drive", PASS)
    add(2531, "lower_product", "meet hushpillow: a smart pillow that gently tilts your head when you start "
        "snoring, so everyone in the house sleeps better.", PASS)
    add(2728, "lower_song_greek_word", "eat your greens, they keep you strong, \u03bb\u03b1\u03c7\u03b1\u03bd\u03b9\u03ba\u03ac all day long!", PASS)
    add(2817, "lower_german_text", "ward und guerre, das ist ein seltsames gedicht \u00fcber ein gutes unternehmen und "
        "warum alle investoren es lieben werden.", FAIL)
    add(3150, "lower_engines", "a 2-stroke engine fires once every revolution, while a 4-stroke fires every "
        "other revolution. 2-strokes are lighter; 4-strokes are cleaner and more efficient.", PASS)
    add(3703, "lower_finish", "the dog barked at the cat, but the cat ignored it because the dog was behind a fence.", PASS)


# =============================================================================================
# punctuation:no_comma — no ASCII ',' anywhere
# =============================================================================================

def no_comma():
    itin = ("Hark! On the first day thou shalt see Tokyo and its towers bright. On the second day "
            "to Kyoto thou shalt ride the swift iron serpent. On the third day in Nara the deer "
            "shall bow to thee.")
    add(1001, "comma_none", itin, PASS)
    add(1001, "comma_one", itin.replace("Hark!", "Hark, traveller!"), FAIL)
    add(1001, "comma_fullwidth_not_detected", itin.replace("Hark!", "Hark\uff0c traveller!"), PASS)
    add(1001, "comma_ideographic_not_detected", itin.replace("Hark!", "Hark\u3001 traveller!"), PASS)
    add(1001, "comma_arabic_not_detected", itin.replace("Hark!", "Hark\u060c traveller!"), PASS)
    add(1001, "comma_low_quote_not_detected", itin.replace("Hark!", "\u201aHark\u2018 traveller!"), PASS)
    add(1001, "comma_in_first_line", "Sure, here is your itinerary:\n" + itin, LOOSE)
    add(1001, "comma_in_last_line", itin + "\nFarewell, good traveller.", LOOSE)
    add(1001, "comma_in_both_end_lines", "Sure, here it is:\n" + itin + "\nFarewell, traveller.", LOOSE)
    add(1001, "comma_in_middle_line", "Day one\n" + itin.replace("Hark!", "Hark, traveller!") + "\nFarewell", FAIL)
    add(1001, "comma_thousands_separator", itin + " The journey costs 1,000 pounds.", FAIL)
    add(1162, "comma_riddle", "I watch the birds to read the sky\nI guess your fate as they fly by\nWhat am I?", PASS)
    add(1187, "comma_two_alternatives", "1. Good afternoon. I am heading to the beach today.\n2. Greetings. I shall "
        "be visiting the seaside today.", PASS)
    add(1738, "comma_math_notation", "a(n+1) - a(n): 3 3 4 6 \u2192 next difference 9 \u2192 26", PASS)
    add(1738, "comma_math_sequence_commas", "1, 4, 7, 11, 17, 26", FAIL)
    add(2311, "comma_almonds", "Almonds are rich in fat. Fat has 9 calories per gram so 32 grams of almonds add up fast.", PASS)
    add(2324, "comma_beach_riddle", "She lies on the sand where the redwoods meet the sea\nWho is she? A Humboldt mom as calm as can be", PASS)
    add(2374, "comma_proposal", "Project goal: use machine learning to personalise lessons for students in rural schools.", PASS)
    add(2417, "comma_bullets_other_language", "- Natalia a achet\u00e9 4 livres.\n- R\u00e9ponse: 12 dollars.", PASS)
    add(2798, "comma_uk_facts", "1. The UK has four nations.\n2. Big Ben is the bell not the tower.", PASS)
    add(2825, "comma_vulnerability", "Share your fears and listen without judging. Vulnerability builds trust.", PASS)
    add(32, "comma_limerick", "I sat down to write a quick rhyme\nBut the meter kept slipping in time", PASS)
    add(3323, "comma_rewrite", "A sculpted bust portrays a gentleman adorned with a full beard and moustache.", PASS)
    add(3540, "comma_critique", "the pitch repeats the company name too often and never explains the business model.", PASS)
    add(3615, "comma_riddle_camilla", "Camilla has a crown but no throne of her own. Who is she?", PASS)
    add(3631, "comma_song", "Spread the peanut butter thick\nAdd the jelly nice and quick", PASS)
    add(2245, "comma_answer_caps", "THE ANSWER IS A RELATIONSHIP.", PASS)


# =============================================================================================
# Multi-instruction prompts: every instruction of the prompt is scored on the same response.
# =============================================================================================

def combos():
    # --- loose: each instruction may pass on a different candidate ------------------------------
    # no_comma passes only without the last line; end_checker passes only with it.
    add(3084, "combo_different_candidates", L("Lions nap in Gir", "salt flats glow white as the moon",
        "dhokla, dreams, in India."), LOOSE)
    add(3084, "combo_haiku_pass", L("Lions nap in Gir", "salt flats glow white as the moon", "dhokla dreams in India."), PASS)
    add(3084, "combo_haiku_comma_first_line", L("Gir, lions nap", "salt flats glow white as the moon", "dhokla dreams in India."), LOOSE)
    add(1705, "combo_pps_then_end", "Dear Ms. Rivera,\n\nOver the past year I led two launches and cut costs by 12%. "
        "I would like to discuss a raise.\n\nP.P.S. I am happy to meet any time this week. Hope you agree with me.", PASS)
    add(1705, "combo_end_then_pps_line", "Dear Ms. Rivera,\n\nI led two launches this year and would like to discuss "
        "a raise. Hope you agree with me.\nP.P.S. I am free any time this week.", LOOSE)
    add(1705, "combo_pps_missing", "Dear Ms. Rivera,\n\nI led two launches and would like to discuss a raise. Hope you agree with me.", FAIL)

    # --- ranges expressed as two instructions --------------------------------------------------
    lines30 = ["The %s wakes before the sun." % w for w in
               ["baker", "farmer", "nurse", "poet", "sailor", "miner", "driver", "painter", "teacher", "cook",
                "doctor", "pilot", "singer", "dancer", "writer", "gardener", "builder", "tailor", "fisher", "hunter",
                "porter", "weaver", "potter", "keeper", "ranger", "sculptor", "printer", "brewer", "mason", "cobbler",
                "drummer"]]
    add(1418, "combo_poem_30_lines", L(*lines30[:30]), PASS)
    add(1418, "combo_poem_31_lines", L(*lines30[:31]), LOOSE)
    add(1418, "combo_poem_33_lines", L(*lines30[:31], "The sweeper wakes before the sun.", "The baker sleeps again at noon."), FAIL)
    add(1418, "combo_poem_29_lines", L(*lines30[:29]), FAIL)
    add(1418, "combo_poem_30_lines_last_line_comma", L(*lines30[:29], "The mason, tired, wakes before the sun."), LOOSE)
    add(1418, "combo_poem_30_lines_middle_comma", L(*lines30[:14], "The mason, tired, wakes before the sun.", *lines30[15:30]), FAIL)
    add(1418, "combo_poem_30_lines_with_title", L("Dawn Workers", *lines30[:30]), PASS)
    add(1418, "combo_poem_31_with_title_sentence", L("Dawn Workers.", *lines30[:30]), LOOSE)

    song = ["Tiny houses on my shelf.", "I built them all by myself.", "A teapot smaller than a bean.",
            "A garden painted summer green.", "A bicycle without a chain.", "A station for a clockwork train.",
            "A mouse-sized chair beside the door.", "A rug that barely hides the floor.", "I glue the shingles one by one.",
            "I paint the windows in the sun.", "My cat thinks it is all for her.", "She naps on rooftops with a purr.",
            "The postman laughs at every box.", "They rattle like a bag of rocks.", "But inside is a world so small.",
            "A city fits along the hall.", "My friends all say I should grow up.", "I hand them each a thimble cup.",
            "We toast to things that fit a palm.", "We sing a tiny little psalm.", "So if you visit, step with care.",
            "There may be towns beneath your chair.", "And if you shrink, come stay a while.", "I'll greet you with a tiny smile.",
            "The end is small, the song is done.", "Goodnight to every tiny one."]
    add(1837, "combo_twenty_sentences", " ".join(song[:20]), PASS)
    add(1837, "combo_twenty_five_sentences", L(*song[:25]), PASS)
    add(1837, "combo_twenty_six_sentences", L(*song[:26]), LOOSE)
    add(1837, "combo_twenty_six_sentences_one_paragraph", " ".join(song[:26]), FAIL)
    add(1837, "combo_nineteen_sentences", L(*song[:19]), FAIL)

    add(19, "combo_words_600", text_with_words(INTERNET, 600), PASS)
    add(19, "combo_words_700", text_with_words(INTERNET, 700), PASS)
    add(19, "combo_words_701", text_with_words(INTERNET, 701), FAIL)
    add(19, "combo_words_599", text_with_words(INTERNET, 599), FAIL)
    add(2069, "combo_words_100", text_with_words(SLEEP, 100), PASS)
    add(2069, "combo_words_120", text_with_words(SLEEP, 120), PASS)
    add(2069, "combo_words_121", text_with_words(SLEEP, 121), FAIL)

    ad = ("FOR SALE: sturdy dog cage, [size], [price]. {U} our beagle outgrew it. {V} it does not fit "
          "in our new flat. {W} we must say goodbye. Call [phone].")
    add(3415, "combo_unfortunately_three", ad.format(U="Unfortunately", V="Unfortunately", W="Unfortunately"), PASS)
    add(3415, "combo_unfortunately_two", ad.format(U="Unfortunately", V="Sadly", W="Unfortunately"), FAIL)
    add(3415, "combo_unfortunately_six", ad.format(U="Unfortunately, unfortunately", V="Unfortunately, unfortunately",
                                                  W="Unfortunately, unfortunately"), FAIL)
    add(3415, "combo_unfortunately_five", ad.format(U="Unfortunately, unfortunately", V="Unfortunately, unfortunately",
                                                   W="Unfortunately"), PASS)

    # --- capital word frequency ranges ---------------------------------------------------------
    add(1314, "combo_caps_one", "Avocado is not a fish; salmon is. Avocados grow on trees and are technically BERRIES.", PASS)
    add(1314, "combo_caps_pronoun_only", "The avocado is not a fish, and I am sure of it.", PASS)
    add(1314, "combo_caps_none", "The avocado is not a fish, salmon is.", FAIL)
    add(1314, "combo_caps_eleven", "AVOCADO IS NOT A FISH BUT SALMON IS ONE, SO THERE.", FAIL)
    add(3407, "combo_riddle_caps_two", "I have KEYS but open no locks, I have SPACE but no room. What am I? A keyboard.", FAIL)
    add(3407, "combo_riddle_caps_one", "What has keys but opens no locks and space but no room? A KEYBOARD.", PASS)
    add(3414, "combo_froze_caps_seven", "I FROZE mid-jog, heart POUNDING, legs like STONE. The park went SILENT, "
        "and I felt TOTALLY alone.", PASS)
    add(3414, "combo_froze_caps_with_pronouns", "I FROZE mid-jog and I could not move; I felt SCARED.", PASS)
    add(1040, "combo_resume_quoted", "\"MATTHIAS ALGIERS\nSenior analyst with strong SQL skills and a love of clean data.\"", PASS)
    add(1040, "combo_resume_too_many_caps", "\"MATTHIAS ALGIERS: SENIOR ANALYST, SQL, PYTHON, AWS, GCP, ETL, API, BI, CRM\"", FAIL)
    add(3188, "combo_fortune_teller", "Officer, I only read palms. I never promised anyone a FORTUNE, just a future.", PASS)
    add(3188, "combo_fortune_teller_future_twice", "Officer, I read palms. The future is cloudy; your future is a NAP.", FAIL)

    # --- two responses with other constraints --------------------------------------------------
    add(1107, "combo_rocket_jokes", "Why did the rocket break up with the moon? It needed space.\n******\nWhat do "
        "rockets eat for lunch? Launch meat.", PASS)
    add(1107, "combo_rocket_jokes_comma", "Why did the rocket break up? Well, it needed space.\n******\nRockets eat launch meat.", LOOSE)
    add(1180, "combo_two_titled", "<<The Yuck Factor>>\nWorms wriggle, and motion signals danger.\n******\n"
        "<<Familiar Food>>\nBeef is familiar; culture decides what feels normal.", PASS)
    add(1180, "combo_two_one_title", "<<The Yuck Factor>>\nWorms wriggle.\n******\nBeef is familiar.", PASS)
    add(2704, "combo_haiku_question", "<<Puddle Leap>>\nWhy jump in puddles\nwearing your brand new white shoes\nwhen mud always wins?"
        "\n******\n<<Tall Tales>>\nWhy tell the teacher\nthe dog ate your homework twice\nwhen you have no dog?", PASS)
    add(1582, "combo_vietnamese_two", "C\u00e2u n\u00e0y bu\u1ed3n c\u01b0\u1eddi v\u00ec m\u1eb9 kh\u00f4ng ph\u1ea3i "
        "l\u00e0 nh\u00e2n vi\u00ean c\u1ee7a c\u00f4ng ty nu\u00f4i d\u1ea1y con c\u00e1i\n******\nM\u1eb9 l\u00e0m "
        "vi\u1ec7c c\u1ea3 ng\u00e0y m\u00e0 kh\u00f4ng c\u00f3 l\u01b0\u01a1ng v\u00e0 kh\u00f4ng c\u00f3 ng\u00e0y ngh\u1ec9", PASS)
    add(2596, "combo_bulgarian_two", "\u0411\u0440\u043e\u043d\u043a\u043e\u0441 \u0438\u0433\u0440\u0430\u044f\u0442 "
        "\u0442\u043e\u043b\u043a\u043e\u0432\u0430 \u0437\u043b\u0435 \u0447\u0435 \u0432\u0438\u0442\u0440\u0438\u043d\u0430"
        "\u0442\u0430 \u0438\u043c \u0435 \u043f\u044a\u043b\u043d\u0430 \u0441 \u043f\u0440\u0430\u0445 \u0438 "
        "\u043f\u0430\u044f\u0436\u0438\u043d\u0430\n******\n\u0422\u0435\u0445\u043d\u0438\u044f\u0442 "
        "\u0448\u043a\u0430\u0444 \u0437\u0430 \u0442\u0440\u043e\u0444\u0435\u0438 \u0441\u0435 "
        "\u0438\u0437\u043f\u043e\u043b\u0437\u0432\u0430 \u0437\u0430 \u0441\u044a\u0445\u0440\u0430\u043d\u0435\u043d\u0438"
        "\u0435 \u043d\u0430 \u0441\u0442\u0430\u0440\u0438 \u0447\u043e\u0440\u0430\u043f\u0438", PASS)
    add(3335, "combo_tamil_two", LANG_TEXT["ta"] + "\n******\n\u0b87\u0ba8\u0bcd\u0ba4 \u0baa\u0b9f\u0bae\u0bcd "
        "\u0ba8\u0b95\u0bc8\u0b9a\u0bcd\u0b9a\u0bc1\u0bb5\u0bc8 \u0bae\u0bb1\u0bcd\u0bb1\u0bc1\u0bae\u0bcd \u0b85\u0ba9\u0bcd"
        "\u0baa\u0bc1 \u0ba8\u0bbf\u0bb1\u0bc8\u0ba8\u0bcd\u0ba4 \u0b95\u0ba4\u0bc8 \u0b95\u0bca\u0ba3\u0bcd\u0b9f\u0ba4\u0bc1", PASS)
    add(3324, "combo_hawaii_two_versions", "Version A\nDay 1 Waikiki\nDay 2 Pearl Harbor\nDay 3 Diamond Head\nDay 4 North Shore"
        "\nDay 5 Kailua\nDay 6 Hanauma Bay\nDay 7 Luau\n******\nVersion B\nDay 1 Hilo\nDay 2 Volcanoes\nDay 3 Waipio"
        "\nDay 4 Kona\nDay 5 Snorkel\nDay 6 Mauna Kea\nDay 7 Beach", PASS)
    add(3324, "combo_hawaii_days_titlecase_only", "Version A\nday 1 Waikiki\nDAY 2 Pearl Harbor\n******\nVersion B\nday 1 Hilo", FAIL)

    # --- languages with other constraints ------------------------------------------------------
    add(1739, "combo_vi_no_comma", LANG_TEXT["vi"], PASS)
    add(1739, "combo_vi_with_comma", "Nhi\u1ec7m v\u1ee5 c\u1ee7a m\u1eb9, theo t\u00f4i, l\u00e0 y\u00eau th\u01b0\u01a1ng con c\u00e1i.", FAIL)
    add(3669, "combo_hi_riddle_no_comma", "\u0906\u0930\u0935 \u0928\u0947 \u0915\u092d\u0940 \u090f\u0915 \u0936\u092c\u094d\u0926 "
        "\u0928\u0939\u0940\u0902 \u092c\u094b\u0932\u093e \u092b\u093f\u0930 \u092d\u0940 \u0938\u092c \u0909\u0938\u0915\u0940 "
        "\u092c\u093e\u0924 \u0938\u092e\u091d \u0917\u090f\u0964 \u092c\u0924\u093e\u0913 \u0935\u0939 \u0915\u094c\u0928 "
        "\u0939\u0948? \u0935\u0939 \u090f\u0915 \u092e\u0942\u0930\u094d\u0924\u093f \u0939\u0948\u0964", PASS)
    add(3669, "combo_hi_with_comma", LANG_TEXT["hi"], FAIL)
    add(3195, "combo_italian_haiku", "Vela bianca in mare\nonde lente sotto il sole\nnotte di un sogno", PASS)
    add(3195, "combo_italian_few_n", "Vela bianca al sole\nmare calmo e blu\nsogni di velieri", FAIL)
    add(2724, "combo_portuguese_quoted", "\"" + "Ad\u00e3o e Eva viviam no jardim do \u00c9den. Eles comeram o fruto "
        "proibido e foram expulsos do para\u00edso, mas aprenderam a trabalhar e a cuidar um do outro." + "\"", PASS)
    add(2724, "combo_portuguese_unquoted", "Ad\u00e3o e Eva viviam no jardim do \u00c9den e comeram o fruto proibido.", FAIL)
    add(3623, "combo_thai_quoted", "\"" + LANG_TEXT["th"] + "\"", PASS)
    add(3502, "combo_finnish_title", "<<Kukan tuoksu>>\n" + LANG_TEXT["fi"], PASS)
    add(3502, "combo_finnish_english_title_different_candidates", "<<What Happens When You Sniff a Flower: An Explanation for Third Grade Students>>\n"
        "Kukka tuoksuu hyv\u00e4lt\u00e4.", LOOSE)
    add(3311, "combo_korean_title_keywords", "<<SRE\ub780 \ubb34\uc5c7\uc778\uac00>>\nSRE\ub294 \uc11c\ube44\uc2a4\uc758 "
        "\uc548\uc815\uc131\uc744 \ucc45\uc784\uc9c0\ub294 \uc5d4\uc9c0\ub2c8\uc5b4\uc785\ub2c8\ub2e4. \ud575\uc2ec "
        "\uc9c0\ud45c(indicator)\ub97c \uce21\uc815\ud558\uace0 \uc7a5\uc560 \ub300\uc751\uacfc \uc6a9\ub7c9 "
        "\uad00\ub9ac(management)\ub97c \ub2f4\ub2f9\ud569\ub2c8\ub2e4. \uc790\ub3d9\ud654\ub97c \ud1b5\ud574 "
        "\ubc18\ubcf5 \uc791\uc5c5\uc744 \uc904\uc774\uace0 \uc2dc\uc2a4\ud15c\uc744 \ub354 \uc2e0\ub8b0\ud560 \uc218 "
        "\uc788\uac8c \ub9cc\ub4ed\ub2c8\ub2e4.", PASS)
    add(3494, "combo_german_email_placeholders", "Sie machen einen Fehler, wenn Sie unsere K\u00e4seprodukte nicht kaufen.\n\n"
        "Sehr geehrte/r [Name],\nwir bieten [Produkt] zum Preis von [Preis] an. Lieferung nach [Adresse] am [Datum]. "
        "Bei Fragen erreichen Sie uns unter [Telefon] oder [E-Mail].\nMit freundlichen Gr\u00fc\u00dfen\n[Firma]", PASS)
    add(3744, "combo_bengali_placeholder", LANG_TEXT["bn"] + " \u0986\u09b0\u0993 \u099c\u09be\u09a8\u09a4\u09c7 [\u09b2\u09bf\u0999\u09cd\u0995] \u09a6\u09c7\u0996\u09c1\u09a8\u0964", PASS)
    add(3744, "combo_bengali_no_placeholder", LANG_TEXT["bn"], FAIL)
    add(3063, "combo_marathi_three_paragraphs", "\n***\n".join([
        "\u0915\u0949\u0936\u0940-\u0936\u094d\u0935\u093e\u0930\u094d\u091d \u0905\u0938\u092e\u093e\u0928\u0924\u093e "
        "\u0938\u093f\u0926\u094d\u0927 \u0915\u0930\u0923\u094d\u092f\u093e\u0938\u093e\u0920\u0940 \u0906\u092a\u0923 "
        "\u090f\u0915 \u0926\u094d\u0935\u093f\u0918\u093e\u0924 \u0938\u092e\u0940\u0915\u0930\u0923 \u0935\u093e\u092a\u0930\u0924\u094b.",
        "\u0939\u0947 \u0938\u092e\u0940\u0915\u0930\u0923 \u0928\u0947\u0939\u092e\u0940 \u0936\u0942\u0928\u094d\u092f\u093e\u092a\u0947\u0915\u094d\u0937\u093e "
        "\u092e\u094b\u0920\u0947 \u0915\u093f\u0902\u0935\u093e \u0938\u092e\u093e\u0928 \u0905\u0938\u0924\u0947 \u0906\u0923\u093f "
        "\u0924\u094d\u092f\u093e\u092e\u0941\u0933\u0947 \u0924\u094d\u092f\u093e\u091a\u093e \u0935\u093f\u0935\u0947\u091a\u0915 "
        "\u0936\u0942\u0928\u094d\u092f \u0915\u093f\u0902\u0935\u093e \u090b\u0923 \u0905\u0938\u0924\u094b.",
        "\u092f\u093e\u0935\u0930\u0942\u0928 \u0905\u0938\u092e\u093e\u0928\u0924\u093e \u0932\u0917\u0947\u091a \u0938\u093f\u0926\u094d\u0927 "
        "\u0939\u094b\u0924\u0947 \u0906\u0923\u093f \u0938\u092e\u093e\u0928\u0924\u093e \u0915\u0947\u0935\u094d\u0939\u093e "
        "\u0939\u094b\u0924\u0947 \u0924\u0947 \u0906\u092a\u0923 \u092a\u093e\u0939\u0924\u094b."]), PASS)

    # --- all-caps with other constraints ------------------------------------------------------
    add(2736, "combo_caps_rant_end", "A GIANT ROCK FELL FROM THE SKY AND WIPED OUT THE DINOSAURS, AND NOBODY EVEN WARNED "
        "THEM ABOUT IT. THE SKY TURNED BLACK, THE PLANTS DIED AND THE GREAT BEASTS STARVED. WHAT WOULD HAPPEN TO HUMAN NEXT?", PASS)
    add(2736, "combo_caps_rant_end_mixed_case_phrase", "A GIANT ROCK FELL FROM THE SKY AND WIPED OUT THE DINOSAURS. "
        "What would happen to human next?", FAIL)
    add(1219, "combo_caps_sneaker_ps", "NIKE MAKES THE BETTER SNEAKER FOR MOST PEOPLE. " + " ".join(
        ["EVERY NIKE SNEAKER IS BUILT FOR COMFORT."] * 9) + "\nP.S. PRADA SNEAKERS LOOK GREAT BUT COST A FORTUNE.", PASS)
    add(1219, "combo_caps_sneaker_ps_lowercase_marker", "NIKE MAKES THE BETTER SNEAKER. " + " ".join(
        ["EVERY NIKE SNEAKER IS COMFY."] * 9) + "\np.s. prada is pricey.", LOOSE)
    add(2908, "combo_caps_pps", "A SUCCESSFUL PERSON NEEDS DISCIPLINE, CURIOSITY, KINDNESS AND THE COURAGE TO FAIL AND TRY AGAIN."
        "\nP.P.S. REST IS PART OF SUCCESS TOO.", PASS)
    add(2422, "combo_caps_title", "<<BARK TO THE BEAT>>\nOUR STARTUP SELLS KIBBLE WITH A DANCE BEAT, EVERY BOWL A FRESH TREAT, "
        "YOUR DOG WILL SING AND STOMP ITS FEET!", PASS)
    add(2422, "combo_caps_title_mixed", "<<Bark to the Beat>>\nOUR STARTUP SELLS KIBBLE WITH A DANCE BEAT, EVERY BOWL A FRESH TREAT!", LOOSE)
    add(1021, "combo_caps_paragraph_sections", "PARAGRAPH 1\nTHE SENTENCE CONFUSES LAW WITH MORALITY AND NEVER DEFINES ITS TERMS."
        "\nPARAGRAPH 2\nIT ALSO ASSUMES EVERY READER SHARES THE SAME VIEW OF JUSTICE, WHICH IS SIMPLY NOT TRUE.", PASS)
    add(1021, "combo_caps_paragraphs_no_markers", "THE SENTENCE CONFUSES LAW WITH MORALITY.\n\nIT ALSO ASSUMES EVERY READER AGREES.", FAIL)
    add(1132, "combo_caps_forbidden_rock", "WE ARE THE GIFTED, WE ARE THE LOUD, WE SHAKE THE STAGE AND WE PLEASE THE CROWD!", PASS)
    add(1132, "combo_caps_forbidden_rock_present", "WE ARE THE GIFTED, WE ROCK THE CROWD!", FAIL)
    add(1132, "combo_caps_rocky_ok", "WE ARE THE GIFTED, OUR ROCKY ROAD LEADS TO THE CROWD!", PASS)
    add(1779, "combo_caps_keywords", "STOP 1: MERCADO SURQUILLO. TRY THE GOOD CEVICHE AND THE DELICIOUS LUCUMA ICE CREAM. "
        "SKIP THE DISGUSTING TOURIST TRAPS AND THE BAD PARKING.", PASS)
    add(1813, "combo_caps_short", "WRITE ABOUT A MOMENT THAT CHANGED YOU, THEN SHOW HOW YOUR HABITS, FRIENDS AND GOALS SHIFTED AFTER IT.", PASS)
    add(1813, "combo_caps_short_too_long", "WRITE ABOUT A MOMENT THAT CHANGED YOU, THEN SHOW HOW YOUR HABITS, FRIENDS, GOALS, "
        "SLEEP, DIET, GRADES, MONEY AND DREAMS SHIFTED AFTER IT, AND WHY THAT MATTERS TO YOU RIGHT NOW.", FAIL)
    add(2416, "combo_caps_itinerary_c", text_with_words([s.upper() for s in TRAVEL], 170).replace(
        "JAPAN", "THE UNITED STATES").replace("TOKYO", "CHICAGO"), PASS)
    add(3204, "combo_caps_no_comma", "MY FELLOW AMERICANS. SLAVERY WAS ABOLISHED BECAUSE BRAVE PEOPLE REFUSED TO ACCEPT THAT ANY "
        "HUMAN COULD BE OWNED. THE UNION VICTORY AND THE THIRTEENTH AMENDMENT MADE FREEDOM THE LAW OF THE LAND.", PASS)
    add(2571, "combo_caps_short_answer", "(A) IS BETTER. IT DESCRIBES THE PRACTICE CLEARLY AND FOCUSES ON SUPPORT.", PASS)
    add(3276, "combo_caps_five_sentences", "NO. THE SENTENCE IS CORRECT. THE VERB IS IN THE PAST TENSE. THE ADJECTIVE IS "
        "PLACED WELL. THE PREPOSITIONS ARE RIGHT.", PASS)
    add(3276, "combo_caps_seven_sentences", "NO. THE SENTENCE IS CORRECT. THE VERB IS FINE. THE ADJECTIVE IS FINE. THE "
        "PREPOSITIONS ARE FINE. THE ARTICLE IS FINE. GOOD JOB.", FAIL)
    add(3456, "combo_caps_highlight_names", "*ALICE* *BRUNO* *CHIARA* *DMITRI* *ELENA* FARID GRETA HIRO IMANI JONAS")

    # --- lowercase with other constraints ------------------------------------------------------
    add(1843, "combo_lower_quoted_name", "\"tidewater crest estates: luxury beachfront homes where the ocean is your front yard.\"", PASS)
    add(1843, "combo_lower_quoted_name_capital", "\"Tidewater Crest Estates: luxury beachfront homes.\"", FAIL)
    add(1153, "combo_lower_history_contains_story", "the hajj is a journey of faith. its history reaches back to abraham, "
        "and every pilgrim brings home a story.", PASS)
    add(1153, "combo_lower_story_once", "the hajj is a journey of faith, and every pilgrim brings home a memory to share.", FAIL)
    add(1571, "combo_lower_forest_land_river", "in the forest by the river, where the island meets the sky,\nour forests "
        "hum with love, and forest winds drift by.", PASS)
    add(1516, "combo_lower_netflix", "one more episode, i said at ten,\nthen netflix asked me once again,\nthe sun came up, "
        "the snacks were gone,\nthe couch and i had bonded on,\nnow who could blame me, it was fun.", PASS)
    add(1436, "combo_lower_midnight_ok", "at midnight the commandos crossed the sector in silence. tonight nothing moved "
        "except the wind and their careful boots.", PASS)
    add(1436, "combo_lower_night_forbidden", "in the night the commandos crossed the sector in silence.", FAIL)
    add(2943, "combo_lower_might_three_paragraphs", "vader: you might think this is funny.\n***\nme: you might be right, "
        "my lord. it might have been a fake jedi.\n***\nvader: might is all that matters. i might forgive you. you might live.", PASS)
    add(296, "combo_lower_hughes_once", "dear kruger, " + text_with_words([s.lower() for s in SLEEP], 95) +
        " even mr hughes would agree.", PASS)
    add(3608, "combo_lower_j_twenty", "dear hiring team,\njust a quick note: i enjoy joining jolly projects, juggling jobs and "
        "jotting journals. jim, jen and jo judge my jazz jams just and joyful. jobs like this bring joy.\nregards,\njules", PASS)
    add(1967, "combo_lower_startups", "solar kiosks that charge phones. water filters sold by subscription. mobile clinics "
        "booked by text message.", PASS)
    add(1535, "combo_lower_cover_letter_five", "dear hiring manager, i would love to guide visitors through beijing. "
        "i speak mandarin and english. i know every hutong near the drum tower. thank you for your time.", PASS)
    add(1535, "combo_lower_cover_letter_six", "dear hiring manager. i would love to guide visitors. i speak mandarin. "
        "i know the hutongs. i love history. thank you.", FAIL)
    add(3534, "combo_lower_tweet_storm", L(*["%d/ the earth is not flat and i found out the weird way." % i for i in range(1, 34)]), FAIL)
    add(3534, "combo_lower_tweet_storm_words", L(*["tweet %s: the earth is round and i am shook." % w for w in
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
         "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]]), PASS)
    add(2216, "combo_lower_no_comma_pps", "- goal: study how students use social media during exams\n- method: anonymous "
        "surveys and opt-in screen time logs\n- risk: low\n\np.p.s. all data will be deleted after one year", PASS)
    add(3069, "combo_lower_bullets_ps", "day one starts in zurich.\n* lucerne and the chapel bridge\n* interlaken and the "
        "jungfrau\n* zermatt and the matterhorn\np.s. buy a swiss travel pass.", PASS)
    add(2100, "combo_lower_bullets", "* a veil stitched from old lab coats\n* bolts worn as earrings\n* a dress that "
        "crackles with static", PASS)
    add(1287, "combo_lower_bullets_zen", "john came as a guest and stayed as a king.\n* he married maria of montferrat\n"
        "* she was heir to jerusalem\n* so the crown came to him like rain to a pond", PASS)
    add(218, "combo_lower_placeholder", "day 1 to 4: rome. day 5 to 8: florence. day 9 to 12: venice. book your hotel "
        "at [hotel name].", PASS)
    add(218, "combo_lower_placeholder_capitalised", "day 1 to 4: rome. day 5 to 8: florence. book at [Hotel Name].", FAIL)
    add(218, "combo_lower_placeholder_capitalised_own_line", "day 1 to 4: rome. day 5 to 8: florence.\n[Hotel Name]", LOOSE)
    add(2765, "combo_lower_placeholder_proposal", "this proposal studies how the liberian civil war changed the economy "
        "of [region], using trade data and interviews.", PASS)
    add(3035, "combo_lower_json_schema", '{"type": "object", "properties": {"name": {"type": "string", "default": "[cruiser name]"}}}', PASS)
    add(279, "combo_lower_title_g", "<<green ground, grey gulls>>\ngreen hills in the fog\ngulls glide over galway bay\n"
        "a frog sings to rain", PASS)
    add(3434, "combo_lower_nth_jasper", "names carry stories from our families.\n\njasper is a name that means treasure "
        "bearer.\n\nin the end every name becomes its owner's own.", PASS)
    add(3434, "combo_lower_nth_jasper_capital", "names carry stories.\n\nJasper means treasure bearer.\n\nevery name becomes its owner's.", FAIL)
    add(2372, "combo_lower_highlights", "meet the airpods max: *rich sound* and *all-day comfort* in one sleek headset.", PASS)
    add(1122, "combo_lower_hashtags_capital", "New issue out now. #cover #interview #fashion #party")
    add(3380, "combo_lower_people_skills", "we are hiring a cashier who loves people, keeps shelves tidy and has strong "
        "counting skills.", PASS)

    # --- formats combined ----------------------------------------------------------------------
    add(3351, "combo_paragraphs_highlights", "*My daughter graduated today!* I am bursting with pride.\n***\n*Four years "
        "of hard work* paid off, and *the future is hers*!", PASS)
    add(3351, "combo_bold_italic_highlight_breaks_paragraphs", "***My daughter graduated today!*** I am bursting with "
        "pride.\n***\n*Four years of hard work* paid off!", LOOSE)
    add(2118, "combo_rap_paragraphs_bullets", "Verse one for the moms who feed at night,\n* breast milk: free and always right\n"
        "***\nVerse two for the bottle crew,\n* formula: dad can do it too\n***\nOutro: fed is best,\n* love beats all the rest", PASS)
    add(2118, "combo_spaced_divider_counts_as_bullet", "Verse one\n* breast milk\n* * *\nVerse two\n* formula\n* * *\nOutro\n* love", FAIL)
    add(3098, "combo_blog_bullets_paragraphs_caps", "Want to write better? START today.\n***\nRead widely and often.\n***\n"
        "* Write daily\n* Edit ruthlessly\n* Ask for feedback\n***\nWriting is a skill, NOT a talent.", PASS)
    add(2180, "combo_rap_caps_paragraphs", "Yo KID, a CITY is BIG\n***\nLights and TRAINS and a BUSY gig\n***\nA VILLAGE "
        "is SMALL\n***\nCOWS and a HALL\n***\nNOW you know it ALL", PASS)
    add(1670, "combo_quoted_rubric_six", "\"MELODY: memorable?\n***\nHARMONY: rich?\n***\nRHYTHM: steady?\n***\nFORM: clear?"
        "\n***\nORIGINALITY: fresh?\n***\nEMOTION: moving?\"", PASS)
    add(3294, "combo_quoted_qa_five", "\"Q & A # 1\nQ: Why? A: Because.\n***\nQ & A # 2\nQ: How? A: Slowly.\n***\nQ & A # 3\n"
        "Q: When? A: Now.\n***\nQ & A # 4\nQ: Where? A: Here.\n***\nQ & A # 5\nQ: Who? A: You.\"", PASS)
    add(3565, "combo_jocks_plural_ok", "To me, a jocks-and-nerds story is a clich\u00e9 from old movies.\n***\nToday, athletes "
        "are often the most thoughtful people in the room.", PASS)
    add(3565, "combo_jock_present_different_candidates", "A jock is someone who loves sports.\n***\nIt is an old stereotype.", LOOSE)
    add(3315, "combo_uci_itinerary", "Day 1: Get lost at UCI on purpose.\n***\nDay 2: Beach volleyball, mostly losing.\n***\n"
        "Day 3: Eat tacos and pretend to study.\n***\nBonus: sleep.", PASS)
    add(3315, "combo_uci_university_word", "Day 1: Tour the University of California, Irvine.\n***\nDay 2: Beach.\n***\nDay 3: Tacos.\n***\nSleep.", LOOSE)
    add(1481, "combo_sections_bullets", "SECTION 1\nAntonia Maj, barista-philosopher.\n* Can froth milk into swans\n"
        "SECTION 2\nMarketing degree, coffee obsession.\n* Once sold ice to a penguin", PASS)
    add(3367, "combo_quoted_audience_sections", "\"Audience 1\nTeens: Fizz without the crash!\nAudience 2\nParents: "
        "All the bubbles, none of the sugar.\"", PASS)
    add(2637, "combo_sections_sentences", "Section 1\n" + " ".join(GOOD_LIFE[:12]) + "\nSection 2\n" + " ".join(GOOD_LIFE[12:]) +
        " The U.S. is one of few rich countries without paid leave.", PASS)
    add(1137, "combo_json_french", '{"explication": "Manger sainement aide le corps \u00e0 gu\u00e9rir, car les aliments '
        'apportent des vitamines et des min\u00e9raux."}', PASS)
    add(1137, "combo_json_french_forbidden", '{"explication": "Une nourriture saine aide le corps."}', FAIL)
    add(2395, "combo_json_fence_contains_forbidden_word", '```json\n{"post": "Bargain hunters! The Saturday market '
        'at Pine Park has vintage lamps and vinyl."}\n```', LOOSE)
    add(2395, "combo_json_no_fence", '{"post": "Bargain hunters! The Saturday market at Pine Park has vintage lamps and vinyl."}', PASS)
    add(2395, "combo_json_plain_fence", '```\n{"post": "Bargain hunters! Vintage lamps at Pine Park."}\n```', PASS)
    add(371, "combo_json_key_field_name", '{"key": "riddle", "riddle": "I open doors but have no hands."}', FAIL)
    add(371, "combo_json_riddle", '{"riddle": "I have teeth but never bite, I turn and doors obey."}', PASS)
    add(3518, "combo_json_keywords", '{"pros": ["well compensated roles"], "cons": ["visa hurdles for immigrants"]}', PASS)
    add(2591, "combo_json_dnd", '{"class": "Chrono Medalist", "stat": "theta", "level": 1}', PASS)
    add(1242, "combo_json_nickname", '{"name": "Staff"}', PASS)
    add(1242, "combo_json_nickname_forbidden", '{"nickname": "Staff"}', FAIL)
    add(2649, "combo_json_tax_forbidden", '{"answer": "Rising taxes angered the people."}', PASS)
    add(2649, "combo_json_tax_present", '{"answer": "The king tried to tax the people."}', FAIL)
    add(3506, "combo_json_project_forbidden", '{"study": "Effects of fast-paced classrooms on attention"}', PASS)
    add(1691, "combo_json_czech", '{"places": ["\u010cesk\u00fd Krumlov", "Kutn\u00e1 Hora"], "restaurants": ["U Fleku"]}', PASS)
    add(1691, "combo_json_czech_forbidden_diacritic", '{"places": ["Karlovy Vary"]}', FAIL)
    add(1012, "combo_repeat_and_title", kwarg(1012, "combination:repeat_prompt", "prompt_to_repeat") +
        "\n<<Resignation>>\nDear boss, I am quitting. Thanks for everything.", PASS)
    add(1012, "combo_repeat_contains_title_example", kwarg(1012, "combination:repeat_prompt", "prompt_to_repeat") +
        "\nDear boss, I am quitting.", PASS)
    add(2439, "combo_no_comma_nth_placeholders", "Punched in at [time] and out by [time].\n\nThe shift was long.\n\nHome at last.", PASS)
    add(2549, "combo_nth_keywords_pps", "Tottenham were the better team.\n\nStockton had heart, and Gao loved them.\n\n"
        "Bonding matters, but hearts do not win leagues.\nP.P.S. Tottenham, clearly.", PASS)
    add(1342, "combo_business_advice", "*Start small* and test your idea.\n***\n*Know your numbers* from day one.\n***\n"
        "*Talk to customers* every week.\n***\nBuild a simple website.\n***\nKeep learning.", PASS)
    add(1342, "combo_business_advice_mentions_photography", "*Start small*. Avoid photography.\n***\n*Know your numbers*.\n***\n"
        "*Talk to customers*.\n***\nBuild a site.\n***\nLearn.", LOOSE)
    add(30, "combo_double_quotation_words", "\"" + text_with_words([s.lower() for s in INTERNET], 600) + "\"", PASS)
    add(30, "combo_double_quotation_words_short", "\"" + text_with_words([s.lower() for s in INTERNET], 599) + "\"", FAIL)
    add(142, "combo_quoted_knock_cat", "\"Knock knock. Who is there? A morpheme. A morpheme who? The -s in cats, "
        "knocking on your plural door.\"", PASS)
    add(1609, "combo_quoted_weekend", "\"Weekend plans are the easiest opener. Ask Sonia what she is doing on Saturday.\n\n"
        "Suggest something low-key, like coffee or a walk.\n\nBe direct but relaxed.\n\nIf she says no, smile and stay friendly.\"", PASS)
    add(1609, "combo_quoted_weekend_three_paragraphs", "\"Weekend plans are the easiest opener.\n\nSuggest coffee.\n\nBe relaxed.\"", FAIL)
    add(3672, "combo_quoted_one_sentence", "\"Algiers blends Mediterranean beaches, Ottoman palaces and the best mint tea in North Africa.\"", PASS)
    add(3672, "combo_quoted_two_sentences", "\"Algiers has beaches. It also has palaces.\"", FAIL)
    add(3672, "combo_quoted_zero_sentences", "\"\"")
    add(3724, "combo_tweet_highlights_end", "*Van Dijk* left out of the PFA Team of the Year? *Absolute robbery* and "
        "everyone knows it. So what is next?", PASS)
    add(3710, "combo_rap_title_pps", "<<Hush Little Client>>\n*Dim the lights* and *keep it slow*\nWhite noise humming "
        "soft and low\nP.P.S. Consistency beats everything.", PASS)
    add(1305, "combo_ten_names_pps", L(*["* " + n for n in ["Liam", "Noah", "Oliver", "Elijah", "James", "Lucas",
        "Mateo", "Levi", "Ezra", "Theo"]]) + "\nP.P.S. Theo is my favourite.", PASS)
    add(1305, "combo_ten_names_pps_dash_signoff", L(*["* " + n for n in ["Liam", "Noah", "Oliver", "Elijah", "James",
        "Lucas", "Mateo", "Levi", "Ezra", "Theo"]]) + "\n- P.P.S. Theo is my favourite.", LOOSE)


# =============================================================================================
# Empty and whitespace-only responses fail every instruction (strict and loose).
# =============================================================================================

def empties():
    for key in (1001, 3424, 1108, 3563, 1075, 122, 2028, 3084):
        add(key, "empty_string", "", FAIL)
        add(key, "whitespace_only", " \n\t\n ", FAIL)
    # A reply that is only asterisks: loose candidates with '*' removed are empty and skipped.
    add(1001, "only_asterisks", "***", PASS)
    add(1773, "only_asterisks_highlight", "**", FAIL)
    add(2028, "only_punctuation", "...", PASS)


SECTIONS = [keywords_existence, keywords_frequency, keywords_forbidden, keywords_letter, response_language,
            number_sentences, number_paragraphs, number_words, nth_paragraph_first_word, number_placeholders,
            postscript, bullets, constrained, highlights, sections, json_format, title, two_responses,
            repeat_prompt, end_checker, quotation, capital_word_frequency, english_case, no_comma, combos, empties]


def build():
    for section in SECTIONS:
        section()
    return ROWS


def check(verdict_path):
    """Compare EXPECT with a verdict file; print the rows whose design intent was not met."""
    with open(verdict_path, encoding="utf-8") as f:
        got = {(r["key"], r["case"]): (r["prompt_strict"], r["prompt_loose"]) for r in map(json.loads, f)}
    bad = 0
    for (key, case), want in EXPECT.items():
        if got.get((key, case)) != want:
            bad += 1
            print("MISMATCH", key, case, "want", want, "got", got.get((key, case)))
    print("checked %d expectations, %d mismatches" % (len(EXPECT), bad))
    return bad


def main(argv):
    build()
    if len(argv) > 2 and argv[1] == "--check":
        return 1 if check(argv[2]) else 0
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for key, case, response in ROWS:
            f.write(json.dumps({"key": key, "case": case, "response": response}) + "\n")
    print("wrote %d rows to %s" % (len(ROWS), out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
