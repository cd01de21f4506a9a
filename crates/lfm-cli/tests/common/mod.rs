//! Helpers shared by the CLI test binaries that train (`train_cli`, `mpi_cli`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::cargo::CommandCargoExt;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn lfm() -> std::process::Command {
    std::process::Command::cargo_bin("lfm").unwrap()
}

/// Tokenizer (vocab 400) and dataset from 150 Jargon entries, through the CLI.
pub fn dataset(dir: &Path) -> PathBuf {
    dataset_with(dir, &[])
}

/// [`dataset`] with more `lfm data build` arguments.
pub fn dataset_with(dir: &Path, build_args: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("data/corpus/jargon.jsonl")).unwrap();
    let src = dir.join("corpus.jsonl");
    std::fs::write(&src, text.lines().skip(20).take(150).collect::<Vec<_>>().join("\n")).unwrap();
    let ok = |c: &mut std::process::Command| {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(lfm()
        .args(["tokenizer", "train", "--vocab-size", "400", "--input"])
        .arg(&src)
        .arg("--out")
        .arg(dir.join("tok")));
    ok(lfm()
        .args(["data", "build", "--val-fraction", "0.05"])
        .args(build_args)
        .arg("--input")
        .arg(&src)
        .arg("--tokenizer")
        .arg(dir.join("tok/tokenizer.json"))
        .arg("--out")
        .arg(dir.join("data")));
    dir.join("data")
}
