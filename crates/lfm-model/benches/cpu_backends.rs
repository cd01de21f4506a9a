//! Which CPU backend runs LFM2 faster: burn's `flex` (default) or the deprecated `ndarray`.
//!
//! `cargo bench -p lfm-model --features ndarray --bench cpu_backends [-- --preset tiny]`
//!
//! On the 350M preset (random weights, f32): prefill of 128 tokens, 16 cached decode steps at
//! batch 1, and one forward+backward at 1x64. Each figure is the best of 3 runs; ratios are
//! against flex measured in the same run.

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use lfm_model::init::RandomInit;
use lfm_model::{Cache, Lfm2Config, Lfm2Model};

fn best_of<F: FnMut() -> f64>(n: usize, mut f: F) -> f64 {
    (0..n).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn ids(b: usize, t: usize, v: usize, device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = (0..b * t).map(|i| ((i * 7919 + 13) % v) as i64).collect();
    Tensor::from_data(TensorData::new(data, [b, t]), device)
}

fn sync(t: Tensor<3>) {
    let _ = t.narrow(1, 0, 1).into_data();
}

fn measure(name: &str, cfg: &Lfm2Config, device: Device) -> [f64; 3] {
    let model = Lfm2Model::build(cfg, &device, &mut RandomInit::new(cfg, 0)).unwrap();
    let v = cfg.vocab_size;
    let prefill_t = 128;
    let prefill = best_of(3, || {
        let mut cache = Cache::new(cfg, 1);
        let start = Instant::now();
        sync(model.forward_cached(ids(1, prefill_t, v, &device), &mut cache));
        prefill_t as f64 / start.elapsed().as_secs_f64()
    });
    let decode = best_of(3, || {
        let mut cache = Cache::new(cfg, 1);
        sync(model.forward_cached(ids(1, 16, v, &device), &mut cache));
        let start = Instant::now();
        for _ in 0..16 {
            sync(model.forward_cached(ids(1, 1, v, &device), &mut cache));
        }
        16.0 / start.elapsed().as_secs_f64()
    });
    let ad = device.clone().autodiff();
    let train_model = Lfm2Model::build(cfg, &ad, &mut RandomInit::new(cfg, 0)).unwrap();
    let train = best_of(2, || {
        let start = Instant::now();
        let x = ids(1, 64, v, &ad);
        let loss = Lfm2Model::loss(train_model.forward(x.clone()), x);
        let _grads = loss.backward();
        64.0 / start.elapsed().as_secs_f64()
    });
    println!(
        "{name:<8} prefill {prefill:>8.1} tok/s   decode {decode:>7.2} tok/s   train(fwd+bwd 1x64) {train:>7.1} tok/s"
    );
    [prefill, decode, train]
}

fn main() {
    let preset = std::env::args().skip_while(|a| a != "--preset").nth(1).unwrap_or_else(|| "350m".into());
    let cfg = match preset.as_str() {
        "tiny" => Lfm2Config::from_hf_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny/config.json"),
        )
        .unwrap(),
        _ => Lfm2Config::lfm2_350m(),
    };
    println!("preset {preset}: {}", cfg.summary());
    let flex = measure("flex", &cfg, Device::flex());
    #[cfg(feature = "ndarray")]
    {
        #[allow(deprecated)]
        let nd = measure("ndarray", &cfg, Device::ndarray());
        println!(
            "ndarray/flex ratios: prefill {:.2}x, decode {:.2}x, train {:.2}x",
            nd[0] / flex[0],
            nd[1] / flex[1],
            nd[2] / flex[2]
        );
    }
    #[cfg(not(feature = "ndarray"))]
    let _ = flex;
}
