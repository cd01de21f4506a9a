//! Fused CPU kernels for the training step and prefill, through burn's backend-extension API.
//!
//! Profiling a 350M training step on the CPU device showed about a third of its wall time
//! outside the matmul kernels, on one thread: burn's CPU backend (flex) runs element-wise ops
//! single-threaded, builds SiLU, RMSNorm and the softmaxes out of several passes (and
//! recomputes parts of them in backward), and allocates every matmul output twice (a zeroed
//! byte vector, then an aligned copy of it). These differentiable ops replace those
//! compositions, each one multi-threaded pass forward and one backward:
//!
//! - [`matmul`]: a 2-D product through the gemm crate (as burn calls it) into one fresh
//!   buffer; linear layers and the output head use it.
//! - [`swiglu`]: `silu(gate) * up`.
//! - [`rms_norm`]: RMSNorm (gradients for x and gamma).
//! - [`short_conv`]: the gated depthwise convolution of the conv blocks (no cached state).
//! - [`softmax_last`]: the attention softmax.
//! - [`cross_entropy_vocab_major`]: per-token `logsumexp − logit(target)` over [V, N] logits.
//!
//! Reductions that cross parallel tasks (dgamma, the conv kernel's gradient) are summed in task
//! order, and the element loops compute the same bits at every SIMD width, so a step gives the
//! same result however rayon schedules the tasks (resumed runs stay bit-exact).
//!
//! They run only on the CPU device with f32 tensors ([`fused_available`]); every other device
//! and dtype keeps the composition of burn ops, which is also the reference the tests hold
//! these kernels to. `LFM_NO_FUSED=1` switches them off (for A/B measurements).
//!
//! Hand-written: burn has no fused kernels for these on its CPU backend. The trait goes through
//! `#[backend_extension]`, burn's extension point for custom ops; the autodiff implementation
//! below supplies the backward passes.

use std::sync::OnceLock;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, Flex};
use burn::tensor::activation::silu;
use burn::tensor::{Bytes, DType, Shape, Tensor};
use rayon::prelude::*;

use crate::host::HostMatrix;

/// Custom ops of lfm-model. The `*_backward` / `*_forward` methods are kernels the autodiff
/// implementation calls on the inner backend; they are not differentiable themselves.
#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// `a · b` for 2-D `a` [M, K] and `b` [K, N] of any strides; output [M, N] contiguous.
    fn fused_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// [`fused_matmul`](FusedOps::fused_matmul) with both operands rounded to bf16 and f32
    /// accumulation (`crate::bf16`); its backward products are bf16 too.
    fn fused_matmul_bf16(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `x · Wᵀ` for 2-D `x` [N, in] and host-held weights `w` [out, in] (f32 bands or packed
    /// ggml blocks, multiplied by their own kernel): [N, out]. Differentiable in `x` only: the
    /// host weights are a frozen base (inference, QLoRA).
    fn fused_host_linear(x: FloatTensor<Self>, w: HostMatrix) -> FloatTensor<Self>;
    /// Backward kernel of [`fused_host_linear`](FusedOps::fused_host_linear): `grad · W` [N, in].
    fn fused_host_linear_backward(grad: FloatTensor<Self>, w: HostMatrix) -> FloatTensor<Self>;
    /// `silu(gate) * up`, same shapes.
    fn fused_swiglu(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Gradients of [`fused_swiglu`](FusedOps::fused_swiglu) for `gate` and `up`.
    fn fused_swiglu_backward(
        gate: FloatTensor<Self>,
        up: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// RMSNorm over the last dimension: `x / sqrt(mean(x²) + eps) * gamma`.
    fn fused_rms_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, eps: f64) -> FloatTensor<Self>;
    /// Backward kernel of [`fused_rms_norm`](FusedOps::fused_rms_norm): (dx, dgamma).
    fn fused_rms_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// The short convolution between LFM2's projections, without cached state: with `bcx`
    /// [B, T, 3H] split into gates b, c and input x, `y[t] = c[t] * Σ_k K[:, k] * (b x)[t + k
    /// - (L-1)]` (zero before the first token); `kernel` [H, L]. Returns y [B, T, H].
    fn fused_short_conv(bcx: FloatTensor<Self>, kernel: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Backward kernel of [`fused_short_conv`](FusedOps::fused_short_conv): (dbcx, dkernel).
    fn fused_short_conv_backward(
        bcx: FloatTensor<Self>,
        kernel: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// Softmax over the last dimension.
    fn fused_softmax(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Backward kernel of [`fused_softmax`](FusedOps::fused_softmax) from its output `y`:
    /// `y * (grad - sum(grad * y))` row by row.
    fn fused_softmax_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Per-token cross-entropy of vocabulary-major logits [V, N]; `targets[n] < 0` is ignored
    /// (loss 0). Returns the loss [N].
    fn fused_cross_entropy(logits: FloatTensor<Self>, targets: Vec<i32>) -> FloatTensor<Self>;
    /// Forward kernel: (loss [N], logsumexp [N]).
    fn fused_cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: Vec<i32>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// Backward kernel: `grad[n] * (softmax(logits)[:, n] − onehot(targets[n]))` as [V, N].
    fn fused_cross_entropy_backward(
        logits: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        targets: Vec<i32>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

// ---------------------------------------------------------------------------------------------
// Tensor-level entry points
// ---------------------------------------------------------------------------------------------

/// Whether the fused kernels serve this tensor: CPU device, f32, and not switched off.
pub fn fused_available<const D: usize>(t: &Tensor<D>) -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var("LFM_NO_FUSED").is_ok_and(|v| v != "0" && !v.is_empty()));
    !off && t.dtype() == DType::F32 && crate::device::is_cpu(&t.device())
}

/// The precision of [`matmul`]'s products on the CPU device: f32, or bf16 operands with f32
/// accumulation (`[run] precision = "bf16"` on the CPU). Like PyTorch's autocast it is a
/// per-thread setting, chosen with [`autocast`] around the forward pass; the backward products
/// follow the forward's choice whatever thread runs them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatmulPrecision {
    #[default]
    F32,
    Bf16,
}

thread_local! {
    static PRECISION: std::cell::Cell<MatmulPrecision> = const { std::cell::Cell::new(MatmulPrecision::F32) };
}

/// This thread's [`MatmulPrecision`].
pub fn matmul_precision() -> MatmulPrecision {
    PRECISION.with(|p| p.get())
}

/// Sets this thread's [`MatmulPrecision`] until the guard drops (then the previous one is back).
#[must_use = "the precision reverts when the guard drops"]
pub fn autocast(p: MatmulPrecision) -> AutocastGuard {
    AutocastGuard { prev: PRECISION.with(|c| c.replace(p)) }
}

/// Restores the previous [`MatmulPrecision`] on drop (see [`autocast`]).
pub struct AutocastGuard {
    prev: MatmulPrecision,
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        PRECISION.with(|c| c.set(self.prev));
    }
}

/// `a · b` for 2-D tensors (differentiable), in this thread's [`MatmulPrecision`].
pub fn matmul(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    if fused_available(&a) && b.dtype() == DType::F32 {
        let (a, b) = (a.into_dispatch(), b.into_dispatch());
        Tensor::from_dispatch(match matmul_precision() {
            MatmulPrecision::F32 => <Dispatch as FusedOps>::fused_matmul(a, b),
            MatmulPrecision::Bf16 => <Dispatch as FusedOps>::fused_matmul_bf16(a, b),
        })
    } else {
        a.matmul(b)
    }
}

/// `x W (+ b)` for `x` [..., in] and `W` [in, out] (differentiable).
pub fn linear<const D: usize>(x: Tensor<D>, w: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<D> {
    if D < 2 || !fused_available(&x) || w.dtype() != DType::F32 {
        return burn::tensor::module::linear(x, w, bias);
    }
    let dims = x.dims();
    let [inp, out] = w.dims();
    let rows = dims[..D - 1].iter().product::<usize>();
    let y = matmul(x.reshape([rows, inp]), w);
    let y = match bias {
        Some(b) => y + b.unsqueeze::<2>(),
        None => y,
    };
    let mut out_dims = dims;
    out_dims[D - 1] = out;
    y.reshape(out_dims)
}

/// `silu(gate) * up` (differentiable).
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    if fused_available(&gate) && up.dtype() == DType::F32 && gate.dims() == up.dims() {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_swiglu(gate.into_dispatch(), up.into_dispatch()))
    } else {
        swiglu_reference(gate, up)
    }
}

/// `x · Wᵀ` over the last dimension of `x` for host-held weights `w` [out, in]: `[.., in] ->
/// [.., out]`. On the CPU device (f32) it is differentiable in `x` ([`FusedOps::fused_host_linear`];
/// `LFM_NO_FUSED` does not switch it off, there is no composition to fall back to), which is
/// what lets gradients flow through a packed frozen base to the LoRA branches before it.
/// Elsewhere it is [`HostMatrix::apply`], a constant of `x` for autodiff.
pub fn host_linear<const D: usize>(x: Tensor<D>, w: &HostMatrix) -> Tensor<D> {
    if x.dtype() != DType::F32 || !crate::device::is_cpu(&x.device()) {
        return w.apply(x);
    }
    let dims = x.dims();
    let [out_f, in_f] = w.0.shape();
    assert_eq!(dims[D - 1], in_f, "input width {} != host weight width {in_f}", dims[D - 1]);
    let n: usize = dims[..D - 1].iter().product();
    let x2: Tensor<2> = x.reshape([n, in_f]);
    let y = Tensor::<2>::from_dispatch(<Dispatch as FusedOps>::fused_host_linear(x2.into_dispatch(), w.clone()));
    let mut out = dims;
    out[D - 1] = out_f;
    y.reshape(out)
}

/// The composition of burn ops [`swiglu`] replaces.
pub fn swiglu_reference<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    silu(gate) * up
}

/// burn's `RmsNorm::forward` (differentiable in `x` and `gamma`).
pub fn rms_norm<const D: usize>(norm: &burn::nn::RmsNorm, x: Tensor<D>) -> Tensor<D> {
    if fused_available(&x) {
        rms_norm_with(x, norm.gamma.val(), norm.epsilon)
    } else {
        // Other devices and dtypes: burn's module as it is (it reduces in f32 for half types).
        norm.forward(x)
    }
}

/// `x / sqrt(mean(x²) + eps) * gamma` over the last dimension (differentiable in both).
pub fn rms_norm_with<const D: usize>(x: Tensor<D>, gamma: Tensor<1>, eps: f64) -> Tensor<D> {
    if fused_available(&x) && gamma.dtype() == DType::F32 && x.dims()[D - 1] == gamma.dims()[0] {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_rms_norm(x.into_dispatch(), gamma.into_dispatch(), eps))
    } else {
        // burn's RmsNorm::forward, for f32.
        let rms = (x.clone().square().mean_dim(D - 1) + eps).sqrt();
        (x / rms) * gamma.unsqueeze()
    }
}

