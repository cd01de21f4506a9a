//! The training loop end to end on the bundled corpus: exact resume, NaN stop, learning.

mod common;

use std::path::Path;

use common::*;
use lfm_model::device::parse_device;
use lfm_train::checkpoint;
use lfm_train::engine::{run, RunOptions};

fn cpu() -> burn::tensor::Device {
    parse_device("cpu").unwrap()
}

fn metrics(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (step, loss, lr, grad_norm) of every step record, and (step, val_loss) of every val record.
fn curves(run_dir: &Path) -> (Vec<(u64, f64, f64, f64)>, Vec<(u64, f64)>) {
    let mut train = vec![];
    let mut val = vec![];
    for r in metrics(run_dir) {
        let step = r["step"].as_u64().unwrap();
        if let Some(v) = r.get("val_loss") {
            val.push((step, v.as_f64().unwrap()));
        } else {
            train.push((
                step,
                r["loss"].as_f64().unwrap(),
                r["lr"].as_f64().unwrap(),
                r["grad_norm"].as_f64().unwrap(),
            ));
        }
    }
    (train, val)
}

#[test]
fn resume_is_bit_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 300, 600, 0.05);
    let sched = "kind = \"cosine\"\nwarmup_steps = 2";
    let extra = "eval_every = 2\ncheckpoint_every = 3\nkeep_last = 2";
    const N: u64 = 4;

    // Uninterrupted: 2N steps.
    let a = pretrain_config(&ds, &tmp.path().join("a"), 2 * N, 3e-3, sched, extra);
    let sa = run(&a, &cpu(), &RunOptions::default()).unwrap();
    assert_eq!(sa.steps_done, 2 * N);

    // Interrupted after N steps (as if killed right after the step-N checkpoint), then resumed.
    let b = pretrain_config(&ds, &tmp.path().join("b"), 2 * N, 3e-3, sched, extra);
    let sb = run(&b, &cpu(), &RunOptions { stop_after: Some(N), ..Default::default() }).unwrap();
    assert_eq!(sb.steps_done, N);
    // A fresh start into a directory with checkpoints is refused.
    let e = run(&b, &cpu(), &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("--resume"), "{e}");
    let sb = run(&b, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    assert_eq!(sb.steps_done, 2 * N);

    let last = |dir: &Path| checkpoint::resolve(dir, "latest").unwrap();
    let (ca, cb) = (last(&a.run.out), last(&b.run.out));
    assert!(ca.ends_with(format!("step-{:06}", 2 * N)) && cb.ends_with(format!("step-{:06}", 2 * N)));
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let (x, y) = (std::fs::read(ca.join(f)).unwrap(), std::fs::read(cb.join(f)).unwrap());
        assert!(x == y, "{f} differs between the uninterrupted and the resumed run");
    }
    // Same losses, learning rates, gradient norms and validation losses, step by step
    // (bit-for-bit: f64 equality of what was logged).
    let (ta, va) = curves(&a.run.out);
    let (tb, vb) = curves(&b.run.out);
    assert_eq!(ta.len() as u64, 2 * N);
    assert_eq!(ta, tb);
    assert_eq!(va, vb);
    assert!(!va.is_empty());
    // The loader and meta agree too.
    let (ma, mb) = (checkpoint::read_meta(&ca).unwrap(), checkpoint::read_meta(&cb).unwrap());
    assert_eq!(ma.loader, mb.loader);
    assert_eq!(ma.tokens_seen, mb.tokens_seen);
    // keep_last = 2: only two complete checkpoints remain, no temp dirs.
    let kept: Vec<u64> = checkpoint::complete(&a.run.out).unwrap().iter().map(|c| c.0).collect();
    assert_eq!(kept, vec![6, 8]);
    let names: Vec<String> = std::fs::read_dir(checkpoint::root(&a.run.out))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("step-")), "{names:?}");
    // Run directory contents.
    for f in ["config.toml", "metrics.jsonl", "loss.png"] {
        assert!(a.run.out.join(f).exists(), "{f} missing");
    }
    // A checkpoint is an HF directory the model loader reads.
    let (cfg, _) = lfm_model::hf::load_dir(&ca, &cpu()).unwrap();
    assert_eq!(cfg.num_layers(), 6);
    assert!(ca.join("tokenizer.json").exists() && ca.join("DONE").exists());
}

