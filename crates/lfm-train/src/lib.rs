//! lfm-train: continued pre-training, supervised fine-tuning, distillation, GRPO and DPO of LFM2 models, on one
//! device or data-parallel over several.
//!
//! - [`config`]: TOML run configs (unknown keys rejected) and CLI overrides.
//! - [`schedule`]: linear warmup, then cosine / WSD / constant.
//! - [`optim`]: gradient accumulation, global-norm clipping, AdamW keyed by parameter path.
//! - [`checkpoint`]: HF-layout checkpoints with optimizer and loader state, atomic, `DONE` last.
//! - [`metrics`]: `metrics.jsonl` and PNG loss curves.
//! - [`engine`]: the run directory, the optimizer step and the one loop every job runs.
//! - [`lm`]: the causal-LM objective (pre-training, SFT) and its micro-batch step.
//! - [`grpo`]: the GRPO objective, with the evaluation scorers as rewards ([`rewards`]).
//! - [`dpo`]: the DPO / IPO objective on preference pairs.
//! - [`distill`]: top-K logit distillation from a teacher (the LM objective's other loss).

pub mod checkpoint;
pub mod config;
pub mod dist;
pub mod distill;
pub mod dpo;
pub mod engine;
pub mod env;
pub mod grpo;
pub mod lm;
pub mod metrics;
#[cfg(all(feature = "cuda", feature = "distributed"))]
pub mod nccl;
pub mod optim;
pub mod rewards;
pub mod schedule;
pub mod streams;