/// The short convolution of [`FusedOps::fused_short_conv`] (differentiable in both inputs);
/// `None` when the fused kernel does not serve these tensors.
pub fn short_conv(bcx: &Tensor<3>, kernel: &Tensor<2>) -> Option<Tensor<3>> {
    if !(fused_available(bcx) && kernel.dtype() == DType::F32 && bcx.dims()[2] == 3 * kernel.dims()[0]) {
        return None;
    }
    Some(Tensor::from_dispatch(<Dispatch as FusedOps>::fused_short_conv(
        bcx.clone().into_dispatch(),
        kernel.clone().into_dispatch(),
    )))
}

/// Softmax over the last dimension (differentiable).
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if fused_available(&x) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_softmax(x.into_dispatch()))
    } else {
        burn::tensor::activation::softmax(x, D - 1)
    }
}

/// Per-token cross-entropy of vocabulary-major logits [V, N] against `targets` (negative =
/// ignored, loss 0): `logsumexp(logits[:, n]) − logits[targets[n], n]`, shape [N]
/// (differentiable in the logits).
pub fn cross_entropy_vocab_major(logits: Tensor<2>, targets: &[i32]) -> Tensor<1> {
    let [v, n] = logits.dims();
    assert_eq!(n, targets.len(), "one target per logits column");
    if let Some(t) = targets.iter().find(|&&t| t >= v as i32) {
        panic!("label {t} is outside the vocabulary ({v} tokens)");
    }
    if fused_available(&logits) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_cross_entropy(logits.into_dispatch(), targets.to_vec()))
    } else {
        cross_entropy_reference(logits, targets)
    }
}

/// The composition of burn ops [`cross_entropy_vocab_major`] replaces.
pub fn cross_entropy_reference(logits: Tensor<2>, targets: &[i32]) -> Tensor<1> {
    let n = targets.len();
    let device = logits.device();
    let safe: Vec<i64> = targets.iter().map(|&t| t.max(0) as i64).collect();
    let keep: Vec<f32> = targets.iter().map(|&t| if t >= 0 { 1.0 } else { 0.0 }).collect();
    let safe = Tensor::<2, burn::tensor::Int>::from_data(burn::tensor::TensorData::new(safe, [1, n]), &device);
    let keep = Tensor::<1>::from_data(burn::tensor::TensorData::new(keep, [n]), &device);
    let max = logits.clone().detach().max_dim(0);
    let lse = (logits.clone() - max.clone()).exp().sum_dim(0).log() + max;
    let picked = logits.gather(0, safe);
    (lse - picked).reshape([n]) * keep
}

// ---------------------------------------------------------------------------------------------
// Flex (CPU) kernels
// ---------------------------------------------------------------------------------------------

/// Elements per parallel task of the element-wise kernels.
const CHUNK: usize = 1 << 14;

/// The f32 values of a tensor in row-major order (a copy only when it is not contiguous).
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    assert_eq!(t.dtype(), DType::F32, "fused kernels take f32 tensors");
    let n = t.layout().shape().num_elements();
    if t.layout().is_contiguous() {
        let off = t.layout().start_offset();
        std::borrow::Cow::Borrowed(&t.storage::<f32>()[off..off + n])
    } else {
        let c = t.to_contiguous();
        std::borrow::Cow::Owned(c.storage::<f32>()[..n].to_vec())
    }
}

fn from_vec(v: Vec<f32>, shape: Shape) -> FlexTensor {
    debug_assert_eq!(v.len(), shape.num_elements());
    FlexTensor::new(Bytes::from_elems(v), Layout::contiguous(shape), DType::F32)
}

/// A buffer of `n` f32 filled by `fill(offset, chunk)` over parallel chunks (never zeroed
/// first: every element is written exactly once).
///
/// # Safety
///
/// `fill` must initialise every element of each chunk it is given: the chunks cover all `n`
/// elements, which are then taken as initialised.
unsafe fn build(n: usize, fill: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    v.spare_capacity_mut()[..n].par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| fill(i * CHUNK, c));
    // SAFETY: `n <= capacity` (the slicing above would have panicked otherwise), and the
    // chunks cover `0..n`, each initialised in full by `fill` (this function's contract).
    unsafe { v.set_len(n) };
    v
}

/// `exp(x)` to about 2 ulp for x in [-87, 88] (0 below, `exp(88)` above), branch-free so the
/// compiler vectorises the loops that call it: `2^k · p(r)` with `x = k ln2 + r`, |r| ≤ ln2/2, and a
/// degree-6 polynomial for `e^r`.
#[inline(always)]
pub fn fast_exp(x0: f32) -> f32 {
    let x = x0.clamp(-87.0, 88.0);
    // Round to nearest by adding and subtracting 1.5 * 2^23 (exact for |x log2 e| < 2^22;
    // `f32::round` would be a libm call the loops cannot vectorise).
    const SHIFT: f32 = 12_582_912.0;
    let k = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - k * 0.693_145_75 - k * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let scale = f32::from_bits(((k as i32 + 127) as u32) << 23);
    // Below -87 the result flushes to 0 (a masked attention score must weigh nothing).
    if x0 < -87.0 {
        0.0
    } else {
        p * scale
    }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

/// Whether every element a `layout` addresses lies inside a storage of `len` elements (strides
/// may be negative or zero).
fn within_storage(layout: &Layout, len: usize) -> bool {
    let shape = layout.shape();
    let dims: Vec<(usize, isize)> = layout.strides().iter().enumerate().map(|(i, &s)| (shape[i], s)).collect();
    crate::host::strided_in_bounds(layout.start_offset(), &dims, len)
}

fn matmul_kernel(a: &FlexTensor, b: &FlexTensor) -> FlexTensor {
    let (sa, sb) = (a.layout().shape(), b.layout().shape());
    assert!(sa.num_dims() == 2 && sb.num_dims() == 2, "fused_matmul takes 2-D tensors");
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    assert_eq!(k, sb[0], "fused_matmul: inner dimensions differ");
    assert!(a.dtype() == DType::F32 && b.dtype() == DType::F32, "fused_matmul takes f32");
    let (ars, acs) = (a.layout().strides()[0], a.layout().strides()[1]);
    let (brs, bcs) = (b.layout().strides()[0], b.layout().strides()[1]);
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    if k == 0 {
        out.resize(m * n, 0.0);
    } else if m * n > 0 {
        let work = m.saturating_mul(n).saturating_mul(k);
        let par = if work >= 192 * 192 * 192 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
        // A flex tensor can be built with any layout (`FlexTensor::new` does not check it):
        // checked here, O(1), as gemm reads through raw pointers.
        assert!(
            within_storage(a.layout(), a.storage::<f32>().len())
                && within_storage(b.layout(), b.storage::<f32>().len()),
            "fused_matmul: a layout addresses elements outside its tensor's storage"
        );
        debug_assert!(out.capacity() >= m * n);
        // SAFETY: both operands are f32 (asserted above) and non-empty (m, n, k > 0), and
        // every element their layouts (start offset, [row, column] strides, possibly negative
        // or zero) address lies inside their storage (asserted just above): the start pointers
        // are in bounds and gemm reads only inside the operands. `out` has capacity for the
        // m×n row-major output (column stride 1, row stride n), which gemm writes in full
        // without reading it (read_dst = false, k > 0), so all m*n elements are initialised
        // before `set_len`.
        unsafe {
            let ap = a.storage::<f32>().as_ptr().add(a.layout().start_offset());
            let bp = b.storage::<f32>().as_ptr().add(b.layout().start_offset());
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                ap,
                acs,
                ars,
                bp,
                bcs,
                brs,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                par,
            );
            out.set_len(m * n);
        }
    }
    from_vec(out, Shape::new([m, n]))
}

