//! NCCL all-reduce of CUDA gradients across MPI ranks (built with both `cuda` and
//! `distributed`).
//!
//! **Why hand-written.** burn 0.22's collective goes through cubecl's NCCL driver, which forms a
//! communicator among the devices of one process (its unique id is minted and kept in a
//! process-global map), so it cannot join ranks that MPI started in other processes or on other
//! machines. cudarc's NCCL binding (the one cubecl itself links) takes a unique id from anywhere:
//! rank 0 mints one, MPI broadcasts its 128 bytes, and every rank joins with its own rank number.
//!
//! **The hand-over, without host copies.** A burn tensor on `cuda:N` is a cubecl buffer
//! (`Tensor::try_into_primitive::<Cuda>`, burn's backend-extension API). Its compute client
//! hands out the raw device pointer of the buffer (`get_resource`, which also keeps the
//! allocation in place while held), and NCCL reduces in place on it. The gradients are first
//! concatenated into one buffer on the device (one device-side copy, then one NCCL call for all
//! of them, as a single bucket), and the sums are read back as slices of it.
//!
//! **Streams.** cubecl runs kernels on its own streams: the client is synchronized before NCCL
//! reads the buffer, and NCCL runs on a stream of its own that is synchronized before cubecl
//! touches the buffer again. Nothing overlaps backward yet (see the README's design notes).
//!
//! Not run on a GPU in this repository's CI (it has none): the path is compiled there
//! (`cargo check --features cuda,distributed`); `LFM_ALLREDUCE=host` makes CUDA gradients take
//! the host path (MPI over host memory) instead.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, bail, Result};
use burn::backend::Cuda;
use burn::tensor::{DType, Tensor};
use burn_cubecl::cubecl::cuda::CudaRuntime;
use burn_cubecl::CubeDevice;
use cubecl_runtime::runtime::Runtime;
use cudarc::nccl::{result as nccl, sys};

/// One communicator over all ranks, for this process's GPU.
struct Comm {
    comm: sys::ncclComm_t,
    stream: Arc<cudarc::driver::CudaStream>,
    ordinal: usize,
}

// SAFETY: `comm` is an opaque NCCL handle. NCCL allows a communicator to be used from any
// thread as long as calls on it do not run concurrently; every use below holds the mutex.
unsafe impl Send for Comm {}

static COMM: OnceLock<Mutex<Option<Comm>>> = OnceLock::new();

/// Whether CUDA gradients should go through NCCL (`LFM_ALLREDUCE=host` says no).
pub fn enabled() -> bool {
    std::env::var("LFM_ALLREDUCE").map_or(true, |v| v != "host")
}

/// The CUDA ordinal of `t`'s device, or `None` when it is not on a CUDA device.
pub fn cuda_ordinal(t: &Tensor<1>) -> Option<usize> {
    let ct = t.clone().try_into_primitive::<Cuda>().ok()?;
    match &ct.device {
        CubeDevice::Cuda(d) => Some(d.index),
        _ => None,
    }
}

/// Joins the communicator of all ranks on GPU `ordinal` (a collective: every rank calls it).
fn join(ordinal: usize) -> Result<Comm> {
    // The device's primary context, current on this thread: cubecl allocates in it, and NCCL
    // picks the device from the current context.
    let ctx = cudarc::driver::CudaContext::new(ordinal).map_err(|e| anyhow!("CUDA device {ordinal}: {e:?}"))?;
    let mut id = [0u8; 128];
    if crate::dist::rank() == 0 {
        let u = nccl::get_uniqueid().map_err(|e| anyhow!("NCCL could not mint a unique id: {e:?}"))?;
        for (b, c) in id.iter_mut().zip(u.internal) {
            *b = c as u8;
        }
    }
    crate::dist::broadcast_bytes(&mut id);
    let uid = sys::ncclUniqueId { internal: id.map(|b| b as std::ffi::c_char) };
    let mut comm = std::mem::MaybeUninit::uninit();
    let (rank, size) = (crate::dist::rank() as i32, crate::dist::size() as i32);
    // SAFETY: `comm` is a valid place for the handle, `uid` the id every rank joins with, and
    // `rank` this process's place among `size`; on success NCCL has written the handle.
    let comm = unsafe {
        nccl::comm_init_rank(comm.as_mut_ptr(), size, uid, rank)
            .map_err(|e| anyhow!("NCCL could not join rank {rank} of {size} on cuda:{ordinal}: {e:?}"))?;
        comm.assume_init()
    };
    let stream = ctx.new_stream().map_err(|e| anyhow!("CUDA stream on device {ordinal}: {e:?}"))?;
    Ok(Comm { comm, stream, ordinal })
}

