#!/usr/bin/env python3
"""Writes crates/lfm-eval/data/langdetect_profiles.txt from the `langdetect` package.

lfm-eval's language check is a port of langdetect 1.0.9 (Apache-2.0; a port of Nakatani Shuyo's
language-detection). The port needs the package's data, not its code: the 55 n-gram profiles and
the CJK normalization classes from utils/messages.properties. This script re-serializes exactly
that data into one compact text file:

    @cjk <chars>                   one CJK class per line; its first char is the representative
    @lang <name> <n1> <n2> <n3>    a profile: name and n_words for 1-, 2- and 3-grams
    <gram>\t<count>                its n-gram frequencies (grams never contain tabs or newlines)

Languages are written in the order os.listdir() returned them when the IFEval fixture was made
(the order decides float summation order inside langdetect, so it is fixed here).

Usage: pip install langdetect==1.0.9 && python scripts/make_langdetect_data.py
"""
import json
import os
import sys

import langdetect
from langdetect.utils.ngram import NGram

ORDER = ['pl', 'gu', 'zh-tw', 'fi', 'af', 'ne', 'ro', 'da', 'hr', 'de', 'pa', 'en', 'fa', 'ca', 'so', 'ja', 'ko',
         'es', 'cs', 'ru', 'vi', 'uk', 'bn', 'fr', 'kn', 'hu', 'te', 'lv', 'sk', 'sl', 'el', 'id', 'it', 'bg', 'ta',
         'he', 'sq', 'hi', 'th', 'tr', 'ml', 'mk', 'pt', 'tl', 'mr', 'sv', 'et', 'nl', 'sw', 'cy', 'no', 'ur', 'lt',
         'ar', 'zh-cn']

root = os.path.dirname(langdetect.__file__)
out_path = os.path.join(os.path.dirname(__file__), '..', 'crates', 'lfm-eval', 'data', 'langdetect_profiles.txt')
assert sorted(ORDER) == sorted(os.listdir(os.path.join(root, 'profiles')))
lines = ['# langdetect 1.0.9 profiles and CJK classes (Apache-2.0), re-serialized by scripts/make_langdetect_data.py']
for cls in NGram.CJK_CLASS:
    lines.append('@cjk ' + cls)
for name in ORDER:
    with open(os.path.join(root, 'profiles', name), encoding='utf-8') as f:
        p = json.load(f)
    assert p['name'] == name
    lines.append('@lang %s %d %d %d' % (name, *p['n_words']))
    for gram, count in p['freq'].items():
        assert '\t' not in gram and '\n' not in gram and gram, repr(gram)
        lines.append('%s\t%d' % (gram, count))
with open(out_path, 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
print(out_path, len(lines), 'lines', file=sys.stderr)
