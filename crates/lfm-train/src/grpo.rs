//! GRPO (Group Relative Policy Optimization, Shao et al. 2024, as in DeepSeekMath / TRL) for
//! tool use, with lfm-eval's scorers as rewards: an [`Objective`] of the training engine,
//! which owns the loop, checkpoints, metrics and resume. The knobs carry TRL's
//! `GRPOConfig` names, so recipes translate. One engine step:
//!
//! ```text
//! step:
//!     prompts = the next `prompts_per_step` tasks (a seeded permutation per epoch)
//!     sample G completions per prompt with the KV/conv cache (batched; temperature, top-k,
//!         top-p from [grpo]; the sampling seed is a function of (seed, step))
//!     reward_i = Σ_f weight_f · reward_f(task, completion_i)           ([rewards], rewards/)
//!     A_i = (reward_i − mean_group) / (std + adv_eps)                   (scale_rewards:
//!         std of the group | of the step's rewards | none: no division; unbiased, n − 1)
//!     dynamic_sampling (DAPO): drop groups whose rewards are all equal; sample further
//!         rounds of prompts until prompts_per_step groups remain or max_sampling_rounds ran
//!     mask_truncated_completions: a completion without a stop token carries no loss
//!     old log-probs (and reference log-probs when beta > 0) of every completion token
//!         (with num_iterations = 1 the old log-probs are the new ones, detached, as in
//!         TRL: the extra forward pass is skipped and every ratio is exactly 1)
//!     repeat num_iterations times (old log-probs kept):
//!         r_t = exp(logp_t − old_t)
//!         l_t = −min(r_t·A, clip(r_t, 1 − epsilon, 1 + epsilon_high)·A) + beta·KL_t
//!             KL_t = exp(ref_t − logp_t) − (ref_t − logp_t) − 1        (k3 estimator, ≥ 0)
//!         loss = Σ_i w_i Σ_t l_it                 (w_i from loss_type, [`loss_weights`])
//!         learner.update: clip the gradient norm; one AdamW step
//!     report: rewards per function, zero-std groups, KL, clip fractions (low/high), lengths,
//!         truncation rate, sampling and learner tokens/s
//! ```
//!
//! Prompts and sampling seeds are functions of (seed, step), so a checkpoint needs no data
//! state for an exact resume.
//!
//! **Normalization** (`loss_type`, default `dapo`). `dapo` divides the step's token sum by
//! its token count, so every sampled token weighs the same; `grpo` (the paper's) averages
//! per-completion token means, so a token of a long completion weighs less and long wrong
//! answers are penalized less per token; `dr_grpo` divides by B · max_new_tokens, a constant;
//! `bnpo` takes the token mean of each backward pass (`[batch] micro_batch` completions) and
//! averages those. Tests pin each on a hand-computed batch.
//!
//! `beta = 0` (the default) drops the KL term and never loads the reference model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use lfm_data::chat::{parse_reply, Conversation, ParsedReply};
use lfm_data::template::TextCodec;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::{Lfm2Config, Lfm2Model};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint;
use crate::config::RunConfig;
use crate::engine::{Learner, Objective, StepReport};
use crate::env::{Environment, ToolOutput};
use crate::metrics;
use crate::optim::GradAccumulator;
use crate::rewards::{self, Reads, RewardFn};

/// A short SFT run before RL (for models that cannot yet produce the format at all), into
/// `OUT/warm_start/`, optionally preceded by earlier SFT stages on other data (`stages`, each
/// into `OUT/warm_start/<name>/`, each starting from the previous one's checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStart {
    pub sft_jsonl: PathBuf,
    pub steps: u64,
    pub lr: f64,
    pub micro_batch: usize,
    pub seq_len: usize,
    /// Stages run before this one, in order (`[[warm_start.stages]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<WarmStage>,
}

impl WarmStart {
    /// The `[warm_start]` table's own SFT as a stage (the last one, in `OUT/warm_start/`).
    pub fn last_stage(&self) -> WarmStage {
        WarmStage {
            name: String::new(),
            sft_jsonl: self.sft_jsonl.clone(),
            steps: self.steps,
            lr: self.lr,
            micro_batch: self.micro_batch,
            seq_len: self.seq_len,
        }
    }
}

/// An earlier SFT stage of the warm start (a curriculum: e.g. copy drills before tool calls).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStage {
    /// Its folder under `OUT/warm_start/` (letters, digits, `-`, `_`).
    pub name: String,
    pub sft_jsonl: PathBuf,
    pub steps: u64,
    pub lr: f64,
    pub micro_batch: usize,
    pub seq_len: usize,
}

/// How a step's per-token losses are reduced to one number (TRL's `loss_type`). `B` is the
/// number of completions of the step, `|o_i|` completion i's (unmasked) length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Mean over completions of each completion's token mean: Σ_i (Σ_t l_it / |o_i|) / B.
    Grpo,
    /// Token sum over a constant: Σ_it l_it / (B · max_new_tokens) (no length bias at all).
    DrGrpo,
    /// Token mean over the whole step: Σ_it l_it / Σ_i |o_i| (every sampled token weighs the same).
    #[default]
    Dapo,
    /// Token mean within each micro-batch, averaged over the micro-batches.
    Bnpo,
}

impl LossType {
    pub fn as_str(self) -> &'static str {
        match self {
            LossType::Grpo => "grpo",
            LossType::DrGrpo => "dr_grpo",
            LossType::Dapo => "dapo",
            LossType::Bnpo => "bnpo",
        }
    }
}

/// What the group-centred rewards are divided by (TRL's `scale_rewards`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    /// The standard deviation of the prompt's group.
    #[default]
    Group,
    /// The standard deviation of every reward of the step.
    Batch,
    /// Nothing (Dr. GRPO: advantages keep the reward's units).
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpoSection {
    /// Completions per prompt (G).
    pub group_size: usize,
    pub prompts_per_step: usize,
    pub max_new_tokens: usize,
    #[serde(default = "one_f")]
    pub temperature: f64,
    #[serde(default = "one_f")]
    pub top_p: f64,
    #[serde(default)]
    pub top_k: usize,
    /// Loss normalization (see [`LossType`]).
    #[serde(default)]
    pub loss_type: LossType,
    /// Lower clip range: the ratio is clipped to [1 − epsilon, 1 + epsilon_high].
    #[serde(default = "d_clip")]
    pub epsilon: f64,
    /// Upper clip range (DAPO's clip-higher); absent: `epsilon`.
    #[serde(default)]
    pub epsilon_high: Option<f64>,
    /// KL penalty (k3 estimator) to the frozen starting model (0: off, reference not loaded).
    #[serde(default)]
    pub beta: f64,
    /// Optimizer steps per generation batch (μ), all against the same old log-probs.
    #[serde(default = "one_u")]
    pub num_iterations: usize,
    /// Advantage scaling (see [`ScaleRewards`]).
    #[serde(default)]
    pub scale_rewards: ScaleRewards,
    /// Completions that hit `max_new_tokens` without a stop token carry no loss.
    #[serde(default)]
    pub mask_truncated_completions: bool,
    /// ε added to the standard deviation before dividing.
    #[serde(default = "d_adv_eps")]
    pub adv_eps: f64,
    /// Multi-turn tool episodes: the environment that executes the model's calls
    /// (`"toy_tools"`); absent: one completion per sample.
    #[serde(default)]
    pub env: Option<String>,
    /// With `env`: tool-calling turns before the episode must end (the model may answer sooner).
    #[serde(default = "d_turns")]
    pub max_tool_turns: usize,
    /// DAPO's dynamic sampling: groups whose rewards are all equal (no advantage, no
    /// gradient) are dropped and more prompts are sampled until `prompts_per_step` groups
    /// with a reward spread are found or `max_sampling_rounds` rounds have run.
    #[serde(default)]
    pub dynamic_sampling: bool,
    /// With `dynamic_sampling`: sampling rounds per step at most (each of `prompts_per_step`
    /// prompts).
    #[serde(default = "d_rounds")]
    pub max_sampling_rounds: usize,
}