#[test]
fn resume_refuses_a_changed_config() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    let a = pretrain_config(&ds, &tmp.path().join("a"), 2, 1e-3, sched, "");
    run(&a, &cpu(), &RunOptions { stop_after: Some(1), ..Default::default() }).unwrap();
    let mut changed = a.clone();
    changed.optim.lr = 2e-3;
    let e = run(&changed, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("another configuration"), "{e}");
}

#[test]
fn nonfinite_loss_stops_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    // lr = 1e30: step 1 moves every weight by ~1e30, so step 2's activations overflow f32.
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    let mut c = pretrain_config(&ds, &tmp.path().join("r"), 5, 1e30, sched, "checkpoint_every = 1");
    c.optim.grad_clip = 0.0;
    let e = run(&c, &cpu(), &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("step 2") && (e.contains("loss is") || e.contains("gradient norm is")), "{e}");
    assert!(e.contains("step-000001"), "the message names the last good checkpoint: {e}");
    let kept = checkpoint::complete(&c.run.out).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, 1);
    checkpoint::load(&kept[0].1, &cpu(), c.optim.clone()).unwrap();
}

#[test]
fn validation_loss_falls_well_below_unigram_entropy() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 800, 1024, 0.05);
    let h = lfm_data::loader::unigram_entropy(&ds).unwrap();
    let sched = "kind = \"cosine\"\nwarmup_steps = 20";
    let mut c = pretrain_config(&ds, &tmp.path().join("r"), 200, 3e-3, sched, "eval_every = 100");
    c.data.seq_len = 64;
    c.batch.micro_batch = 8;
    c.batch.grad_accum = 1;
    c.run.eval_batches = 8;
    let s = run(&c, &cpu(), &RunOptions::default()).unwrap();
    let val = s.last_val_loss.unwrap();
    let (train, vals) = curves(&c.run.out);
    println!("unigram entropy {h:.3} nats; first train loss {:.3}; val losses {vals:?}", train[0].1);
    // Starts near uniform (ln V), ends well below what a unigram model could reach.
    assert!((train[0].1 - (1024f64).ln()).abs() < 0.5, "first loss {}", train[0].1);
    assert!(val < h - 0.6, "val loss {val:.3} vs unigram entropy {h:.3}");
}

/// SFT from an HF checkpoint (the transformers fixture) on the bundled tool-use set: the loss
/// falls, validation runs on the held-out file, and resume is exact here too.
#[test]
fn sft_from_a_checkpoint_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let text = |out: &Path| {
        format!(
            r#"
job = "sft"
[model]
init_from = "{}"
[data]
sft_jsonl = "{}"
sft_val_jsonl = "{}"
seq_len = 768
[optim]
lr = 3e-3
[schedule]
kind = "cosine"
warmup_steps = 1
[batch]
micro_batch = 2
grad_accum = 2
[run]
steps = 6
seed = 3
out = "{}"
eval_every = 3
eval_batches = 2
checkpoint_every = 3
"#,
            fixture("lfm2-tiny").display(),
            repo().join("data/sft/tool_calls.jsonl").display(),
            repo().join("data/sft/tool_calls_val.jsonl").display(),
            out.display()
        )
    };
    let a = lfm_train::config::RunConfig::from_toml(&text(&tmp.path().join("a")), "sft.toml").unwrap();
    let b = lfm_train::config::RunConfig::from_toml(&text(&tmp.path().join("b")), "sft.toml").unwrap();
    let s = run(&a, &cpu(), &RunOptions::default()).unwrap();
    run(&b, &cpu(), &RunOptions { stop_after: Some(3), ..Default::default() }).unwrap();
    run(&b, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let (ta, va) = curves(&a.run.out);
    let (tb, vb) = curves(&b.run.out);
    assert_eq!(ta, tb);
    assert_eq!(va, vb);
    assert_eq!(va.len(), 2);
    assert!(ta.last().unwrap().1 < ta[0].1, "loss falls: {ta:?}");
    assert!(va[1].1 < va[0].1, "held-out loss falls: {va:?}");
    assert_eq!(s.last_val_loss, Some(va[1].1));
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let last = |d: &Path| checkpoint::resolve(d, "latest").unwrap().join(f);
        assert!(std::fs::read(last(&a.run.out)).unwrap() == std::fs::read(last(&b.run.out)).unwrap(), "{f} differs");
    }
    let meta = checkpoint::read_meta(&checkpoint::resolve(&b.run.out, "latest").unwrap()).unwrap();
    assert!(meta.sft.is_some() && meta.loader.is_none());
}

