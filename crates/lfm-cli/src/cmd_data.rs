//! `lfm tokenizer train`, `lfm data build`, `lfm data inspect`: thin wrappers over lfm-data.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::shards::{self, BuildOptions, Manifest};
use lfm_data::source::{expand_inputs, DocStream, ReadOptions};
use lfm_data::tokenizer::{self, BpeOptions};

use crate::progress;

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Trains a byte-level BPE with LFM2's special tokens at LFM2's ids; writes tokenizer.json
    /// and tokenizer_config.json into --out.
    Train(TokenizerTrainArgs),
}

#[derive(Args)]
pub struct TokenizerTrainArgs {
    /// Text/JSONL/parquet files, directories or globs.
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<String>,
    /// Vocabulary size, special tokens and the 256 byte symbols included.
    #[arg(long)]
    vocab_size: usize,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// A pair must occur this often to be merged.
    #[arg(long, default_value_t = 2)]
    min_frequency: u64,
    /// JSONL field / parquet column holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
}

#[derive(Subcommand)]
pub enum DataCommand {
    /// Tokenizes local text/JSONL/parquet into parquet shards with a manifest.json.
    Build(DataBuildArgs),
    /// Prints a dataset's manifest summary, verifies checksums and shows the first window.
    Inspect(DataInspectArgs),
    /// Precomputes a distillation run's teacher top-K logits (every micro-batch of its steps, in
    /// its order) into parquet shards + teacher_manifest.json; continues an interrupted job.
    Teacher(DataTeacherArgs),
}

#[derive(Args)]
pub struct DataTeacherArgs {
    /// The distillation run config (`job = "distill"`): its [distill] teacher and top_k, its
    /// data, seq_len, batch shape, seed and steps decide what is computed.
    #[arg(long)]
    config: PathBuf,
    /// Override `[distill] teacher`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Override `[distill] top_k`.
    #[arg(long)]
    top_k: Option<usize>,
    /// Override `[data] dataset` (a dataset built by `lfm data build`).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Override `[run] steps` (a later call with more steps extends the same directory).
    #[arg(long)]
    steps: Option<u64>,
    /// Micro-batches per parquet shard.
    #[arg(long, default_value_t = 256)]
    shard_micros: u64,
    /// Output directory; point `[distill] teacher_topk` at it.
    #[arg(long)]
    out: PathBuf,
}

/// `lfm data teacher`.
pub fn data_teacher(a: &DataTeacherArgs, device: &burn::tensor::Device) -> Result<()> {
    let mut cfg = lfm_train::config::RunConfig::load(&a.config)?;
    if let Some(d) = cfg.distill.as_mut() {
        if let Some(m) = &a.model {
            d.teacher = m.clone();
        }
        if let Some(k) = a.top_k {
            d.top_k = k;
        }
        // The teacher is what is computed here, not read.
        d.teacher_topk = None;
    }
    if let Some(s) = a.steps {
        cfg.run.steps = s;
    }
    if let Some(d) = &a.dataset {
        cfg.data.dataset = Some(d.clone());
        cfg.data.sft_jsonl = None;
    }
    cfg.validate(&a.config.display().to_string())?;
    if cfg.job != lfm_train::config::Job::Distill {
        bail!("{}: job = {:?}; `lfm data teacher` reads a distill config", a.config.display(), cfg.job.as_str());
    }
    let pb = progress::bar(0, "micro-batches");
    let s = lfm_train::distill::precompute(&cfg, &a.out, a.shard_micros, device, &pb)?;
    pb.finish_and_clear();
    println!(
        "teacher top-K of {} micro-batches in {} shards ({} were already there) -> {}",
        s.micros,
        s.shards,
        s.micros_done_before,
        a.out.join("teacher_manifest.json").display()
    );
    Ok(())
}

#[derive(Args)]
pub struct DataBuildArgs {
    /// Text/JSONL/parquet files, directories or globs.
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<String>,
    /// tokenizer.json to encode with.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Output directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Tokens per shard.
    #[arg(long, default_value_t = 100_000_000)]
    shard_tokens: u64,
    /// Tokens per row group (the loader's shuffle unit).
    #[arg(long, default_value_t = 1 << 20)]
    row_group_tokens: u64,
    /// Fraction of documents held back for validation.
    #[arg(long, default_value_t = 0.01)]
    val_fraction: f64,
    /// Seed of the validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// JSONL field / parquet column holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Checkpoint directory whose config.json the tokenizer must fit (vocab size, bos/eos/pad ids).
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(Args)]
pub struct DataInspectArgs {
    /// Dataset directory (with manifest.json).
    dir: PathBuf,
    /// Window length to show.
    #[arg(long, default_value_t = 64)]
    seq_len: usize,
}

pub(crate) fn read_opts(field: &str) -> ReadOptions {
    ReadOptions { text_field: field.into(), ..Default::default() }
}