/// `t` (f32, bf16 or f16, on a CUDA device) summed over all ranks with NCCL, in its own type;
/// `Ok(None)` when `t` is not a CUDA tensor (the caller takes the host path).
pub fn all_reduce_sum(t: Tensor<1>) -> Result<Option<Tensor<1>>> {
    let n = t.dims()[0];
    let Ok(ct) = t.try_into_primitive::<Cuda>() else { return Ok(None) };
    let ordinal = match &ct.device {
        CubeDevice::Cuda(d) => d.index,
        _ => return Ok(None),
    };
    // bf16 runs (`precision = "bf16"` on CUDA) reduce their gradients in bf16: half the bytes.
    let (dtype, width) = match ct.dtype {
        DType::F32 => (sys::ncclDataType_t::ncclFloat32, 4),
        DType::BF16 => (sys::ncclDataType_t::ncclBfloat16, 2),
        DType::F16 => (sys::ncclDataType_t::ncclFloat16, 2),
        other => bail!("NCCL all-reduce: gradients of type {other:?} (expected f32, bf16 or f16)"),
    };
    let lock = COMM.get_or_init(|| Mutex::new(None));
    let mut guard = lock.lock().map_err(|_| anyhow!("the NCCL communicator's lock is poisoned"))?;
    if guard.is_none() {
        *guard = Some(join(ordinal)?);
    }
    let comm = guard.as_ref().expect("joined above");
    if comm.ordinal != ordinal {
        bail!("NCCL all-reduce: this rank joined on cuda:{}, the gradients are on cuda:{ordinal}", comm.ordinal);
    }
    // Everything queued on the buffer is done before NCCL reads it.
    burn_cubecl::cubecl::future::block_on(ct.client.sync())
        .map_err(|e| anyhow!("CUDA sync before the all-reduce: {e}"))?;
    let res = ct
        .client
        .get_resource::<<CudaRuntime as Runtime>::Server>(ct.handle.clone())
        .map_err(|e| anyhow!("the gradient buffer's device pointer: {e}"))?;
    let buf = res.resource();
    if (buf.size as usize) < n * width {
        bail!("the gradient buffer holds {} bytes, {n} values need {}", buf.size, n * width);
    }
    let ptr = buf.ptr as *mut c_void;
    // SAFETY: `ptr` is a live device allocation of at least `n` values of `dtype` in the primary
    // context of `comm`'s device, kept in place by `res` until after the stream is synchronized;
    // the reduction is in place, which NCCL allows (send and receive buffers equal).
    unsafe {
        nccl::all_reduce(
            ptr as *const c_void,
            ptr,
            n,
            dtype,
            sys::ncclRedOp_t::ncclSum,
            comm.comm,
            comm.stream.cu_stream() as sys::cudaStream_t,
        )
        .map_err(|e| anyhow!("NCCL all-reduce of {n} values: {e:?}"))?;
    }
    comm.stream.synchronize().map_err(|e| anyhow!("CUDA sync after the all-reduce: {e:?}"))?;
    drop(res);
    Ok(Some(Tensor::from_primitive::<Cuda>(ct)))
}
