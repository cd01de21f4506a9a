//! bf16 matrix products with f32 accumulation for CPU training (`precision = "bf16"`).
//!
//! What PyTorch's CPU autocast does for `torch.matmul` under `bfloat16`, with one difference:
//! the output stays f32 (autocast rounds it to bf16). The operands are rounded to bf16 (round
//! to nearest even, as `torch.Tensor.bfloat16()` and `half::bf16::from_f32` do), multiplied in
//! pairs and summed in f32. Master weights, gradients and optimizer moments are untouched f32
//! tensors; only the products see bf16.
//!
//! On a CPU with AVX512-BF16 the product runs gemmkit's `vdpbf16ps` micro-kernel (two bf16
//! multiply-adds per f32 lane, twice the f32 FMA rate), through its f32-output family
//! [`Bf16DotGemmF32`](gemmkit::kernel::Bf16DotGemmF32); gemmkit's public `gemm::<bf16>` would
//! round the output to bf16 as well. Elsewhere the operands are rounded to bf16 values held as
//! f32 and the f32 gemm multiplies them: the same rounding of the inputs, no speed-up.
//!
//! Hand-written here: the f32 → bf16 conversion of the operands. `half`'s slice conversion is
//! scalar; `vcvtneps2bf16` converts 16 values per instruction, which keeps the conversion
//! (twice per weight per step) at a tenth of the product's time instead of a third.

use std::cell::RefCell;
use std::sync::OnceLock;

use half::bf16;
use rayon::prelude::*;

/// Whether this CPU has AVX512-BF16 (and the AVX-512 foundation it builds on).
pub fn native() -> bool {
    static NATIVE: OnceLock<bool> = OnceLock::new();
    *NATIVE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bf16")
                && std::is_x86_feature_detected!("avx512vl")
                && std::env::var("LFM_BF16_EMULATED").map_or(true, |v| v.is_empty() || v == "0")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// `x` rounded to the nearest bf16 (ties to even), as an f32.
#[inline]
pub fn round(x: f32) -> f32 {
    bf16::from_f32(x).to_f32()
}

/// Elements per parallel conversion task.
const CHUNK: usize = 1 << 15;

/// `src` converted to bf16 (round to nearest even; NaN stays NaN, ±inf stays ±inf; with
/// AVX512-BF16, f32 subnormals become zero).
pub fn to_bf16(src: &[f32]) -> Vec<bf16> {
    let mut out: Vec<bf16> = Vec::with_capacity(src.len());
    out.spare_capacity_mut()[..src.len()].par_chunks_mut(CHUNK).zip(src.par_chunks(CHUNK)).for_each(|(o, s)| {
        convert(o, s);
    });
    // SAFETY: the chunks of `spare_capacity_mut()[..len]` cover every element, and `convert`
    // writes each element of the chunk it is given.
    unsafe { out.set_len(src.len()) };
    out
}

/// Writes `s` as bf16 into `o` (same length).
fn convert(o: &mut [std::mem::MaybeUninit<bf16>], s: &[f32]) {
    assert_eq!(o.len(), s.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if native() {
        // SAFETY: `native()` checked that the CPU has AVX-512F, AVX512-BF16 and AVX-512VL.
        done = unsafe { convert_avx512(o, s) };
    }
    for (d, &x) in o[done..].iter_mut().zip(&s[done..]) {
        d.write(bf16::from_f32(x));
    }
}

/// Converts the longest prefix of whole 16-value vectors; returns its length.
///
/// # Safety
///
/// The CPU must have AVX-512F, AVX512-BF16 and AVX-512VL. `o` and `s` have the same length
/// (asserted by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16,avx512vl")]
unsafe fn convert_avx512(o: &mut [std::mem::MaybeUninit<bf16>], s: &[f32]) -> usize {
    use std::arch::x86_64::*;
    let n = s.len() / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= s.len() == o.len(): the 64-byte load and 32-byte store stay in
        // bounds (both unaligned). `vcvtneps2bf16` rounds to nearest even and quiets NaNs as
        // `half::bf16::from_f32` does; it differs only on f32 subnormals (below 1.2e-38),
        // which it reads as zero (checked by the tests).
        unsafe {
            let v = _mm512_loadu_ps(s.as_ptr().add(i));
            let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(v));
            _mm256_storeu_si256(o.as_mut_ptr().add(i).cast(), h);
        }
        i += 16;
    }
    n
}

/// A 2-D f32 operand: `data[start + i·rs + j·cs]` for i < rows, j < cols.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub start: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: isize,
    pub cs: isize,
}

