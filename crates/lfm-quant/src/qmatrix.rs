//! Packed matrices from a GGUF file as `lfm_model::proj::QuantWeight`: the model's linear
//! layers, embedding and head run straight from the block data (shared with the file map).

use std::sync::Arc;

use lfm_model::proj::QuantWeight;

use crate::blocks::{dequantize_row, dot_row, GgmlType};
use crate::gguf::Bytes;

/// A `[rows, cols]` matrix in a ggml format, rows contiguous (GGUF `ne = [cols, rows]`).
#[derive(Clone)]
pub struct QuantMatrix {
    pub bytes: Arc<Bytes>,
    pub start: usize,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
}

impl std::fmt::Debug for QuantMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuantMatrix({} [{}, {}])", self.ty.name(), self.rows, self.cols)
    }
}

impl QuantMatrix {
    fn row(&self, r: usize) -> &[u8] {
        let rb = self.ty.row_bytes(self.cols);
        &self.bytes[self.start + r * rb..self.start + (r + 1) * rb]
    }
}

/// Σ a·b in 8 independent lanes (so the compiler vectorizes it).
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Worker threads for the kernels (all cores; `LFM_THREADS` overrides).
pub fn threads() -> usize {
    std::env::var("LFM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

impl QuantWeight for QuantMatrix {
    fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    fn matmul_t(&self, x: &[f32], n: usize) -> Vec<f32> {
        assert_eq!(x.len(), n * self.cols);
        let (rows, cols) = (self.rows, self.cols);
        // Output features are split across threads (only when the work pays for the spawns);
        // each thread computes its columns for every input row. A weight row is decoded once into
        // a reused buffer, except that a single input row is dotted straight from quantized blocks.
        let work = rows * cols * n;
        let nt = if work < (1 << 18) { 1 } else { threads().min(rows).max(1) };
        let chunk = rows.div_ceil(nt);
        let part = |lo: usize, hi: usize| -> Vec<f32> {
            let mut out = vec![0.0f32; n * (hi - lo)];
            let mut buf = Vec::with_capacity(cols);
            for o in lo..hi {
                let w = self.row(o);
                if n == 1 && self.ty.is_quantized() {
                    out[o - lo] = dot_row(self.ty, w, x);
                    continue;
                }
                dequantize_row(self.ty, w, &mut buf);
                for r in 0..n {
                    out[r * (hi - lo) + (o - lo)] = dot_f32(&buf, &x[r * cols..(r + 1) * cols]);
                }
            }
            out
        };
        let parts: Vec<Vec<f32>> = if nt == 1 {
            vec![part(0, rows)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..nt).map(|t| {
                    let part = &part;
                    s.spawn(move || part(t * chunk, ((t + 1) * chunk).min(rows)))
                }).collect();
                handles.into_iter().map(|h| h.join().expect("kernel thread")).collect()
            })
        };
        let mut y = vec![0.0f32; n * rows];
        for (t, p) in parts.iter().enumerate() {
            let (lo, hi) = (t * chunk, ((t + 1) * chunk).min(rows));
            for r in 0..n {
                y[r * rows + lo..r * rows + hi].copy_from_slice(&p[r * (hi - lo)..(r + 1) * (hi - lo)]);
            }
        }
        y
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
