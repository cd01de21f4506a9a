//! A spinning task pool for decode-sized parallel work.
//!
//! Hand-written because no maintained crate offers what decoding needs: a token of the 350M
//! model runs ~70 parallel matrix products of 50–300 µs each. rayon parks idle workers on a
//! futex, and waking them costs tens of microseconds per product (measured: ~20% of decode
//! time in the scheduler). Here the workers spin on an epoch counter for a short while after
//! each job (llama.cpp's CPU thread pool does the same), yield for a while longer, and only
//! then sleep on a condition variable, so back-to-back products start at once while an idle
//! process still stops burning CPU within milliseconds.
//!
//! [`for_each`] runs `f(0..ntasks)` on the calling thread plus `threads() − 1` workers, tasks
//! handed out one at a time by an atomic counter. One job runs at a time: a call made while
//! another is in flight (from another thread, or from inside a task) runs its tasks serially
//! on the caller. A panicking task is re-raised on the caller after every task has finished.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a worker spins after a job before it starts yielding.
const SPIN: Duration = Duration::from_micros(300);
/// How long it yields before it sleeps.
const YIELD: Duration = Duration::from_millis(5);

/// The job being run: a type-erased task function and its task count.
struct Job {
    f: *const (dyn Fn(usize) + Sync),
    ntasks: usize,
}

struct Pool {
    /// Bumped once per job; workers watch it.
    epoch: AtomicU64,
    /// The current job, null between jobs.
    job: AtomicPtr<Job>,
    /// Next task index to hand out, and tasks finished.
    next: AtomicUsize,
    done: AtomicUsize,
    /// Workers between "saw a new epoch" and "finished with its job".
    active: AtomicUsize,
    panicked: AtomicBool,
    /// Held by the caller of a job (one job at a time).
    busy: Mutex<()>,
    /// Sleeping workers wait here; `sleepers` counts them.
    sleep: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
    workers: usize,
}

// SAFETY: `Job::f` is only dereferenced by workers while the caller that published it is
// blocked in `for_each` (see the protocol there), and the function it points to is `Sync`.
unsafe impl Send for Pool {}
// SAFETY: as above; every other field is a synchronization primitive.
unsafe impl Sync for Pool {}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = crate::host::threads().saturating_sub(1);
        let p: &'static Pool = Box::leak(Box::new(Pool {
            epoch: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            busy: Mutex::new(()),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            workers,
        }));
        for i in 0..workers {
            std::thread::Builder::new()
                .name(format!("lfm-pool-{i}"))
                .spawn(move || worker(p))
                .expect("cannot start a pool thread");
        }
        p
    })
}

/// Runs tasks of the current job until none are left.
fn run_tasks(p: &Pool, job: &Job) {
    loop {
        let i = p.next.fetch_add(1, SeqCst);
        if i >= job.ntasks {
            return;
        }
        // SAFETY: see `for_each`: the function outlives every use by a task of its job.
        let f = unsafe { &*job.f };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_err() {
            p.panicked.store(true, SeqCst);
        }
        p.done.fetch_add(1, SeqCst);
    }
}

fn worker(p: &'static Pool) {
    let mut seen = 0u64;
    loop {
        // Wait for a new epoch: spin, then yield, then sleep.
        let t0 = Instant::now();
        let mut spins = 0u32;
        while p.epoch.load(SeqCst) == seen {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) {
                std::hint::spin_loop();
                continue;
            }
            let waited = t0.elapsed();
            if waited < SPIN {
                std::hint::spin_loop();
            } else if waited < SPIN + YIELD {
                std::thread::yield_now();
            } else {
                // Counted in `sleepers` before the epoch is checked under the lock: a caller
                // that bumps the epoch either sees the count (and notifies under the lock) or
                // bumped it before the check here.
                let mut g = p.sleep.lock().unwrap_or_else(|e| e.into_inner());
                p.sleepers.fetch_add(1, SeqCst);
                while p.epoch.load(SeqCst) == seen {
                    g = p.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                p.sleepers.fetch_sub(1, SeqCst);
                drop(g);
            }
        }
        p.active.fetch_add(1, SeqCst);
        seen = p.epoch.load(SeqCst);
        let job = p.job.load(SeqCst);
        if !job.is_null() {
            // SAFETY: a non-null job read while `active` counts this worker stays valid until
            // the worker decrements `active` (the caller waits for that before returning).
            run_tasks(p, unsafe { &*job });
        }
        p.active.fetch_sub(1, SeqCst);
    }
}

/// Runs `f(i)` for every `i` in `0..ntasks`, in parallel on the pool (see the module doc).
/// `LFM_POOL=rayon` hands the tasks to rayon instead (for comparisons).
pub fn for_each(ntasks: usize, f: &(dyn Fn(usize) + Sync)) {
    static RAYON: OnceLock<bool> = OnceLock::new();
    if *RAYON.get_or_init(|| std::env::var("LFM_POOL").is_ok_and(|v| v == "rayon")) {
        use rayon::prelude::*;
        (0..ntasks).into_par_iter().for_each(f);
        return;
    }
    let p = pool();
    let guard = if p.workers == 0 || ntasks < 2 { None } else { p.busy.try_lock().ok() };
    let Some(_guard) = guard else {
        (0..ntasks).for_each(f);
        return;
    };
    // SAFETY: only the lifetime is erased (same fat-pointer layout). `f` is called through
    // `job` only by tasks that start before this function returns: the job pointer is
    // cleared below before the wait for `active == 0`, and a worker reads it only while
    // counted in `active`.
    let f_static: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    let mut job = Job { f: f_static, ntasks };
    p.next.store(0, SeqCst);
    p.done.store(0, SeqCst);
    p.panicked.store(false, SeqCst);
    p.job.store(&mut job, SeqCst);
    p.epoch.fetch_add(1, SeqCst);
    if p.sleepers.load(SeqCst) > 0 {
        let _g = p.sleep.lock().unwrap_or_else(|e| e.into_inner());
        p.wake.notify_all();
    }
    run_tasks(p, &job);
    while p.done.load(SeqCst) < ntasks {
        std::hint::spin_loop();
    }
    p.job.store(std::ptr::null_mut(), SeqCst);
    while p.active.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
    if p.panicked.load(SeqCst) {
        panic!("a pool task panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        for n in [0usize, 1, 2, 7, 100, 1000] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each(n, &|i| {
                hits[i].fetch_add(1, SeqCst);
            });
            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "n = {n}");
        }
    }

    #[test]
    fn nested_and_concurrent_calls_complete() {
        let total = AtomicUsize::new(0);
        for_each(8, &|_| {
            for_each(4, &|_| {
                total.fetch_add(1, SeqCst);
            });
        });
        assert_eq!(total.load(SeqCst), 32);
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        for_each(16, &|_| {
                            total.fetch_add(1, SeqCst);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(SeqCst), 4 * 50 * 16);
    }

    #[test]
    fn a_panicking_task_panics_the_caller_after_all_tasks() {
        let ran = AtomicUsize::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for_each(64, &|i| {
                ran.fetch_add(1, SeqCst);
                assert!(i != 5, "task 5 fails");
            })
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(SeqCst), 64);
        // The pool still works afterwards.
        let ok = AtomicUsize::new(0);
        for_each(10, &|_| {
            ok.fetch_add(1, SeqCst);
        });
        assert_eq!(ok.load(SeqCst), 10);
    }
}
