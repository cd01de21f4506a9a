//! nltk's `word_tokenize` (Punkt sentences, then the improved Treebank word tokenizer), which
//! IFEval's `capital_word_frequency` counts tokens with.
//!
//! Hand-written: the Treebank substitutions as nltk's `NLTKWordTokenizer` applies them, in
//! order (starting quotes, punctuation, brackets, double dashes, ending quotes, contractions),
//! with the two lookaround patterns done by hand.

use std::sync::OnceLock;

use regex::Regex;

struct Rules {
    starting: Vec<(Regex, &'static str)>,
    punctuation: Vec<(Regex, &'static str)>,
    parens: (Regex, &'static str),
    dashes: (Regex, &'static str),
    ending: Vec<(Regex, &'static str)>,
    contractions: Vec<Regex>,
    wanna: Regex,
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        let r = |p: &str| Regex::new(p).expect("static pattern");
        Rules {
            starting: vec![
                (r("([«“‘„]|[`]+)"), " ${1} "),
                (r("^\""), "``"),
                (r("(``)"), " ${1} "),
                (r("([ (\\[{<])(\"|'{2})"), "${1} `` "),
            ],
            punctuation: vec![
                (r(r#"([^.])(\.)([\])}>"']*)\s*$"#), "${1} ${2} ${3} "),
                (r(r"([:,])([^\d])"), " ${1} ${2}"),
                (r(r"([:,])$"), " ${1} "),
                (r(r"\.{2,}"), " ${0} "),
                (r(r"[;@#$%&]"), " ${0} "),
                (r(r#"([^.])(\.)([\])}>"']*)\s*$"#), "${1} ${2}${3} "),
                (r(r"[?!]"), " ${0} "),
                (r(r"([^'])' "), "${1} ' "),
                (r(r"[*]"), " ${0} "),
            ],
            parens: (r(r"[\]\[(){}<>]"), " ${0} "),
            dashes: (r("--"), " -- "),
            ending: vec![
                (r("([»”’])"), " ${1} "),
                (r("''"), " '' "),
                (r("\""), " '' "),
                (r("([^' ])('[sS]|'[mM]|'[dD]|') "), "${1} ${2} "),
                (r("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), "${1} ${2} "),
            ],
            contractions: [
                r"(?i)\b(can)(not)\b",
                r"(?i)\b(d)('ye)\b",
                r"(?i)\b(gim)(me)\b",
                r"(?i)\b(gon)(na)\b",
                r"(?i)\b(got)(ta)\b",
                r"(?i)\b(lem)(me)\b",
                r"(?i)\b(more)('n)\b",
                r"(?i) ('t)(is)\b",
                r"(?i) ('t)(was)\b",
            ]
            .iter()
            .map(|p| r(p))
            .collect(),
            wanna: r(r"(?i)\b(wan)(na)\s"),
        }
    })
}

/// Python's `re.sub`: non-overlapping matches replaced left to right, as `replace_all` does.
fn sub(re: &Regex, rep: &str, s: &str) -> String {
    re.replace_all(s, rep).into_owned()
}

/// `(?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b` → `\1 \2`: an opening single quote before a word
/// (not a contraction) is split off.
fn split_opening_quote(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    let is_w = |c: char| c.is_alphanumeric() || c == '_';
    while i < cs.len() {
        if cs[i] == '\'' && i + 1 < cs.len() && is_w(cs[i + 1]) {
            let rest: String = cs[i + 1..(i + 3).min(cs.len())].iter().collect::<String>().to_lowercase();
            let contraction = ["re", "ve", "ll"].iter().any(|p| rest.starts_with(p))
                || ['m', 't', 's', 'd', 'n'].contains(&cs[i + 1].to_lowercase().next().unwrap_or(' '));
            // `(\w)\b`: the word char must end a word.
            let boundary = i + 2 >= cs.len() || !is_w(cs[i + 2]);
            if !contraction && boundary {
                out.push('\'');
                out.push(' ');
                out.push(cs[i + 1]);
                i += 2;
                continue;
            }
        }
        out.push(cs[i]);
        i += 1;
    }
    out
}

/// `(?i)\b(wan)(na)(?=\s)` → ` \1 \2 `.
fn split_wanna(re: &Regex, s: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for c in re.captures_iter(s) {
        let m = c.get(0).unwrap();
        out.push_str(&s[last..m.start()]);
        out.push_str(&format!(" {} {} ", &c[1], &c[2]));
        // Keep the whitespace (it was only looked at).
        out.push_str(&s[c.get(2).unwrap().end()..m.end()]);
        last = m.end();
    }
    out.push_str(&s[last..]);
    out
}

/// Treebank tokens of one sentence.
pub fn tokenize_sentence(text: &str) -> Vec<String> {
    let r = rules();
    let mut t = text.to_string();
    for (re, rep) in &r.starting {
        t = sub(re, rep, &t);
    }
    t = split_opening_quote(&t);
    for (re, rep) in &r.punctuation {
        t = sub(re, rep, &t);
    }
    t = sub(&r.parens.0, r.parens.1, &t);
    t = sub(&r.dashes.0, r.dashes.1, &t);
    t = format!(" {t} ");
    for (re, rep) in &r.ending {
        t = sub(re, rep, &t);
    }
    for (k, re) in r.contractions.iter().enumerate() {
        t = sub(re, " ${1} ${2} ", &t);
        if k == 6 {
            t = split_wanna(&r.wanna, &t);
        }
    }
    t.split_whitespace().map(str::to_string).collect()
}

/// `nltk.word_tokenize(text)`: Punkt sentences, each through the Treebank tokenizer.
pub fn word_tokenize(text: &str) -> Vec<String> {
    let cs: Vec<char> = text.chars().collect();
    super::punkt::sentence_spans(text)
        .into_iter()
        .flat_map(|(a, b)| tokenize_sentence(&cs[a..b].iter().collect::<String>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(word_tokenize("NASA's rover"), ["NASA", "'s", "rover"]);
        assert_eq!(
            word_tokenize("COVID-19 and A-OK in the U.S. today."),
            ["COVID-19", "and", "A-OK", "in", "the", "U.S.", "today", "."]
        );
        assert_eq!(word_tokenize("I cannot go."), ["I", "can", "not", "go", "."]);
        assert_eq!(
            word_tokenize("\"Hi,\" she said (twice)!"),
            ["``", "Hi", ",", "''", "she", "said", "(", "twice", ")", "!"]
        );
    }
}
