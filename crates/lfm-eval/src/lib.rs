//! lfm-eval: scorers that double as GRPO rewards.
//!
//! - [`bfcl`]: BFCL-style tool-call scoring — LFM2's tool-call output decoded and matched
//!   against possible answers by the AST rules of `bfcl-eval` (see `evals/bfcl/README.md`).

pub mod bfcl;
