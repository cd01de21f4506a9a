//! Ranks of a training run launched by MPI: `mpirun -np N lfm train ...` (or SLURM's `srun`)
//! starts N processes, and with the `distributed` feature each one joins MPI's world here.
//!
//! A rank is one data-parallel replica on one device: every rank builds the same model (same
//! seed), computes the gradients of its share of the step's micro-batches (micro-batch `j`
//! belongs to rank `j % N`, as the in-process replicas split them; pre-training data is read
//! per rank, [`crate::streams`]), and the gradient sum and the loss sum are all-reduced before
//! the optimizer step, which every rank then takes identically: over MPI from host memory, or
//! by NCCL on CUDA devices ([`crate::nccl`]). Rank 0 alone writes the run directory (lock, config, metrics, plots,
//! checkpoints) and evaluates; the others read it (a resumed checkpoint).
//!
//! MPI is rsmpi (`mpi` crate) over the system's library; MPI calls come from the thread that
//! runs the training loop only (`MPI_THREAD_FUNNELED`). Without the feature, or in a process
//! not started by an MPI launcher, the world is one rank and nothing here talks to MPI.

use anyhow::{bail, Result};

/// Environment variables an MPI launcher sets in each process it starts (Open MPI, PMIx,
/// MPICH/Hydra's PMI, MVAPICH).
const LAUNCHER_VARS: [&str; 5] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MV2_COMM_WORLD_SIZE"];

/// Whether an MPI launcher started this process.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some())
}

/// Held for the life of the process when MPI is initialized: dropping it finalizes MPI.
pub struct MpiGuard {
    #[cfg(feature = "distributed")]
    _universe: Option<mpi::environment::Universe>,
}

/// Joins MPI's world when an MPI launcher started this process (call once, first thing, and
/// keep the guard until the process ends). Without the `distributed` feature a process started
/// by `mpirun` is refused: N copies would each train the whole run on their own.
pub fn init() -> Result<MpiGuard> {
    if !launched_by_mpi() {
        #[cfg(feature = "distributed")]
        return Ok(MpiGuard { _universe: None });
        #[cfg(not(feature = "distributed"))]
        return Ok(MpiGuard {});
    }
    #[cfg(not(feature = "distributed"))]
    bail!(
        "this process was started by an MPI launcher, but this lfm was built without the `distributed` feature \
         (cargo build --release --features distributed); refusing to train N independent copies"
    );
    #[cfg(feature = "distributed")]
    {
        share_cores();
        let Some((universe, level)) = mpi::initialize_with_threading(mpi::Threading::Funneled) else {
            bail!("MPI was initialized already");
        };
        if level < mpi::Threading::Funneled {
            bail!("the MPI library offers thread level {level:?}; lfm needs at least Funneled");
        }
        Ok(MpiGuard { _universe: Some(universe) })
    }
}

/// Ranks on one machine split its cores: each gets `cores / ranks here` worker threads (at
/// least one) unless `RAYON_NUM_THREADS` or `LFM_THREADS` says otherwise (the launcher's
/// per-machine rank count; the world size when it does not say).
#[cfg(feature = "distributed")]
fn share_cores() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() || std::env::var_os("LFM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = (cores / local().1.max(1)).max(1).to_string();
    // Called from `init` before MPI starts (its library may start threads that read the
    // environment) and before lfm's own pools do (on first use, later).
    std::env::set_var("RAYON_NUM_THREADS", &n);
    std::env::set_var("LFM_THREADS", &n);
}

/// Runs a command's work `f` as one rank: joins MPI when an MPI launcher started this process
/// ([`init`]), and when `f` fails on a rank of several, prints its error (one line, naming the
/// rank) and aborts the whole job (`MPI_Abort`): the other ranks may be waiting in a collective
/// for this one, and leaving through `MPI_Finalize` would wait for them in turn.
pub fn run_rank<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // Dropped after `f` (MPI is finalized on the way out).
    let _guard = init()?;
    let r = f();
    if let Err(e) = &r {
        if size() > 1 {
            eprintln!("error: rank {}: {}", rank(), format!("{e:#}").replace('\n', " "));
            #[cfg(feature = "distributed")]
            {
                use mpi::traits::Communicator;
                mpi::topology::SimpleCommunicator::world().abort(1);
            }
        }
    }
    r
}

/// This process's rank (0 when not under MPI).
pub fn rank() -> usize {
    #[cfg(feature = "distributed")]
    if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
        use mpi::traits::Communicator;
        return mpi::topology::SimpleCommunicator::world().rank() as usize;
    }
    0
}

/// The number of ranks (1 when not under MPI).
pub fn size() -> usize {
    #[cfg(feature = "distributed")]
    if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
        use mpi::traits::Communicator;
        return mpi::topology::SimpleCommunicator::world().size() as usize;
    }
    1
}

