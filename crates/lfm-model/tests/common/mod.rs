//! Helpers shared by the integration tests: reading the reference tensors of a fixture.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

/// A transformers fixture: `data/lfm2-tiny` (the workspace's shared one, which the quickstart
/// embeds too) or `crates/lfm-model/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if name == "lfm2-tiny" {
        return root.join("../../data/lfm2-tiny");
    }
    root.join("tests/fixtures").join(name)
}

/// Every fixture directory that has a `reference.safetensors`: `data/lfm2-tiny` plus those
/// under `tests/fixtures/` (made with `scripts/make_lfm2_fixture.py`).
pub fn all_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("reference.safetensors").exists())
        .collect();
    v.sort();
    v.insert(0, fixture("lfm2-tiny"));
    v
}

/// The reference tensors of a fixture.
pub struct Reference {
    bytes: Vec<u8>,
}

impl Reference {
    pub fn open(dir: &Path) -> Self {
        Self { bytes: std::fs::read(dir.join("reference.safetensors")).unwrap() }
    }

    pub fn has(&self, name: &str) -> bool {
        SafeTensors::deserialize(&self.bytes).unwrap().tensor(name).is_ok()
    }

    pub fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("reference has no {name}"));
        assert_eq!(t.dtype(), Dtype::F32, "{name}");
        let v = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        (t.shape().to_vec(), v)
    }

    pub fn i64(&self, name: &str) -> (Vec<usize>, Vec<i64>) {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(name).unwrap_or_else(|_| panic!("reference has no {name}"));
        assert_eq!(t.dtype(), Dtype::I64, "{name}");
        let v = t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        (t.shape().to_vec(), v)
    }

    pub fn ids(&self, name: &str, device: &Device) -> Tensor<2, Int> {
        let (shape, v) = self.i64(name);
        Tensor::from_data(TensorData::new(v, [shape[0], shape[1]]), device)
    }

    pub fn names(&self) -> Vec<String> {
        SafeTensors::deserialize(&self.bytes).unwrap().names().into_iter().map(String::from).collect()
    }
}

pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

pub use lfm_model::compare::max_abs_diff;

/// Asserts max |a-b| <= tol (a NaN anywhere fails) and prints the measured difference next to
/// the tolerance.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    println!("{what:<48} max-abs-diff {:.3e} (tol {tol:.0e})", max_abs_diff(got, want));
    if let Err(e) = lfm_model::compare::check_close(what, got, want, tol) {
        panic!("{e}");
    }
}

/// The device the tests run on: `LFM_TEST_DEVICE` (e.g. `wgpu`, with the matching cargo
/// feature), default `cpu`.
pub fn test_device() -> Device {
    let spec = std::env::var("LFM_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    let device = lfm_model::device::parse_device(&spec).unwrap();
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("test device: {spec} -> {device:?}"));
    device
}