/// [`matmul_kernel`] with bf16 operands ([`crate::bf16::matmul`]).
fn matmul_bf16_kernel(a: &FlexTensor, b: &FlexTensor) -> FlexTensor {
    let (sa, sb) = (a.layout().shape(), b.layout().shape());
    assert!(sa.num_dims() == 2 && sb.num_dims() == 2, "fused_matmul_bf16 takes 2-D tensors");
    assert!(a.dtype() == DType::F32 && b.dtype() == DType::F32, "fused_matmul_bf16 takes f32");
    fn operand(t: &FlexTensor) -> crate::bf16::Operand<'_> {
        let (l, st) = (t.layout(), t.layout().strides());
        crate::bf16::Operand {
            data: t.storage::<f32>(),
            start: l.start_offset(),
            rows: l.shape()[0],
            cols: l.shape()[1],
            rs: st[0],
            cs: st[1],
        }
    }
    let (m, n) = (sa[0], sb[1]);
    from_vec(crate::bf16::matmul(operand(a), operand(b)), Shape::new([m, n]))
}

/// For each `fn name(args) => body;` defines `name`, which runs the `#[inline(always)]` loop
/// `body` compiled for AVX-512 when the CPU has it (the default x86-64 target is SSE2, four
/// lanes), else as compiled. No FMA contraction happens in Rust, so both compute the same bits.
macro_rules! widened {
    ($(fn $name:ident($($a:ident: $t:ty),*) => $body:ident;)*) => {$(
        fn $name($($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                #[target_feature(enable = "avx512f")]
                fn wide($($a: $t),*) {
                    $body($($a),*)
                }
                // SAFETY: `wide` only enables AVX-512F, which the CPU has (checked just above).
                return unsafe { wide($($a),*) };
            }
            $body($($a),*)
        }
    )*};
}

widened! {
    fn swiglu_chunk_w(o: &mut [Out], g: &[f32], u: &[f32]) => swiglu_chunk;
    fn swiglu_backward_chunk_w(dg: &mut [Out], du: &mut [Out], g: &[f32], u: &[f32], d: &[f32]) => swiglu_backward_chunk;
    fn ce_block_w(l: &[f32], v: usize, n: usize, c0: usize, w: usize, max: &mut [f32; CE_COLS], sum: &mut [f32; CE_COLS]) => ce_block;
    fn ce_backward_rows_w(c: &mut [Out], r0: usize, n: usize, l: &[f32], lse: &[f32], g: &[f32]) => ce_backward_rows;
}

type Out = std::mem::MaybeUninit<f32>;

#[inline(always)]
fn swiglu_chunk(o: &mut [Out], g: &[f32], u: &[f32]) {
    // Every element of `o` is written: the inputs zipped with it are as long.
    debug_assert!(g.len() == o.len() && u.len() == o.len());
    for ((o, &a), &b) in o.iter_mut().zip(g).zip(u) {
        o.write(a * sigmoid(a) * b);
    }
}

#[inline(always)]
fn swiglu_backward_chunk(dg: &mut [Out], du: &mut [Out], g: &[f32], u: &[f32], d: &[f32]) {
    // Every element of `dg` and `du` is written: the slices zipped together are equally long.
    debug_assert!([du.len(), g.len(), u.len(), d.len()].iter().all(|&l| l == dg.len()));
    for ((((dg, du), &a), &b), &y) in dg.iter_mut().zip(du.iter_mut()).zip(g).zip(u).zip(d) {
        let s = sigmoid(a);
        // d/da [a s(a)] = s (1 + a (1 - s)).
        dg.write(y * b * s * (1.0 + a * (1.0 - s)));
        du.write(y * a * s);
    }
}

fn swiglu_kernel(gate: &FlexTensor, up: &FlexTensor) -> FlexTensor {
    let (g, u) = (values(gate), values(up));
    assert_eq!(g.len(), u.len(), "swiglu: shapes differ");
    let fill = |off: usize, c: &mut [Out]| {
        let len = c.len();
        swiglu_chunk_w(c, &g[off..off + len], &u[off..off + len])
    };
    // SAFETY: `fill` writes every element of its chunk: `swiglu_chunk` writes as many as the
    // equally long slices of `g` and `u` zipped with it (debug-asserted there).
    let out = unsafe { build(g.len(), fill) };
    from_vec(out, gate.layout().shape().clone())
}

fn swiglu_backward_kernel(gate: &FlexTensor, up: &FlexTensor, grad: &FlexTensor) -> (FlexTensor, FlexTensor) {
    let (g, u, d) = (values(gate), values(up), values(grad));
    let n = g.len();
    assert!(u.len() == n && d.len() == n, "swiglu backward: shapes differ");
    let mut dg: Vec<f32> = Vec::with_capacity(n);
    let mut du: Vec<f32> = Vec::with_capacity(n);
    dg.spare_capacity_mut()[..n]
        .par_chunks_mut(CHUNK)
        .zip(du.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(i, (cg, cu))| {
            let (off, len) = (i * CHUNK, cg.len());
            swiglu_backward_chunk_w(cg, cu, &g[off..off + len], &u[off..off + len], &d[off..off + len])
        });
    // SAFETY: both buffers have capacity n and their chunks cover 0..n; zipped chunk by chunk
    // they are equally long, and `swiglu_backward_chunk` writes every element of both, as many
    // as the equally long slices of g, u and d (debug-asserted there).
    unsafe {
        dg.set_len(n);
        du.set_len(n);
    }
    let shape = gate.layout().shape().clone();
    (from_vec(dg, shape.clone()), from_vec(du, shape))
}

/// Columns per parallel task of the cross-entropy reductions.
const CE_COLS: usize = 64;

/// Column-wise max and sum of `exp(x - max)` over the rows of a block of `w` columns.
#[inline(always)]
fn ce_block(l: &[f32], v: usize, n: usize, c0: usize, w: usize, max: &mut [f32; CE_COLS], sum: &mut [f32; CE_COLS]) {
    for r in 0..v {
        let row = &l[r * n + c0..r * n + c0 + w];
        for (m, &x) in max.iter_mut().zip(row) {
            *m = if x > *m { x } else { *m };
        }
    }
    for r in 0..v {
        let row = &l[r * n + c0..r * n + c0 + w];
        for ((s, &m), &x) in sum.iter_mut().zip(max.iter()).zip(row) {
            *s += fast_exp(x - m);
        }
    }
}

