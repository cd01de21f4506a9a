//! Perplexity against transformers: the fixture's loss on its two 17-token rows is the mean
//! NLL that `score_docs` must reproduce, with one window per row and with several.

use std::path::Path;

use lfm_eval::perplexity::score_docs;
use lfm_model::device::parse_device;
use lfm_model::hf::load_dir;

#[test]
fn mean_nll_matches_the_transformers_loss() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let device = parse_device("cpu").unwrap();
    let (_, model) = load_dir(&dir, &device).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids = st.tensor("input_ids").unwrap();
    let t = ids.shape()[1];
    let flat: Vec<u32> = ids.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32).collect();
    let docs: Vec<Vec<u32>> = flat.chunks(t).map(|c| c.to_vec()).collect();
    let want = f32::from_le_bytes(st.tensor("loss").unwrap().data()[..4].try_into().unwrap()) as f64;
    let one = score_docs(&model, &docs, t - 1, 2, &device).unwrap();
    assert_eq!(one.tokens, 2 * (t - 1));
    println!("mean NLL {} vs transformers loss {want}", one.mean());
    assert!((one.mean() - want).abs() <= 1e-5, "{} vs {want}", one.mean());
    // Shorter windows see less context: a different but finite number, every token still scored.
    let short = score_docs(&model, &docs, 5, 3, &device).unwrap();
    assert_eq!(short.tokens, 2 * (t - 1));
    assert!(short.mean().is_finite() && (short.mean() - want).abs() > 1e-6);
    assert!((one.perplexity() - want.exp()).abs() <= 1e-3 * want.exp());
}
