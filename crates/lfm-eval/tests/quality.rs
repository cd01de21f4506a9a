//! The quality report against transformers: the fixture model compared with itself on the
//! fixture's two 17-token rows has the perplexity of transformers' loss and agrees everywhere.

use std::path::Path;

use lfm_eval::quality::compare;
use lfm_model::device::parse_device;
use lfm_model::hf::load_dir;

#[test]
fn self_comparison_has_the_transformers_perplexity_and_full_agreement() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let device = parse_device("cpu").unwrap();
    let (_, model) = load_dir(&dir, &device).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids = st.tensor("input_ids").unwrap();
    let t = ids.shape()[1];
    let flat: Vec<u32> = ids.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32).collect();
    let windows: Vec<Vec<u32>> = flat.chunks(t).map(|c| c.to_vec()).collect();
    let loss = f32::from_le_bytes(st.tensor("loss").unwrap().data()[..4].try_into().unwrap()) as f64;
    let mut seen = Vec::new();
    let q = compare(&model, &model, &windows, &device, |n| seen.push(n)).unwrap();
    assert_eq!(seen, vec![2]);
    assert_eq!((q.windows, q.tokens), (2, 2 * (t - 1)));
    assert_eq!(q.top1_agreement, 1.0);
    assert_eq!(q.ppl_f32, q.ppl_quant);
    println!("perplexity {} vs transformers {}", q.ppl_f32, loss.exp());
    assert!((q.ppl_f32.ln() - loss).abs() <= 1e-5, "{} vs {loss}", q.ppl_f32.ln());
}