impl GrpoSection {
    pub fn epsilon_high(&self) -> f64 {
        self.epsilon_high.unwrap_or(self.epsilon)
    }
}

fn one_f() -> f64 {
    1.0
}
fn one_u() -> usize {
    1
}
fn d_clip() -> f64 {
    0.2
}
fn d_adv_eps() -> f64 {
    1e-4
}
fn d_turns() -> usize {
    2
}
fn d_rounds() -> usize {
    3
}

/// Advantages of one step's rewards: rows `g*i .. g*(i+1)` are one prompt's completions,
/// centred on their group's mean and divided by `std + eps` as `scale` says (standard
/// deviations unbiased, n − 1, as torch.std). Also returns the fraction of groups whose
/// rewards are all equal (their advantages, hence their policy loss, are 0).
pub fn advantages(rewards: &[f64], g: usize, scale: ScaleRewards, eps: f64) -> (Vec<f64>, f64) {
    fn std(v: &[f64]) -> f64 {
        if v.len() < 2 {
            return 0.0;
        }
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    }
    let batch_std = std(rewards);
    let mut out = Vec::with_capacity(rewards.len());
    let (mut zero, mut groups) = (0usize, 0usize);
    for grp in rewards.chunks(g) {
        let mean = grp.iter().sum::<f64>() / grp.len() as f64;
        let group_std = std(grp);
        groups += 1;
        zero += grp.iter().all(|&r| r == grp[0]) as usize;
        let div = match scale {
            ScaleRewards::Group => group_std + eps,
            ScaleRewards::Batch => batch_std + eps,
            ScaleRewards::None => 1.0,
        };
        out.extend(grp.iter().map(|r| (r - mean) / div));
    }
    (out, zero as f64 / groups.max(1) as f64)
}

/// Per-completion weights `w_i` with which the step's loss is `Σ_i w_i · Σ_t l_it`, for the
/// completions' loss-carrying lengths `lens` (0 for a masked one), backward passes of
/// `micro_batch` completions, and `max_new_tokens` (see [`LossType`]).
pub fn loss_weights(loss_type: LossType, lens: &[usize], micro_batch: usize, max_new_tokens: usize) -> Vec<f64> {
    let b = lens.len().max(1) as f64;
    match loss_type {
        LossType::Dapo => {
            let total = lens.iter().sum::<usize>().max(1) as f64;
            vec![1.0 / total; lens.len()]
        }
        LossType::Grpo => lens.iter().map(|&n| 1.0 / (b * n.max(1) as f64)).collect(),
        LossType::DrGrpo => vec![1.0 / (b * max_new_tokens.max(1) as f64); lens.len()],
        LossType::Bnpo => {
            let mb = micro_batch.max(1);
            let chunks = lens.len().div_ceil(mb).max(1) as f64;
            lens.chunks(mb)
                .flat_map(|c| {
                    let tokens = c.iter().sum::<usize>().max(1) as f64;
                    std::iter::repeat_n(1.0 / (chunks * tokens), c.len())
                })
                .collect()
        }
    }
}

/// Per-completion sums of the token terms of a micro-batch (masked tokens excluded).
pub struct TokenTerms {
    /// Σ_t of −min(r_t·A, clip(r_t, 1−ε, 1+ε_high)·A) + beta·KL_t, per row [B].
    pub loss: Tensor<1>,
    /// Σ_t KL_t per row [B] (zeros without a reference).
    pub kl: Tensor<1>,
    /// Tokens whose ratio is clipped at the low / the high end (no gradient there) [1].
    pub clip_low: Tensor<1>,
    pub clip_high: Tensor<1>,
}

/// The clipped surrogate and the k3 KL, token by token.
///
/// # Shapes
/// - `new`, `old`, `mask`: [B, T]; `reference`: [B, T] or `None`; `adv`: [B, 1]
pub fn token_terms(
    new: Tensor<2>,
    old: Tensor<2>,
    reference: Option<Tensor<2>>,
    adv: Tensor<2>,
    mask: Tensor<2>,
    (eps_low, eps_high): (f64, f64),
    beta: f64,
) -> TokenTerms {
    let shape = new.shape();
    let rows = shape.dims::<2>()[0];
    let adv = adv.expand(shape.clone());
    let ratio = (new.clone() - old).exp();
    let unclipped = ratio.clone() * adv.clone();
    let clipped = ratio.clone().clamp(1.0 - eps_low, 1.0 + eps_high) * adv.clone();
    let mut per = unclipped.min_pair(clipped).neg();
    // The clip is active (no gradient) where the ratio is beyond its bound in the advantage's
    // direction.
    let low = ratio.clone().lower_elem(1.0 - eps_low).bool_and(adv.clone().lower_elem(0.0));
    let high = ratio.greater_elem(1.0 + eps_high).bool_and(adv.greater_elem(0.0));
    let clip_low = (low.float() * mask.clone()).sum();
    let clip_high = (high.float() * mask.clone()).sum();
    let kl = match reference {
        Some(r) => {
            let d = r - new;
            let kl = d.clone().exp() - d - 1.0;
            per = per + kl.clone() * beta;
            (kl * mask.clone()).sum_dim(1).reshape([rows])
        }
        None => Tensor::zeros([rows], &mask.device()),
    };
    TokenTerms { loss: (per * mask).sum_dim(1).reshape([rows]), kl, clip_low, clip_high }
}

/// Log-probabilities (at `temperature`) of tokens 1.. of each row given the ones before.
///
/// # Shapes
/// - `ids`: [B, L] -> [B, L-1]
pub fn token_logprobs(model: &Lfm2Model, ids: Tensor<2, Int>, temperature: f64) -> Tensor<2> {
    let [b, l] = ids.dims();
    let inputs = ids.clone().narrow(1, 0, l - 1);
    let targets = ids.narrow(1, 1, l - 1).reshape([b, l - 1, 1]);
    let logits = model.forward(inputs);
    let lp = log_softmax(logits / temperature, 2);
    lp.gather(2, targets).reshape([b, l - 1])
}

/// One sampled episode: a prompt and the model's turns, with tool results between them.
#[derive(Clone)]
pub struct Episode {
    /// Prompt, turns and the text between them, as one token row.
    tokens: Vec<u32>,
    /// Length of the prompt at the start of `tokens` (the G episodes of a group share it).
    prompt_len: usize,
    /// Per token: sampled by the model (these carry loss).
    own: Vec<bool>,
    /// Each turn's text (special tokens kept, the stop token dropped) and its call count.
    turns: Vec<(String, usize)>,
    /// A turn ended without a stop token (ran into max_new_tokens).
    truncated: bool,
    /// The conversation so far (episodes continue it).
    conv: Conversation,
    done: bool,
}

