//! ggml's tensor element types and block formats, byte for byte: F32, F16, BF16, Q8_0, Q4_0
//! and Q4_K (llama.cpp's `ggml-common.h` layouts, `ggml-quants.c` reference quantizers).
//!
//! Hand-written: no maintained Rust crate encodes ggml blocks outside a whole inference engine.
//! Written from the format description, not from ggml's code; the tests compare against bytes
//! produced by ggml's own C reference functions (`tests/fixtures/quant_vectors.safetensors`).
//! All arithmetic is f32 in the order the reference uses (no fused multiply-add), so the bytes
//! match exactly.
//!
//! | type | block | bytes | layout |
//! |---|---|---|---|
//! | Q8_0 | 32 | 34 | f16 scale d, 32 × i8 q; x = d·q |
//! | Q4_0 | 32 | 18 | f16 d, 16 bytes: low nibbles = elements 0..16, high = 16..32; x = d·(q−8) |
//! | Q4_K | 256 | 144 | f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of nibbles; x = d·sc·q − dmin·m |

use half::{bf16, f16};

/// A ggml tensor type (the numbers are ggml's `ggml_type` ids, as stored in GGUF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q8_0,
    Q4K,
    BF16,
}

impl GgmlType {
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q8_0 => 8,
            GgmlType::Q4K => 12,
            GgmlType::BF16 => 30,
        }
    }

    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4K,
            30 => GgmlType::BF16,
            _ => return None,
        })
    }

    /// ggml's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "f32",
            GgmlType::F16 => "f16",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q4K => "q4_K",
            GgmlType::BF16 => "bf16",
        }
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q8_0 => 32,
            GgmlType::Q4K => 256,
        }
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q8_0 => 34,
            GgmlType::Q4K => 144,
        }
    }

    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Bytes of `n` elements (`n` a multiple of the block size).
    pub fn row_bytes(self, n: usize) -> usize {
        n / self.block_size() * self.type_size()
    }
}

/// ggml's `nearest_int`: round half to even via the 1.5·2^23 trick (valid for |x| < 2^22).
#[inline]
fn nearest_int(x: f32) -> i32 {
    debug_assert!(x.abs() <= 4194303.0);
    let v = x + 12582912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// Encodes a row (length a multiple of the block size).
pub fn quantize_row(t: GgmlType, x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % t.block_size(), 0, "row length {} is not a multiple of {}", x.len(), t.block_size());
    let mut out = Vec::with_capacity(t.row_bytes(x.len()));
    match t {
        GgmlType::F32 => x.iter().for_each(|v| out.extend(v.to_le_bytes())),
        GgmlType::F16 => x.iter().for_each(|v| out.extend(f16::from_f32(*v).to_le_bytes())),
        GgmlType::BF16 => x.iter().for_each(|v| out.extend(bf16::from_f32(*v).to_le_bytes())),
        GgmlType::Q8_0 => x.chunks_exact(32).for_each(|b| quantize_q8_0(b, &mut out)),
        GgmlType::Q4_0 => x.chunks_exact(32).for_each(|b| quantize_q4_0(b, &mut out)),
        GgmlType::Q4K => x.chunks_exact(256).for_each(|b| quantize_q4_k(b, &mut out)),
    }
    out
}

/// Decodes `n` elements from `bytes` into `out` (cleared first).
pub fn dequantize_row(t: GgmlType, bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    match t {
        GgmlType::F32 => out.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        GgmlType::F16 => out.extend(bytes.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())),
        GgmlType::BF16 => out.extend(bytes.chunks_exact(2).map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())),
        GgmlType::Q8_0 => bytes.chunks_exact(34).for_each(|b| {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            out.extend(b[2..34].iter().map(|&q| d * (q as i8) as f32));
        }),
        GgmlType::Q4_0 => bytes.chunks_exact(18).for_each(|b| {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            let qs = &b[2..18];
            out.extend(qs.iter().map(|&q| ((q & 0x0f) as i32 - 8) as f32 * d));
            out.extend(qs.iter().map(|&q| ((q >> 4) as i32 - 8) as f32 * d));
        }),
        GgmlType::Q4K => bytes.chunks_exact(144).for_each(|b| dequantize_q4_k(b, out)),
    }
}

