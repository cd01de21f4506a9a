//! Sentence splitting with nltk's Punkt algorithm and its pretrained English parameters
//! (`evals/ifeval/nltk_data/tokenizers/punkt_tab/english/`, embedded), as IFEval's
//! `number_sentences` check counts sentences.
//!
//! Hand-written (no Rust crate implements Punkt with nltk's parameters): the period-context
//! scan, the word tokenizer, the first (abbreviation) and second (collocation, orthographic,
//! initials/ordinals) annotation passes and boundary realignment, following Kiss & Strunk
//! (2006) as nltk implements them. The regexes nltk writes with lookaheads are scanned by hand.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const ABBREV: &str = include_str!("../../../../evals/ifeval/nltk_data/tokenizers/punkt_tab/english/abbrev_types.txt");
const COLLOC: &str = include_str!("../../../../evals/ifeval/nltk_data/tokenizers/punkt_tab/english/collocations.tab");
const STARTERS: &str =
    include_str!("../../../../evals/ifeval/nltk_data/tokenizers/punkt_tab/english/sent_starters.txt");
const ORTHO: &str = include_str!("../../../../evals/ifeval/nltk_data/tokenizers/punkt_tab/english/ortho_context.tab");

// Orthographic context flags: first/middle/unknown position × upper/lower case.
const BEG_UC: u32 = 1 << 1;
const MID_UC: u32 = 1 << 2;
const UNK_UC: u32 = 1 << 3;
const BEG_LC: u32 = 1 << 4;
const MID_LC: u32 = 1 << 5;
const UNK_LC: u32 = 1 << 6;
const ORTHO_UC: u32 = BEG_UC | MID_UC | UNK_UC;
const ORTHO_LC: u32 = BEG_LC | MID_LC | UNK_LC;

struct Params {
    abbrev: HashSet<String>,
    colloc: HashSet<(String, String)>,
    starters: HashSet<String>,
    ortho: HashMap<String, u32>,
}

fn params() -> &'static Params {
    static P: OnceLock<Params> = OnceLock::new();
    P.get_or_init(|| {
        let lines = |s: &'static str| s.lines().map(str::trim_end).filter(|l| !l.is_empty());
        Params {
            abbrev: lines(ABBREV).map(str::to_string).collect(),
            colloc: lines(COLLOC)
                .filter_map(|l| l.split_once('\t'))
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            starters: lines(STARTERS).map(str::to_string).collect(),
            ortho: lines(ORTHO)
                .filter_map(|l| l.split_once('\t'))
                .filter_map(|(a, b)| b.trim().parse().ok().map(|n| (a.to_string(), n)))
                .collect(),
        }
    })
}

fn is_non_word(c: char) -> bool {
    ")\";}]*:@'({[!?".contains(c)
}

fn is_word_start(c: char) -> bool {
    !"(\"`{[:;&#*@)}]-,".contains(c)
}

fn is_sent_end(c: char) -> bool {
    c == '.' || c == '?' || c == '!'
}

/// Length (in chars) of a multi-character punctuation run at `i`: `--…`, `..…`, `. . .`.
fn multi_char(cs: &[char], i: usize) -> Option<usize> {
    let n = cs.len();
    if i < n && (cs[i] == '-' || cs[i] == '.') {
        let c = cs[i];
        let mut j = i;
        while j < n && cs[j] == c {
            j += 1;
        }
        if j - i >= 2 {
            return Some(j - i);
        }
    }
    // (\.\s){2,}\.
    let mut j = i;
    let mut pairs = 0;
    while j + 1 < n && cs[j] == '.' && cs[j + 1].is_whitespace() {
        j += 2;
        pairs += 1;
    }
    if pairs >= 2 && j < n && cs[j] == '.' {
        // Greedy over pairs, backtracking until a final '.' follows.
        return Some(j + 1 - i);
    }
    if pairs >= 3 {
        // The last pair's '.' can serve as the final '.'.
        return Some(j - 1 - i);
    }
    None
}