impl Episode {
    fn new(prompt: Vec<u32>, conv: Conversation) -> Self {
        let own = vec![false; prompt.len()];
        let prompt_len = prompt.len();
        Episode { tokens: prompt, prompt_len, own, turns: Vec::new(), truncated: false, conv, done: false }
    }

    /// A single completion of `prompt` (sampled; `stopped`: it ended with a stop token).
    pub fn completion(prompt: Vec<u32>, completion: &[u32], stopped: bool) -> Self {
        let mut e = Episode::new(prompt, Conversation::default());
        e.push(completion, true);
        e.truncated = !stopped;
        e.done = true;
        e
    }

    fn push(&mut self, ids: &[u32], own: bool) {
        self.tokens.extend_from_slice(ids);
        self.own.extend(std::iter::repeat_n(own, ids.len()));
    }

    /// The first turn that calls a tool, else the first turn.
    fn calls_text(&self) -> &str {
        self.turns.iter().find(|t| t.1 > 0).or(self.turns.first()).map_or("", |t| t.0.as_str())
    }

    /// The final answer: in an episode, the last turn when it calls no tool and was not cut
    /// off; for a single completion, the completion.
    fn answer_text(&self, episode: bool) -> &str {
        match self.turns.last() {
            Some((text, calls)) if !episode || (*calls == 0 && !self.truncated) => text,
            _ => "",
        }
    }

    fn own_tokens(&self) -> usize {
        self.own.iter().filter(|&&o| o).count()
    }
}

/// One sampled batch: each row's prompt and, right-padded, the tokens after it with their
/// loss mask (the learner runs each distinct prompt once and its rows' continuations through
/// a shared cache, `Lfm2Model::forward_prefixed`).
struct Rollout<'a> {
    /// Each row's prompt.
    prompts: Vec<&'a [u32]>,
    /// The tokens after each prompt, right-padded: [rows, width].
    rest: Vec<i64>,
    /// mask[r, k]: token k of row r's rest carries loss. [rows, width]
    mask: Vec<f32>,
    rows: usize,
    width: usize,
    /// Length of each row's rest.
    rest_lens: Vec<usize>,
    /// Sampled tokens (all rows).
    completion_tokens: usize,
    /// Loss-carrying tokens per row (0 for a row whose episode is masked).
    lens: Vec<usize>,
}

/// The episodes' rows; those with `keep[i] == false` carry no loss.
fn rollout_batch<'a>(episodes: &'a [Episode], keep: &[bool], pad: u32) -> Rollout<'a> {
    let rows = episodes.len();
    let rest_lens: Vec<usize> = episodes.iter().map(|e| e.tokens.len() - e.prompt_len).collect();
    let width = rest_lens.iter().copied().max().unwrap_or(1).max(1);
    let mut rest = Vec::with_capacity(rows * width);
    let mut mask = Vec::with_capacity(rows * width);
    let mut lens = Vec::with_capacity(rows);
    for (e, &k) in episodes.iter().zip(keep) {
        let n = e.tokens.len() - e.prompt_len;
        rest.extend(e.tokens[e.prompt_len..].iter().map(|&t| t as i64));
        rest.extend(std::iter::repeat_n(pad as i64, width - n));
        mask.extend(e.own[e.prompt_len..].iter().map(|&o| (k && o) as u8 as f32));
        mask.extend(std::iter::repeat_n(0.0, width - n));
        lens.push(if k { e.own_tokens() } else { 0 });
    }
    let completion_tokens = episodes.iter().map(Episode::own_tokens).sum();
    let prompts = episodes.iter().map(|e| &e.tokens[..e.prompt_len]).collect();
    Rollout { prompts, rest, mask, rows, width, rest_lens, completion_tokens, lens }
}

/// Log-probabilities (at `temperature`) of each row's `rest` tokens, row `r` continuing
/// `prompts[r]`; consecutive rows with the same prompt share its forward pass.
///
/// # Shapes
/// - `prompts`: B rows; `rest`: [B, W] -> [B, W]
pub fn rest_logprobs(model: &Lfm2Model, prompts: &[&[u32]], rest: Tensor<2, Int>, temperature: f64) -> Tensor<2> {
    let [b, w] = rest.dims();
    let mut distinct: Vec<Vec<u32>> = Vec::new();
    let mut of = Vec::with_capacity(b);
    for (r, p) in prompts.iter().enumerate() {
        if r == 0 || prompts[r - 1] != *p {
            distinct.push(p.to_vec());
        }
        of.push(distinct.len() - 1);
    }
    let logits = model.forward_prefixed(&distinct, &of, rest.clone());
    log_softmax(logits / temperature, 2).gather(2, rest.reshape([b, w, 1])).reshape([b, w])
}

/// GRPO's fields of a metrics record (beside the engine's step, loss, lr, grad_norm, tokens,
/// tokens_per_s, elapsed_s).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct GrpoStats {
    reward_mean: f64,
    reward_std: f64,
    rewards: BTreeMap<String, [f64; 2]>,
    /// Groups whose rewards are all equal (zero advantage, no policy gradient).
    frac_reward_zero_std: f64,
    kl: f64,
    clip_frac: f64,
    clip_low_frac: f64,
    clip_high_frac: f64,
    completion_len: f64,
    /// Completions that hit max_new_tokens without a stop token.
    truncated_frac: f64,
    /// Mean tool-calling turns per episode (0 without `[grpo] env`).
    tool_turns: f64,
    /// Sampling rounds this step (more than 1 only with dynamic sampling).
    #[serde(default = "one_u")]
    sampling_rounds: usize,
    /// Groups the update trained on.
    #[serde(default)]
    groups_trained: usize,
    sampling_tokens_per_s: f64,
    learner_tokens_per_s: f64,
}

/// One line of a GRPO run's metrics.jsonl, read back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrpoRecord {
    pub step: u64,
    pub reward_mean: f64,
    pub reward_std: f64,
    /// Per reward function: [mean, std] of its (unweighted) value.
    pub rewards: BTreeMap<String, [f64; 2]>,
    #[serde(default)]
    pub frac_reward_zero_std: f64,
    pub loss: f64,
    pub kl: f64,
    pub clip_frac: f64,
    #[serde(default)]
    pub clip_low_frac: f64,
    #[serde(default)]
    pub clip_high_frac: f64,
    pub completion_len: f64,
    #[serde(default)]
    pub truncated_frac: f64,
    #[serde(default)]
    pub tool_turns: f64,
    /// Sampling rounds of the step (dynamic sampling; 1 without).
    #[serde(default = "one_u")]
    pub sampling_rounds: usize,
    /// Groups of G completions the update trained on.
    #[serde(default)]
    pub groups_trained: usize,
    pub grad_norm: f64,
    pub lr: f64,
    pub sampling_tokens_per_s: f64,
    pub learner_tokens_per_s: f64,
    pub elapsed_s: f64,
}

fn mean_std(v: &[f64]) -> [f64; 2] {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    [m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt()]
}

