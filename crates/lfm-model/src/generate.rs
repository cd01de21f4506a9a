//! Batched generation through the cache, and sampling.
//!
//! Prompts of different lengths are left-padded into one batch; the cache masks the padding
//! out of attention and convolution and each row keeps its own positions, so a prompt
//! generates the same tokens in a batch as alone. Logit processing follows transformers'
//! order: repetition penalty, then temperature, top-k, top-p, then the draw.

use std::collections::HashMap;

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cache::Cache;
use crate::config::Lfm2Config;
use crate::error::LfmError;
use crate::model::{Lfm2Model, PREFILL_CHUNK};

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// 0 means greedy (argmax); otherwise logits are divided by it before the draw.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1.0 = off).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (0 = off), as
    /// transformers' `MinPLogitsWarper`, applied after top-k and top-p.
    pub min_p: f32,
    /// CTRL-style penalty on tokens already in the prompt or output (1.0 = off).
    pub repetition_penalty: f32,
    /// Seed of the draws; row r of a batch uses `seed + r`.
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { temperature: 0.0, top_k: 0, top_p: 1.0, min_p: 0.0, repetition_penalty: 1.0, seed: 0 }
    }
}

impl SamplingConfig {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self::default()
    }

    /// Rejects settings that make no sense.
    pub fn validate(&self) -> Result<(), LfmError> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(LfmError::Invalid(format!("temperature must be >= 0, got {}", self.temperature)));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(LfmError::Invalid(format!("top_p must be in (0, 1], got {}", self.top_p)));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(LfmError::Invalid(format!("min_p must be in [0, 1], got {}", self.min_p)));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(LfmError::Invalid(format!("repetition_penalty must be > 0, got {}", self.repetition_penalty)));
        }
        Ok(())
    }
}

/// A checkpoint's `generation_config.json`, read as transformers' `GenerationConfig` reads it:
/// sampling only when `do_sample` is true (then `temperature` 1.0, `top_k` 50, `top_p` 1.0
/// unless set); greedy otherwise. `repetition_penalty` applies either way. `Ok(None)` when the
/// file does not exist.
pub fn generation_defaults(path: &std::path::Path) -> Result<Option<SamplingConfig>, LfmError> {
    if !path.exists() {
        return Ok(None);
    }
    let bad = |m: String| LfmError::Invalid(format!("{}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let num = |k: &str| -> Result<Option<f64>, LfmError> {
        match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(x) => x.as_f64().map(Some).ok_or_else(|| bad(format!("{k} must be a number"))),
        }
    };
    let do_sample = match v.get("do_sample") {
        None | Some(serde_json::Value::Null) => false,
        Some(x) => x.as_bool().ok_or_else(|| bad("do_sample must be true or false".into()))?,
    };
    let mut c =
        SamplingConfig { repetition_penalty: num("repetition_penalty")?.unwrap_or(1.0) as f32, ..Default::default() };
    if do_sample {
        c.temperature = num("temperature")?.unwrap_or(1.0) as f32;
        c.top_k = num("top_k")?.unwrap_or(50.0).max(0.0) as usize;
        c.top_p = num("top_p")?.unwrap_or(1.0) as f32;
        c.min_p = num("min_p")?.unwrap_or(0.0) as f32;
    }
    c.validate().map_err(|e| bad(e.to_string()))?;
    Ok(Some(c))
}

/// Picks tokens from logits for one sequence.
pub struct Sampler {
    cfg: SamplingConfig,
    rng: StdRng,
}

