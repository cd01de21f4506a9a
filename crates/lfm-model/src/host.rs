//! Weights held on the host for inference, outside burn's tensors.
//!
//! A [`HostMatrix`] is a shared handle to a [`HostWeight`]: a matrix in a layout chosen for a
//! host kernel rather than a trainable parameter. Two kinds exist:
//! - [`F32Matrix`] (here): f32 weights for CPU inference. burn's CPU matmul runs a
//!   matrix-vector product (decode) on one thread; this one streams bands of weight rows on
//!   every core, and takes burn's own blocked matmul (the `gemm` crate) for prefill.
//! - `lfm_quant::qmatrix::QuantMatrix`: ggml block formats (Q8_0, Q4_0, Q4_K, …) from a GGUF
//!   file, multiplied in their packed form.
//!
//! [`crate::proj::Proj`], the embedding and the head hold either a burn parameter or a
//! [`HostMatrix`]; the forward code is the same. Which f32 models get host matrices is decided
//! in [`crate::infer`].

use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};

/// A matrix held on the host in a layout of its own (f32 bands, ggml blocks) and multiplied by
/// a host kernel. HF orientation: `rows` = output features, each row `cols` = input features
/// long.
pub trait HostWeight: Send + Sync + std::fmt::Debug {
    /// `[rows, cols]`.
    fn shape(&self) -> [usize; 2];
    /// `y[r, o] = Σ_i x[r, i] · W[o, i]` for `n` rows of `x` (`x.len() == n * cols`).
    fn matmul_t(&self, x: &[f32], n: usize) -> Vec<f32>;
    /// The f32 values of the given rows, concatenated (embedding lookups).
    fn rows(&self, ids: &[usize]) -> Vec<f32>;
    /// `dx[r, i] = Σ_o dy[r, o] · W[o, i]` for `n` rows of `dy` (`dy.len() == n * rows`): the
    /// gradient of [`HostWeight::matmul_t`] with respect to its input, for training on a
    /// frozen host-held base (QLoRA). The default dequantizes [`GRAD_TILE`] weight rows at a
    /// time through [`HostWeight::rows`] and multiplies each tile with gemm into `dx`, so the
    /// whole matrix never exists in f32.
    fn matmul(&self, dy: &[f32], n: usize) -> Vec<f32> {
        let [rows, cols] = self.shape();
        assert_eq!(dy.len(), n * rows, "host matmul: {n} rows of {rows} expected");
        let mut dx = vec![0.0f32; n * cols];
        if n == 0 || cols == 0 {
            return dx;
        }
        for o0 in (0..rows).step_by(GRAD_TILE) {
            let t = GRAD_TILE.min(rows - o0);
            let w = self.rows(&(o0..o0 + t).collect::<Vec<_>>());
            assert_eq!(w.len(), t * cols, "host matmul: rows() returned a wrong size");
            let par = if n * cols * t >= 1 << 21 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
            // SAFETY: dst `dx` is n×cols row-major (row stride cols, column stride 1), in
            // bounds for every (r, i). lhs is the n×t block of `dy` starting at column o0 with
            // row stride `rows`: its last element, (n-1)·rows + o0 + t - 1, is < n·rows =
            // dy.len() since o0 + t <= rows. rhs `w` is t×cols row-major, w.len() == t·cols
            // (asserted). All three are f32 and m, n, k = n, cols, t are > 0; with read_dst the
            // product is added to the initialised (zeroed) dst.
            unsafe {
                gemm::gemm(
                    n,
                    cols,
                    t,
                    dx.as_mut_ptr(),
                    1,
                    cols as isize,
                    true,
                    dy.as_ptr().add(o0),
                    1,
                    rows as isize,
                    w.as_ptr(),
                    1,
                    cols as isize,
                    1.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    par,
                );
            }
        }
        dx
    }
    /// Storage type name (e.g. "q8_0").
    fn type_name(&self) -> String;
    /// Bytes of packed storage.
    fn nbytes(&self) -> usize;
}

/// Weight rows dequantized at a time by [`HostWeight::matmul`] (256 rows of a 1024-wide
/// matrix: 1 MiB of f32).
pub const GRAD_TILE: usize = 256;

/// A shared handle to host-held weights (cheap to clone; not a trainable parameter).
#[derive(Clone, Debug)]
pub struct HostMatrix(pub Arc<dyn HostWeight>);

