//! Parity with `transformers` on the fixtures in `tests/fixtures/` (f32, CPU):
//! logits, every layer output and the final hidden state (1e-4 max-abs), the loss (1e-5),
//! gradients through autodiff (1e-4 relative), and the cached greedy continuation.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::hf::load_dir;
use lfm_model::Lfm2Model;

fn cpu() -> Device {
    test_device()
}

#[test]
fn forward_matches_transformers_on_every_fixture() {
    let fixtures = all_fixtures();
    assert!(!fixtures.is_empty());
    for dir in fixtures {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let device = cpu();
        let (cfg, model) = load_dir(&dir, &device).unwrap();
        let r = Reference::open(&dir);
        let ids = r.ids("input_ids", &device);

        let emb = host(model.embed_tokens(ids.clone()));
        assert_eq!(emb, r.f32("embeddings").1, "{name}: embeddings are a row copy");

        let out = model.forward_hidden(ids.clone(), None, true);
        for (i, layer) in out.layer_outputs.iter().enumerate() {
            let (_, want) = r.f32(&format!("layer_out.{i}"));
            assert_close(
                &format!("{name}: layer_out.{i} ({:?})", cfg.layer_types[i]),
                &host(layer.clone()),
                &want,
                1e-4,
            );
        }
        assert_eq!(out.layer_outputs.len(), cfg.num_layers());
        let (_, want) = r.f32("last_hidden_state");
        assert_close(&format!("{name}: last_hidden_state"), &host(out.last_hidden.clone()), &want, 1e-4);
        let logits = model.head(out.last_hidden);
        let (shape, want) = r.f32("logits");
        assert_eq!(logits.dims().to_vec(), shape);
        assert_close(&format!("{name}: logits"), &host(logits.clone()), &want, 1e-4);

        let labels = r.ids("labels", &device);
        let loss = host(Lfm2Model::loss(logits, labels))[0];
        let want = r.f32("loss").1[0];
        println!("{name}: loss {loss} vs {want} (diff {:.2e}, tol 1e-5)", (loss - want).abs());
        assert!((loss - want).abs() <= 1e-5, "{name}: loss {loss} vs {want}");
    }
}

/// Both loss paths: `loss(forward(..))` and the training path `lm_loss` (vocabulary-major
/// logits), each against transformers' loss and gradients.
#[test]
fn gradients_match_transformers() {
    for (dir, training) in all_fixtures().into_iter().flat_map(|d| [(d.clone(), false), (d, true)]) {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let name = if training { format!("{name} (lm_loss)") } else { name };
        let device = cpu().autodiff();
        let (cfg, model) = load_dir(&dir, &device).unwrap();
        let r = Reference::open(&dir);
        let (ids, labels) = (r.ids("input_ids", &device), r.ids("labels", &device));
        let loss = if training { model.lm_loss(ids, labels) } else { Lfm2Model::loss(model.forward(ids), labels) };
        let (got, want) = (loss.clone().into_scalar::<f32>(), r.f32("loss").1[0]);
        assert!((got - want).abs() <= 1e-5, "{name}: loss {got} vs {want}");
        let grads = loss.backward();

        // Gradient of every parameter, in HF layout, keyed by HF name.
        let mut checked = 0;
        let hf_grads = hf_gradients(&model, &cfg, &grads);
        for (hf_name, g) in &hf_grads {
            let key = format!("grad_norm.{hf_name}");
            if r.has(&key) {
                let want = r.f32(&key).1[0] as f64;
                let got = g.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                let rel = (got - want).abs() / want.max(1e-12);
                assert!(rel <= 1e-4, "{name}: {key}: {got} vs {want} (rel {rel:e})");
                checked += 1;
            }
            let key = format!("grad.{hf_name}");
            if r.has(&key) {
                let (_, want) = r.f32(&key);
                let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs()));
                assert_close(&format!("{name}: {key}"), g, &want, 1e-4 * scale);
            }
        }
        let stored = r.names().iter().filter(|n| n.starts_with("grad_norm.")).count();
        println!("{name}: {checked} gradient norms within 1e-4 relative");
        assert_eq!(checked, stored, "{name}: every stored gradient norm is checked");
    }
}

