//! Top-K distillation end to end: a teacher pre-trained for a few steps, a `nano` student
//! distilled from it with exact resume, and the metrics the job reports.

mod common;

use std::path::Path;

use burn::tensor::Device;
use lfm_train::config::Job;
use lfm_train::distill::DistillSection;
use lfm_train::engine::{run, RunOptions};
use serde_json::Value;

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn distillation_resumes_exactly_and_reports_kl_ce_and_agreement() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let data = common::tiny_dataset(tmp.path(), 120, 512, 0.2);
    let teacher_run = tmp.path().join("teacher");
    let tcfg = common::pretrain_config(
        &data,
        &teacher_run,
        8,
        3e-3,
        "kind = \"constant\"\nwarmup_steps = 1",
        "checkpoint_every = 8",
    );
    run(&tcfg, &device, &RunOptions::default()).unwrap();
    let teacher = teacher_run.join("checkpoints/step-000008");
    let student = |out: &Path| {
        let mut c = common::pretrain_config(
            &data,
            out,
            4,
            3e-3,
            "kind = \"constant\"\nwarmup_steps = 1",
            "checkpoint_every = 1\neval_every = 2",
        );
        c.job = Job::Distill;
        c.model.preset = Some("nano".into());
        c.distill = Some(DistillSection { teacher: teacher.clone(), top_k: 16, temperature: 2.0, alpha: 0.7 });
        c.validate("distill").unwrap();
        c
    };
    let a = tmp.path().join("a");
    run(&student(&a), &device, &RunOptions::default()).unwrap();
    let b = tmp.path().join("b");
    run(&student(&b), &device, &RunOptions { stop_after: Some(2), ..Default::default() }).unwrap();
    run(&student(&b), &device, &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let (ra, rb) = (records(&a), records(&b));
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
}
