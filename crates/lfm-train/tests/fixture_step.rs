//! The trainer's first step against transformers (the parity fixture), AdamW against its
//! closed form, and a tiny model memorising one batch.

mod common;

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use common::fixture;
use lfm_model::device::parse_device;
use lfm_model::hf::{load_dir, SafetensorsSource};
use lfm_model::Lfm2Model;
use lfm_train::config::OptimSection;
use lfm_train::optim::{decays, grads_as_model, param_paths, AdamW, GradAccumulator};
use safetensors::SafeTensors;

fn optim(lr: f64, wd: f64) -> OptimSection {
    OptimSection {
        lr,
        min_lr_ratio: 0.1,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: wd,
        decay_norms_and_embeddings: false,
        grad_clip: 1.0,
    }
}

fn i64s(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<i64>) {
    let v = st.tensor(name).unwrap();
    assert_eq!(v.dtype(), safetensors::Dtype::I64);
    (v.shape().to_vec(), v.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
}

fn hf_map(model: &Lfm2Model, cfg: &lfm_model::Lfm2Config) -> BTreeMap<String, Vec<f32>> {
    model.hf_tensors(cfg).into_iter().map(|(slot, _, v)| (slot.hf_name(), v)).collect()
}

/// The fixture's batch of 2 rows, fed as two micro-batches of one row and accumulated with the
/// trainer's token weights, gives transformers' full-batch loss and gradients; one AdamW step
/// then moves every parameter exactly as the closed form of AdamW's first step says.
#[test]
fn first_step_matches_transformers_and_adamw_closed_form() {
    let dir = fixture("lfm2-tiny");
    let device = parse_device("cpu").unwrap().autodiff();
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let r = SafetensorsSource::open_files(&[dir.join("reference.safetensors")]).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (shape, ids) = i64s(&st, "input_ids");
    let (_, labels) = i64s(&st, "labels");
    let (b, t) = (shape[0], shape[1]);
    let targets = |row: usize| labels[row * t + 1..(row + 1) * t].iter().filter(|&&l| l != -100).count();
    let total: usize = (0..b).map(targets).sum();

    let mut acc = GradAccumulator::default();
    let mut loss_sum = 0.0f64;
    for row in 0..b {
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids[row * t..(row + 1) * t].to_vec(), [1, t]), &device);
        let y = Tensor::<2, Int>::from_data(TensorData::new(labels[row * t..(row + 1) * t].to_vec(), [1, t]), &device);
        let loss = model.lm_loss(x, y);
        let w = targets(row) as f32 / total as f32;
        loss_sum += loss.clone().into_scalar::<f32>() as f64 * targets(row) as f64;
        acc.add(&model, &loss.backward(), w).unwrap();
    }
    let loss = loss_sum / total as f64;
    let want = r.read("loss").unwrap().1[0] as f64;
    assert!((loss - want).abs() <= 1e-5, "loss {loss} vs transformers {want}");

    let grads = hf_map(&grads_as_model(&model, &acc).unwrap(), &cfg);
    let mut checked = 0;
    let mut sq = 0.0f64;
    for (name, g) in &grads {
        let norm = g.iter().map(|x| (*x as f64).powi(2)).sum::<f64>();
        sq += norm;
        let key = format!("grad_norm.{name}");
        if r.names().contains(&key.as_str()) {
            let want = r.read(&key).unwrap().1[0] as f64;
            let rel = (norm.sqrt() - want).abs() / want;
            assert!(rel <= 1e-4, "{key}: {} vs {want} (rel {rel:e})", norm.sqrt());
            checked += 1;
        }
    }
    assert_eq!(checked, r.names().iter().filter(|n| n.starts_with("grad_norm.")).count());
    // The global norm used for clipping is the norm over all parameters.
    assert!((acc.global_norm() - sq.sqrt()).abs() <= 1e-5 * sq.sqrt());

    // AdamW, step 1: m̂ = g, v̂ = g², so p' = p·(1 − lr·wd·[decayed]) − lr·g/(|g| + ε).
    let (lr, wd) = (1e-3, 0.1);
    let before = hf_map(&model.clone().valid(), &cfg);
    let decayed: BTreeMap<String, bool> = {
        // Module path → decay flag, carried over to HF names by mapping a marker model.
        let paths = param_paths(&model);
        let o = optim(lr, wd);
        paths.into_iter().map(|(p, rank)| (p.clone(), decays(&p, rank, &o))).collect()
    };
    assert!(decayed.iter().any(|(_, &d)| d) && decayed.iter().any(|(_, &d)| !d));
    let mut opt = AdamW::new(optim(lr, wd));
    let paths = param_paths(&model);
    let after_model = opt.step(model, &mut acc, lr).unwrap();
    let after = hf_map(&after_model.valid(), &cfg);
    // Which HF tensors are decayed: 2-D+ weights except the embedding (tied head included).
    for (name, p0) in &before {
        let g = &grads[name];
        let p1 = &after[name];
        let decay = !name.contains("norm") && !name.contains("embed_tokens") && !name.ends_with("bias");
        for i in 0..p0.len() {
            let (p, gi) = (p0[i] as f64, g[i] as f64);
            let want = p * if decay { 1.0 - lr * wd } else { 1.0 } - lr * gi / (gi.abs() + 1e-8);
            assert!((p1[i] as f64 - want).abs() <= 1e-6, "{name}[{i}]: {} vs {want}", p1[i]);
        }
    }
    assert_eq!(opt.step, 1);
    assert_eq!(opt.moments.len(), paths.len());
}

/// A tiny model with the trainer's optimizer memorises one fixed batch.
#[test]
fn tiny_model_overfits_one_batch() {
    let device = parse_device("cpu").unwrap().autodiff();
    let mut cfg = lfm_model::Lfm2Config::tiny(256);
    cfg.hidden_size = 64;
    cfg.head_dim = 16;
    cfg.ff_dim = 192;
    cfg.intermediate_size = 192;
    let mut init = lfm_model::init::RandomInit::new(&cfg, 3);
    let mut model = Lfm2Model::build(&cfg, &device, &mut init).unwrap();
    // Two rows of 33 pseudo-random ids (fixed LCG).
    let mut x = 12345u64;
    let ids: Vec<i64> = (0..66)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (14 + (x >> 33) % 240) as i64
        })
        .collect();
    let batch = || Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [2, 33]), &device);
    let mut opt = AdamW::new(optim(3e-3, 0.0));
    let mut first = 0.0;
    let mut last = 0.0;
    for step in 0..150 {
        let loss = Lfm2Model::loss(model.forward(batch()), batch());
        last = loss.clone().into_scalar::<f32>() as f64;
        if step == 0 {
            first = last;
        }
        let mut acc = GradAccumulator::default();
        acc.add(&model, &loss.backward(), 1.0).unwrap();
        model = opt.step(model, &mut acc, 3e-3).unwrap();
    }
    println!("overfit: loss {first:.3} -> {last:.4}");
    assert!((first - (256f64).ln()).abs() < 0.3, "starts near ln V: {first}");
    assert!(last < 0.05, "a 64-token batch is memorised: final loss {last}");
}