#[test]
fn shipped_configs_parse() {
    for (name, accum) in [
        ("quickstart.toml", 1),
        ("lfm2-350m-cpt.toml", 16),
        ("sft-tools.toml", 4),
        ("lora-sft-toy.toml", 2),
        ("grpo-toy.toml", 1),
        ("grpo-tools.toml", 1),
        ("grpo-episodes-toy.toml", 1),
        ("grpo-tools-toy.toml", 1),
    ] {
        let c = lfm_train::config::RunConfig::load(&repo().join("configs").join(name)).unwrap();
        assert_eq!(c.accum(), accum, "{name}");
    }
}

/// Data-parallel over two replicas (burn's flex CPU backend has one device, so both replicas
/// share it; each still runs on its own thread with its own forked model) takes the same step
/// as one device accumulating the same two micro-batches. The two replicas read two streams
/// of row groups by default, so the single device is told to read two as well.
#[test]
fn data_parallel_matches_single_device_accumulation() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 200, 500, 0.05);
    let sched = "kind = \"cosine\"\nwarmup_steps = 1";
    let mut single = pretrain_config(&ds, &tmp.path().join("one"), 4, 3e-3, sched, "eval_every = 2");
    single.data.streams = Some(2);
    let mut dp = pretrain_config(&ds, &tmp.path().join("two"), 4, 3e-3, sched, "eval_every = 2");
    dp.batch.grad_accum = 1; // × 2 replicas = the single run's grad_accum 2
    run(&single, &cpu(), &RunOptions::default()).unwrap();
    let devices = lfm_model::device::parse_devices("cpu,cpu").unwrap();
    lfm_train::engine::run_parallel(&dp, &devices, &RunOptions { stop_after: Some(2), ..Default::default() }).unwrap();
    // Resuming on another device count is refused (the global batch would change).
    let e =
        run(&dp, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap_err().to_string();
    assert!(e.contains("2 replica(s)"), "{e}");
    lfm_train::engine::run_parallel(&dp, &devices, &RunOptions { resume: Some("latest".into()), ..Default::default() })
        .unwrap();
    let (t1, v1) = curves(&single.run.out);
    let (t2, v2) = curves(&dp.run.out);
    assert_eq!(t1.len(), t2.len());
    for (a, b) in t1.iter().zip(&t2) {
        assert!((a.1 - b.1).abs() <= 1e-6 && (a.3 - b.3).abs() <= 1e-5 * a.3, "{a:?} vs {b:?}");
    }
    for (a, b) in v1.iter().zip(&v2) {
        assert!((a.1 - b.1).abs() <= 1e-5, "{a:?} vs {b:?}");
    }
    let load = |d: &Path| {
        let c = checkpoint::resolve(d, "latest").unwrap();
        let r = lfm_model::hf::SafetensorsSource::open_files(&[c.join("model.safetensors")]).unwrap();
        let mut names: Vec<String> = r.names().iter().map(|n| n.to_string()).collect();
        names.sort();
        names.iter().map(|n| r.read(n).unwrap().1).collect::<Vec<_>>()
    };
    let (w1, w2) = (load(&single.run.out), load(&dp.run.out));
    let diff = lfm_model::compare::max_abs_diff(&w1.concat(), &w2.concat());
    assert!(diff <= 1e-5, "weights differ by {diff}");
    let meta = checkpoint::read_meta(&checkpoint::resolve(&dp.run.out, "latest").unwrap()).unwrap();
    assert_eq!(meta.world, 2);
    // Two streams (the default for two replicas), each 4 steps × 1 micro-batch along.
    assert!(meta.loader.is_none());
    assert_eq!(
        meta.streams.unwrap().iter().map(|s| (s.rank, s.world_size, s.batches)).collect::<Vec<_>>(),
        [(0, 2, 4), (1, 2, 4)]
    );
}

