//! `lfm train` end to end: a run through the CLI, SIGKILL at arbitrary moments never leaves a
//! checkpoint that resume trusts but cannot load, config errors name the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lfm() -> std::process::Command {
    std::process::Command::cargo_bin("lfm").unwrap()
}

/// Tokenizer (vocab 400) and dataset from 150 Jargon entries, through the CLI.
fn dataset(dir: &Path) -> PathBuf {
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
        .args(["data", "build", "--val-fraction", "0.05", "--input"])
        .arg(&src)
        .arg("--tokenizer")
        .arg(dir.join("tok/tokenizer.json"))
        .arg("--out")
        .arg(dir.join("data")));
    dir.join("data")
}

fn config(dir: &Path, data: &Path, steps: u64, every: u64) -> PathBuf {
    let p = dir.join("run.toml");
    std::fs::write(
        &p,
        format!(
            r#"job = "pretrain"
[model]
preset = "tiny"
[data]
dataset = "{}"
seq_len = 32
[optim]
lr = 2e-3
[schedule]
kind = "cosine"
warmup_steps = 3
[batch]
micro_batch = 2
[run]
steps = {steps}
out = "{}"
eval_every = 5
eval_batches = 1
checkpoint_every = {every}
keep_last = 2
"#,
            data.display(),
            dir.join("run").display()
        ),
    )
    .unwrap();
    p
}

/// Every complete checkpoint loads in full: model, optimizer, meta.
fn all_complete_checkpoints_load(run: &Path) -> usize {
    let cps = lfm_train::checkpoint::complete(run).unwrap();
    for (_, dir) in &cps {
        let meta = lfm_train::checkpoint::read_meta(dir).unwrap();
        lfm_train::checkpoint::load(
            dir,
            &lfm_model::device::parse_device("cpu").unwrap(),
            meta.run_config.optim.clone(),
        )
        .unwrap_or_else(|e| panic!("{}: complete but unloadable: {e:#}", dir.display()));
    }
    cps.len()
}

#[test]
fn train_runs_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 6, 3);
    let o = lfm().args(["train", "pretrain", "--config"]).arg(&cfg).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out} {}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("val loss") && out.contains("step-000006"), "{out}");
    let run = tmp.path().join("run");
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let steps: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .collect();
    assert_eq!(steps.len(), 6);
    for k in ["step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"] {
        assert!(steps[0].get(k).is_some(), "metrics.jsonl lacks {k}");
    }
    // The resolved config is in the run directory and parses back.
    lfm_train::config::RunConfig::load(&run.join("config.toml")).unwrap();
    // The checkpoint is an HF directory `lfm info` reads.
    let o = lfm().args(["info", "--model"]).arg(run.join("checkpoints/step-000006")).output().unwrap();
    assert!(o.status.success());
    // The shipped SFT recipe, shortened, from this checkpoint (its tokenizer comes along).
    let o = lfm()
        .current_dir(repo())
        .args(["train", "sft", "--config", "configs/sft-tools.toml", "--steps", "1", "--init-from"])
        .arg(run.join("checkpoints/step-000006"))
        .arg("--out")
        .arg(tmp.path().join("sft"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out} {}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("val loss") && tmp.path().join("sft/checkpoints/step-000001/DONE").exists(), "{out}");
    // `sft` with a pretrain config is refused; an unknown key is named.
    let o = lfm().args(["train", "sft", "--config"]).arg(&cfg).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("job"));
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, std::fs::read_to_string(&cfg).unwrap().replace("lr = 2e-3", "lr = 2e-3\nwarmup = 5")).unwrap();
    let o = lfm().args(["train", "pretrain", "--config"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("warmup") && err.contains("bad.toml") && err.trim_end().lines().count() == 1, "{err}");
}

/// SIGKILL at pseudo-random moments (mostly during checkpoint writes, since one is written
/// every step): every checkpoint resume would trust loads, and the run still finishes.
#[test]
fn sigkill_never_leaves_a_trusted_but_broken_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 400, 1);
    let run = tmp.path().join("run");
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut kills = 0;
    for round in 0..8 {
        let mut cmd = lfm();
        cmd.args(["train", "pretrain", "--config"]).arg(&cfg);
        if !lfm_train::checkpoint::complete(&run).unwrap().is_empty() {
            cmd.args(["--resume", "latest"]);
        }
        let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let wait_ms = 400 + (x >> 33) % 1600;
        std::thread::sleep(Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        let n = all_complete_checkpoints_load(&run);
        println!("round {round}: killed after {wait_ms} ms ({status}); {n} complete checkpoints");
    }
    assert!(kills >= 6, "the runs should have been killed mid-way");
    // Finish from the newest complete checkpoint, with fewer steps to keep the test short.
    let latest = lfm_train::checkpoint::complete(&run).unwrap().last().unwrap().0;
    assert!(latest >= 1, "some checkpoint was completed between kills");
    let meta = lfm_train::checkpoint::read_meta(&lfm_train::checkpoint::resolve(&run, "latest").unwrap()).unwrap();
    assert_eq!(meta.step, latest);
    let o = lfm()
        .args(["train", "pretrain", "--resume", "latest", "--stop-after"])
        .arg((latest + 2).to_string())
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lfm_train::checkpoint::complete(&run).unwrap().last().unwrap().0, latest + 2);
    all_complete_checkpoints_load(&run);
}
