//! Batched generation: prompts of different lengths, left-padded into one batch, give the
//! same tokens (and nearly the same logits) as each prompt generated alone.

mod common;

use common::*;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::hf::load_dir;

#[test]
fn batched_ragged_generation_equals_one_prompt_at_a_time() {
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let (shape, ids) = Reference::open(&dir).i64("input_ids");
    let row = |r: usize, n: usize| ids[r * shape[1]..r * shape[1] + n].iter().map(|&x| x as u32).collect::<Vec<_>>();
    // Lengths 17, 9, 2, 1 and 13: padding of 0, 8, 15, 16 and 4 tokens.
    let prompts = vec![row(0, 17), row(1, 9), row(0, 2), row(1, 1), row(1, 13)];
    for sampling in [
        SamplingConfig::greedy(),
        SamplingConfig { temperature: 0.8, top_k: 20, top_p: 0.9, repetition_penalty: 1.1, seed: 11 },
    ] {
        let opts =
            GenerateOptions { max_new_tokens: 12, stop_tokens: vec![], sampling: sampling.clone(), keep_logits: true };
        let batched = generate(&model, &cfg, &prompts, &opts, &device, |_, _| {}).unwrap();
        for (r, p) in prompts.iter().enumerate() {
            // Row r of a batch draws with seed + r; alone, the same stream is seed + r at row 0.
            let solo_opts = GenerateOptions {
                sampling: SamplingConfig { seed: sampling.seed + r as u64, ..sampling.clone() },
                ..opts.clone()
            };
            let alone = generate(&model, &cfg, std::slice::from_ref(p), &solo_opts, &device, |_, _| {}).unwrap();
            assert_eq!(batched.tokens[r], alone.tokens[0], "prompt {r} (len {}) with {sampling:?}", p.len());
            let a: Vec<f32> = batched.logits.as_ref().unwrap()[r].concat();
            let b: Vec<f32> = alone.logits.as_ref().unwrap()[0].concat();
            assert_close(&format!("prompt {r} (len {}) batched vs alone logits", p.len()), &a, &b, 1e-4);
        }
    }
}

#[test]
fn stop_token_ends_a_row_and_is_kept() {
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let r = Reference::open(&dir);
    let (shape, ids) = r.i64("input_ids");
    let (_, gen) = r.i64("gen_ids");
    let prompts: Vec<Vec<u32>> = ids.chunks(shape[1]).map(|c| c.iter().map(|&x| x as u32).collect()).collect();
    // Row 0's greedy continuation is 381 327 277 ...: stopping on 327 ends it after 2 tokens;
    // row 1 never emits it and runs to the limit.
    let stop = gen[1] as u32;
    let opts = GenerateOptions {
        max_new_tokens: 8,
        stop_tokens: vec![stop],
        sampling: SamplingConfig::greedy(),
        keep_logits: false,
    };
    let mut streamed = vec![Vec::new(); 2];
    let out = generate(&model, &cfg, &prompts, &opts, &device, |row, tok| streamed[row].push(tok)).unwrap();
    assert_eq!(out.tokens[0], vec![gen[0] as u32, stop]);
    assert_eq!(out.tokens[1], gen[8..16].iter().map(|&x| x as u32).collect::<Vec<_>>());
    assert_eq!(streamed, out.tokens, "streaming callback sees every token in order");
}
