//! HF checkpoint I/O: round trip, sharded checkpoints, and one-line errors for bad input.

mod common;

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use common::*;
use lfm_model::hf::{load_dir, save_dir};
use lfm_model::init::RandomInit;
use lfm_model::{Lfm2Config, Lfm2Model};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

fn cpu() -> Device {
    test_device()
}

/// name -> (dtype, shape, bytes) of a safetensors file.
fn read_all(path: &Path) -> HashMap<String, (Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

fn write_st(path: &Path, tensors: &HashMap<String, (Dtype, Vec<usize>, Vec<u8>)>) {
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, (d, s, b))| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A scratch copy of the tiny fixture's model files.
fn scratch_copy(tag: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix(tag).tempdir().unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("lfm2-tiny").join(f), d.path().join(f)).unwrap();
    }
    d
}

fn load_err(dir: &Path) -> String {
    let e = load_dir(dir, &cpu()).expect_err("loading must fail").to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn save_then_load_reproduces_the_hf_file_exactly() {
    let device = cpu();
    let src = fixture("lfm2-tiny");
    let (cfg, model) = load_dir(&src, &device).unwrap();
    let out = tempfile::tempdir().unwrap();
    save_dir(&model, &cfg, out.path()).unwrap();

    // Same tensor names, shapes, dtype and bytes as the file transformers wrote.
    let original = read_all(&src.join("model.safetensors"));
    let written = read_all(&out.path().join("model.safetensors"));
    assert_eq!(original.len(), written.len());
    for (name, (dtype, shape, bytes)) in &original {
        let (d2, s2, b2) = written.get(name).unwrap_or_else(|| panic!("{name} missing after save"));
        assert_eq!((dtype, shape), (d2, s2), "{name}");
        assert!(bytes == b2, "{name}: values changed in the round trip");
    }
    assert!(!written.contains_key("lm_head.weight"), "tied head is not stored");

    // The written config describes the same model, and the reloaded model computes the same.
    let (cfg2, model2) = load_dir(out.path(), &device).unwrap();
    assert_eq!(cfg, cfg2);
    let ids = Reference::open(&src).ids("input_ids", &device);
    assert_eq!(host(model.forward(ids.clone())), host(model2.forward(ids)));
}

#[test]
fn untied_head_and_conv_bias_round_trip() {
    let mut cfg = Lfm2Config::from_hf_file(&fixture("lfm2-tiny").join("config.json")).unwrap();
    cfg.tie_embedding = false;
    cfg.conv_bias = true;
    cfg.conv_l_cache = 4;
    let device = cpu();
    let model = Lfm2Model::build(&cfg, &device, &mut RandomInit::new(&cfg, 3)).unwrap();
    let out = tempfile::tempdir().unwrap();
    save_dir(&model, &cfg, out.path()).unwrap();
    let written = read_all(&out.path().join("model.safetensors"));
    assert_eq!(written["lm_head.weight"].1, vec![cfg.vocab_size, cfg.hidden_size]);
    assert_eq!(written["model.layers.0.conv.conv.weight"].1, vec![cfg.hidden_size, 1, 4]);
    assert_eq!(written["model.layers.0.conv.in_proj.bias"].1, vec![3 * cfg.hidden_size]);
    let n: usize = written.values().map(|(_, s, _)| s.iter().product::<usize>()).sum();
    assert_eq!(n, cfg.num_params());
    let (cfg2, model2) = load_dir(out.path(), &device).unwrap();
    assert_eq!(cfg, cfg2);
    let ids = Reference::open(&fixture("lfm2-tiny")).ids("input_ids", &device);
    assert_eq!(host(model.forward(ids.clone())), host(model2.forward(ids)));
}

#[test]
fn sharded_checkpoint_loads_like_the_single_file() {
    let device = cpu();
    let dir = scratch_copy("sharded");
    let all = read_all(&dir.path().join("model.safetensors"));
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let (mut a, mut b) = (HashMap::new(), HashMap::new());
    let mut weight_map = serde_json::Map::new();
    for (i, (name, t)) in all.into_iter().enumerate() {
        let shard = if i % 2 == 0 { "model-00001-of-00002.safetensors" } else { "model-00002-of-00002.safetensors" };
        weight_map.insert(name.clone(), shard.into());
        if i % 2 == 0 {
            a.insert(name, t)
        } else {
            b.insert(name, t)
        };
    }
    write_st(&dir.path().join("model-00001-of-00002.safetensors"), &a);
    write_st(&dir.path().join("model-00002-of-00002.safetensors"), &b);
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).unwrap();

    let (_, sharded) = load_dir(dir.path(), &device).unwrap();
    let (_, single) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let ids = Reference::open(&fixture("lfm2-tiny")).ids("input_ids", &device);
    assert_eq!(host(sharded.forward(ids.clone())), host(single.forward(ids)));
}

