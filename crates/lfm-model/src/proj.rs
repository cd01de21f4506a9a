//! Linear projections that hold either dense f32 weights or quantized ones.
//!
//! [`Proj`] is the model's only linear layer. Dense, it is burn's `linear` on a `[in, out]`
//! parameter (field names as in `burn::nn::Linear`, so module paths are unchanged). Quantized,
//! it keeps a [`QuantWeight`] (implemented by `lfm-quant` for ggml block formats) and runs its
//! kernel on the host; the weights stay in their packed format — nothing is dequantized
//! ahead of time. The same blocks and forward code serve both.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// A matrix stored in a packed (quantized) format, HF orientation: `rows` = output features,
/// each row `cols` = input features long.
pub trait QuantWeight: Send + Sync + std::fmt::Debug {
    /// `[rows, cols]`.
    fn shape(&self) -> [usize; 2];
    /// `y[r, o] = Σ_i x[r, i] · W[o, i]` for `n` rows of `x` (`x.len() == n * cols`).
    fn matmul_t(&self, x: &[f32], n: usize) -> Vec<f32>;
    /// The f32 values of the given rows, concatenated (embedding lookups).
    fn rows(&self, ids: &[usize]) -> Vec<f32>;
    /// Storage type name (e.g. "q8_0").
    fn type_name(&self) -> String;
    /// Bytes of packed storage.
    fn nbytes(&self) -> usize;
}

/// A shared handle to packed weights (cheap to clone; not a trainable parameter).
#[derive(Clone, Debug)]
pub struct QuantHandle(pub Arc<dyn QuantWeight>);

impl QuantHandle {
    /// Applies the packed matrix to the last dimension of `x`: `[.., cols] -> [.., rows]`.
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dims = x.dims();
        let [out_f, in_f] = self.0.shape();
        assert_eq!(dims[D - 1], in_f, "input width {} != quantized weight width {in_f}", dims[D - 1]);
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

    /// The whole matrix in f32, `[rows, cols]` (export and checks only).
    pub fn dequantize_all(&self) -> Vec<f32> {
        let ids: Vec<usize> = (0..self.0.shape()[0]).collect();
        self.0.rows(&ids)
    }
}

/// A linear layer: `y = x W + b` with W `[in, out]` (dense) or packed weights.
#[derive(Module, Debug)]
pub struct Proj {
    /// Dense weight `[in, out]`; an empty `[0, 0]` placeholder when `quant` is set.
    pub weight: Param<Tensor<2>>,
    pub bias: Option<Param<Tensor<1>>>,
    /// Packed weights (HF orientation `[out, in]`), when the model was loaded quantized.
    #[module(skip)]
    pub quant: Option<QuantHandle>,
}

impl Proj {
    pub fn dense(weight: Param<Tensor<2>>, bias: Option<Param<Tensor<1>>>) -> Self {
        Proj { weight, bias, quant: None }
    }

    pub fn quantized(q: QuantHandle, bias: Option<Param<Tensor<1>>>, device: &Device) -> Self {
        let empty = Param::from_data(TensorData::new(Vec::<f32>::new(), [0, 0]), device);
        Proj { weight: empty, bias, quant: Some(q) }
    }

    /// `[in, out]` for either storage.
    pub fn dims(&self) -> [usize; 2] {
        match &self.quant {
            Some(q) => {
                let [o, i] = q.0.shape();
                [i, o]
            }
            None => self.weight.dims(),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match &self.quant {
            None => crate::fused::linear(x, self.weight.val(), self.bias.as_ref().map(|b| b.val())),
            Some(q) => {
                let y = q.apply(x);
                match &self.bias {
                    Some(b) => y + b.val().unsqueeze::<D>(),
                    None => y,
                }
            }
        }
    }

    /// The weight in HF orientation `[out, in]`, row-major f32 (dequantized when packed).
    pub fn hf_weight(&self) -> Vec<f32> {
        match &self.quant {
            Some(q) => q.dequantize_all(),
            None => {
                let [inp, outp] = self.weight.dims();
                let w = self.weight.val().into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
                crate::model::transpose_host(&w, inp, outp)
            }
        }
    }
}