/// This rank's index among the ranks on its machine, and how many share the machine (from the
/// launcher's environment; `(rank, size)` when it does not say).
pub fn local() -> (usize, usize) {
    let var = |n: &str| std::env::var(n).ok().and_then(|v| v.parse::<usize>().ok());
    match (
        var("OMPI_COMM_WORLD_LOCAL_RANK").or(var("MPI_LOCALRANKID")),
        var("OMPI_COMM_WORLD_LOCAL_SIZE").or(var("MPI_LOCALNRANKS")),
    ) {
        (Some(r), Some(n)) => (r, n),
        _ => (rank(), size()),
    }
}

/// The device this rank trains on, from the run's device spec: under MPI a bare `cuda` or
/// `wgpu` (no index) becomes that kind's device number `local rank` (the ranks of one machine
/// take one GPU each); anything else is kept as written.
pub fn rank_device(spec: &str) -> String {
    rank_device_of(spec, size(), local().0)
}

fn rank_device_of(spec: &str, ranks: usize, local_rank: usize) -> String {
    match spec.trim() {
        kind @ ("cuda" | "wgpu") if ranks > 1 => format!("{kind}:{local_rank}"),
        s => s.to_string(),
    }
}

/// `buf` summed element-wise over all ranks, in place (a no-op on one rank).
#[cfg_attr(not(feature = "distributed"), allow(unused_variables))]
pub fn all_reduce_sum(buf: &mut [f32]) {
    #[cfg(feature = "distributed")]
    if size() > 1 {
        use mpi::collective::SystemOperation;
        use mpi::traits::CommunicatorCollectives;
        let world = mpi::topology::SimpleCommunicator::world();
        let send = buf.to_vec();
        world.all_reduce_into(&send[..], buf, SystemOperation::sum());
    }
}

/// `x` summed over all ranks.
pub fn all_reduce_f64(x: f64) -> f64 {
    if size() == 1 {
        return x;
    }
    #[cfg(feature = "distributed")]
    {
        use mpi::collective::SystemOperation;
        use mpi::traits::CommunicatorCollectives;
        let world = mpi::topology::SimpleCommunicator::world();
        let mut out = 0.0f64;
        world.all_reduce_into(&x, &mut out, SystemOperation::sum());
        return out;
    }
    #[allow(unreachable_code)]
    x
}

/// Every rank's `mine`, in rank order, on every rank (`[mine]` on one rank): the byte counts
/// first, then the bytes (`MPI_Allgatherv`).
pub fn all_gather_bytes(mine: &[u8]) -> Vec<Vec<u8>> {
    #[cfg(feature = "distributed")]
    if size() > 1 {
        use mpi::datatype::PartitionMut;
        use mpi::traits::CommunicatorCollectives;
        let world = mpi::topology::SimpleCommunicator::world();
        let n = size();
        let mut counts = vec![0i32; n];
        world.all_gather_into(&(mine.len() as i32), &mut counts[..]);
        let displs: Vec<i32> = counts.iter().scan(0i32, |at, &c| Some(std::mem::replace(at, *at + c))).collect();
        let mut all = vec![0u8; counts.iter().map(|&c| c as usize).sum()];
        {
            let mut part = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(mine, &mut part);
        }
        return (0..n).map(|r| all[displs[r] as usize..(displs[r] + counts[r]) as usize].to_vec()).collect();
    }
    vec![mine.to_vec()]
}

/// `buf` as rank 0 has it, on every rank (`MPI_Bcast`; a no-op on one rank).
#[cfg_attr(not(feature = "distributed"), allow(unused_variables))]
pub fn broadcast_bytes(buf: &mut [u8]) {
    #[cfg(feature = "distributed")]
    if size() > 1 {
        use mpi::traits::{Communicator, Root};
        mpi::topology::SimpleCommunicator::world().process_at_rank(0).broadcast_into(buf);
    }
}

/// Waits until every rank gets here.
pub fn barrier() {
    #[cfg(feature = "distributed")]
    if size() > 1 {
        use mpi::traits::CommunicatorCollectives;
        mpi::topology::SimpleCommunicator::world().barrier();
    }
}

/// Whether this rank writes the run directory (rank 0).
pub fn writes() -> bool {
    rank() == 0
}

/// The MPI world as the ranks of a dataset build (`mpirun -np N lfm data build ...`).
pub struct MpiRanks;

impl lfm_data::shards::Ranks for MpiRanks {
    fn rank(&self) -> usize {
        rank()
    }
    fn size(&self) -> usize {
        size()
    }
    fn barrier(&self) {
        barrier()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_gpu_kind_becomes_the_local_ranks_gpu() {
        use super::rank_device_of as d;
        assert_eq!(d("cuda", 4, 3), "cuda:3");
        assert_eq!(d("wgpu", 2, 1), "wgpu:1");
        assert_eq!(d("cuda", 1, 0), "cuda");
        assert_eq!(d("cuda:1", 4, 3), "cuda:1");
        assert_eq!(d("cpu", 4, 3), "cpu");
    }
}
