//! The one cache type for incremental decoding (docs/lfm2-architecture.md §5): per layer either the conv state
//! (the last L-1 conv inputs, [B, L-1, H]) or the attention keys/values ([B, nkv, P, hd],
//! keys stored after norm and RoPE), plus the number of processed positions and each
//! row's left padding.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{LayerKind, Lfm2Config};

/// State of one layer.
#[derive(Debug, Clone)]
pub enum LayerCache {
    /// Last L-1 values of `u = B * x`, [B, L-1, H]; `None` before the first token.
    Conv(Option<Tensor<3>>),
    /// Keys and values [B, nkv, P, hd]; `None` before the first token.
    Attention(Option<(Tensor<4>, Tensor<4>)>),
}

impl LayerCache {
    pub(crate) fn take_conv(&mut self) -> Option<Tensor<3>> {
        match self {
            LayerCache::Conv(s) => s.take(),
            LayerCache::Attention(_) => panic!("layer kind mismatch: conv state asked of an attention layer"),
        }
    }

    pub(crate) fn take_kv(&mut self) -> Option<(Tensor<4>, Tensor<4>)> {
        match self {
            LayerCache::Attention(s) => s.take(),
            LayerCache::Conv(_) => panic!("layer kind mismatch: KV asked of a conv layer"),
        }
    }
}

/// Cache for a batch of sequences.
#[derive(Debug, Clone)]
pub struct Cache {
    pub(crate) layers: Vec<LayerCache>,
    kinds: Vec<LayerKind>,
    seq_len: usize,
    left_pad: Vec<usize>,
}

impl Cache {
    /// An empty cache for `batch` unpadded sequences.
    pub fn new(cfg: &Lfm2Config, batch: usize) -> Self {
        Self::with_left_pad(cfg, vec![0; batch])
    }

    /// An empty cache whose rows start with `left_pad[r]` padding tokens (masked out of
    /// attention and of the convolution, excluded from positions).
    pub fn with_left_pad(cfg: &Lfm2Config, left_pad: Vec<usize>) -> Self {
        Self::for_layers(cfg.layer_types.clone(), left_pad)
    }

    /// An empty cache for layers of these kinds.
    pub(crate) fn for_layers(kinds: Vec<LayerKind>, left_pad: Vec<usize>) -> Self {
        let mut c = Self { layers: Vec::new(), kinds, seq_len: 0, left_pad };
        c.reset();
        c
    }

    /// Forgets every token (keeps the batch size and padding).
    pub fn reset(&mut self) {
        self.seq_len = 0;
        self.layers = self
            .kinds
            .iter()
            .map(|k| match k {
                LayerKind::Conv => LayerCache::Conv(None),
                LayerKind::Attention => LayerCache::Attention(None),
            })
            .collect();
    }

    /// Positions processed so far (including padding).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Number of sequences.
    pub fn batch_size(&self) -> usize {
        self.left_pad.len()
    }

    /// Left padding per row.
    pub fn left_pad(&self) -> &[usize] {
        &self.left_pad
    }

    /// A cache whose row `i` is this cache's row `rows[i]` (rows may repeat or be left out):
    /// G samples of one prompt share its prefill, and generation drops finished rows. Under
    /// autodiff the gradient of a repeated row sums into the source row.
    ///
    /// # Panics
    /// If a row index is out of range.
    pub fn select_rows(&self, rows: &[usize]) -> Cache {
        let b = self.batch_size();
        assert!(rows.iter().all(|&r| r < b), "row index out of range for a cache of {b} rows");
        let pick = |t: &Tensor<3>| t.clone().select(0, index(rows, &t.device()));
        let pick4 = |t: &Tensor<4>| t.clone().select(0, index(rows, &t.device()));
        let layers = self
            .layers
            .iter()
            .map(|l| match l {
                LayerCache::Conv(s) => LayerCache::Conv(s.as_ref().map(pick)),
                LayerCache::Attention(kv) => LayerCache::Attention(kv.as_ref().map(|(k, v)| (pick4(k), pick4(v)))),
            })
            .collect();
        Cache {
            layers,
            kinds: self.kinds.clone(),
            seq_len: self.seq_len,
            left_pad: rows.iter().map(|&r| self.left_pad[r]).collect(),
        }
    }

    pub(crate) fn advance(&mut self, t: usize) {
        self.seq_len += t;
    }
}

fn index(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows.len()]), device)
}
