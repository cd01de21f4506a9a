//! Packed matrices from a GGUF file as `lfm_model::proj::QuantWeight`: the model's linear
//! layers, embedding and head run straight from the block data (shared with the file map).

use std::sync::Arc;

use lfm_model::proj::QuantWeight;

use rayon::prelude::*;

use crate::blocks::{dequantize_row, GgmlType};
use crate::kernels::{row_dots, Acts, Interleaved, Isa};

/// Activation rows per tile: a task's weight rows and one tile of activations stay in cache
/// together.
const ACT_TILE: usize = 64;

/// A raw output pointer shared by kernel tasks that write disjoint parts.
struct SendPtr(*mut f32);
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}
use crate::gguf::Bytes;

/// A `[rows, cols]` matrix in a ggml format, rows contiguous (GGUF `ne = [cols, rows]`).
#[derive(Clone)]
pub struct QuantMatrix {
    pub bytes: Arc<Bytes>,
    pub start: usize,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    /// The rows repacked for the AVX-512 VNNI kernel (Q8_0/Q4_0 on such CPUs).
    il: Option<Arc<Interleaved>>,
}

impl std::fmt::Debug for QuantMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuantMatrix({} [{}, {}])", self.ty.name(), self.rows, self.cols)
    }
}

impl QuantMatrix {
    /// A `[rows, cols]` matrix stored at `bytes[start..]`. On CPUs with AVX-512 VNNI, Q8_0 and
    /// Q4_0 rows are repacked for the fast kernel, and the mapped file pages they came from are
    /// released (they are re-read on demand, e.g. for embedding rows), so the weights are not
    /// resident twice.
    pub fn new(bytes: Arc<Bytes>, start: usize, ty: GgmlType, rows: usize, cols: usize) -> Self {
        let len = ty.row_bytes(cols) * rows;
        let il = if Isa::current() == Isa::Vnni {
            Interleaved::pack(ty, &bytes[start..start + len], rows, cols).map(Arc::new)
        } else {
            None
        };
        if il.is_some() {
            if let Bytes::Mapped(m) = &*bytes {
                // Safety: a read-only, file-backed private map: dropping its pages only means
                // they are read from the file again when touched.
                let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len) };
            }
        }
        QuantMatrix { bytes, start, ty, rows, cols, il }
    }

    /// `y[r, o] = Σ_i x[r, i] · W[o, i]` on a chosen code path (`matmul_t` uses the fastest).
    pub fn matmul_t_with(&self, isa: Isa, x: &[f32], n: usize) -> Vec<f32> {
        assert_eq!(x.len(), n * self.cols);
        let (rows, cols) = (self.rows, self.cols);
        if let (Some(il), Isa::Vnni) = (&self.il, isa) {
            return self.matmul_interleaved(il, x, n);
        }
        let acts = Acts::new(self.ty, x, cols);
        // The output is computed as [rows, n]: tasks own runs of weight rows (rayon's pool, so
        // no thread is started per call) and walk the activations in tiles of ACT_TILE rows.
        let task = |o0: usize, out: &mut [f32]| {
            let nrow = out.len() / n;
            for r0 in (0..n).step_by(ACT_TILE) {
                let r1 = (r0 + ACT_TILE).min(n);
                for i in 0..nrow {
                    row_dots(isa, self.ty, self.row(o0 + i), &acts, r0, &mut out[i * n + r0..i * n + r1]);
                }
            }
        };
        let mut yt = vec![0.0f32; rows * n];
        if !self.split(n) {
            task(0, &mut yt);
        } else {
            let per_task = rows.div_ceil(threads() * 8).clamp(4, 256);
            yt.par_chunks_mut(per_task * n).enumerate().for_each(|(t, out)| task(t * per_task, out));
        }
        if n == 1 {
            return yt;
        }
        let mut y = vec![0.0f32; n * rows];
        for o in 0..rows {
            for r in 0..n {
                y[r * rows + o] = yt[o * n + r];
            }
        }
        y
    }

    /// The [`Interleaved`] path: tasks own runs of 8-row groups and write `[n, rows]` directly.
    fn matmul_interleaved(&self, il: &Interleaved, x: &[f32], n: usize) -> Vec<f32> {
        let rows = self.rows;
        let Acts::Q8(acts) = Acts::new(self.ty, x, self.cols) else { unreachable!("block format") };
        let groups = rows / 8;
        let mut y = vec![0.0f32; n * rows];
        let yp = SendPtr(y.as_mut_ptr());
        let task = |g0: usize, g1: usize| {
            let yp = &yp;
            let mut buf = vec![[0.0f32; 8]; ACT_TILE.min(n)];
            for r0 in (0..n).step_by(ACT_TILE) {
                let r1 = (r0 + ACT_TILE).min(n);
                for g in g0..g1 {
                    il.group_dots(g, &acts, r0, &mut buf[..r1 - r0]);
                    for (k, v) in buf[..r1 - r0].iter().enumerate() {
                        // Safety: tasks own disjoint column ranges [8·g0, 8·g1) of every row
                        // of `y`, which outlives them.
                        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), yp.0.add((r0 + k) * rows + 8 * g), 8) };
                    }
                }
            }
        };
        if !self.split(n) {
            task(0, groups);
        } else {
            let per_task = groups.div_ceil(threads() * 8).clamp(1, 64);
            let ntasks = groups.div_ceil(per_task);
            (0..ntasks).into_par_iter().for_each(|t| task(t * per_task, ((t + 1) * per_task).min(groups)));
        }
        y
    }

    /// Whether a product with `n` input rows is worth splitting across the pool's threads.
    fn split(&self, n: usize) -> bool {
        worth_splitting(self.rows * self.cols * n)
    }

    fn row(&self, r: usize) -> &[u8] {
        let rb = self.ty.row_bytes(self.cols);
        &self.bytes[self.start + r * rb..self.start + (r + 1) * rb]
    }
}

