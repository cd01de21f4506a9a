//! How a model is held for inference: the one place that decides.
//!
//! On the plain CPU device (no autodiff), f32 weights of linear layers, the embedding and the
//! head become [`F32Matrix`] host matrices: decode streams them on every core, where burn's
//! matrix-vector path runs on one, and prefill runs the same blocked matmul burn would.
//! Values stay f32; results match the dense model up to summation order. Everything that
//! generates — `lfm generate`, the evals, GRPO rollouts, library code that calls
//! [`load_dir`] or [`Lfm2Model::into_inference`] — gets this by default.
//!
//! The one switch: `LFM_DENSE_F32=1` keeps burn's dense parameters (for comparisons and
//! debugging). Training, export and parity checks always use [`crate::hf::load_dir`], which
//! never converts. GGUF files bring their own host matrices (`lfm_quant::import`).

use std::path::Path;
use std::sync::Arc;

use burn::module::Param;
use burn::tensor::{Device, Tensor};

use crate::error::LfmError;
use crate::host::{f32_matrix, F32Matrix, HostMatrix};
use crate::model::{Lfm2Model, Operator};
use crate::proj::Proj;
use crate::Lfm2Config;

/// The environment variable that keeps dense burn weights for inference when set to `1`.
pub const DENSE_F32_ENV: &str = "LFM_DENSE_F32";

/// Whether f32 weights used for inference on `device` are held as [`F32Matrix`] host
/// matrices: on the CPU device without autodiff, unless `LFM_DENSE_F32=1`.
pub fn host_f32(device: &Device) -> bool {
    !device.is_autodiff() && crate::device::is_cpu(device) && std::env::var_os(DENSE_F32_ENV).is_none_or(|v| v != "1")
}

/// Loads an HF checkpoint directory for inference on `device`: as [`crate::hf::load_dir`],
/// with f32 weights as host matrices where [`host_f32`] says so.
pub fn load_dir(dir: &Path, device: &Device) -> Result<(Lfm2Config, Lfm2Model), LfmError> {
    if !host_f32(device) {
        return crate::hf::load_dir(dir, device);
    }
    crate::hf::load_dir_packed(dir, device, &mut |_, v, shape| f32_matrix(v, shape))
}

impl Lfm2Model {
    /// This model as [`load_dir`] would have loaded it: on a device where [`host_f32`]
    /// holds, every dense linear weight, the embedding and the head move into host matrices
    /// (linear weights without a copy: burn's `[in, out]` layout is [`F32Matrix`]'s own);
    /// elsewhere the model is returned as it is. For sampling from a model being trained
    /// (GRPO rollouts take `model.valid().into_inference()`).
    pub fn into_inference(mut self) -> Self {
        let device = self.final_norm.gamma.device();
        if !host_f32(&device) {
            return self;
        }
        for layer in &mut self.layers {
            match &mut layer.operator {
                Operator::ShortConv(c) => {
                    to_host(&mut c.in_proj, &device);
                    to_host(&mut c.out_proj, &device);
                }
                Operator::Attention(a) => {
                    for p in [&mut a.q_proj, &mut a.k_proj, &mut a.v_proj, &mut a.out_proj] {
                        to_host(p, &device);
                    }
                }
            }
            let f = &mut layer.feed_forward;
            for p in [&mut f.w1, &mut f.w2, &mut f.w3] {
                to_host(p, &device);
            }
        }
        if self.embed_host.is_none() {
            self.embed_host = Some(table_to_host(&mut self.embed.weight, &device));
        }
        if let (Some(head), None) = (&mut self.lm_head, &self.lm_head_host) {
            self.lm_head_host = Some(table_to_host(head, &device));
        }
        self
    }
}

fn empty(device: &Device) -> Param<Tensor<2>> {
    Param::from_data(burn::tensor::TensorData::new(Vec::<f32>::new(), [0, 0]), device)
}

fn host_values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 weights")
}

/// A dense [`Proj`] (weight `[in, out]`) becomes one holding an [`F32Matrix`] of the same
/// values; one already on the host stays.
fn to_host(p: &mut Proj, device: &Device) {
    if p.host.is_some() {
        return;
    }
    let [cols, rows] = p.weight.dims();
    let w = std::mem::replace(&mut p.weight, empty(device));
    let m = F32Matrix::from_in_out(host_values(w.val()), cols, rows);
    p.host = Some(HostMatrix(Arc::new(m)));
}

/// An embedding-layout table `[V, H]` as a host matrix, its parameter left empty.
fn table_to_host(w: &mut Param<Tensor<2>>, device: &Device) -> HostMatrix {
    let [v, h] = w.dims();
    let old = std::mem::replace(w, empty(device));
    f32_matrix(host_values(old.val()), [v, h])
}
