//! lfm-eval: scorers that double as GRPO rewards.
//!
//! - [`bfcl`]: BFCL-style tool-call scoring — LFM2's tool-call output decoded and matched
//!   against possible answers by the AST rules of `bfcl-eval` (see `evals/bfcl/README.md`).
//! - [`choice`]: multiple choice by log-likelihood of the answer letter.
//! - [`perplexity`]: perplexity and bits per byte over windows of a token stream.
//! - [`ifeval`]: IFEval instruction checks, strict/loose, the four metrics (20 of 25 checks so far).

pub mod bfcl;
pub mod choice;
pub mod ifeval;
pub mod perplexity;
