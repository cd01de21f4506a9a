//! lfm-model: the LFM2 / LFM2.5 language model in burn.
//!
//! - [`Lfm2Config`]: shape (HF `config.json` or [`Lfm2Config::lfm2_350m`]).
//! - [`Lfm2Model`]: the hybrid conv/attention network, generic over the device.
//! - [`Cache`]: conv state + KV cache for prefill and incremental decode.
//! - [`hf`]: load and save HF checkpoints (config.json + safetensors).
//! - [`generate`]: batched sampling (greedy, temperature, top-k, top-p, repetition penalty).
//! - [`io`]: atomic file writes (temporary sibling, sync, rename).
//! - [`device`]: the one place where a device string becomes a burn `Device`.
//! - [`proj`]: linear layers with dense or packed (quantized) weights.
//! - [`fused`]: fused CPU kernels (matmul, SwiGLU, cross-entropy) with their backward passes,
//!   through burn's backend-extension API.

pub mod cache;
pub mod config;
pub mod device;
pub mod error;
pub mod fused;
pub mod generate;
pub mod hf;
pub mod init;
pub mod io;
pub mod model;
pub mod names;
pub mod proj;
pub mod rope;

pub use cache::Cache;
pub use config::{LayerKind, Lfm2Config};
pub use error::LfmError;
pub use model::Lfm2Model;
