//! `mpirun -np 2 lfm train ...` (the `distributed` feature, Open MPI): two ranks reproduce one
//! process with twice the accumulation, write one run directory, resume exactly, and stop
//! together when a rank dies. Run with `cargo test -p lfm-cli --features distributed --test
//! mpi_cli` where `mpirun` is installed (`.ci/run` installs Open MPI from Debian's packages).
#![cfg(feature = "distributed")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{dataset, dataset_with, lfm, repo};

fn lfm_path() -> PathBuf {
    PathBuf::from(lfm().get_program())
}

/// `mpirun -np N lfm ARGS`, with the flags a container needs (root, no slot count check).
/// Panics with what to install when there is no `mpirun`.
fn mpirun(n: usize) -> Command {
    if Command::new("mpirun").arg("--version").output().is_err() {
        panic!("mpirun not found: install Open MPI (Debian: openmpi-bin libopenmpi-dev)");
    }
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np", &n.to_string()]).arg(lfm_path());
    c
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn config(dir: &Path, name: &str, data: &Path, grad_accum: usize, steps: u64, every: u64) -> PathBuf {
    config_with(dir, name, data, grad_accum, steps, every, "")
}

/// [`config`] with more lines in `[data]`.
fn config_with(
    dir: &Path,
    name: &str,
    data: &Path,
    grad_accum: usize,
    steps: u64,
    every: u64,
    data_extra: &str,
) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"job = "pretrain"
[model]
preset = "tiny"
[data]
dataset = "{}"
seq_len = 32
{data_extra}
[optim]
lr = 2e-3
[schedule]
kind = "cosine"
warmup_steps = 3
[batch]
micro_batch = 2
grad_accum = {grad_accum}
[run]
steps = {steps}
seed = 3
out = "{}"
eval_every = {every}
eval_batches = 2
checkpoint_every = {every}
"#,
            data.display(),
            dir.join(name).display()
        ),
    )
    .unwrap();
    p
}