pub fn tokenizer_train(a: &TokenizerTrainArgs) -> Result<()> {
    let files = expand_inputs(&a.input)?;
    let total: u64 = files.iter().map(|f| std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0)).sum();
    let pb = progress::bar(total, "input bytes read");
    let mut stream = DocStream::new(files, read_opts(&a.text_field));
    let mut error = None;
    let mut docs = 0u64;
    let started = Instant::now();
    let tok = {
        let iter = std::iter::from_fn(|| match stream.next() {
            Some(Ok(d)) => {
                docs += 1;
                pb.inc(d.text.len() as u64);
                Some(d.text)
            }
            Some(Err(e)) => {
                error = Some(e);
                None
            }
            None => None,
        });
        let opts = BpeOptions {
            vocab_size: a.vocab_size,
            min_frequency: a.min_frequency,
            add_bos: true,
            show_progress: false,
        };
        tokenizer::train_bpe(iter, &opts)
    };
    pb.finish_and_clear();
    if let Some(e) = error {
        return Err(e);
    }
    let tok = tok?;
    if docs == 0 {
        bail!("{}: no documents", a.input.join(", "));
    }
    tokenizer::save_dir(&tok, &a.out, 32768)?;
    println!(
        "trained a byte-level BPE on {docs} documents in {:.1}s: vocab {} -> {}",
        started.elapsed().as_secs_f64(),
        tok.get_vocab_size(true),
        a.out.join("tokenizer.json").display()
    );
    Ok(())
}

pub fn data_build(a: &DataBuildArgs) -> Result<()> {
    // Under mpirun / srun the ranks split the input files (see lfm_data::shards); rank 0
    // writes the manifest and prints. A failing rank ends the whole job.
    lfm_train::dist::run_rank(|| data_build_rank(a))
}

fn data_build_rank(a: &DataBuildArgs) -> Result<()> {
    if let Some(dir) = &a.model {
        let cfg = lfm_model::Lfm2Config::from_hf_file(&dir.join("config.json"))?;
        let tok = tokenizer::load(&a.tokenizer)?;
        tokenizer::check_against_model(&tok, &cfg, &a.tokenizer.display().to_string())?;
    }
    let mut o = BuildOptions::new(a.input.clone(), a.tokenizer.clone(), a.out.clone());
    o.shard_tokens = a.shard_tokens;
    o.row_group_tokens = a.row_group_tokens;
    o.val_fraction = a.val_fraction;
    o.seed = a.seed;
    o.read = read_opts(&a.text_field);
    // Conversations are rendered with the chat template beside the tokenizer, when it has one.
    if a.tokenizer.file_name().is_some_and(|n| n == "tokenizer.json") {
        let dir = a.tokenizer.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let codec = lfm_data::template::TextCodec::load(dir)?;
        if codec.templates.is_some() {
            o.read.chat = Some(std::sync::Arc::new(codec));
        }
    }
    let rank = lfm_train::dist::rank();
    // The build locks --out itself (a second build on it fails at once).
    let pb = if rank == 0 { progress::bar(0, "input bytes (approx.)") } else { progress::hidden() };
    let (m, report) = shards::build_ranked(&o, &pb, &lfm_train::dist::MpiRanks)?;
    pb.finish_and_clear();
    if rank != 0 {
        return Ok(());
    }
    let skipped: u64 = m.sources.iter().map(|s| s.skipped_empty).sum();
    if skipped > 0 {
        eprintln!("warning: skipped {skipped} empty documents (counts per source in manifest.json)");
    }
    println!(
        "{} documents, {} tokens in {:.1}s ({:.0} docs/s, {:.0} tok/s): train {} docs / {} tokens in {} shards, val {} docs / {} tokens -> {}",
        report.documents,
        report.tokens,
        report.seconds,
        report.documents as f64 / report.seconds.max(1e-9),
        report.tokens as f64 / report.seconds.max(1e-9),
        m.train.documents,
        m.train.tokens,
        m.train.shards.len(),
        m.val.documents,
        m.val.tokens,
        a.out.display()
    );
    Ok(())
}

pub fn data_inspect(a: &DataInspectArgs) -> Result<()> {
    let m = Manifest::load(&a.dir)?;
    let pb = progress::bar(0, "shards hashed");
    let expect = lfm_data::verify::Expect { no_cache: true, ..Default::default() };
    lfm_data::verify::verify_dataset(&a.dir, &expect, &pb)?;
    drop(pb);
    println!("dataset     {}", a.dir.display());
    println!(
        "tokenizer   {} (from {}, sha256 {}…, vocab {})",
        m.tokenizer.path,
        m.tokenizer.source,
        &m.tokenizer.sha256[..12],
        m.tokenizer.vocab_size
    );
    for s in &m.sources {
        println!("source      {} ({} documents, {} empty skipped)", s.path, s.documents, s.skipped_empty);
    }
    println!("train       {} documents, {} tokens, {} shards", m.train.documents, m.train.tokens, m.train.shards.len());
    println!("val         {} documents, {} tokens, {} shards", m.val.documents, m.val.tokens, m.val.shards.len());
    println!("checksums   ok");
    let mut l = Loader::new(&a.dir, LoaderConfig { shuffle: false, ..LoaderConfig::train(1, a.seq_len, 0) }, None)?;
    if let Some(b) = l.next_batch()? {
        let ids: Vec<String> = b.window(0).iter().map(u32::to_string).collect();
        println!("first window [{}]", ids.join(", "));
        if let Ok(tok) = tokenizer::load(&a.dir.join(&m.tokenizer.path)) {
            let text = tok.decode(b.window(0), false).unwrap_or_default();
            println!("as text     {text:?}");
        }
    }
    Ok(())
}