/// A seed for step `step`'s sampling, from the run seed (splitmix64).
fn step_seed(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The warm-start SFT stages (each skipped when its run already finished), returning the last
/// one's checkpoint (`OUT/warm_start/checkpoints/step-N`).
pub(crate) fn warm_start(cfg: &RunConfig, device: &Device, progress: Option<ProgressBar>) -> Result<PathBuf> {
    let ws = cfg.warm_start.as_ref().expect("validated");
    let root = cfg.run.out.join("warm_start");
    let mut init: Option<PathBuf> = None;
    for st in &ws.stages {
        init = Some(sft_stage(cfg, device, init.as_deref(), st, &root.join(&st.name), progress.clone())?);
    }
    sft_stage(cfg, device, init.as_deref(), &ws.last_stage(), &root, progress)
}

/// One SFT run of the warm start into `out` (from the preset, or from `init`), with a cosine
/// schedule and 10% warm-up; returns its checkpoint.
fn sft_stage(
    cfg: &RunConfig,
    device: &Device,
    init: Option<&Path>,
    st: &WarmStage,
    out: &Path,
    progress: Option<ProgressBar>,
) -> Result<PathBuf> {
    let &WarmStage { ref sft_jsonl, steps, lr, micro_batch, seq_len, .. } = st;
    let done = checkpoint::complete(out)?;
    if let Some((step, dir)) = done.last() {
        if *step == steps {
            return Ok(dir.clone());
        }
    }
    let model = match init {
        Some(dir) => format!("init_from = {:?}", dir.display().to_string()),
        None => format!("preset = {:?}", cfg.model.preset.as_deref().unwrap_or("tiny")),
    };
    let toml_text = format!(
        "job = \"sft\"\n[model]\n{model}\n[data]\nsft_jsonl = {:?}\ntokenizer = {:?}\nseq_len = {}\n[optim]\nlr = {}\nweight_decay = 0.0\n[schedule]\nkind = \"cosine\"\nwarmup_steps = {}\n[batch]\nmicro_batch = {}\n[run]\nsteps = {}\nseed = {}\nout = {:?}\ncheckpoint_every = {}\nkeep_last = 1\n",
        sft_jsonl.display().to_string(),
        cfg.data.tokenizer.as_ref().expect("validated").display().to_string(),
        seq_len,
        lr,
        (steps / 10).max(1),
        micro_batch,
        steps,
        cfg.run.seed,
        out.display().to_string(),
        steps
    );
    let sft = crate::config::RunConfig::from_toml(&toml_text, "[warm_start]")?;
    let resume = (!done.is_empty()).then(|| "latest".to_string());
    let s = crate::engine::run(&sft, device, &crate::engine::RunOptions { resume, stop_after: None, progress })?;
    s.last_checkpoint.ok_or_else(|| anyhow!("{}: the warm-start SFT wrote no checkpoint", out.display()))
}

/// GRPO as an [`Objective`]: the prompts, the reward functions, the stop tokens and (with
/// `beta > 0`) the frozen reference model, loaded once.
pub struct GrpoObjective {
    g: GrpoSection,
    /// Completions per backward pass (`[batch] micro_batch`; 0: all).
    micro_batch: usize,
    seed: u64,
    prompts_path: PathBuf,
    tasks: Vec<rewards::Task>,
    prompt_ids: Vec<Vec<u32>>,
    fns: Vec<(String, f64, RewardFn, Reads)>,
    stop: Vec<u32>,
    tok: lfm_data::tokenizer::Tokenizer,
    /// The policy's chat template (prompts, and tool results in episodes).
    codec: TextCodec,
    /// The tool environment of multi-turn episodes (`[grpo] env`).
    env: Option<Box<dyn Environment>>,
    model_cfg: Lfm2Config,
    /// The starting model on the plain device (KL reference), when `beta > 0`.
    reference: Option<Lfm2Model>,
    /// The plain device (sampling and old log-probs run there, without autodiff).
    device: Device,
}

impl GrpoObjective {
    /// Prompts of `[data] prompts` rendered with the chat template beside `tok_path` (the
    /// policy's own), rewards of `[rewards]`, and the reference loaded from `init` (the
    /// starting checkpoint) when `[grpo] beta > 0`.
    pub fn new(cfg: &RunConfig, model_cfg: &Lfm2Config, tok_path: &Path, init: &Path, device: &Device) -> Result<Self> {
        let g = cfg.grpo.clone().expect("validated");
        let prompts_path = cfg.data.prompts.clone().expect("validated");
        let tok = lfm_data::tokenizer::load(tok_path)?;
        let codec = TextCodec::for_tokenizer_file(tok_path)?;
        let mut tasks = rewards::load_tasks(&prompts_path)?;
        let fns: Vec<(String, f64, RewardFn, Reads)> = cfg
            .rewards
            .as_ref()
            .expect("validated")
            .iter()
            .map(|(n, w)| {
                let (f, reads) = rewards::lookup(n)?;
                Ok((n.clone(), *w, f, reads))
            })
            .collect::<Result<_>>()?;
        let env = g.env.as_deref().map(crate::env::lookup).transpose()?;
        if let Some(e) = &env {
            for t in &mut tasks {
                t.expected_keys = crate::env::expected_keys(e.as_ref(), &t.answer);
            }
        }
        let prompt_ids: Vec<Vec<u32>> = tasks
            .iter()
            .map(|t| {
                codec.encode_prompt(&t.conversation).map_err(|e| anyhow!("{}: {}: {e:#}", prompts_path.display(), t.id))
            })
            .collect::<Result<_>>()?;
        let stop: Vec<u32> = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tok.token_to_id(t)).collect();
        let reference = if g.beta > 0.0 { Some(checkpoint::load_base(init, device)?.1) } else { None };
        Ok(GrpoObjective {
            g,
            micro_batch: cfg.batch.micro_batch,
            seed: cfg.run.seed,
            prompts_path,
            tasks,
            prompt_ids,
            fns,
            stop,
            tok,
            codec,
            env,
            model_cfg: model_cfg.clone(),
            reference,
            device: device.clone(),
        })
    }

    /// The prompts of sampling round `round >= 1` of `step` (dynamic sampling): a second
    /// seeded stream of permutations, `max_sampling_rounds - 1` draws of `prompts_per_step`
    /// per step, so that they too are a function of (seed, step).
    fn extra_prompts_of(&self, step: u64, round: usize) -> Vec<usize> {
        let (n, p) = (self.tasks.len(), self.g.prompts_per_step);
        let per_step = self.g.max_sampling_rounds.max(2) - 1;
        (0..p)
            .map(|k| {
                let flat = ((step - 1) as usize * per_step + round - 1) * p + k;
                let (epoch, pos) = (flat / n, flat % n);
                lfm_data::loader::permutation(n, self.seed ^ 0xD7A5_0000 ^ (epoch as u64).wrapping_mul(0x51ED))[pos]
            })
            .collect()
    }

    /// The prompts of `step`: a seeded permutation of the task list per epoch.
    fn prompts_of(&self, step: u64) -> Vec<usize> {
        let n = self.tasks.len();
        (0..self.g.prompts_per_step)
            .map(|k| {
                let flat = (step - 1) as usize * self.g.prompts_per_step + k;
                let (epoch, pos) = (flat / n, flat % n);
                lfm_data::loader::permutation(n, self.seed ^ (epoch as u64).wrapping_mul(0x51ED))[pos]
            })
            .collect()
    }
}

