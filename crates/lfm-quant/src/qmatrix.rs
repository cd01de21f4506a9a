//! Packed matrices from a GGUF file as `lfm_model::host::HostWeight`: the model's linear
//! layers, embedding and head run straight from the block data (shared with the file map).
//! (f32 host matrices are lfm-model's own `F32Matrix`.)

use std::sync::Arc;

use lfm_model::host::threads;
use lfm_model::host::{worth_splitting, HostWeight};

use crate::blocks::{dequantize_row, GgmlType};
use crate::kernels::{f32_rows_dot, row_dots, Acts, Interleaved, Isa};

/// Up to this many activation rows, f32 products run the row-streaming kernel; beyond, `gemm`.
const F32_DOT_ROWS: usize = 64;

/// Activation rows per tile: a task's weight rows and one tile of activations stay in cache
/// together.
const ACT_TILE: usize = 64;

/// `y [n, rows]` with tasks of `per_task` weight rows on the pool: `task(o0, out)` fills `out`
/// as `[nrow, n]` for rows `o0..o0 + nrow`, and the task writes them into `y` itself, in
/// contiguous runs of each output row (the transposition runs in parallel too). One task
/// (`per_task >= rows`) runs on the caller.
fn par_rows(rows: usize, n: usize, per_task: usize, task: &(dyn Fn(usize, &mut [f32]) + Sync)) -> Vec<f32> {
    let mut y = vec![0.0f32; n * rows];
    let yp = SendPtr(y.as_mut_ptr());
    lfm_model::pool::for_each(rows.div_ceil(per_task), &|t| {
        let yp = &yp;
        let o0 = t * per_task;
        let nrow = per_task.min(rows - o0);
        let mut out = vec![0.0f32; nrow * n];
        task(o0, &mut out);
        for r in 0..n {
            for i in 0..nrow {
                // SAFETY: task t owns output columns [o0, o0 + nrow) of every row of `y` (the
                // tasks' row ranges are disjoint), and `y` outlives the call.
                unsafe { *yp.0.add(r * rows + o0 + i) = out[i * n + r] };
            }
        }
    });
    y
}

/// A raw output pointer shared by kernel tasks that write disjoint parts.
struct SendPtr(*mut f32);
// SAFETY: the pointer is only written through by tasks that own disjoint ranges of the
// buffer it points into (see `matmul_interleaved`), and the buffer outlives every task.
unsafe impl Sync for SendPtr {}
// SAFETY: as for `Sync`: moving the pointer to a worker thread shares no element between tasks.
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
    /// The rows repacked for the AVX-512 VNNI kernel (Q8_0/Q4_0/Q6_K on such CPUs).
    il: Option<Arc<Interleaved>>,
}

impl std::fmt::Debug for QuantMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuantMatrix({} [{}, {}])", self.ty.name(), self.rows, self.cols)
    }
}

