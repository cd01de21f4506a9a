//! lfm-quant: ggml block formats, GGUF files, and quantized weights for lfm-model.
//!
//! - [`blocks`]: F32/F16/BF16/Q8_0/Q5_0/Q5_1/Q4_0/Q4_K/Q5_K/Q6_K encoders and decoders, bit-exact with ggml.
//! - [`gguf`]: GGUF v3 writer and validating reader.
//! - [`export`]: LFM2 → GGUF (llama.cpp names, metadata, tokenizer, quantization mixes).
//! - [`import`]: GGUF → lfm-model, quantized weights kept packed ([`qmatrix`]).
//! - [`load`]: open a model by path (HF directory or GGUF), for training/export or inference.
//! - [`vocab`]: a tokenizer from the `tokenizer.ggml.*` keys of GGUFs made by other tools.
//! - [`kernels`]: the packed matmul kernels (8-bit activations, AVX-512 VNNI / AVX2 / scalar).

pub mod blocks;
pub mod export;
pub mod gguf;
pub mod import;
pub mod kernels;
pub mod load;
pub mod qmatrix;
pub mod vocab;

pub use blocks::GgmlType;