impl GrpoObjective {
    /// G episodes for each of `chosen`'s prompts. Without an environment an episode is one
    /// completion. With one, a turn whose calls parse is answered with the tool results (a
    /// `tool` message per call, through the chat template) and the model continues, up to
    /// `max_tool_turns` tool-calling turns; the sampling seed is a function of (seed, step,
    /// turn).
    fn rollouts(&self, policy: &Lfm2Model, step: u64, round: usize, chosen: &[usize]) -> Result<Vec<Episode>> {
        let g = self.g.group_size;
        let mut eps: Vec<Episode> = chosen
            .iter()
            .flat_map(|&i| std::iter::repeat_n(i, g))
            .map(|i| Episode::new(self.prompt_ids[i].clone(), self.tasks[i].conversation.clone()))
            .collect();
        let turns = if self.env.is_some() { self.g.max_tool_turns + 1 } else { 1 };
        for turn in 0..turns {
            let active: Vec<usize> = (0..eps.len()).filter(|&r| !eps[r].done).collect();
            if active.is_empty() {
                break;
            }
            let prompts: Vec<Vec<u32>> = active.iter().map(|&r| eps[r].tokens.clone()).collect();
            let seed = step_seed(self.seed, step) ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let opts = sampling_options(&self.g, &self.stop, seed.wrapping_add(turn as u64));
            let out = generate(policy, &self.model_cfg, &prompts, &opts, &self.device, |_, _| {})?.tokens;
            for (&r, c) in active.iter().zip(out) {
                let ep = &mut eps[r];
                let stop = c.last().copied().filter(|t| self.stop.contains(t));
                let body = if stop.is_some() { &c[..c.len() - 1] } else { &c[..] };
                let text = self.tok.decode(body, false).map_err(|e| anyhow!("decoding: {e}"))?;
                ep.push(&c, true);
                let reply = match &self.env {
                    Some(_) => parse_reply(&text).unwrap_or_default(),
                    None => ParsedReply::default(),
                };
                let calls = &reply.calls;
                ep.turns.push((text, calls.len()));
                let (Some(stop), Some(env)) = (stop, &self.env) else {
                    ep.truncated = stop.is_none();
                    ep.done = true;
                    continue;
                };
                if calls.is_empty() || turn + 1 == turns {
                    ep.done = true;
                    continue;
                }
                let results: Vec<ToolOutput> = calls.iter().map(|c| env.execute(c)).collect();
                let stop_text = self.tok.id_to_token(stop).unwrap_or_default();
                let (conv, ids) = crate::env::continuation(&self.codec, &ep.conv, &reply, &results, &stop_text)?;
                ep.conv = conv;
                ep.push(&ids, false);
            }
        }
        Ok(eps)
    }
}

/// One sampling round: the episodes of G completions per prompt, their weighted reward
/// totals and each reward function's values.
struct Sampled {
    episodes: Vec<Episode>,
    total: Vec<f64>,
    per_fn: BTreeMap<String, Vec<f64>>,
}

impl Sampled {
    /// The first `max_groups` groups (of `g` episodes) whose rewards are not all equal,
    /// with their totals.
    fn informative(&self, g: usize, max_groups: usize) -> (Vec<Episode>, Vec<f64>) {
        let mut eps = Vec::new();
        let mut total = Vec::new();
        for (e, t) in self.episodes.chunks(g).zip(self.total.chunks(g)) {
            if total.len() / g >= max_groups {
                break;
            }
            if t.iter().any(|&x| x != t[0]) {
                eps.extend(e.iter().cloned());
                total.extend_from_slice(t);
            }
        }
        (eps, total)
    }
}

impl GrpoObjective {
    /// Round `round` of `step`: G episodes for each of `chosen`'s prompts, rewarded (call
    /// rewards read the turn with the calls, answer rewards the answer).
    fn sample_round(&self, policy: &Lfm2Model, step: u64, round: usize, chosen: &[usize]) -> Result<Sampled> {
        let g = self.g.group_size;
        let episodes = self.rollouts(policy, step, round, chosen)?;
        let mut per_fn: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut total = vec![0.0f64; episodes.len()];
        for (r, ep) in episodes.iter().enumerate() {
            let task = &self.tasks[chosen[r / g]];
            for (name, w, f, reads) in &self.fns {
                let text = match reads {
                    Reads::Calls => ep.calls_text(),
                    Reads::Answer => ep.answer_text(self.env.is_some()),
                    Reads::AnswerAfterTools if ep.turns.iter().any(|t| t.1 > 0) => ep.answer_text(true),
                    Reads::AnswerAfterTools => "",
                };
                let v = f(task, text);
                per_fn.entry(name.clone()).or_default().push(v);
                total[r] += w * v;
            }
        }
        Ok(Sampled { episodes, total, per_fn })
    }
}

impl Objective for GrpoObjective {
    fn step(&mut self, step: u64, model: Lfm2Model, learner: &mut Learner) -> Result<(Lfm2Model, StepReport)> {
        let g = self.g.group_size;

        // 1-2. Sample G episodes per prompt (one batch through the cache per turn) on the
        // inference weights (host matrices on the CPU, lfm_model::infer), and reward them.
        // With dynamic sampling, groups without a reward spread are dropped and further
        // rounds of prompts are sampled until prompts_per_step groups are kept. The reported
        // rewards are the first round's (an unbiased sample of the policy).
        let t0 = Instant::now();
        let policy = sampling_policy(&model)?;
        let first = self.sample_round(&policy, step, 0, &self.prompts_of(step))?;
        let zero_std = advantages(&first.total, g, self.g.scale_rewards, self.g.adv_eps).1;
        let [rm, rs] = mean_std(&first.total);
        let rewards_stats: BTreeMap<String, [f64; 2]> =
            first.per_fn.iter().map(|(k, v)| (k.clone(), mean_std(v))).collect();
        let mut sampled = first.episodes.iter().map(Episode::own_tokens).sum::<usize>();
        let mut rounds = 1;
        let (mut episodes, mut total) = if self.g.dynamic_sampling {
            let mut batch = first.informative(g, self.g.prompts_per_step);
            while batch.0.len() < self.g.prompts_per_step * g && rounds < self.g.max_sampling_rounds {
                let more = self.sample_round(&policy, step, rounds, &self.extra_prompts_of(step, rounds))?;
                sampled += more.episodes.iter().map(Episode::own_tokens).sum::<usize>();
                let want = self.g.prompts_per_step - batch.0.len() / g;
                let (e, t) = more.informative(g, want);
                batch.0.extend(e);
                batch.1.extend(t);
                rounds += 1;
            }
            batch
        } else {
            (Vec::new(), Vec::new())
        };
        if episodes.is_empty() {
            // Without dynamic sampling, or when no group had a spread: the first round as it is.
            (episodes, total) = (first.episodes, first.total);
        }
        let sample_s = t0.elapsed().as_secs_f64();
        let (adv, _) = advantages(&total, g, self.g.scale_rewards, self.g.adv_eps);
        let truncated: Vec<bool> = episodes.iter().map(|e| e.truncated).collect();
        let keep: Vec<bool> = truncated.iter().map(|&t| !(t && self.g.mask_truncated_completions)).collect();

        // 3-4. Old (and reference) log-probs, then num_iterations optimizer updates.
        let t1 = Instant::now();
        let settings = UpdateSettings {
            g: &self.g,
            micro_batch: self.micro_batch,
            pad: self.model_cfg.pad_token_id,
            device: &self.device,
        };
        let (model, u) = update(model, learner, &settings, &policy, self.reference.as_ref(), &episodes, &adv, &keep)?;
        let ro_rows = u.rows;
        let learn_s = t1.elapsed().as_secs_f64();
        let stats = GrpoStats {
            reward_mean: rm,
            reward_std: rs,
            rewards: rewards_stats,
            sampling_rounds: rounds,
            groups_trained: episodes.len() / g,
            frac_reward_zero_std: zero_std,
            kl: u.kl,
            clip_frac: u.clip_low + u.clip_high,
            clip_low_frac: u.clip_low,
            clip_high_frac: u.clip_high,
            completion_len: u.sampled_tokens as f64 / ro_rows as f64,
            truncated_frac: truncated.iter().filter(|&&t| t).count() as f64 / ro_rows as f64,
            tool_turns: if self.env.is_some() {
                episodes.iter().map(|e| e.turns.iter().filter(|t| t.1 > 0).count()).sum::<usize>() as f64
                    / ro_rows as f64
            } else {
                0.0
            },
            sampling_tokens_per_s: sampled as f64 / sample_s.max(1e-9),
            learner_tokens_per_s: (u.learner_tokens * self.g.num_iterations) as f64 / learn_s.max(1e-9),
        };
        let message = format!(
            "reward {rm:.3} zero-std {:.2} kl {:.4} clip {:.3} len {:.1} trunc {:.2}",
            stats.frac_reward_zero_std, stats.kl, stats.clip_frac, stats.completion_len, stats.truncated_frac
        );
        let Value::Object(extra) = serde_json::to_value(&stats)? else { unreachable!("a struct") };
        let report = StepReport { loss: u.loss, grad_norm: u.grad_norm, tokens: sampled as u64, extra, message };
        Ok((model, report))
    }

