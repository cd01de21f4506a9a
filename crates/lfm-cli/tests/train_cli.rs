//! `lfm train` end to end: a run through the CLI, SIGKILL at arbitrary moments never leaves a
//! checkpoint that resume trusts but cannot load, config errors name the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;

use common::{dataset, lfm, repo};

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

/// Waits (up to a minute) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The stderr of a failed command, checked to be one line without a panic.
fn one_line_failure(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn step_records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("loss").is_some())
        .collect()
}

/// A second `lfm train` on a running one's --out fails at once with one line and leaves the
/// first run's files alone: its metrics, config and checkpoints are one run's, complete.
#[test]
fn a_second_train_on_the_same_out_fails_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 100, 50);
    let run = tmp.path().join("run");
    let mut first = lfm()
        .args(["train", "pretrain", "--seed", "11", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the first run's first step", || !step_records(&run).is_empty());
    let o = lfm().args(["train", "pretrain", "--seed", "22", "--config"]).arg(&cfg).output().unwrap();
    let err = one_line_failure(&o);
    assert!(err.contains(&run.display().to_string()) && err.contains("lock"), "{err}");
    let status = first.wait().unwrap();
    assert!(status.success());
    let steps: Vec<u64> = step_records(&run).iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (1..=100).collect::<Vec<_>>(), "the first run's metrics are whole");
    let saved = lfm_train::config::RunConfig::load(&run.join("config.toml")).unwrap();
    assert_eq!(saved.run.seed, 11);
    let kept: Vec<u64> = lfm_train::checkpoint::complete(&run).unwrap().iter().map(|c| c.0).collect();
    assert_eq!(kept, vec![50, 100]);
    for (_, dir) in lfm_train::checkpoint::complete(&run).unwrap() {
        assert_eq!(lfm_train::checkpoint::read_meta(&dir).unwrap().run_config.run.seed, 11);
    }
}

/// Two runs started together on one --out: exactly one succeeds (the other finds the lock, or
/// the finished run's checkpoints), whatever the timing; the same for two data builds.
#[test]
fn concurrent_runs_and_builds_on_one_out_leave_one_result() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 12, 6);
    let spawn = |args: &[&str]| {
        let mut c = lfm();
        c.args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let cfg_s = cfg.display().to_string();
    let a = spawn(&["train", "pretrain", "--seed", "1", "--config", &cfg_s]);
    let b = spawn(&["train", "pretrain", "--seed", "2", "--config", &cfg_s]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.success() as u8 + b.status.success() as u8, 1, "exactly one run succeeds");
    let loser = if a.status.success() { &b } else { &a };
    one_line_failure(loser);
    let run = tmp.path().join("run");
    let seed = if a.status.success() { 1 } else { 2 };
    assert_eq!(step_records(&run).len(), 12);
    assert_eq!(lfm_train::config::RunConfig::load(&run.join("config.toml")).unwrap().run.seed, seed);

    // Data builds: the same corpus into one --out.
    let src = tmp.path().join("corpus.jsonl");
    let tok = tmp.path().join("tok/tokenizer.json");
    let out = tmp.path().join("ds2");
    let (src_s, tok_s, out_s) = (src.display().to_string(), tok.display().to_string(), out.display().to_string());
    let build = ["data", "build", "--input", &src_s, "--tokenizer", &tok_s, "--out", &out_s];
    let a = spawn(&build);
    let b = spawn(&build);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.success() as u8 + b.status.success() as u8, 1, "exactly one build succeeds");
    one_line_failure(if a.status.success() { &b } else { &a });
    let m = lfm_data::shards::Manifest::load(&out).unwrap();
    m.verify(&out).unwrap();
    assert!(!tmp.path().join("ds2.partial").exists());
}

