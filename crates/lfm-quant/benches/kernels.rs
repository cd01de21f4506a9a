//! `cargo bench -p lfm-quant --bench kernels`: the packed matmul kernels on the 350M model's
//! shapes (FFN up, FFN down, the tied head), decode (1 row) and prefill (512 rows), for every code path this CPU has. Prints
//! GB/s of weights streamed (decode), GMAC/s (prefill) and the ratio to the scalar path
//! measured in the same run. `--quick` runs fewer repetitions; other arguments keep only the
//! rows whose label contains all of them (e.g. `q4_0 n=1`).

use std::sync::Arc;
use std::time::Instant;

use lfm_quant::blocks::{quantize_row, GgmlType};
use lfm_quant::gguf::Bytes;
use lfm_quant::kernels::Isa;
use lfm_quant::qmatrix::QuantMatrix;

fn matrix(ty: GgmlType, rows: usize, cols: usize) -> QuantMatrix {
    let mut bytes = Vec::with_capacity(ty.row_bytes(cols) * rows);
    let row: Vec<f32> = (0..cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.05).collect();
    for r in 0..rows {
        let shifted: Vec<f32> = row.iter().map(|v| v * (1.0 + (r % 13) as f32 * 0.01)).collect();
        bytes.extend(quantize_row(ty, &shifted));
    }
    QuantMatrix::new(Arc::new(Bytes::Owned(bytes)), 0, ty, rows, cols)
}

fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // Other arguments filter the rows by substring (e.g. `q4_0`, `n=  1`).
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with("--")).collect();
    println!("threads {}, paths {:?}", lfm_model::host::threads(), Isa::available());
    // FFN up (1024 -> 4608) and down (4608 -> 1024) of LFM2-350M.
    for ty in [GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4K, GgmlType::F16] {
        // The tied head (65536 x 1024) does not fit in cache: it shows DRAM streaming.
        for (rows, cols) in [(4608, 1024), (1024, 4608), (65536, 1024)] {
            let m = matrix(ty, rows, cols);
            let nbytes = (ty.row_bytes(cols) * rows) as f64;
            for n in [1usize, 512] {
                if rows == 65536 && n > 1 {
                    continue;
                }
                let x: Vec<f32> = (0..n * cols).map(|i| ((i * 31 % 97) as f32 - 48.0) / 48.0).collect();
                let reps = if quick {
                    2
                } else if n == 1 {
                    50
                } else {
                    3
                };
                let shape = format!("{} [{rows} x {cols}] n={n}", ty.name());
                if !filters.is_empty() && !filters.iter().all(|f| shape.contains(f.as_str())) {
                    continue;
                }
                let mut base = None;
                for isa in Isa::available() {
                    let label = format!("{:5} [{rows:4} x {cols:4}] n={n:3} {:12}", ty.name(), isa.name());
                    let t = best(if isa == Isa::Scalar { reps.min(if n > 1 { 1 } else { 5 }) } else { reps }, || {
                        std::hint::black_box(m.matmul_t_with(isa, &x, n));
                    });
                    let base_t = *base.get_or_insert(t);
                    let rate = if n == 1 {
                        format!("{:6.1} GB/s", nbytes / t / 1e9)
                    } else {
                        format!("{:6.1} GMAC/s", (rows * cols * n) as f64 / t / 1e9)
                    };
                    println!(
                        "{label} {:9.3} ms  {rate}  x{:.1} vs {}",
                        t * 1e3,
                        base_t / t,
                        Isa::available()[0].name()
                    );
                }
            }
        }
    }
}