/// Records of metrics.jsonl with a `loss` (the step records).
fn step_records(run_dir: &Path) -> Vec<serde_json::Value> {
    if !run_dir.join("metrics.jsonl").exists() {
        return vec![];
    }
    metrics(run_dir).into_iter().filter(|r| r.get("loss").is_some()).collect()
}

/// Each kind of dataset damage stops the run before step 1 with one line naming the file.
#[test]
fn a_damaged_dataset_stops_the_run_before_step_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 200, 500, 0.05);
    let m = lfm_data::shards::Manifest::load(&ds).unwrap();
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    let mut round = 0;
    let mut expect_failure = |edit: &dyn Fn(), undo: &dyn Fn(), file: &Path, what: &str, extra: &str| {
        round += 1;
        let out = tmp.path().join(format!("run{round}"));
        let c = pretrain_config(&ds, &out, 3, 1e-3, sched, extra);
        edit();
        let e = format!("{:#}", run(&c, &cpu(), &RunOptions::default()).unwrap_err());
        undo();
        assert!(!e.contains('\n') && e.contains(&file.display().to_string()) && e.contains(what), "{e}");
        assert!(step_records(&out).is_empty(), "a step ran before the error: {e}");
        assert!(checkpoint::complete(&out).unwrap().is_empty());
    };

    // A flipped bit at a pseudo-random offset of each shard.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for s in m.train.shards.iter().chain(&m.val.shards) {
        let p = ds.join(&s.file);
        let good = std::fs::read(&p).unwrap();
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let at = (x >> 11) as usize % good.len();
        let mut bad = good.clone();
        bad[at] ^= 1 << ((x >> 3) % 8);
        expect_failure(
            &|| std::fs::write(&p, &bad).unwrap(),
            &|| std::fs::write(&p, &good).unwrap(),
            &p,
            "checksum",
            "",
        );
    }
    // A deleted shard (the last: found at the end of an epoch without the check).
    let last = ds.join(&m.train.shards.last().unwrap().file);
    let keep = std::fs::read(&last).unwrap();
    expect_failure(
        &|| std::fs::remove_file(&last).unwrap(),
        &|| std::fs::write(&last, &keep).unwrap(),
        &last,
        "missing",
        "",
    );
    // A swapped tokenizer.json (a smaller one would make the preset's vocabulary smaller
    // than the shards' ids).
    let tok = ds.join("tokenizer.json");
    let keep_tok = std::fs::read(&tok).unwrap();
    let other = repo().join("data/grpo/tokenizer/tokenizer.json");
    expect_failure(
        &|| {
            std::fs::copy(&other, &tok).unwrap();
        },
        &|| std::fs::write(&tok, &keep_tok).unwrap(),
        &tok,
        "sha256",
        "",
    );
    // A manifest pointing outside the dataset.
    let manifest = ds.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let evil = text.replacen(&format!("\"{}\"", m.train.shards[0].file), "\"../../../etc/passwd\"", 1);
    expect_failure(
        &|| std::fs::write(&manifest, &evil).unwrap(),
        &|| std::fs::write(&manifest, &text).unwrap(),
        &manifest,
        "leaves the dataset directory",
        "",
    );
    // No validation split, but evaluation every 2 steps.
    std::fs::create_dir_all(tmp.path().join("nv")).unwrap();
    let noval = tiny_dataset(&tmp.path().join("nv"), 100, 400, 0.0);
    let out = tmp.path().join("run-noval");
    let c = pretrain_config(&noval, &out, 3, 1e-3, sched, "eval_every = 2");
    let e = format!("{:#}", run(&c, &cpu(), &RunOptions::default()).unwrap_err());
    assert!(e.contains(&noval.join("manifest.json").display().to_string()) && e.contains("eval_every = 2"), "{e}");
    assert!(step_records(&out).is_empty());
    // The undamaged dataset trains.
    run(
        &pretrain_config(&ds, &tmp.path().join("ok"), 2, 1e-3, sched, "eval_every = 1"),
        &cpu(),
        &RunOptions::default(),
    )
    .unwrap();
}