#[test]
fn bf16_weights_load() {
    let dir = scratch_copy("bf16");
    let all = read_all(&dir.path().join("model.safetensors"));
    let bf: HashMap<_, _> = all
        .into_iter()
        .map(|(n, (_, s, b))| {
            let v: Vec<u8> = b
                .chunks_exact(4)
                .flat_map(|c| half::bf16::from_f32(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
                .collect();
            (n, (Dtype::BF16, s, v))
        })
        .collect();
    write_st(&dir.path().join("model.safetensors"), &bf);
    let device = cpu();
    let (_, model) = load_dir(dir.path(), &device).unwrap();
    let r = Reference::open(&fixture("lfm2-tiny"));
    let logits = host(model.forward(r.ids("input_ids", &device)));
    // bf16 weights: the fixture README expects ~5e-2 on logits.
    let d = max_abs_diff(&logits, &r.f32("logits").1);
    assert!(d < 0.3, "bf16 logits differ by {d}");
}

#[test]
fn missing_weights_file_is_reported() {
    let dir = scratch_copy("missing");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("no model.safetensors"), "{e}");
}

#[test]
fn truncated_safetensors_is_reported_with_the_file() {
    let dir = scratch_copy("trunc");
    let p = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("bad safetensors"), "{e}");
}

#[test]
fn garbage_header_is_reported() {
    let dir = scratch_copy("garbage");
    let p = dir.path().join("model.safetensors");
    let mut bytes = 64u64.to_le_bytes().to_vec();
    bytes.extend(b"{ this is not json at all, not even close ............... }    ");
    std::fs::write(&p, bytes).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("bad safetensors"), "{e}");
    std::fs::write(&p, b"abc").unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("bad safetensors"), "{e}");
}

#[test]
fn missing_tensor_is_named() {
    let dir = scratch_copy("notensor");
    let p = dir.path().join("model.safetensors");
    let mut all = read_all(&p);
    all.remove("model.layers.3.conv.out_proj.weight");
    write_st(&p, &all);
    let e = load_err(dir.path());
    assert!(e.contains("model.layers.3.conv.out_proj.weight") && e.contains("missing"), "{e}");
}

#[test]
fn wrong_shape_is_named_with_both_shapes() {
    let dir = scratch_copy("shape");
    let p = dir.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["intermediate_size"] = 260.into(); // F = 192 instead of 160
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(dir.path());
    assert!(
        e.contains("model.layers.0.feed_forward.w1.weight") && e.contains("[160, 64]") && e.contains("[192, 64]"),
        "{e}"
    );
}

#[test]
fn layer_pattern_that_disagrees_with_the_weights_is_reported() {
    let dir = scratch_copy("pattern");
    let p = dir.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["layer_types"][2] = "conv".into(); // the file has attention at layer 2
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.layers.2.conv.in_proj.weight") && e.contains("missing"), "{e}");
}

#[test]
fn extra_tensors_mean_config_and_weights_disagree() {
    let dir = scratch_copy("extra");
    let p = dir.path().join("model.safetensors");
    let mut all = read_all(&p);
    all.insert("model.layers.0.conv.conv.bias".into(), (Dtype::F32, vec![64], vec![0u8; 256]));
    write_st(&p, &all);
    let e = load_err(dir.path());
    assert!(e.contains("model.layers.0.conv.conv.bias") && e.contains("do not match"), "{e}");
}

#[test]
fn unsupported_dtype_is_named() {
    let dir = scratch_copy("dtype");
    let p = dir.path().join("model.safetensors");
    let mut all = read_all(&p);
    let (_, s, b) = all.remove("model.embedding_norm.weight").unwrap();
    all.insert("model.embedding_norm.weight".into(), (Dtype::I32, s, b));
    write_st(&p, &all);
    let e = load_err(dir.path());
    assert!(e.contains("model.embedding_norm.weight") && e.contains("unsupported dtype"), "{e}");
}

