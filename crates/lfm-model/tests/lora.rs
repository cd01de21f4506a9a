//! LoRA on the tiny transformers fixture: a fresh adapter leaves the logits exactly as they
//! were, merged and unmerged logits agree, the gradients of A and B follow from transformers'
//! gradient of W (∂B = s·Aᵀ∂W, ∂A = s·∂W·Bᵀ), the PEFT files round-trip, and bad adapters are
//! one-line errors.

mod common;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use lfm_model::hf::load_dir;
use lfm_model::lora::{self, LoraSpec};
use lfm_model::Lfm2Model;

fn ids(device: &Device) -> Tensor<2, burn::tensor::Int> {
    Reference::open(&fixture("lfm2-tiny")).ids("input_ids", device)
}

/// Gives every B random values (a fresh adapter has B = 0).
fn randomize_b(mut model: Lfm2Model, device: &Device) -> Lfm2Model {
    let mut k = 0u32;
    for (_, p) in model.projections_mut() {
        if let Some(l) = p.lora.as_mut() {
            let [r, out] = l.b.dims();
            let v: Vec<f32> = (0..r * out)
                .map(|i| {
                    k = k.wrapping_mul(1664525).wrapping_add(1013904223 + i as u32);
                    (k >> 8) as f32 / (1u32 << 24) as f32 * 0.02 - 0.01
                })
                .collect();
            l.b = Param::from_data(TensorData::new(v, [r, out]), device);
        }
    }
    model
}

#[test]
fn a_fresh_adapter_leaves_the_logits_exactly_unchanged() {
    let device = test_device();
    let (_, base) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let want = host(base.forward(ids(&device)));
    let m = lora::attach(base, &LoraSpec { r: 4, ..Default::default() }, 1, &device).unwrap();
    assert_eq!(m.projections().iter().filter(|(_, p)| p.lora.is_some()).count(), m.projections().len());
    assert_eq!(host(m.forward(ids(&device))), want);
}

#[test]
fn merged_and_unmerged_logits_agree() {
    let device = test_device();
    let (_, base) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let base_logits = host(base.clone().forward(ids(&device)));
    let spec = LoraSpec { r: 8, alpha: 16.0, ..Default::default() };
    let m = randomize_b(lora::attach(base, &spec, 7, &device).unwrap(), &device);
    let unmerged = host(m.forward(ids(&device)));
    let merged = lora::merge(m).unwrap();
    assert!(!merged.has_lora());
    let merged = host(merged.forward(ids(&device)));
    // 1e-5 relative to the logits' scale (f32 sums in another order).
    let scale = unmerged.iter().fold(1f32, |m, x| m.max(x.abs()));
    assert_close("merged vs unmerged", &merged, &unmerged, 1e-5 * scale);
    // The adapter does change the model (so the comparison above is not vacuous).
    let moved = lfm_model::compare::max_abs_diff(&base_logits, &unmerged);
    assert!(moved > 1e-3, "adapter moved the logits by only {moved}");
}

