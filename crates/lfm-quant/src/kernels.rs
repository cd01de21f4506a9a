//! Matrix kernels for packed weights: `y = x · Wᵀ` with `W` in a ggml block format.
//!
//! Hand-written (no maintained crate runs ggml blocks outside a whole inference engine).
//!
//! **Quantized weights (Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) use 8-bit activations**, as llama.cpp does: each
//! input row is quantized in blocks of 32 (`d = max|x| / 127`, `q = x / d` rounded half to even,
//! an f32 scale kept per block), and a weight block meets an activation block in an integer dot product:
//!
//! - Q8_0: `Σ_b d_w·d_x·Σ_i w_i·q_i`;
//! - Q4_0: `Σ_b d_w·d_x·Σ_i (n_i − 8)·q_i`;
//! - Q4_K: for each sub-block `j` of 32, `d·sc_j·d_x·Σ_i n_i·q_i − dmin·m_j·d_x·Σ_i q_i`;
//! - Q5_0: `Σ_b d_w·d_x·Σ_i (n_i − 16)·q_i`; Q5_1: `Σ_b d_w·d_x·Σ_i n_i·q_i + m·d_x·Σ_i q_i`;
//! - Q5_K: as Q4_K with 5-bit `n_i`;
//! - Q6_K: for each activation block, its two sub-blocks of 16 with their own i8 scales:
//!   `d·d_x·(sc_2j·Σ_{i<16} (n_i − 32)·q_i + sc_2j+1·Σ_{i≥16} (n_i − 32)·q_i)`.
//!
//! The integer sums are exact, so every code path computes the same integers; paths differ only
//! in the order the f32 block terms are added. Against f32 activations the result moves by the
//! activation rounding (relative error ≈ 0.6% per dot product on Gaussian data, as for llama.cpp; tested).
//! f32/f16/bf16 weights use f32 activations and FMA; f32 rows from a GGUF file also have a
//! four-row streaming kernel for decode ([`f32_rows_dot`]).
//!
//! Code paths, chosen once per process from the CPU (`LFM_KERNEL=scalar|avx2|vnni` forces one):
//! AVX-512 VNNI (`vpdpbusd`, two blocks per 512-bit step), AVX2 (`vpmaddubsw` + `vpmaddwd`), and portable
//! scalar code that is also the reference in the tests. Each SIMD microkernel takes one weight
//! block, unpacks it once and multiplies it into up to four activation rows.

use std::sync::OnceLock;

use half::{bf16, f16};

use crate::blocks::{q5_values, q5k_values, q6k_values, scale_min_k4, GgmlType};

/// Activation rows quantized to 8 bits in blocks of 32.
pub struct Q8Acts {
    /// `n · cols` quantized values, row-major.
    pub q: Vec<i8>,
    /// One scale per block (`n · cols / 32`).
    pub d: Vec<f32>,
    /// `Σ q` per block.
    pub s: Vec<i32>,
    /// `Σ q` per half block (16 values; two per block), for Q6_K's interleaved rows.
    pub s16: Vec<i32>,
    pub cols: usize,
}

/// Quantizes `x` (`n` rows of `cols`, `cols` a multiple of 32) into 8-bit blocks of 32.
pub fn quantize_acts(x: &[f32], cols: usize) -> Q8Acts {
    assert_eq!(cols % 32, 0, "activation width {cols} is not a multiple of 32");
    assert_eq!(x.len() % cols, 0);
    let nb = x.len() / 32;
    let mut q = vec![0i8; x.len()];
    let mut d = vec![0.0f32; nb];
    let mut s = vec![0i32; nb];
    let mut s16 = vec![0i32; 2 * nb];
    let one = |xb: &[f32], qb: &mut [i8], db: &mut f32, sb: &mut i32, hb: &mut [i32]| {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        for (o, v) in qb.iter_mut().zip(xb) {
            // Round half to even by the 1.5·2^23 trick (|v·inv| ≤ 127): vectorizes, no libm call.
            *o = ((v * inv + 12582912.0) - 12582912.0) as i8;
        }
        hb[0] = qb[..16].iter().map(|&v| v as i32).sum();
        hb[1] = qb[16..].iter().map(|&v| v as i32).sum();
        *db = scale;
        *sb = hb[0] + hb[1];
    };
    let rows = x.len() / cols;
    let bpr = cols / 32;
    let run = |x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [i32], h: &mut [i32]| {
        for ((((xb, qb), db), sb), hb) in x
            .chunks_exact(32)
            .zip(q.chunks_exact_mut(32))
            .zip(d.iter_mut())
            .zip(s.iter_mut())
            .zip(h.chunks_exact_mut(2))
        {
            one(xb, qb, db, sb, hb);
        }
    };
    if rows >= 16 && lfm_model::host::threads() > 1 {
        use rayon::prelude::*;
        x.par_chunks(cols)
            .zip(q.par_chunks_mut(cols))
            .zip(d.par_chunks_mut(bpr))
            .zip(s.par_chunks_mut(bpr))
            .zip(s16.par_chunks_mut(2 * bpr))
            .for_each(|((((x, q), d), s), h)| run(x, q, d, s, h));
    } else {
        run(x, &mut q, &mut d, &mut s, &mut s16);
    }
    Q8Acts { q, d, s, s16, cols }
}

/// Which code path runs the kernels.
///
/// A name for a path, not a proof that the CPU has it: any variant can be written by hand, so
/// [`row_dots`] checks the one it is given against the CPU's features (detected once per
/// process and cached) and panics on a path this CPU cannot run. Code that wants to compare
/// paths iterates [`Isa::available`]; [`Isa::current`] is the one the library uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Vnni,
}

impl Isa {
    /// The paths this CPU can run, slowest first, detected on the first call.
    fn detected() -> &'static [Isa] {
        static DETECTED: OnceLock<Vec<Isa>> = OnceLock::new();
        DETECTED.get_or_init(|| {
            let mut v = vec![Isa::Scalar];
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
                {
                    v.push(Isa::Avx2);
                    if is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx512vnni")
                        && is_x86_feature_detected!("avx512vl")
                        && is_x86_feature_detected!("avx512bw")
                    {
                        v.push(Isa::Vnni);
                    }
                }
            }
            v
        })
    }

    /// The paths this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        Isa::detected().to_vec()
    }

    /// Whether this CPU can run the path (a cached look-up, cheap enough for every call).
    #[inline]
    pub fn is_available(self) -> bool {
        Isa::detected().contains(&self)
    }

    /// The path in use: the fastest available, or `LFM_KERNEL` if it names an available one.
    pub fn current() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let avail = Isa::available();
            let forced = std::env::var("LFM_KERNEL").ok().and_then(|v| match v.as_str() {
                "scalar" => Some(Isa::Scalar),
                "avx2" => Some(Isa::Avx2),
                "vnni" => Some(Isa::Vnni),
                _ => None,
            });
            match forced {
                Some(f) if avail.contains(&f) => f,
                _ => *avail.last().unwrap(),
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Vnni => "avx512-vnni",
        }
    }
}

/// The inputs of one matmul: 8-bit blocks for quantized weights, f32 rows otherwise.
pub enum Acts<'a> {
    Q8(Q8Acts),
    F32 { x: &'a [f32], cols: usize },
}

impl<'a> Acts<'a> {
    /// Prepares `x` (`n` rows of `cols`) for weights of type `ty`.
    pub fn new(ty: GgmlType, x: &'a [f32], cols: usize) -> Self {
        if ty.is_quantized() {
            Acts::Q8(quantize_acts(x, cols))
        } else {
            Acts::F32 { x, cols }
        }
    }
}

/// A path this CPU was found to run: only [`Checked::new`] makes one, so holding it is the proof
/// that the SIMD code it selects may run here.
#[derive(Clone, Copy)]
struct Checked(Isa);

impl Checked {
    /// Checks `isa` against the CPU (a cached look-up); panics if this CPU cannot run it.
    #[inline]
    fn new(isa: Isa) -> Self {
        assert!(isa.is_available(), "the {} kernels need CPU features this CPU lacks", isa.name());
        Checked(isa)
    }
}

/// `out[k] = dot(w, acts row r0 + k)` for `k < out.len()`: one weight row (`ty` blocks) against
/// consecutive activation rows.
///
/// Panics if this CPU cannot run `isa` (see [`Isa::available`]), if `w` is not one row of `ty`
/// at the activations' width, or if `ty` does not suit the activations (block formats take
/// [`Acts::Q8`], f32/f16/bf16 take [`Acts::F32`]).
pub fn row_dots(isa: Isa, ty: GgmlType, w: &[u8], acts: &Acts, r0: usize, out: &mut [f32]) {
    // Once per call (one weight row), not per block or per microkernel step.
    let isa = Checked::new(isa);
    let mut k = 0;
    while k < out.len() {
        // Up to 8 activation rows per pass: the weight block is unpacked once for all of them
        // (Q6_K's unpacking costs more than its integer dots).
        let m = (out.len() - k).min(8);
        let m = if m > 4 && m < 8 { 4 } else { m };
        let o = &mut out[k..k + m];
        match m {
            8 => dots::<8>(isa, ty, w, acts, r0 + k, o),
            4 => dots::<4>(isa, ty, w, acts, r0 + k, o),
            3 => dots::<3>(isa, ty, w, acts, r0 + k, o),
            2 => dots::<2>(isa, ty, w, acts, r0 + k, o),
            _ => dots::<1>(isa, ty, w, acts, r0 + k, o),
        }
        k += m;
    }
}

