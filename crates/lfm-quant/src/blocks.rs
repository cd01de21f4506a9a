//! ggml's tensor element types and block formats, byte for byte: F32, F16, BF16, Q8_0, Q4_0,
//! Q5_0, Q5_1, Q4_K, Q5_K and Q6_K (llama.cpp's `ggml-common.h` layouts, `ggml-quants.c`
//! reference quantizers, which are also what `llama-quantize` runs without an imatrix).
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
//! | Q5_0 | 32 | 22 | f16 d, 4 bytes of fifth bits (bit j = element j), 16 bytes of nibbles as Q4_0; x = d·(q−16) |
//! | Q5_1 | 32 | 24 | f16 d, f16 m, fifth bits and nibbles as Q5_0; x = d·q + m |
//! | Q4_K | 256 | 144 | f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of nibbles; x = d·sc·q − dmin·m |
//! | Q5_K | 256 | 176 | as Q4_K, then 32 bytes of fifth bits (bit 2k / 2k+1 of byte i: element i of sub-block 2k / 2k+1), then the nibbles; x = d·sc·q − dmin·m |
//! | Q6_K | 256 | 210 | 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 × i8 scales (sub-blocks of 16), f16 d; x = d·sc·(q−32) |

use half::{bf16, f16};

/// A ggml tensor type (the numbers are ggml's `ggml_type` ids, as stored in GGUF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
    BF16,
}

impl GgmlType {
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q5_0 => 6,
            GgmlType::Q5_1 => 7,
            GgmlType::Q8_0 => 8,
            GgmlType::Q4K => 12,
            GgmlType::Q5K => 13,
            GgmlType::Q6K => 14,
            GgmlType::BF16 => 30,
        }
    }

    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            6 => GgmlType::Q5_0,
            7 => GgmlType::Q5_1,
            8 => GgmlType::Q8_0,
            12 => GgmlType::Q4K,
            13 => GgmlType::Q5K,
            14 => GgmlType::Q6K,
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
            GgmlType::Q5_0 => "q5_0",
            GgmlType::Q5_1 => "q5_1",
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q4K => "q4_K",
            GgmlType::Q5K => "q5_K",
            GgmlType::Q6K => "q6_K",
            GgmlType::BF16 => "bf16",
        }
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q8_0 => 32,
            GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q4_0 => 18,
            GgmlType::Q5_0 => 22,
            GgmlType::Q5_1 => 24,
            GgmlType::Q8_0 => 34,
            GgmlType::Q4K => 144,
            GgmlType::Q5K => 176,
            GgmlType::Q6K => 210,
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
        GgmlType::Q5_0 => x.chunks_exact(32).for_each(|b| quantize_q5_0(b, &mut out)),
        GgmlType::Q5_1 => x.chunks_exact(32).for_each(|b| quantize_q5_1(b, &mut out)),
        GgmlType::Q5K => x.chunks_exact(256).for_each(|b| quantize_q5_k(b, &mut out)),
        GgmlType::Q6K => x.chunks_exact(256).for_each(|b| quantize_q6_k(b, &mut out)),
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
        GgmlType::Q5_0 => bytes.chunks_exact(22).for_each(|b| {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            let q = q5_values(&b[2..6], &b[6..22]);
            out.extend(q.iter().map(|&v| (v as i32 - 16) as f32 * d));
        }),
        GgmlType::Q5_1 => bytes.chunks_exact(24).for_each(|b| {
            let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
            let m = f16::from_le_bytes([b[2], b[3]]).to_f32();
            let q = q5_values(&b[4..8], &b[8..24]);
            out.extend(q.iter().map(|&v| v as f32 * d + m));
        }),
        GgmlType::Q5K => bytes.chunks_exact(176).for_each(|b| dequantize_q5_k(b, out)),
        GgmlType::Q6K => bytes.chunks_exact(210).for_each(|b| dequantize_q6_k(b, out)),
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
/// scales of the block formats (Q8_0/Q4_0/Q5_0/Q6_K `d`; Q5_1's `d` and `m`; Q4_K/Q5_K's
/// super-block `d` and `dmin`). Those suffice: every value a block decodes to is a finite
/// scale times a small integer (at most 65504·127·32), plus a finite offset, so a block with
/// finite scales decodes to finite values. Reads the bit patterns
/// only (an exponent of all ones), in parallel over large data; `None` when all are finite.
pub fn find_nonfinite(t: GgmlType, bytes: &[u8]) -> Option<NonFinite> {
    use rayon::prelude::*;
    let f16_bad = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) & 0x7c00 == 0x7c00;
    let bad = |item: &[u8]| -> bool {
        match t {
            GgmlType::F32 => u32::from_le_bytes([item[0], item[1], item[2], item[3]]) & 0x7f80_0000 == 0x7f80_0000,
            GgmlType::F16 | GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => f16_bad(item),
            GgmlType::BF16 => u16::from_le_bytes([item[0], item[1]]) & 0x7f80 == 0x7f80,
            GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q5_1 => f16_bad(item) || f16_bad(&item[2..4]),
            GgmlType::Q6K => f16_bad(&item[208..210]),
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
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => (half(item), Some("d")),
        GgmlType::Q6K => (half(&item[208..210]), Some("d")),
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q5_1 if f16_bad(item) => (half(item), Some("d")),
        GgmlType::Q5_1 => (half(&item[2..4]), Some("m")),
        GgmlType::Q4K | GgmlType::Q5K => (half(&item[2..4]), Some("dmin")),
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

/// The affine K-quant super-block shared by Q4_K (`nmax` 15) and Q5_K (31): each sub-block of
/// 32 gets a weighted `make_qkx2_quants` fit (weights `rms + |x|`), the scales and mins are
/// quantized to 6 bits against the largest of each, and the values are re-rounded with the
/// quantized scales. Returns `(d, dmin, packed scales/mins, levels)`.
fn k_affine_block(x: &[f32], nmax: i32, rmin: f32, nstep: i32) -> (f16, f16, [u8; 12], [u8; 256]) {
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
        let (sc, mn) = make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..32 * j + 32], &mut laux, rmin, 0.1, nstep);
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
        // ggml stores the rounded value in a u8 before capping it at 63.
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
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
            l[32 * j + ii] = nearest_int((x[32 * j + ii] + dm) / dd).clamp(0, nmax) as u8;
        }
    }
    (d, dmin, packed, l)
}