/// nltk's `PunktLanguageVars.word_tokenize` on one line.
fn word_tokenize(line: &str) -> Vec<String> {
    let cs: Vec<char> = line.chars().collect();
    let n = cs.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if let Some(len) = multi_char(&cs, i) {
            out.push(cs[i..i + len].iter().collect());
            i += len;
            continue;
        }
        if cs[i].is_whitespace() {
            i += 1;
            continue;
        }
        if is_word_start(cs[i]) {
            // Shortest run of non-space chars followed by a word end.
            let mut j = i + 1;
            loop {
                let end = j >= n
                    || cs[j].is_whitespace()
                    || is_non_word(cs[j])
                    || multi_char(&cs, j).is_some()
                    || (cs[j] == ','
                        && (j + 1 >= n
                            || cs[j + 1].is_whitespace()
                            || is_non_word(cs[j + 1])
                            || multi_char(&cs, j + 1).is_some()));
                if end {
                    break;
                }
                j += 1;
            }
            out.push(cs[i..j].iter().collect());
            i = j;
            continue;
        }
        out.push(cs[i].to_string());
        i += 1;
    }
    out
}

fn py_isupper_char(c: char) -> bool {
    c.is_uppercase()
}

fn py_islower_char(c: char) -> bool {
    c.is_lowercase()
}

/// `^-?[\.,]?\d[\d,\.-]*\.?$`
fn is_numeric(s: &str) -> bool {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    if cs.get(i) == Some(&'-') {
        i += 1;
    }
    if matches!(cs.get(i), Some('.') | Some(',')) {
        i += 1;
    }
    if !cs.get(i).is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    // The rest: [\d,\.-]* then optional '.', which [\d,.-]* already covers.
    cs[i + 1..].iter().all(|c| c.is_ascii_digit() || *c == ',' || *c == '.' || *c == '-')
}

#[derive(Clone, Debug)]
struct Tok {
    tok: String,
    ty: String,
    period_final: bool,
    sentbreak: bool,
    abbr: bool,
    ellipsis: bool,
}

impl Tok {
    fn new(tok: String) -> Tok {
        let lower = tok.to_lowercase();
        let ty = if is_numeric(&lower) { "##number##".to_string() } else { lower };
        let period_final = tok.ends_with('.');
        Tok { tok, ty, period_final, sentbreak: false, abbr: false, ellipsis: false }
    }
    fn type_no_period(&self) -> String {
        if self.ty.chars().count() > 1 && self.ty.ends_with('.') {
            self.ty[..self.ty.len() - 1].to_string()
        } else {
            self.ty.clone()
        }
    }
    fn type_no_sentperiod(&self) -> String {
        if self.sentbreak {
            self.type_no_period()
        } else {
            self.ty.clone()
        }
    }
    fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(py_isupper_char)
    }
    fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(py_islower_char)
    }
    fn is_ellipsis(&self) -> bool {
        // `\.\.+$` matched at the start
        let cs: Vec<char> = self.tok.chars().collect();
        cs.len() >= 2 && cs.iter().all(|&c| c == '.')
    }
    /// `[^\W\d]\.$`: one letter then a period.
    fn is_initial(&self) -> bool {
        let cs: Vec<char> = self.tok.chars().collect();
        cs.len() == 2 && cs[1] == '.' && (cs[0].is_alphanumeric() || cs[0] == '_') && !cs[0].is_numeric()
    }
}

fn tokenize_words(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            continue;
        }
        for t in word_tokenize(line) {
            out.push(Tok::new(t));
        }
    }
    out
}