impl Sampler {
    /// A sampler whose draws are reproducible from `cfg.seed + row`.
    pub fn new(cfg: SamplingConfig, row: u64) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(row));
        Self { cfg, rng }
    }

    /// Chooses the next token; `history` holds the prompt and the tokens generated so far.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let p = self.cfg.repetition_penalty;
        if p != 1.0 {
            let mut seen = vec![false; logits.len()];
            for &t in history {
                if let Some(s) = seen.get_mut(t as usize) {
                    if !*s {
                        *s = true;
                        let l = &mut logits[t as usize];
                        *l = if *l > 0.0 { *l / p } else { *l * p };
                    }
                }
            }
        }
        if self.cfg.temperature == 0.0 {
            return argmax(logits);
        }
        let inv_t = 1.0 / self.cfg.temperature;
        // Candidates sorted by logit, best first (stable, so ties keep id order).
        let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
        idx.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        if self.cfg.top_k > 0 && self.cfg.top_k < idx.len() {
            idx.truncate(self.cfg.top_k);
        }
        let max = logits[idx[0] as usize] * inv_t;
        let mut probs: Vec<f64> = idx.iter().map(|&i| ((logits[i as usize] * inv_t - max) as f64).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= total);
        if self.cfg.top_p < 1.0 {
            // Keep tokens until the cumulative probability reaches top_p (at least one).
            let mut cum = 0.0;
            let mut keep = probs.len();
            for (n, q) in probs.iter().enumerate() {
                cum += q;
                if cum >= self.cfg.top_p as f64 {
                    keep = n + 1;
                    break;
                }
            }
            probs.truncate(keep);
            idx.truncate(keep);
        }
        if self.cfg.min_p > 0.0 {
            // probs is sorted, best first: keep those within min_p of the best (at least one).
            let floor = self.cfg.min_p as f64 * probs[0];
            let keep = probs.iter().take_while(|&&q| q >= floor).count().max(1);
            probs.truncate(keep);
            idx.truncate(keep);
        }
        let total: f64 = probs.iter().sum();
        let mut r = self.rng.random::<f64>() * total;
        for (n, q) in probs.iter().enumerate() {
            r -= q;
            if r <= 0.0 {
                return idx[n];
            }
        }
        idx[probs.len() - 1]
    }
}

/// Index of the largest value (the first one on ties, as `torch.argmax`).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Output of [`generate`].
#[derive(Debug, Clone)]
pub struct Generation {
    /// New tokens of each row (a stop token, when hit, is the last one).
    pub tokens: Vec<Vec<u32>>,
    /// The logits that produced each new token, when requested: per row, per step, V values.
    pub logits: Option<Vec<Vec<Vec<f32>>>>,
}

/// Options of [`generate`].
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Upper bound on new tokens per row.
    pub max_new_tokens: usize,
    /// A row stops after emitting any of these.
    pub stop_tokens: Vec<u32>,
    pub sampling: SamplingConfig,
    /// Keep the logits of every step (for parity checks).
    pub keep_logits: bool,
}

fn ids_tensor(rows: &[Vec<u32>], width: usize, pad: u32, device: &Device) -> (Tensor<2, Int>, Vec<usize>) {
    let mut flat = Vec::with_capacity(rows.len() * width);
    let mut pads = Vec::with_capacity(rows.len());
    for r in rows {
        let p = width - r.len();
        pads.push(p);
        flat.extend(std::iter::repeat_n(pad as i64, p));
        flat.extend(r.iter().map(|&t| t as i64));
    }
    (Tensor::from_data(TensorData::new(flat, [rows.len(), width]), device), pads)
}

/// The last position's logits of each row after running `ids` through the cache, in chunks
/// of [`PREFILL_CHUNK`] positions. Refuses non-finite logits (`step` names the step).
fn last_logits(
    model: &Lfm2Model,
    ids: Tensor<2, Int>,
    cache: &mut Cache,
    step: usize,
) -> Result<Vec<Vec<f32>>, LfmError> {
    let [b, t] = ids.dims();
    let mut start = 0;
    let mut h = None;
    while start < t {
        let n = PREFILL_CHUNK.min(t - start);
        let part = ids.clone().narrow(1, start, n);
        // Only the last position needs the (large) output head.
        h = Some(model.forward_hidden(part, Some(cache), false).last_hidden.narrow(1, n - 1, 1));
        start += n;
    }
    let logits = model.head(h.expect("t > 0"));
    let v = logits.dims()[2];
    let flat = logits.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 logits");
    for r in 0..b {
        let row = &flat[r * v..(r + 1) * v];
        crate::compare::require_finite(|| format!("logits of row {r} at generation step {step}"), row)?;
    }
    Ok((0..b).map(|r| flat[r * v..(r + 1) * v].to_vec()).collect())
}

