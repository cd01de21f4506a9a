//! lfm-model: the LFM2 / LFM2.5 language model in burn.
//!
//! - [`Lfm2Config`]: shape (HF `config.json`, or a named preset: [`Lfm2Config::preset`]).
//! - [`Lfm2Model`]: the hybrid conv/attention network, generic over the device.
//! - [`Cache`]: conv state + KV cache for prefill and incremental decode.
//! - [`hf`]: load and save HF checkpoints (config.json + safetensors).
//! - [`generate`]: batched sampling (greedy, temperature, top-k, top-p, repetition penalty).
//! - [`reference`]: logits and greedy ids in a fixture's `reference.safetensors` layout, and
//!   the check against such a file.
//! - [`compare`]: float comparisons in which NaN always fails.
//! - [`io`]: atomic file writes (temporary sibling, sync, rename).
//! - [`device`]: the one place where a device string becomes a burn `Device`.
//! - [`proj`]: linear layers holding a burn parameter or a host matrix.
//! - [`host`]: host-held weights for inference ([`host::F32Matrix`]; lfm-quant adds ggml blocks).
//! - [`infer`]: the inference loading policy (f32 weights as host matrices on the CPU).
//! - [`fused`]: fused CPU kernels with their backward passes, through burn's backend-extension
//!   API: matmul, SwiGLU, RMSNorm, the short convolution, the attention softmax and the
//!   vocabulary-major cross-entropy.

pub mod bf16;
pub mod cache;
pub mod compare;
pub mod config;
pub mod device;
pub mod error;
pub mod fused;
pub mod generate;
pub mod hf;
pub mod host;
pub mod infer;
pub mod init;
pub mod io;
pub mod lora;
pub mod model;
pub mod names;
pub mod pool;
pub mod proj;
pub mod reference;
pub mod rope;

pub use cache::Cache;
pub use config::{LayerKind, Lfm2Config};
pub use error::LfmError;
pub use model::Lfm2Model;
