//! Export → GGUF → import on the transformers fixtures: names, dims and metadata as llama.cpp
//! expects (docs/lfm2-architecture.md §8), f32 files give back the same weights exactly
//! (logits to rounding), and quantized files run their packed weights with the same results
//! as a dense model built from the dequantized weights.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_model::model::WeightSource;
use lfm_model::names::Slot;
use lfm_model::{Lfm2Model, LfmError};
use lfm_quant::blocks::{dequantize, quantize_row, GgmlType};
use lfm_quant::export::{build, Mix};
use lfm_quant::gguf::{GgufFile, Value};
use lfm_quant::import::load_gguf;

/// A transformers fixture: `data/lfm2-tiny` or `crates/lfm-model/tests/fixtures/<name>`.
fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if name == "lfm2-tiny" {
        return root.join("../../data/lfm2-tiny");
    }
    root.join("../lfm-model/tests/fixtures").join(name)
}

fn logits(m: &Lfm2Model, ids: &[i64], device: &Device) -> Vec<f32> {
    let x = Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), device);
    m.forward(x).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn export(
    name: &str,
    mix: Mix,
    with_tokenizer: bool,
) -> (tempfile::TempDir, PathBuf, lfm_model::Lfm2Config, Lfm2Model) {
    let device = Device::default();
    let (cfg, model) = lfm_model::hf::load_dir(&fixture(name), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let tok = with_tokenizer.then(|| fixture(name));
    let (w, _) = build(&model, &cfg, tok.as_deref(), name, mix, |_, _| {}).unwrap();
    w.write(&path).unwrap();
    (dir, path, cfg, model)
}

#[test]
fn metadata_names_and_dims_follow_the_llama_cpp_layout() {
    let (_d, path, cfg, _) = export("lfm2-tiny", Mix::Q8_0, true);
    let g = GgufFile::open(&path).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.get("general.architecture"), Some(&Value::Str("lfm2".into())));
    assert_eq!(g.get("general.file_type"), Some(&Value::U32(7)));
    // lfm2-tiny: 6 blocks "c c A c A c", 2 kv heads.
    assert_eq!(g.get("lfm2.attention.head_count_kv"), Some(&Value::i32s([0, 0, 2, 0, 2, 0])));
    assert_eq!(g.get("lfm2.block_count"), Some(&Value::U32(6)));
    assert_eq!(g.get("lfm2.embedding_length"), Some(&Value::U32(64)));
    assert_eq!(g.get("lfm2.feed_forward_length"), Some(&Value::U32(cfg.ff_dim as u32)));
    assert_eq!(g.get("lfm2.shortconv.l_cache"), Some(&Value::U32(3)));
    assert_eq!(g.get("tokenizer.ggml.model"), Some(&Value::Str("gpt2".into())));
    let tokens = g.get("tokenizer.ggml.tokens").unwrap().as_array().unwrap();
    assert_eq!(tokens.len(), 512);
    assert_eq!(tokens[1], Value::Str("<|startoftext|>".into()));
    // Special tokens are CONTROL (3).
    assert_eq!(g.get("tokenizer.ggml.token_type").unwrap().as_array().unwrap()[7], Value::I32(3));
    assert!(!g.get("tokenizer.ggml.merges").unwrap().as_array().unwrap().is_empty());
    assert_eq!(g.get("tokenizer.ggml.eos_token_id"), Some(&Value::U32(7)));
    // Tensor layout: conv kernel squeezed to ne [L, H] and kept F32; linear weights ne [in, out].
    let conv = g.tensor("blk.0.shortconv.conv.weight").unwrap();
    assert_eq!((conv.dims.clone(), conv.ty), (vec![3, 64], GgmlType::F32));
    let inp = g.tensor("blk.0.shortconv.in_proj.weight").unwrap();
    assert_eq!((inp.dims.clone(), inp.ty), (vec![64, 192], GgmlType::Q8_0));
    assert_eq!(g.tensor("token_embd_norm.weight").unwrap().ty, GgmlType::F32);
    assert_eq!(g.tensor("blk.2.attn_k.weight").unwrap().dims, vec![64, 32]);
    assert!(g.tensor("output.weight").is_none(), "tied embeddings: no output tensor");
    assert!(g.tensors.iter().all(|t| (t.start - g.tensors[0].start).is_multiple_of(32)));
}

#[test]
fn f32_gguf_loads_back_to_the_same_model() {
    let device = Device::default();
    for name in ["lfm2-tiny", "lfm2-untied-bias", "lfm2-gqa4-attn-only"] {
        let (_d, path, cfg, model) = export(name, Mix::F32, name == "lfm2-tiny");
        let l = load_gguf(&path, &device).unwrap();
        assert_eq!(l.cfg.layer_types, cfg.layer_types, "{name}");
        assert_eq!(
            (l.cfg.tie_embedding, l.cfg.conv_bias, l.cfg.num_key_value_heads),
            (cfg.tie_embedding, cfg.conv_bias, cfg.num_key_value_heads)
        );
        let ids: Vec<i64> = (0..12).map(|i| (i * 37 % cfg.vocab_size) as i64).collect();
        // The weights come back bit for bit; the f32 kernels sum in another order than burn's
        // matmul, so the logits agree to rounding.
        assert_eq!(l.model.hf_tensors(&l.cfg), model.hf_tensors(&cfg), "{name}");
        let (a, b) = (logits(&l.model, &ids, &device), logits(&model, &ids, &device));
        let scale = lfm_model::compare::max_abs(&b).max(1e-6);
        let max = lfm_model::compare::max_abs_diff(&a, &b);
        assert!(max <= 1e-5 * scale.max(1.0), "{name}: f32 kernels moved the logits by {max}");
    }
}