/// Gradients of all parameters in HF layout (transposing Linear weights back).
fn hf_gradients(
    model: &Lfm2Model,
    cfg: &lfm_model::Lfm2Config,
    grads: &burn::tensor::Gradients,
) -> Vec<(String, Vec<f32>)> {
    use burn::module::Module;
    // Replace every parameter by its gradient (on a plain CPU device) and reuse the HF
    // export, which already knows each tensor's name and layout.
    struct GradMapper<'a> {
        grads: &'a burn::tensor::Gradients,
    }
    impl burn::module::ModuleMapper for GradMapper<'_> {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            let t = param.val();
            let g: Tensor<D> = t.grad(self.grads).expect("every parameter has a gradient");
            let g: Tensor<D> = Tensor::from_data(g.into_data(), &test_device());
            burn::module::Param::from_tensor(g)
        }
    }
    let grad_model = model.clone().map(&mut GradMapper { grads });
    grad_model.hf_tensors(cfg).into_iter().map(|(slot, _, v)| (slot.hf_name(), v)).collect()
}

#[test]
fn cached_greedy_generation_matches_transformers() {
    for dir in all_fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let device = cpu();
        let (cfg, model) = load_dir(&dir, &device).unwrap();
        let r = Reference::open(&dir);
        let (shape, ids) = r.i64("input_ids");
        let prompts: Vec<Vec<u32>> = ids.chunks(shape[1]).map(|c| c.iter().map(|&x| x as u32).collect()).collect();
        let (gshape, want_ids) = r.i64("gen_ids");
        let opts = GenerateOptions {
            max_new_tokens: gshape[1],
            stop_tokens: vec![],
            sampling: SamplingConfig::greedy(),
            keep_logits: true,
        };
        let out = generate(&model, &cfg, &prompts, &opts, &device, |_, _| {}).unwrap();
        let got_ids: Vec<i64> = out.tokens.iter().flatten().map(|&t| t as i64).collect();
        assert_eq!(got_ids, want_ids, "{name}: greedy continuation");
        let got_logits: Vec<f32> = out.logits.unwrap().into_iter().flatten().flatten().collect();
        assert_close(&format!("{name}: gen_logits (cached steps)"), &got_logits, &r.f32("gen_logits").1, 1e-4);
    }
}

#[test]
fn full_sequence_logits_equal_step_by_step_decode() {
    for dir in all_fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let device = cpu();
        let (cfg, model) = load_dir(&dir, &device).unwrap();
        let r = Reference::open(&dir);
        let (shape, full) = r.i64("full_ids");
        let (b, t) = (shape[0], shape[1]);
        let ids = Tensor::from_data(TensorData::new(full.clone(), [b, t]), &device);
        let want = host(model.forward(ids));
        let v = cfg.vocab_size;

        // One token at a time, and in uneven chunks (prefill 5, then 1, 3, then the rest).
        for chunks in [vec![1; t], vec![5, 1, 3, t - 9]] {
            let mut cache = lfm_model::Cache::new(&cfg, b);
            let mut got = vec![0.0f32; b * t * v];
            let mut start = 0;
            for len in &chunks {
                let chunk: Vec<i64> = (0..b).flat_map(|r| full[r * t + start..r * t + start + len].to_vec()).collect();
                let ids = Tensor::from_data(TensorData::new(chunk, [b, *len]), &device);
                let step = host(model.forward_cached(ids, &mut cache));
                for r in 0..b {
                    for i in 0..*len {
                        let dst = (r * t + start + i) * v;
                        let src = (r * len + i) * v;
                        got[dst..dst + v].copy_from_slice(&step[src..src + v]);
                    }
                }
                start += len;
            }
            assert_eq!(cache.seq_len(), t);
            assert_close(&format!("{name}: cached {:?} vs full", &chunks[..chunks.len().min(4)]), &got, &want, 1e-4);
        }
    }
}
