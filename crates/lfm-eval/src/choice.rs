//! Multiple choice by log-likelihood (MMLU-Pro / GPQA style).
//!
//! Prompt (zero-shot, the lm-eval-harness layout for letter-scored MC):
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
