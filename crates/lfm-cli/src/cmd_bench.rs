//! `lfm bench`: prefill, decode and training-step throughput of the 350M shape (random weights)
//! or a given model, for f32 and the Q8_0 / Q4_0 packed paths, with peak RSS per benchmark and,
//! for decode, the fraction of the memory-bandwidth limit reached (weight bytes read per token ÷
//! bandwidth measured in the same run).
//!
//! Every number is measured here, in this process: best of `--repeats` runs. Peak RSS is the
//! Linux `VmHWM` after resetting it (`/proc/self/clear_refs`) before each benchmark.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::init::RandomInit;
use lfm_model::{Cache, Lfm2Config, Lfm2Model};
use lfm_quant::export::Mix;
use serde_json::json;

use crate::progress;

#[derive(Args)]
pub struct BenchArgs {
    /// A checkpoint directory or GGUF file; default: the 350M shape with random weights.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Shape for random weights: lfm2-350m or tiny (a quick check).
    #[arg(long, default_value = "lfm2-350m")]
    preset: String,
    /// Only these benchmarks (comma-separated names, e.g. decode_b1_q4_0,prefill_512_f32).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Worker threads (kernels and the CPU backend); default: all cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Runs per benchmark; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also write the results as a JSON array.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Returns the heap the allocator kept after a model was dropped to the system, so that the
/// next format's peak RSS is closer to its own (glibc keeps freed arenas otherwise).
fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim has no preconditions; it only returns free heap pages.
        unsafe { malloc_trim(0) };
    }
}

/// Starts a new peak-RSS window, after handing freed heap back (lfm keeps freed blocks on its
/// heap for speed, see `tune_allocator` in main.rs; what an earlier benchmark freed is not part
/// of the next one's footprint).
fn reset_peak_rss() {
    release_freed_heap();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Memory read bandwidth (bytes/s): the best of a few summing passes over 512 MiB on all threads.
fn read_bandwidth() -> f64 {
    let n: usize = 64 << 20; // u64s = 512 MiB
    let buf: Vec<u64> = (0..n as u64).collect();
    let threads = lfm_model::host::threads();
    // Eight independent integer lanes in a plain loop: it vectorizes, so the pass is limited by
    // memory, not by the adds.
    fn lanes(c: &[u64]) -> u64 {
        let mut acc = [0u64; 8];
        for x in c.chunks_exact(8) {
            for k in 0..8 {
                acc[k] = acc[k].wrapping_add(x[k]);
            }
        }
        acc.iter().fold(0, |a, b| a.wrapping_add(*b))
    }
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let hs: Vec<_> = buf.chunks(n.div_ceil(threads)).map(|c| s.spawn(move || lanes(c))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).fold(0u64, |a, b| a.wrapping_add(b))
        });
        std::hint::black_box(total);
        best = best.max((n * 8) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

fn random_model(preset: &str, device: &Device) -> Result<(Lfm2Config, Lfm2Model)> {
    let cfg = Lfm2Config::preset(preset, 4096).map_err(|e| anyhow!("--preset: {e}"))?;
    let mut init = RandomInit::new(&cfg, 0);
    // Inference on the CPU holds f32 weights as host matrices, as `lfm generate` does
    // (lfm_model::infer); on the autodiff device (training) this keeps burn parameters.
    let m = Lfm2Model::build(&cfg, device, &mut init).map_err(|e| anyhow!("{e}"))?.into_inference();
    Ok((cfg, m))
}

fn best_of(repeats: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        best = best.min(f()?);
    }
    Ok(best)
}

