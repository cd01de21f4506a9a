//! QLoRA: a LoRA adapter trained on a packed GGUF base. The base stays in its ggml blocks;
//! gradients flow through the packed matmuls (dX = dY · W, dequantized a tile at a time) to
//! the adapter branches below them. Reference: the same adapter on a dense f32 copy of the
//! same (dequantized) weights, through burn's own autodiff. The tiny fixture's embedding is
//! tied and packed too, so the loss reaches the blocks through the packed head as well.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_model::lora::{self, LoraSpec};
use lfm_model::Lfm2Model;
use lfm_quant::export::Mix;

fn tiny() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny")
}

/// Every LoRA parameter gradient of `model` on one batch, by module path (A then B), on host.
fn lora_grads(model: &Lfm2Model, ids: &[i64], len: usize, device: &Device) -> Vec<(String, Vec<f32>)> {
    let t = |v: &[i64]| Tensor::<2, Int>::from_data(TensorData::new(v.to_vec(), [v.len() / len, len]), device);
    let loss = model.lm_loss(t(ids), t(ids));
    let grads = loss.backward();
    let mut out = Vec::new();
    for (path, proj) in model.projections() {
        let Some(l) = &proj.lora else { continue };
        for (which, p) in [("A", &l.a), ("B", &l.b)] {
            let g = p.val().grad(&grads).unwrap_or_else(|| panic!("{path}: no gradient for lora_{which}"));
            out.push((format!("{path}.lora_{which}"), g.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()));
        }
    }
    out
}

#[test]
fn adapter_gradients_through_a_packed_base_equal_those_through_its_dense_copy() {
    let plain = lfm_model::device::parse_device("cpu").unwrap();
    let ad = plain.clone().autodiff();
    let (cfg, base) = lfm_model::hf::load_dir(&tiny(), &plain).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = LoraSpec { r: 4, alpha: 8.0, ..Default::default() };
    let ids: Vec<i64> = (0..2 * 24).map(|i| (i * 31 % cfg.vocab_size) as i64).collect();
    // F16 blocks run with f32 activations, and the backward product (dX = dY · W) is the same
    // code for every block type: F16 pins it, gradients agree to float rounding (measured
    // 4e-6 relative). Q8_0 and Q4_0 run their forward with 8-bit activations as llama.cpp
    // does (about 0.6% per dot product, see kernels.rs); through six blocks that moves the
    // first block's adapter gradients by up to 14-15% (L2, measured), so those two only check
    // that the gradient reaches every branch, finite and in the dense direction. Without the
    // differentiable packed product nothing reaches them at all (the loss is not even tracked
    // through a packed head).
    for (name, mix, tol) in [("f16", Mix::F16, 1e-4), ("q8_0", Mix::Q8_0, 0.3), ("q4_0", Mix::Q4_0, 0.3)] {
        let path = dir.path().join(format!("{name}.gguf"));
        let (w, _) = lfm_quant::export::build(&base, &cfg, None, "tiny", mix, |_, _| {}).unwrap();
        w.write(&path).unwrap();

        let packed = lfm_quant::import::load_gguf(&path, &ad).unwrap().model;
        assert!(packed.projections().iter().all(|(_, p)| p.host.is_some()), "{name}: every projection stays packed");
        // The dense copy: the packed model's own (dequantized) weights as an HF checkpoint.
        let dense_dir = dir.path().join(format!("{name}-dense"));
        let deq = lfm_quant::import::load_gguf(&path, &plain).unwrap().model;
        lfm_model::hf::save_dir(&deq, &cfg, &dense_dir).unwrap();
        let dense = lfm_model::hf::load_dir(&dense_dir, &ad).unwrap().1;

        // Same A (seeded), B = 0 then set to the same non-zero values, so that A gets
        // gradients too and every layer's branch feeds the ones above it.
        let with_b = |m: Lfm2Model| {
            let mut m = lora::attach(m, &spec, 5, &ad).unwrap();
            for (k, (_, p)) in m.projections_mut().into_iter().enumerate() {
                let l = p.lora.as_mut().unwrap();
                let [r, out] = l.b.dims();
                let v: Vec<f32> = (0..r * out).map(|i| (((i + k) * 13 % 17) as f32 - 8.0) * 0.01).collect();
                l.b = burn::module::Param::from_data(TensorData::new(v, [r, out]), &ad);
            }
            m
        };
        let gp = lora_grads(&with_b(packed), &ids, 24, &ad);
        let gd = lora_grads(&with_b(dense), &ids, 24, &ad);
        assert_eq!(gp.len(), gd.len());
        let mut worst = 0f64;
        for ((pa, a), (pb, b)) in gp.iter().zip(&gd) {
            assert_eq!(pa, pb);
            assert!(a.iter().all(|x| x.is_finite()), "{name}: {pa}: non-finite gradient");
            let norm = |v: &[f32]| v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
            let diff: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
            assert!(norm(b) > 0.0, "{name}: {pa}: a zero gradient tests nothing");
            let rel = norm(&diff) / norm(b);
            worst = worst.max(rel);
            assert!(rel <= tol, "{name}: {pa}: packed and dense gradients differ by {rel:.2e} relative (L2)");
        }
        println!("{name}: worst relative L2 difference of a LoRA gradient: {worst:.2e}");
    }
}
