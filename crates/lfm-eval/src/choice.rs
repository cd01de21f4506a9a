//! Multiple choice (MMLU-Pro / GPQA style), two ways.
//!
//! **Log-likelihood of the answer letter** (base-model style, zero-shot, the lm-eval-harness
//! layout for letter-scored MC), no chat template:
//!
//! ```text
//! <|startoftext|>Question: {question}
//! A. {option 0}
//! B. {option 1}
//! ...
//! Answer:
//! ```
//!
//! Each candidate continuation ` A`, ` B`, … is scored by the sum of its tokens' log-probability
//! given the prompt; the prediction is the arg-max. `acc` counts exact hits.
//!
//! **Generated letter** (instruct-model style): the question goes into one user turn of the
//! LFM2 chat template, the model answers greedily, and the letter is extracted from its text.
//! Two public protocols are provided, each with its own prompt and extraction:
//!
//! - [`PromptStyle::MmluPro`] — zero-shot chain of thought after TIGER-Lab's MMLU-Pro evaluation
//!   script: "…Think step by step and then finish your answer with "the answer is (X)"…",
//!   options as `A. …`, the turn ending in `Answer: Let's think step by step.`; extraction tries
//!   `answer is \(?([A-J])\)?`, then `[aA]nswer:\s*([A-J])` (last match), then the last
//!   standalone capital option letter.
//! - [`PromptStyle::Gpqa`] — OpenAI simple-evals' multiple-choice template ("The last line of
//!   your response should be of the following format: 'Answer: $LETTER'…", options as `A) …`);
//!   extraction is the first match of `(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?` (letters up to
//!   the number of options).
//!
//! Liquid AI has not published the harness behind LFM2.5-350M's MMLU-Pro (20.01) and
//! GPQA-Diamond (30.64) numbers: these are the standard public protocols, so a score reproduces
//! that protocol, which is the closest documented match. A reply with no extractable letter
//! counts as wrong (never dropped).
//!
//! **Data and reports.** [`load_rows`] reads JSONL rows `{"question", "options": [...],
//! "answer": "C" | 2}`; a malformed row is kept with its line number and counted as wrong.
//! [`evaluate_loglik`] and [`evaluate_replies`] score the well-formed rows and give one
//! [`McRecord`] per row plus an [`McSummary`] (the `per_record.jsonl` and `summary.json` of
//! `lfm eval mc`).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_data::chat::Conversation;
use lfm_model::{Lfm2Model, LfmError};
use serde::Serialize;
use serde_json::Value;
use tokenizers::Tokenizer;

/// Σ log p(continuation | prompt) for each continuation (one forward pass each). Fails when
/// prompt + continuation is longer than the model's context, or the logits are not finite.
pub fn continuation_logprobs(
    model: &Lfm2Model,
    prompt: &[u32],
    conts: &[Vec<u32>],
    device: &Device,
) -> Result<Vec<f64>, LfmError> {
    conts
        .iter()
        .map(|c| {
            let ids: Vec<i64> = prompt.iter().chain(c).map(|&t| t as i64).collect();
            let n = ids.len();
            model.check_positions(n, "prompt + continuation")?;
            let x = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, n]), device);
            let logits = model.forward_chunked(x);
            let logp = log_softmax(logits, 2); // [1, n, V]
            let v: Vec<f32> = logp.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 logits");
            let vocab = v.len() / n;
            let scored = &v[(prompt.len() - 1) * vocab..(n - 1) * vocab];
            lfm_model::compare::require_finite(|| "log-probabilities".into(), scored)?;
            Ok((prompt.len()..n).map(|t| v[(t - 1) * vocab + ids[t] as usize] as f64).sum())
        })
        .collect()
}

/// The letters used for options.
pub const LETTERS: &str = "ABCDEFGHIJKLMNOP";

/// The prompt text for a question and its options (at most 16).
pub fn render(question: &str, options: &[String]) -> String {
    let mut s = format!("Question: {}\n", question.trim());
    for (o, l) in options.iter().zip(LETTERS.chars()) {
        s.push_str(&format!("{l}. {}\n", o.trim()));
    }
    s.push_str("Answer:");
    s
}

/// Index of the highest score (first on ties).
pub fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    best
}

