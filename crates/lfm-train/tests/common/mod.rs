#![allow(dead_code)]
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use lfm_data::shards::{build, BuildOptions};
use lfm_data::tokenizer::{self, BpeOptions};
use lfm_train::config::RunConfig;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A transformers fixture: `data/lfm2-tiny` or `crates/lfm-model/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    if name == "lfm2-tiny" {
        return repo().join("data/lfm2-tiny");
    }
    repo().join("crates/lfm-model/tests/fixtures").join(name)
}

/// Lines `skip..skip+n` of the bundled Jargon File corpus, as a JSONL file in `dir`.
pub fn jargon_slice(dir: &Path, skip: usize, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("data/corpus/jargon.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().skip(skip).take(n).collect();
    let p = dir.join(format!("jargon-{skip}-{n}.jsonl"));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// A BPE tokenizer of `vocab` tokens trained on `docs` Jargon entries, and a dataset built from
/// them with `val` held out. Returns the dataset directory (it carries its tokenizer.json).
pub fn tiny_dataset(dir: &Path, docs: usize, vocab: usize, val: f64) -> PathBuf {
    let src = jargon_slice(dir, 20, docs);
    let texts: Vec<String> = std::fs::read_to_string(&src)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let tok = tokenizer::train_bpe(texts.iter(), &BpeOptions { vocab_size: vocab, ..Default::default() }).unwrap();
    let tok_dir = dir.join("tok");
    tokenizer::save_dir(&tok, &tok_dir, 4096).unwrap();
    let out = dir.join("data");
    let mut o = BuildOptions::new(vec![src.display().to_string()], tok_dir.join("tokenizer.json"), out.clone());
    o.shard_tokens = 20_000;
    o.row_group_tokens = 4_000;
    o.val_fraction = val;
    build(&o, &ProgressBar::hidden()).unwrap();
    out
}

/// A pre-training config on `dataset` with the tiny preset; `extra` is appended to `[run]`.
pub fn pretrain_config(dataset: &Path, out: &Path, steps: u64, lr: f64, schedule: &str, run_extra: &str) -> RunConfig {
    let text = format!(
        r#"
job = "pretrain"
[model]
preset = "tiny"
[data]
dataset = "{}"
seq_len = 32
[optim]
lr = {lr:e}
[schedule]
{schedule}
[batch]
micro_batch = 2
grad_accum = 2
[run]
steps = {steps}
seed = 7
out = "{}"
eval_batches = 2
{run_extra}
"#,
        dataset.display(),
        out.display()
    );
    RunConfig::from_toml(&text, "test.toml").unwrap()
}

/// The records of a run's `metrics.jsonl`, steps and validations, as JSON.
pub fn records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A LoRA `[adapter]` of rank `r` on every default target, no dropout (exact resume).
pub fn lora(r: usize, alpha: f64) -> lfm_train::config::AdapterSection {
    lfm_train::config::AdapterSection {
        kind: "lora".into(),
        r,
        alpha,
        dropout: 0.0,
        targets: lfm_model::lora::DEFAULT_TARGETS.iter().map(|s| s.to_string()).collect(),
        use_rslora: false,
    }
}