    fn plot(&self, run_dir: &Path, title: &str) -> Result<()> {
        plot_rewards(run_dir, title).map(|_| ()).with_context(|| format!("{}", self.prompts_path.display()))
    }
}

/// The weights rollouts sample from: the policy without autodiff, on the inference path
/// `lfm generate` uses (host matrices and the fused kernels on the CPU, `lfm_model::infer`).
/// A LoRA policy is merged first (the same function at the base model's speed); a packed
/// base (QLoRA) keeps its adapter beside it.
pub fn sampling_policy(model: &Lfm2Model) -> Result<Lfm2Model> {
    let packed = model.projections().iter().any(|(_, p)| p.host.is_some());
    Ok(if model.has_lora() && !packed {
        lfm_model::lora::merge(model.valid()).map_err(|e| anyhow!("{e}"))?.into_inference()
    } else {
        model.valid().into_inference()
    })
}

/// How rollouts sample: `[grpo]`'s temperature, top-k and top-p, `max_new_tokens` per turn.
pub fn sampling_options(g: &GrpoSection, stop: &[u32], seed: u64) -> GenerateOptions {
    GenerateOptions {
        max_new_tokens: g.max_new_tokens,
        stop_tokens: stop.to_vec(),
        sampling: SamplingConfig {
            temperature: g.temperature as f32,
            top_k: g.top_k,
            top_p: g.top_p as f32,
            repetition_penalty: 1.0,
            seed,
            ..Default::default()
        },
        keep_logits: false,
    }
}

/// What [`update`] needs of the config.
pub struct UpdateSettings<'a> {
    pub g: &'a GrpoSection,
    /// Completions per backward pass (0: all).
    pub micro_batch: usize,
    pub pad: u32,
    /// The plain device of `policy` and `reference` (the learner's is the autodiff one).
    pub device: &'a Device,
}

/// What one [`update`] measured (the last iteration's loss, KL and clip fractions).
pub struct UpdateStats {
    pub loss: f64,
    pub grad_norm: f64,
    pub kl: f64,
    pub clip_low: f64,
    pub clip_high: f64,
    pub rows: usize,
    /// Tokens one optimizer pass ran through the model (distinct prompts once, then the rows'
    /// continuations).
    pub learner_tokens: usize,
    pub sampled_tokens: usize,
}