fn dots<const R: usize>(isa: Checked, ty: GgmlType, w: &[u8], acts: &Acts, r0: usize, out: &mut [f32]) {
    let mut res = [0.0f32; R];
    match acts {
        Acts::Q8(a) => {
            let cols = a.cols;
            let nb = cols / 32;
            let q: [&[i8]; R] = std::array::from_fn(|k| &a.q[(r0 + k) * cols..(r0 + k + 1) * cols]);
            let d: [&[f32]; R] = std::array::from_fn(|k| &a.d[(r0 + k) * nb..(r0 + k + 1) * nb]);
            let s: [&[i32]; R] = std::array::from_fn(|k| &a.s[(r0 + k) * nb..(r0 + k + 1) * nb]);
            assert!(ty.is_quantized(), "{} weights take f32 activations", ty.name());
            assert_eq!(w.len(), ty.row_bytes(cols), "weight row length");
            match isa.0 {
                // SAFETY: `Checked` proves the CPU has AVX-512 VNNI (with AVX-512F/VL/BW, AVX2,
                // FMA and F16C). `ty` is a block format and `w` is `cols / block_size` whole
                // blocks of it (both asserted above), so `w` covers at most `cols / 32` blocks
                // of 32 elements: each `q[k]` holds `cols` values and each `d[k]`, `s[k]`
                // `cols / 32` (the slicing above is bounds-checked), which is what the kernel reads.
                #[cfg(target_arch = "x86_64")]
                Isa::Vnni => unsafe { x86::vnni::quant::<R>(ty, w, q, d, s, &mut res) },
                // SAFETY: `Checked` proves the CPU has AVX2, FMA and F16C; the slices are sized
                // as for the VNNI arm just above.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { x86::avx2::quant::<R>(ty, w, q, d, s, &mut res) },
                _ => {
                    for k in 0..R {
                        res[k] = scalar::quant(ty, w, q[k], d[k], s[k]);
                    }
                }
            }
        }
        Acts::F32 { x, cols } => {
            let cols = *cols;
            let xs: [&[f32]; R] = std::array::from_fn(|k| &x[(r0 + k) * cols..(r0 + k + 1) * cols]);
            assert!(!ty.is_quantized(), "{} weights take 8-bit activations", ty.name());
            assert_eq!(w.len(), ty.row_bytes(cols), "weight row length");
            match isa.0 {
                // SAFETY: `Checked` proves the CPU has AVX2, FMA and F16C (a VNNI CPU has them
                // too: `Isa::Vnni` is only detected on top of `Isa::Avx2`). `ty` is f32, f16 or
                // bf16 (asserted above), `w` is `cols` of its elements and every `xs[k]` holds
                // `cols` values (bounds-checked slicing), the lengths the kernel reads.
                #[cfg(target_arch = "x86_64")]
                Isa::Vnni | Isa::Avx2 => unsafe { x86::avx2::float::<R>(ty, w, xs, &mut res) },
                _ => {
                    for k in 0..R {
                        res[k] = scalar::float(ty, w, xs[k]);
                    }
                }
            }
        }
    }
    out.copy_from_slice(&res);
}

/// `out[j · n + r] = dot(row j of w, x row r)` for row-major f32 weight rows `w` (`rows` rows of
/// `cols`, little-endian bytes as in a GGUF file) and `n` activation rows `x` (`n · cols`).
/// Decode-sized products (`n` small): on AVX-512 four weight rows stream side by side against
/// up to four activation rows (16 accumulators), which keeps the loads ahead of the FMA
/// latency; elsewhere the portable float kernel.
pub fn f32_rows_dot(w: &[u8], rows: usize, cols: usize, x: &[f32], n: usize, out: &mut [f32]) {
    assert!(w.len() >= rows * cols * 4 && x.len() >= n * cols && out.len() >= rows * n, "f32_rows_dot: sizes");
    #[cfg(target_arch = "x86_64")]
    if Isa::Vnni.is_available() {
        let mut j = 0;
        while j + 4 <= rows {
            let mut r = 0;
            while r < n {
                let m = (n - r).min(4);
                let mut res = [[0.0f32; 4]; 4];
                // SAFETY: `Isa::Vnni` is only available on CPUs with AVX-512F (checked above);
                // rows j..j+4 of `w` and activation rows r..r+m hold `cols` values each (the
                // sizes are asserted above), which is what the kernel reads.
                unsafe {
                    match m {
                        4 => x86::f32_dot4::<4>(w, j, cols, x, r, &mut res),
                        3 => x86::f32_dot4::<3>(w, j, cols, x, r, &mut res),
                        2 => x86::f32_dot4::<2>(w, j, cols, x, r, &mut res),
                        _ => x86::f32_dot4::<1>(w, j, cols, x, r, &mut res),
                    }
                }
                for (q, row) in res.iter().enumerate() {
                    for k in 0..m {
                        out[(j + q) * n + r + k] = row[k];
                    }
                }
                r += m;
            }
            j += 4;
        }
        for j in j..rows {
            for r in 0..n {
                out[j * n + r] =
                    scalar::float(GgmlType::F32, &w[j * cols * 4..(j + 1) * cols * 4], &x[r * cols..(r + 1) * cols]);
            }
        }
        return;
    }
    let acts = Acts::F32 { x: &x[..n * cols], cols };
    for j in 0..rows {
        row_dots(
            Isa::current(),
            GgmlType::F32,
            &w[j * cols * 4..(j + 1) * cols * 4],
            &acts,
            0,
            &mut out[j * n..(j + 1) * n],
        );
    }
}

/// Q8_0 / Q4_0 rows repacked eight at a time for the AVX-512 VNNI path (llama.cpp's CPU
/// backend repacks in the same spirit): for each group of 8 rows and each block, the 8 scales
/// (f16), then the quantized values with 4 consecutive elements of each of the 8 rows side by
/// side, so that one `vpdpbusd` against 4 broadcast activation bytes advances 8 output rows.
///
/// - Q8_0: 8 chunks of 32 bytes, chunk `i` = rows 0..8 × elements `4i..4i+4`, stored `w + 128`
///   (unsigned for `vpdpbusd`; the `128·Σq` this adds is subtracted up front).
/// - Q4_0: 4 chunks of 32 bytes, chunk `i` holds elements `4i..4i+4` in the low nibbles and
///   `16+4i..16+4i+4` in the high nibbles (the nibble values `n`, with `8·Σq` subtracted).
///
/// - Q6_K (per 32-element block, 224 bytes): the 8 rows' super-block scales `d` (f16), their
///   two half-block scales (i8: the 8 first halves, then the 8 second halves), 4 chunks of 32
///   bytes with the low 4 bits of elements `4i..4i+4` (low nibbles) and `16+4i..16+4i+4` (high
///   nibbles), then 2 × 32 bytes of their top 2 bits (chunk `i`'s at bits `2i`, first halves
///   then second halves). Each half is its own integer sum, with `32·Σq` of the half
///   subtracted up front ([`Q8Acts::s16`]).
///
/// Only [`Interleaved::pack`] makes one (`data` is private), and only on a CPU with AVX-512
/// VNNI: a value is the proof that [`Interleaved::group_dots`] may run the VNNI kernel.
pub struct Interleaved {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    data: Vec<u8>,
}

impl Interleaved {
    /// Bytes of one (group, block) cell.
    fn cell(ty: GgmlType) -> usize {
        match ty {
            GgmlType::Q8_0 => 272,
            GgmlType::Q6K => 224,
            _ => 144,
        }
    }

    /// Repacks `rows` rows (`row_bytes` apart, from `bytes`); `None` for other formats, a row
    /// count that is not a multiple of 8, or a CPU without AVX-512 VNNI.
    pub fn pack(ty: GgmlType, bytes: &[u8], rows: usize, cols: usize) -> Option<Self> {
        if !matches!(ty, GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q6K)
            || !rows.is_multiple_of(8)
            || !Isa::Vnni.is_available()
        {
            return None;
        }
        let rb = ty.row_bytes(cols);
        let (nb, bs, cell) = (cols / 32, ty.type_size(), Self::cell(ty));
        let mut data = vec![0u8; rows / 8 * nb * cell];
        if ty == GgmlType::Q6K {
            // 256-element super-blocks of 210 bytes: values (q6k_values), 16 i8 scales at 192,
            // d (f16) at 208.
            for (gi, out) in data.chunks_exact_mut(nb * cell).enumerate() {
                for j in 0..8 {
                    let row = &bytes[(8 * gi + j) * rb..(8 * gi + j + 1) * rb];
                    for (sbi, sb) in row.chunks_exact(bs).enumerate() {
                        let v = q6k_values(sb);
                        for h in 0..8 {
                            let b = 8 * sbi + h;
                            let c = &mut out[b * cell..(b + 1) * cell];
                            c[2 * j..2 * j + 2].copy_from_slice(&sb[208..210]);
                            c[16 + j] = sb[192 + 2 * h];
                            c[24 + j] = sb[192 + 2 * h + 1];
                            let e = &v[32 * h..32 * h + 32];
                            for i in 0..4 {
                                for t in 0..4 {
                                    let (lo, hi) = (e[4 * i + t], e[16 + 4 * i + t]);
                                    c[32 + 32 * i + 4 * j + t] = (lo & 0x0f) | ((hi & 0x0f) << 4);
                                    c[160 + 4 * j + t] |= (lo >> 4) << (2 * i);
                                    c[192 + 4 * j + t] |= (hi >> 4) << (2 * i);
                                }
                            }
                        }
                    }
                }
            }
            return Some(Interleaved { ty, rows, cols, data });
        }
        for (gi, out) in data.chunks_exact_mut(nb * cell).enumerate() {
            for b in 0..nb {
                let c = &mut out[b * cell..(b + 1) * cell];
                for j in 0..8 {
                    let blk = &bytes[(8 * gi + j) * rb + b * bs..(8 * gi + j) * rb + (b + 1) * bs];
                    c[2 * j..2 * j + 2].copy_from_slice(&blk[..2]);
                    for i in 0..8 {
                        for t in 0..4 {
                            let e = 4 * i + t;
                            if ty == GgmlType::Q8_0 {
                                c[16 + 32 * i + 4 * j + t] = (blk[2 + e] as i8 as i32 + 128) as u8;
                            } else if i < 4 {
                                // ggml's byte e already holds element e (low) and 16 + e (high).
                                c[16 + 32 * i + 4 * j + t] = blk[2 + e];
                            }
                        }
                    }
                }
            }
        }
        Some(Interleaved { ty, rows, cols, data })
    }

