//! Completion log-probs of a preference pair against transformers' logits in the fixture: the
//! fixture's row 0 is split into a "conversation" whose tokens 10..17 are the completion, and
//! Σ log_softmax(reference logits) over those ids is the expected log-prob.

use std::path::Path;

use lfm_data::chat::Encoded;
use lfm_data::pairs::EncodedPair;
use lfm_eval::pairs::{pair_logps, score_pairs, summarize};
use lfm_model::device::parse_device;
use lfm_model::hf::load_dir;

#[test]
fn pair_logprobs_match_transformers_logits() {
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
    let logp = |t: usize| {
        let row = &logits[(t - 1) * v..t * v];
        let m = row.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
        let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        row[ids[t] as usize] as f64 - lse
    };
    // Chosen: tokens 0..17 scored on 10..17. Rejected: tokens 0..12 scored on 3..5 and 8..12
    // (a shorter row: right padding must not change anything).
    let chosen = Encoded { ids: ids[..17].to_vec(), mask: (0..17).map(|t| t >= 10).collect() };
    let rejected = Encoded { ids: ids[..12].to_vec(), mask: (0..12).map(|t| (3..5).contains(&t) || t >= 8).collect() };
    let want_c: f64 = (10..17).map(logp).sum();
    let want_r: f64 = (3..5).chain(8..12).map(logp).sum();
    let pair = EncodedPair { id: "p0".into(), chosen, rejected };
    let (c, r) = pair_logps(&model, &pair, &device).unwrap();
    println!("chosen {c} vs {want_c}, rejected {r} vs {want_r}");
    assert!((c - want_c).abs() <= 1e-4, "{c} vs {want_c}");
    assert!((r - want_r).abs() <= 1e-4, "{r} vs {want_r}");
    let scores = score_pairs(&model, Some(&model), &[pair], &device, |_| {}).unwrap();
    assert_eq!((scores[0].n_chosen, scores[0].n_rejected), (7, 6));
    // Against itself as the reference every implicit reward is 0: no pair counts as won.
    assert_eq!(summarize(&scores).accuracy, 0.0);
}
