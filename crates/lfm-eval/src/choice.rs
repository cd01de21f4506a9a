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

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_model::Lfm2Model;

/// Σ log p(continuation | prompt) for each continuation (one forward pass each).
pub fn continuation_logprobs(model: &Lfm2Model, prompt: &[u32], conts: &[Vec<u32>], device: &Device) -> Vec<f64> {
    conts
        .iter()
        .map(|c| {
            let ids: Vec<i64> = prompt.iter().chain(c).map(|&t| t as i64).collect();
            let n = ids.len();
            let x = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, n]), device);
            let logp = log_softmax(model.forward(x), 2); // [1, n, V]
            let v: Vec<f32> = logp.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 logits");
            let vocab = v.len() / n;
            (prompt.len()..n).map(|t| v[(t - 1) * vocab + ids[t] as usize] as f64).sum()
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
}