#[test]
fn adapter_gradients_follow_from_the_gradient_of_w() {
    // At B = 0: ∂L/∂B = s · Aᵀ ∂W and ∂L/∂A = 0 (our layouts: A [in, r], B [r, out], ∂W
    // [in, out]). ∂W comes from a second backward with the base left trainable; where the
    // fixture stores transformers' gradient norm of that W, it is checked against it too.
    let dir = fixture("lfm2-tiny");
    let r = Reference::open(&dir);
    let device = test_device().autodiff();
    let (_, base) = load_dir(&dir, &device).unwrap();
    let spec = LoraSpec { r: 4, alpha: 8.0, ..Default::default() };
    let m = lora::attach(base, &spec, 3, &device).unwrap();
    let frozen = m.lm_loss(r.ids("input_ids", &device), r.ids("labels", &device)).backward();
    let mut open = m.clone();
    for (_, p) in open.projections_mut() {
        p.weight = p.weight.clone().set_require_grad(true);
    }
    let full = open.lm_loss(r.ids("input_ids", &device), r.ids("labels", &device)).backward();
    let (mut checked, mut norms) = (0, 0);
    for ((path, p), (_, q)) in m.projections().into_iter().zip(open.projections()) {
        let l = p.lora.as_ref().unwrap();
        assert!(p.weight.val().grad(&frozen).is_none(), "{path}: the frozen base got a gradient");
        let ga = host(l.a.val().grad(&frozen).unwrap());
        assert!(ga.iter().all(|x| *x == 0.0), "{path}: dL/dA must be 0 at B = 0");
        let [inp, rank] = l.a.dims();
        let [_, out] = l.b.dims();
        let dw = host(q.weight.val().grad(&full).unwrap());
        let key = format!("grad_norm.{path}.weight");
        if r.has(&key) {
            let want = r.f32(&key).1[0] as f64;
            let got = dw.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            assert!((got - want).abs() <= 1e-4 * want.max(1e-12), "{key}: {got} vs transformers {want}");
            norms += 1;
        }
        let a = host(l.a.val());
        let got = host(l.b.val().grad(&frozen).unwrap());
        let mut want = vec![0f32; rank * out];
        for k in 0..rank {
            for o in 0..out {
                let s: f64 = (0..inp).map(|i| a[i * rank + k] as f64 * dw[i * out + o] as f64).sum();
                want[k * out + o] = (spec.scale() * s) as f32;
            }
        }
        let tol = 1e-4 * want.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        assert_close(&format!("{path}: dL/dB"), &got, &want, tol);
        checked += 1;
    }
    assert_eq!(checked, m.projections().len());
    println!("{checked} projections checked, {norms} of their dW norms against transformers");
}

#[test]
fn the_gradient_of_a_is_s_dw_bt_for_any_b() {
    // With B random, one backward with the base left trainable gives ∂L/∂W, which must
    // give ∂L/∂A = s · ∂W Bᵀ.
    let device = test_device().autodiff();
    let (_, base) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let spec = LoraSpec { r: 3, alpha: 6.0, targets: vec!["feed_forward.w2".into()], ..Default::default() };
    let mut m = randomize_b(lora::attach(base, &spec, 5, &device).unwrap(), &device);
    for (_, p) in m.projections_mut() {
        if p.lora.is_some() {
            p.weight = p.weight.clone().set_require_grad(true);
        }
    }
    let r = Reference::open(&fixture("lfm2-tiny"));
    let grads = m.lm_loss(r.ids("input_ids", &device), r.ids("labels", &device)).backward();
    let mut checked = 0;
    for (path, p) in m.projections() {
        let Some(l) = &p.lora else { continue };
        let [inp, out] = p.dims();
        let rank = l.rank();
        let dw = host(p.weight.val().grad(&grads).unwrap());
        let b = host(l.b.val());
        let got = host(l.a.val().grad(&grads).unwrap());
        let mut want = vec![0f32; inp * rank];
        for i in 0..inp {
            for k in 0..rank {
                let s: f64 = (0..out).map(|o| dw[i * out + o] as f64 * b[k * out + o] as f64).sum();
                want[i * rank + k] = (spec.scale() * s) as f32;
            }
        }
        let tol = 1e-4 * want.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        assert_close(&format!("{path}: dL/dA"), &got, &want, tol);
        checked += 1;
    }
    assert_eq!(checked, m.layers.len(), "every layer's w2 is adapted");
}

