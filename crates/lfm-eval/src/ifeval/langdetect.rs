//! Language identification as IFEval's official checker does it: a port of the `langdetect`
//! 1.0.9 Python package (itself a port of Nakatani Shuyo's language-detection), seeded with
//! `DetectorFactory.seed = 0`.
//!
//! Hand-written: no maintained crate reproduces langdetect's verdicts (whatlang / lingua are
//! different models), and IFEval's `language:response_language`, `change_case:english_capital`
//! and `change_case:english_lowercase` are defined by what langdetect returns. The data (55
//! n-gram profiles and the CJK normalization classes, Apache-2.0) is re-serialized from the
//! package by `scripts/make_langdetect_data.py` into `data/langdetect_profiles.txt`.
//!
//! langdetect is randomised: each of 7 trials draws a smoothing constant from `random.gauss`
//! and samples n-grams with `random.choice`. Upstream leaves the generator unseeded; IFEval
//! verdicts here use seed 0, so the port includes CPython's MT19937 generator, `random()`,
//! `getrandbits`-based `choice` and the Box–Muller `gauss` of Python 3.11, and sums floats left
//! to right as Python 3.11's `sum()` does. Verified against the package on 4255 texts
//! (`evals/ifeval/langdetect_official.jsonl`).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

/// Why detection failed (langdetect raises `LangDetectException`; IFEval counts it as a pass).
#[derive(Clone, Debug, PartialEq)]
pub enum DetectError {
    /// "No features in text": no known n-gram survived normalization.
    NoFeatures,
}

/// CPython's `random.Random` (MT19937) — just what langdetect calls.
pub struct PyRandom {
    mt: [u32; 624],
    index: usize,
    gauss_next: Option<f64>,
}

