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
        SamplingConfig { temperature: 0.8, top_k: 20, top_p: 0.9, repetition_penalty: 1.1, seed: 11, min_p: 0.0 },
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

/// Ids of a long prompt: the fixture's two rows repeated (any in-vocabulary ids would do).
fn long_ids(dir: &std::path::Path, n: usize) -> Vec<u32> {
    let (_, ids) = Reference::open(dir).i64("input_ids");
    ids.iter().cycle().take(n).map(|&x| x as u32).collect()
}

#[test]
fn long_inputs_run_in_chunks_with_the_same_logits_as_one_pass() {
    use burn::tensor::{Int, Tensor, TensorData};
    use lfm_model::model::PREFILL_CHUNK;
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    for (what, (cfg, model)) in
        [("dense", load_dir(&dir, &device).unwrap()), ("host f32", lfm_model::infer::load_dir(&dir, &device).unwrap())]
    {
        // Three chunks, the last one partial.
        let n = 2 * PREFILL_CHUNK + 77;
        let ids = long_ids(&dir, n);
        let x =
            || Tensor::<2, Int>::from_data(TensorData::new(ids.iter().map(|&t| t as i64).collect(), [1, n]), &device);
        let whole = model.forward(x()).into_data().try_to_vec::<f32>().unwrap();
        let chunked = model.forward_chunked(x()).into_data().try_to_vec::<f32>().unwrap();
        assert_close(&format!("{what}: chunked vs one-pass logits over {n} positions"), &chunked, &whole, 1e-4);
        // Generation's prefill goes through the same chunks: its first logits are the last
        // position's logits of the one-pass forward.
        let opts = GenerateOptions {
            max_new_tokens: 2,
            stop_tokens: vec![],
            sampling: SamplingConfig::greedy(),
            keep_logits: true,
        };
        let g = generate(&model, &cfg, std::slice::from_ref(&ids), &opts, &device, |_, _| {}).unwrap();
        let v = cfg.vocab_size;
        assert_close(&format!("{what}: first generated logits"), &g.logits.unwrap()[0][0], &whole[(n - 1) * v..], 1e-4);
    }
}

#[test]
fn prompts_longer_than_the_context_are_refused_and_generation_stops_at_its_end() {
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    let (cfg, mut model) = load_dir(&dir, &device).unwrap();
    model.max_positions = 20;
    let opts = GenerateOptions {
        max_new_tokens: 50,
        stop_tokens: vec![],
        sampling: SamplingConfig::greedy(),
        keep_logits: false,
    };
    let err = generate(&model, &cfg, &[long_ids(&dir, 5), long_ids(&dir, 21)], &opts, &device, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("prompt 1 has 21 positions") && err.contains("max_position_embeddings 20"), "{err}");
    // A 17-token prompt has room for 3 new tokens, however many were asked for.
    let g = generate(&model, &cfg, &[long_ids(&dir, 17)], &opts, &device, |_, _| {}).unwrap();
    assert_eq!(g.tokens[0].len(), 3);
}

#[test]
fn overflowing_activations_stop_generation_logits_and_the_probe() {
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    let (cfg, mut model) = load_dir(&dir, &device).unwrap();
    // Finite weights whose product overflows f32: the final norm's scale times ~1 is fine,
    // its product with the head is not.
    model.final_norm.gamma = model.final_norm.gamma.clone().map(|g| g.mul_scalar(3e38));
    let opts = GenerateOptions {
        max_new_tokens: 4,
        stop_tokens: vec![],
        sampling: SamplingConfig::greedy(),
        keep_logits: false,
    };
    let mut streamed = 0;
    let err =
        generate(&model, &cfg, &[long_ids(&dir, 6)], &opts, &device, |_, _| streamed += 1).unwrap_err().to_string();
    assert!(err.contains("logits of row 0 at generation step 0") && err.contains("NaN or infinite"), "{err}");
    assert_eq!(streamed, 0, "no token may come out of non-finite logits");
    let err = model.probe_finite(&cfg, &device).unwrap_err().to_string();
    assert!(err.contains("probe") && err.contains("NaN or infinite"), "{err}");
    let ids: Vec<i64> = long_ids(&dir, 6).iter().map(|&t| t as i64).collect();
    let Err(err) = lfm_model::reference::run(&model, &cfg, ids, [1, 6], None, &device, || {}) else {
        panic!("reference::run returned logits for an overflowing model")
    };
    let err = err.to_string();
    assert!(err.starts_with("logits: ") && err.contains("NaN or infinite"), "{err}");
    // The unmodified model passes the same probe.
    let (_, clean) = load_dir(&dir, &device).unwrap();
    clean.probe_finite(&cfg, &device).unwrap();
}