fn quantize_q4_k(x: &[f32], out: &mut Vec<u8>) {
    let (d, dmin, packed, l) = k_affine_block(x, 15, -1.0, 20);
    out.extend(d.to_le_bytes());
    out.extend(dmin.to_le_bytes());
    out.extend(packed);
    for j in (0..256).step_by(64) {
        for i in 0..32 {
            out.push(l[j + i] | (l[j + i + 32] << 4));
        }
    }
}

fn quantize_q5_k(x: &[f32], out: &mut Vec<u8>) {
    let (d, dmin, packed, l) = k_affine_block(x, 31, -0.5, 15);
    out.extend(d.to_le_bytes());
    out.extend(dmin.to_le_bytes());
    out.extend(packed);
    // Fifth bits: sub-block 2k sets bit 2k of byte i (its element i), sub-block 2k + 1 bit 2k + 1.
    let mut qh = [0u8; 32];
    let mut ql = [0u8; 128];
    for (k, n) in (0..256).step_by(64).enumerate() {
        for i in 0..32 {
            let (l1, l2) = (l[n + i], l[n + i + 32]);
            qh[i] |= (l1 >> 4) << (2 * k) | (l2 >> 4) << (2 * k + 1);
            ql[32 * k + i] = (l1 & 0x0f) | ((l2 & 0x0f) << 4);
        }
    }
    out.extend(qh);
    out.extend(ql);
}

/// The 32 five-bit values of a Q5_0/Q5_1 block from its fifth bits and nibbles.
#[inline]
pub(crate) fn q5_values(qh: &[u8], qs: &[u8]) -> [u8; 32] {
    let h = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut v = [0u8; 32];
    for j in 0..16 {
        v[j] = (qs[j] & 0x0f) | (((h >> j) & 1) << 4) as u8;
        v[16 + j] = (qs[j] >> 4) | (((h >> (16 + j)) & 1) << 4) as u8;
    }
    v
}

/// Packs 32 five-bit values as Q5_0/Q5_1's fifth bits then nibbles.
fn push_q5(v: &[u8; 32], out: &mut Vec<u8>) {
    let mut h = 0u32;
    for (j, &q) in v.iter().enumerate() {
        h |= ((q as u32 >> 4) & 1) << j;
    }
    out.extend(h.to_le_bytes());
    out.extend((0..16).map(|j| (v[j] & 0x0f) | ((v[16 + j] & 0x0f) << 4)));
}

fn quantize_q5_0(x: &[f32], out: &mut Vec<u8>) {
    // As Q4_0 with 32 levels: the value of largest magnitude (first on ties) maps to -16.
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    // Truncation toward zero after +16.5, capped at 31.
    let v: [u8; 32] = std::array::from_fn(|j| ((x[j] * id + 16.5) as i8).min(31) as u8);
    push_q5(&v, out);
}

fn quantize_q5_1(x: &[f32], out: &mut Vec<u8>) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend(f16::from_f32(d).to_le_bytes());
    out.extend(f16::from_f32(min).to_le_bytes());
    // Truncation after +0.5 (the values are ≥ 0).
    let v: [u8; 32] = std::array::from_fn(|j| ((x[j] - min) * id + 0.5) as u8);
    push_q5(&v, out);
}