/// Prompt and extraction protocol of the generated-letter method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptStyle {
    MmluPro,
    Gpqa,
}

/// The user turn for a question in the given style.
pub fn render_chat(style: PromptStyle, question: &str, options: &[String]) -> String {
    let letters: Vec<char> = LETTERS.chars().take(options.len()).collect();
    match style {
        PromptStyle::MmluPro => {
            let mut s = String::from(
                "The following is a multiple choice question. Think step by step and then finish your answer with \"the answer is (X)\" where X is the correct letter choice.\n\n",
            );
            s.push_str(&format!("Question: {}\nOptions:\n", question.trim()));
            for (o, l) in options.iter().zip(&letters) {
                s.push_str(&format!("{l}. {}\n", o.trim()));
            }
            s.push_str("Answer: Let's think step by step.");
            s
        }
        PromptStyle::Gpqa => {
            let all: String = letters.iter().collect();
            let mut s = format!(
                "Answer the following multiple choice question. The last line of your response should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of {all}. Think step by step before answering.\n\n{}\n\n",
                question.trim()
            );
            let opts: Vec<String> = options.iter().zip(&letters).map(|(o, l)| format!("{l}) {}", o.trim())).collect();
            s.push_str(&opts.join("\n"));
            s
        }
    }
}

/// The option index a generated reply chooses, by the style's extraction rules; `None` when
/// no letter among the first `n` can be found.
pub fn extract_letter(style: PromptStyle, reply: &str, n: usize) -> Option<usize> {
    let letters: String = LETTERS.chars().take(n).collect();
    let idx = |c: &str| letters.find(c);
    match style {
        PromptStyle::MmluPro => {
            let first = regex::Regex::new(&format!(r"answer is \(?([{letters}])\)?")).unwrap();
            if let Some(c) = first.captures(reply) {
                return idx(&c[1]);
            }
            let again = regex::Regex::new(&format!(r"[aA]nswer:\s*([{letters}])")).unwrap();
            if let Some(c) = again.captures_iter(reply).last() {
                return idx(&c[1]);
            }
            let standalone = regex::Regex::new(&format!(r"\b([{letters}])\b")).unwrap();
            standalone.captures_iter(reply).last().and_then(|c| idx(&c[1]))
        }
        PromptStyle::Gpqa => {
            let re = regex::Regex::new(&format!(r"(?i)Answer[ \t]*:[ \t]*\$?([{letters}])\$?")).unwrap();
            re.captures(reply).and_then(|c| idx(&c[1].to_uppercase()))
        }
    }
}

/// One well-formed multiple-choice row.
#[derive(Clone, Debug, PartialEq)]
pub struct McRow {
    pub question: String,
    pub options: Vec<String>,
    /// Index of the correct option.
    pub answer: usize,
}

/// Parses one JSONL row; `at` names it in errors (`file:line`). The answer is an option letter
/// (`"C"`) or a 0-based index (`2`); 2 to 16 options.
pub fn parse_row(line: &str, at: &str) -> Result<McRow> {
    let letters: Vec<char> = LETTERS.chars().collect();
    let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{at}: invalid JSON: {e}"))?;
    let q = v.get("question").and_then(Value::as_str).ok_or_else(|| anyhow!("{at}: no \"question\" string"))?;
    let options: Vec<String> = v
        .get("options")
        .and_then(Value::as_array)
        .and_then(|o| o.iter().map(|x| x.as_str().map(str::to_string)).collect())
        .ok_or_else(|| anyhow!("{at}: \"options\" must be a list of strings"))?;
    if options.len() < 2 || options.len() > letters.len() {
        bail!("{at}: {} options (2 to {} allowed)", options.len(), letters.len());
    }
    let answer = match v.get("answer") {
        Some(Value::String(s)) if s.len() == 1 => letters.iter().position(|c| s.starts_with(*c)),
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        _ => None,
    }
    .filter(|&k| k < options.len())
    .ok_or_else(|| anyhow!("{at}: \"answer\" must be an option letter or index"))?;
    Ok(McRow { question: q.to_string(), options, answer })
}

/// One non-empty line of a multiple-choice file: its row, or why it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct McLine {
    /// 1-based line number.
    pub line: usize,
    pub row: Result<McRow, String>,
}