/// Rows `r0..` of `g[n] * exp(x - lse[n])` into `c` (whole rows of n).
#[inline(always)]
fn ce_backward_rows(c: &mut [Out], r0: usize, n: usize, l: &[f32], lse: &[f32], g: &[f32]) {
    // Every element of `c` is written: whole rows of n, each zipped with n values of `l`
    // (bounds-checked), `lse` and `g`.
    debug_assert!(n > 0 && c.len().is_multiple_of(n) && lse.len() >= n && g.len() >= n);
    for (k, row) in c.chunks_mut(n).enumerate() {
        let r = r0 + k;
        for (((o, &x), &e), &g) in row.iter_mut().zip(&l[r * n..(r + 1) * n]).zip(lse).zip(g) {
            o.write(g * fast_exp(x - e));
        }
    }
}

fn cross_entropy_forward_kernel(logits: &FlexTensor, targets: &[i32]) -> (FlexTensor, FlexTensor) {
    let shape = logits.layout().shape();
    assert_eq!(shape.num_dims(), 2, "cross entropy takes [V, N] logits");
    let (v, n) = (shape[0], shape[1]);
    assert_eq!(targets.len(), n, "one target per logits column");
    let l = values(logits);
    let mut loss = vec![0.0f32; n];
    let mut lse = vec![0.0f32; n];
    loss.par_chunks_mut(CE_COLS).zip(lse.par_chunks_mut(CE_COLS)).enumerate().for_each(|(i, (lo, ls))| {
        let (c0, w) = (i * CE_COLS, lo.len());
        let mut max = [f32::NEG_INFINITY; CE_COLS];
        let mut sum = [0.0f32; CE_COLS];
        ce_block_w(&l, v, n, c0, w, &mut max, &mut sum);
        for j in 0..w {
            let e = sum[j].ln() + max[j];
            ls[j] = e;
            let t = targets[c0 + j];
            lo[j] = if t >= 0 { e - l[t as usize * n + c0 + j] } else { 0.0 };
        }
    });
    (from_vec(loss, Shape::new([n])), from_vec(lse, Shape::new([n])))
}

fn cross_entropy_backward_kernel(
    logits: &FlexTensor,
    lse: &FlexTensor,
    targets: &[i32],
    grad: &FlexTensor,
) -> FlexTensor {
    let shape = logits.layout().shape().clone();
    let (v, n) = (shape[0], shape[1]);
    let (l, lse, g) = (values(logits), values(lse), values(grad));
    // Shorter ones would leave parts of the output rows unwritten.
    assert!(
        targets.len() == n && lse.len() == n && g.len() == n,
        "cross entropy backward: one target, logsumexp and gradient per logits column"
    );
    // Ignored tokens have a constant loss: no gradient.
    let g: Vec<f32> = g.iter().zip(targets).map(|(&g, &t)| if t >= 0 { g } else { 0.0 }).collect();
    let mut out: Vec<f32> = Vec::with_capacity(v * n);
    let rows_per = (CHUNK / n.max(1)).max(1);
    out.spare_capacity_mut()[..v * n]
        .par_chunks_mut(rows_per * n)
        .enumerate()
        .for_each(|(i, c)| ce_backward_rows_w(c, i * rows_per, n, &l, &lse, &g));
    // SAFETY: capacity v*n; the chunks are whole rows of n covering 0..v*n, and
    // `ce_backward_rows` writes every element of each row (lse and g hold n values, asserted
    // above; debug-asserted there).
    unsafe { out.set_len(v * n) };
    // The one-hot part of softmax − onehot.
    for (j, &t) in targets.iter().enumerate() {
        if t >= 0 {
            out[t as usize * n + j] -= g[j];
        }
    }
    from_vec(out, shape)
}

#[inline(always)]
fn softmax_rows(o: &mut [Out], x: &[f32], t: usize) {
    // Rows of `o` and `x` pair up equally long, so each row of `o` is written in full.
    debug_assert!(o.len() == x.len() && (t > 0 || o.is_empty()));
    for (o, x) in o.chunks_mut(t).zip(x.chunks(t)) {
        let mut m = f32::NEG_INFINITY;
        for &v in x {
            m = if v > m { v } else { m };
        }
        let mut sum = 0.0f32;
        for (o, &v) in o.iter_mut().zip(x) {
            let e = fast_exp(v - m);
            sum += e;
            o.write(e);
        }
        let inv = 1.0 / sum;
        for o in o.iter_mut() {
            // SAFETY: the loop above wrote every element of this row (`x`'s row is as long,
            // debug-asserted at the top).
            let e = unsafe { o.assume_init() };
            o.write(e * inv);
        }
    }
}

#[inline(always)]
fn softmax_backward_rows(o: &mut [Out], y: &[f32], d: &[f32], t: usize) {
    // Rows of `o`, `y` and `d` pair up equally long, so each row of `o` is written in full.
    debug_assert!(o.len() == y.len() && o.len() == d.len() && (t > 0 || o.is_empty()));
    for ((o, y), d) in o.chunks_mut(t).zip(y.chunks(t)).zip(d.chunks(t)) {
        let mut dot = 0.0f32;
        for (&y, &d) in y.iter().zip(d) {
            dot += y * d;
        }
        for ((o, &y), &d) in o.iter_mut().zip(y).zip(d) {
            o.write(y * (d - dot));
        }
    }
}

widened! {
    fn softmax_rows_w(o: &mut [Out], x: &[f32], t: usize) => softmax_rows;
    fn softmax_backward_rows_w(o: &mut [Out], y: &[f32], d: &[f32], t: usize) => softmax_backward_rows;
}

/// Whole rows of length `t` per parallel task, about CHUNK elements.
fn row_chunk(t: usize) -> usize {
    (CHUNK / t.max(1)).max(1) * t.max(1)
}

fn softmax_kernel(x: &FlexTensor) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let t = shape[shape.num_dims() - 1];
    let v = values(x);
    let step = row_chunk(t);
    let mut out: Vec<f32> = Vec::with_capacity(v.len());
    out.spare_capacity_mut()[..v.len()].par_chunks_mut(step).enumerate().for_each(|(i, c)| {
        let off = i * step;
        softmax_rows_w(c, &v[off..off + c.len()], t)
    });
    // SAFETY: capacity v.len(); the chunks cover 0..v.len(), and `softmax_rows` writes every
    // element of each, given as many values of `v` (debug-asserted there).
    unsafe { out.set_len(v.len()) };
    from_vec(out, shape)
}

fn softmax_backward_kernel(y: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    let shape = y.layout().shape().clone();
    let t = shape[shape.num_dims() - 1];
    let (yv, d) = (values(y), values(grad));
    assert_eq!(yv.len(), d.len(), "softmax backward: shapes differ");
    let step = row_chunk(t);
    let mut out: Vec<f32> = Vec::with_capacity(yv.len());
    out.spare_capacity_mut()[..yv.len()].par_chunks_mut(step).enumerate().for_each(|(i, c)| {
        let off = i * step;
        softmax_backward_rows_w(c, &yv[off..off + c.len()], &d[off..off + c.len()], t)
    });
    // SAFETY: capacity yv.len(); the chunks cover 0..yv.len(), and `softmax_backward_rows`
    // writes every element of each, given as many values of `yv` and `d` (the two are equally
    // long, asserted above; debug-asserted there).
    unsafe { out.set_len(yv.len()) };
    from_vec(out, shape)
}

#[inline(always)]
fn rms_norm_rows(o: &mut [Out], x: &[f32], gamma: &[f32], eps: f32) {
    let h = gamma.len();
    // Rows of `o` and `x` pair up equally long (at most h, as `gamma`), so each row of `o` is
    // written in full.
    debug_assert!(o.len() == x.len() && (h > 0 || o.is_empty()));
    for (o, x) in o.chunks_mut(h).zip(x.chunks(h)) {
        let mut ss = 0.0f32;
        for &v in x {
            ss += v * v;
        }
        let r = 1.0 / (ss / h as f32 + eps).sqrt();
        for ((o, &v), &g) in o.iter_mut().zip(x).zip(gamma) {
            o.write(v * r * g);
        }
    }
}

/// dx for whole rows, and this task's share of dgamma added into `dgamma`.
#[inline(always)]
fn rms_norm_backward_rows(o: &mut [Out], x: &[f32], d: &[f32], gamma: &[f32], eps: f32, dgamma: &mut [f32]) {
    let h = gamma.len();
    // Rows of `o`, `x` and `d` pair up equally long (at most h, as `gamma` and `dgamma`), so
    // each row of `o` is written in full.
    debug_assert!(o.len() == x.len() && o.len() == d.len() && dgamma.len() >= h && (h > 0 || o.is_empty()));
    for ((o, x), d) in o.chunks_mut(h).zip(x.chunks(h)).zip(d.chunks(h)) {
        let mut ss = 0.0f32;
        let mut s = 0.0f32;
        for ((&v, &dy), &g) in x.iter().zip(d).zip(gamma) {
            ss += v * v;
            s += dy * g * v;
        }
        let r = 1.0 / (ss / h as f32 + eps).sqrt();
        // dx_j = r (gamma_j dy_j - x_j r² s / H)
        let c = r * r * s / h as f32;
        for ((((o, &v), &dy), &g), dg) in o.iter_mut().zip(x).zip(d).zip(gamma).zip(dgamma.iter_mut()) {
            o.write(r * (g * dy - v * c));
            *dg += dy * v * r;
        }
    }
}