/// ggml's `make_qx_quants` with `rmse_type = 1` and no importance weights (what Q6_K's
/// reference quantizer uses): a symmetric scale for levels in `[-nmax, nmax)`, refined over 18
/// trial scales by the x²-weighted least-squares fit. Writes `level + nmax` into `l`.
fn make_qx_quants_rmse1(nmax: i32, x: &[f32], l: &mut [u8]) -> f32 {
    let (mut max, mut amax) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < 1e-15 {
        l.iter_mut().for_each(|v| *v = 0);
        return 0.0;
    }
    let level = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    // Σ w·x·l and Σ w·l² with w = x², in ggml's order of operations.
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let q = level(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * q;
            suml2 += w * q * q;
        }
        (sumlx, suml2)
    };
    let mut iscale = -(nmax as f32) / max;
    for (o, &v) in l.iter_mut().zip(x) {
        *o = (level(iscale, v) + nmax) as u8;
    }
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (o, &v) in l.iter_mut().zip(x) {
                *o = (level(iscale, v) + nmax) as u8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

fn quantize_q6_k(x: &[f32], out: &mut Vec<u8>) {
    let mut l = [0u8; 256];
    let mut scales = [0.0f32; 16];
    let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
    for ib in 0..16 {
        let scale = make_qx_quants_rmse1(32, &x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
        scales[ib] = scale;
        if scale.abs() > max_abs_scale {
            max_abs_scale = scale.abs();
            max_scale = scale;
        }
    }
    if max_abs_scale < 1e-15 {
        out.extend([0u8; 210]);
        return;
    }
    let iscale = -128.0 / max_scale;
    let d = f16::from_f32(1.0 / iscale);
    let sc: [i8; 16] = std::array::from_fn(|ib| nearest_int(iscale * scales[ib]).min(127) as i8);
    for j in 0..16 {
        let dd = d.to_f32() * sc[j] as f32;
        if dd == 0.0 {
            continue;
        }
        for ii in 0..16 {
            l[16 * j + ii] = (nearest_int(x[16 * j + ii] / dd).clamp(-32, 31) + 32) as u8;
        }
    }
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    for (h, j) in (0..256).step_by(128).enumerate() {
        for i in 0..32 {
            let q = [l[j + i], l[j + i + 32], l[j + i + 64], l[j + i + 96]];
            ql[64 * h + i] = (q[0] & 0x0f) | ((q[2] & 0x0f) << 4);
            ql[64 * h + i + 32] = (q[1] & 0x0f) | ((q[3] & 0x0f) << 4);
            qh[32 * h + i] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
        }
    }
    out.extend(ql);
    out.extend(qh);
    out.extend(sc.iter().map(|&v| v as u8));
    out.extend(d.to_le_bytes());
}

/// The 256 six-bit values (0..64, before the −32) and 16 scales of a Q6_K block.
#[inline]
pub(crate) fn q6k_values(b: &[u8]) -> [u8; 256] {
    let (ql, qh) = (&b[..128], &b[128..192]);
    let mut v = [0u8; 256];
    for h in 0..2 {
        for i in 0..32 {
            let (lo, hi, hb) = (ql[64 * h + i], ql[64 * h + i + 32], qh[32 * h + i]);
            v[128 * h + i] = (lo & 0x0f) | ((hb & 3) << 4);
            v[128 * h + i + 32] = (hi & 0x0f) | (((hb >> 2) & 3) << 4);
            v[128 * h + i + 64] = (lo >> 4) | (((hb >> 4) & 3) << 4);
            v[128 * h + i + 96] = (hi >> 4) | (((hb >> 6) & 3) << 4);
        }
    }
    v
}

fn dequantize_q6_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16::from_le_bytes([b[208], b[209]]).to_f32();
    let v = q6k_values(b);
    for (i, &q) in v.iter().enumerate() {
        let sc = b[192 + i / 16] as i8;
        out.push(d * sc as f32 * (q as i32 - 32) as f32);
    }
}

/// The 256 five-bit values of a Q5_K block (sub-block order).
#[inline]
pub(crate) fn q5k_values(b: &[u8]) -> [u8; 256] {
    let (qh, ql) = (&b[16..48], &b[48..176]);
    let mut v = [0u8; 256];
    for k in 0..4 {
        for i in 0..32 {
            let q = ql[32 * k + i];
            v[64 * k + i] = (q & 0x0f) | (((qh[i] >> (2 * k)) & 1) << 4);
            v[64 * k + 32 + i] = (q >> 4) | (((qh[i] >> (2 * k + 1)) & 1) << 4);
        }
    }
    v
}

fn dequantize_q5_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16::from_le_bytes([b[0], b[1]]).to_f32();
    let min = f16::from_le_bytes([b[2], b[3]]).to_f32();
    let v = q5k_values(b);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, &b[4..16]);
        let (dj, mj) = (d * sc as f32, min * m as f32);
        out.extend(v[32 * j..32 * j + 32].iter().map(|&q| dj * q as f32 - mj));
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
        // Other formats (and f32/f16/bf16): decode, then one f32 dot product.
        _ => {
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