/// Generates continuations of `prompts` (token ids) as one batch through the cache.
/// `on_token(row, token)` is called as each token is chosen (for streaming).
pub fn generate(
    model: &Lfm2Model,
    cfg: &Lfm2Config,
    prompts: &[Vec<u32>],
    opts: &GenerateOptions,
    device: &Device,
    mut on_token: impl FnMut(usize, u32),
) -> Result<Generation, LfmError> {
    opts.sampling.validate()?;
    if prompts.is_empty() {
        return Ok(Generation { tokens: vec![], logits: opts.keep_logits.then(Vec::new) });
    }
    if let Some(r) = prompts.iter().position(|p| p.is_empty()) {
        return Err(LfmError::Invalid(format!("prompt {r} is empty (generation needs at least one token)")));
    }
    for (r, p) in prompts.iter().enumerate() {
        if let Some(&t) = p.iter().find(|&&t| t as usize >= cfg.vocab_size) {
            return Err(LfmError::Invalid(format!("prompt {r}: token id {t} >= vocab size {}", cfg.vocab_size)));
        }
    }
    let b = prompts.len();
    let width = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let limit = model.max_positions;
    for (r, p) in prompts.iter().enumerate() {
        model.check_positions(p.len(), &format!("prompt {r}"))?;
    }
    // The context ends at max_position_embeddings: generation stops there, as it does in
    // llama.cpp when the context is full.
    let max_new = opts.max_new_tokens.min(limit - width);
    let mut samplers: Vec<Sampler> = (0..b).map(|r| Sampler::new(opts.sampling.clone(), r as u64)).collect();
    let mut history: Vec<Vec<u32>> = prompts.to_vec();
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); b];
    let mut kept: Vec<Vec<Vec<f32>>> = vec![Vec::new(); b];
    let mut done = vec![false; b];
    if max_new == 0 {
        return Ok(Generation { tokens: out, logits: opts.keep_logits.then_some(kept) });
    }
    // Identical prompts (GRPO's G samples of one prompt) share one prefill: the distinct
    // prompts run through the cache, then every row takes its prompt's cache row.
    let mut first: HashMap<&[u32], usize> = HashMap::new();
    let mut distinct: Vec<Vec<u32>> = Vec::new();
    let of: Vec<usize> = prompts
        .iter()
        .map(|p| {
            *first.entry(p.as_slice()).or_insert_with(|| {
                distinct.push(p.clone());
                distinct.len() - 1
            })
        })
        .collect();
    let (ids, pads) = ids_tensor(&distinct, width, cfg.pad_token_id, device);
    let mut cache = Cache::with_left_pad(cfg, pads);
    let mut logits = last_logits(model, ids, &mut cache, 0)?;
    if distinct.len() < b {
        cache = cache.select_rows(&of);
        logits = of.iter().map(|&u| logits[u].clone()).collect();
    }
    // Cache row i holds sequence rows[i]; rows that finished are dropped from the cache once
    // they are half of it (until then they step with a pad token and their outputs are
    // ignored), so a few long completions do not keep the whole batch running.
    let mut rows: Vec<usize> = (0..b).collect();
    for step in 0..max_new {
        let mut next = vec![cfg.pad_token_id; rows.len()];
        for (i, &r) in rows.iter().enumerate() {
            if done[r] {
                continue;
            }
            if opts.keep_logits {
                kept[r].push(logits[i].clone());
            }
            let tok = samplers[r].sample(&mut logits[i], &history[r]);
            history[r].push(tok);
            out[r].push(tok);
            on_token(r, tok);
            next[i] = tok;
            if opts.stop_tokens.contains(&tok) {
                done[r] = true;
            }
        }
        if done.iter().all(|d| *d) || step + 1 == max_new {
            break;
        }
        let live: Vec<usize> = (0..rows.len()).filter(|&i| !done[rows[i]]).collect();
        if live.len() * 2 <= rows.len() {
            cache = cache.select_rows(&live);
            next = live.iter().map(|&i| next[i]).collect();
            rows = live.iter().map(|&i| rows[i]).collect();
        }
        let step_rows: Vec<Vec<u32>> = next.iter().map(|&t| vec![t]).collect();
        let (ids, _) = ids_tensor(&step_rows, 1, cfg.pad_token_id, device);
        logits = last_logits(model, ids, &mut cache, step + 1)?;
    }
    Ok(Generation { tokens: out, logits: opts.keep_logits.then_some(kept) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_with_first_index_on_ties() {
        let mut s = Sampler::new(SamplingConfig::greedy(), 0);
        assert_eq!(s.sample(&mut [0.1, 3.0, 3.0, -1.0], &[]), 1);
    }

    #[test]
    fn repetition_penalty_follows_ctrl_rule() {
        // 2.0 -> 1.0 (divided), -1.0 -> -2.0 (multiplied): token 3 (1.5) now wins.
        let mut s = Sampler::new(SamplingConfig { repetition_penalty: 2.0, ..SamplingConfig::greedy() }, 0);
        let mut l = [2.0, -1.0, 0.0, 1.5];
        assert_eq!(s.sample(&mut l, &[0, 1]), 3);
        assert_eq!(l, [1.0, -2.0, 0.0, 1.5]);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let logits = [0.5f32, 2.0, 1.9, -3.0];
        for cfg in [
            SamplingConfig { temperature: 1.0, top_k: 1, ..Default::default() },
            SamplingConfig { temperature: 1.0, top_p: 0.01, ..Default::default() },
        ] {
            let mut s = Sampler::new(cfg, 0);
            for _ in 0..50 {
                assert_eq!(s.sample(&mut logits.clone(), &[]), 1);
            }
        }
    }

    #[test]
    fn top_k_two_never_leaves_the_two_best_and_seed_repeats() {
        let logits = [0.0f32, 1.0, 1.0, 0.5];
        let cfg = SamplingConfig { temperature: 1.0, top_k: 2, seed: 7, ..Default::default() };
        let draw = |cfg: &SamplingConfig| {
            let mut s = Sampler::new(cfg.clone(), 0);
            (0..200).map(|_| s.sample(&mut logits.clone(), &[])).collect::<Vec<_>>()
        };
        let a = draw(&cfg);
        assert!(a.iter().all(|&t| t == 1 || t == 2));
        assert!(a.contains(&1) && a.contains(&2));
        assert_eq!(a, draw(&cfg), "same seed, same draws");
    }

    #[test]
    fn temperature_sampling_matches_softmax_frequencies() {
        // p = softmax([0, ln 3]) = [0.25, 0.75].
        let cfg = SamplingConfig { temperature: 1.0, seed: 1, ..Default::default() };
        let mut s = Sampler::new(cfg, 0);
        let n = 20_000;
        let ones = (0..n).filter(|_| s.sample(&mut [0.0, 3f32.ln()], &[]) == 1).count();
        let f = ones as f64 / n as f64;
        assert!((f - 0.75).abs() < 0.02, "frequency {f}");
    }
    #[test]
    fn min_p_keeps_only_tokens_within_its_ratio_of_the_best() {
        // Probabilities 0.5, 0.3, 0.15, 0.05 at T = 1; min_p 0.5 keeps those >= 0.25.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.15f32.ln(), 0.05f32.ln()];
        let mut s = Sampler::new(SamplingConfig { temperature: 1.0, min_p: 0.5, seed: 3, ..Default::default() }, 0);
        let mut seen = [0usize; 4];
        for _ in 0..4000 {
            seen[s.sample(&mut logits.clone(), &[]) as usize] += 1;
        }
        assert_eq!((seen[2], seen[3]), (0, 0), "{seen:?}");
        // The kept two are renormalised: 0.5 / 0.8 = 0.625 of the draws go to token 0.
        let share = seen[0] as f64 / 4000.0;
        assert!((share - 0.625).abs() < 0.03, "{seen:?}");
        assert!(SamplingConfig { min_p: 1.5, ..Default::default() }.validate().is_err());
    }

    #[test]
    fn generation_config_samples_only_with_do_sample() {
        let dir = std::env::temp_dir().join(format!("lfm-gencfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("generation_config.json");
        assert!(generation_defaults(&p).unwrap().is_none());
        std::fs::write(&p, r#"{"do_sample": true, "temperature": 0.3, "min_p": 0.15, "repetition_penalty": 1.05}"#)
            .unwrap();
        let c = generation_defaults(&p).unwrap().unwrap();
        // transformers' GenerationConfig defaults fill what the file leaves out: top_k 50, top_p 1.
        assert_eq!((c.temperature, c.top_k, c.top_p, c.min_p, c.repetition_penalty), (0.3, 50, 1.0, 0.15, 1.05));
        std::fs::write(&p, r#"{"temperature": 0.3, "top_k": 5, "repetition_penalty": 1.2}"#).unwrap();
        let c = generation_defaults(&p).unwrap().unwrap();
        assert_eq!((c.temperature, c.top_k, c.repetition_penalty), (0.0, 0, 1.2), "no do_sample: greedy");
        std::fs::write(&p, r#"{"do_sample": true, "top_p": 2}"#).unwrap();
        let e = generation_defaults(&p).unwrap_err().to_string();
        assert!(e.contains("generation_config.json") && e.contains("top_p"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