widened! {
    fn rms_norm_rows_w(o: &mut [Out], x: &[f32], gamma: &[f32], eps: f32) => rms_norm_rows;
    fn rms_norm_backward_rows_w(o: &mut [Out], x: &[f32], d: &[f32], gamma: &[f32], eps: f32, dgamma: &mut [f32]) => rms_norm_backward_rows;
}

fn rms_norm_kernel(x: &FlexTensor, gamma: &FlexTensor, eps: f64) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let (xv, g) = (values(x), values(gamma));
    let h = g.len();
    assert_eq!(shape[shape.num_dims() - 1], h, "rms_norm: last dimension differs from gamma");
    let step = row_chunk(h);
    let mut out: Vec<f32> = Vec::with_capacity(xv.len());
    out.spare_capacity_mut()[..xv.len()].par_chunks_mut(step).enumerate().for_each(|(i, c)| {
        let off = i * step;
        rms_norm_rows_w(c, &xv[off..off + c.len()], &g, eps as f32)
    });
    // SAFETY: capacity xv.len(); the chunks cover 0..xv.len(), and `rms_norm_rows` writes
    // every element of each, given as many values of `xv` (debug-asserted there).
    unsafe { out.set_len(xv.len()) };
    from_vec(out, shape)
}

fn rms_norm_backward_kernel(
    x: &FlexTensor,
    gamma: &FlexTensor,
    grad: &FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor) {
    let shape = x.layout().shape().clone();
    let (xv, g, d) = (values(x), values(gamma), values(grad));
    let h = g.len();
    assert_eq!(xv.len(), d.len(), "rms_norm backward: shapes differ");
    let step = row_chunk(h);
    let tasks = xv.len().div_ceil(step);
    let mut out: Vec<f32> = Vec::with_capacity(xv.len());
    // One partial dgamma per task, summed in task order afterwards: the same bits whatever
    // the thread count or scheduling.
    let mut partial = vec![0.0f32; tasks * h];
    out.spare_capacity_mut()[..xv.len()].par_chunks_mut(step).zip(partial.par_chunks_mut(h)).enumerate().for_each(
        |(i, (c, dg))| {
            let off = i * step;
            rms_norm_backward_rows_w(c, &xv[off..off + c.len()], &d[off..off + c.len()], &g, eps as f32, dg)
        },
    );
    // SAFETY: capacity xv.len(); the chunks cover 0..xv.len() (one partial dgamma of h per
    // chunk: `tasks` is the chunk count), and `rms_norm_backward_rows` writes every element of
    // each, given as many values of `xv` and `d` (equally long, asserted above; debug-asserted
    // there).
    unsafe { out.set_len(xv.len()) };
    let mut dgamma = vec![0.0f32; h];
    for p in partial.chunks(h) {
        for (a, &b) in dgamma.iter_mut().zip(p) {
            *a += b;
        }
    }
    (from_vec(out, shape), from_vec(dgamma, Shape::new([h])))
}

/// Forward rows `r0..` (flat b*T + t) of the short convolution; `acc` is scratch of H.
#[inline(always)]
fn short_conv_rows(o: &mut [Out], r0: usize, t_len: usize, l: usize, bcx: &[f32], kt: &[f32], acc: &mut [f32]) {
    let h = acc.len();
    // Whole rows of h, each written in full (zipped with h values of `bcx`, bounds-checked,
    // and `acc`).
    debug_assert!(h > 0 && o.len().is_multiple_of(h));
    for (i, orow) in o.chunks_mut(h).enumerate() {
        let r = r0 + i;
        let t = r % t_len;
        acc.iter_mut().for_each(|a| *a = 0.0);
        for k in 0..l {
            // Source token t + k - (L-1) of the same sequence; before its start the input is 0.
            let Some(s) = (t + k).checked_sub(l - 1) else { continue };
            let src = (r - t + s) * 3 * h;
            let (gb, gx) = (&bcx[src..src + h], &bcx[src + 2 * h..src + 3 * h]);
            for (((a, &b), &x), &w) in acc.iter_mut().zip(gb).zip(gx).zip(&kt[k * h..(k + 1) * h]) {
                *a += (b * x) * w;
            }
        }
        let gc = &bcx[r * 3 * h + h..r * 3 * h + 2 * h];
        for ((o, &c), &a) in orow.iter_mut().zip(gc).zip(acc.iter()) {
            o.write(c * a);
        }
    }
}

/// Backward rows `r0..`: d(bcx) rows [db | dc | dx] into `o`, this task's dK (k-major [L, H])
/// added into `dk`; `acc`, `du` are scratch of H.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn short_conv_backward_rows(
    o: &mut [Out],
    dk: &mut [f32],
    r0: usize,
    t_len: usize,
    l: usize,
    bcx: &[f32],
    kt: &[f32],
    dy: &[f32],
    acc: &mut [f32],
    du: &mut [f32],
) {
    let h = acc.len();
    // Whole rows of 3h, each written in full (three parts of h zipped with h values of `bcx`,
    // bounds-checked, `du`, `acc` and `dy`, bounds-checked).
    debug_assert!(h > 0 && o.len().is_multiple_of(3 * h) && du.len() == h);
    for (i, orow) in o.chunks_mut(3 * h).enumerate() {
        let r = r0 + i;
        let t = r % t_len;
        let row = |q: usize| q * 3 * h;
        // conv at this row (for dc) and dK's terms: dconv[t] * u[t + k - (L-1)].
        acc.iter_mut().for_each(|a| *a = 0.0);
        let (gc, dyr) = (&bcx[row(r) + h..row(r) + 2 * h], &dy[r * h..(r + 1) * h]);
        for k in 0..l {
            let Some(s) = (t + k).checked_sub(l - 1) else { continue };
            let src = row(r - t + s);
            let (gb, gx) = (&bcx[src..src + h], &bcx[src + 2 * h..src + 3 * h]);
            let kk = &kt[k * h..(k + 1) * h];
            let dkk = &mut dk[k * h..(k + 1) * h];
            for (((((a, d), &b), &x), &w), (&c, &g)) in
                acc.iter_mut().zip(dkk.iter_mut()).zip(gb).zip(gx).zip(kk).zip(gc.iter().zip(dyr))
            {
                let u = b * x;
                *a += u * w;
                *d += (g * c) * u;
            }
        }
        // du[t] = Σ_k K[:, k] * dconv[t + (L-1) - k] over the tokens of this sequence.
        du.iter_mut().for_each(|a| *a = 0.0);
        for k in 0..l {
            let q = t + (l - 1) - k;
            if q >= t_len {
                continue;
            }
            let qr = r - t + q;
            let (gcq, dyq) = (&bcx[row(qr) + h..row(qr) + 2 * h], &dy[qr * h..(qr + 1) * h]);
            for (((a, &w), &c), &g) in du.iter_mut().zip(&kt[k * h..(k + 1) * h]).zip(gcq).zip(dyq) {
                *a += w * (g * c);
            }
        }
        let (gb, gx) = (&bcx[row(r)..row(r) + h], &bcx[row(r) + 2 * h..row(r) + 3 * h]);
        let (ob, rest) = orow.split_at_mut(h);
        let (oc, ox) = rest.split_at_mut(h);
        for ((((((ob, oc), ox), &b), &x), &u), (&a, &g)) in
            ob.iter_mut().zip(oc.iter_mut()).zip(ox.iter_mut()).zip(gb).zip(gx).zip(du.iter()).zip(acc.iter().zip(dyr))
        {
            ob.write(u * x);
            oc.write(g * a);
            ox.write(u * b);
        }
    }
}

widened! {
    fn short_conv_rows_w(o: &mut [Out], r0: usize, t_len: usize, l: usize, bcx: &[f32], kt: &[f32], acc: &mut [f32]) => short_conv_rows;
    fn short_conv_backward_rows_w(o: &mut [Out], dk: &mut [f32], r0: usize, t_len: usize, l: usize, bcx: &[f32], kt: &[f32], dy: &[f32], acc: &mut [f32], du: &mut [f32]) => short_conv_backward_rows;
}