impl QuantMatrix {
    /// A `[rows, cols]` matrix stored at `bytes[start..]`. On CPUs with AVX-512 VNNI, Q8_0, Q4_0
    /// and Q6_K rows are repacked for the fast kernel, and the mapped file pages they came from are
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
                // SAFETY: a read-only, file-backed private map: dropping its pages only means
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
        if self.ty == GgmlType::F32 && isa != Isa::Scalar {
            return self.matmul_f32(x, n);
        }
        let acts = Acts::new(self.ty, x, cols);
        // Tasks own runs of weight rows (on lfm's pool, so no thread is started per call) and
        // walk the activations in tiles of ACT_TILE rows.
        let task = |o0: usize, out: &mut [f32]| {
            let nrow = out.len() / n;
            for r0 in (0..n).step_by(ACT_TILE) {
                let r1 = (r0 + ACT_TILE).min(n);
                for i in 0..nrow {
                    row_dots(isa, self.ty, self.row(o0 + i), &acts, r0, &mut out[i * n + r0..i * n + r1]);
                }
            }
        };
        let per_task = if self.split(n) { rows.div_ceil(threads() * 8).clamp(4, 256) } else { rows.max(1) };
        par_rows(rows, n, per_task, &task)
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
            let mut buf2 = vec![[0.0f32; 16]; ACT_TILE.min(n)];
            for r0 in (0..n).step_by(ACT_TILE) {
                let r1 = (r0 + ACT_TILE).min(n);
                let mut g = g0;
                // Pairs of groups in 512-bit registers, a last odd group alone. A single
                // activation row (decode at batch 1) is bound by memory, and one stream of
                // cells reads faster than the two a pair interleaves (Q8_0 b1: 90-102 tok/s
                // with single groups, 80-92 with pairs, alternating builds).
                while g < g1 {
                    let w = if n > 1 && g + 1 < g1 { 16 } else { 8 };
                    let out: &[f32] = if w == 16 {
                        il.pair_dots(g, &acts, r0, &mut buf2[..r1 - r0]);
                        buf2[..r1 - r0].as_flattened()
                    } else {
                        il.group_dots(g, &acts, r0, &mut buf[..r1 - r0]);
                        buf[..r1 - r0].as_flattened()
                    };
                    for (k, v) in out.chunks_exact(w).enumerate() {
                        // SAFETY: tasks own disjoint column ranges [8·g0, 8·g1) of every row
                        // of `y`, which outlives them; g + w/8 <= g1.
                        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), yp.0.add((r0 + k) * rows + 8 * g), w) };
                    }
                    g += w / 8;
                }
            }
        };
        if !self.split(n) {
            task(0, groups);
        } else {
            // Even runs of groups, so that every task's groups pair up.
            let per_task = groups.div_ceil(threads() * 8).clamp(1, 64).next_multiple_of(2);
            let ntasks = groups.div_ceil(per_task);
            lfm_model::pool::for_each(ntasks, &|t| task(t * per_task, ((t + 1) * per_task).min(groups)));
        }
        y
    }

    /// f32 rows straight from the file (no transposed copy of the weights): decode-sized
    /// products stream four weight rows at a time ([`f32_rows_dot`]), larger ones go to the
    /// `gemm` crate, which reads `W` transposed in place.
    fn matmul_f32(&self, x: &[f32], n: usize) -> Vec<f32> {
        let (rows, cols) = (self.rows, self.cols);
        let w = &self.bytes[self.start..self.start + rows * cols * 4];
        if n > F32_DOT_ROWS {
            // SAFETY: every bit pattern is a valid f32; `align_to` puts misaligned bytes in
            // the prefix, and GGUF data is aligned (asserted).
            let (pre, wf, _) = unsafe { w.align_to::<f32>() };
            assert!(pre.is_empty(), "f32 tensor data is 4-byte aligned in a GGUF file");
            return lfm_model::host::matmul_strided(x, n, cols, wf, rows, cols, 1);
        }
        let task = |o0: usize, out: &mut [f32]| {
            let nrow = out.len() / n;
            f32_rows_dot(&w[o0 * cols * 4..(o0 + nrow) * cols * 4], nrow, cols, x, n, out);
        };
        // Whole groups of four rows per task.
        let per_task =
            if self.split(n) { rows.div_ceil(threads() * 4).clamp(4, 512).next_multiple_of(4) } else { rows.max(1) };
        par_rows(rows, n, per_task, &task)
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

impl HostWeight for QuantMatrix {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::quantize_row;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// The whole product on the fastest path (interleaved groups, in pairs and a last odd one,
    /// split over tasks) against the scalar reference, for activation counts around the tile.
    #[test]
    fn fast_paths_match_the_scalar_reference() {
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q6K] {
            for (rows, cols) in [(56, 256), (1096, 256)] {
                let w: Vec<u8> = (0..rows).flat_map(|r| quantize_row(ty, &values(cols, 100 + r as u64))).collect();
                let m = QuantMatrix::new(Arc::new(Bytes::Owned(w)), 0, ty, rows, cols);
                for n in [1, 3, 70] {
                    let x = values(n * cols, 7 + n as u64);
                    let want = m.matmul_t_with(Isa::Scalar, &x, n);
                    let got = m.matmul_t(&x, n);
                    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                            "{ty:?} {rows}x{cols} n={n} [{i}]: {g} vs {e}"
                        );
                    }
                }
            }
        }
    }
}