/// Continued pre-training from a checkpoint whose tokenizer is not the dataset's is refused
/// with both files named; from a checkpoint of a run on this dataset it goes ahead.
#[test]
fn the_model_tokenizer_must_be_the_dataset_tokenizer() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    let mut c = pretrain_config(&ds, &tmp.path().join("r"), 1, 1e-3, sched, "");
    c.model.preset = None;
    c.model.init_from = Some(fixture("lfm2-tiny"));
    let e = format!("{:#}", run(&c, &cpu(), &RunOptions::default()).unwrap_err());
    let theirs = fixture("lfm2-tiny").join("tokenizer.json").display().to_string();
    assert!(e.contains(&theirs) && e.contains(&ds.join("tokenizer.json").display().to_string()), "{e}");
    assert!(step_records(&c.run.out).is_empty());
    // A checkpoint trained on this dataset carries its tokenizer: accepted.
    let a = pretrain_config(&ds, &tmp.path().join("a"), 1, 1e-3, sched, "");
    let s = run(&a, &cpu(), &RunOptions::default()).unwrap();
    let mut b = pretrain_config(&ds, &tmp.path().join("b"), 1, 1e-3, sched, "");
    b.model.preset = None;
    b.model.init_from = s.last_checkpoint;
    run(&b, &cpu(), &RunOptions::default()).unwrap();
}

#[test]
fn metrics_tokens_count_the_predicted_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    // micro_batch 2 × grad_accum 2 rows of seq_len 32 + 1 ids: each row predicts 32 tokens.
    let c = pretrain_config(&ds, &tmp.path().join("r"), 3, 1e-3, sched, "");
    run(&c, &cpu(), &RunOptions::default()).unwrap();
    let tokens: Vec<u64> = step_records(&c.run.out).iter().map(|r| r["tokens"].as_u64().unwrap()).collect();
    assert_eq!(tokens, vec![128, 256, 384]);
}

#[test]
fn changing_steps_on_resume_is_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    let sched = "kind = \"cosine\"\nwarmup_steps = 1";
    let a = pretrain_config(&ds, &tmp.path().join("a"), 4, 1e-3, sched, "checkpoint_every = 1");
    run(&a, &cpu(), &RunOptions { stop_after: Some(2), ..Default::default() }).unwrap();
    let mut longer = a.clone();
    longer.run.steps = 8;
    let e = run(&longer, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() })
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 steps") && e.contains("asks for 8") && e.contains("schedule"), "{e}");
    assert_eq!(step_records(&a.run.out).len(), 2, "nothing ran");
    // The same count resumes.
    run(&a, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    assert_eq!(step_records(&a.run.out).len(), 4);
}