    /// `out[k][j] = dot(row 8g + j, activation row r0 + k)` for the 8 rows of group `g`.
    pub fn group_dots(&self, g: usize, acts: &Q8Acts, r0: usize, out: &mut [[f32; 8]]) {
        self.dots::<8>(g, acts, r0, out)
    }

    /// `out[k][j] = dot(row 8g + j, activation row r0 + k)` for the 16 rows of groups `g` and
    /// `g + 1`, in 512-bit registers (the two groups side by side); the same results as two
    /// [`group_dots`](Self::group_dots), bit for bit.
    pub fn pair_dots(&self, g: usize, acts: &Q8Acts, r0: usize, out: &mut [[f32; 16]]) {
        self.dots::<16>(g, acts, r0, out)
    }

    fn dots<const W: usize>(&self, g: usize, acts: &Q8Acts, r0: usize, out: &mut [[f32; W]]) {
        // Up to 8 activation rows per pass: the weight cells are unpacked once for all of them.
        let mut k = 0;
        while k < out.len() {
            let m = (out.len() - k).min(8);
            match m {
                8 => self.group::<8, W>(g, acts, r0 + k, &mut out[k..k + 8]),
                5..=7 => {
                    self.group::<4, W>(g, acts, r0 + k, &mut out[k..k + 4]);
                    k += 4;
                    continue;
                }
                4 => self.group::<4, W>(g, acts, r0 + k, &mut out[k..k + 4]),
                3 => self.group::<3, W>(g, acts, r0 + k, &mut out[k..k + 3]),
                2 => self.group::<2, W>(g, acts, r0 + k, &mut out[k..k + 2]),
                _ => self.group::<1, W>(g, acts, r0 + k, &mut out[k..k + 1]),
            }
            k += m;
        }
    }

    /// `W / 8` groups from group `g` (W = 8 or 16) against `R` activation rows.
    fn group<const R: usize, const W: usize>(&self, g: usize, a: &Q8Acts, r0: usize, out: &mut [[f32; W]]) {
        assert!(W == 8 || W == 16);
        let (cols, nb) = (a.cols, a.cols / 32);
        assert_eq!(cols, self.cols);
        let span = nb * Self::cell(self.ty);
        let d0 = &self.data[g * span..(g + 1) * span];
        let d1 = &self.data[(g + W / 8 - 1) * span..(g + W / 8) * span];
        let q: [&[i8]; R] = std::array::from_fn(|k| &a.q[(r0 + k) * cols..(r0 + k + 1) * cols]);
        let d: [&[f32]; R] = std::array::from_fn(|k| &a.d[(r0 + k) * nb..(r0 + k + 1) * nb]);
        let s: [&[i32]; R] = if self.ty == GgmlType::Q6K {
            std::array::from_fn(|k| &a.s16[(r0 + k) * 2 * nb..(r0 + k + 1) * 2 * nb])
        } else {
            std::array::from_fn(|k| &a.s[(r0 + k) * nb..(r0 + k + 1) * nb])
        };
        let mut res = [[0.0f32; W]; R];
        // SAFETY: an `Interleaved` is only made by `pack`, which returns `None` unless this CPU
        // has AVX-512 VNNI (with AVX-512F/VL/BW, AVX2, FMA and F16C), the features the kernels
        // enable. `d0` and `d1` are `nb` cells of `Self::cell(self.ty)` bytes (bounds-checked
        // slicing above), the cell size the kernels use for `self.ty` (they assert the lengths
        // too); `cols == self.cols` (asserted), so each `q[k]` holds `32 · nb` values, each
        // `d[k]` `nb` and each `s[k]` `nb` (`2 · nb` half sums for Q6_K) (bounds-checked
        // slicing above), which is what the kernels read. `res` rows hold W = 8 (one group's
        // 256-bit store) or 16 (the pair's 512-bit store) values.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            if W == 8 {
                x86::interleaved::<R, W>(self.ty, d0, nb, q, d, s, &mut res)
            } else {
                x86::interleaved_pair::<R, W>(self.ty, d0, d1, nb, q, d, s, &mut res)
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("interleaved rows exist only on x86_64 with AVX-512 VNNI");
        out.copy_from_slice(&res);
    }
}

#[inline]
fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Q4_K's 6-bit scales and mins of the 8 sub-blocks.
#[inline]
fn q4k_scales(sc: &[u8]) -> ([f32; 8], [f32; 8]) {
    let mut s = [0.0f32; 8];
    let mut m = [0.0f32; 8];
    for j in 0..8 {
        let (a, b) = scale_min_k4(j, sc);
        s[j] = a as f32;
        m[j] = b as f32;
    }
    (s, m)
}

/// Portable code, and the reference the SIMD paths are tested against.
pub mod scalar {
    use super::*;

    /// One quantized weight row against one 8-bit activation row.
    pub fn quant(ty: GgmlType, w: &[u8], q: &[i8], d: &[f32], s: &[i32]) -> f32 {
        let mut acc = 0.0f32;
        match ty {
            GgmlType::Q8_0 => {
                for (b, blk) in w.chunks_exact(34).enumerate() {
                    let isum: i32 = blk[2..34]
                        .iter()
                        .zip(&q[32 * b..32 * b + 32])
                        .map(|(&w, &x)| (w as i8) as i32 * x as i32)
                        .sum();
                    acc += f16_at(blk, 0) * d[b] * isum as f32;
                }
            }
            GgmlType::Q4_0 => {
                for (b, blk) in w.chunks_exact(18).enumerate() {
                    let xq = &q[32 * b..32 * b + 32];
                    let mut isum = 0i32;
                    for j in 0..16 {
                        isum += ((blk[2 + j] & 0x0f) as i32 - 8) * xq[j] as i32;
                        isum += ((blk[2 + j] >> 4) as i32 - 8) * xq[16 + j] as i32;
                    }
                    acc += f16_at(blk, 0) * d[b] * isum as f32;
                }
            }
            GgmlType::Q4K => {
                for (sb, blk) in w.chunks_exact(144).enumerate() {
                    let (dd, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
                    let (sc, m) = q4k_scales(&blk[4..16]);
                    for k in 0..4 {
                        let qs = &blk[16 + 32 * k..48 + 32 * k];
                        for (j, shift) in [(2 * k, 0), (2 * k + 1, 4)] {
                            let b = 8 * sb + j;
                            let isum: i32 = qs
                                .iter()
                                .zip(&q[32 * b..32 * b + 32])
                                .map(|(&v, &x)| ((v >> shift) & 0x0f) as i32 * x as i32)
                                .sum();
                            acc += dd * sc[j] * d[b] * isum as f32 - dmin * m[j] * d[b] * s[b] as f32;
                        }
                    }
                }
            }
            GgmlType::Q5_0 | GgmlType::Q5_1 => {
                let bs = ty.type_size();
                for (b, blk) in w.chunks_exact(bs).enumerate() {
                    let off = if ty == GgmlType::Q5_0 { 2 } else { 4 };
                    let v = q5_values(&blk[off..off + 4], &blk[off + 4..off + 20]);
                    let xq = &q[32 * b..32 * b + 32];
                    if ty == GgmlType::Q5_0 {
                        let isum: i32 = v.iter().zip(xq).map(|(&n, &x)| (n as i32 - 16) * x as i32).sum();
                        acc += f16_at(blk, 0) * d[b] * isum as f32;
                    } else {
                        let isum: i32 = v.iter().zip(xq).map(|(&n, &x)| n as i32 * x as i32).sum();
                        acc += f16_at(blk, 0) * d[b] * isum as f32 + f16_at(blk, 2) * d[b] * s[b] as f32;
                    }
                }
            }
            GgmlType::Q5K => {
                for (sb, blk) in w.chunks_exact(176).enumerate() {
                    let (dd, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
                    let (sc, m) = q4k_scales(&blk[4..16]);
                    let v = q5k_values(blk);
                    for j in 0..8 {
                        let b = 8 * sb + j;
                        let isum: i32 = v[32 * j..32 * j + 32]
                            .iter()
                            .zip(&q[32 * b..32 * b + 32])
                            .map(|(&n, &x)| n as i32 * x as i32)
                            .sum();
                        acc += dd * sc[j] * d[b] * isum as f32 - dmin * m[j] * d[b] * s[b] as f32;
                    }
                }
            }
            GgmlType::Q6K => {
                for (sb, blk) in w.chunks_exact(210).enumerate() {
                    let dd = f16_at(blk, 208);
                    let v = q6k_values(blk);
                    for j in 0..8 {
                        let b = 8 * sb + j;
                        // Two sub-blocks of 16 (own i8 scales) per activation block of 32.
                        let half = |h: usize| -> i32 {
                            (0..16).map(|i| (v[32 * j + 16 * h + i] as i32 - 32) * q[32 * b + 16 * h + i] as i32).sum()
                        };
                        let (s0, s1) = (blk[192 + 2 * j] as i8 as i32, blk[193 + 2 * j] as i8 as i32);
                        acc += dd * d[b] * (s0 * half(0) + s1 * half(1)) as f32;
                    }
                }
            }
            _ => unreachable!("{} is not a block format", ty.name()),
        }
        acc
    }

    /// One f32/f16/bf16 weight row against one f32 activation row.
    pub fn float(ty: GgmlType, w: &[u8], x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let mut add = |i: usize, v: f32| acc[i % 8] += v * x[i];
        match ty {
            GgmlType::F32 => {
                w.chunks_exact(4).enumerate().for_each(|(i, c)| add(i, f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            }
            GgmlType::F16 => {
                w.chunks_exact(2).enumerate().for_each(|(i, c)| add(i, f16::from_le_bytes([c[0], c[1]]).to_f32()))
            }
            GgmlType::BF16 => {
                w.chunks_exact(2).enumerate().for_each(|(i, c)| add(i, bf16::from_le_bytes([c[0], c[1]]).to_f32()))
            }
            _ => unreachable!("{} is a block format", ty.name()),
        }
        acc.iter().sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{q4k_scales, GgmlType};

    /// 32-element blocks in the whole `ty` blocks of a weight row of `len` bytes: the number of
    /// activation blocks a kernel reads (for the `debug_assert!`s of its preconditions).
    fn act_blocks(ty: GgmlType, len: usize) -> usize {
        len / ty.type_size() * (ty.block_size() / 32)
    }

    /// Σ of u8 × i8 products in groups of four, as 8 i32 lanes (AVX2).
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn mulsum_avx2(a: __m256i, b: __m256i) -> __m256i {
        _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1))
    }

    /// The same with one AVX-512 VNNI instruction.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2, AVX-512F, AVX-512VL, AVX-512BW and AVX-512 VNNI.
    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn mulsum_vnni(a: __m256i, b: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b)
    }

    /// The little-endian f16 at `p` as f32.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2 and F16C, and `p` must be valid for reading 2 bytes (any
    /// alignment).
    #[target_feature(enable = "avx2,f16c")]
    #[inline]
    unsafe fn f16_to_f32(p: *const u8) -> f32 {
        let bits = std::ptr::read_unaligned(p as *const u16);
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }

    /// The 32 bits of `h` as 32 bytes: byte `i` is 0x10 where bit `i` is set, else 0 (Q5_0 /
    /// Q5_1's fifth bits, in place).
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn fifth_bits(h: u32) -> __m256i {
        // Byte i takes byte i / 8 of h, keeps bit i % 8, and becomes 0x10 if it was set.
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(h as i32),
            _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0),
        );
        let bit = _mm256_set1_epi64x(0x8040201008040201u64 as i64);
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        _mm256_and_si256(set, _mm256_set1_epi8(0x10))
    }