/// Weights from a map of HF-layout values.
struct MapSource(HashMap<String, Vec<f32>>);

impl WeightSource for MapSource {
    fn get(&mut self, slot: Slot, _shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        Ok(self.0[&slot.hf_name()].clone())
    }
}

#[test]
fn packed_weights_compute_what_their_dequantized_values_compute() {
    let device = Device::default();
    let mut devs = Vec::new();
    for mix in [Mix::Q8_0, Mix::Q4_0, Mix::F16, Mix::BF16, Mix::Q5_0, Mix::Q5_1, Mix::Q4KM, Mix::Q5KM, Mix::Q6K] {
        let (_d, path, cfg, model) = export("lfm2-tiny", mix, true);
        let l = load_gguf(&path, &device).unwrap();
        // Every stored tensor is exactly quantize -> dequantize of the original.
        let g = GgufFile::open(&path).unwrap();
        for (slot, _, v) in model.hf_tensors(&cfg) {
            let t = g.tensor(&slot.gguf_name()).unwrap();
            let want: Vec<f32> = v.chunks(t.dims[0]).flat_map(|r| dequantize(t.ty, &quantize_row(t.ty, r))).collect();
            assert_eq!(dequantize(t.ty, g.data(t)), want, "{:?} {}", mix, t.name);
        }
        // The packed model against a dense model holding the dequantized weights.
        let deq: HashMap<String, Vec<f32>> =
            l.model.hf_tensors(&l.cfg).into_iter().map(|(s, _, v)| (s.hf_name(), v)).collect();
        let dense = Lfm2Model::build(&l.cfg, &device, &mut MapSource(deq)).unwrap();
        assert!(dense.layers.iter().all(|x| x.feed_forward.w1.host.is_none()));
        assert!(l.model.layers.iter().all(|x| x.feed_forward.w1.host.is_some()), "{mix:?}: weights stay packed");
        let ids: Vec<i64> = (0..17).map(|i| (i * 29 % 512) as i64).collect();
        let (a, b) = (logits(&l.model, &ids, &device), logits(&dense, &ids, &device));
        let max = lfm_model::compare::max_abs_diff(&a, &b);
        let rel =
            (a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / b.iter().map(|y| y * y).sum::<f32>()).sqrt();
        println!("{mix:?}: packed vs dense max |diff| {max}, relative rms {rel}");
        if matches!(mix, Mix::F16 | Mix::BF16) {
            // f32 activations: only the summation order differs.
            assert!(max < 1e-4, "{mix:?}: packed vs dense max |diff| {max}");
        } else {
            // Block formats meet 8-bit activations (kernels.rs): the logits move by the
            // activation rounding, ~0.6% per dot product, compounded over the layers (this
            // random model amplifies errors ~10x, see the f32 comparison below).
            assert!(rel < 0.15 && max > 0.0, "{mix:?}: packed vs dense relative rms {rel}");
        }
        // How far quantization moved the logits from the f32 model.
        let c = logits(&model, &ids, &device);
        let dev = lfm_model::compare::max_abs_diff(&a, &c);
        let scale = lfm_model::compare::max_abs(&c);
        println!("{mix:?}: max |logit change| {dev} (max |logit| {scale})");
        devs.push(dev);
    }
    // The error follows the formats' precision: f16 (11-bit mantissa) < bf16 (8-bit) < q8_0 <
    // q4_0 (this random model amplifies weight error ~10x, so only the order is asserted).
    assert!(devs[0] > 0.0 && devs[2] < devs[3] && devs[3] < devs[0] && devs[0] < devs[1], "{devs:?}");
}

#[test]
fn rows_that_do_not_fit_the_block_fall_back_to_f16_as_llama_cpp_does() {
    let device = Device::default();
    // lfm2-mha-l2 has hidden size 48: not a multiple of 32, so no block format fits the matrices
    // with rows of 48; llama-quantize writes those as F16 (and Q8_0 / Q5_0 where 32 divides).
    let (cfg, model) = lfm_model::hf::load_dir(&fixture("lfm2-mha-l2"), &device).unwrap();
    for mix in [Mix::Q4_0, Mix::Q4KM, Mix::Q6K] {
        let (w, _) = build(&model, &cfg, None, "x", mix, |_, _| {}).unwrap();
        for t in &w.tensors {
            if t.dims.len() == 2 && !t.name.contains("shortconv.conv") {
                let want_f16 = t.dims[0] % 32 != 0;
                assert_eq!(t.ty == GgmlType::F16, want_f16, "{mix:?} {} {:?}: {:?}", t.name, t.dims, t.ty);
            }
        }
    }
}