/// While something holds an output's lock, `data build`, `train`, `export gguf` and `convert`
/// fail at once with one line and create nothing there.
#[test]
fn a_held_output_is_refused_by_every_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let tiny = repo().join("data/lfm2-tiny");
    let check = |out: &Path, args: Vec<String>| {
        let lock = lfm_model::io::OutputLock::acquire(out, "test").unwrap();
        let o = lfm().args(&args).output().unwrap();
        let err = one_line_failure(&o);
        assert!(err.contains("lock") && err.contains(&out.display().to_string()), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
        assert!(!PathBuf::from(format!("{}.partial", out.display())).exists());
        drop(lock);
    };
    let s = |p: &Path| p.display().to_string();
    let ds = tmp.path().join("ds2");
    let build = vec!["data", "build", "--input", &s(&tmp.path().join("corpus.jsonl")), "--tokenizer"]
        .into_iter()
        .map(String::from)
        .chain([s(&tmp.path().join("tok/tokenizer.json")), "--out".into(), s(&ds)])
        .collect::<Vec<_>>();
    check(&ds, build.clone());
    let run = tmp.path().join("run2");
    let cfg = config(tmp.path(), &data, 2, 1);
    check(&run, vec!["train".into(), "pretrain".into(), "--config".into(), s(&cfg), "--out".into(), s(&run)]);
    let gguf = tmp.path().join("m.gguf");
    check(&gguf, vec!["export".into(), "gguf".into(), "--model".into(), s(&tiny), "--out".into(), s(&gguf)]);
    let conv = tmp.path().join("conv");
    check(&conv, vec!["convert".into(), "--model".into(), s(&tiny), "--out".into(), s(&conv)]);
    // Released, the same build goes through.
    let o = lfm().args(&build).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A run killed with SIGKILL leaves its lock file, which does not block the next run.
#[test]
fn a_killed_run_does_not_block_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 400, 1);
    let run = tmp.path().join("run");
    let mut child = lfm()
        .args(["train", "pretrain", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a checkpoint", || !lfm_train::checkpoint::complete(&run).unwrap().is_empty());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(tmp.path().join(".run.lock").exists(), "the lock file stays behind");
    let latest = lfm_train::checkpoint::complete(&run).unwrap().last().unwrap().0;
    let o = lfm()
        .args(["train", "pretrain", "--resume", "latest", "--stop-after"])
        .arg((latest + 1).to_string())
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lfm_train::checkpoint::complete(&run).unwrap().last().unwrap().0, latest + 1);
}

/// A bit flipped anywhere in a shard: `lfm train` exits 1 with one line naming the shard,
/// before any step.
#[test]
fn train_refuses_a_damaged_shard_before_any_step() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 5, 5);
    let m = lfm_data::shards::Manifest::load(&data).unwrap();
    let shard = data.join(&m.train.shards[0].file);
    let mut bytes = std::fs::read(&shard).unwrap();
    let at = (std::process::id() as usize * 7919) % bytes.len();
    bytes[at] ^= 0x04;
    std::fs::write(&shard, &bytes).unwrap();
    let o = lfm().args(["train", "pretrain", "--config"]).arg(&cfg).output().unwrap();
    let err = one_line_failure(&o);
    assert!(err.contains(&shard.display().to_string()) && err.contains("checksum"), "byte {at}: {err}");
    assert!(step_records(&tmp.path().join("run")).is_empty());
}

/// Not on a terminal (stderr and stdout piped), training prints a plain progress line every
/// LFM_LOG_EVERY seconds: step/steps, loss, rate and ETA.
#[test]
fn plain_progress_lines_when_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), &data, 40, 40);
    let o = lfm().env("LFM_LOG_EVERY", "0.05").args(["train", "pretrain", "--config"]).arg(&cfg).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("/40 steps") && l.contains("loss")).collect();
    assert!(lines.len() >= 2, "plain progress lines: {err}");
    assert!(lines.iter().any(|l| l.contains("ETA") && l.contains("tok/s")), "{lines:?}");
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "no terminal control codes: {err:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("run directory"));
}

#[test]
fn micro_batches_beyond_the_context_or_the_memory_fail_before_step_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let base = std::fs::read_to_string(config(tmp.path(), &data, 3, 3)).unwrap();
    // The tiny preset's context is 4096 positions; 1000 x 4000 tokens needs ~1 TB of
    // attention scores alone.
    for (edit, want) in [
        (("seq_len = 32", "seq_len = 5000"), "more than the model's max_position_embeddings 4096"),
        (("micro_batch = 2", "micro_batch = 1000"), "GiB for attention scores and logits"),
    ] {
        let mut text = base.replace(edit.0, edit.1).replace("eval_every = 5", "eval_every = 0");
        if edit.1.starts_with("micro_batch") {
            text = text.replace("seq_len = 32", "seq_len = 4000");
        }
        let cfg = tmp.path().join("big.toml");
        std::fs::write(&cfg, text).unwrap();
        let o = lfm().args(["train", "pretrain", "--config"]).arg(&cfg).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{edit:?} trained");
        assert!(err.contains(want), "{edit:?}: {err}");
        assert!(!tmp.path().join("run/metrics.jsonl").exists(), "{edit:?}: a step ran");
    }
}
