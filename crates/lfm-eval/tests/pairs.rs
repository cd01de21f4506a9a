//! Completion log-probs of a preference pair against transformers' logits in the fixture: the
//! fixture's row 0 is split into a "conversation" whose tokens 10..17 are the completion, and
//! Σ log_softmax(reference logits) over those ids is the expected log-prob.

mod common;

use lfm_data::chat::Encoded;
use lfm_data::pairs::EncodedPair;
use lfm_eval::pairs::{pair_logps, score_pairs, summarize};

#[test]
fn pair_logprobs_match_transformers_logits() {
    let f = common::fixture();
    let (ids, model, device) = (&f.ids, &f.model, &f.device);
    // Chosen: tokens 0..17 scored on 10..17. Rejected: tokens 0..12 scored on 3..5 and 8..12
    // (a shorter row: right padding must not change anything).
    let chosen = Encoded { ids: ids[..17].to_vec(), mask: (0..17).map(|t| t >= 10).collect() };
    let rejected = Encoded { ids: ids[..12].to_vec(), mask: (0..12).map(|t| (3..5).contains(&t) || t >= 8).collect() };
    let want_c: f64 = (10..17).map(|t| f.logp(t)).sum();
    let want_r: f64 = (3..5).chain(8..12).map(|t| f.logp(t)).sum();
    let pair = EncodedPair { id: "p0".into(), chosen, rejected };
    let (c, r) = pair_logps(model, &pair, device).unwrap();
    println!("chosen {c} vs {want_c}, rejected {r} vs {want_r}");
    assert!((c - want_c).abs() <= 1e-4, "{c} vs {want_c}");
    assert!((r - want_r).abs() <= 1e-4, "{r} vs {want_r}");
    let scores = score_pairs(model, Some(model), &[pair], device, |_| {}).unwrap();
    assert_eq!((scores[0].n_chosen, scores[0].n_rejected), (7, 6));
    // Against itself as the reference every implicit reward is 0: no pair counts as won.
    assert_eq!(summarize(&scores).accuracy, 0.0);
}