/// (B, T, H, L) and the kernel transposed to [L, H].
fn short_conv_dims(bcx: &FlexTensor, kernel: &FlexTensor) -> (usize, usize, usize, usize, Vec<f32>) {
    let (sb, sk) = (bcx.layout().shape(), kernel.layout().shape());
    assert!(
        sb.num_dims() == 3 && sk.num_dims() == 2 && sb[2] == 3 * sk[0],
        "short conv: bcx [B, T, 3H], kernel [H, L]"
    );
    let (h, l) = (sk[0], sk[1]);
    let kt = crate::model::transpose_host(&values(kernel), h, l);
    (sb[0], sb[1], h, l, kt)
}

fn short_conv_kernel(bcx: &FlexTensor, kernel: &FlexTensor) -> FlexTensor {
    let (b, t, h, l, kt) = short_conv_dims(bcx, kernel);
    let x = values(bcx);
    let rows_per = (CHUNK / h.max(1)).max(1);
    let n = b * t * h;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    out.spare_capacity_mut()[..n].par_chunks_mut(rows_per * h).enumerate().for_each(|(i, c)| {
        let mut acc = vec![0.0f32; h];
        short_conv_rows_w(c, i * rows_per, t, l, &x, &kt, &mut acc)
    });
    // SAFETY: capacity n; the chunks are whole rows of h covering 0..n, and `short_conv_rows`
    // writes every element of each row (debug-asserted there).
    unsafe { out.set_len(n) };
    from_vec(out, Shape::new([b, t, h]))
}

fn short_conv_backward_kernel(bcx: &FlexTensor, kernel: &FlexTensor, grad: &FlexTensor) -> (FlexTensor, FlexTensor) {
    let (b, t, h, l, kt) = short_conv_dims(bcx, kernel);
    let (x, dy) = (values(bcx), values(grad));
    assert_eq!(dy.len(), b * t * h, "short conv backward: gradient shape");
    let rows_per = (CHUNK / h.max(1)).max(1);
    let tasks = (b * t).div_ceil(rows_per);
    let n = b * t * 3 * h;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    // One partial dK per task, summed in task order: the same bits however tasks are scheduled.
    let mut partial = vec![0.0f32; tasks * l * h];
    out.spare_capacity_mut()[..n]
        .par_chunks_mut(rows_per * 3 * h)
        .zip(partial.par_chunks_mut(l * h))
        .enumerate()
        .for_each(|(i, (c, dk))| {
            let (mut acc, mut du) = (vec![0.0f32; h], vec![0.0f32; h]);
            short_conv_backward_rows_w(c, dk, i * rows_per, t, l, &x, &kt, &dy, &mut acc, &mut du)
        });
    // SAFETY: capacity n; the chunks are whole rows of 3h covering 0..n (one partial dK per
    // chunk: `tasks` is the chunk count), and `short_conv_backward_rows` writes every element
    // of each row (debug-asserted there).
    unsafe { out.set_len(n) };
    let mut dkt = vec![0.0f32; l * h];
    for p in partial.chunks(l * h) {
        for (a, &v) in dkt.iter_mut().zip(p) {
            *a += v;
        }
    }
    let dk = crate::model::transpose_host(&dkt, l, h);
    (from_vec(out, Shape::new([b, t, 3 * h])), from_vec(dk, Shape::new([h, l])))
}

impl FusedOps for Flex {
    fn fused_host_linear(x: FlexTensor, w: HostMatrix) -> FlexTensor {
        let n = x.layout().shape()[0];
        let y = w.0.matmul_t(&values(&x), n);
        from_vec(y, Shape::new([n, w.0.shape()[0]]))
    }
    fn fused_host_linear_backward(grad: FlexTensor, w: HostMatrix) -> FlexTensor {
        let n = grad.layout().shape()[0];
        let dx = w.0.matmul(&values(&grad), n);
        from_vec(dx, Shape::new([n, w.0.shape()[1]]))
    }
    fn fused_short_conv(bcx: FlexTensor, kernel: FlexTensor) -> FlexTensor {
        short_conv_kernel(&bcx, &kernel)
    }
    fn fused_short_conv_backward(bcx: FlexTensor, kernel: FlexTensor, grad: FlexTensor) -> (FlexTensor, FlexTensor) {
        short_conv_backward_kernel(&bcx, &kernel, &grad)
    }
    fn fused_rms_norm(x: FlexTensor, gamma: FlexTensor, eps: f64) -> FlexTensor {
        rms_norm_kernel(&x, &gamma, eps)
    }
    fn fused_rms_norm_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        grad: FlexTensor,
        eps: f64,
    ) -> (FlexTensor, FlexTensor) {
        rms_norm_backward_kernel(&x, &gamma, &grad, eps)
    }
    fn fused_softmax(x: FlexTensor) -> FlexTensor {
        softmax_kernel(&x)
    }
    fn fused_softmax_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        softmax_backward_kernel(&y, &grad)
    }
    fn fused_matmul(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        matmul_kernel(&a, &b)
    }
    fn fused_matmul_bf16(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        matmul_bf16_kernel(&a, &b)
    }
    fn fused_swiglu(gate: FlexTensor, up: FlexTensor) -> FlexTensor {
        swiglu_kernel(&gate, &up)
    }
    fn fused_swiglu_backward(gate: FlexTensor, up: FlexTensor, grad: FlexTensor) -> (FlexTensor, FlexTensor) {
        swiglu_backward_kernel(&gate, &up, &grad)
    }
    fn fused_cross_entropy(logits: FlexTensor, targets: Vec<i32>) -> FlexTensor {
        cross_entropy_forward_kernel(&logits, &targets).0
    }
    fn fused_cross_entropy_forward(logits: FlexTensor, targets: Vec<i32>) -> (FlexTensor, FlexTensor) {
        cross_entropy_forward_kernel(&logits, &targets)
    }
    fn fused_cross_entropy_backward(
        logits: FlexTensor,
        lse: FlexTensor,
        targets: Vec<i32>,
        grad: FlexTensor,
    ) -> FlexTensor {
        cross_entropy_backward_kernel(&logits, &lse, &targets, &grad)
    }
}

// ---------------------------------------------------------------------------------------------
// Autodiff: backward passes
// ---------------------------------------------------------------------------------------------

const NOT_DIFFERENTIABLE: &str = "fused backward kernels run on the inner backend only";

/// Gradients of a two-input op from one inner-backend kernel: (a, b, output grad, parameter)
/// -> (da, db).
type PairKernel<B> = fn(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f64) -> (FloatTensor<B>, FloatTensor<B>);

/// Backward of a two-input op whose inputs are kept for backward (SwiGLU, RMSNorm, the short
/// convolution). The state carries the op's scalar parameter (RMSNorm's eps; 0 elsewhere).
#[derive(Debug)]
struct PairBackward<B: Backend> {
    kernel: PairKernel<B>,
}

impl<B: Backend> Backward<B, 2> for PairBackward<B> {
    type State = (burn::backend::autodiff::NodeId, burn::backend::autodiff::NodeId, f64);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_a, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (a_id, b_id, arg) = ops.state;
        let a = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(a_id);
        let b = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(b_id);
        let (da, db) = (self.kernel)(a, b, grad, arg);
        if let Some(node) = node_a {
            grads.register::<B>(node.id, da);
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, db);
        }
    }
}

/// Runs `forward` on the inner backend; when either input is tracked, keeps both for
/// [`PairBackward`] with `kernel`.
fn pair_op<B: Backend, C: CheckpointStrategy>(
    a: FloatTensor<Autodiff<B, C>>,
    b: FloatTensor<Autodiff<B, C>>,
    arg: f64,
    forward: fn(FloatTensor<B>, FloatTensor<B>, f64) -> FloatTensor<B>,
    kernel: PairKernel<B>,
) -> FloatTensor<Autodiff<B, C>> {
    match (PairBackward::<B> { kernel }).prepare::<C>([a.node(), b.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&a), prep.checkpoint(&b), arg);
            prep.finish(state, forward(a.into_primitive(), b.into_primitive(), arg))
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(a.into_primitive(), b.into_primitive(), arg)),
    }
}