/// The rows of a multiple-choice file; every non-empty line counts.
#[derive(Clone, Debug, PartialEq)]
pub struct McData {
    /// Where the rows came from (the `data` of the summary).
    pub source: String,
    pub lines: Vec<McLine>,
}

impl McData {
    /// Parses JSONL text; `source` names it in errors and in the summary. `limit` keeps the
    /// first N non-empty lines.
    pub fn parse(source: &str, text: &str, limit: Option<usize>) -> McData {
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .take(limit.unwrap_or(usize::MAX))
            .map(|(i, l)| McLine {
                line: i + 1,
                row: parse_row(l, &format!("{source}:{}", i + 1)).map_err(|e| format!("{e:#}")),
            })
            .collect();
        McData { source: source.to_string(), lines }
    }

    /// The well-formed rows, in file order.
    pub fn rows(&self) -> impl Iterator<Item = &McRow> {
        self.lines.iter().filter_map(|l| l.row.as_ref().ok())
    }

    /// Why each malformed line could not be read (`file:line: problem`).
    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| l.row.as_ref().err().map(String::as_str))
    }
}

/// Reads a multiple-choice JSONL file (see [`McData::parse`]).
pub fn load_rows(path: &Path, limit: Option<usize>) -> Result<McData> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let data = McData::parse(&path.display().to_string(), &text, limit);
    if data.lines.is_empty() {
        bail!("{}: no questions (the file has no non-empty line)", path.display());
    }
    Ok(data)
}

/// What a prediction was made from: the options' log-likelihoods or a generated reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Evidence {
    #[serde(rename = "logprobs")]
    Logprobs(Vec<f64>),
    #[serde(rename = "reply")]
    Reply(String),
}

/// One line of `per_record.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum McRecord {
    /// A well-formed row: the answer and prediction as letters (`pred` null when no letter
    /// could be extracted).
    Scored {
        line: usize,
        answer: String,
        pred: Option<String>,
        correct: bool,
        #[serde(flatten)]
        evidence: Evidence,
    },
    /// A malformed row, scored as wrong (`correct` is always false).
    Malformed { line: usize, correct: bool, error: String },
}

/// `summary.json` of a multiple-choice run. Every row counts in `questions`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct McSummary {
    pub acc: f64,
    pub questions: usize,
    pub correct: usize,
    pub malformed: usize,
    /// Well-formed rows whose reply had no extractable letter (counted as wrong).
    pub no_answer_extracted: usize,
    pub method: String,
    pub data: String,
}

/// The records (one per line of the data, in order) and their summary.
#[derive(Clone, Debug, PartialEq)]
pub struct McReport {
    pub records: Vec<McRecord>,
    pub summary: McSummary,
}

/// Joins the predictions for the well-formed rows (in order) with every line of the data.
fn report(data: &McData, preds: Vec<(Option<usize>, Evidence)>, method: String) -> McReport {
    let letter = |k: usize| LETTERS[k..k + 1].to_string();
    let mut preds = preds.into_iter();
    let records: Vec<McRecord> = data
        .lines
        .iter()
        .map(|l| match &l.row {
            Err(e) => McRecord::Malformed { line: l.line, correct: false, error: e.clone() },
            Ok(r) => {
                let (pred, evidence) = preds.next().expect("one prediction per well-formed row");
                McRecord::Scored {
                    line: l.line,
                    answer: letter(r.answer),
                    pred: pred.map(letter),
                    correct: pred == Some(r.answer),
                    evidence,
                }
            }
        })
        .collect();
    let n = records.len();
    let correct = records.iter().filter(|r| matches!(r, McRecord::Scored { correct: true, .. })).count();
    let malformed = records.iter().filter(|r| matches!(r, McRecord::Malformed { .. })).count();
    let no_answer_extracted = records.iter().filter(|r| matches!(r, McRecord::Scored { pred: None, .. })).count();
    let summary = McSummary {
        acc: correct as f64 / n.max(1) as f64,
        questions: n,
        correct,
        malformed,
        no_answer_extracted,
        method,
        data: data.source.clone(),
    };
    McReport { records, summary }
}