/// Where encoded data holds NaN or ±Inf, as found by [`find_nonfinite`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// Bad elements (F32/F16/BF16) or blocks with a bad scale (block formats).
    pub count: usize,
    /// Index of the first bad element or block.
    pub first: usize,
    /// Its value (of the element, or of the bad scale).
    pub value: f32,
    /// `None` for an element; for a block, the scale field that is bad (`d` or `dmin`).
    pub field: Option<&'static str>,
}

/// Scans `bytes` of type `t` for NaN/±Inf: every element of F32/F16/BF16 data, and the block
/// scales of the block formats (Q8_0/Q4_0 `d`; Q4_K's super-block `d` and `dmin`). Those
/// suffice: every value a block decodes to is a finite scale times a small integer (at most
/// 65504·127), so a block with finite scales decodes to finite values. Reads the bit patterns
/// only (an exponent of all ones), in parallel over large data; `None` when all are finite.
pub fn find_nonfinite(t: GgmlType, bytes: &[u8]) -> Option<NonFinite> {
    use rayon::prelude::*;
    let f16_bad = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) & 0x7c00 == 0x7c00;
    let bad = |item: &[u8]| -> bool {
        match t {
            GgmlType::F32 => u32::from_le_bytes([item[0], item[1], item[2], item[3]]) & 0x7f80_0000 == 0x7f80_0000,
            GgmlType::F16 | GgmlType::Q8_0 | GgmlType::Q4_0 => f16_bad(item),
            GgmlType::BF16 => u16::from_le_bytes([item[0], item[1]]) & 0x7f80 == 0x7f80,
            GgmlType::Q4K => f16_bad(item) || f16_bad(&item[2..4]),
        }
    };
    let size = t.type_size();
    // (count, first index) over a run of items starting at item `base`.
    let scan = |base: usize, run: &[u8]| -> (usize, Option<usize>) {
        let mut first = None;
        let mut count = 0;
        for (i, item) in run.chunks_exact(size).enumerate() {
            if bad(item) {
                count += 1;
                first.get_or_insert(base + i);
            }
        }
        (count, first)
    };
    // About 1 MiB of data per task.
    const CHUNK_BYTES: usize = 1 << 20;
    let per_task = (CHUNK_BYTES / size).max(1);
    let (count, first) = if bytes.len() <= CHUNK_BYTES {
        scan(0, bytes)
    } else {
        bytes.par_chunks(per_task * size).enumerate().map(|(k, run)| scan(k * per_task, run)).reduce(
            || (0, None),
            |a, b| {
                let first = match (a.1, b.1) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                (a.0 + b.0, first)
            },
        )
    };
    let first = first?;
    let item = &bytes[first * size..(first + 1) * size];
    let half = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
    let (value, field) = match t {
        GgmlType::F32 => (f32::from_le_bytes([item[0], item[1], item[2], item[3]]), None),
        GgmlType::F16 => (half(item), None),
        GgmlType::BF16 => (bf16::from_le_bytes([item[0], item[1]]).to_f32(), None),
        GgmlType::Q8_0 | GgmlType::Q4_0 => (half(item), Some("d")),
        GgmlType::Q4K if f16_bad(item) => (half(item), Some("d")),
        GgmlType::Q4K => (half(&item[2..4]), Some("dmin")),
    };
    Some(NonFinite { count, first, value, field })
}

/// Decodes a whole row into a new vector.
pub fn dequantize(t: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let mut v = Vec::new();
    dequantize_row(t, bytes, &mut v);
    v
}

fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    // C's roundf: half away from zero (Rust's f32::round).
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