fn first_pass(t: &mut Tok, p: &Params) {
    let tok = t.tok.as_str();
    if tok == "." || tok == "?" || tok == "!" {
        t.sentbreak = true;
    } else if t.is_ellipsis() {
        t.ellipsis = true;
    } else if t.period_final && !tok.ends_with("..") {
        let stem = tok[..tok.len() - 1].to_lowercase();
        let last = stem.rsplit('-').next().unwrap_or("");
        if p.abbrev.contains(&stem) || p.abbrev.contains(last) {
            t.abbr = true;
        } else {
            t.sentbreak = true;
        }
    }
}

/// True / false / unknown.
fn ortho_heuristic(t: &Tok, p: &Params) -> Option<bool> {
    if [";", ":", ",", ".", "!", "?"].contains(&t.tok.as_str()) {
        return Some(false);
    }
    let oc = p.ortho.get(&t.type_no_sentperiod()).copied().unwrap_or(0);
    if t.first_upper() && oc & ORTHO_LC != 0 && oc & MID_UC == 0 {
        return Some(true);
    }
    if t.first_lower() && (oc & ORTHO_UC != 0 || oc & BEG_LC == 0) {
        return Some(false);
    }
    None
}

fn second_pass(t1: &mut Tok, t2: &Tok, p: &Params) {
    if !t1.period_final {
        return;
    }
    let typ = t1.type_no_period();
    let next_typ = t2.type_no_sentperiod();
    let initial = t1.is_initial();
    if p.colloc.contains(&(typ.clone(), next_typ.clone())) {
        t1.sentbreak = false;
        t1.abbr = true;
        return;
    }
    if (t1.abbr || t1.ellipsis) && !initial {
        if ortho_heuristic(t2, p) == Some(true) {
            t1.sentbreak = true;
            return;
        }
        if t2.first_upper() && p.starters.contains(&next_typ) {
            t1.sentbreak = true;
            return;
        }
    }
    if initial || typ == "##number##" {
        let s = ortho_heuristic(t2, p);
        if s == Some(false) {
            t1.sentbreak = false;
            t1.abbr = true;
            return;
        }
        if s.is_none() && initial && t2.first_upper() && p.ortho.get(&next_typ).copied().unwrap_or(0) & ORTHO_LC == 0 {
            t1.sentbreak = false;
            t1.abbr = true;
        }
    }
}

/// Does the context string hold a sentence break followed by more text?
fn contains_sentbreak(context: &str, p: &Params) -> bool {
    let mut toks = tokenize_words(context);
    for t in toks.iter_mut() {
        first_pass(t, p);
    }
    for i in 0..toks.len() {
        if i + 1 < toks.len() {
            let next = toks[i + 1].clone();
            second_pass(&mut toks[i], &next, p);
        }
        if i > 0 && toks[i - 1].sentbreak {
            return true;
        }
    }
    false
}

