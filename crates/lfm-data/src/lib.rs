//! lfm-data: everything between raw text and the trainer.
//!
//! - [`tokenizer`]: load HF `tokenizer.json`; train a byte-level BPE with LFM2's special tokens.
//! - [`source`]: local text / JSONL / parquet files, directories and globs → a document stream.
//! - [`shards`]: documents → tokenized parquet shards + `manifest.json`, streaming and atomic.
//! - [`verify`]: a dataset checked before training: paths, sizes, checksums (cached), tokenizer.
//! - [`loader`]: shards → packed, shuffled `[batch, seq_len + 1]` windows, exactly resumable.
//! - [`sft`]: chat/tool JSONL → padded SFT batches with assistant-only labels, resumable.
//! - [`chat`]: LFM2's chat/tool-call format with assistant-only loss masks, and its parser.
//! - [`template`]: a checkpoint's text codec: tokenizer, its own Jinja chat template, specials.

pub mod chat;
pub mod loader;
pub mod sft;
pub mod shards;
pub mod source;
pub mod template;
pub mod tokenizer;
pub mod verify;