/// GRPO's learner half: the old log-probs under `policy` (the sampling weights; with
/// `num_iterations = 1` the new log-probs detached instead) and, with a `reference`, the
/// reference's; then `num_iterations` optimizer updates of `model` on the
/// clipped surrogate of `episodes` with advantages `adv`, normalized as `loss_type` says.
/// Episodes with `keep[i] == false` carry no loss.
#[allow(clippy::too_many_arguments)]
pub fn update(
    mut model: Lfm2Model,
    learner: &mut Learner,
    s: &UpdateSettings,
    policy: &Lfm2Model,
    reference: Option<&Lfm2Model>,
    episodes: &[Episode],
    adv: &[f64],
    keep: &[bool],
) -> Result<(Lfm2Model, UpdateStats)> {
    let plain = s.device.clone();
    let ro = rollout_batch(episodes, keep, s.pad);
    let n_tok = ro.lens.iter().sum::<usize>().max(1) as f64;
    let mb = if s.micro_batch == 0 { ro.rows } else { s.micro_batch };
    let weights = loss_weights(s.g.loss_type, &ro.lens, mb, s.g.max_new_tokens);
    let temperature = s.g.temperature;
    // Each backward pass is cut to its own longest row (rows are right-padded to the step's
    // longest; attention and convolution are causal, so the cut changes no log-prob).
    let chunk_len = |lo: usize, hi: usize| ro.rest_lens[lo..hi].iter().copied().max().unwrap_or(1).max(1);
    let chunk_rest = |d: &Device, lo: usize, hi: usize| {
        let l = chunk_len(lo, hi);
        let v: Vec<i64> = (lo..hi).flat_map(|r| ro.rest[r * ro.width..r * ro.width + l].iter().copied()).collect();
        Tensor::<2, Int>::from_data(TensorData::new(v, [hi - lo, l]), d)
    };
    let chunk_f = |v: &[f32], d: &Device, lo: usize, hi: usize| {
        let l = chunk_len(lo, hi);
        let v: Vec<f32> = (lo..hi).flat_map(|r| v[r * ro.width..r * ro.width + l].iter().copied()).collect();
        Tensor::<2>::from_data(TensorData::new(v, [hi - lo, l]), d)
    };
    let chunk_lp = |m: &Lfm2Model, d: &Device, lo: usize, hi: usize| {
        rest_logprobs(m, &ro.prompts[lo..hi], chunk_rest(d, lo, hi), temperature)
    };
    // Tokens one pass runs: each distinct prompt once, then every row's rest.
    let learner_tokens: usize = (0..ro.rows)
        .step_by(mb)
        .map(|lo| {
            let hi = (lo + mb).min(ro.rows);
            let prompts: usize =
                (lo..hi).filter(|&r| r == lo || ro.prompts[r - 1] != ro.prompts[r]).map(|r| ro.prompts[r].len()).sum();
            prompts + (hi - lo) * (chunk_len(lo, hi) - 1)
        })
        .sum();
    let host_lp = |m: &Lfm2Model| -> Vec<f32> {
        let mut out = Vec::with_capacity(ro.rows * ro.width);
        for lo in (0..ro.rows).step_by(mb) {
            let hi = (lo + mb).min(ro.rows);
            let l = chunk_len(lo, hi);
            let lp = chunk_lp(m, &plain, lo, hi).into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
            for row in lp.chunks(l) {
                out.extend_from_slice(row);
                out.extend(std::iter::repeat_n(0.0, ro.width - l));
            }
        }
        out
    };
    // One optimizer step: the old log-probs are the new ones, detached (no extra pass).
    let old = (s.g.num_iterations > 1).then(|| host_lp(policy));
    let refl = reference.map(host_lp);
    let adv_f: Vec<f32> = adv.iter().map(|&a| a as f32).collect();
    let w_f: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
    let eps = (s.g.epsilon, s.g.epsilon_high());

    // 4. num_iterations optimizer updates against the same old log-probs.
    let ad = learner.device().clone();
    let (mut loss_v, mut kl_v, mut clip_v, mut norm) = (0.0, 0.0, [0.0; 2], 0.0);
    for _ in 0..s.g.num_iterations {
        let mut acc = GradAccumulator::default();
        let (mut ls, mut ks, mut cl, mut ch) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for lo in (0..ro.rows).step_by(mb) {
            let hi = (lo + mb).min(ro.rows);
            let new = chunk_lp(&model, &ad, lo, hi);
            let a = Tensor::<2>::from_data(TensorData::new(adv_f[lo..hi].to_vec(), [hi - lo, 1]), &ad);
            let old_t = match &old {
                Some(o) => chunk_f(o, &ad, lo, hi),
                None => new.clone().detach(),
            };
            let t = token_terms(
                new,
                old_t,
                refl.as_ref().map(|r| chunk_f(r, &ad, lo, hi)),
                a,
                chunk_f(&ro.mask, &ad, lo, hi),
                eps,
                s.g.beta,
            );
            let w = Tensor::<1>::from_data(TensorData::new(w_f[lo..hi].to_vec(), [hi - lo]), &ad);
            let loss = (t.loss * w).sum();
            let lv = loss.clone().into_scalar::<f32>() as f64;
            if !lv.is_finite() {
                bail!("GRPO loss is {lv}");
            }
            ls += lv;
            ks += t.kl.sum().into_scalar::<f32>() as f64;
            cl += t.clip_low.into_scalar::<f32>() as f64;
            ch += t.clip_high.into_scalar::<f32>() as f64;
            acc.add(&model, &loss.backward(), 1.0)?;
        }
        (model, norm) = learner.update(model, acc)?;
        (loss_v, kl_v, clip_v) = (ls, ks / n_tok, [cl / n_tok, ch / n_tok]);
    }
    Ok((
        model,
        UpdateStats {
            loss: loss_v,
            grad_norm: norm,
            kl: kl_v,
            clip_low: clip_v[0],
            clip_high: clip_v[1],
            rows: ro.rows,
            learner_tokens,
            sampled_tokens: ro.completion_tokens,
        },
    ))
}

