#!/usr/bin/env python3
"""Records official langdetect 1.0.9 results (DetectorFactory.seed = 0) for a varied text set.

Output: evals/ifeval/langdetect_official.jsonl, one row per text:
    {"text": str, "lang": str}              detect() result ("unknown" when no language > 0.1)
    {"text": str, "error": "CantDetectError"}  when detect() raises (IFEval counts that as a pass)
plus "probs": [[lang, prob], ...] (get_probabilities(), sorted as langdetect sorts them).

Texts: every response in evals/ifeval/responses.jsonl and every prompt in input_data.jsonl (the
text IFEval actually sends to langdetect), their upper- and lower-cased forms, first lines, and
hand-written samples in many scripts and edge cases (URLs, e-mails, Vietnamese combining marks,
Romanian comma-below letters, Farsi yeh, CJK classes, digits only, empty).

Set-up (Python 3.11):  python -m venv /tmp/v && /tmp/v/bin/pip install langdetect==1.0.9
Run:                   /tmp/v/bin/python scripts/langdetect_official.py
"""
import json
import os

import langdetect
from langdetect import DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

here = os.path.dirname(os.path.abspath(__file__))
fix = os.path.join(here, '..', 'evals', 'ifeval')

SAMPLES = [
    "", "   ", "12345 67890", "!!! ??? ...", "HELLO THERE, HOW ARE YOU DOING TODAY 123",
    "hello there, how are you doing today", "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "A rápida raposa marrom pula sobre o cão preguiçoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "Бързата кафява лисица прескача мързеливото куче.",
    "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "वेगवान तपकिरी कोल्हा आळशी कुत्र्यावर उडी मारतो.",
    "ਤੇਜ਼ ਭੂਰੀ ਲੂੰਬੜੀ ਆਲਸੀ ਕੁੱਤੇ ਉੱਤੇ ਛਾਲ ਮਾਰਦੀ ਹੈ।",
    "ઝડપી ભૂરું શિયાળ આળસુ કૂતરા પર કૂદે છે.",
    "వేగవంతమైన గోధుమ నక్క సోమరి కుక్కపై దూకుతుంది.",
    "ವೇಗದ ಕಂದು ನರಿ ಸೋಮಾರಿ ನಾಯಿಯ ಮೇಲೆ ಹಾರುತ್ತದೆ.",
    "விரைவான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது.",
    "দ্রুত বাদামী শিয়াল অলস কুকুরের উপর দিয়ে লাফ দেয়।",
    "छिटो खैरो स्यालले अल्छी कुकुरमाथि हाम फाल्छ।",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "روباه قهوه‌ای سریع از روی سگ تنبل می‌پرد. این یک متن فارسی است",
    "تیز بھوری لومڑی سست کتے کے اوپر چھلانگ لگاتی ہے۔",
    "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
    "빠른 갈색 여우가 게으른 개를 뛰어넘습니다.",
    "素早い茶色の狐が怠け者の犬を飛び越える。ひらがなとカタカナ。",
    "敏捷的棕色狐狸跳过了懒狗。这是简体中文。",
    "敏捷的棕色狐狸跳過了懶狗。這是繁體中文。",
    "Con cáo nâu nhanh nhẹn nhảy qua con chó lười.",
    "Con ca\u0301o nâu nhanh nhe\u0323n nha\u0309y qua con cho\u0301 lươ\u0300i.",
    "Vulpea maro rapidă sare peste câinele leneș. Ţara şi țara, școala și ştiinţa.",
    "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu.",
    "Nopea ruskea kettu hyppää laiskan koiran yli.",
    "La volpe marrone veloce salta sopra il cane pigro.",
    "Ο γρήγορος καφέ αλεπού πηδά πάνω από το τεμπέλικο σκυλί.",
    "השועל החום המהיר קופץ מעל הכלב העצלן.",
    "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.",
    "Visit https://example.com/path?q=1&x=2 or mail me at someone.name@example.org today please.",
    "https://example.com only-a-url@example.com",
    "ÀÉÎÕÜ àéîõü «quoted» 50° text",
    "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ　ｗｉｔｈ　ｓｐａｃｅｓ",
    "a", "I", "OK", "NASA IS GREAT", "tl;dr: ok", "Ich bin ein Berliner", "je ne sais quoi",
    "\u2014\u2013\u2026 dashes \u201cquotes\u201d", "Tab\tand\nnewline\r\ntext here",
    "İstanbul'da ılık bir gün", "Ünïcödé çhäräctérs ẞ",
    "𝐁𝐨𝐥𝐝 𝐦𝐚𝐭𝐡 𝐥𝐞𝐭𝐭𝐞𝐫𝐬 and emoji 😀🎉",
]


def texts():
    seen = set()
    out = []

    def add(t):
        if t not in seen:
            seen.add(t)
            out.append(t)
    for t in SAMPLES:
        add(t)
    with open(os.path.join(fix, 'responses.jsonl'), encoding='utf-8') as f:
        for line in f:
            r = json.loads(line)['response']
            add(r)
            add(r.upper())
            add(r.lower())
            add(r.split('\n')[0])
    with open(os.path.join(fix, 'input_data.jsonl'), encoding='utf-8') as f:
        for line in f:
            add(json.loads(line)['prompt'])
    return out


def main():
    DetectorFactory.seed = 0
    rows = []
    for t in texts():
        row = {'text': t}
        try:
            row['lang'] = langdetect.detect(t)
            row['probs'] = [[l.lang, l.prob] for l in langdetect.detect_langs(t)]
        except LangDetectException as e:
            row['error'] = 'CantDetectError'
            assert 'No features' in str(e), e
        rows.append(row)
    with open(os.path.join(fix, 'langdetect_official.jsonl'), 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    langs = {}
    for r in rows:
        k = r.get('lang', 'error')
        langs[k] = langs.get(k, 0) + 1
    print(len(rows), 'texts', dict(sorted(langs.items(), key=lambda x: -x[1])))


main()