pub fn run(a: &BenchArgs, device: &Device) -> Result<()> {
    if let Some(t) = a.threads {
        // Read by lfm-quant's kernels; the CPU backend's pool reads RAYON_NUM_THREADS at start-up.
        std::env::set_var("LFM_THREADS", t.to_string());
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    let want = |name: &str| a.only.is_empty() || a.only.iter().any(|o| o == name);
    // A GGUF model is benchmarked in its own format only (named after its FFN weights' type,
    // weight bytes = its tensor data).
    let own: Option<(String, f64)> = match &a.model {
        Some(p) if lfm_quant::load::is_gguf(p) => {
            let g = lfm_quant::gguf::GgufFile::open(p)?;
            let fmt = g
                .tensors
                .iter()
                .find(|t| t.name.ends_with("ffn_up.weight"))
                .map(|t| t.ty.name().to_lowercase())
                .unwrap_or_else(|| "gguf".into());
            Some((fmt, g.tensors.iter().map(|t| t.nbytes).sum::<usize>() as f64))
        }
        _ => None,
    };
    let formats: Vec<&str> = match &own {
        Some((fmt, _)) => vec![fmt.as_str()],
        None => vec!["f32", "q8_0", "q4_0"],
    };
    check_only(&a.only, &formats)?;
    let sp = progress::spinner("measuring memory bandwidth");
    let bw = read_bandwidth();
    sp.finish_and_clear();
    println!("memory read bandwidth {:.1} GB/s, {} threads", bw / 1e9, lfm_model::host::threads());

    let sp = progress::spinner("building the model and its packed exports");
    let (cfg, base) = match &a.model {
        Some(p) => progress::loading(p, |p| lfm_quant::load::load_for_inference(p, device))?,
        None => random_model(&a.preset, device)?,
    };
    let inference = |fmt: &str| own.is_none() && INFERENCE_ROWS.iter().any(|p| want(&format!("{p}{fmt}")));
    // Packed formats go through a GGUF file, as a user would run them. They are written first,
    // so that the f32 model is gone (and out of the peak RSS) when they run.
    let tmp = tempfile::tempdir()?;
    let mut packed = Vec::new();
    // With a GGUF file only its inference rows run unless training rows are named.
    let want_train = |name: &str| if own.is_some() { a.only.iter().any(|o| o == name) } else { want(name) };
    let qlora = want_train("train_qlora_q4_0_1x512");
    if qlora && own.is_some() {
        bail!(
            "train_qlora_q4_0_1x512 exports its base to Q4_0: give a checkpoint directory or --preset, not a GGUF file"
        );
    }
    for (name, mix) in [("q8_0", Mix::Q8_0), ("q4_0", Mix::Q4_0)] {
        if inference(name) || (name == "q4_0" && qlora) {
            let path = tmp.path().join(format!("{name}.gguf"));
            let (w, summary) = lfm_quant::export::build(&base, &cfg, None, "bench", mix, |_, _| {})?;
            w.write(&path)?;
            packed.push((name, path, summary.weight_bytes as f64));
        }
    }
    sp.finish_and_clear();

    let mut results = Vec::new();
    let mut report = |name: String, tokens_per_s: f64, extra: serde_json::Value| {
        let rss = progress::peak_rss_bytes().unwrap_or(0);
        let mut o = json!({"name": name, "tokens_per_s": tokens_per_s, "peak_rss_bytes": rss});
        o.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let bwf = o
            .get("bandwidth_fraction")
            .and_then(|v| v.as_f64())
            .map(|f| format!("  {:.0}% of bandwidth", 100.0 * f))
            .unwrap_or_default();
        let step = match (o.get("batch").and_then(|v| v.as_u64()), o.get("ms_per_step").and_then(|v| v.as_f64())) {
            (Some(b), Some(ms)) if b > 1 => format!("  {ms:.1} ms/step per sequence"),
            _ => String::new(),
        };
        println!(
            "{name:<18} {tokens_per_s:>9.1} tok/s  peak RSS {:>7.1} MiB{bwf}{step}",
            rss as f64 / (1 << 20) as f64
        );
        results.push(o);
    };
    let vocab = cfg.vocab_size;
    let random_ids = |n: usize| (0..n).map(|i| (i * 7919 % vocab) as i64).collect::<Vec<_>>();
    let ids =
        |b: usize, t: usize, d: &Device| Tensor::<2, Int>::from_data(TensorData::new(random_ids(b * t), [b, t]), d);
    let mut bench = |fmt: &str, model: &Lfm2Model, weight_bytes: f64| -> Result<()> {
        let name = format!("prefill_512_{fmt}");
        if want(&name) {
            reset_peak_rss();
            let secs = best_of(a.repeats, || {
                let mut cache = Cache::new(&cfg, 1);
                let t = Instant::now();
                let h = model.forward_hidden(ids(1, 512, device), Some(&mut cache), false).last_hidden;
                let _ = model.head(h.narrow(1, 511, 1)).into_data();
                Ok(t.elapsed().as_secs_f64())
            })?;
            report(name, 512.0 / secs, json!({}));
        }
        for b in DECODE_BATCHES {
            let name = format!("decode_b{b}_{fmt}");
            let named = a.only.contains(&name);
            if !want(&name) || (b >= 256 && lfm_model::device::is_cpu(device) && !named) {
                continue;
            }
            reset_peak_rss();
            let prompts: Vec<Vec<u32>> = (0..b).map(|r| vec![1, 100 + r as u32]).collect();
            let opts = GenerateOptions {
                max_new_tokens: 128,
                stop_tokens: vec![],
                sampling: SamplingConfig::greedy(),
                keep_logits: false,
            };
            let secs = best_of(a.repeats, || {
                let t = Instant::now();
                generate(model, &cfg, &prompts, &opts, device, |_, _| {})?;
                Ok(t.elapsed().as_secs_f64())
            })?;
            let tps = (b * 128) as f64 / secs;
            // Each decode step reads every weight once for the whole batch.
            let frac = (tps / b as f64) * weight_bytes / bw;
            report(
                name,
                tps,
                json!({
                    "bandwidth_fraction": frac,
                    "weight_bytes": weight_bytes,
                    "batch": b,
                    // What each sequence sees: one token per step.
                    "ms_per_step": 1e3 * secs / 128.0,
                    "per_sequence_tokens_per_s": tps / b as f64,
                }),
            );
        }
        Ok(())
    };
    if let Some((fmt, bytes)) = &own {
        bench(fmt, &base, *bytes)?;
    } else if inference("f32") {
        bench("f32", &base, (cfg.num_params() * 4) as f64)?;
    }
    drop(base);
    for (fmt, path, bytes) in &packed {
        let l = lfm_quant::import::load_gguf(path, device)?;
        bench(fmt, &l.model, *bytes)?;
    }

    // Training: full fine-tuning; LoRA (r = 16, alpha 32, the default targets) on the same
    // base; QLoRA, the same adapter on the base's Q4_0 export held packed.
    // bf16 rows report their speed-up over the f32 row of the same shape in this run.
    let mut f32_rates: Vec<((usize, usize), f64)> = Vec::new();
    for (name, b, t, kind) in TRAIN_ROWS {
        if !want_train(name) {
            continue;
        }
        let _autocast = (kind == Train::Bf16).then(|| {
            if !lfm_model::bf16::native() {
                println!("  {name}: this CPU has no AVX512-BF16, the bf16 products are emulated");
            }
            lfm_model::fused::autocast(lfm_model::fused::MatmulPrecision::Bf16)
        });
        reset_peak_rss();
        let ad = device.clone().autodiff();
        // Trainable parameters are created on the autodiff device, as `lfm train` does.
        let base = match (kind, &a.model) {
            (Train::Qlora, _) => {
                let (_, path, _) = packed.iter().find(|p| p.0 == "q4_0").expect("the Q4_0 export is written for QLoRA");
                lfm_quant::import::load_gguf(path, &ad)?.model
            }
            (_, Some(p)) if !lfm_quant::load::is_gguf(p) => lfm_model::hf::load_dir(p, &ad).map_err(|e| anyhow!("{e}"))?.1,
            (_, Some(p)) => bail!(
                "{}: a GGUF model cannot be trained in full; benchmark training with a checkpoint directory or --preset",
                p.display()
            ),
            (_, None) => random_model(&a.preset, &ad)?.1,
        };
        let model = match kind {
            Train::Full | Train::Bf16 => base,
            Train::Lora | Train::Qlora => {
                let spec = lfm_model::lora::LoraSpec { r: 16, alpha: 32.0, ..Default::default() };
                lfm_model::lora::attach(base, &spec, 0, &ad).map_err(|e| anyhow!("{e}"))?
            }
        };
        let trainable = model.trainable_params();
        let mut model = Some(model);
        let mut opt = lfm_train::optim::AdamW::new(toml_optim());
        // `lfm train`'s own step (forward, backward, gradients, AdamW), timed by phase; the
        // fastest step counts.
        let mut best: Option<lfm_train::lm::StepTimes> = None;
        let devices = [ad.clone()];
        for _ in 0..a.repeats.max(1) {
            let micro = lfm_train::lm::Micro::lm(random_ids(b * t), b, t);
            let m = model.take().expect("model");
            let (m, out) = lfm_train::lm::train_step(m, &mut opt, &devices, &[micro], 1e-5, 0.0)?;
            model = Some(m);
            if best.is_none_or(|p| out.times.total() < p.total()) {
                best = Some(out.times);
            }
        }
        drop(model);
        let p = best.expect("at least one step");
        let phases = [p.forward, p.backward, p.gradients, p.optimizer];
        let secs = p.total();
        println!(
            "  {name}: forward {:.2} s, backward {:.2} s, gradients {:.2} s, optimizer {:.2} s; {:.2}M trainable parameters",
            phases[0],
            phases[1],
            phases[2],
            phases[3],
            trainable as f64 / 1e6
        );
        let rate = (b * t) as f64 / secs;
        let mut extra = json!({"forward_s": phases[0], "backward_s": phases[1], "gradients_s": phases[2], "optimizer_s": phases[3], "trainable_params": trainable});
        match kind {
            Train::Full => f32_rates.push(((b, t), rate)),
            Train::Bf16 => {
                if let Some((_, f)) = f32_rates.iter().find(|r| r.0 == (b, t)) {
                    println!("  {name}: {:.2}x the f32 row (train_{b}x{t}) of this run", rate / f);
                    extra["vs_f32"] = json!(rate / f);
                }
            }
            _ => {}
        }
        report(name.to_string(), rate, extra);
    }

    // GRPO: one step of the objective's two halves, sampling (G = 8 completions of each of 4
    // prompts, 64 new tokens, on the inference path) and the update (old log-probs, one
    // AdamW step on the DAPO loss), with the share of the step spent sampling.
    if want_train(GRPO_ROW) {
        reset_peak_rss();
        let ad = device.clone().autodiff();
        let model = match &a.model {
            Some(p) if !lfm_quant::load::is_gguf(p) => lfm_model::hf::load_dir(p, &ad).map_err(|e| anyhow!("{e}"))?.1,
            Some(p) => bail!("{}: {GRPO_ROW} trains the model: give a checkpoint directory or --preset", p.display()),
            None => random_model(&a.preset, &ad)?.1,
        };
        let g: lfm_train::grpo::GrpoSection = serde_json::from_value(json!({
            "group_size": 8, "prompts_per_step": 4, "max_new_tokens": 64, "temperature": 1.0,
        }))
        .expect("GRPO settings");
        // Four 128-token prompts, each repeated G times; no stop token, so every completion
        // is 64 tokens long and the work is the same on every run.
        let prompts: Vec<Vec<u32>> = (0..4)
            .flat_map(|p| {
                let ids: Vec<u32> = random_ids(128).iter().map(|&t| ((t as usize + 31 * p) % vocab) as u32).collect();
                std::iter::repeat_n(ids, 8)
            })
            .collect();
        let mut learner =
            lfm_train::engine::Learner::new(lfm_train::optim::AdamW::new(toml_optim()), vec![ad.clone()], 1.0);
        learner.lr = 1e-6;
        let mut model = Some(model);
        let mut best: Option<(f64, f64, usize)> = None;
        for rep in 0..a.repeats.max(1) {
            let m = model.take().expect("model");
            let t0 = Instant::now();
            let policy = lfm_train::grpo::sampling_policy(&m)?;
            let opts = lfm_train::grpo::sampling_options(&g, &[], rep as u64);
            let completions = generate(&policy, &cfg, &prompts, &opts, device, |_, _| {})?.tokens;
            let sample_s = t0.elapsed().as_secs_f64();
            // A reward with spread inside each group (the share of even token ids), so that the
            // update has advantages and gradients to work with.
            let rewards: Vec<f64> = completions
                .iter()
                .map(|c| c.iter().filter(|&&t| t % 2 == 0).count() as f64 / c.len().max(1) as f64)
                .collect();
            let (adv, _) = lfm_train::grpo::advantages(&rewards, 8, g.scale_rewards, g.adv_eps);
            let episodes: Vec<_> = prompts
                .iter()
                .zip(&completions)
                .map(|(p, c)| lfm_train::grpo::Episode::completion(p.clone(), c, false))
                .collect();
            let settings = lfm_train::grpo::UpdateSettings { g: &g, micro_batch: 8, pad: cfg.pad_token_id, device };
            let keep = vec![true; episodes.len()];
            let t1 = Instant::now();
            let (m, u) = lfm_train::grpo::update(m, &mut learner, &settings, &policy, None, &episodes, &adv, &keep)?;
            let learn_s = t1.elapsed().as_secs_f64();
            model = Some(m);
            if best.is_none_or(|b| sample_s + learn_s < b.0 + b.1) {
                best = Some((sample_s, learn_s, u.sampled_tokens));
            }
        }
        drop(model);
        let (sample_s, learn_s, sampled) = best.expect("one step");
        let total = sample_s + learn_s;
        println!(
            "  {GRPO_ROW}: sampling {sample_s:.2} s ({:.0}%, {:.1} tok/s), update {learn_s:.2} s",
            100.0 * sample_s / total,
            sampled as f64 / sample_s
        );
        report(
            GRPO_ROW.to_string(),
            sampled as f64 / total,
            json!({"sampling_s": sample_s, "update_s": learn_s, "sampling_share": sample_s / total,
                   "sampling_tokens_per_s": sampled as f64 / sample_s}),
        );
    }

    if let Some(p) = &a.json {
        lfm_model::io::write_atomic(p, serde_json::to_string_pretty(&results)?.as_bytes())?;
        println!("-> {}", p.display());
    }
    Ok(())
}

/// The GRPO step row.
const GRPO_ROW: &str = "grpo_step_350m";

/// Batch sizes of the decode rows (128 new tokens per sequence; b ≥ 32 is what RL rollouts
/// and servers run).
/// On the CPU, b = 256 runs only when named in `--only`.
const DECODE_BATCHES: [usize; 5] = [1, 8, 32, 64, 256];

/// Inference row prefixes, completed with the format name.
const INFERENCE_ROWS: [&str; 6] =
    ["prefill_512_", "decode_b1_", "decode_b8_", "decode_b32_", "decode_b64_", "decode_b256_"];

/// How a training row trains.
#[derive(Clone, Copy, PartialEq)]
enum Train {
    Full,
    /// Full fine-tuning with bf16 products (`precision = "bf16"` on the CPU).
    Bf16,
    Lora,
    Qlora,
}

/// Training rows: name, batch, sequence length, kind.
const TRAIN_ROWS: [(&str, usize, usize, Train); 6] = [
    ("train_1x512", 1, 512, Train::Full),
    ("train_4x256", 4, 256, Train::Full),
    ("train_bf16_1x512", 1, 512, Train::Bf16),
    ("train_bf16_4x256", 4, 256, Train::Bf16),
    ("train_lora_1x512", 1, 512, Train::Lora),
    ("train_qlora_q4_0_1x512", 1, 512, Train::Qlora),
];

fn toml_optim() -> lfm_train::config::OptimSection {
    serde_json::from_value(json!({"lr": 1e-5})).expect("optimizer defaults")
}

/// Every `--only` name must be a benchmark this run can do: a typo would otherwise run
/// nothing and exit 0.
fn check_only(only: &[String], formats: &[&str]) -> Result<()> {
    let mut names: Vec<String> = TRAIN_ROWS.iter().map(|r| r.0.to_string()).collect();
    names.push(GRPO_ROW.to_string());
    for f in formats {
        for p in INFERENCE_ROWS {
            names.push(format!("{p}{f}"));
        }
    }
    if let Some(bad) = only.iter().find(|o| !names.contains(o)) {
        bail!("--only {bad}: no such benchmark here (one of {})", names.join(", "));
    }
    Ok(())
}
