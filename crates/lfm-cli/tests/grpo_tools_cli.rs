//! Tool-use RL as a user runs it (issue 19): the shipped `configs/grpo-tools-toy.toml`, its
//! GRPO stopped early with `--stop-after`, then `lfm eval bfcl --model` on the held-out file
//! for the warm-start checkpoint and for the GRPO one. The held-out tasks use argument values
//! and phrasings that no training file has, and BFCL's AST check passes a task only when every
//! call's name and every argument is right, so a rise here is a rise in the arguments, not in
//! the call format. Up to the step it stops at, the run is the shipped config's own (the
//! schedule is constant and every sample is a function of seed and step).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// GRPO steps run here (of the config's 200).
const STEPS: u64 = 50;
/// Held-out accuracy points GRPO must add over the warm start by then: the issue's +0.3.
/// Measured on the machine that wrote this: 17.5% -> 77.5% at step 50 (README, "Tool-use RL").
const MIN_RISE: f64 = 0.30;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lfm() -> Command {
    let mut c = Command::cargo_bin("lfm").unwrap();
    c.current_dir(repo());
    c
}

/// `lfm eval bfcl --model ckpt` on the held-out set: its summary.json.
fn heldout(ckpt: &Path, out: &Path) -> Value {
    lfm()
        .args(["eval", "bfcl", "--data", "data/grpo/heldout_bfcl.jsonl", "--answers"])
        .arg("data/grpo/heldout_bfcl_answers.jsonl")
        .arg("--model")
        .arg(ckpt)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn grpo_raises_held_out_tool_call_accuracy_over_the_warm_start() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    lfm()
        .args(["train", "grpo", "--config", "configs/grpo-tools-toy.toml", "--stop-after", &STEPS.to_string()])
        .arg("--out")
        .arg(&run)
        .assert()
        .success();
    let warm = heldout(&run.join("warm_start/checkpoints/step-000500"), &tmp.path().join("eval-warm"));
    let grpo = heldout(&run.join(format!("checkpoints/step-{STEPS:06}")), &tmp.path().join("eval-grpo"));
    let acc = |s: &Value| s["accuracy"].as_f64().unwrap();
    let by_cat = |s: &Value| {
        s["categories"].as_object().unwrap().iter().map(|(k, c)| format!("{k} {}", c["valid"])).collect::<Vec<_>>()
    };
    println!("held-out accuracy: warm start {:.3} {:?}", acc(&warm), by_cat(&warm));
    println!("held-out accuracy: GRPO step {STEPS} {:.3} {:?}", acc(&grpo), by_cat(&grpo));
    println!("errors after GRPO: {}", grpo["errors"]);
    assert_eq!(grpo["records"], 200);
    assert!(
        acc(&grpo) >= acc(&warm) + MIN_RISE,
        "GRPO should add at least {MIN_RISE} held-out accuracy: {:.3} -> {:.3}",
        acc(&warm),
        acc(&grpo)
    );
}
