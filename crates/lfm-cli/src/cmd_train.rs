//! `lfm train pretrain|sft --config FILE [--steps N] [--out DIR] [--resume latest|PATH] [--seed S]`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lfm_train::config::{Job, Overrides, RunConfig};
use lfm_train::trainer::{self, RunOptions};

#[derive(Subcommand)]
pub enum TrainCommand {
    /// (Continued) pre-training on a dataset built by `lfm data build`.
    Pretrain(TrainArgs),
    /// Supervised fine-tuning on chat / tool-use conversations (JSONL).
    Sft(TrainArgs),
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
    /// Stop after this step (checkpointing it), as if interrupted; the schedule still spans `steps`.
    #[arg(long)]
    pub stop_after: Option<u64>,
}

pub fn run(cmd: &TrainCommand, device_flag: Option<&str>) -> Result<()> {
    let (job, a) = match cmd {
        TrainCommand::Pretrain(a) => (Job::Pretrain, a),
        TrainCommand::Sft(a) => (Job::Sft, a),
    };
    let mut cfg = RunConfig::load(&a.config)?;
    if cfg.job != job {
        bail!(
            "{}: job = {:?} but this is `lfm train {}`",
            a.config.display(),
            cfg.job,
            if job == Job::Pretrain {
                "pretrain"
            } else {
                "sft"
            }
        );
    }
    cfg.apply(&Overrides {
        steps: a.steps,
        out: a.out.clone(),
        seed: a.seed,
        device: device_flag.map(str::to_string),
    });
    cfg.validate(&a.config.display().to_string())?;
    let device = lfm_model::device::parse_device(cfg.run.device.as_deref().unwrap_or("cpu"))?;
    let s = trainer::run(
        &cfg,
        &device,
        &RunOptions {
            resume: a.resume.clone(),
            stop_after: a.stop_after,
            progress: true,
        },
    )?;
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