#[test]
fn unknown_model_type_and_bad_json_are_reported() {
    let dir = scratch_copy("mtype");
    let p = dir.path().join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["model_type"] = "lfm2_moe".into();
    std::fs::write(&p, v.to_string()).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("config.json") && e.contains("model_type \"lfm2_moe\" is not supported"), "{e}");
    std::fs::write(&p, "{\"model_type\": \"lfm2\", ").unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("config.json") && e.contains("invalid JSON"), "{e}");
    std::fs::write(&p, r#"{"model_type": "lfm2", "hidden_size": "64"}"#).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("hidden_size"), "{e}");
}

#[test]
fn parameter_count_agrees_between_config_model_and_file() {
    use burn::module::Module;
    for dir in all_fixtures() {
        let (cfg, model) = load_dir(&dir, &cpu()).unwrap();
        let in_file: usize = read_all(&dir.join("model.safetensors"))
            .into_iter()
            .map(|(_, (_, s, _))| s.iter().product::<usize>())
            .sum();
        assert_eq!(cfg.num_params(), in_file, "{}", dir.display());
        assert_eq!(model.num_params(), in_file, "{}", dir.display());
    }
}

#[test]
fn out_of_range_numbers_in_config_json_are_named() {
    let dir = scratch_copy("ranges");
    let p = dir.path().join("config.json");
    let orig: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let cases: [(&str, serde_json::Value, &str); 8] = [
        ("block_multiple_of", 0.into(), "block_multiple_of"),
        ("block_ffn_dim_multiplier", (-1.0).into(), "block_ffn_dim_multiplier"),
        ("norm_eps", (-1e-5).into(), "norm_eps"),
        ("rope_parameters", serde_json::json!({"rope_theta": 0.0, "rope_type": "default"}), "rope_theta"),
        ("rope_parameters", serde_json::json!({"rope_theta": -1e4, "rope_type": "default"}), "rope_theta"),
        ("rope_parameters", serde_json::json!({"rope_theta": 1e6, "rope_type": "yarn"}), "rope_type"),
        ("rope_scaling", serde_json::json!({"type": "linear", "factor": 2.0}), "rope_scaling"),
        ("max_position_embeddings", 0.into(), "max_position_embeddings"),
    ];
    for (key, value, named) in cases {
        let mut v = orig.clone();
        v[key] = value.clone();
        if key == "block_multiple_of" {
            // Only used when a multiplier is set: set one, so the old code divided by zero.
            v["block_ffn_dim_multiplier"] = 1.0.into();
        }
        std::fs::write(&p, v.to_string()).unwrap();
        let e = load_err(dir.path());
        assert!(e.contains("config.json") && e.contains(named), "{key} = {value}: {e}");
    }
}

#[test]
fn a_tied_checkpoint_with_a_different_head_is_refused_and_a_copy_is_accepted() {
    let device = cpu();
    let dir = scratch_copy("tied-head");
    let path = dir.path().join("model.safetensors");
    let mut all = read_all(&path);
    let embed = all["model.embed_tokens.weight"].clone();
    // The embedding stored again as the head (what some exporters write): loads, same model.
    all.insert("lm_head.weight".into(), embed.clone());
    write_st(&path, &all);
    let (_, model) = load_dir(dir.path(), &device).unwrap();
    let (_, plain) = load_dir(&fixture("lfm2-tiny"), &device).unwrap();
    let ids = Reference::open(&fixture("lfm2-tiny")).ids("input_ids", &device);
    assert_eq!(host(model.forward(ids.clone())), host(plain.forward(ids)));
    // One element different: config.json (tied) and the weights disagree.
    let mut head = embed;
    head.2[7 * 4..8 * 4].copy_from_slice(&0.5f32.to_le_bytes());
    all.insert("lm_head.weight".into(), head);
    write_st(&path, &all);
    let e = load_err(dir.path());
    assert!(
        e.contains("model.safetensors") && e.contains("lm_head.weight") && e.contains("tie_word_embeddings"),
        "{e}"
    );
}
