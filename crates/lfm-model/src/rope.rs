//! Rotate-half ("NeoX") rotary position embedding, docs/lfm2-architecture.md §4.6 step 3.
//!
//! Element i is paired with element i + hd/2 — not burn's `RotaryEncoding`, which pairs
//! neighbours (2i, 2i+1) and would not match transformers. Angles are computed in f32 as
//! transformers does (`inv_freq` in f32, then `position * inv_freq` in f32).

use burn::tensor::{Device, Tensor, TensorData};

/// cos/sin tables for one forward call.
pub struct Rope {
    /// [B, T, 1, hd/2]
    cos: Tensor<4>,
    /// [B, T, 1, hd/2]
    sin: Tensor<4>,
    half: usize,
}

impl Rope {
    /// Tables for T new tokens after `past` cached ones; row r's positions start after its
    /// `pads[r]` left-pad tokens, so a padded row sees the same positions as alone.
    pub fn new(theta: f64, head_dim: usize, past: usize, t: usize, pads: &[usize], device: &Device) -> Self {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> =
            (0..half).map(|i| 1.0f32 / (theta as f32).powf((2 * i) as f32 / head_dim as f32)).collect();
        let b = pads.len();
        let mut cos = Vec::with_capacity(b * t * half);
        let mut sin = Vec::with_capacity(b * t * half);
        for &pad in pads {
            for i in 0..t {
                let pos = (past + i).saturating_sub(pad) as f32;
                for f in &inv_freq {
                    let angle = pos * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        Self {
            cos: Tensor::from_data(TensorData::new(cos, [b, t, 1, half]), device),
            sin: Tensor::from_data(TensorData::new(sin, [b, t, 1, half]), device),
            half,
        }
    }

    /// Rotates q or k.
    ///
    /// # Shapes
    /// - `x`: [B, T, heads, hd] -> [B, T, heads, hd]
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let a = x.clone().narrow(3, 0, self.half);
        let b = x.narrow(3, self.half, self.half);
        let first = a.clone() * self.cos.clone() - b.clone() * self.sin.clone();
        let second = b * self.cos.clone() + a * self.sin.clone();
        Tensor::cat(vec![first, second], 3)
    }
}
