//! DPO end to end on the bundled toy pairs: exact resume, stored reference log-probs equal to
//! the ones computed online, and the LoRA reference (the adapter switched off).

mod common;

use std::path::Path;

use burn::tensor::Device;
use lfm_train::config::RunConfig;
use lfm_train::engine::{run, RunOptions};
use serde_json::Value;

/// configs/dpo-toy.toml with paths made absolute, 6 steps of 4 pairs, validation every 3
/// steps, a checkpoint every step, then `edit`.
fn toy_config(out: &Path, edit: impl Fn(&mut RunConfig)) -> RunConfig {
    let repo = common::repo();
    let text = std::fs::read_to_string(repo.join("configs/dpo-toy.toml")).unwrap();
    let text = text.replace("\"data/", &format!("\"{}/data/", repo.display()));
    let mut cfg: RunConfig = toml::from_str(&text).unwrap();
    cfg.run.out = out.to_path_buf();
    cfg.run.steps = 6;
    cfg.run.eval_every = 3;
    cfg.run.checkpoint_every = 1;
    cfg.batch.micro_batch = 2;
    cfg.batch.grad_accum = 2;
    edit(&mut cfg);
    cfg.validate("toy").unwrap();
    cfg
}

fn f(r: &Value, k: &str) -> f64 {
    r[k].as_f64().unwrap_or_else(|| panic!("no {k} in {r}"))
}

#[test]
fn resume_is_exact_and_stored_reference_logps_equal_online_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let a = tmp.path().join("a");
    run(&toy_config(&a, |_| {}), &device, &RunOptions::default()).unwrap();
    assert!(a.join("ref_logps.jsonl").exists(), "precompute_ref_logps stores them with the run");
    let b = tmp.path().join("b");
    let cfg_b = toy_config(&b, |_| {});
    run(&cfg_b, &device, &RunOptions { stop_after: Some(2), ..Default::default() }).unwrap();
    run(&cfg_b, &device, &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let (ra, rb) = (common::records(&a), common::records(&b));
    assert_eq!(ra.len(), 8, "6 steps and 2 validations: {ra:?}");
    for (x, y) in ra.iter().zip(&rb) {
        let mut x = x.clone();
        let mut y = y.clone();
        for r in [&mut x, &mut y] {
            let o = r.as_object_mut().unwrap();
            o.remove("elapsed_s");
            o.remove("tokens_per_s");
        }
        assert_eq!(x, y);
    }
    let bytes = |d: &Path, f: &str| std::fs::read(d.join("checkpoints/step-000006").join(f)).unwrap();
    assert!(bytes(&a, "model.safetensors") == bytes(&b, "model.safetensors"), "weights differ after resume");
    assert!(bytes(&a, "optimizer.safetensors") == bytes(&b, "optimizer.safetensors"));

    // The first step's policy is the reference: every implicit reward is 0 and the loss is
    // log 2, whichever way the reference log-probs are obtained.
    let first = &ra[0];
    assert!((f(first, "loss") - std::f64::consts::LN_2).abs() < 1e-6, "{first}");
    assert!(f(first, "rewards/chosen").abs() < 1e-6 && f(first, "rewards/margins").abs() < 1e-6);
    // Online reference (the starting model loaded once more): the same numbers.
    let c = tmp.path().join("c");
    run(&toy_config(&c, |cfg| cfg.dpo.as_mut().unwrap().precompute_ref_logps = false), &device, &RunOptions::default())
        .unwrap();
    assert!(!c.join("ref_logps.jsonl").exists());
    for (x, y) in ra.iter().zip(&common::records(&c)) {
        for k in ["loss", "rewards/chosen", "rewards/rejected", "val_loss", "val_rewards/margins"] {
            if let (Some(p), Some(q)) = (x[k].as_f64(), y[k].as_f64()) {
                assert!((p - q).abs() <= 1e-4 * (1.0 + p.abs()), "{k}: stored {p} vs online {q}");
            }
        }
    }
    // DPO moves the policy: the chosen side gains on the rejected one over the steps.
    let last = ra.iter().rev().find(|r| r.get("rewards/margins").is_some()).unwrap();
    assert!(ra.iter().any(|r| r.get("val_rewards/accuracies").is_some()));
    assert!(f(last, "grad_norm") > 0.0);
}

#[test]
fn lora_reference_is_the_base_with_the_adapter_off() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let with_lora = |c: &mut RunConfig| {
        c.adapter = Some(common::lora(4, 8.0));
        c.optim.lr = 1e-2;
        c.dpo.as_mut().unwrap().precompute_ref_logps = false;
    };
    let a = tmp.path().join("a");
    run(&toy_config(&a, with_lora), &device, &RunOptions::default()).unwrap();
    let ra = common::records(&a);
    // B = 0 at the start: policy and reference agree exactly.
    assert!((f(&ra[0], "loss") - std::f64::consts::LN_2).abs() < 1e-6, "{}", ra[0]);
    // Later the adapter has moved the policy away from the base, which stays the reference.
    let steps: Vec<&Value> = ra.iter().filter(|r| r.get("loss").is_some()).collect();
    assert!(f(steps[5], "rewards/margins").abs() > 1e-4, "{}", steps[5]);
    let ck = a.join("checkpoints/step-000006");
    assert!(ck.join("adapter_model.safetensors").exists() && !ck.join("model.safetensors").exists());
    // Resume of an adapter run is exact too.
    let b = tmp.path().join("b");
    let cfg_b = toy_config(&b, with_lora);
    run(&cfg_b, &device, &RunOptions { stop_after: Some(3), ..Default::default() }).unwrap();
    run(&cfg_b, &device, &RunOptions { resume: Some("latest".into()), ..Default::default() }).unwrap();
    let f6 = |d: &Path| std::fs::read(d.join("checkpoints/step-000006/adapter_model.safetensors")).unwrap();
    assert!(f6(&a) == f6(&b), "adapter differs after resume");
}

#[test]
fn dpo_configs_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let base = toy_config(&tmp.path().join("x"), |_| {});
    let err = |edit: &dyn Fn(&mut RunConfig)| {
        let mut c = base.clone();
        edit(&mut c);
        c.validate("c.toml").unwrap_err().to_string()
    };
    assert!(err(&|c| c.data.pairs = None).contains("pairs"));
    assert!(err(&|c| c.dpo.as_mut().unwrap().beta = 0.0).contains("beta"));
    assert!(err(&|c| c.dpo.as_mut().unwrap().label_smoothing = 0.5).contains("label_smoothing"));
    assert!(err(&|c| {
        c.model.init_from = None;
        c.model.preset = Some("tiny".into());
    })
    .contains("init_from"));
    assert!(err(&|c| c.job = lfm_train::config::Job::Sft).contains("dpo"));
}
