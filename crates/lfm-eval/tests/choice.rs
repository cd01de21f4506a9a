//! Continuation log-probabilities against transformers' logits in the fixture: the log-prob of
//! tokens 10..17 of row 0 given tokens 0..10 is Σ log_softmax(reference logits) at those ids.

use std::path::Path;

use lfm_eval::choice::{argmax, continuation_logprobs, render};
use lfm_model::device::parse_device;
use lfm_model::hf::load_dir;

#[test]
fn continuation_logprob_matches_transformers_logits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let device = parse_device("cpu").unwrap();
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids: Vec<u32> = st
        .tensor("input_ids")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect();
    let logits: Vec<f32> = st
        .tensor("logits")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let v = cfg.vocab_size;
    // Reference: row 0, log_softmax in f64 from transformers' logits.
    let want: f64 = (10..17)
        .map(|t| {
            let row = &logits[(t - 1) * v..t * v];
            let m = row.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
            let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
            row[ids[t] as usize] as f64 - lse
        })
        .sum();
    let other: Vec<u32> = ids[10..17].iter().map(|&t| (t + 1) % v as u32).collect();
    let got = continuation_logprobs(&model, &ids[..10], &[ids[10..17].to_vec(), other], &device).unwrap();
    println!("log p = {} vs transformers {want}", got[0]);
    assert!((got[0] - want).abs() <= 1e-4, "{} vs {want}", got[0]);
    assert_eq!(argmax(&[got[0], got[0] - 1.0]), 0);
    assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    assert_eq!(render("Q?", &["x".into(), "y".into()]), "Question: Q?\nA. x\nB. y\nAnswer:");
}