/// A damaged newest checkpoint: `--resume latest` fails, naming the previous good one, which
/// then resumes.
#[test]
fn a_damaged_newest_checkpoint_names_the_previous_good_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 120, 400, 0.0);
    let sched = "kind = \"constant\"\nwarmup_steps = 0";
    let c = pretrain_config(&ds, &tmp.path().join("r"), 5, 1e-3, sched, "checkpoint_every = 1\nkeep_last = 3");
    run(&c, &cpu(), &RunOptions { stop_after: Some(3), ..Default::default() }).unwrap();
    let root = checkpoint::root(&c.run.out);
    for (f, damage) in [("model.safetensors", 0usize), ("meta.json", 1), ("optimizer.safetensors", 2)] {
        let p = root.join("step-000003").join(f);
        let keep = std::fs::read(&p).unwrap();
        match damage {
            0 => std::fs::write(&p, &keep[..keep.len() / 2]).unwrap(),
            1 => std::fs::write(&p, b"{ not json").unwrap(),
            _ => std::fs::write(&p, &keep[..keep.len() - 7]).unwrap(),
        }
        let e = format!(
            "{:#}",
            run(&c, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap_err()
        );
        assert!(
            !e.contains('\n')
                && e.contains("step-000003")
                && e.contains(&root.join("step-000002").display().to_string()),
            "{f}: {e}"
        );
        std::fs::write(&p, &keep).unwrap();
    }
    // With step 2 damaged as well, step 1 is named.
    let m2 = root.join("step-000002/model.safetensors");
    std::fs::write(&m2, b"").unwrap();
    std::fs::write(root.join("step-000003/model.safetensors"), b"").unwrap();
    let e = format!(
        "{:#}",
        run(&c, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap_err()
    );
    assert!(e.contains(&root.join("step-000001").display().to_string()), "{e}");
    let spec = root.join("step-000001").display().to_string();
    run(&c, &cpu(), &RunOptions { resume: Some(spec), ..Default::default() }).unwrap();
}

#[test]
fn sft_with_every_conversation_truncated_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "job = \"sft\"\n[model]\ninit_from = \"{}\"\n[data]\nsft_jsonl = \"{}\"\nseq_len = 8\n[optim]\nlr = 1e-3\n[schedule]\nkind = \"constant\"\nwarmup_steps = 0\n[batch]\nmicro_batch = 1\n[run]\nsteps = 1\nout = \"{}\"\n",
        fixture("lfm2-tiny").display(),
        repo().join("data/sft/tool_calls.jsonl").display(),
        tmp.path().join("r").display()
    );
    let c = lfm_train::config::RunConfig::from_toml(&text, "sft.toml").unwrap();
    let e = format!("{:#}", run(&c, &cpu(), &RunOptions::default()).unwrap_err());
    let n = std::fs::read_to_string(repo().join("data/sft/tool_calls.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(
        e.contains("truncated") && e.contains("seq_len = 8") && e.contains(&format!("all {n} conversations")),
        "{e}"
    );
    assert!(!e.contains("no conversation with an assistant reply"), "{e}");
}