impl Operand<'_> {
    /// The operand in bf16 with the strides to read it: the addressed span converted as it lies
    /// when the operand is dense (row- or column-major), otherwise a row-major copy.
    fn to_bf16(self) -> (Vec<bf16>, isize, isize) {
        let (r, c) = (self.rows as isize, self.cols as isize);
        let n = self.rows * self.cols;
        let dense_row = self.cs == 1 && (self.rs == c || self.rows == 1);
        let dense_col = self.rs == 1 && (self.cs == r || self.cols == 1);
        if dense_row || dense_col {
            let span = &self.data[self.start..self.start + n];
            return (to_bf16(span), self.rs, self.cs);
        }
        let mut out: Vec<f32> = Vec::with_capacity(n);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.push(self.data[(self.start as isize + i as isize * self.rs + j as isize * self.cs) as usize]);
            }
        }
        (to_bf16(&out), c, 1)
    }

    /// The operand rounded to bf16 values, row-major f32.
    fn rounded(self) -> Vec<f32> {
        let mut out: Vec<f32> = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.push(round(
                    self.data[(self.start as isize + i as isize * self.rs + j as isize * self.cs) as usize],
                ));
            }
        }
        out
    }

    /// Whether every element this operand addresses lies inside `data`.
    fn in_bounds(&self) -> bool {
        crate::host::strided_in_bounds(self.start, &[(self.rows, self.rs), (self.cols, self.cs)], self.data.len())
    }
}

thread_local! {
    /// gemmkit's packing buffers, kept per calling thread (they grow to the largest product).
    static WORKSPACE: RefCell<gemmkit::Workspace> = const { RefCell::new(gemmkit::Workspace::new()) };
}