fn quantize_q4_0(x: &[f32], out: &mut Vec<u8>) {
    // The signed value of largest magnitude (first one on ties) maps to -8.
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    for j in 0..16 {
        // Truncation toward zero after +8.5, capped at 15.
        let q0 = ((x[j] * id + 8.5) as i8).min(15) as u8;
        let q1 = ((x[16 + j] * id + 8.5) as i8).min(15) as u8;
        out.push(q0 | (q1 << 4));
    }
}

/// ggml's `make_qkx2_quants`: an affine quantizer x ≈ scale·L + min (min ≤ 0) over `x`,
/// weighted least squares refined over `nstep` trial scales. Returns (scale, -min).
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.iter_mut().for_each(|v| *v = 0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..n {
        let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        l[i] = q as u8;
        let diff = scale * l[i] as f32 + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    if nstep < 1 {
        return (scale, -min);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..n {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = q as u8;
            let w = weights[i];
            let lf = q as f32;
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..n {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                l.copy_from_slice(laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// Scale and min (6 bits each) of sub-block `j` from Q4_K's 12 packed bytes.
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

fn quantize_q4_k(x: &[f32], out: &mut Vec<u8>) {
    let mut l = [0u8; 256];
    let mut laux = [0u8; 32];
    let mut weights = [0.0f32; 32];
    let mut scales = [0.0f32; 8];
    let mut mins = [0.0f32; 8];
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let sum_x2: f32 = xs.iter().fold(0.0, |s, v| s + v * v);
        let av_x = (sum_x2 / 32.0).sqrt();
        for (w, v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        let (sc, mn) = make_qkx2_quants(15, xs, &weights, &mut l[32 * j..32 * j + 32], &mut laux, -1.0, 0.1, 20);
        scales[j] = sc;
        mins[j] = mn;
        if sc > max_scale {
            max_scale = sc;
        }
        if mn > max_min {
            max_min = mn;
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut packed = [0u8; 12];
    for j in 0..8 {
        let ls = nearest_int(inv_scale * scales[j]).min(63) as u8;
        let lm = nearest_int(inv_min * mins[j]).min(63) as u8;
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    let d = f16::from_f32(max_scale / 63.0);
    let dmin = f16::from_f32(max_min / 63.0);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &packed);
        let dd = d.to_f32() * sc as f32;
        if dd == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * m as f32;
        for ii in 0..32 {
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / dd).clamp(0, 15) as u8;
        }
    }
    out.extend(d.to_le_bytes());
    out.extend(dmin.to_le_bytes());
    out.extend(packed);
    for j in (0..256).step_by(64) {
        for i in 0..32 {
            out.push(l[j + i] | (l[j + i + 32] << 4));
        }
    }
}

fn dequantize_q4_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
    let min = f16::from_le_bytes([b[2], b[3]]).to_f32();
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (k, q) in qs.chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * k, scales);
        let (sc2, m2) = scale_min_k4(2 * k + 1, scales);
        let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
        out.extend(q.iter().map(|&v| d1 * (v & 0x0f) as f32 - m1));
        out.extend(q.iter().map(|&v| d2 * (v >> 4) as f32 - m2));
    }
}

/// Σ a·b over a row of quantized weights `w` and f32 activations `x` (same length), block by
/// block without materializing the f32 row.
pub fn dot_row(t: GgmlType, w: &[u8], x: &[f32]) -> f32 {
    match t {
        GgmlType::Q8_0 => {
            let mut acc = 0.0f32;
            for (b, xs) in w.chunks_exact(34).zip(x.chunks_exact(32)) {
                let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
                let mut s = 0.0f32;
                for (q, v) in b[2..34].iter().zip(xs) {
                    s += (*q as i8) as f32 * v;
                }
                acc += d * s;
            }
            acc
        }
        GgmlType::Q4_0 => {
            let mut acc = 0.0f32;
            for (b, xs) in w.chunks_exact(18).zip(x.chunks_exact(32)) {
                let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
                let mut s = 0.0f32;
                for (j, q) in b[2..18].iter().enumerate() {
                    s += ((q & 0x0f) as i32 - 8) as f32 * xs[j] + ((q >> 4) as i32 - 8) as f32 * xs[16 + j];
                }
                acc += d * s;
            }
            acc
        }
        GgmlType::Q4K => {
            let mut acc = 0.0f32;
            for (b, xs) in w.chunks_exact(144).zip(x.chunks_exact(256)) {
                let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
                let min = f16::from_le_bytes([b[2], b[3]]).to_f32();
                let scales = &b[4..16];
                for (k, q) in b[16..144].chunks_exact(32).enumerate() {
                    let (sc1, m1) = scale_min_k4(2 * k, scales);
                    let (sc2, m2) = scale_min_k4(2 * k + 1, scales);
                    let x1 = &xs[64 * k..64 * k + 32];
                    let x2 = &xs[64 * k + 32..64 * k + 64];
                    let (mut s1, mut s2, mut t1, mut t2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
                    for i in 0..32 {
                        s1 += (q[i] & 0x0f) as f32 * x1[i];
                        s2 += (q[i] >> 4) as f32 * x2[i];
                        t1 += x1[i];
                        t2 += x2[i];
                    }
                    acc += d * (sc1 as f32 * s1 + sc2 as f32 * s2) - min * (m1 as f32 * t1 + m2 as f32 * t2);
                }
            }
            acc
        }
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => {
            let v = dequantize(t, w);
            v.iter().zip(x).map(|(a, b)| a * b).sum()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(
            [nearest_int(0.5), nearest_int(1.5), nearest_int(2.5), nearest_int(-0.5), nearest_int(-1.5)],
            [0, 2, 2, 0, -2]
        );
        assert_eq!([nearest_int(2.4999), nearest_int(-7.6)], [2, -8]);
    }

    #[test]
    fn q8_0_hand_computed_block() {
        // amax 127 -> d = 1: values round half away from zero.
        let mut x = [0.0f32; 32];
        x[0] = 127.0;
        x[1] = -2.5;
        x[2] = 0.5;
        let b = quantize_row(GgmlType::Q8_0, &x);
        assert_eq!(b.len(), 34);
        assert_eq!(f16::from_le_bytes([b[0], b[1]]).to_f32(), 1.0);
        assert_eq!([b[2] as i8, b[3] as i8, b[4] as i8], [127, -3, 1]);
    }

    #[test]
    fn q4_0_hand_computed_block() {
        // max magnitude -16 -> d = 2, id = 0.5; q = trunc(x/2 + 8.5) capped at 15.
        let mut x = [0.0f32; 32];
        x[0] = -16.0; // -> 0
        x[1] = 14.0; // 15.5 -> 15
        x[16] = 1.0; // 9.0 -> 9
        x[17] = -1.1; // 7.95 -> 7
        let b = quantize_row(GgmlType::Q4_0, &x);
        assert_eq!(b.len(), 18);
        assert_eq!(f16::from_le_bytes([b[0], b[1]]).to_f32(), 2.0);
        assert_eq!(b[2], 9 << 4);
        assert_eq!(b[3], 15 | (7 << 4));
        assert_eq!(b[4], 8 | (8 << 4)); // zeros
        let d = dequantize(GgmlType::Q4_0, &b);
        assert_eq!([d[0], d[1], d[16], d[17]], [-16.0, 14.0, 2.0, -2.0]);
    }

    #[test]
    fn scale_min_packing_round_trips() {
        // Pack 8 (scale, min) pairs of 6 bits as the quantizer does, read them back.
        let pairs: Vec<(u8, u8)> = (0..8).map(|j| ((j * 9 + 5) as u8 % 64, (63 - j * 7) as u8)).collect();
        let mut p = [0u8; 12];
        for (j, &(ls, lm)) in pairs.iter().enumerate() {
            if j < 4 {
                p[j] = ls;
                p[j + 4] = lm;
            } else {
                p[j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
                p[j - 4] |= (ls >> 4) << 6;
                p[j] |= (lm >> 4) << 6;
            }
        }
        for (j, &pair) in pairs.iter().enumerate() {
            assert_eq!(scale_min_k4(j, &p), pair);
        }
    }
}