/// Scores every well-formed row by the log-likelihood of its answer letters (see the module
/// docs for the prompt); `bos` starts each prompt. `on_row(rows scored so far)` is called after
/// each row.
pub fn evaluate_loglik(
    model: &Lfm2Model,
    tok: &Tokenizer,
    bos: u32,
    data: &McData,
    device: &Device,
    mut on_row: impl FnMut(usize),
) -> Result<McReport> {
    let mut preds = Vec::new();
    for (r, line) in data.lines.iter().filter_map(|l| l.row.as_ref().ok().map(|r| (r, l.line))) {
        let mut prompt = vec![bos];
        prompt.extend(crate::encode_plain(tok, &render(&r.question, &r.options), bos)?);
        let conts: Vec<Vec<u32>> = LETTERS
            .chars()
            .take(r.options.len())
            .map(|l| crate::encode_plain(tok, &format!(" {l}"), bos))
            .collect::<Result<_>>()?;
        let scores = continuation_logprobs(model, &prompt, &conts, device)
            .map_err(|e| anyhow::anyhow!("{}:{line}: {e}", data.source))?;
        preds.push((Some(argmax(&scores)), Evidence::Logprobs(scores)));
        on_row(preds.len());
    }
    Ok(report(data, preds, "loglik of the answer letter".to_string()))
}

/// One user turn per well-formed row, in the given style (the conversations to generate
/// replies for).
pub fn chat_conversations(style: PromptStyle, data: &McData) -> Vec<Conversation> {
    data.rows().map(|r| Conversation::user(&render_chat(style, &r.question, &r.options))).collect()
}