/// Sentence spans (char offsets) as nltk's `span_tokenize` returns them.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let p = params();
    let cs: Vec<char> = text.chars().collect();
    let n = cs.len();
    // Period contexts: an end char followed by non-word punctuation, or by whitespace and a token.
    struct M {
        start: usize,
        end: usize,
        after_end: usize,
        next_tok: Option<usize>,
    }
    let mut matches = Vec::new();
    for i in 0..n {
        if !is_sent_end(cs[i]) {
            continue;
        }
        if i + 1 < n && is_non_word(cs[i + 1]) {
            matches.push(M { start: i, end: i + 1, after_end: i + 2, next_tok: None });
            continue;
        }
        let mut j = i + 1;
        while j < n && cs[j].is_whitespace() {
            j += 1;
        }
        if j > i + 1 && j < n {
            let mut k = j;
            while k < n && !cs[k].is_whitespace() {
                k += 1;
            }
            matches.push(M { start: i, end: i + 1, after_end: k, next_tok: Some(j) });
        }
    }
    let s = |a: usize, b: usize| cs[a..b].iter().collect::<String>();
    // Pair each match with the word before it; skip a match whose word overlaps the previous one.
    let mut contexts: Vec<(usize, String)> = Vec::new();
    let mut prev: Option<(usize, (usize, usize))> = None; // (match index, previous-word slice)
    for (mi, m) in matches.iter().enumerate() {
        let prev_stop = prev.map_or(0, |(_, sl)| sl.1);
        let prev_start = prev.map_or(0, |(_, sl)| sl.0);
        let before = &cs[prev_stop..m.start];
        let last_ws = before.iter().rposition(|c| " \t\n\r\x0b\x0c".contains(*c)).unwrap_or(0);
        let word_start = if last_ws != 0 { last_ws + prev_stop + 1 } else { prev_start };
        let slice = (word_start, m.start);
        if let Some((pi, psl)) = prev {
            if psl.1 <= slice.0 {
                let pm = &matches[pi];
                contexts.push((pi, s(psl.0, psl.1) + &s(pm.start, pm.end) + &s(pm.end, pm.after_end)));
            }
        }
        prev = Some((mi, slice));
    }
    if let Some((pi, psl)) = prev {
        let pm = &matches[pi];
        contexts.push((pi, s(psl.0, psl.1) + &s(pm.start, pm.end) + &s(pm.end, pm.after_end)));
    }
    // Slices.
    let mut slices = Vec::new();
    let mut last_break = 0;
    for (mi, ctx) in contexts {
        if contains_sentbreak(&ctx, p) {
            let m = &matches[mi];
            slices.push((last_break, m.end));
            last_break = m.next_tok.unwrap_or(m.end);
        }
    }
    let trimmed = text.trim_end().chars().count();
    slices.push((last_break, trimmed));
    // Realign boundaries: closing quotes/brackets after a break belong to the sentence before.
    let mut out = Vec::new();
    let mut realign = 0;
    for k in 0..slices.len() {
        let (a, b) = slices[k];
        let a = a + realign;
        let s1_nonempty = a < b;
        if k + 1 == slices.len() {
            if s1_nonempty {
                out.push((a, b));
            }
            continue;
        }
        let (c, d) = slices[k + 1];
        match boundary_realignment(&cs[c..d.max(c)]) {
            Some((kept, end)) => {
                out.push((a, c + kept));
                realign = end;
            }
            None => {
                realign = 0;
                if s1_nonempty {
                    out.push((a, b));
                }
            }
        }
    }
    out
}

/// `["\')\]}]+?(?:\s+|(?=--)|$)` matched at the start: (length without trailing space, length).
fn boundary_realignment(cs: &[char]) -> Option<(usize, usize)> {
    let closing = |c: char| "\"')]}".contains(c);
    let mut i = 0;
    while i < cs.len() && closing(cs[i]) {
        i += 1;
        // Lazy: stop at the first position where the tail matches.
        let j = i;
        if j < cs.len() && cs[j].is_whitespace() {
            let mut k = j;
            while k < cs.len() && cs[k].is_whitespace() {
                k += 1;
            }
            return Some((j, k));
        }
        if j + 1 < cs.len() && cs[j] == '-' && cs[j + 1] == '-' {
            return Some((j, j));
        }
        if j == cs.len() || cs[j] == '\n' {
            return Some((j, j));
        }
    }
    None
}

/// The number of sentences nltk's English Punkt splitter finds.
pub fn count_sentences(text: &str) -> usize {
    sentence_spans(text).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's examples (docs/ifeval.md §4).
    #[test]
    fn spec_examples() {
        assert_eq!(count_sentences("Hello world\n\nNew para"), 1);
        assert_eq!(count_sentences("Hello world.\n\nNew para"), 2);
        assert_eq!(count_sentences("1. First item.\n2. Second item."), 4);
        assert_eq!(count_sentences("Dr. Smith arrived. He sat."), 2);
        assert_eq!(count_sentences("- one\n- two\n- three"), 1);
        assert_eq!(count_sentences("We met at 5 p.m. Then we left."), 1);
    }
}