#[test]
fn lora_sft_trains_only_the_adapter_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let text = |out: &Path| {
        format!(
            r#"
job = "sft"
[model]
init_from = "{}"
[data]
sft_jsonl = "{}"
seq_len = 768
[optim]
lr = 1e-2
weight_decay = 0.0
[schedule]
kind = "constant"
warmup_steps = 0
[batch]
micro_batch = 2
grad_accum = 2
[run]
steps = 6
seed = 3
out = "{}"
checkpoint_every = 3
[adapter]
kind = "lora"
r = 4
alpha = 8.0
targets = ["q_proj", "v_proj", "w1", "w2", "w3", "in_proj", "out_proj"]
"#,
            fixture("lfm2-tiny").display(),
            repo().join("data/sft/tool_calls.jsonl").display(),
            out.display()
        )
    };
    let a = lfm_train::config::RunConfig::from_toml(&text(&tmp.path().join("a")), "lora.toml").unwrap();
    let b = lfm_train::config::RunConfig::from_toml(&text(&tmp.path().join("b")), "lora.toml").unwrap();
    run(&a, &cpu(), &RunOptions::default()).unwrap();
    run(&b, &cpu(), &RunOptions { stop_after: Some(3), ..Default::default() }).unwrap();
    run(&b, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let (ta, _) = curves(&a.run.out);
    let (tb, _) = curves(&b.run.out);
    assert_eq!(ta, tb);
    assert!(ta.last().unwrap().1 < ta[0].1, "loss falls: {ta:?}");
    let last = |d: &Path| checkpoint::resolve(d, "latest").unwrap();
    for f in ["adapter_model.safetensors", "optimizer.safetensors", "adapter_config.json"] {
        assert!(
            std::fs::read(last(&a.run.out).join(f)).unwrap() == std::fs::read(last(&b.run.out).join(f)).unwrap(),
            "{f} differs"
        );
    }
    // Only the adapter is stored, and only its parameters have optimizer moments.
    let ck = last(&a.run.out);
    assert!(!ck.join("model.safetensors").exists());
    let bytes = std::fs::read(ck.join("optimizer.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(!st.names().is_empty());
    for n in st.names() {
        assert!(n.contains(".lora."), "optimizer state for a frozen parameter: {n}");
    }
    // The adapter loads onto the base and moves its logits; the base itself is untouched.
    let dev = cpu();
    let (_, base) = lfm_model::hf::load_dir(&fixture("lfm2-tiny"), &dev).unwrap();
    let ids = burn::tensor::Tensor::<2, burn::tensor::Int>::from_data(
        burn::tensor::TensorData::new(vec![1i64, 6, 98, 96, 283], [1, 5]),
        &dev,
    );
    let before: Vec<f32> = base.forward(ids.clone()).into_data().try_into_vec::<f32>().unwrap();
    let (tuned, spec) = lfm_model::lora::load_peft(base, &ck, &dev).unwrap();
    assert_eq!((spec.r, spec.alpha), (4, 8.0));
    let after: Vec<f32> = tuned.forward(ids).into_data().try_into_vec::<f32>().unwrap();
    assert!(before.iter().zip(&after).any(|(x, y)| (x - y).abs() > 1e-4));
}

/// `[model] adapter` (`--adapter`) continues a given PEFT adapter: the first step of such a
/// run sees the same function as a fresh (B = 0) adapter on the merged checkpoint, on the same
/// batch, so the two first losses agree; the adapter's own config sets `[adapter]`.
#[test]
fn a_run_can_start_from_an_existing_adapter() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = |init: &Path, out: &Path, extra: &str, tail: &str, steps: u64, seed: u64| {
        let text = format!(
            r#"
job = "sft"
[model]
init_from = "{}"
{extra}
[data]
sft_jsonl = "{}"
seq_len = 768
[optim]
lr = 1e-2
weight_decay = 0.0
[schedule]
kind = "constant"
warmup_steps = 0
[batch]
micro_batch = 2
[run]
steps = {steps}
seed = {seed}
out = "{}"
{tail}
"#,
            init.display(),
            repo().join("data/sft/tool_calls.jsonl").display(),
            out.display()
        );
        lfm_train::config::RunConfig::from_toml(&text, "start.toml").unwrap()
    };
    let adapter = "[adapter]\nkind = \"lora\"\nr = 4\nalpha = 8.0";
    let tiny = fixture("lfm2-tiny");
    let a = cfg(&tiny, &tmp.path().join("a"), "", adapter, 3, 3);
    let ck_a = run(&a, &cpu(), &RunOptions::default()).unwrap().last_checkpoint.unwrap();

    // The merged checkpoint, with the fixture's tokenizer files beside it.
    let dev = cpu();
    let (mc, base) = lfm_model::hf::load_dir(&tiny, &dev).unwrap();
    let merged = lfm_model::lora::merge(lfm_model::lora::load_peft(base, &ck_a, &dev).unwrap().0).unwrap();
    let merged_dir = tmp.path().join("merged");
    lfm_model::hf::save_dir(&merged, &mc, &merged_dir).unwrap();
    for e in std::fs::read_dir(&tiny).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.starts_with("tokenizer") || n == "special_tokens_map.json" || n == "chat_template.jinja" {
            std::fs::copy(&p, merged_dir.join(&n)).unwrap();
        }
    }

    // B continues A's adapter (no [adapter] section); C trains a fresh one on the merged model.
    let from_a = format!("adapter = \"{}\"", ck_a.display());
    let b = cfg(&tiny, &tmp.path().join("b"), &from_a, "", 2, 5);
    assert!(b.adapter.is_none());
    let c = cfg(&merged_dir, &tmp.path().join("c"), "", adapter, 2, 5);
    run(&b, &cpu(), &RunOptions::default()).unwrap();
    run(&c, &cpu(), &RunOptions::default()).unwrap();
    let (tb, _) = curves(&b.run.out);
    let (tc, _) = curves(&c.run.out);
    let (lb, lc) = (tb[0].1, tc[0].1);
    assert!(
        (lb - lc).abs() <= 1e-5 * lc.abs(),
        "first losses differ: continued adapter {lb}, merged + fresh adapter {lc}"
    );
    // The continued adapter keeps A's shape, recorded in the resolved config and the checkpoint.
    let ck_b = checkpoint::resolve(&b.run.out, "latest").unwrap();
    let (spec, _) = lfm_model::lora::read_config(&ck_b).unwrap();
    assert_eq!((spec.r, spec.alpha), (4, 8.0));
    let meta = checkpoint::read_meta(&ck_b).unwrap();
    assert_eq!(meta.run_config.adapter.as_ref().map(|a| a.r), Some(4));

    // An [adapter] section that disagrees with the adapter is refused, naming both.
    let d = cfg(&tiny, &tmp.path().join("d"), &from_a, &adapter.replace("r = 4", "r = 8"), 2, 5);
    let e = run(&d, &cpu(), &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("disagrees") && e.contains("adapter_config.json"), "{e}");
}

