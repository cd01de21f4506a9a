//! Top-K distillation end to end: a teacher pre-trained for a few steps, a `nano` student
//! distilled from it with exact resume, and the metrics the job reports.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lfm_train::config::{Job, RunConfig};
use lfm_train::distill::DistillSection;
use lfm_train::engine::{run, RunOptions};

/// A dataset of 120 Jargon entries (512-token BPE) and a tiny teacher pre-trained on it for
/// `teacher_steps` steps; returns (dataset, teacher checkpoint).
fn data_and_teacher(dir: &Path, teacher_steps: u64) -> (PathBuf, PathBuf) {
    let data = common::tiny_dataset(dir, 120, 512, 0.2);
    let teacher_run = dir.join("teacher");
    let every = format!("checkpoint_every = {teacher_steps}");
    let tcfg = common::pretrain_config(&data, &teacher_run, teacher_steps, 3e-3, CONSTANT, &every);
    run(&tcfg, &Device::default(), &RunOptions::default()).unwrap();
    (data, teacher_run.join(format!("checkpoints/step-{teacher_steps:06}")))
}

const CONSTANT: &str = "kind = \"constant\"\nwarmup_steps = 1";

/// A `nano` student distilled from `teacher` on `data` for `steps` steps (`run_extra`
/// appended to `[run]`), validated.
fn student(data: &Path, out: &Path, steps: u64, run_extra: &str, d: DistillSection) -> RunConfig {
    let mut c = common::pretrain_config(data, out, steps, 3e-3, CONSTANT, run_extra);
    c.job = Job::Distill;
    c.model.preset = Some("nano".into());
    c.distill = Some(d);
    c.validate("distill").unwrap();
    c
}

#[test]
fn distillation_resumes_exactly_and_reports_kl_ce_and_agreement() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let (data, teacher) = data_and_teacher(tmp.path(), 8);
    let d = DistillSection { teacher: teacher.clone(), top_k: 16, temperature: 2.0, alpha: 0.7, teacher_topk: None };
    let student = |out: &Path| student(&data, out, 4, "checkpoint_every = 1\neval_every = 2", d.clone());
    let a = tmp.path().join("a");
    run(&student(&a), &device, &RunOptions::default()).unwrap();
    let b = tmp.path().join("b");
    run(&student(&b), &device, &RunOptions { stop_after: Some(2), ..Default::default() }).unwrap();
    run(&student(&b), &device, &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let (ra, rb) = (common::records(&a), common::records(&b));
    assert_eq!(ra.len(), 6, "4 steps, 2 validations: {ra:?}");
    for (x, y) in ra.iter().zip(&rb) {
        for k in ["loss", "grad_norm", "kl", "ce", "top1_agreement", "val_loss", "val_kl", "val_top1_agreement"] {
            assert_eq!(x.get(k), y.get(k), "{k} differs after resume: {x} vs {y}");
        }
    }
    let w = |d: &Path| std::fs::read(d.join("checkpoints/step-000004/model.safetensors")).unwrap();
    assert!(w(&a) == w(&b), "weights differ after resume");
    // The loss is alpha · KL + (1 - alpha) · CE of the step's positions (one micro-batch size,
    // so the token-weighted mean is the plain mix).
    for r in ra.iter().filter(|r| r.get("kl").is_some()) {
        let (l, kl, ce) = (r["loss"].as_f64().unwrap(), r["kl"].as_f64().unwrap(), r["ce"].as_f64().unwrap());
        assert!(kl > 0.0 && ce > 0.0);
        assert!((l - (0.7 * kl + 0.3 * ce)).abs() < 1e-4 * l, "{r}");
        let agree = r["top1_agreement"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&agree));
    }
    let v = ra.iter().find(|r| r.get("val_kl").is_some()).expect("validation records the KL");
    assert!(v["val_loss"].as_f64().unwrap() > 0.0 && v["val_top1_agreement"].as_f64().is_some());
    // A teacher with another vocabulary is refused with one line naming it.
    let mut bad = student(&tmp.path().join("c"));
    bad.distill.as_mut().unwrap().teacher = common::fixture("lfm2-tiny");
    bad.model.preset = Some("nano".into());
    std::fs::create_dir_all(tmp.path().join("d2")).unwrap();
    let data2 = common::tiny_dataset(&tmp.path().join("d2"), 60, 600, 0.2);
    bad.data.dataset = Some(data2);
    let e = run(&bad, &device, &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("teacher") && e.contains("vocabulary"), "{e}");
    // The same vocabulary size with another tokenizer (the fixture's 512 tokens against the
    // dataset's own 512-token BPE) is refused too.
    let mut other = student(&tmp.path().join("e"));
    other.distill.as_mut().unwrap().teacher = common::fixture("lfm2-tiny");
    let e = run(&other, &device, &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json differs"), "{e}");
}

/// `lfm data teacher`'s top-K, computed in two calls (the second continues the first), give a
/// distillation run the very numbers of the online teacher; other settings are refused.
#[test]
fn precomputed_teacher_top_k_equals_the_online_teacher() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let (data, teacher) = data_and_teacher(tmp.path(), 6);
    let student = |out: &Path, steps: u64, stored: Option<&Path>| {
        let d = DistillSection {
            teacher: teacher.clone(),
            top_k: 8,
            temperature: 1.5,
            alpha: 0.5,
            teacher_topk: stored.map(Path::to_path_buf),
        };
        student(&data, out, steps, "checkpoint_every = 4", d)
    };
    let topk = tmp.path().join("topk");
    let pb = indicatif::ProgressBar::hidden();
    // Two steps first (grad_accum 2: 4 micro-batches, shards of 3), then all four steps.
    let s = lfm_train::distill::precompute(&student(&tmp.path().join("x"), 2, None), &topk, 3, &device, &pb).unwrap();
    assert_eq!((s.micros_done_before, s.micros, s.shards), (0, 4, 2));
    let s = lfm_train::distill::precompute(&student(&tmp.path().join("x"), 4, None), &topk, 3, &device, &pb).unwrap();
    assert_eq!((s.micros_done_before, s.micros, s.shards), (4, 8, 4));
    let online = tmp.path().join("online");
    run(&student(&online, 4, None), &device, &RunOptions::default()).unwrap();
    let stored = tmp.path().join("stored");
    run(&student(&stored, 4, Some(&topk)), &device, &RunOptions::default()).unwrap();
    for (x, y) in common::records(&online).iter().zip(&common::records(&stored)) {
        for k in ["loss", "grad_norm", "kl", "ce", "top1_agreement"] {
            assert_eq!(x.get(k), y.get(k), "{k}: online {x} vs stored {y}");
        }
    }
    let w = |d: &Path| std::fs::read(d.join("checkpoints/step-000004/model.safetensors")).unwrap();
    assert!(w(&online) == w(&stored));
    // A run with another top_k, or more steps than stored, is refused with one line.
    let mut other = student(&tmp.path().join("o"), 4, Some(&topk));
    other.distill.as_mut().unwrap().top_k = 4;
    let e = run(&other, &device, &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("top_k = 8") && e.contains("this run has 4"), "{e}");
    let e =
        run(&student(&tmp.path().join("p"), 6, Some(&topk)), &device, &RunOptions::default()).unwrap_err().to_string();
    assert!(e.contains("8 of the run's 12 micro-batches"), "{e}");
}
