//! Linear projections that hold either a burn parameter or host-held weights.
//!
//! [`Proj`] is the model's only linear layer. Dense, it is burn's `linear` on a `[in, out]`
//! parameter (field names as in `burn::nn::Linear`, so module paths are unchanged): what
//! training, export and parity checks use. For inference it can instead hold a
//! [`HostMatrix`] (f32 bands for the CPU, or ggml blocks from `lfm-quant`) and run that
//! matrix's host kernel; packed weights stay packed — nothing is dequantized ahead of time.
//! The same blocks and forward code serve both.
//!
//! A projection may carry a LoRA branch ([`LoraBranch`], attached by `crate::lora`):
//! `y = x W + b + (alpha / r) · dropout(x) A B`, with the base frozen. It is computed as
//! two thin matmuls on the activations rather than by materialising `W + s·AB` (what burn's
//! `Module::apply_lora` does), so that it applies input dropout as PEFT does, keeps the
//! fused CPU linear for the base, and leaves a host-held base untouched.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, TensorData};

use crate::host::HostMatrix;

/// A linear layer: `y = x W + b` with W `[in, out]` (dense) or a host matrix.
#[derive(Module, Debug)]
pub struct Proj {
    /// Dense weight `[in, out]`; an empty `[0, 0]` placeholder when `host` is set.
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    /// Host-held weights (HF orientation `[out, in]`), when the model was loaded for
    /// inference (f32 on the CPU, or a GGUF file's packed blocks).
    #[module(skip)]
    pub host: Option<HostMatrix>,
    /// A LoRA branch, when an adapter is attached.
    pub lora: Option<LoraBranch>,
}

/// The low-rank update of a [`Proj`]: `scale · dropout(x) A B`.
#[derive(Module, Debug)]
pub struct LoraBranch {
    /// `[in, r]` (PEFT's `lora_A.weight` is its transpose, `[r, in]`).
    pub a: Param<Tensor<2>>,
    /// `[r, out]` (PEFT's `lora_B.weight` is `[out, r]`).
    pub b: Param<Tensor<2>>,
    /// `alpha / r`.
    pub scale: f64,
    /// PEFT's `lora_dropout`, on the branch's input only.
    pub dropout: Dropout,
}

impl LoraBranch {
    pub fn new(a: Param<Tensor<2>>, b: Param<Tensor<2>>, scale: f64, dropout: f64) -> Self {
        LoraBranch { a, b, scale, dropout: DropoutConfig::new(dropout).init() }
    }

    /// The rank r.
    pub fn rank(&self) -> usize {
        self.a.dims()[1]
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let h = crate::fused::linear(self.dropout.forward(x), self.a.val(), None);
        crate::fused::linear(h, self.b.val(), None).mul_scalar(self.scale)
    }
}

impl Proj {
    pub fn dense(weight: Param<Tensor<2>>, bias: Option<Param<Tensor<1>>>) -> Self {
        Proj { weight, bias, host: None, lora: None }
    }

    pub fn on_host(m: HostMatrix, bias: Option<Param<Tensor<1>>>, device: &Device) -> Self {
        let empty = Param::from_data(TensorData::new(Vec::<f32>::new(), [0, 0]), device);
        Proj { weight: empty, bias, host: Some(m), lora: None }
    }

    /// `[in, out]` for either storage.
    pub fn dims(&self) -> [usize; 2] {
        match &self.host {
            Some(q) => {
                let [o, i] = q.0.shape();
                [i, o]
            }
            None => self.weight.dims(),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let delta = self.lora.as_ref().map(|l| l.forward(x.clone()));
        let y = match &self.host {
            None => crate::fused::linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val())),
            Some(q) => {
                // Differentiable in x on the CPU: gradients reach LoRA branches below a packed
                // base (QLoRA).
                let y = crate::fused::host_linear(x, q);
                match &self.bias {
                    Some(b) => y + b.val().unsqueeze::<D>(),
                    None => y,
                }
            }
        };
        match delta {
            Some(d) => y + d,
            None => y,
        }
    }

    /// The weight in HF orientation `[out, in]`, row-major f32 (dequantized when packed).
    pub fn hf_weight(&self) -> Vec<f32> {
        match &self.host {
            Some(q) => q.to_f32(),
            None => {
                let [inp, outp] = self.weight.dims();
                let w = self.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
                crate::model::transpose_host(&w, inp, outp)
            }
        }
    }
}