    /// The sum of the 8 lanes.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    macro_rules! quant_kernels {
        ($name:ident, $feat:literal, $mulsum:ident) => {
            pub mod $name {
                use super::*;

                /// One quantized weight row against `R` 8-bit activation rows.
                ///
                /// # Safety
                ///
                /// The CPU must have the features this function enables (AVX2, FMA and F16C;
                /// for `vnni_q` also AVX-512F, AVX-512VL, AVX-512BW and AVX-512 VNNI). With `nb`
                /// the number of 32-element blocks in the whole `ty` blocks of `w` (trailing
                /// bytes are ignored), every `q[k]` must hold at least `32 · nb` values and
                /// every `d[k]` and `s[k]` at least `nb`: the kernel reads them unchecked. A
                /// `ty` that is no block format panics before any read.
                #[target_feature(enable = $feat)]
                pub unsafe fn quant<const R: usize>(
                    ty: GgmlType,
                    w: &[u8],
                    q: [&[i8]; R],
                    d: [&[f32]; R],
                    s: [&[i32]; R],
                    out: &mut [f32; R],
                ) {
                    let nb = act_blocks(ty, w.len());
                    debug_assert!((0..R).all(|k| q[k].len() >= 32 * nb && d[k].len() >= nb && s[k].len() >= nb));
                    let mut acc = [_mm256_setzero_ps(); R];
                    let mut corr = [0.0f32; R];
                    let wp = w.as_ptr();
                    let m4 = _mm256_set1_epi8(0x0f);
                    match ty {
                        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => {
                            // Signed values (Q4_0's nibbles − 8, Q5_0's five bits − 16), then
                            // the sign trick: |w| · sign(x, w) (no per-block scalar correction,
                            // whose dependency chain was the limit).
                            let bs = ty.type_size();
                            let (eight, sixteen) = (_mm256_set1_epi8(8), _mm256_set1_epi8(16));
                            for b in 0..w.len() / bs {
                                let blk = wp.add(bs * b);
                                let dw = f16_to_f32(blk);
                                let wv = match ty {
                                    GgmlType::Q8_0 => _mm256_loadu_si256(blk.add(2) as *const __m256i),
                                    GgmlType::Q4_0 => {
                                        let qs = _mm_loadu_si128(blk.add(2) as *const __m128i);
                                        let nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), m4);
                                        _mm256_sub_epi8(nib, eight)
                                    }
                                    _ => {
                                        let bits = fifth_bits(std::ptr::read_unaligned(blk.add(2) as *const u32));
                                        let qs = _mm_loadu_si128(blk.add(6) as *const __m128i);
                                        let nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), m4);
                                        _mm256_sub_epi8(_mm256_or_si256(nib, bits), sixteen)
                                    }
                                };
                                let aw = _mm256_sign_epi8(wv, wv);
                                for k in 0..R {
                                    let xv = _mm256_loadu_si256(q[k].as_ptr().add(32 * b) as *const __m256i);
                                    let p = $mulsum(aw, _mm256_sign_epi8(xv, wv));
                                    let sc = _mm256_set1_ps(dw * *d[k].get_unchecked(b));
                                    acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc[k]);
                                }
                            }
                        }
                        GgmlType::Q5_1 => {
                            // Unsigned five-bit values; m·d_x·Σq is the correction.
                            for b in 0..w.len() / 24 {
                                let blk = wp.add(24 * b);
                                let dw = f16_to_f32(blk);
                                let mw = f16_to_f32(blk.add(2));
                                let bits = fifth_bits(std::ptr::read_unaligned(blk.add(4) as *const u32));
                                let qs = _mm_loadu_si128(blk.add(8) as *const __m128i);
                                let nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), m4);
                                let v = _mm256_or_si256(nib, bits);
                                for k in 0..R {
                                    let xv = _mm256_loadu_si256(q[k].as_ptr().add(32 * b) as *const __m256i);
                                    let dx = *d[k].get_unchecked(b);
                                    let p = $mulsum(v, xv);
                                    acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * dx), acc[k]);
                                    corr[k] -= mw * dx * *s[k].get_unchecked(b) as f32;
                                }
                            }
                        }
                        GgmlType::Q4K | GgmlType::Q5K => {
                            // Q5_K is Q4_K plus 32 bytes of fifth bits before the nibbles: those
                            // of sub-blocks 2kk / 2kk + 1 are bits 2kk / 2kk + 1 of each byte, and
                            // shifting the 16-bit lanes right by 2 per chunk brings them to bits
                            // 0 and 1 (what a lane's high byte moves into the low byte's top bits
                            // is masked off). For Q4_K they are zero.
                            let five = ty == GgmlType::Q5K;
                            let (bs, qoff) = if five { (176, 48) } else { (144, 16) };
                            let one = _mm256_set1_epi8(1);
                            for sb in 0..w.len() / bs {
                                let blk = wp.add(bs * sb);
                                let dd = f16_to_f32(blk);
                                let dmin = f16_to_f32(blk.add(2));
                                let (sc, m) = q4k_scales(std::slice::from_raw_parts(blk.add(4), 12));
                                let mut hv = if five {
                                    _mm256_loadu_si256(blk.add(16) as *const __m256i)
                                } else {
                                    _mm256_setzero_si256()
                                };
                                for kk in 0..4 {
                                    let qv = _mm256_loadu_si256(blk.add(qoff + 32 * kk) as *const __m256i);
                                    let h0 = _mm256_slli_epi16(_mm256_and_si256(hv, one), 4);
                                    let h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hv, 1), one), 4);
                                    hv = _mm256_srli_epi16(hv, 2);
                                    let lo = _mm256_or_si256(_mm256_and_si256(qv, m4), h0);
                                    let hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qv, 4), m4), h1);
                                    let (j0, j1) = (2 * kk, 2 * kk + 1);
                                    let (b0, b1) = (8 * sb + j0, 8 * sb + j1);
                                    for k in 0..R {
                                        let x0 = _mm256_loadu_si256(q[k].as_ptr().add(32 * b0) as *const __m256i);
                                        let x1 = _mm256_loadu_si256(q[k].as_ptr().add(32 * b1) as *const __m256i);
                                        let (d0, d1) = (*d[k].get_unchecked(b0), *d[k].get_unchecked(b1));
                                        let p0 = _mm256_cvtepi32_ps($mulsum(lo, x0));
                                        let p1 = _mm256_cvtepi32_ps($mulsum(hi, x1));
                                        acc[k] = _mm256_fmadd_ps(p0, _mm256_set1_ps(dd * sc[j0] * d0), acc[k]);
                                        acc[k] = _mm256_fmadd_ps(p1, _mm256_set1_ps(dd * sc[j1] * d1), acc[k]);
                                        corr[k] += dmin
                                            * (m[j0] * d0 * *s[k].get_unchecked(b0) as f32
                                                + m[j1] * d1 * *s[k].get_unchecked(b1) as f32);
                                    }
                                }
                            }
                        }
                        GgmlType::Q6K => {
                            let (m3, m30, thirty_two) =
                                (_mm256_set1_epi8(3), _mm256_set1_epi8(0x30), _mm256_set1_epi8(32));
                            for sb in 0..w.len() / 210 {
                                let blk = wp.add(210 * sb);
                                let dd = f16_to_f32(blk.add(208));
                                let scp = blk.add(192) as *const i8;
                                for h in 0..2 {
                                    let q0 = _mm256_loadu_si256(blk.add(64 * h) as *const __m256i);
                                    let q1 = _mm256_loadu_si256(blk.add(64 * h + 32) as *const __m256i);
                                    let hb = _mm256_loadu_si256(blk.add(128 + 32 * h) as *const __m256i);
                                    // The four 32-value blocks of this half: low nibbles of q0,
                                    // q1, then high nibbles, with bit pairs 0, 2, 4, 6 of hb.
                                    let vals = [
                                        _mm256_or_si256(
                                            _mm256_and_si256(q0, m4),
                                            _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4),
                                        ),
                                        _mm256_or_si256(
                                            _mm256_and_si256(q1, m4),
                                            _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30),
                                        ),
                                        _mm256_or_si256(
                                            _mm256_and_si256(_mm256_srli_epi16(q0, 4), m4),
                                            _mm256_and_si256(hb, m30),
                                        ),
                                        _mm256_or_si256(
                                            _mm256_and_si256(_mm256_srli_epi16(q1, 4), m4),
                                            _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30),
                                        ),
                                    ];
                                    for (p, v) in vals.into_iter().enumerate() {
                                        let j = 4 * h + p;
                                        let b = 8 * sb + j;
                                        let wv = _mm256_sub_epi8(v, thirty_two);
                                        let aw = _mm256_sign_epi8(wv, wv);
                                        // Lanes 0..4 sum the first sub-block of 16, lanes 4..8 the second.
                                        let scv = _mm256_set_m128(
                                            _mm_set1_ps(dd * *scp.add(2 * j + 1) as f32),
                                            _mm_set1_ps(dd * *scp.add(2 * j) as f32),
                                        );
                                        for k in 0..R {
                                            let xv = _mm256_loadu_si256(q[k].as_ptr().add(32 * b) as *const __m256i);
                                            let pr = $mulsum(aw, _mm256_sign_epi8(xv, wv));
                                            let sc = _mm256_mul_ps(scv, _mm256_set1_ps(*d[k].get_unchecked(b)));
                                            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pr), sc, acc[k]);
                                        }
                                    }
                                }
                            }
                        }
                        _ => unreachable!("{} is not a block format", ty.name()),
                    }
                    for k in 0..R {
                        out[k] = hsum(acc[k]) - corr[k];
                    }
                }
            }
        };
    }

    quant_kernels!(avx2_q, "avx2,fma,f16c", mulsum_avx2);
    quant_kernels!(vnni_q, "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni", mulsum_vnni);

    /// Eight interleaved rows ([`super::Interleaved`]) against `R` activation rows.
    ///
    /// # Safety
    ///
    /// The CPU must have the features this function enables (AVX-512 VNNI and the rest);
    /// `data` must hold `nb` cells of [`super::Interleaved`]'s layout for `ty` (asserted), every
    /// `q[k]` at least `32 · nb` values and every `d[k]` and `s[k]` at least `nb`: the kernel
    /// reads them unchecked.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")]
    pub unsafe fn interleaved<const R: usize, const W: usize>(
        ty: GgmlType,
        data: &[u8],
        nb: usize,
        q: [&[i8]; R],
        d: [&[f32]; R],
        s: [&[i32]; R],
        out: &mut [[f32; W]; R],
    ) {
        assert!(W >= 8);
        if ty == GgmlType::Q6K {
            return interleaved_q6k::<R, W>(data, nb, q, d, s, out);
        }
        let q8 = ty == GgmlType::Q8_0;
        let cell = if q8 { 272 } else { 144 };
        assert!(data.len() >= nb * cell);
        debug_assert!((0..R).all(|k| q[k].len() >= 32 * nb && d[k].len() >= nb && s[k].len() >= nb));
        let koff = if q8 { 128 } else { 8 };
        let m4 = _mm256_set1_epi8(0x0f);
        let mut acc = [_mm256_setzero_ps(); R];
        let base = data.as_ptr();
        for b in 0..nb {
            let c = base.add(b * cell);
            let dw = _mm256_cvtph_ps(_mm_loadu_si128(c as *const __m128i));
            let mut wv = [_mm256_setzero_si256(); 8];
            if q8 {
                for i in 0..8 {
                    wv[i] = _mm256_loadu_si256(c.add(16 + 32 * i) as *const __m256i);
                }
            } else {
                for i in 0..4 {
                    let v = _mm256_loadu_si256(c.add(16 + 32 * i) as *const __m256i);
                    wv[i] = _mm256_and_si256(v, m4);
                    wv[i + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                }
            }
            for k in 0..R {
                let xp = q[k].as_ptr().add(32 * b) as *const i32;
                // The offset's contribution, koff·Σq, starts the integer sum negative.
                let mut p0 = _mm256_set1_epi32(-koff * *s[k].get_unchecked(b));
                let mut p1 = _mm256_setzero_si256();
                for i in (0..8).step_by(2) {
                    p0 = _mm256_dpbusd_epi32(p0, wv[i], _mm256_set1_epi32(std::ptr::read_unaligned(xp.add(i))));
                    p1 = _mm256_dpbusd_epi32(p1, wv[i + 1], _mm256_set1_epi32(std::ptr::read_unaligned(xp.add(i + 1))));
                }
                let p = _mm256_cvtepi32_ps(_mm256_add_epi32(p0, p1));
                let sc = _mm256_mul_ps(dw, _mm256_set1_ps(*d[k].get_unchecked(b)));
                acc[k] = _mm256_fmadd_ps(p, sc, acc[k]);
            }
        }
        for k in 0..R {
            _mm256_storeu_ps(out[k].as_mut_ptr(), acc[k]);
        }
    }

    /// Two groups of eight interleaved rows side by side in 512-bit registers: lanes 0..8 are
    /// group `data0`'s rows, lanes 8..16 group `data1`'s. Each lane runs the operations of
    /// [`interleaved`] in the same order, so the results are the same bits.
    ///
    /// # Safety
    ///
    /// As for [`interleaved`], for both `data0` and `data1`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")]
    pub unsafe fn interleaved_pair<const R: usize, const W: usize>(
        ty: GgmlType,
        data0: &[u8],
        data1: &[u8],
        nb: usize,
        q: [&[i8]; R],
        d: [&[f32]; R],
        s: [&[i32]; R],
        out: &mut [[f32; W]; R],
    ) {
        assert!(W >= 16);
        let cell = match ty {
            GgmlType::Q8_0 => 272,
            GgmlType::Q6K => 224,
            _ => 144,
        };
        assert!(data0.len() >= nb * cell && data1.len() >= nb * cell);
        let half_sums = ty == GgmlType::Q6K;
        debug_assert!((0..R)
            .all(|k| q[k].len() >= 32 * nb && d[k].len() >= nb && s[k].len() >= if half_sums { 2 * nb } else { nb }));
        // 32 bytes at `off` of both cells, group 0's in the low half.
        let ld = |c0: *const u8, c1: *const u8, off: usize| -> __m512i {
            _mm512_inserti64x4::<1>(
                _mm512_castsi256_si512(_mm256_loadu_si256(c0.add(off) as *const __m256i)),
                _mm256_loadu_si256(c1.add(off) as *const __m256i),
            )
        };
        // The 8 + 8 rows' f16 scales.
        let scales = |c0: *const u8, c1: *const u8| -> __m512 {
            _mm512_cvtph_ps(_mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(_mm_loadu_si128(c0 as *const __m128i)),
                _mm_loadu_si128(c1 as *const __m128i),
            ))
        };
        let m4 = _mm512_set1_epi8(0x0f);
        let mut acc = [_mm512_setzero_ps(); R];
        let (b0, b1) = (data0.as_ptr(), data1.as_ptr());
        for b in 0..nb {
            let (c0, c1) = (b0.add(b * cell), b1.add(b * cell));
            let dw = scales(c0, c1);
            if ty == GgmlType::Q6K {
                let sc = |o: usize| {
                    let v = _mm_unpacklo_epi64(
                        _mm_loadl_epi64(c0.add(o) as *const __m128i),
                        _mm_loadl_epi64(c1.add(o) as *const __m128i),
                    );
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v))
                };
                let (sa, sb) = (_mm512_mul_ps(dw, sc(16)), _mm512_mul_ps(dw, sc(24)));
                let (ha, hb) = (ld(c0, c1, 160), ld(c0, c1, 192));
                let m30 = _mm512_set1_epi8(0x30);
                let top = |h: __m512i, i: usize| -> __m512i {
                    let t = match i {
                        0 => _mm512_slli_epi16(h, 4),
                        1 => _mm512_slli_epi16(h, 2),
                        2 => h,
                        _ => _mm512_srli_epi16(h, 2),
                    };
                    _mm512_and_si512(t, m30)
                };
                let mut wa = [_mm512_setzero_si512(); 4];
                let mut wb = [_mm512_setzero_si512(); 4];
                for i in 0..4 {
                    let v = ld(c0, c1, 32 + 32 * i);
                    wa[i] = _mm512_or_si512(_mm512_and_si512(v, m4), top(ha, i));
                    wb[i] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), top(hb, i));
                }
                for k in 0..R {
                    let xp = q[k].as_ptr().add(32 * b) as *const i32;
                    let mut pa = _mm512_set1_epi32(-32 * *s[k].get_unchecked(2 * b));
                    let mut pb = _mm512_set1_epi32(-32 * *s[k].get_unchecked(2 * b + 1));
                    for i in 0..4 {
                        pa = _mm512_dpbusd_epi32(pa, wa[i], _mm512_set1_epi32(std::ptr::read_unaligned(xp.add(i))));
                        pb = _mm512_dpbusd_epi32(pb, wb[i], _mm512_set1_epi32(std::ptr::read_unaligned(xp.add(4 + i))));
                    }
                    let t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(pa), sa, _mm512_mul_ps(_mm512_cvtepi32_ps(pb), sb));
                    acc[k] = _mm512_fmadd_ps(t, _mm512_set1_ps(*d[k].get_unchecked(b)), acc[k]);
                }
                continue;
            }
            let q8 = ty == GgmlType::Q8_0;
            let koff = if q8 { 128 } else { 8 };
            let mut wv = [_mm512_setzero_si512(); 8];
            if q8 {
                for i in 0..8 {
                    wv[i] = ld(c0, c1, 16 + 32 * i);
                }
            } else {
                for i in 0..4 {
                    let v = ld(c0, c1, 16 + 32 * i);
                    wv[i] = _mm512_and_si512(v, m4);
                    wv[i + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                }
            }
            for k in 0..R {
                let xp = q[k].as_ptr().add(32 * b) as *const i32;
                let mut p0 = _mm512_set1_epi32(-koff * *s[k].get_unchecked(b));
                let mut p1 = _mm512_setzero_si512();
                for i in (0..8).step_by(2) {
                    p0 = _mm512_dpbusd_epi32(p0, wv[i], _mm512_set1_epi32(std::ptr::read_unaligned(xp.add(i))));
                    p1 = _mm512_dpbusd_epi32(p1, wv[i + 1], _mm512_set1_epi32(std::ptr::read_unaligned(xp.add(i + 1))));
                }
                let p = _mm512_cvtepi32_ps(_mm512_add_epi32(p0, p1));
                let sc = _mm512_mul_ps(dw, _mm512_set1_ps(*d[k].get_unchecked(b)));
                acc[k] = _mm512_fmadd_ps(p, sc, acc[k]);
            }
        }
        for k in 0..R {
            _mm512_storeu_ps(out[k].as_mut_ptr(), acc[k]);
        }
    }

    /// [`interleaved`] for Q6_K cells; `s[k]` holds the activations' half-block sums (`2 · nb`).
    ///
    /// # Safety
    ///
    /// As for [`interleaved`], with `s[k]` at least `2 · nb` values.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")]
    unsafe fn interleaved_q6k<const R: usize, const W: usize>(
        data: &[u8],
        nb: usize,
        q: [&[i8]; R],
        d: [&[f32]; R],
        s: [&[i32]; R],
        out: &mut [[f32; W]; R],
    ) {
        assert!(W >= 8);
        const CELL: usize = 224;
        assert!(data.len() >= nb * CELL);
        debug_assert!((0..R).all(|k| q[k].len() >= 32 * nb && d[k].len() >= nb && s[k].len() >= 2 * nb));
        let m4 = _mm256_set1_epi8(0x0f);
        let m30 = _mm256_set1_epi8(0x30);
        let mut acc = [_mm256_setzero_ps(); R];
        let base = data.as_ptr();
        for b in 0..nb {
            let c = base.add(b * CELL);
            let dw = _mm256_cvtph_ps(_mm_loadu_si128(c as *const __m128i));
            let sc = |o: usize| _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(c.add(o) as *const __m128i)));
            let (sa, sb) = (_mm256_mul_ps(dw, sc(16)), _mm256_mul_ps(dw, sc(24)));
            let ha = _mm256_loadu_si256(c.add(160) as *const __m256i);
            let hb = _mm256_loadu_si256(c.add(192) as *const __m256i);
            // Bits 2i..2i+2 of the top-bits byte moved to bits 4..6 (16-bit shifts: the mask
            // keeps only bits that stayed inside their byte).
            let top = |h: __m256i, i: usize| -> __m256i {
                let t = match i {
                    0 => _mm256_slli_epi16(h, 4),
                    1 => _mm256_slli_epi16(h, 2),
                    2 => h,
                    _ => _mm256_srli_epi16(h, 2),
                };
                _mm256_and_si256(t, m30)
            };
            let mut wa = [_mm256_setzero_si256(); 4];
            let mut wb = [_mm256_setzero_si256(); 4];
            for i in 0..4 {
                let v = _mm256_loadu_si256(c.add(32 + 32 * i) as *const __m256i);
                wa[i] = _mm256_or_si256(_mm256_and_si256(v, m4), top(ha, i));
                wb[i] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), top(hb, i));
            }
            for k in 0..R {
                let xp = q[k].as_ptr().add(32 * b) as *const i32;
                // The values are n = q + 32: each half starts at −32·Σq of its activations.
                let mut pa = _mm256_set1_epi32(-32 * *s[k].get_unchecked(2 * b));
                let mut pb = _mm256_set1_epi32(-32 * *s[k].get_unchecked(2 * b + 1));
                for i in 0..4 {
                    pa = _mm256_dpbusd_epi32(pa, wa[i], _mm256_set1_epi32(std::ptr::read_unaligned(xp.add(i))));
                    pb = _mm256_dpbusd_epi32(pb, wb[i], _mm256_set1_epi32(std::ptr::read_unaligned(xp.add(4 + i))));
                }
                let t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pa), sa, _mm256_mul_ps(_mm256_cvtepi32_ps(pb), sb));
                acc[k] = _mm256_fmadd_ps(t, _mm256_set1_ps(*d[k].get_unchecked(b)), acc[k]);
            }
        }
        for k in 0..R {
            _mm256_storeu_ps(out[k].as_mut_ptr(), acc[k]);
        }
    }

    /// Four f32 weight rows (`j..j + 4` of row-major `w`, `cols` each) against `R` activation
    /// rows (`r..r + R` of `x`): `out[q][k]` = dot(row j + q, activation r + k).
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512F; `w` must hold rows `j..j + 4` of `4 · cols` bytes and `x`
    /// rows `r..r + R` of `cols` values (read unchecked).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn f32_dot4<const R: usize>(
        w: &[u8],
        j: usize,
        cols: usize,
        x: &[f32],
        r: usize,
        out: &mut [[f32; 4]; 4],
    ) {
        debug_assert!(w.len() >= (j + 4) * cols * 4 && x.len() >= (r + R) * cols);
        let wp: [*const f32; 4] = std::array::from_fn(|q| (w.as_ptr() as *const f32).add((j + q) * cols));
        let xp: [*const f32; R] = std::array::from_fn(|k| x.as_ptr().add((r + k) * cols));
        let mut acc = [[_mm512_setzero_ps(); R]; 4];
        let main = cols / 16 * 16;
        let mut i = 0;
        while i < main {
            let wv: [__m512; 4] = std::array::from_fn(|q| _mm512_loadu_ps(wp[q].add(i)));
            for k in 0..R {
                let xv = _mm512_loadu_ps(xp[k].add(i));
                for q in 0..4 {
                    acc[q][k] = _mm512_fmadd_ps(wv[q], xv, acc[q][k]);
                }
            }
            i += 16;
        }
        for q in 0..4 {
            for k in 0..R {
                let mut t = _mm512_reduce_add_ps(acc[q][k]);
                for c in main..cols {
                    t += *wp[q].add(c) * *xp[k].add(c);
                }
                out[q][k] = t;
            }
        }
    }

    /// AVX-512 VNNI: two blocks per step in 512-bit registers (half the instructions of the
    /// 256-bit code per block; the weight side is unpacked once for all `R` rows).
    pub mod vnni {
        use super::*;

        /// Lanes 0..8 take element 0 of a 128-bit vector, lanes 8..16 element 1.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX-512F.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn pair_scale(v: __m128) -> __m512 {
            let idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
            _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v))
        }

        /// Two f16 scales (at `a` and `b`) as the first two lanes of a vector.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX2 and F16C, and `a` and `b` must each be valid for reading 2
        /// bytes (any alignment).
        #[target_feature(enable = "avx2,f16c")]
        #[inline]
        unsafe fn two_f16(a: *const u8, b: *const u8) -> __m128 {
            let x = std::ptr::read_unaligned(a as *const u16) as i32
                | (std::ptr::read_unaligned(b as *const u16) as i32) << 16;
            _mm_cvtph_ps(_mm_cvtsi32_si128(x))
        }

        /// `q[k]`'s two block scales starting at block `b`.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX2, and `b + 2 <= d.len()` (`d[b]` and `d[b + 1]` are read
        /// unchecked).
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn two_f32(d: &[f32], b: usize) -> __m128 {
            debug_assert!(b + 2 <= d.len());
            _mm_castpd_ps(_mm_load_sd(d.as_ptr().add(b) as *const f64))
        }

        /// One quantized weight row against `R` 8-bit activation rows.
        ///
        /// # Safety
        ///
        /// The CPU must have the features this function enables (AVX-512 VNNI and the rest).
        /// With `nb` the number of 32-element blocks in the whole `ty` blocks of `w`, every
        /// `q[k]` must hold at least `32 · nb` values and every `d[k]` and `s[k]` at least `nb`:
        /// the kernel reads them unchecked. Q5_0, Q5_1, Q5_K and Q6_K run the 256-bit VNNI
        /// kernel; a `ty` that is no block format panics before any read.
        #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")]
        pub unsafe fn quant<const R: usize>(
            ty: GgmlType,
            w: &[u8],
            q: [&[i8]; R],
            d: [&[f32]; R],
            s: [&[i32]; R],
            out: &mut [f32; R],
        ) {
            if matches!(ty, GgmlType::Q5_0 | GgmlType::Q5_1 | GgmlType::Q5K | GgmlType::Q6K) {
                // SAFETY: this function's own contract (same features and lengths).
                return unsafe { super::vnni_q::quant::<R>(ty, w, q, d, s, out) };
            }
            let nb = act_blocks(ty, w.len());
            debug_assert!((0..R).all(|k| q[k].len() >= 32 * nb && d[k].len() >= nb && s[k].len() >= nb));
            let mut acc = [_mm512_setzero_ps(); R];
            let mut corr = [0.0f32; R];
            let wp = w.as_ptr();
            let zero = _mm512_setzero_si512();
            let m4 = _mm512_set1_epi8(0x0f);
            // Blocks left for the 256-bit code (an odd block count).
            let mut tail: Option<(usize, usize)> = None;
            match ty {
                GgmlType::Q8_0 | GgmlType::Q4_0 => {
                    let bs = ty.type_size();
                    let nb = w.len() / bs;
                    // One pair of blocks into the accumulators `$acc`.
                    macro_rules! pair {
                        ($b:expr, $acc:ident) => {{
                            let b = $b;
                            let (b0, b1) = (wp.add(bs * b), wp.add(bs * (b + 1)));
                            let wv = if ty == GgmlType::Q8_0 {
                                _mm512_inserti64x4(
                                    _mm512_castsi256_si512(_mm256_loadu_si256(b0.add(2) as *const __m256i)),
                                    _mm256_loadu_si256(b1.add(2) as *const __m256i),
                                    1,
                                )
                            } else {
                                // [qs0 | qs1 | qs0>>4 | qs1>>4] -> lanes [0, 2, 1, 3] = block order.
                                let t = _mm256_set_m128i(
                                    _mm_loadu_si128(b1.add(2) as *const __m128i),
                                    _mm_loadu_si128(b0.add(2) as *const __m128i),
                                );
                                let v = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
                                let v = _mm512_shuffle_i64x2(v, v, 0b11_01_10_00);
                                _mm512_sub_epi8(_mm512_and_si512(v, m4), _mm512_set1_epi8(8))
                            };
                            let neg = _mm512_movepi8_mask(wv);
                            let aw = _mm512_abs_epi8(wv);
                            let dw = two_f16(b0, b1);
                            for k in 0..R {
                                let xv = _mm512_loadu_si512(q[k].as_ptr().add(32 * b) as *const _);
                                let sx = _mm512_mask_sub_epi8(xv, neg, zero, xv);
                                let p = _mm512_dpbusd_epi32(zero, aw, sx);
                                let sc = pair_scale(_mm_mul_ps(dw, two_f32(d[k], b)));
                                $acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, $acc[k]);
                            }
                        }};
                    }
                    // Two pairs per step into two sets of accumulators: the FMA chain of one
                    // set would otherwise bound a single row (decode) at one pair per latency.
                    let mut acc2 = [_mm512_setzero_ps(); R];
                    let mut b = 0;
                    while b + 4 <= nb {
                        pair!(b, acc);
                        pair!(b + 2, acc2);
                        b += 4;
                    }
                    if b + 2 <= nb {
                        pair!(b, acc);
                        b += 2;
                    }
                    for k in 0..R {
                        acc[k] = _mm512_add_ps(acc[k], acc2[k]);
                    }
                    if b < nb {
                        tail = Some((b, bs));
                    }
                }
                GgmlType::Q4K => {
                    for sb in 0..w.len() / 144 {
                        let blk = wp.add(144 * sb);
                        let dd = f16_to_f32(blk);
                        let dmin = f16_to_f32(blk.add(2));
                        let (sc, m) = q4k_scales(std::slice::from_raw_parts(blk.add(4), 12));
                        for kk in 0..4 {
                            // Low nibbles are sub-block 2kk, high nibbles 2kk+1: the activation
                            // blocks 8sb+2kk and +1 are the 64 bytes that follow each other.
                            let qv = _mm256_loadu_si256(blk.add(16 + 32 * kk) as *const __m256i);
                            let v = _mm512_inserti64x4(_mm512_castsi256_si512(qv), _mm256_srli_epi16(qv, 4), 1);
                            let v = _mm512_and_si512(v, m4);
                            let (j0, j1) = (2 * kk, 2 * kk + 1);
                            let b0 = 8 * sb + j0;
                            let ws = _mm_set_ps(0.0, 0.0, dd * sc[j1], dd * sc[j0]);
                            for k in 0..R {
                                let xv = _mm512_loadu_si512(q[k].as_ptr().add(32 * b0) as *const _);
                                let p = _mm512_dpbusd_epi32(zero, v, xv);
                                let dx = two_f32(d[k], b0);
                                let scv = pair_scale(_mm_mul_ps(ws, dx));
                                acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), scv, acc[k]);
                                let (d0, d1) = (*d[k].get_unchecked(b0), *d[k].get_unchecked(b0 + 1));
                                corr[k] += dmin
                                    * (m[j0] * d0 * *s[k].get_unchecked(b0) as f32
                                        + m[j1] * d1 * *s[k].get_unchecked(b0 + 1) as f32);
                            }
                        }
                    }
                }
                _ => unreachable!("{} is not a block format", ty.name()),
            }
            for k in 0..R {
                out[k] = _mm512_reduce_add_ps(acc[k]) - corr[k];
            }
            if let Some((b, bs)) = tail {
                let mut t = [0.0f32; R];
                let qt: [&[i8]; R] = std::array::from_fn(|k| &q[k][32 * b..]);
                let dt: [&[f32]; R] = std::array::from_fn(|k| &d[k][b..]);
                let st: [&[i32]; R] = std::array::from_fn(|k| &s[k][b..]);
                super::vnni_q::quant::<R>(ty, &w[bs * b..], qt, dt, st, &mut t);
                for k in 0..R {
                    out[k] += t[k];
                }
            }
        }
    }

    pub mod avx2 {
        pub use super::avx2_q::quant;
        use super::*;

        /// One f32/f16/bf16 weight row against `R` f32 activation rows.
        ///
        /// # Safety
        ///
        /// The CPU must have AVX2, FMA and F16C; `ty` must be F32, F16 or BF16, `w` must hold
        /// at least `x[0].len()` elements of it and every `x[k]` at least `x[0].len()` values:
        /// the kernel reads them unchecked.
        #[target_feature(enable = "avx2,fma,f16c")]
        pub unsafe fn float<const R: usize>(ty: GgmlType, w: &[u8], x: [&[f32]; R], out: &mut [f32; R]) {
            let cols = x[0].len();
            debug_assert!(!ty.is_quantized() && w.len() >= cols * ty.type_size());
            debug_assert!(x.iter().all(|x| x.len() >= cols));
            let main = cols / 8 * 8;
            let mut acc = [_mm256_setzero_ps(); R];
            let wp = w.as_ptr();
            let mut i = 0;
            while i < main {
                let wv = match ty {
                    GgmlType::F32 => _mm256_loadu_ps(wp.add(4 * i) as *const f32),
                    GgmlType::F16 => _mm256_cvtph_ps(_mm_loadu_si128(wp.add(2 * i) as *const __m128i)),
                    _ => {
                        let h = _mm256_cvtepu16_epi32(_mm_loadu_si128(wp.add(2 * i) as *const __m128i));
                        _mm256_castsi256_ps(_mm256_slli_epi32(h, 16))
                    }
                };
                for k in 0..R {
                    acc[k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[k].as_ptr().add(i)), acc[k]);
                }
                i += 8;
            }
            for k in 0..R {
                let mut t = hsum(acc[k]);
                if main < cols {
                    let sz = ty.type_size();
                    t += super::super::scalar::float(ty, &w[main * sz..], &x[k][main..]);
                }
                out[k] = t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{dequantize, quantize_row};

    fn gauss(n: usize, seed: u64) -> Vec<f32> {
        // A small LCG + Box-Muller: deterministic, no extra dependency.
        let mut st = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = || {
            st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((st >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next(), next());
                ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
            })
            .collect()
    }

    #[test]
    fn activation_blocks_hand_computed() {
        let mut x = vec![0.0f32; 32];
        x[0] = 2.54;
        x[1] = -1.27;
        x[2] = 0.0101; // 0.0101 / 0.02 = 0.505 -> 1
        x[3] = -0.0099; // -0.495 -> 0
        let a = quantize_acts(&x, 32);
        assert!((a.d[0] - 0.02).abs() < 1e-7);
        assert_eq!(&a.q[..4], &[127, -64, 1, 0]); // -1.27/0.02 = -63.5: half to even
        assert_eq!(a.s[0], 127 - 64 + 1);
        let z = quantize_acts(&[0.0; 32], 32);
        assert_eq!((z.d[0], z.s[0]), (0.0, 0));
    }

    const BLOCK_FORMATS: [GgmlType; 7] =
        [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4K, GgmlType::Q5K, GgmlType::Q6K];

    /// The scalar reference equals the dot product of the decoded weights (blocks.rs, itself
    /// bit-identical to ggml's decoder) with the decoded 8-bit activations, summed in f64.
    #[test]
    fn scalar_quant_equals_decoded_weights_times_decoded_activations() {
        for ty in BLOCK_FORMATS {
            for (cols, seed) in [(256, 1u64), (512, 2), (768, 3)] {
                let wq = quantize_row(ty, &gauss(cols, seed));
                let wf = dequantize(ty, &wq);
                let x = gauss(cols, 100 + seed);
                let a = quantize_acts(&x, cols);
                let want: f64 = (0..cols).map(|i| wf[i] as f64 * a.d[i / 32] as f64 * a.q[i] as f64).sum();
                let scale: f64 = (0..cols).map(|i| (wf[i] as f64 * a.d[i / 32] as f64 * a.q[i] as f64).abs()).sum();
                let got = scalar::quant(ty, &wq, &a.q, &a.d, &a.s) as f64;
                assert!((got - want).abs() <= 1e-5 * scale, "{ty:?} {cols}: {got} vs {want}");
            }
        }
    }

    /// The row-streaming f32 kernel (four weight rows at a time, up to four activation rows)
    /// against an f64 dot product, for ragged row counts, widths off the 16-lane step, and
    /// activation counts past one pass.
    #[test]
    fn f32_rows_dot_matches_f64_dot_products() {
        for (rows, cols, n) in [(1usize, 16usize, 1usize), (7, 100, 3), (9, 1024, 1), (13, 37, 6), (4, 64, 9)] {
            let w = gauss(rows * cols, 21);
            let wb: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
            let x = gauss(n * cols, 22);
            let mut out = vec![f32::NAN; rows * n];
            f32_rows_dot(&wb, rows, cols, &x, n, &mut out);
            for j in 0..rows {
                for r in 0..n {
                    let e: f64 = (0..cols).map(|i| w[j * cols + i] as f64 * x[r * cols + i] as f64).sum();
                    let g = out[j * n + r] as f64;
                    assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{rows}x{cols} n={n} ({j}, {r}): {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn integer_dot_hand_computed() {
        // One Q8_0 block with d = 0.5 and w = 1..=32 against activations q = 1, d_x = 0.25:
        // 0.5 · 0.25 · Σ i = 0.125 · 528 = 66.
        let mut w = f16::from_f32(0.5).to_le_bytes().to_vec();
        w.extend((1..=32).map(|i| i as u8));
        let q = vec![1i8; 32];
        assert_eq!(scalar::quant(GgmlType::Q8_0, &w, &q, &[0.25], &[32]), 66.0);
        // Q4_0: all nibbles 9 (value +1), d = 2; activations 3 with d_x = 0.5: 2 · 0.5 · 32 · 3 = 96.
        let mut w = f16::from_f32(2.0).to_le_bytes().to_vec();
        w.extend([0x99u8; 16]);
        assert_eq!(scalar::quant(GgmlType::Q4_0, &w, &[3i8; 32], &[0.5], &[96]), 96.0);
    }

    /// Every available code path computes the scalar reference (same integers; only the f32
    /// summation order differs), for every format, every microkernel width and ragged row counts.
    #[test]
    fn simd_paths_match_scalar_reference() {
        // 96 columns = 3 blocks: the odd block goes through the 256-bit tail code.
        for (ty, cols) in BLOCK_FORMATS
            .into_iter()
            .chain([GgmlType::F32, GgmlType::F16, GgmlType::BF16])
            .flat_map(|t| [(t, 512), (t, 96), (t, 100)])
            .filter(|&(t, c)| {
                c % t.block_size() == 0 && (c % 32 == 0 || !t.is_quantized()) && (t != GgmlType::Q4K || c % 256 == 0)
            })
        {
            let w = quantize_row(ty, &gauss(cols, 1));
            let x = gauss(7 * cols, 2);
            let acts = Acts::new(ty, &x, cols);
            let mut want = vec![0.0f32; 7];
            row_dots(Isa::Scalar, ty, &w, &acts, 0, &mut want);
            for isa in Isa::available() {
                let mut got = vec![0.0f32; 7];
                row_dots(isa, ty, &w, &acts, 0, &mut got);
                for (g, e) in got.iter().zip(&want) {
                    assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{ty:?} {cols} {isa:?}: {g} vs {e}");
                }
            }
        }
    }

    /// A path the CPU cannot run is refused (a panic), never run; the detected ones run.
    #[test]
    fn row_dots_checks_the_path_against_the_cpu() {
        let (ty, cols) = (GgmlType::Q8_0, 64);
        let w = quantize_row(ty, &gauss(cols, 1));
        let x = gauss(cols, 2);
        let acts = Acts::new(ty, &x, cols);
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Vnni] {
            assert_eq!(isa.is_available(), Isa::available().contains(&isa));
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut out = [0.0f32];
                row_dots(isa, ty, &w, &acts, 0, &mut out);
            }));
            assert_eq!(run.is_ok(), isa.is_available(), "{isa:?}");
        }
        assert!(Isa::Scalar.is_available() && Isa::current().is_available());
    }

    /// Activations of the wrong kind for the weight type panic on every path instead of
    /// reading past the weight row (a block row is shorter than the f16 row the float kernel
    /// would read).
    #[test]
    fn mismatched_activations_panic_on_every_path() {
        let cols = 64;
        let x = gauss(cols, 3);
        let q4 = quantize_row(GgmlType::Q4_0, &gauss(cols, 4));
        let f16w = quantize_row(GgmlType::F16, &gauss(cols, 5));
        for isa in Isa::available() {
            for (ty, w, acts) in [
                (GgmlType::Q4_0, &q4, Acts::F32 { x: &x, cols }),
                (GgmlType::F16, &f16w, Acts::Q8(quantize_acts(&x, cols))),
            ] {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut out = [0.0f32];
                    row_dots(isa, ty, w, &acts, 0, &mut out);
                }));
                assert!(run.is_err(), "{isa:?} {ty:?}");
            }
        }
    }

    /// The interleaved rows give the scalar reference's results, row by row.
    #[test]
    fn interleaved_rows_match_scalar_reference() {
        let (rows, cols) = (16, 96);
        let nacts = 13; // passes of 8, 4 and 1 rows
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q6K] {
            // Q6_K super-blocks are 256 wide: two of them, so a cell's super-block changes.
            let cols = if ty == GgmlType::Q6K { 512 } else { cols };
            let w: Vec<u8> = (0..rows).flat_map(|r| quantize_row(ty, &gauss(cols, 50 + r as u64))).collect();
            let Some(il) = Interleaved::pack(ty, &w, rows, cols) else {
                eprintln!("no AVX-512 VNNI here: interleaved path not tested");
                return;
            };
            let x = gauss(nacts * cols, 7);
            let a = quantize_acts(&x, cols);
            let rb = ty.row_bytes(cols);
            // The 512-bit pair of groups gives the two groups' results, bit for bit.
            let mut pair = vec![[0.0f32; 16]; nacts];
            il.pair_dots(0, &a, 0, &mut pair);
            for g in 0..rows / 8 {
                let mut out = vec![[0.0f32; 8]; nacts];
                il.group_dots(g, &a, 0, &mut out);
                for k in 0..nacts {
                    assert_eq!(out[k][..], pair[k][8 * g..8 * g + 8], "{ty:?} pair, group {g}, act {k}");
                }
                for (k, o) in out.iter().enumerate() {
                    for j in 0..8 {
                        let r = 8 * g + j;
                        let nb = cols / 32;
                        let e = scalar::quant(
                            ty,
                            &w[r * rb..(r + 1) * rb],
                            &a.q[k * cols..(k + 1) * cols],
                            &a.d[k * nb..(k + 1) * nb],
                            &a.s[k * nb..(k + 1) * nb],
                        );
                        assert!((o[j] - e).abs() <= 1e-4 * (1.0 + e.abs()), "{ty:?} row {r} act {k}: {} vs {e}", o[j]);
                    }
                }
            }
        }
    }

    /// 8-bit activations cost about what llama.cpp's do: compared with the exact f32 dot product
    /// of the same (dequantized) weights, the relative error stays small.
    #[test]
    fn eight_bit_activations_error_is_small() {
        let cols = 1024;
        for ty in BLOCK_FORMATS {
            let (mut err, mut norm) = (0.0f64, 0.0f64);
            for r in 0..64 {
                let wq = quantize_row(ty, &gauss(cols, 10 + r));
                let wf = dequantize(ty, &wq);
                let x = gauss(cols, 1000 + r);
                let exact: f64 = wf.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
                let acts = Acts::new(ty, &x, cols);
                let mut got = [0.0f32];
                row_dots(Isa::current(), ty, &wq, &acts, 0, &mut got);
                err += (got[0] as f64 - exact).powi(2);
                norm += exact.powi(2);
            }
            let rel = (err / norm).sqrt();
            assert!(rel < 0.01, "{ty:?}: relative error {rel}");
            assert!(rel > 1e-5, "{ty:?}: activations do not look quantized ({rel})");
        }
    }
}