/// `reward.png`: mean total reward and each reward function's mean per step.
pub fn plot_rewards(run_dir: &Path, title: &str) -> Result<PathBuf> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl"))?;
    let recs: Vec<GrpoRecord> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut series: Vec<(String, Vec<(f64, f64)>)> =
        vec![("reward (weighted sum)".into(), recs.iter().map(|r| (r.step as f64, r.reward_mean)).collect())];
    let names: Vec<String> = recs.first().map(|r| r.rewards.keys().cloned().collect()).unwrap_or_default();
    for n in names {
        series.push((
            n.clone(),
            recs.iter().map(|r| (r.step as f64, r.rewards.get(&n).map_or(f64::NAN, |x| x[0]))).collect(),
        ));
    }
    let borrowed: Vec<(&str, Vec<(f64, f64)>)> = series.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let path = run_dir.join("reward.png");
    metrics::plot(&path, title, "mean reward", &borrowed)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t2(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn advantages_are_group_centred_and_scaled_as_scale_rewards_says() {
        let r = [1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0];
        // Group [1, 0, 0, 1]: mean 0.5, sample std sqrt(1/3). Group [2, 2, 2, 2]: zero std.
        let (a, zero) = advantages(&r, 4, ScaleRewards::Group, 0.0);
        let s = (1.0f64 / 3.0).sqrt();
        assert!(close(a[0], 0.5 / s) && close(a[1], -0.5 / s));
        assert_eq!(zero, 0.5);
        let (a, _) = advantages(&r, 4, ScaleRewards::Group, 1e-4);
        assert!(a[4..].iter().all(|&x| x == 0.0));
        // Batch: the std of all eight rewards (mean 1.25, Σ(r − m)² = 5.5, /7).
        let (a, _) = advantages(&r, 4, ScaleRewards::Batch, 0.0);
        let sb = (5.5f64 / 7.0).sqrt();
        assert!(close(a[0], 0.5 / sb) && close(a[2], -0.5 / sb) && a[5] == 0.0);
        // None: centred only.
        let (a, _) = advantages(&r, 4, ScaleRewards::None, 1e-4);
        assert_eq!(&a[..4], &[0.5, -0.5, -0.5, 0.5]);
    }

    #[test]
    fn ratios_clipping_and_loss_match_hand_computation() {
        let d = Device::default();
        // Two completions; A = [+1, -1]. Token log-ratios ln(1.5), ln(0.5), 0.
        let (l15, l05) = (1.5f32.ln(), 0.5f32.ln());
        let new = t2(&[l15, l05, 0.0, l15, l05, 0.0], 2, &d);
        let old = t2(&[0.0; 6], 2, &d);
        let adv = t2(&[1.0, -1.0], 2, &d);
        let mask = t2(&[1.0, 1.0, 1.0, 1.0, 1.0, 0.0], 2, &d);
        let t = token_terms(new.clone(), old.clone(), None, adv.clone(), mask.clone(), (0.2, 0.2), 0.0);
        // Row 1 (A=+1): ratio 1.5 -> min(1.5, 1.2) = 1.2 (clipped high); 0.5 -> min(0.5, 0.8) = 0.5; 1 -> 1.
        // Row 2 (A=-1): 1.5 -> min(-1.5, -1.2) = -1.5; 0.5 -> min(-0.5, -0.8) = -0.8 (clipped low); masked.
        let rows = t.loss.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert!(close(rows[0] as f64, -2.7) && close(rows[1] as f64, 2.3), "{rows:?}");
        assert_eq!((t.clip_low.into_scalar::<f32>(), t.clip_high.into_scalar::<f32>()), (1.0, 1.0));
        assert_eq!(t.kl.sum().into_scalar::<f32>(), 0.0);
        // Clip-higher (epsilon_high = 0.6): 1.5 is inside [0.8, 1.6], row 1 -> -(1.5 + 0.5 + 1).
        let t = token_terms(new, old, None, adv, mask, (0.2, 0.6), 0.0);
        let rows = t.loss.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        assert!(close(rows[0] as f64, -3.0) && close(rows[1] as f64, 2.3), "{rows:?}");
        assert_eq!((t.clip_low.into_scalar::<f32>(), t.clip_high.into_scalar::<f32>()), (1.0, 0.0));
    }

    #[test]
    fn kl_term_is_the_k3_estimator_scaled_by_beta() {
        let d = Device::default();
        // new = old (ratio 1, A = 0: no policy term); ref - new = 0.5 -> k3 = e^0.5 - 0.5 - 1.
        let new = t2(&[0.0, 0.0], 1, &d);
        let refl = t2(&[0.5, 0.0], 1, &d);
        let t = token_terms(new.clone(), new, Some(refl), t2(&[0.0], 1, &d), t2(&[1.0, 1.0], 1, &d), (0.2, 0.2), 0.1);
        let k3 = 0.5f64.exp() - 1.5;
        assert!(close(t.kl.into_scalar::<f32>() as f64, k3));
        assert!(close(t.loss.into_scalar::<f32>() as f64, 0.1 * k3));
    }

    #[test]
    fn loss_weights_follow_each_loss_type() {
        // Lengths 1, 3, 0 (masked), 2; backward passes of 2 completions; max_new_tokens 4.
        let lens = [1, 3, 0, 2];
        let w = |t| loss_weights(t, &lens, 2, 4);
        assert_eq!(w(LossType::Dapo), vec![1.0 / 6.0; 4]);
        assert_eq!(w(LossType::Grpo), vec![1.0 / 4.0, 1.0 / 12.0, 1.0 / 4.0, 1.0 / 8.0]);
        assert_eq!(w(LossType::DrGrpo), vec![1.0 / 16.0; 4]);
        // bnpo: pass 1 has 4 tokens, pass 2 has 2; each pass's mean counts half.
        assert_eq!(w(LossType::Bnpo), vec![1.0 / 8.0, 1.0 / 8.0, 1.0 / 4.0, 1.0 / 4.0]);
    }

    #[test]
    fn normalizations_give_their_hand_computed_losses() {
        // Rows of 1 and 3 completion tokens, A = +1 / -1, ratio 1: token sums -1 and +3.
        // dapo: (-1 + 3) / 4 = 0.5; grpo: (-1/1 + 3/3) / 2 = 0 (the long wrong answer costs
        // nothing); dr_grpo (max 4): 2 / (2 * 4) = 0.25; bnpo, one row per pass: as grpo, 0;
        // bnpo, both rows in one pass: as dapo, 0.5.
        let d = Device::default();
        let z = t2(&[0.0; 6], 2, &d);
        let mask = t2(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, &d);
        let t = token_terms(z.clone(), z, None, t2(&[1.0, -1.0], 2, &d), mask, (0.2, 0.2), 0.0);
        let sums = t.loss.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let loss = |ty, mb| {
            let w = loss_weights(ty, &[1, 3], mb, 4);
            sums.iter().zip(&w).map(|(&s, w)| s as f64 * w).sum::<f64>()
        };
        assert!(close(loss(LossType::Dapo, 2), 0.5));
        assert!(close(loss(LossType::Grpo, 2), 0.0));
        assert!(close(loss(LossType::DrGrpo, 2), 0.25));
        assert!(close(loss(LossType::Bnpo, 1), 0.0));
        assert!(close(loss(LossType::Bnpo, 2), 0.5));
    }

    fn single(prompt: &[u32], completion: &[u32]) -> Episode {
        let mut e = Episode::new(prompt.to_vec(), Conversation::default());
        e.push(completion, true);
        e
    }

    #[test]
    fn rollout_mask_covers_exactly_the_kept_completion_tokens() {
        let eps = [single(&[1, 2, 3], &[9, 7]), single(&[1, 2], &[8])];
        let r = rollout_batch(&eps, &[true, true], 0);
        assert_eq!((r.rows, r.width, r.completion_tokens), (2, 2, 3));
        assert_eq!(r.prompts, vec![&[1u32, 2, 3][..], &[1, 2][..]]);
        // The tokens after each prompt, right-padded, and which of them carry loss.
        assert_eq!(r.rest, vec![9, 7, 8, 0]);
        assert_eq!(r.mask, vec![1.0, 1.0, 1.0, 0.0]);
        assert_eq!((r.lens.clone(), r.rest_lens.clone()), (vec![2, 1], vec![2, 1]));
        // A masked (truncated) completion: its row carries nothing.
        let r = rollout_batch(&eps, &[false, true], 0);
        assert_eq!(r.mask, vec![0.0, 0.0, 1.0, 0.0]);
        assert_eq!((r.lens.clone(), r.completion_tokens), (vec![0, 1], 3));
    }

    #[test]
    fn dynamic_sampling_keeps_only_groups_with_a_reward_spread() {
        // Groups of 2: [1, 1] (no spread), [0, 1], [2, 2], [0.5, 0], [1, 0].
        let total = vec![1.0, 1.0, 0.0, 1.0, 2.0, 2.0, 0.5, 0.0, 1.0, 0.0];
        let episodes = (0..10).map(|i| single(&[1], &[i as u32 + 10])).collect();
        let s = Sampled { episodes, total, per_fn: BTreeMap::new() };
        let (e, t) = s.informative(2, 8);
        assert_eq!(t, vec![0.0, 1.0, 0.5, 0.0, 1.0, 0.0]);
        assert_eq!(e.iter().map(|e| e.tokens[1]).collect::<Vec<_>>(), vec![12, 13, 16, 17, 18, 19]);
        // At most max_groups of them, the first ones.
        assert_eq!(s.informative(2, 2).1, vec![0.0, 1.0, 0.5, 0.0]);
    }

    #[test]
    fn episode_tool_results_carry_no_loss() {
        // Prompt [1, 2]; turn 1 [5, 6] (own); tool text [40, 41, 42]; turn 2 [7] (own).
        let mut e = single(&[1, 2], &[5, 6]);
        e.push(&[40, 41, 42], false);
        e.push(&[7], true);
        e.turns = vec![("<|tool_call_start|>[f()]<|tool_call_end|>".into(), 1), ("It is 3.".into(), 0)];
        let r = rollout_batch(std::slice::from_ref(&e), &[true], 0);
        assert_eq!(r.prompts, vec![&[1u32, 2][..]]);
        assert_eq!(r.rest, vec![5, 6, 40, 41, 42, 7]);
        assert_eq!(r.mask, vec![1.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(r.lens, vec![3]);
    }

    #[test]
    fn rewards_read_the_calls_turn_and_the_final_answer() {
        let mut e = single(&[1], &[2]);
        e.turns =
            vec![("plan".into(), 0), ("<|tool_call_start|>[f()]<|tool_call_end|>".into(), 1), ("It is 3.".into(), 0)];
        assert_eq!(e.calls_text(), "<|tool_call_start|>[f()]<|tool_call_end|>");
        assert_eq!(e.answer_text(true), "It is 3.");
        // An episode that ends on a call (out of turns) or cut off has no answer.
        e.turns.pop();
        assert_eq!(e.answer_text(true), "");
        e.turns.push(("It is".into(), 0));
        e.truncated = true;
        assert_eq!(e.answer_text(true), "");
        // A single completion is both.
        let mut s = single(&[1], &[2]);
        s.turns = vec![("42".into(), 0)];
        assert_eq!((s.calls_text(), s.answer_text(false)), ("42", "42"));
    }
}