impl HostMatrix {
    /// Applies the matrix to the last dimension of `x`: `[.., cols] -> [.., rows]`.
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dims = x.dims();
        let [out_f, in_f] = self.0.shape();
        assert_eq!(dims[D - 1], in_f, "input width {} != host weight width {in_f}", dims[D - 1]);
        let n: usize = dims[..D - 1].iter().product();
        let device = x.device();
        let xs = x.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 activations");
        let y = self.0.matmul_t(&xs, n);
        let mut out = dims;
        out[D - 1] = out_f;
        Tensor::from_data(TensorData::new(y, out), &device)
    }

    /// Rows of the matrix as a `[ids.len(), cols]` tensor.
    pub fn gather(&self, ids: &[usize], device: &Device) -> Tensor<2> {
        let [_, cols] = self.0.shape();
        Tensor::from_data(TensorData::new(self.0.rows(ids), [ids.len(), cols]), device)
    }

    /// The whole matrix in f32, `[rows, cols]` (dequantized when packed; export and checks only).
    pub fn to_f32(&self) -> Vec<f32> {
        let ids: Vec<usize> = (0..self.0.shape()[0]).collect();
        self.0.rows(&ids)
    }
}

/// Worker threads for the host kernels: rayon's global pool, which the CPU backend shares (all
/// cores; `LFM_THREADS` or `RAYON_NUM_THREADS` set its size before first use).
pub fn threads() -> usize {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let n = std::env::var("LFM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
        if let Some(n) = n {
            // Fails only if the pool already exists (then its size stands).
            let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        }
    });
    rayon::current_num_threads()
}

/// Whether a product of `work` multiply-adds is worth handing to the pool's threads (smaller
/// ones finish before the hand-off would pay off).
pub fn worth_splitting(work: usize) -> bool {
    threads() > 1 && work >= 1 << 16
}

/// Up to this many activation rows, [`F32Matrix`] runs its matrix-vector loop (each weight
/// read once for all rows); beyond, the blocked matmul.
const F32_GEMV_ROWS: usize = 16;

/// Narrowest output tile of a matrix-vector task.
const F32_TILE: usize = 1024;

/// Accumulator floats per matrix-vector task (256 KiB: in L2 while the weights stream by).
const F32_ACC: usize = 1 << 16;

/// An f32 matrix for CPU inference, kept as burn keeps a dense linear weight: `Wᵀ`, i.e.
/// `[cols, rows]` row-major (input features major). Prefill goes through the `gemm` crate's
/// blocked matmul exactly as burn's CPU backend would run it; decode-sized products (at most
/// [`F32_GEMV_ROWS`] rows) run a matrix-vector loop over bands of weight rows on rayon's pool,
/// where burn's matmul takes a single-threaded path and reads the weights with one core.
/// Values stay f32, so results match the dense path up to summation order.
pub struct F32Matrix {
    /// `wt[i · rows + o] = W[o, i]`.
    wt: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl std::fmt::Debug for F32Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "F32Matrix([{}, {}])", self.rows, self.cols)
    }
}

impl F32Matrix {
    /// From HF-layout values (`[rows, cols]` row-major).
    pub fn from_rows(values: &[f32], rows: usize, cols: usize) -> Self {
        F32Matrix { wt: crate::model::transpose_host(values, rows, cols), rows, cols }
    }

    /// From burn's dense linear layout: `wt` is `[cols, rows]` row-major (`x · wt` computes
    /// the product), taken as it is, without a copy.
    pub fn from_in_out(wt: Vec<f32>, cols: usize, rows: usize) -> Self {
        assert_eq!(wt.len(), rows * cols, "an [{cols}, {rows}] weight");
        F32Matrix { wt, rows, cols }
    }

