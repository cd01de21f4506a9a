//! `lfm train pretrain|sft|grpo --config FILE [--steps N] [--out DIR] [--resume latest|PATH] [--seed S]
//! [--init-from DIR] [--stop-after N]`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lfm_train::config::{Job, Overrides, RunConfig};
use lfm_train::trainer::{self, RunOptions};

use crate::progress;

#[derive(Subcommand)]
pub enum TrainCommand {
    /// (Continued) pre-training on a dataset built by `lfm data build`.
    Pretrain(TrainArgs),
    /// Supervised fine-tuning on chat / tool-use conversations (JSONL).
    Sft(TrainArgs),
    /// GRPO reinforcement learning with the evaluation scorers as rewards (tool calls, IFEval, ...).
    Grpo(TrainArgs),
}

fn grpo(a: &TrainArgs, device_flag: Option<&str>) -> Result<()> {
    use lfm_train::grpo::{self, GrpoConfig, GrpoOptions};
    let mut cfg = GrpoConfig::load(&a.config)?;
    if let Some(s) = a.steps {
        cfg.run.steps = s;
    }
    if let Some(o) = &a.out {
        cfg.run.out = o.clone();
    }
    if let Some(s) = a.seed {
        cfg.run.seed = s;
    }
    if let Some(d) = device_flag {
        cfg.run.device = Some(d.to_string());
    }
    if let Some(p) = &a.init_from {
        cfg.model.init_from = Some(p.clone());
        cfg.model.preset = None;
        cfg.warm_start = None;
    }
    cfg.validate(&a.config.display().to_string())?;
    let device = lfm_model::device::parse_device(cfg.run.device.as_deref().unwrap_or("cpu"))?;
    let pb = progress::bar(cfg.run.steps, "GRPO steps");
    let opts = GrpoOptions { resume: a.resume.clone(), stop_after: a.stop_after, progress: Some(pb.clone()) };
    let s = grpo::run(&cfg, &device, &opts)?;
    drop(pb);
    println!("run directory   {}", s.run_dir.display());
    println!("steps           {}", s.steps_done);
    if let (Some(f), Some(l)) = (s.first_reward, s.last_reward) {
        println!("mean reward     {f:.3} (first step of this run) -> {l:.3} (last)");
    }
    if let Some(c) = &s.last_checkpoint {
        println!("checkpoint      {}", c.display());
    }
    println!(
        "metrics         {} (one object per step), curves {}",
        s.run_dir.join("metrics.jsonl").display(),
        s.run_dir.join("reward.png").display()
    );
    Ok(())
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
    /// Stop after this step (checkpointing it), as if interrupted; the schedule still spans `steps`.
    #[arg(long)]
    pub stop_after: Option<u64>,
}

pub fn run(cmd: &TrainCommand, device_flag: Option<&str>) -> Result<()> {
    let (job, a) = match cmd {
        TrainCommand::Pretrain(a) => (Job::Pretrain, a),
        TrainCommand::Sft(a) => (Job::Sft, a),
        TrainCommand::Grpo(a) => return grpo(a, device_flag),
    };
    let mut cfg = RunConfig::load(&a.config)?;
    if cfg.job != job {
        bail!(
            "{}: job = {:?} but this is `lfm train {}`",
            a.config.display(),
            cfg.job,
            if job == Job::Pretrain { "pretrain" } else { "sft" }
        );
    }
    cfg.apply(&Overrides {
        steps: a.steps,
        out: a.out.clone(),
        seed: a.seed,
        device: device_flag.map(str::to_string),
        init_from: a.init_from.clone(),
    });
    cfg.validate(&a.config.display().to_string())?;
    let spec = cfg.run.device.clone().unwrap_or_else(|| "cpu".into());
    let devices = lfm_model::device::parse_devices(&spec)?;
    if devices.len() > 1 {
        println!("data-parallel over {} replicas: {spec}", devices.len());
    }
    let pb = progress::bar(cfg.run.steps, "steps");
    let opts = RunOptions { resume: a.resume.clone(), stop_after: a.stop_after, progress: Some(pb.clone()) };
    let s = trainer::run_parallel(&cfg, &devices, &opts)?;
    drop(pb);
    println!("run directory   {}", s.run_dir.display());
    println!("steps           {}", s.steps_done);
    println!("last train loss {:.4}", s.last_loss);
    if let Some(v) = s.last_val_loss {
        println!("val loss        {v:.4} (perplexity {:.2})", v.exp());
    }
    if let Some(c) = &s.last_checkpoint {
        println!("checkpoint      {}", c.display());
    }
    println!("throughput      {:.0} tokens/s", s.tokens_per_s);
    println!("curves          {}", s.run_dir.join("loss.png").display());
    Ok(())
}
