//! The block formats against ggml's own C reference (`quantize_row_*_ref`,
//! `dequantize_row_*`), bytes recorded in `tests/fixtures/quant_vectors.safetensors` by
//! `scripts/make_quant_fixtures.py` (see the fixture README): 16 rows of 512 values covering
//! normal, tiny, huge, outlier, tie, signed-zero, subnormal and rounding-boundary cases.

use std::path::Path;

use lfm_quant::blocks::{dequantize, dot_row, quantize_row, GgmlType};
use safetensors::SafeTensors;

struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    fn load() -> Self {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant_vectors.safetensors");
        Fixture { bytes: std::fs::read(p).unwrap() }
    }
    fn rows(&self, name: &str) -> (Vec<usize>, Vec<u8>) {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let t = st.tensor(name).unwrap();
        (t.shape().to_vec(), t.data().to_vec())
    }
    fn f32_rows(&self, name: &str) -> Vec<Vec<f32>> {
        let (s, b) = self.rows(name);
        let v: Vec<f32> = b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        v.chunks(s[1]).map(<[f32]>::to_vec).collect()
    }
    fn byte_rows(&self, name: &str) -> Vec<Vec<u8>> {
        let (s, b) = self.rows(name);
        b.chunks(s[1]).map(<[u8]>::to_vec).collect()
    }
}

const BLOCK_FORMATS: [(GgmlType, &str); 7] = [
    (GgmlType::Q8_0, "q8_0"),
    (GgmlType::Q4_0, "q4_0"),
    (GgmlType::Q4K, "q4_k"),
    (GgmlType::Q5_0, "q5_0"),
    (GgmlType::Q5_1, "q5_1"),
    (GgmlType::Q5K, "q5_k"),
    (GgmlType::Q6K, "q6_k"),
];

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn encodings_are_byte_identical_to_ggml() {
    let f = Fixture::load();
    let input = f.f32_rows("input");
    assert_eq!(input.len(), 16);
    for (ty, name) in BLOCK_FORMATS.into_iter().chain([(GgmlType::F16, "f16"), (GgmlType::BF16, "bf16")]) {
        for (r, (x, want)) in input.iter().zip(f.byte_rows(name)).enumerate() {
            let got = quantize_row(ty, x);
            if got != want {
                let at = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
                panic!(
                    "{name} row {r}: first differing byte {at} (block {}): ours {:?}, ggml {:?}",
                    at / ty.type_size(),
                    &got[at..(at + 4).min(got.len())],
                    &want[at..(at + 4).min(want.len())]
                );
            }
        }
    }
}

#[test]
fn decodings_are_bit_identical_to_ggml() {
    let f = Fixture::load();
    for (ty, name) in BLOCK_FORMATS {
        for (r, (bytes, want)) in f.byte_rows(name).iter().zip(f.f32_rows(&format!("{name}_deq"))).enumerate() {
            assert!(same_bits(&dequantize(ty, bytes), &want), "{name} row {r}");
        }
    }
}

/// Round-trip error bounds that follow from each format's definition, on the rows with ordinary
/// values (normal, uniform, LLM-like): Q8_0 within d/2 per value (d = amax/127), Q4_0 within
/// d per value (d = |max|/8, the top value may clip), Q4_K within one quantization step of its
/// sub-block plus the 6-bit scale/min rounding, checked here as RMS error relative to RMS value.
#[test]
fn round_trip_errors_stay_within_the_format_bounds() {
    let f = Fixture::load();
    let input = f.f32_rows("input");
    for r in [0usize, 3, 12] {
        let x = &input[r];
        for b in x.chunks(32) {
            let amax = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let q8 = dequantize(GgmlType::Q8_0, &quantize_row(GgmlType::Q8_0, b));
            let d8 = amax / 127.0;
            assert!(b.iter().zip(&q8).all(|(a, c)| (a - c).abs() <= d8 * 0.5 + amax * 1e-3), "q8_0 row {r}");
            let q4 = dequantize(GgmlType::Q4_0, &quantize_row(GgmlType::Q4_0, b));
            let d4 = amax / 8.0;
            assert!(b.iter().zip(&q4).all(|(a, c)| (a - c).abs() <= d4 * 1.0 + amax * 1e-3), "q4_0 row {r}");
        }
        let rms = |v: &[f32]| (v.iter().map(|a| a * a).sum::<f32>() / v.len() as f32).sqrt();
        let err = |ty| {
            let y = dequantize(ty, &quantize_row(ty, x));
            rms(&x.iter().zip(&y).map(|(a, b)| a - b).collect::<Vec<_>>()) / rms(x)
        };
        let (e8, e40, e4k) = (err(GgmlType::Q8_0), err(GgmlType::Q4_0), err(GgmlType::Q4K));
        assert!(e8 < 0.01 && e40 < 0.15 && e4k < 0.12, "row {r}: q8_0 {e8}, q4_0 {e40}, q4_K {e4k}");
        assert!(e8 < e4k && e4k < e40, "row {r}: Q4_K (with mins and 6-bit scales) beats Q4_0: {e8} {e4k} {e40}");
        // One more bit halves the step: each 5-bit format beats its 4-bit one, Q6_K beats Q5_K
        // and Q8_0 beats them all.
        let (e50, e51, e5k, e6k) = (err(GgmlType::Q5_0), err(GgmlType::Q5_1), err(GgmlType::Q5K), err(GgmlType::Q6K));
        assert!(e50 < e40 && e51 < e40 && e5k < e4k && e6k < e5k && e8 < e6k, "row {r}: {e50} {e51} {e5k} {e6k}");
        assert!(e50 < 0.08 && e5k < 0.06 && e6k < 0.03, "row {r}: q5_0 {e50}, q5_K {e5k}, q6_K {e6k}");
    }
}

/// The kernel used for quantized inference equals the dot product with the dequantized row.
#[test]
fn dot_products_on_packed_rows_match_dequantized_rows() {
    let f = Fixture::load();
    let input = f.f32_rows("input");
    let act = &input[3];
    for (ty, name) in BLOCK_FORMATS {
        for (r, bytes) in f.byte_rows(name).iter().enumerate() {
            let w = dequantize(ty, bytes);
            if !w.iter().all(|v| v.is_finite()) {
                continue;
            }
            let want: f64 = w.iter().zip(act).map(|(a, b)| *a as f64 * *b as f64).sum();
            let got = dot_row(ty, bytes, act) as f64;
            let scale: f64 = w.iter().zip(act).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum::<f64>().max(1e-30);
            assert!((got - want).abs() <= 1e-5 * scale, "{name} row {r}: {got} vs {want}");
        }
    }
}