/// Scores generated replies, one per well-formed row in order, by the style's extraction rules.
pub fn evaluate_replies(style: PromptStyle, data: &McData, replies: &[String]) -> Result<McReport> {
    let rows: Vec<&McRow> = data.rows().collect();
    if rows.len() != replies.len() {
        bail!("{} replies for {} well-formed rows", replies.len(), rows.len());
    }
    let preds = rows
        .iter()
        .zip(replies)
        .map(|(r, reply)| (extract_letter(style, reply, r.options.len()), Evidence::Reply(reply.clone())))
        .collect();
    let name = match style {
        PromptStyle::MmluPro => "mmlu-pro",
        PromptStyle::Gpqa => "gpqa",
    };
    Ok(report(data, preds, format!("generated letter ({name})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmlu_pro_extraction_cascade() {
        let s = PromptStyle::MmluPro;
        assert_eq!(extract_letter(s, "... so the answer is (C).", 10), Some(2));
        assert_eq!(extract_letter(s, "the answer is J", 10), Some(9));
        // First rule wins over a later "Answer:".
        assert_eq!(extract_letter(s, "the answer is (B). Answer: D", 10), Some(1));
        // Second rule: the last "Answer:" match.
        assert_eq!(extract_letter(s, "Answer: A ... wait. Answer: E", 10), Some(4));
        // Third rule: the last standalone option letter; "I" inside a word does not count.
        assert_eq!(extract_letter(s, "Option B looks wrong, Idk, so D", 10), Some(3));
        // Letters beyond the options are not answers.
        assert_eq!(extract_letter(s, "the answer is (H)", 4), None);
        assert_eq!(extract_letter(s, "no letter here", 4), None);
    }

    #[test]
    fn gpqa_extraction_is_case_insensitive_first_match() {
        let s = PromptStyle::Gpqa;
        assert_eq!(extract_letter(s, "Reasoning...\nAnswer: C", 4), Some(2));
        assert_eq!(extract_letter(s, "answer:$b$ then Answer: D", 4), Some(1));
        assert_eq!(extract_letter(s, "Answer : A", 4), Some(0));
        assert_eq!(extract_letter(s, "The answer is A", 4), None);
        assert_eq!(extract_letter(s, "Answer: E", 4), None);
    }

    #[test]
    fn chat_prompts_list_every_option_with_its_letter() {
        let o = vec!["red".to_string(), " blue ".to_string(), "green".to_string()];
        let g = render_chat(PromptStyle::Gpqa, "Sky?", &o);
        assert!(g.contains("one of ABC.") && g.ends_with("Sky?\n\nA) red\nB) blue\nC) green"), "{g}");
        let m = render_chat(PromptStyle::MmluPro, "Sky?", &o);
        assert!(
            m.contains("Question: Sky?\nOptions:\nA. red\nB. blue\nC. green\nAnswer: Let's think step by step."),
            "{m}"
        );
    }

    #[test]
    fn rows_take_letter_or_index_answers_and_keep_malformed_lines() {
        let text = "{\"question\": \"2+2?\", \"options\": [\"3\", \"4\", \"5\"], \"answer\": \"C\"}\n\
                    \n\
                    {\"question\": \"Sky?\", \"options\": [\"blue\", \"green\"], \"answer\": 1}\n\
                    {\"question\": \"q\", \"options\": [\"x\", \"y\"], \"answer\": \"c\"}\n\
                    {\"question\": \"q\", \"options\": [\"x\", \"y\"], \"answer\": 2}\n\
                    {\"question\": \"q\", \"options\": [\"only\"], \"answer\": 0}\n\
                    {not json\n";
        let d = McData::parse("mc.jsonl", text, None);
        // The blank line is skipped but still numbered.
        assert_eq!(d.lines.iter().map(|l| l.line).collect::<Vec<_>>(), vec![1, 3, 4, 5, 6, 7]);
        assert_eq!(d.lines[0].row.as_ref().unwrap().answer, 2);
        assert_eq!(
            d.lines[1].row.as_ref().unwrap(),
            &McRow { question: "Sky?".into(), options: vec!["blue".into(), "green".into()], answer: 1 }
        );
        // A lower-case letter, an index past the options, one option, broken JSON.
        let errs: Vec<&str> = d.errors().collect();
        assert_eq!(errs.len(), 4);
        assert!(errs[0].starts_with("mc.jsonl:4: \"answer\" must be an option letter or index"), "{}", errs[0]);
        assert!(errs[1].starts_with("mc.jsonl:5: \"answer\""), "{}", errs[1]);
        assert_eq!(errs[2], "mc.jsonl:6: 1 options (2 to 16 allowed)");
        assert!(errs[3].starts_with("mc.jsonl:7: invalid JSON"), "{}", errs[3]);
        // --limit counts non-empty lines, malformed ones included.
        let d = McData::parse("mc.jsonl", text, Some(3));
        assert_eq!((d.lines.len(), d.rows().count()), (3, 2));
    }

    #[test]
    fn replies_are_scored_per_line_and_every_line_counts() {
        let text = "{\"question\": \"a?\", \"options\": [\"x\", \"y\", \"z\"], \"answer\": \"B\"}\n\
                    {\"question\": \"b?\", \"options\": [\"x\", \"y\"], \"answer\": 0}\n\
                    {\"question\": \"c?\", \"options\": [\"x\"], \"answer\": 0}\n\
                    {\"question\": \"d?\", \"options\": [\"x\", \"y\"], \"answer\": \"A\"}\n";
        let d = McData::parse("mc.jsonl", text, None);
        let replies = ["Answer: B".to_string(), "no idea".to_string(), "Answer: b".to_string()];
        let r = evaluate_replies(PromptStyle::Gpqa, &d, &replies).unwrap();
        let s = &r.summary;
        // Row 1 right, row 2 unanswered, row 3 malformed, row 4 wrong: 1 of 4.
        assert_eq!((s.questions, s.correct, s.malformed, s.no_answer_extracted), (4, 1, 1, 1));
        assert_eq!(s.acc, 0.25);
        assert_eq!((s.method.as_str(), s.data.as_str()), ("generated letter (gpqa)", "mc.jsonl"));
        let lines: Vec<String> = r.records.iter().map(|x| serde_json::to_string(x).unwrap()).collect();
        assert_eq!(lines[0], r#"{"line":1,"answer":"B","pred":"B","correct":true,"reply":"Answer: B"}"#);
        assert_eq!(lines[1], r#"{"line":2,"answer":"A","pred":null,"correct":false,"reply":"no idea"}"#);
        assert_eq!(lines[2], r#"{"line":3,"correct":false,"error":"mc.jsonl:3: 1 options (2 to 16 allowed)"}"#);
        assert_eq!(lines[3], r#"{"line":4,"answer":"A","pred":"B","correct":false,"reply":"Answer: b"}"#);
        // One reply per well-formed row, or an error.
        assert!(evaluate_replies(PromptStyle::Gpqa, &d, &replies[..2]).is_err());
    }
}