fn records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (name, values) of every tensor of a checkpoint's model.safetensors.
fn weights(ckpt: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(ckpt.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Complete checkpoints (`step-*` with `DONE`), oldest first.
fn checkpoints(run: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(run.join("checkpoints")) else { return vec![] };
    let mut v: Vec<String> = dir
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("DONE").exists())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    v.sort();
    v
}

#[test]
fn two_ranks_train_as_one_process_with_twice_the_accumulation() {
    let tmp = tempfile::tempdir().unwrap();
    // Row groups small enough for two streams: each rank reads its own (the default for two
    // replicas); the single process reads the same two streams.
    let data = dataset_with(tmp.path(), &["--row-group-tokens", "600"]);
    let one = config_with(tmp.path(), "one", &data, 2, 8, 4, "streams = 2");
    let two = config(tmp.path(), "two", &data, 1, 8, 4);
    ok(lfm().args(["train", "pretrain", "--config"]).arg(&one));
    let out = ok(mpirun(2).args(["train", "pretrain", "--config"]).arg(&two));
    // One summary (rank 0's), one run directory with one set of checkpoints.
    assert_eq!(out.matches("run directory").count(), 1, "{out}");
    assert!(out.contains("data-parallel over 2 MPI ranks"), "{out}");
    let (r1, r2) = (tmp.path().join("one"), tmp.path().join("two"));
    assert_eq!(checkpoints(&r2), ["step-000004", "step-000008"]);
    // Rank 0's checkpoint holds both streams' states, rank 1's gathered over MPI.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r2.join("checkpoints/step-000008/meta.json")).unwrap()).unwrap();
    let at: Vec<(u64, u64)> = meta["streams"]
        .as_array()
        .expect("two streams")
        .iter()
        .map(|s| (s["rank"].as_u64().unwrap(), s["batches"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, [(0, 8), (1, 8)]);
    // The same losses, gradient norms and validation losses, step by step.
    let (a, b) = (records(&r1), records(&r2));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        for k in ["loss", "grad_norm", "val_loss"] {
            if let (Some(p), Some(q)) = (x.get(k).and_then(|v| v.as_f64()), y.get(k).and_then(|v| v.as_f64())) {
                assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "step {}: {k} {p} vs {q}", x["step"]);
            }
        }
        assert_eq!(x["tokens"], y["tokens"]);
    }
    // The same final weights.
    let (wa, wb) = (weights(&r1.join("checkpoints/step-000008")), weights(&r2.join("checkpoints/step-000008")));
    assert_eq!(wa.len(), wb.len());
    for ((na, va), (nb, vb)) in wa.iter().zip(&wb) {
        assert_eq!(na, nb);
        let d =
            va.iter()
                .zip(vb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, |m, v| if v.is_nan() { f32::NAN } else { m.max(v) });
        assert!(d <= 1e-5, "{na}: max |diff| {d}");
    }

    // Resume under MPI is exact: stopped after step 4, resumed to 8.
    let three = config(tmp.path(), "three", &data, 1, 8, 4);
    ok(mpirun(2).args(["train", "pretrain", "--stop-after", "4", "--config"]).arg(&three));
    ok(mpirun(2).args(["train", "pretrain", "--resume", "latest", "--config"]).arg(&three));
    let r3 = tmp.path().join("three");
    assert!(weights(&r3.join("checkpoints/step-000008")) == wb, "resumed weights differ");
    // A checkpoint of 2 ranks is refused by a single process, in one line.
    let o = lfm().args(["train", "pretrain", "--resume", "latest", "--config"]).arg(&three).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("2 replica(s)") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_killed_rank_stops_the_run_and_the_last_checkpoint_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let cfg = config(tmp.path(), "run", &data, 1, 100_000, 20);
    let run = tmp.path().join("run");
    let mut job = mpirun(2)
        .args(["train", "pretrain", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a checkpoint, then kill rank 1 (the lfm process that is not rank 0's: the
    // youngest of the two).
    let t = Instant::now();
    while checkpoints(&run).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(120), "no checkpoint after 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let pids = String::from_utf8(
        Command::new("pgrep")
            .arg("-f")
            .arg(format!("^{} train pretrain --config {}", lfm_path().display(), cfg.display()))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let pid = pids.lines().filter_map(|l| l.trim().parse::<u32>().ok()).max().expect("two rank processes");
    ok(Command::new("kill").args(["-9", &pid.to_string()]));
    // The launcher stops the other rank and fails, within the timeout.
    let t = Instant::now();
    let status = loop {
        if let Some(s) = job.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the run did not stop within 60 s of a rank's death");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let left = Command::new("pgrep").arg("-f").arg(cfg.display().to_string()).output().unwrap();
    assert!(left.stdout.is_empty(), "ranks left running: {}", String::from_utf8_lossy(&left.stdout));
    // The newest complete checkpoint resumes.
    let last = checkpoints(&run).pop().unwrap();
    let step: u64 = last.trim_start_matches("step-").parse().unwrap();
    let out = ok(mpirun(2)
        .args(["train", "pretrain", "--resume", "latest", "--stop-after", &(step + 2).to_string(), "--config"])
        .arg(&cfg));
    assert!(out.contains(&format!("steps           {}", step + 2)), "{out}");
}

/// `mpirun -np 2 lfm data build`: the ranks split the input files, and rank 0's manifest holds
/// every document and token the one-process build has, in shards that verify.
#[test]
fn two_ranks_build_one_dataset_from_split_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("data/corpus/jargon.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().take(300).collect();
    let inputs = tmp.path().join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    for (i, chunk) in lines.chunks(100).enumerate() {
        std::fs::write(inputs.join(format!("part{i}.jsonl")), chunk.join("\n")).unwrap();
    }
    let src = inputs.join("part0.jsonl");
    ok(lfm()
        .args(["tokenizer", "train", "--vocab-size", "400", "--input"])
        .arg(&src)
        .arg("--out")
        .arg(tmp.path().join("tok")));
    let build = |c: &mut Command, out: &str| {
        ok(c.args(["data", "build", "--val-fraction", "0.1", "--input"])
            .arg(inputs.join("*.jsonl"))
            .arg("--tokenizer")
            .arg(tmp.path().join("tok/tokenizer.json"))
            .arg("--out")
            .arg(tmp.path().join(out)))
    };
    let one = build(&mut lfm(), "one");
    let two = build(&mut mpirun(2), "two");
    assert_eq!(two.matches("documents,").count(), 1, "rank 0 alone reports: {two}");
    let manifest = |d: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join(d).join("manifest.json")).unwrap()).unwrap()
    };
    let (m1, m2) = (manifest("one"), manifest("two"));
    let total = |m: &serde_json::Value, k: &str| m["train"][k].as_u64().unwrap() + m["val"][k].as_u64().unwrap();
    assert_eq!(total(&m1, "documents"), 300, "{one}");
    assert_eq!(total(&m2, "documents"), 300);
    assert_eq!(total(&m1, "tokens"), total(&m2, "tokens"));
    // Three input files over two ranks: rank 0 took files 0 and 2, rank 1 file 1.
    let files: Vec<&str> =
        m2["train"]["shards"].as_array().unwrap().iter().map(|s| s["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["train-r0-00000.parquet", "train-r1-00000.parquet"]);
    let sources: Vec<u64> =
        m2["sources"].as_array().unwrap().iter().map(|s| s["documents"].as_u64().unwrap()).collect();
    assert_eq!(sources, [100, 100, 100]);
    // Every shard's checksum verifies, no part records or partial directory are left.
    ok(lfm().args(["data", "inspect"]).arg(tmp.path().join("two")));
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("two")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| !n.to_string_lossy().starts_with("part-")), "{left:?}");
    assert!(!tmp.path().join("two.partial").exists());
    // A second build into the finished dataset is refused, and the job fails.
    let o = mpirun(2)
        .args(["data", "build", "--input"])
        .arg(inputs.join("*.jsonl"))
        .arg("--tokenizer")
        .arg(tmp.path().join("tok/tokenizer.json"))
        .arg("--out")
        .arg(tmp.path().join("two"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a dataset"));
}
