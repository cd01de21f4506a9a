//! `lfm export gguf --quant MIX` against `llama-quantize F32.gguf OUT.gguf MIX` on our own f32
//! export of the same checkpoint: every tensor must get llama.cpp's type and llama.cpp's bytes.
//!
//! The reference (`tests/fixtures/llama_quantize_mixes.json`: per case, per mix, per tensor the
//! GGUF type and the SHA-256 of its data) was written by `scripts/make_quant_mix_fixture.py`,
//! which runs llama.cpp's `llama-quantize` on the f32 GGUFs this test writes when
//! `LFM_WRITE_F32_GGUF_DIR` is set. Cases:
//!
//! - `k256`: the LFM2.5-350M layer pattern (16 layers, attention at 2, 5, 8, 10, 12, 14) at
//!   hidden 256 / ff 768 / vocab 512 with a tied embedding, weights from a seeded generator:
//!   every block fits, so `use_more_bits` (16 `ffn_down`, 6 `attn_v`) and the tied output → Q6_K
//!   decide;
//! - `untied`: the `lfm2-untied-bias` fixture (hidden 96, ff 256, untied head): K-quants fall
//!   back to Q5_0 / Q5_1 / Q8_0 where rows are 96, the output is Q8_0, `ffn_down` (rows of 256)
//!   keeps its K-quant;
//! - `mha48`: the `lfm2-mha-l2` fixture (hidden 48): rows no block divides become F16.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lfm_model::model::WeightSource;
use lfm_model::names::{tensor_table, Role, Slot};
use lfm_model::{LayerKind, Lfm2Config, Lfm2Model, LfmError};
use lfm_quant::export::{build, Mix};
use lfm_quant::gguf::GgufFile;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod common;
use common::Rng;

const MIXES: [Mix; 7] = [Mix::Q8_0, Mix::Q6K, Mix::Q5KM, Mix::Q5_1, Mix::Q5_0, Mix::Q4KM, Mix::Q4_0];

struct MapSource(HashMap<String, Vec<f32>>);

impl WeightSource for MapSource {
    fn get(&mut self, slot: Slot, _shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        Ok(self.0[&slot.hf_name()].clone())
    }
}

/// The `k256` checkpoint: seeded values, roughly Gaussian (sum of four uniforms) with a few
/// outliers per matrix, norms around 1.
fn k256() -> (Lfm2Config, Lfm2Model) {
    let mut c = Lfm2Config::lfm2_350m();
    c.vocab_size = 512;
    c.hidden_size = 256;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.head_dim = 64;
    c.intermediate_size = 768;
    c.block_auto_adjust_ff_dim = false;
    c.ff_dim = 768;
    assert_eq!(c.layer_types.iter().filter(|k| **k == LayerKind::Attention).count(), 6);
    let mut r = Rng(0x11a3a);
    let mut u = move || (r.next() >> 40) as f32 / (1u64 << 24) as f32;
    let mut map = HashMap::new();
    for slot in tensor_table(&c) {
        let n: usize = slot.hf_shape(&c).iter().product();
        let v: Vec<f32> = if slot.role() == Role::Norm {
            (0..n).map(|_| 0.8 + 0.4 * u()).collect()
        } else {
            (0..n)
                .map(|i| {
                    let g = u() + u() + u() + u() - 2.0;
                    if i % 997 == 13 {
                        g * 0.5
                    } else {
                        g * 0.05
                    }
                })
                .collect()
        };
        map.insert(slot.hf_name(), v);
    }
    let model = Lfm2Model::build(&c, &Device::default(), &mut MapSource(map)).unwrap();
    (c, model)
}

fn case(name: &str) -> (Lfm2Config, Lfm2Model) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lfm-model/tests/fixtures");
    match name {
        "k256" => k256(),
        "untied" => lfm_model::hf::load_dir(&fixtures.join("lfm2-untied-bias"), &Device::default()).unwrap(),
        "mha48" => lfm_model::hf::load_dir(&fixtures.join("lfm2-mha-l2"), &Device::default()).unwrap(),
        _ => unreachable!(),
    }
}

/// (type name, SHA-256 of the data) of every tensor of a written GGUF.
fn digest(path: &Path) -> BTreeMap<String, (String, String)> {
    let g = GgufFile::open(path).unwrap();
    g.tensors
        .iter()
        .map(|t| {
            let h = Sha256::digest(g.data(t));
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            (t.name.clone(), (t.ty.name().to_string(), hex))
        })
        .collect()
}

fn write(model: &Lfm2Model, cfg: &Lfm2Config, mix: Mix, path: &Path) {
    let (w, _) = build(model, cfg, None, "mix-test", mix, |_, _| {}).unwrap();
    w.write(path).unwrap();
}

#[test]
fn exports_match_llama_quantize_tensor_for_tensor() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama_quantize_mixes.json"),
        )
        .unwrap(),
    )
    .unwrap();
    if let Some(d) = std::env::var_os("LFM_WRITE_F32_GGUF_DIR").map(PathBuf::from) {
        // Fixture generation: write the inputs for llama-quantize, check nothing.
        std::fs::create_dir_all(&d).unwrap();
        for name in ["k256", "untied", "mha48"] {
            let (cfg, model) = case(name);
            write(&model, &cfg, Mix::F32, &d.join(format!("{name}-f32.gguf")));
        }
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for name in ["k256", "untied", "mha48"] {
        let (cfg, model) = case(name);
        // The input llama-quantize was given is our f32 export of this checkpoint.
        let f32_path = tmp.path().join(format!("{name}-f32.gguf"));
        write(&model, &cfg, Mix::F32, &f32_path);
        let f32_want = &fixture[name]["f32_input"];
        for (t, (ty, h)) in digest(&f32_path) {
            assert_eq!(
                (ty.as_str(), h.as_str()),
                (f32_want[&t][0].as_str().unwrap(), f32_want[&t][1].as_str().unwrap()),
                "{name} f32 input {t}"
            );
        }
        for mix in MIXES {
            let want = &fixture[name][mix.name()];
            assert!(want.is_object(), "fixture lacks {name}/{}", mix.name());
            let path = tmp.path().join(format!("{name}-{}.gguf", mix.name()));
            write(&model, &cfg, mix, &path);
            let got = digest(&path);
            assert_eq!(got.len(), want.as_object().unwrap().len(), "{name} {}: tensor count", mix.name());
            for (t, (ty, h)) in &got {
                let w = &want[t];
                assert_eq!(ty, w[0].as_str().unwrap(), "{name} {}: type of {t}", mix.name());
                assert_eq!(h, w[1].as_str().unwrap(), "{name} {}: bytes of {t} ({ty})", mix.name());
                checked += 1;
            }
        }
    }
    println!("{checked} tensors identical to llama-quantize's");
}