/// `a · b` ([m, k] · [k, n]) with both operands rounded to bf16 and f32 accumulation; the
/// output is row-major f32 [m, n]. Panics when the inner dimensions differ or an operand
/// addresses elements outside its data.
pub fn matmul(a: Operand, b: Operand) -> Vec<f32> {
    assert_eq!(a.cols, b.rows, "bf16 matmul: inner dimensions differ");
    assert!(a.in_bounds() && b.in_bounds(), "bf16 matmul: an operand addresses elements outside its data");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 0 || n == 0 {
        return Vec::new();
    }
    if k == 0 {
        return vec![0.0; m * n];
    }
    if !native() {
        let (ar, br) = (a.rounded(), b.rounded());
        // Bᵀ's element (o, i) is B[i, o] = br[i·n + o].
        return crate::host::matmul_strided(&ar, m, k, &br, n, 1, n);
    }
    let (ab, rsa, csa) = a.to_bf16();
    let (bb, rsb, csb) = b.to_bf16();
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    #[cfg(target_arch = "x86_64")]
    WORKSPACE.with(|ws| {
        let mut ws = ws.borrow_mut();
        // gemmkit's driver takes a column-major output; the row-major C [m, n] is the
        // column-major Cᵀ [n, m] = Bᵀ Aᵀ, so the operands swap and each one's strides swap.
        // SAFETY: `native()` holds, which is what the `Avx512Bf16` token requires. m, n, k > 0
        // and alpha = 1 (the driver's preconditions); the problem is in the driver's orientation
        // (output row stride 1). Bᵀ [n, k] reads `bb` at i·csb + p·rsb and Aᵀ [k, m] reads `ab`
        // at p·csa + j·rsa: both conversions kept the strides that address exactly their
        // elements (dense spans) or wrote a row-major copy, so every read is inside the buffers.
        // The output pointer addresses m·n elements (capacity), written in full with beta = 0
        // before `set_len`; it aliases neither operand.
        unsafe {
            gemmkit::driver::run::<gemmkit::kernel::Bf16DotGemmF32, gemmkit::simd::Avx512Bf16, 2, 12>(
                gemmkit::simd::Avx512Bf16,
                n,
                k,
                m,
                1.0,
                bb.as_ptr(),
                csb,
                rsb,
                ab.as_ptr(),
                csa,
                rsa,
                0.0,
                out.as_mut_ptr(),
                1,
                n as isize,
                gemmkit::Parallelism::Rayon(0),
                &mut ws,
            );
            out.set_len(m * n);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    /// Σ round(a)·round(b) in f64, and Σ |round(a)·round(b)| (the error scale of an f32 sum).
    fn reference(a: Operand, b: Operand) -> (Vec<f64>, Vec<f64>) {
        let at = |o: &Operand, i: usize, j: usize| {
            round(o.data[(o.start as isize + i as isize * o.rs + j as isize * o.cs) as usize]) as f64
        };
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let mut y = vec![0.0; m * n];
        let mut s = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let v = at(&a, i, p) * at(&b, p, j);
                    y[i * n + j] += v;
                    s[i * n + j] += v.abs();
                }
            }
        }
        (y, s)
    }

    fn row(d: &[f32], r: usize, c: usize) -> Operand<'_> {
        Operand { data: d, start: 0, rows: r, cols: c, rs: c as isize, cs: 1 }
    }

    fn check(a: Operand, b: Operand) {
        let got = matmul(a, b);
        let (want, scale) = reference(a, b);
        assert_eq!(got.len(), want.len());
        for (i, ((g, w), s)) in got.iter().zip(&want).zip(&scale).enumerate() {
            // bf16 × bf16 products are exact in f32; only the f32 sum rounds.
            let tol = 1e-6 * a.cols as f64 * s + 1e-30;
            assert!((*g as f64 - w).abs() <= tol, "element {i}: {g} vs {w} (tolerance {tol})");
        }
    }

    #[test]
    fn conversion_rounds_like_half() {
        let mut v = lcg(1000, 1);
        v.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-40,
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            f32::from_bits(0x3f80_8000),
            f32::from_bits(0x3f81_8000),
        ]);
        let got = to_bf16(&v);
        for (x, h) in v.iter().zip(&got) {
            if x.is_subnormal() && native() {
                // vcvtneps2bf16 reads f32 subnormals as zero.
                assert_eq!(h.to_bits(), bf16::from_f32(x.signum() * 0.0).to_bits(), "{x:e}");
            } else {
                assert_eq!(h.to_bits(), bf16::from_f32(*x).to_bits(), "{x:e}");
            }
        }
        // Ties go to even: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7.
        assert_eq!(round(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
        let nan = to_bf16(&[f32::NAN; 17]);
        assert!(nan.iter().all(|h| h.is_nan()));
    }

    #[test]
    fn products_match_rounded_inputs_in_every_layout() {
        // Edge tiles on every side (m, n not multiples of the micro-tile, odd k).
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (33, 17, 29), (64, 96, 48), (5, 300, 40)] {
            let a = lcg(m * k, 2);
            let b = lcg(k * n, 3);
            check(row(&a, m, k), row(&b, k, n));
            // Column-major views (what a transposed tensor is), and a strided one with an offset.
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let a_col = Operand { data: &at, start: 0, rows: m, cols: k, rs: 1, cs: m as isize };
            check(a_col, row(&b, k, n));
            let mut padded = vec![f32::NAN; 3];
            for r in 0..k {
                padded.extend_from_slice(&b[r * n..(r + 1) * n]);
                padded.push(f32::NAN);
            }
            let b_strided = Operand { data: &padded, start: 3, rows: k, cols: n, rs: n as isize + 1, cs: 1 };
            check(a_col, b_strided);
        }
    }

    #[test]
    fn rounding_is_not_skipped() {
        // 1 + 2^-9 rounds to 1 in bf16: the product is exactly 1, not 1 + 2^-9.
        let a = [1.0f32 + 1.0 / 512.0];
        let b = [1.0f32];
        assert_eq!(matmul(row(&a, 1, 1), row(&b, 1, 1)), vec![1.0]);
        // A full 16 x 16 block too, so the SIMD path runs.
        let big_a = vec![1.0f32 + 1.0 / 512.0; 16 * 16];
        let big_b = vec![1.0f32; 16 * 16];
        assert!(matmul(row(&big_a, 16, 16), row(&big_b, 16, 16)).iter().all(|&y| y == 16.0));
    }

    #[test]
    fn non_finite_inputs_propagate() {
        let mut a = lcg(8 * 32, 4);
        let b = lcg(32 * 8, 5);
        a[3 * 32 + 7] = f32::NAN;
        let y = matmul(row(&a, 8, 32), row(&b, 32, 8));
        for i in 0..8 {
            for j in 0..8 {
                assert_eq!(y[i * 8 + j].is_nan(), i == 3, "row {i} col {j}: {}", y[i * 8 + j]);
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside its data")]
    fn out_of_bounds_operand_is_refused() {
        let a = [1.0f32; 4];
        let op = Operand { data: &a, start: 1, rows: 2, cols: 2, rs: 2, cs: 1 };
        matmul(op, op);
    }
}
