//! NaN/±Inf in a GGUF's weights are refused at load with one line naming the file, the
//! tensor, the count and the first bad element or block. Values are planted at random tensors
//! and offsets of GGUFs exported from the fixture (f32, f16, bf16 elements; Q8_0 and Q4_0 block
//! scales) and of Q4_K blocks (`d` and `dmin`); what the error reports is checked against the
//! planted positions as `dequantize` sees them (the reference: which elements or blocks decode
//! to a non-finite value), not against the scanner's own bit tests.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lfm_quant::blocks::{dequantize, find_nonfinite, quantize_row, GgmlType};
use lfm_quant::export::{build, Mix};
use lfm_quant::gguf::GgufFile;
use lfm_quant::import::load_gguf;

mod common;
use common::Rng;

fn export(dir: &Path, mix: Mix) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny");
    let (cfg, model) = lfm_model::hf::load_dir(&fixture, &Device::default()).unwrap();
    let (w, _) = build(&model, &cfg, Some(&fixture), "tiny", mix, |_, _| {}).unwrap();
    let path = dir.join(format!("{}.gguf", mix.name()));
    w.write(&path).unwrap();
    path
}

/// The bit patterns planted: NaN, +Inf, -Inf in each encoding.
fn bad_f32(r: &mut Rng) -> [u8; 4] {
    [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][r.below(3)].to_le_bytes()
}
fn bad_f16(r: &mut Rng) -> [u8; 2] {
    [0x7e00u16, 0x7c00, 0xfc00, 0x7c01][r.below(4)].to_le_bytes()
}
fn bad_bf16(r: &mut Rng) -> [u8; 2] {
    [0x7fc0u16, 0x7f80, 0xff80][r.below(3)].to_le_bytes()
}

/// Plants one bad value in `data` (a tensor of type `ty`) at a random element, or at a random
/// block's scale; returns the element or block index.
fn plant(r: &mut Rng, ty: GgmlType, data: &mut [u8]) -> usize {
    let n = data.len() / ty.type_size();
    let k = r.below(n);
    let at = k * ty.type_size();
    match ty {
        GgmlType::F32 => data[at..at + 4].copy_from_slice(&bad_f32(r)),
        GgmlType::F16 | GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => {
            data[at..at + 2].copy_from_slice(&bad_f16(r))
        }
        GgmlType::BF16 => data[at..at + 2].copy_from_slice(&bad_bf16(r)),
        // Q6_K: d after the 208 bytes of values and scales.
        GgmlType::Q6K => data[at + 208..at + 210].copy_from_slice(&bad_f16(r)),
        // Q4_K / Q5_K: d at bytes 0..2, dmin at 2..4; Q5_1: d, then m.
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q5_1 => {
            let off = at + 2 * r.below(2);
            data[off..off + 2].copy_from_slice(&bad_f16(r));
        }
    }
    k
}

/// The reference: (count, first) of the elements (F32/F16/BF16) or blocks that decode to a
/// non-finite value.
fn reference(ty: GgmlType, data: &[u8]) -> Option<(usize, usize)> {
    let v = dequantize(ty, data);
    let bad: Vec<usize> = v
        .chunks(ty.block_size())
        .enumerate()
        .filter(|(_, c)| c.iter().any(|x| !x.is_finite()))
        .map(|(i, _)| i)
        .collect();
    bad.first().map(|&f| (bad.len(), f))
}