/// Backward of [`FusedOps::fused_matmul`] (`bf16: false`) and
/// [`FusedOps::fused_matmul_bf16`] (`bf16: true`, whose gradient products are bf16 as well).
#[derive(Debug)]
struct MatmulBackward {
    bf16: bool,
}

impl<B: Backend + FusedOps> Backward<B, 2> for MatmulBackward {
    type State = (Option<burn::backend::autodiff::NodeId>, Option<burn::backend::autodiff::NodeId>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_a, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (a_state, b_state) = ops.state;
        let a = a_state.map(|id| checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(id));
        let b = b_state.map(|id| checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(id));
        let mm = if self.bf16 { B::fused_matmul_bf16 } else { B::fused_matmul };
        if let Some(node) = node_a {
            // dA = dY · Bᵀ
            let bt = B::float_swap_dims(b.expect("b kept for dA"), 0, 1);
            grads.register::<B>(node.id, mm(grad.clone(), bt));
        }
        if let Some(node) = node_b {
            // dB = Aᵀ · dY
            let at = B::float_swap_dims(a.expect("a kept for dB"), 0, 1);
            grads.register::<B>(node.id, mm(at, grad));
        }
    }
}

fn matmul_op<B: Backend + FusedOps, C: CheckpointStrategy>(
    a: FloatTensor<Autodiff<B, C>>,
    b: FloatTensor<Autodiff<B, C>>,
    bf16: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let forward = if bf16 { B::fused_matmul_bf16 } else { B::fused_matmul };
    let (a_tracked, b_tracked) = (a.is_tracked(), b.is_tracked());
    match (MatmulBackward { bf16 }).prepare::<C>([a.node(), b.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            // A is only needed for B's gradient and the other way round.
            let a_state = b_tracked.then(|| prep.checkpoint(&a));
            let b_state = a_tracked.then(|| prep.checkpoint(&b));
            prep.finish((a_state, b_state), forward(a.into_primitive(), b.into_primitive()))
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(a.into_primitive(), b.into_primitive())),
    }
}

