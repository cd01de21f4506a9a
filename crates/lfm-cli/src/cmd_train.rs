//! `lfm train pretrain|sft|grpo|dpo|distill --config FILE [--steps N] [--out DIR] [--resume latest|PATH] [--seed S]
//! [--init-from DIR] [--adapter DIR] [--stop-after N]`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lfm_train::config::{Job, Overrides, RunConfig};
use lfm_train::engine::{self, RunOptions};

use crate::progress;

#[derive(Subcommand)]
pub enum TrainCommand {
    /// (Continued) pre-training on a dataset built by `lfm data build`.
    Pretrain(TrainArgs),
    /// Supervised fine-tuning on chat / tool-use conversations (JSONL).
    Sft(TrainArgs),
    /// GRPO reinforcement learning with the evaluation scorers as rewards (tool calls, IFEval, ...).
    Grpo(TrainArgs),
    /// DPO / IPO on preference pairs (prompt, chosen, rejected) from a trained checkpoint.
    Dpo(TrainArgs),
    /// Top-K logit distillation from a teacher checkpoint (same tokenizer) on a dataset or SFT data.
    Distill(TrainArgs),
}

#[derive(Args)]
pub struct TrainArgs {
    /// TOML run configuration (see configs/).
    #[arg(long)]
    pub config: PathBuf,
    /// Override `[run] steps`.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Override `[run] out` (the run directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Resume from `latest` (the newest complete checkpoint of the run directory) or a checkpoint path.
    #[arg(long)]
    pub resume: Option<String>,
    /// Override `[run] seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override `[model]`: start from this HF checkpoint directory (e.g. a quickstart checkpoint).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Continue training this PEFT LoRA adapter directory (on `--init-from` / `[model] init_from`,
    /// its base); its adapter_config.json sets `[adapter]`.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Stop after this step (checkpointing it), as if interrupted; the schedule still spans `steps`.
    #[arg(long)]
    pub stop_after: Option<u64>,
}

pub fn run(cmd: &TrainCommand, device_flag: Option<&str>) -> Result<()> {
    // Under mpirun / srun this process is one rank; a failing rank ends the whole job.
    lfm_train::dist::run_rank(|| run_rank(cmd, device_flag))
}

fn run_rank(cmd: &TrainCommand, device_flag: Option<&str>) -> Result<()> {
    let (job, a) = match cmd {
        TrainCommand::Pretrain(a) => (Job::Pretrain, a),
        TrainCommand::Sft(a) => (Job::Sft, a),
        TrainCommand::Grpo(a) => (Job::Grpo, a),
        TrainCommand::Dpo(a) => (Job::Dpo, a),
        TrainCommand::Distill(a) => (Job::Distill, a),
    };
    let mut cfg = RunConfig::load(&a.config)?;
    if cfg.job != job {
        bail!("{}: job = {:?} but this is `lfm train {}`", a.config.display(), cfg.job.as_str(), job.as_str());
    }
    cfg.apply(&Overrides {
        steps: a.steps,
        out: a.out.clone(),
        seed: a.seed,
        device: device_flag.map(str::to_string),
        init_from: a.init_from.clone(),
        adapter: a.adapter.clone(),
    });
    cfg.validate(&a.config.display().to_string())?;
    let (rank, ranks) = (lfm_train::dist::rank(), lfm_train::dist::size());
    let spec = lfm_train::dist::rank_device(cfg.run.device.as_deref().unwrap_or("cpu"));
    let devices = lfm_model::device::parse_devices(&spec)?;
    if devices.len() > 1 {
        println!("data-parallel over {} replicas: {spec}", devices.len());
    }
    if ranks > 1 && rank == 0 {
        println!("data-parallel over {ranks} MPI ranks, one device each ({spec})");
    }
    // Rank 0 shows the progress and the summary; the other ranks train quietly.
    let pb = (rank == 0).then(|| progress::bar(cfg.run.steps, "steps"));
    let opts =
        RunOptions { resume: a.resume.clone(), stop_after: a.stop_after, progress: pb.as_ref().map(|p| (**p).clone()) };
    let s = engine::run_parallel(&cfg, &devices, &opts)?;
    drop(pb);
    if rank != 0 {
        return Ok(());
    }
    println!("run directory   {}", s.run_dir.display());
    println!("steps           {}", s.steps_done);
    println!("last train loss {:.4}", s.last_loss);
    let reward = |r: &Option<serde_json::Value>| r.as_ref().and_then(|r| r.get("reward_mean")?.as_f64());
    if let (Some(f), Some(l)) = (reward(&s.first_record), reward(&s.last_record)) {
        println!("mean reward     {f:.3} (first step of this run) -> {l:.3} (last)");
    }
    let pref = |r: &Option<serde_json::Value>, k: &str| r.as_ref().and_then(|r| r.get(k)?.as_f64());
    if let (Some(f), Some(l)) =
        (pref(&s.first_record, "rewards/accuracies"), pref(&s.last_record, "rewards/accuracies"))
    {
        println!("pair accuracy   {f:.3} (first step of this run) -> {l:.3} (last; implicit rewards)");
    }
    match s.last_val_loss {
        Some(v) if job == Job::Dpo => println!("val loss        {v:.4} (DPO loss on [data] pairs_val)"),
        Some(v) => println!("val loss        {v:.4} (perplexity {:.2})", v.exp()),
        None => {}
    }
    if let Some(c) = &s.last_checkpoint {
        println!("checkpoint      {}", c.display());
    }
    println!("throughput      {:.0} tokens/s (tokens that carry loss)", s.tokens_per_s);
    if let Some(rss) = progress::peak_rss_bytes() {
        println!("peak RSS        {:.0} MiB", rss as f64 / (1 << 20) as f64);
    }
    let curves = match job {
        Job::Grpo => "loss.png, reward.png",
        Job::Dpo => "loss.png, rewards.png",
        Job::Distill => "loss.png, distill.png",
        _ => "loss.png",
    };
    println!(
        "curves          {} ({curves}); metrics {}",
        s.run_dir.display(),
        s.run_dir.join("metrics.jsonl").display()
    );
    Ok(())
}