/// Worker threads for the kernels: rayon's global pool, which the CPU backend shares (all
/// cores; `LFM_THREADS` or `RAYON_NUM_THREADS` set its size before first use).
/// Whether a product of `work` multiply-adds is worth handing to the pool's threads (smaller
/// ones finish before the hand-off would pay off).
fn worth_splitting(work: usize) -> bool {
    threads() > 1 && work >= 1 << 16
}

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

impl QuantWeight for QuantMatrix {
    fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    fn matmul_t(&self, x: &[f32], n: usize) -> Vec<f32> {
        self.matmul_t_with(Isa::current(), x, n)
    }
    fn rows(&self, ids: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(ids.len() * self.cols);
        let mut buf = Vec::new();
        for &i in ids {
            assert!(i < self.rows, "row {i} out of range ({} rows)", self.rows);
            dequantize_row(self.ty, self.row(i), &mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }

    fn type_name(&self) -> String {
        self.ty.name().to_string()
    }

    fn nbytes(&self) -> usize {
        self.ty.row_bytes(self.cols) * self.rows
    }
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
        F32Matrix { wt: lfm_model::model::transpose_host(values, rows, cols), rows, cols }
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
            (0..tiles * bands).into_par_iter().map(run).collect()
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
        let (rows, cols) = (self.rows, self.cols);
        let mut y = vec![0.0f32; n * rows];
        let par = if threads() > 1 { gemm::Parallelism::Rayon(threads()) } else { gemm::Parallelism::None };
        // y [n, rows] = x [n, cols] · wt [cols, rows], all row-major. gemm takes strides as
        // (column, row) pairs.
        // Safety: the three buffers hold n·rows, n·cols and cols·rows values.
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
                self.wt.as_ptr(),
                1,
                rows as isize,
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
}

impl QuantWeight for F32Matrix {
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

/// An HF-layout f32 matrix (`[rows, cols]`) as a [`QuantHandle`](lfm_model::proj::QuantHandle)
/// served by [`F32Matrix`] (CPU inference of f32 weights).
pub fn f32_handle(values: Vec<f32>, [rows, cols]: [usize; 2]) -> lfm_model::proj::QuantHandle {
    let m = F32Matrix::from_rows(&values, rows, cols);
    drop(values);
    lfm_model::proj::QuantHandle(Arc::new(m))
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