/// `precision = "bf16"` on the CPU: the products change (the losses are not f32's), the curve
/// stays close to f32's, checkpoints keep f32 weights, and a resumed run is still bit-exact.
#[test]
fn bf16_on_the_cpu_follows_the_f32_curve_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tiny_dataset(tmp.path(), 300, 600, 0.05);
    let sched = "kind = \"cosine\"\nwarmup_steps = 5";
    let config = |name: &str, precision: &str| {
        let mut c = pretrain_config(&ds, &tmp.path().join(name), 40, 3e-3, sched, "checkpoint_every = 20");
        c.run.precision = precision.into();
        c
    };
    let (f, b) = (config("f32", "f32"), config("bf16", "bf16"));
    run(&f, &cpu(), &RunOptions::default()).unwrap();
    run(&b, &cpu(), &RunOptions::default()).unwrap();
    let (tf, tb) = (curves(&f.run.out).0, curves(&b.run.out).0);
    assert_eq!(tf.len(), 40);
    assert_ne!(tf, tb, "bf16 products gave exactly the f32 curve");
    // The mean of the last ten losses within 2%; the loss fell in both.
    let tail = |t: &[(u64, f64, f64, f64)]| t[30..].iter().map(|r| r.1).sum::<f64>() / 10.0;
    let (lf, lb) = (tail(&tf), tail(&tb));
    assert!(((lb - lf) / lf).abs() < 0.02, "last losses: f32 {lf:.4}, bf16 {lb:.4}");
    assert!(lf < tf[0].1 - 0.5 && lb < tb[0].1 - 0.5, "f32 {lf:.4} bf16 {lb:.4} from {:.4}", tf[0].1);
    let last = checkpoint::resolve(&b.run.out, "latest").unwrap();
    let bytes = std::fs::read(last.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensors().iter().all(|(_, t)| t.dtype() == safetensors::Dtype::F32));

    // Interrupted after 20 steps and resumed: the same weights as the uninterrupted bf16 run.
    let r = config("bf16-resumed", "bf16");
    run(&r, &cpu(), &RunOptions { stop_after: Some(20), ..Default::default() }).unwrap();
    run(&r, &cpu(), &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let resumed = checkpoint::resolve(&r.run.out, "latest").unwrap();
    assert!(std::fs::read(resumed.join("model.safetensors")).unwrap() == bytes);
    assert_eq!(curves(&r.run.out).0, tb);
}
