//! llama.cpp's LoRA GGUF: written from a PEFT adapter of the tiny fixture, read back with our
//! GGUF reader — keys, names, ne dims (PEFT's shapes reversed) and the values themselves.

use std::path::Path;

use lfm_model::lora::{self, LoraSpec};
use lfm_quant::gguf::GgufFile;

fn tiny() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny")
}

#[test]
fn a_peft_adapter_becomes_a_llama_cpp_lora_gguf_that_reads_back() {
    let device = lfm_model::device::parse_device("cpu").unwrap();
    let (cfg, base) = lfm_model::hf::load_dir(&tiny(), &device).unwrap();
    let spec = LoraSpec {
        r: 4,
        alpha: 8.0,
        targets: vec!["w1".into(), "q_proj".into(), "in_proj".into()],
        ..Default::default()
    };
    let m = lora::attach(base, &spec, 11, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    lora::save_peft(&m, &spec, "tiny", dir.path()).unwrap();
    let w = lfm_quant::export::build_lora(&cfg, dir.path(), "tiny-lora").unwrap();
    let out = dir.path().join("lora.gguf");
    w.write(&out).unwrap();

    let g = GgufFile::open(&out).unwrap();
    assert_eq!(g.get("general.architecture").and_then(|v| v.as_str()), Some("lfm2"));
    assert_eq!(g.get("general.type").and_then(|v| v.as_str()), Some("adapter"));
    assert_eq!(g.get("adapter.type").and_then(|v| v.as_str()), Some("lora"));
    assert_eq!(g.get("adapter.lora.alpha").and_then(|v| v.as_f64()), Some(8.0));
    // Every adapted projection of the fixture, once each for a and b.
    let adapted = m.projections().iter().filter(|(_, p)| p.lora.is_some()).count();
    assert_eq!(w.tensors.len(), 2 * adapted);
    let bytes = std::fs::read(dir.path().join("adapter_model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    // blk.0.ffn_gate is feed_forward.w1 of layer 0 (names.rs).
    let a = g.tensor("blk.0.ffn_gate.weight.lora_a").expect("lora_a of layer 0's w1");
    let b = g.tensor("blk.0.ffn_gate.weight.lora_b").expect("lora_b of layer 0's w1");
    let pa = st.tensor("base_model.model.model.layers.0.feed_forward.w1.lora_A.weight").unwrap();
    let pb = st.tensor("base_model.model.model.layers.0.feed_forward.w1.lora_B.weight").unwrap();
    assert_eq!(a.dims, vec![pa.shape()[1], pa.shape()[0]], "ne of lora_a is PEFT's [r, in] reversed");
    assert_eq!(b.dims, vec![pb.shape()[1], pb.shape()[0]], "ne of lora_b is PEFT's [out, r] reversed");
    assert_eq!(g.data(a), pa.data(), "f32 values as PEFT stores them");
    assert_eq!(g.data(b), pb.data());

    // rsLoRA cannot be expressed: refused with the reason.
    let rs = LoraSpec { use_rslora: true, ..spec.clone() };
    let d2 = tempfile::tempdir().unwrap();
    lora::save_peft(&m, &rs, "tiny", d2.path()).unwrap();
    let e = lfm_quant::export::build_lora(&cfg, d2.path(), "x").err().unwrap().to_string();
    assert!(e.contains("use_rslora"), "{e}");
}
