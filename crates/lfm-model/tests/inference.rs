//! The inference path (`lfm_model::infer`): f32 weights held as host matrices must give
//! transformers' logits and greedy continuation, whether the checkpoint was loaded for
//! inference or a dense (training) model was converted with `into_inference`.

mod common;

use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::{hf, infer, Lfm2Model};

fn on_host(m: &Lfm2Model) -> bool {
    m.embed_host.is_some() && m.layers.iter().all(|l| l.feed_forward.w1.host.is_some())
}

#[test]
fn host_f32_models_match_transformers_for_every_fixture() {
    let device = test_device();
    for dir in all_fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let r = Reference::open(&dir);
        let (shape, ids) = r.i64("input_ids");
        let (_, want) = r.f32("logits");
        let (_, gen_want) = r.i64("gen_ids");
        let (cfg, dense) = hf::load_dir(&dir, &device).unwrap();
        let (_, loaded) = infer::load_dir(&dir, &device).unwrap();
        let converted = dense.clone().into_inference();
        // On the CPU both are on the host path; elsewhere (LFM_TEST_DEVICE=wgpu) they stay dense.
        let expect_host = infer::host_f32(&device);
        assert!(!on_host(&dense));
        assert_eq!((on_host(&loaded), on_host(&converted)), (expect_host, expect_host), "{name}");
        let dense_logits = host(dense.forward(input(&ids, &shape, &device)));
        for (how, m) in [("loaded for inference", &loaded), ("converted", &converted)] {
            let got = host(m.forward(input(&ids, &shape, &device)));
            assert_close(&format!("{name} {how}: logits vs transformers"), &got, &want, 1e-4);
            assert_close(&format!("{name} {how}: logits vs the dense model"), &got, &dense_logits, 1e-5);
            let prompts: Vec<Vec<u32>> =
                ids.chunks(shape[1]).map(|row| row.iter().map(|&x| x as u32).collect()).collect();
            let n = gen_want.len() / shape[0];
            let opts = GenerateOptions {
                max_new_tokens: n,
                stop_tokens: vec![],
                sampling: SamplingConfig::greedy(),
                keep_logits: false,
            };
            let g = generate(m, &cfg, &prompts, &opts, &device, |_, _| {}).unwrap();
            let got_ids: Vec<i64> = g.tokens.iter().flatten().map(|&t| t as i64).collect();
            assert_eq!(got_ids, gen_want, "{name} {how}: cached greedy ids");
        }
    }
}

fn input(ids: &[i64], shape: &[usize], device: &burn::tensor::Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [shape[0], shape[1]]), device)
}