    /// `acc[r, ..] += Σ_{i0 ≤ i < i1} x[r, i] · wt[i, o0..o1]` (`acc`: `n` rows of `o1 − o0`).
    #[inline(always)]
    fn tile(&self, x: &[f32], n: usize, (i0, i1): (usize, usize), (o0, o1): (usize, usize), acc: &mut [f32]) {
        let w = o1 - o0;
        let wrow = |i: usize| &self.wt[i * self.rows + o0..i * self.rows + o1];
        // Four weight rows per pass over the accumulators: one load and store of each
        // accumulator per four multiply-adds.
        let mut i = i0;
        while i + 4 <= i1 {
            let (w0, w1, w2, w3) = (wrow(i), wrow(i + 1), wrow(i + 2), wrow(i + 3));
            for r in 0..n {
                let xr = &x[r * self.cols + i..r * self.cols + i + 4];
                let (x0, x1, x2, x3) = (xr[0], xr[1], xr[2], xr[3]);
                let a = &mut acc[r * w..(r + 1) * w];
                for ((((a, &v0), &v1), &v2), &v3) in a.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                    *a += x0 * v0 + x1 * v1 + x2 * v2 + x3 * v3;
                }
            }
            i += 4;
        }
        for i in i..i1 {
            let wr = wrow(i);
            for r in 0..n {
                let xv = x[r * self.cols + i];
                for (a, &wv) in acc[r * w..(r + 1) * w].iter_mut().zip(wr) {
                    *a += xv * wv;
                }
            }
        }
    }

    /// [`tile`](Self::tile) compiled for AVX-512 (the default x86-64 target has SSE2 only).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn tile_avx512(&self, x: &[f32], n: usize, i: (usize, usize), o: (usize, usize), acc: &mut [f32]) {
        self.tile(x, n, i, o, acc)
    }

    /// Decode-sized products. Each task streams a contiguous band of weight rows (input
    /// features) across an output tile as wide as its accumulators allow (64K floats over the
    /// activation rows), so memory is read in long sequential runs; the bands' partial sums
    /// are added at the end.
    fn gemv(&self, x: &[f32], n: usize) -> Vec<f32> {
        let (rows, cols) = (self.rows, self.cols);
        let tw = (F32_ACC / n).max(F32_TILE).min(rows.max(1));
        let tiles = rows.div_ceil(tw);
        let bands = if worth_splitting(rows * cols * n) { threads() } else { 1 };
        let band = cols.div_ceil(bands);
        let run = |k: usize| -> Vec<f32> {
            let (t, b) = (k / bands, k % bands);
            let o = (t * tw, ((t + 1) * tw).min(rows));
            let i = ((b * band).min(cols), ((b + 1) * band).min(cols));
            let mut acc = vec![0.0f32; n * (o.1 - o.0)];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // Safety: the CPU has AVX-512F (checked just above).
                unsafe { self.tile_avx512(x, n, i, o, &mut acc) };
                return acc;
            }
            self.tile(x, n, i, o, &mut acc);
            acc
        };
        let parts: Vec<Vec<f32>> = if bands > 1 {
            let slots: Vec<std::sync::OnceLock<Vec<f32>>> = (0..tiles * bands).map(|_| Default::default()).collect();
            crate::pool::for_each(tiles * bands, &|k| {
                let _ = slots[k].set(run(k));
            });
            slots.into_iter().map(|s| s.into_inner().expect("every task ran")).collect()
        } else {
            (0..tiles).map(run).collect()
        };
        let mut y = vec![0.0f32; n * rows];
        for (k, acc) in parts.iter().enumerate() {
            let (o0, w) = ((k / bands) * tw, acc.len() / n);
            for r in 0..n {
                for (yv, a) in y[r * rows + o0..r * rows + o0 + w].iter_mut().zip(&acc[r * w..(r + 1) * w]) {
                    *yv += a;
                }
            }
        }
        y
    }

    fn gemm(&self, x: &[f32], n: usize) -> Vec<f32> {
        // wt[i · rows + o] = W[o, i].
        matmul_strided(x, n, self.cols, &self.wt, self.rows, 1, self.rows)
    }
}