#[test]
fn planted_nan_and_inf_are_found_where_dequantize_sees_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Rng(0x5eed);
    for mix in [Mix::F32, Mix::F16, Mix::BF16, Mix::Q8_0, Mix::Q4_0, Mix::Q5_0, Mix::Q5_1] {
        let path = export(tmp.path(), mix);
        let clean = std::fs::read(&path).unwrap();
        let g = GgufFile::open(&path).unwrap();
        // The clean export has no false positive.
        for t in &g.tensors {
            assert_eq!(find_nonfinite(t.ty, g.data(t)), None, "{mix:?} {}", t.name);
        }
        for round in 0..12 {
            // One to three tensors, one to three values each.
            let mut bytes = clean.clone();
            let mut hit = Vec::new();
            for _ in 0..1 + r.below(3) {
                let t = &g.tensors[r.below(g.tensors.len())];
                for _ in 0..1 + r.below(3) {
                    plant(&mut r, t.ty, &mut bytes[t.start..t.start + t.nbytes]);
                }
                hit.push(t.clone());
            }
            for t in &hit {
                let data = &bytes[t.start..t.start + t.nbytes];
                let (count, first) = reference(t.ty, data).expect("a planted value decodes as non-finite");
                let nf = find_nonfinite(t.ty, data).unwrap();
                assert_eq!((nf.count, nf.first), (count, first), "{mix:?} round {round} {}", t.name);
                assert_eq!(nf.field.is_some(), t.ty.is_quantized());
                assert!(!nf.value.is_finite());
            }
            // Loading names the first tensor (in file order) that has any.
            let first = hit.iter().min_by_key(|t| t.start).unwrap();
            let (count, index) = reference(first.ty, &bytes[first.start..first.start + first.nbytes]).unwrap();
            let bad = tmp.path().join("bad.gguf");
            std::fs::write(&bad, &bytes).unwrap();
            let e = format!("{:#}", load_gguf(&bad, &Device::default()).err().expect("NaN weights loaded"));
            assert!(!e.contains('\n'), "{e}");
            assert!(e.starts_with(&format!("{}: tensor {}: ", bad.display(), first.name)), "{e}");
            if first.ty.is_quantized() {
                let want =
                    format!("{count} {} block(s) with a non-finite scale, the first block {index} (", first.ty.name());
                assert!(e.contains(&want) && e.contains("elements from index"), "{e}\nwant {want}");
            } else {
                let want = format!("{count} non-finite value(s), the first ");
                assert!(e.contains(&want) && e.contains(&format!(" at index {index}")), "{e}\nwant {want}");
            }
            assert!(e.ends_with("(LFM_ALLOW_NONFINITE=1 loads it anyway)"), "{e}");
        }
    }
}

#[test]
fn every_block_scale_is_checked() {
    let mut r = Rng(7);
    let x: Vec<f32> = (0..256 * 40).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.1).collect();
    for (ty, second) in [
        (GgmlType::Q4K, "dmin"),
        (GgmlType::Q5K, "dmin"),
        (GgmlType::Q5_1, "m"),
        (GgmlType::Q5_0, "d"),
        (GgmlType::Q6K, "d"),
    ] {
        let clean = quantize_row(ty, &x);
        assert_eq!(find_nonfinite(ty, &clean), None);
        for _ in 0..50 {
            let mut b = clean.clone();
            for _ in 0..1 + r.below(4) {
                plant(&mut r, ty, &mut b);
            }
            let (count, first) = reference(ty, &b).unwrap();
            let nf = find_nonfinite(ty, &b).unwrap();
            assert_eq!((nf.count, nf.first), (count, first), "{ty:?}");
            let blk = &b[first * ty.type_size()..];
            let d_at = if ty == GgmlType::Q6K { 208 } else { 0 };
            let d_bad = u16::from_le_bytes([blk[d_at], blk[d_at + 1]]) & 0x7c00 == 0x7c00;
            assert_eq!(nf.field, Some(if d_bad { "d" } else { second }), "{ty:?}");
        }
    }
}

#[test]
fn large_tensors_are_scanned_in_parallel_with_the_same_answer() {
    // 3M f32 values (12 MB: several parallel chunks), bad values near chunk edges and the end.
    let n = 3 << 20;
    let mut b = vec![0u8; 4 * n];
    for (i, c) in b.chunks_exact_mut(4).enumerate() {
        c.copy_from_slice(&(i as f32 * 1e-3).to_le_bytes());
    }
    assert_eq!(find_nonfinite(GgmlType::F32, &b), None);
    for &k in &[n - 1, (1 << 18) - 1, 1 << 18, 2_000_003] {
        b[4 * k..4 * k + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    }
    let nf = find_nonfinite(GgmlType::F32, &b).unwrap();
    assert_eq!((nf.count, nf.first, nf.field), (4, (1 << 18) - 1, None));
    assert!(nf.value.is_nan());
    assert_eq!(reference(GgmlType::F32, &b), Some((4, (1 << 18) - 1)));
}
