//! Random initialisation for training from scratch — all weight init is here.
//!
//! | tensor | distribution (HF `Lfm2PreTrainedModel._init_weights`) |
//! |---|---|
//! | embedding, untied head | N(0, std), row `pad_token_id` zeroed |
//! | every Linear weight (in_proj, out_proj, q/k/v/o, w1/w2/w3) | N(0, std) |
//! | conv kernel | N(0, std) |
//! | RMSNorm weights (operator, ffn, q/k, final) | 1 |
//! | biases (only with `conv_bias`) | 0 |
//!
//! `std` is HF's `initializer_range`, 0.02.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use crate::config::Lfm2Config;
use crate::error::LfmError;
use crate::model::WeightSource;
use crate::names::{Role, Slot};

/// A [`WeightSource`] drawing fresh weights from a seeded RNG.
pub struct RandomInit {
    rng: StdRng,
    std: f32,
    pad_token_id: usize,
}

impl RandomInit {
    /// HF's defaults (std 0.02) for `cfg`, reproducible from `seed`.
    pub fn new(cfg: &Lfm2Config, seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed), std: 0.02, pad_token_id: cfg.pad_token_id as usize }
    }

    /// Overrides the standard deviation of the normal draws.
    pub fn with_std(mut self, std: f32) -> Self {
        self.std = std;
        self
    }
}

impl WeightSource for RandomInit {
    fn get(&mut self, slot: Slot, shape: &[usize]) -> Result<Vec<f32>, LfmError> {
        let n: usize = shape.iter().product();
        let normal = Normal::new(0.0f32, self.std).map_err(|e| LfmError::Invalid(e.to_string()))?;
        Ok(match slot.role() {
            Role::Norm => vec![1.0; n],
            Role::Bias => vec![0.0; n],
            Role::Linear | Role::ConvKernel => (0..n).map(|_| normal.sample(&mut self.rng)).collect(),
            Role::Embedding => {
                let mut v: Vec<f32> = (0..n).map(|_| normal.sample(&mut self.rng)).collect();
                let h = shape[1];
                if slot == Slot::Embed && self.pad_token_id < shape[0] {
                    v[self.pad_token_id * h..(self.pad_token_id + 1) * h].fill(0.0);
                }
                v
            }
        })
    }
}