/// Whether every element of a strided view (`start + Σ i_d · stride_d` for `i_d < len_d`, over
/// `dims` = `(len_d, stride_d)`) lies inside a buffer of `len` elements. Strides may be negative
/// or zero; an empty view is inside.
pub(crate) fn strided_in_bounds(start: usize, dims: &[(usize, isize)], len: usize) -> bool {
    if dims.iter().any(|d| d.0 == 0) {
        return true;
    }
    let (mut lo, mut hi) = (start as isize, start as isize);
    for &(n, stride) in dims {
        let span = (n as isize - 1) * stride;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    lo >= 0 && (hi as usize) < len
}

/// `y [n, rows] = x [n, cols] · Wᵀ` with the `gemm` crate (on the pool's threads), where
/// `W[o, i]` is `w[o · o_stride + i · i_stride]`: row-major W is `(cols, 1)`, burn's
/// `[cols, rows]` layout is `(1, rows)`.
///
/// Panics if `x` is not `n · cols` values or `w` does not hold every element the strides name.
pub fn matmul_strided(
    x: &[f32],
    n: usize,
    cols: usize,
    w: &[f32],
    rows: usize,
    o_stride: usize,
    i_stride: usize,
) -> Vec<f32> {
    assert_eq!(x.len(), n * cols, "matmul_strided: x");
    let mut y = vec![0.0f32; n * rows];
    if n == 0 || rows == 0 || cols == 0 {
        return y;
    }
    assert!((rows - 1) * o_stride + (cols - 1) * i_stride < w.len(), "matmul_strided: w");
    let par = if threads() > 1 { gemm::Parallelism::Rayon(threads()) } else { gemm::Parallelism::None };
    // SAFETY: dst y is n×rows row-major (column stride 1, row stride rows); lhs x is n×cols
    // row-major (asserted length); the rhs is Wᵀ, cols×rows, element (i, o) at
    // i·i_stride + o·o_stride, every one inside `w` (asserted above). m, n, k = n, rows,
    // cols, all > 0; alpha 0 with read_dst false overwrites y. gemm takes strides as
    // (column, row) pairs.
    unsafe {
        gemm::gemm(
            n,
            rows,
            cols,
            y.as_mut_ptr(),
            1,
            rows as isize,
            false,
            x.as_ptr(),
            1,
            cols as isize,
            w.as_ptr(),
            o_stride as isize,
            i_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
    y
}

impl HostWeight for F32Matrix {
    fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
    fn matmul_t(&self, x: &[f32], n: usize) -> Vec<f32> {
        assert_eq!(x.len(), n * self.cols);
        if n <= F32_GEMV_ROWS {
            self.gemv(x, n)
        } else {
            self.gemm(x, n)
        }
    }
    fn rows(&self, ids: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        for &o in ids {
            out.extend((0..self.cols).map(|i| self.wt[i * self.rows + o]));
        }
        out
    }
    fn type_name(&self) -> String {
        "f32".into()
    }
    fn nbytes(&self) -> usize {
        self.wt.len() * 4
    }
}

/// An HF-layout f32 matrix (`[rows, cols]`) as a [`HostMatrix`] served by [`F32Matrix`]
/// (CPU inference of f32 weights).
pub fn f32_matrix(values: Vec<f32>, [rows, cols]: [usize; 2]) -> HostMatrix {
    let m = F32Matrix::from_rows(&values, rows, cols);
    drop(values);
    HostMatrix(Arc::new(m))
}

#[cfg(test)]
mod f32_tests {
    use super::*;

    /// Both f32 paths (matrix-vector bands for ≤ 16 rows, the blocked matmul beyond) against
    /// a plain f64 triple loop, for shapes narrower and wider than a tile, and the row gather.
    #[test]
    fn f32_matrix_matches_naive_product() {
        for (rows, cols) in [(7usize, 5usize), (600, 96), (2500, 130)] {
            let w: Vec<f32> = (0..rows * cols).map(|k| ((k * 7919 % 1013) as f32 - 506.0) / 512.0).collect();
            let m = F32Matrix::from_rows(&w, rows, cols);
            for n in [1usize, 3, 16, 17, 40] {
                let x: Vec<f32> = (0..n * cols).map(|k| ((k * 31 % 97) as f32 - 48.0) / 64.0).collect();
                let y = m.matmul_t(&x, n);
                for r in 0..n {
                    for o in 0..rows {
                        let want: f64 = (0..cols).map(|i| x[r * cols + i] as f64 * w[o * cols + i] as f64).sum();
                        let got = y[r * rows + o] as f64;
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "[{rows}x{cols}] n={n} y[{r},{o}] {got} vs {want}"
                        );
                    }
                }
            }
            let ids = [rows - 1, 0, rows / 2];
            let got = m.rows(&ids);
            let want: Vec<f32> = ids.iter().flat_map(|&o| w[o * cols..(o + 1) * cols].to_vec()).collect();
            assert_eq!(got, want);
            assert_eq!((m.shape(), m.nbytes()), ([rows, cols], rows * cols * 4));
        }
    }
}