#[test]
fn repeated_prompts_and_early_stops_give_the_tokens_of_each_prompt_alone() {
    // Rows 0, 1 and 3 share a prompt (one prefill, its cache row repeated); sampled rows stop
    // on common tokens at different steps, so finished rows are dropped from the cache on the
    // way. Each row must still produce exactly what it produces alone.
    let device = test_device();
    let dir = fixture("lfm2-tiny");
    let (cfg, model) = load_dir(&dir, &device).unwrap();
    let (shape, ids) = Reference::open(&dir).i64("input_ids");
    let row = |r: usize, n: usize| ids[r * shape[1]..r * shape[1] + n].iter().map(|&x| x as u32).collect::<Vec<_>>();
    let prompts = vec![row(0, 11), row(0, 11), row(1, 6), row(0, 11), row(1, 13), row(0, 11)];
    let sampling = SamplingConfig { temperature: 1.5, seed: 5, ..SamplingConfig::greedy() };
    let free =
        GenerateOptions { max_new_tokens: 16, stop_tokens: vec![], sampling: sampling.clone(), keep_logits: false };
    // Stop tokens: tokens the free-running rows emit early, so rows end at different steps.
    let free_out = generate(&model, &cfg, &prompts, &free, &device, |_, _| {}).unwrap().tokens;
    let stop: Vec<u32> = free_out.iter().map(|t| t[2 + t.len() % 5]).take(3).collect();
    let opts = GenerateOptions { stop_tokens: stop.clone(), keep_logits: true, ..free };
    let batched = generate(&model, &cfg, &prompts, &opts, &device, |_, _| {}).unwrap();
    let lens: Vec<usize> = batched.tokens.iter().map(Vec::len).collect();
    assert!(
        lens.iter().any(|&n| n < 16) && lens.iter().min() != lens.iter().max(),
        "rows stop at different steps: {lens:?}"
    );
    for (r, p) in prompts.iter().enumerate() {
        let solo = GenerateOptions {
            sampling: SamplingConfig { seed: sampling.seed + r as u64, ..sampling.clone() },
            ..opts.clone()
        };
        let alone = generate(&model, &cfg, std::slice::from_ref(p), &solo, &device, |_, _| {}).unwrap();
        assert_eq!(batched.tokens[r], alone.tokens[0], "row {r}");
        let a: Vec<f32> = batched.logits.as_ref().unwrap()[r].concat();
        let b: Vec<f32> = alone.logits.as_ref().unwrap()[0].concat();
        assert_close(&format!("row {r} batched vs alone logits"), &a, &b, 1e-4);
    }
}

#[test]
fn prefixed_forward_equals_the_forward_of_the_whole_rows_in_values_and_gradients() {
    // Prefixes of 9 and 4 tokens; rows 0, 1, 3 continue the first, row 2 the second, with
    // continuations of 5, 3, 1 and 4 tokens (right-padded with token 0).
    use burn::tensor::{Int, Tensor, TensorData};
    let device = test_device().autodiff();
    let dir = fixture("lfm2-tiny");
    let (_, model) = load_dir(&dir, &device).unwrap();
    let (shape, ids) = Reference::open(&dir).i64("input_ids");
    let tok = |r: usize, a: usize, n: usize| {
        ids[r * shape[1] + a..r * shape[1] + a + n].iter().map(|&x| x as u32).collect::<Vec<u32>>()
    };
    let prefixes = vec![tok(0, 0, 9), tok(1, 0, 4)];
    let of = [0usize, 0, 1, 0];
    let rests = [tok(0, 9, 5), tok(1, 5, 3), tok(1, 4, 1), tok(0, 3, 4)];
    let w = 5;
    let flat: Vec<i64> =
        rests.iter().flat_map(|r| r.iter().map(|&t| t as i64).chain(std::iter::repeat_n(0, w - r.len()))).collect();
    let rest = Tensor::<2, Int>::from_data(TensorData::new(flat, [4, w]), &device);
    let logits = model.forward_prefixed(&prefixes, &of, rest);
    let v = logits.dims()[2];
    // Loss: a fixed weighting of every valid position's logits, so gradients reach all of them.
    let mut got_loss = None;
    let mut want_loss = None;
    for (r, rest_r) in rests.iter().enumerate() {
        let whole: Vec<u32> = prefixes[of[r]].iter().chain(rest_r).copied().collect();
        let n = whole.len();
        let ids_t = Tensor::<2, Int>::from_data(
            TensorData::new(whole.iter().map(|&t| t as i64).collect::<Vec<_>>(), [1, n]),
            &device,
        );
        let p = prefixes[of[r]].len();
        // Position k of the prefixed logits predicts rest token k: whole-row position p-1+k.
        let want = model.forward(ids_t).narrow(1, p - 1, rest_r.len());
        let got = logits.clone().narrow(0, r, 1).narrow(1, 0, rest_r.len());
        let (gv, wv) = (host(got.clone()), host(want.clone()));
        assert_close(&format!("row {r} logits"), &gv, &wv, 1e-4);
        let weight = Tensor::<3>::from_data(
            TensorData::new(
                (0..rest_r.len() * v).map(|i| ((i * 7 + r) % 11) as f32 / 11.0).collect::<Vec<_>>(),
                [1, rest_r.len(), v],
            ),
            &device,
        );
        let (g, wl) = ((got * weight.clone()).sum(), (want * weight).sum());
        got_loss = Some(match got_loss {
            None => g,
            Some(a) => a + g,
        });
        want_loss = Some(match want_loss {
            None => wl,
            Some(a) => a + wl,
        });
    }
    let (gg, wg) = (got_loss.unwrap().backward(), want_loss.unwrap().backward());
    let mut checked = 0;
    for ((path, p), _) in model.projections().into_iter().zip(0..) {
        let (a, b) = (host(p.weight.val().grad(&gg).unwrap()), host(p.weight.val().grad(&wg).unwrap()));
        let tol = 1e-4 * b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        assert_close(&format!("{path}: gradient"), &a, &b, tol);
        checked += 1;
    }
    assert!(checked > 0);
}