impl<B: Backend + FusedOps, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn fused_host_linear(x: FloatTensor<Self>, w: HostMatrix) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct HostLinearBackward;

        impl<B: Backend + FusedOps> Backward<B, 1> for HostLinearBackward {
            type State = HostMatrix;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                if let Some(node) = node {
                    // dX = dY · W (the weights themselves are frozen: no gradient).
                    grads.register::<B>(node.id, B::fused_host_linear_backward(grad, ops.state));
                }
            }
        }

        match HostLinearBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(w.clone(), B::fused_host_linear(x.into_primitive(), w)),
            OpsKind::UnTracked(prep) => prep.finish(B::fused_host_linear(x.into_primitive(), w)),
        }
    }

    fn fused_host_linear_backward(_grad: FloatTensor<Self>, _w: HostMatrix) -> FloatTensor<Self> {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_matmul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        matmul_op::<B, C>(a, b, false)
    }

    fn fused_matmul_bf16(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        matmul_op::<B, C>(a, b, true)
    }

    fn fused_swiglu(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self> {
        pair_op::<B, C>(gate, up, 0.0, |g, u, _| B::fused_swiglu(g, u), |g, u, d, _| B::fused_swiglu_backward(g, u, d))
    }

    fn fused_swiglu_backward(
        _gate: FloatTensor<Self>,
        _up: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_rms_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, eps: f64) -> FloatTensor<Self> {
        pair_op::<B, C>(x, gamma, eps, B::fused_rms_norm, B::fused_rms_norm_backward)
    }

    fn fused_rms_norm_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_short_conv(bcx: FloatTensor<Self>, kernel: FloatTensor<Self>) -> FloatTensor<Self> {
        pair_op::<B, C>(
            bcx,
            kernel,
            0.0,
            |x, k, _| B::fused_short_conv(x, k),
            |x, k, d, _| B::fused_short_conv_backward(x, k, d),
        )
    }

    fn fused_short_conv_backward(
        _bcx: FloatTensor<Self>,
        _kernel: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_softmax(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SoftmaxBackward<B: Backend> {
            _b: std::marker::PhantomData<B>,
        }

        impl<B: Backend + FusedOps> Backward<B, 1> for SoftmaxBackward<B> {
            /// The op's own output.
            type State = B::FloatTensorPrimitive;

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                if let Some(node) = node {
                    grads.register::<B>(node.id, B::fused_softmax_backward(ops.state, grad));
                }
            }
        }

        let op = SoftmaxBackward::<B> { _b: std::marker::PhantomData };
        match op.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::fused_softmax(x.into_primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_softmax(x.into_primitive())),
        }
    }

    fn fused_softmax_backward(_y: FloatTensor<Self>, _grad: FloatTensor<Self>) -> FloatTensor<Self> {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_cross_entropy(logits: FloatTensor<Self>, targets: Vec<i32>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct CrossEntropyBackward<B: Backend> {
            _b: std::marker::PhantomData<B>,
        }

        impl<B: Backend + FusedOps> Backward<B, 1> for CrossEntropyBackward<B> {
            type State = (burn::backend::autodiff::NodeId, B::FloatTensorPrimitive, Vec<i32>);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
                let [node] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (logits_id, lse, targets) = ops.state;
                if let Some(node) = node {
                    let logits = checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(logits_id);
                    grads.register::<B>(node.id, B::fused_cross_entropy_backward(logits, lse, targets, grad));
                }
            }
        }

        let op = CrossEntropyBackward::<B> { _b: std::marker::PhantomData };
        match op.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let id = prep.checkpoint(&logits);
                let (loss, lse) = B::fused_cross_entropy_forward(logits.into_primitive(), targets.clone());
                prep.finish((id, lse, targets), loss)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fused_cross_entropy(logits.into_primitive(), targets)),
        }
    }

    fn fused_cross_entropy_forward(
        _logits: FloatTensor<Self>,
        _targets: Vec<i32>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        panic!("{NOT_DIFFERENTIABLE}")
    }

    fn fused_cross_entropy_backward(
        _logits: FloatTensor<Self>,
        _lse: FloatTensor<Self>,
        _targets: Vec<i32>,
        _grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        panic!("{NOT_DIFFERENTIABLE}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    /// NaN-aware (crate::compare): a NaN in either tensor makes the difference NaN.
    fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
        let host = |t: Tensor<2>| t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        crate::compare::max_abs_diff(&host(a), &host(b))
    }

    fn rand(shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::random(shape, Distribution::Normal(0.0, 2.0), device)
    }

    #[test]
    fn fast_exp_matches_libm() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let rel = ((fast_exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(fast_exp(-1000.0), 0.0);
        assert_eq!(fast_exp(1000.0), fast_exp(88.0));
    }

    /// Values and gradients of `f_fused` against `f_ref` for the same random inputs, on the
    /// CPU device with autodiff (where the fused kernels run).
    fn check_grads(
        shapes: &[[usize; 2]],
        f_fused: impl Fn(&[Tensor<2>]) -> Tensor<2>,
        f_ref: impl Fn(&[Tensor<2>]) -> Tensor<2>,
        tol: f32,
    ) {
        let device = Device::flex().autodiff();
        let base: Vec<Tensor<2>> = shapes.iter().map(|&s| rand(s, &Device::flex())).collect();
        let run = |f: &dyn Fn(&[Tensor<2>]) -> Tensor<2>| {
            let xs: Vec<Tensor<2>> =
                base.iter().map(|t| Tensor::<2>::from_data(t.to_data(), &device).require_grad()).collect();
            let y = f(&xs);
            // A weighted sum, so every output element has its own upstream gradient.
            let w = Tensor::<2>::from_data(
                TensorData::new(
                    (0..y.shape().num_elements()).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect::<Vec<_>>(),
                    y.shape(),
                ),
                &device,
            );
            let grads = (y.clone() * w).sum().backward();
            let gs: Vec<Tensor<2>> = xs.iter().map(|x| x.grad(&grads).expect("input grad")).collect();
            (y.inner(), gs)
        };
        let (y1, g1) = run(&f_fused);
        let (y0, g0) = run(&f_ref);
        let scale = max_abs_diff(y0.clone(), y0.clone() * 0.0).max(1.0);
        assert!(max_abs_diff(y1, y0) <= tol * scale, "values differ");
        for (a, b) in g1.into_iter().zip(g0) {
            let scale = max_abs_diff(b.clone(), b.clone() * 0.0).max(1.0);
            let d = max_abs_diff(a, b);
            assert!(d <= tol * scale, "gradients differ by {d} (scale {scale})");
        }
    }

    #[test]
    fn matmul_matches_burn_with_gradients() {
        let f = |x: &[Tensor<2>]| matmul(x[0].clone(), x[1].clone());
        let r = |x: &[Tensor<2>]| x[0].clone().matmul(x[1].clone());
        check_grads(&[[37, 53], [53, 29]], f, r, 1e-5);
        // Transposed (strided) operands, as the output head uses them, and a product large
        // enough to run on every thread.
        let f = |x: &[Tensor<2>]| matmul(x[0].clone(), x[1].clone().transpose());
        let r = |x: &[Tensor<2>]| x[0].clone().matmul(x[1].clone().transpose());
        check_grads(&[[300, 200], [250, 200]], f, r, 1e-5);
    }

    /// `x` rounded to bf16 in value, with the identity's gradient (straight through).
    fn bf16_ste(x: Tensor<2>) -> Tensor<2> {
        let v: Vec<f32> = x.to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let r: Vec<f32> = v.into_iter().map(crate::bf16::round).collect();
        let rounded = Tensor::<2>::from_data(TensorData::new(r, x.shape()), &x.device());
        x.clone() + (rounded - x).detach()
    }

    #[test]
    fn bf16_autocast_rounds_operands_of_the_product_and_of_its_gradients() {
        // The reference multiplies bf16-rounded operands in f32. check_grads's upstream weights
        // are multiples of 0.25, exact in bf16, so the gradient products see the same rounded
        // operands: dA = G · round(B)ᵀ, dB = round(A)ᵀ · G.
        let f = |x: &[Tensor<2>]| {
            let _bf16 = autocast(MatmulPrecision::Bf16);
            matmul(x[0].clone(), x[1].clone())
        };
        let r = |x: &[Tensor<2>]| bf16_ste(x[0].clone()).matmul(bf16_ste(x[1].clone()));
        check_grads(&[[37, 53], [53, 29]], f, r, 1e-5);
        let f = |x: &[Tensor<2>]| {
            let _bf16 = autocast(MatmulPrecision::Bf16);
            matmul(x[0].clone(), x[1].clone().transpose())
        };
        let r = |x: &[Tensor<2>]| bf16_ste(x[0].clone()).matmul(bf16_ste(x[1].clone()).transpose());
        check_grads(&[[300, 200], [250, 200]], f, r, 1e-5);
        // The guard restores f32, and f32 products differ from bf16 ones by far more than the
        // tolerance above (the rounding is not skipped).
        assert_eq!(matmul_precision(), MatmulPrecision::F32);
        let d = Device::flex();
        let (a, b) = (rand([64, 256], &d), rand([256, 32], &d));
        let y32 = matmul(a.clone(), b.clone());
        let y16 = {
            let _bf16 = autocast(MatmulPrecision::Bf16);
            matmul(a, b)
        };
        let scale = max_abs_diff(y32.clone(), y32.clone() * 0.0);
        assert!(max_abs_diff(y32, y16) > 1e-3 * scale);
    }

    #[test]
    fn host_linear_matches_a_dense_product_with_the_input_gradient() {
        // 600 weight rows: two full GRAD_TILE tiles and a partial one in backward.
        let (out_f, in_f) = (600, 70);
        let w: Vec<f32> = (0..out_f * in_f).map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0).collect();
        let host = crate::host::f32_matrix(w.clone(), [out_f, in_f]);
        let f = |x: &[Tensor<2>]| host_linear(x[0].clone(), &host);
        let r = |x: &[Tensor<2>]| {
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [out_f, in_f]), &x[0].device());
            x[0].clone().matmul(wt.transpose())
        };
        check_grads(&[[33, in_f]], f, r, 1e-5);
    }

    #[test]
    fn swiglu_matches_silu_times_up_with_gradients() {
        let f = |x: &[Tensor<2>]| swiglu(x[0].clone(), x[1].clone());
        let r = |x: &[Tensor<2>]| swiglu_reference(x[0].clone(), x[1].clone());
        // 3 * 16384 + 5 elements: several parallel chunks and a short last one.
        check_grads(&[[7, 7022], [7, 7022]], f, r, 1e-5);
    }

    #[test]
    fn rms_norm_matches_burn_with_gradients() {
        let h = 96;
        // gamma rides along as a [1, H] input so check_grads compares its gradient too; 700
        // rows make several parallel tasks (and several dgamma partials).
        let f = move |x: &[Tensor<2>]| rms_norm_with(x[0].clone(), x[1].clone().reshape([h]), 1e-5);
        let r = move |x: &[Tensor<2>]| {
            let g = x[1].clone().reshape([h]);
            let rms = (x[0].clone().square().mean_dim(1) + 1e-5).sqrt();
            (x[0].clone() / rms) * g.unsqueeze()
        };
        check_grads(&[[700, h], [1, h]], f, r, 2e-5);
    }

    /// The composition ShortConv::forward uses without the fused kernel.
    fn short_conv_reference(bcx: Tensor<3>, kernel: Tensor<2>) -> Tensor<3> {
        let [b, t, h3] = bcx.dims();
        let (h, l) = (h3 / 3, kernel.dims()[1]);
        let u = bcx.clone().narrow(2, 0, h) * bcx.clone().narrow(2, 2 * h, h);
        let seq = Tensor::cat(vec![Tensor::zeros([b, l - 1, h], &u.device()), u], 1);
        let mut y = seq.clone().narrow(1, 0, t) * kernel.clone().narrow(1, 0, 1).reshape([1, 1, h]);
        for k in 1..l {
            y = y + seq.clone().narrow(1, k, t) * kernel.clone().narrow(1, k, 1).reshape([1, 1, h]);
        }
        bcx.narrow(2, h, h) * y
    }

    #[test]
    fn short_conv_matches_the_composition_with_gradients() {
        // B = 3 sequences of T = 40 tokens, H = 700 channels (rows per task do not divide the
        // sequences, so tasks straddle sequence boundaries), L = 3; then T = 2 < L - 1 + 1.
        for (b, t, h, l) in [(3, 40, 700, 3), (2, 2, 33, 4)] {
            let f = move |x: &[Tensor<2>]| {
                short_conv(&x[0].clone().reshape([b, t, 3 * h]), &x[1]).expect("fused on CPU").reshape([b * t, h])
            };
            let r = move |x: &[Tensor<2>]| {
                short_conv_reference(x[0].clone().reshape([b, t, 3 * h]), x[1].clone()).reshape([b * t, h])
            };
            check_grads(&[[b * t, 3 * h], [h, l]], f, r, 2e-5);
        }
    }

    #[test]
    fn softmax_matches_burn_with_gradients() {
        let f = |x: &[Tensor<2>]| softmax_last(x[0].clone());
        let r = |x: &[Tensor<2>]| burn::tensor::activation::softmax(x[0].clone(), 1);
        // Rows of 300 (several rows per parallel task, 40 tasks) and a masked-like -1e9 entry.
        check_grads(&[[4000, 300]], f, r, 1e-5);
        let device = Device::flex();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3.0f32.ln(), -1.0e9], [1, 3]), &device);
        let p: Vec<f32> = softmax_last(x).into_data().try_to_vec::<f32>().unwrap();
        assert!((p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6 && p[2] == 0.0, "{p:?}");
    }

    #[test]
    fn cross_entropy_matches_log_softmax_with_gradients() {
        let (v, n) = (301, 70);
        let targets: Vec<i32> = (0..n).map(|j| if j % 9 == 4 { -100 } else { ((j * 37) % v) as i32 }).collect();
        let t2 = targets.clone();
        let f = move |x: &[Tensor<2>]| cross_entropy_vocab_major(x[0].clone(), &targets).reshape([1, n]);
        let r = move |x: &[Tensor<2>]| cross_entropy_reference(x[0].clone(), &t2).reshape([1, n]);
        check_grads(&[[v, n]], f, r, 1e-5);
    }

    #[test]
    fn cross_entropy_by_hand() {
        // Two classes, logits (0, ln 3) in column 0: p = (1/4, 3/4); target 1 -> −ln(3/4).
        // Column 1 is ignored.
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 5.0, 3.0f32.ln(), -2.0], [2, 2]), &device);
        let loss: Vec<f32> = cross_entropy_vocab_major(logits, &[1, -1]).into_data().try_to_vec::<f32>().unwrap();
        assert!((loss[0] - (4.0f32 / 3.0).ln()).abs() < 1e-6, "{loss:?}");
        assert_eq!(loss[1], 0.0);
    }
}
