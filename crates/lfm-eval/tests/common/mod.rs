#![allow(dead_code)]
//! The transformers fixture (`data/lfm2-tiny`): the model, and its reference input ids and
//! logits, for tests that score tokens against transformers.

use std::path::Path;

use burn::tensor::Device;
use lfm_model::device::parse_device;
use lfm_model::hf::load_dir;
use lfm_model::{Lfm2Config, Lfm2Model};

pub struct Fixture {
    pub cfg: Lfm2Config,
    pub model: Lfm2Model,
    pub device: Device,
    /// Row 0 of the reference `input_ids`, then the other rows.
    pub ids: Vec<u32>,
    /// transformers' logits, `[rows, len, vocab]` row-major.
    pub logits: Vec<f32>,
}

pub fn fixture() -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let device = parse_device("cpu").unwrap();
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids = st
        .tensor("input_ids")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let logits = st
        .tensor("logits")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    Fixture { cfg, model, device, ids, logits }
}

impl Fixture {
    /// log p(ids[t] | ids[..t]) of row 0 from transformers' logits, log_softmax in f64.
    pub fn logp(&self, t: usize) -> f64 {
        let v = self.cfg.vocab_size;
        let row = &self.logits[(t - 1) * v..t * v];
        let m = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
        assert!(m.is_finite() && row.iter().all(|x| x.is_finite()), "non-finite reference logits");
        let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        row[self.ids[t] as usize] as f64 - lse
    }
}
