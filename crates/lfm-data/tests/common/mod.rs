#![allow(dead_code)]
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use lfm_data::shards::{build, BuildOptions, Manifest};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled Jargon File corpus (JSONL, one entry per line).
pub fn jargon() -> PathBuf {
    repo().join("data/corpus/jargon.jsonl")
}

/// The tiny fixture's tokenizer: LFM2's special-token layout, vocab 512.
pub fn fixture_tokenizer() -> PathBuf {
    repo().join("data/lfm2-tiny/tokenizer.json")
}

/// The first `n` lines of the Jargon corpus as a JSONL file in `dir`.
pub fn jargon_head(dir: &Path, n: usize) -> PathBuf {
    jargon_slice(dir, 0, n)
}

/// Lines `skip..skip + n` of the Jargon corpus (past line 19 they are short glossary entries).
pub fn jargon_slice(dir: &Path, skip: usize, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(jargon()).unwrap();
    let head: Vec<&str> = text.lines().skip(skip).take(n).collect();
    let p = dir.join(format!("jargon-{skip}-{n}.jsonl"));
    std::fs::write(&p, head.join("\n") + "\n").unwrap();
    p
}

/// Builds a dataset from `inputs` with small shards/row groups so loader tests see many units.
pub fn build_small(inputs: &[&Path], out: &Path, shard_tokens: u64, rg_tokens: u64, val: f64) -> Manifest {
    let mut o = BuildOptions::new(
        inputs.iter().map(|p| p.display().to_string()).collect(),
        fixture_tokenizer(),
        out.to_path_buf(),
    );
    o.shard_tokens = shard_tokens;
    o.row_group_tokens = rg_tokens;
    o.val_fraction = val;
    o.batch_docs = 37;
    build(&o, &ProgressBar::hidden()).unwrap().0
}