#[test]
fn peft_files_round_trip_and_name_modules_as_peft_does() {
    let device = test_device();
    let (_, base) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let spec =
        LoraSpec { r: 4, alpha: 8.0, dropout: 0.05, targets: vec!["q_proj".into(), "w1".into()], use_rslora: false };
    let m = randomize_b(lora::attach(base.clone(), &spec, 9, &device).unwrap(), &device);
    let dir = tempfile::tempdir().unwrap();
    lora::save_peft(&m, &spec, "data/lfm2-tiny", dir.path()).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["peft_type"], "LORA");
    assert_eq!(cfg["task_type"], "CAUSAL_LM");
    assert_eq!(cfg["bias"], "none");
    assert_eq!((cfg["r"].as_u64(), cfg["lora_alpha"].as_f64()), (Some(4), Some(8.0)));
    assert_eq!(cfg["target_modules"], serde_json::json!(["q_proj", "w1"]));
    let bytes = std::fs::read(dir.path().join("adapter_model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    // The tiny fixture: attention in some layers, w1 everywhere.
    assert!(names.contains(&"base_model.model.model.layers.0.feed_forward.w1.lora_A.weight".to_string()), "{names:?}");
    for n in &names {
        let t = st.tensor(n).unwrap();
        if n.ends_with("lora_A.weight") {
            assert_eq!(t.shape()[0], 4, "{n}: lora_A is [r, in]");
        } else {
            assert_eq!(t.shape()[1], 4, "{n}: lora_B is [out, r]");
        }
    }
    let (loaded, spec2) = lora::load_peft(base, dir.path(), &device).unwrap();
    assert_eq!(spec2, spec);
    assert_eq!(host(loaded.forward(ids(&device))), host(m.forward(ids(&device))));
}

#[test]
fn bad_adapters_are_one_line_errors() {
    let device = test_device();
    let (_, base) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let spec = LoraSpec { r: 2, ..Default::default() };
    let e = lora::attach(base.clone(), &LoraSpec { targets: vec!["mlp.gate_proj".into()], ..spec.clone() }, 0, &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"mlp.gate_proj\" matches no module"), "{e}");
    let m = lora::attach(base.clone(), &spec, 0, &device).unwrap();
    let good = tempfile::tempdir().unwrap();
    lora::save_peft(&m, &spec, "x", good.path()).unwrap();
    let bytes = std::fs::read(good.path().join("adapter_model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let cfg_text = std::fs::read_to_string(good.path().join("adapter_config.json")).unwrap();

    // Writes an adapter with the tensors `keep` lets through, renamed/reshaped by `edit`.
    let write = |keep: &dyn Fn(&str) -> bool, rename: &dyn Fn(&str) -> String, cfg: &str| {
        let d = tempfile::tempdir().unwrap();
        let owned: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .names()
            .into_iter()
            .filter(|n| keep(n))
            .map(|n| {
                let t = st.tensor(n).unwrap();
                (rename(n), t.shape().to_vec(), t.data().to_vec())
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = owned
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        safetensors::serialize_to_file(views, None, &d.path().join("adapter_model.safetensors")).unwrap();
        std::fs::write(d.path().join("adapter_config.json"), cfg).unwrap();
        d
    };
    let load_err = |d: &tempfile::TempDir| {
        let e = lora::load_peft(base.clone(), d.path(), &device).err().unwrap().to_string();
        assert!(!e.contains('\n'), "{e}");
        e
    };
    let first_b = "base_model.model.model.layers.0.feed_forward.w1.lora_B.weight";
    let d = write(&|n| n != first_b, &|n| n.to_string(), &cfg_text);
    assert!(load_err(&d).contains("lora_A and lora_B must both be present"));
    let d = write(&|_| true, &|n| n.replace("layers.0.", "layers.99."), &cfg_text);
    assert!(load_err(&d).contains("the base model has no module model.layers.99."));
    let d = write(&|_| true, &|n| n.to_string(), &cfg_text.replace("\"r\": 2", "\"r\": 3"));
    let e = load_err(&d);
    assert!(e.contains("shape [2,") && e.contains("expected [3,"), "{e}");
    let d = write(&|_| true, &|n| n.to_string(), &cfg_text.replace("\"LORA\"", "\"IA3\""));
    assert!(load_err(&d).contains("peft_type"));
    let d = write(&|_| true, &|n| n.to_string(), "{");
    assert!(load_err(&d).contains("adapter_config.json: invalid JSON"));
}
