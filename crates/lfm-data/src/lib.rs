//! lfm-data: everything between raw text and the trainer.
//!
//! - [`tokenizer`]: load HF `tokenizer.json`; train a byte-level BPE with LFM2's special tokens.
//! - [`source`]: local text / JSONL / parquet files, directories and globs → a document stream.
//! - [`shards`]: documents → tokenized parquet shards + `manifest.json`, streaming and atomic.
//! - [`verify`]: a dataset checked before training: paths, sizes, checksums (cached), tokenizer.
//! - [`loader`]: shards → packed, shuffled `[batch, seq_len + 1]` windows, exactly resumable.
//! - [`sft`]: chat/tool JSONL → padded SFT batches with assistant-only labels, resumable.
//! - [`pairs`]: preference pairs (prompt, chosen, rejected) in TRL's shapes, tokenized per side.
//! - [`chat`]: conversations in the OpenAI/HF shape, the built-in LFM2 layout, the reply parser.
//! - [`jinja`]: the Jinja dialect of transformers' chat templates (Python printing, `tojson`, …).
//! - [`template`]: the one chat renderer: a checkpoint's tokenizer, chat template(s), specials.

pub mod chat;
pub mod jinja;
pub mod loader;
pub mod pairs;
pub mod sft;
pub mod shards;
pub mod source;
pub mod template;
pub mod tokenizer;
pub mod verify;