impl PyRandom {
    /// `random.Random(seed)` / `.seed(seed)` for a non-negative integer seed below 2^32.
    pub fn new(seed: u32) -> Self {
        let mut r = PyRandom { mt: [0; 624], index: 624, gauss_next: None };
        r.init_by_array(&[seed]);
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..624 {
            let prev = self.mt[i - 1];
            self.mt[i] = 1812433253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = 624;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        const N: usize = 624;
        self.init_genrand(19650218);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = self.mt[i - 1];
            self.mt[i] =
                (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1664525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = self.mt[i - 1];
            self.mt[i] = (self.mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1566083941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.mt[0] = self.mt[N - 1];
                i = 1;
            }
        }
        self.mt[0] = 0x8000_0000;
    }

    /// One tempered 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        const N: usize = 624;
        const M: usize = 397;
        if self.index >= N {
            for k in 0..N {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % N] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random.random()`: 53-bit float in [0, 1).
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
    }

    /// `random.gauss(0, 1)` (Box–Muller, caching the second value as CPython does).
    pub fn gauss(&mut self) -> f64 {
        if let Some(z) = self.gauss_next.take() {
            return z;
        }
        let x2pi = self.random() * std::f64::consts::TAU;
        let g2rad = (-2.0 * (1.0 - self.random()).ln()).sqrt();
        self.gauss_next = Some(x2pi.sin() * g2rad);
        x2pi.cos() * g2rad
    }

    /// `random._randbelow(n)` for 0 < n < 2^32 (rejection sampling on `getrandbits`).
    pub fn randbelow(&mut self, n: usize) -> usize {
        assert!(n > 0 && n <= u32::MAX as usize);
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = (self.next_u32() >> (32 - k)) as usize;
            if r < n {
                return r;
            }
        }
    }
}

/// Profiles: language names (in the fixed order) and, per n-gram, the sparse list of
/// (language index, relative frequency) — langdetect keeps a dense row per n-gram; zeros
/// contribute exactly `weight` either way.
struct Profiles {
    langs: Vec<String>,
    grams: HashMap<String, Vec<(u16, f64)>>,
    cjk: HashMap<char, char>,
}

const PROFILE_DATA: &str = include_str!("../../data/langdetect_profiles.txt");

fn profiles() -> &'static Profiles {
    static P: OnceLock<Profiles> = OnceLock::new();
    P.get_or_init(|| parse_profiles(PROFILE_DATA))
}

fn parse_profiles(text: &str) -> Profiles {
    let mut langs = Vec::new();
    let mut grams: HashMap<String, Vec<(u16, f64)>> = HashMap::new();
    let mut cjk = HashMap::new();
    let mut n_words = [0u64; 3];
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(cls) = line.strip_prefix("@cjk ") {
            let rep = cls.chars().next().expect("CJK class is empty");
            for c in cls.chars() {
                cjk.insert(c, rep);
            }
        } else if let Some(rest) = line.strip_prefix("@lang ") {
            let f: Vec<&str> = rest.split(' ').collect();
            langs.push(f[0].to_string());
            for k in 0..3 {
                n_words[k] = f[k + 1].parse().expect("bad n_words in langdetect data");
            }
        } else {
            let (gram, count) = line.split_once('\t').expect("bad gram line in langdetect data");
            let count: u64 = count.parse().expect("bad gram count in langdetect data");
            let len = gram.chars().count();
            if (1..=3).contains(&len) {
                let p = count as f64 / n_words[len - 1] as f64;
                grams.entry(gram.to_string()).or_default().push(((langs.len() - 1) as u16, p));
            }
        }
    }
    Profiles { langs, grams, cjk }
}

const LATIN1_EXCLUDED: &str = "\u{00A0}\u{00AB}\u{00B0}\u{00BB}";
const TO_NORMALIZE_VI: &str =
    "AEIOUYaeiouy\u{00c2}\u{00ca}\u{00d4}\u{00e2}\u{00ea}\u{00f4}\u{0102}\u{0103}\u{01a0}\u{01a1}\u{01af}\u{01b0}";
const DMARKS: &str = "\u{0300}\u{0301}\u{0303}\u{0309}\u{0323}";
const NORMALIZED_VI: [&str; 5] = [
    "\u{00C0}\u{00C8}\u{00CC}\u{00D2}\u{00D9}\u{1EF2}\u{00E0}\u{00E8}\u{00EC}\u{00F2}\u{00F9}\u{1EF3}\u{1EA6}\u{1EC0}\u{1ED2}\u{1EA7}\u{1EC1}\u{1ED3}\u{1EB0}\u{1EB1}\u{1EDC}\u{1EDD}\u{1EEA}\u{1EEB}",
    "\u{00C1}\u{00C9}\u{00CD}\u{00D3}\u{00DA}\u{00DD}\u{00E1}\u{00E9}\u{00ED}\u{00F3}\u{00FA}\u{00FD}\u{1EA4}\u{1EBE}\u{1ED0}\u{1EA5}\u{1EBF}\u{1ED1}\u{1EAE}\u{1EAF}\u{1EDA}\u{1EDB}\u{1EE8}\u{1EE9}",
    "\u{00C3}\u{1EBC}\u{0128}\u{00D5}\u{0168}\u{1EF8}\u{00E3}\u{1EBD}\u{0129}\u{00F5}\u{0169}\u{1EF9}\u{1EAA}\u{1EC4}\u{1ED6}\u{1EAB}\u{1EC5}\u{1ED7}\u{1EB4}\u{1EB5}\u{1EE0}\u{1EE1}\u{1EEE}\u{1EEF}",
    "\u{1EA2}\u{1EBA}\u{1EC8}\u{1ECE}\u{1EE6}\u{1EF6}\u{1EA3}\u{1EBB}\u{1EC9}\u{1ECF}\u{1EE7}\u{1EF7}\u{1EA8}\u{1EC2}\u{1ED4}\u{1EA9}\u{1EC3}\u{1ED5}\u{1EB2}\u{1EB3}\u{1EDE}\u{1EDF}\u{1EEC}\u{1EED}",
    "\u{1EA0}\u{1EB8}\u{1ECA}\u{1ECC}\u{1EE4}\u{1EF4}\u{1EA1}\u{1EB9}\u{1ECB}\u{1ECD}\u{1EE5}\u{1EF5}\u{1EAC}\u{1EC6}\u{1ED8}\u{1EAD}\u{1EC7}\u{1ED9}\u{1EB6}\u{1EB7}\u{1EE2}\u{1EE3}\u{1EF0}\u{1EF1}",
];

struct Patterns {
    url: Regex,
    mail: Regex,
    vi: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        url: Regex::new(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}").unwrap(),
        mail: Regex::new(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}").unwrap(),
        vi: Regex::new(&format!("([{TO_NORMALIZE_VI}])([{DMARKS}])")).unwrap(),
    })
}

/// Vietnamese: a base letter followed by a combining mark becomes the precomposed letter.
fn normalize_vi(text: &str) -> String {
    patterns()
        .vi
        .replace_all(text, |c: &regex::Captures| {
            let base = TO_NORMALIZE_VI.chars().position(|x| c[1].starts_with(x)).unwrap();
            let mark = DMARKS.chars().position(|x| c[2].starts_with(x)).unwrap();
            NORMALIZED_VI[mark].chars().nth(base).unwrap().to_string()
        })
        .into_owned()
}

/// langdetect's per-character normalization (`NGram.normalize`), by Unicode block.
fn normalize_char(c: char, cjk: &HashMap<char, char>) -> char {
    let cp = c as u32;
    match cp {
        0x0000..=0x007F => {
            if c.is_ascii_alphabetic() {
                c
            } else {
                ' '
            }
        }
        0x0080..=0x00FF => {
            if LATIN1_EXCLUDED.contains(c) {
                ' '
            } else {
                c
            }
        }
        0x0180..=0x024F => match c {
            '\u{0219}' => '\u{015f}',
            '\u{021b}' => '\u{0163}',
            _ => c,
        },
        0x0600..=0x06FF => {
            if c == '\u{06cc}' {
                '\u{064a}'
            } else {
                c
            }
        }
        0x1E00..=0x1EFF => {
            if cp >= 0x1EA0 {
                '\u{1ec3}'
            } else {
                c
            }
        }
        0x2000..=0x206F => ' ',
        0x3040..=0x309F => '\u{3042}',
        0x30A0..=0x30FF => '\u{30a2}',
        0x3100..=0x312F | 0x31A0..=0x31BF => '\u{3105}',
        0x4E00..=0x9FFF => *cjk.get(&c).unwrap_or(&c),
        0xAC00..=0xD7AF => '\u{ac00}',
        _ => c,
    }
}

/// Python's `str.isupper()` on one character (the Unicode `Uppercase` property).
fn upper(c: char) -> bool {
    c.is_uppercase()
}

/// The text langdetect analyses: URLs and e-mails blanked, Vietnamese normalized, runs of
/// spaces collapsed, at most 10000 characters; then, when non-Latin letters outnumber Latin
/// ones two to one, the Latin range `A..=z` is dropped (`cleaning_text`).
fn prepare(text: &str) -> Vec<char> {
    let p = patterns();
    let t = p.url.replace_all(text, " ");
    let t = p.mail.replace_all(&t, " ");
    let t = normalize_vi(&t);
    let mut out = Vec::new();
    let mut pre: Option<char> = None;
    for ch in t.chars().take(10000) {
        if ch != ' ' || pre != Some(' ') {
            out.push(ch);
        }
        pre = Some(ch);
    }
    let latin = out.iter().filter(|&&c| ('A'..='z').contains(&c)).count();
    let non_latin = out.iter().filter(|&&c| c >= '\u{0300}' && !('\u{1E00}'..='\u{1EFF}').contains(&c)).count();
    if latin * 2 < non_latin {
        out.retain(|&c| !('A'..='z').contains(&c));
    }
    out
}

/// The known 1-, 2- and 3-grams of the text, in order (`_extract_ngrams`); all-capital words
/// (two upper-case letters in a row) are skipped as langdetect does.
fn extract_ngrams<'a>(text: &[char], prof: &'a Profiles) -> Vec<&'a [(u16, f64)]> {
    let mut out = Vec::new();
    let mut grams: Vec<char> = vec![' '];
    let mut capital = false;
    let mut key = String::new();
    for &raw in text {
        let ch = normalize_char(raw, &prof.cjk);
        let last = *grams.last().unwrap();
        let mut skip = false;
        if last == ' ' {
            grams.clear();
            grams.push(' ');
            capital = false;
            if ch == ' ' {
                skip = true;
            }
        } else if grams.len() >= 3 {
            grams.remove(0);
        }
        if !skip {
            grams.push(ch);
            if !upper(ch) {
                capital = false;
            } else if upper(last) {
                capital = true;
            }
        }
        if capital {
            continue;
        }
        for n in 1..=3 {
            if grams.len() < n {
                break;
            }
            let w = &grams[grams.len() - n..];
            if w == [' '] {
                continue;
            }
            key.clear();
            key.extend(w);
            if let Some(row) = prof.grams.get(key.as_str()) {
                out.push(row.as_slice());
            }
        }
    }
    out
}

/// Language probabilities above 0.1, highest first (`Detector.get_probabilities`).
pub fn detect_langs(text: &str) -> Result<Vec<(String, f64)>, DetectError> {
    let prof = profiles();
    let chars = prepare(text);
    let ngrams = extract_ngrams(&chars, prof);
    if ngrams.is_empty() {
        return Err(DetectError::NoFeatures);
    }
    let nl = prof.langs.len();
    let mut langprob = vec![0.0f64; nl];
    let mut rng = PyRandom::new(0);
    for _ in 0..7 {
        let mut prob = vec![1.0 / nl as f64; nl];
        let alpha = 0.5 + rng.gauss() * 0.05;
        let weight = alpha / 10000.0;
        let mut i = 0usize;
        loop {
            let row = ngrams[rng.randbelow(ngrams.len())];
            let mut r = row.iter().peekable();
            for (l, p) in prob.iter_mut().enumerate() {
                let f = match r.peek() {
                    Some(&&(li, f)) if li as usize == l => {
                        r.next();
                        f
                    }
                    _ => 0.0,
                };
                *p *= weight + f;
            }
            if i.is_multiple_of(5) {
                let sum = prob.iter().fold(0.0, |a, &b| a + b);
                let mut maxp = 0.0f64;
                for p in prob.iter_mut() {
                    *p /= sum;
                    if maxp < *p {
                        maxp = *p;
                    }
                }
                if maxp > 0.99999 || i >= 1000 {
                    break;
                }
            }
            i += 1;
        }
        for (lp, p) in langprob.iter_mut().zip(&prob) {
            *lp += p / 7.0;
        }
    }
    let mut out: Vec<(String, f64)> =
        prof.langs.iter().zip(&langprob).filter(|(_, &p)| p > 0.1).map(|(l, &p)| (l.clone(), p)).collect();
    // Python's stable sort(reverse=True): descending, ties keep their order.
    out.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap());
    Ok(out)
}

/// `langdetect.detect`: the most probable language code, or "unknown" when none passes 0.1.
pub fn detect(text: &str) -> Result<String, DetectError> {
    Ok(detect_langs(text)?.into_iter().next().map(|(l, _)| l).unwrap_or_else(|| "unknown".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_cpython_seed_0() {
        // random.seed(0); [random.getrandbits(32) for _ in range(3)]; random.seed(0); random.random()
        let mut r = PyRandom::new(0);
        assert_eq!([r.next_u32(), r.next_u32(), r.next_u32()], [3626764237, 1654615998, 3255389356]);
        let mut r = PyRandom::new(0);
        assert_eq!(r.random(), 0.8444218515250481);
    }

    #[test]
    fn gauss_matches_cpython_seed_0() {
        // random.seed(0); [random.gauss(0.0, 1.0) for _ in range(3)]
        let mut r = PyRandom::new(0);
        let g = [r.gauss(), r.gauss(), r.gauss()];
        assert_eq!(g, [0.9417154046806644, -1.3965781047011498, -0.6797144480784211]);
    }

    #[test]
    fn choice_matches_cpython_seed_0() {
        // random.seed(0); [random.choice(range(1000)) for _ in range(5)], then range(7) five times
        let mut r = PyRandom::new(0);
        let a: Vec<usize> = (0..5).map(|_| r.randbelow(1000)).collect();
        let b: Vec<usize> = (0..5).map(|_| r.randbelow(7)).collect();
        assert_eq!((a, b), (vec![864, 394, 776, 911, 430], vec![0, 2, 4, 3, 3]));
    }
}
