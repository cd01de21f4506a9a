//! Continuation log-probabilities against transformers' logits in the fixture: the log-prob of
//! tokens 10..17 of row 0 given tokens 0..10 is Σ log_softmax(reference logits) at those ids.

mod common;

use lfm_eval::choice::{argmax, continuation_logprobs, render};

#[test]
fn continuation_logprob_matches_transformers_logits() {
    let f = common::fixture();
    let (ids, v) = (&f.ids, f.cfg.vocab_size);
    // Reference: row 0, log_softmax in f64 from transformers' logits.
    let want: f64 = (10..17).map(|t| f.logp(t)).sum();
    let other: Vec<u32> = ids[10..17].iter().map(|&t| (t + 1) % v as u32).collect();
    let got = continuation_logprobs(&f.model, &ids[..10], &[ids[10..17].to_vec(), other], &f.device).unwrap();
    println!("log p = {} vs transformers {want}", got[0]);
    assert!((got[0] - want).abs() <= 1e-4, "{} vs {want}", got[0]);
    assert_eq!(argmax(&[got[0], got[0] - 1.0]), 0);
    assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    assert_eq!(render("Q?", &["x".into(), "y".into()]), "Question: Q?\nA. x\nB. y\nAnswer:");
}
