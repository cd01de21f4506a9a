//! `lfm` — the single command-line entry point of lfm-rs.
//!
//! Every subcommand takes `--device cpu|wgpu[:N]|cuda[:N]`; errors print as one line on
//! stderr and exit with status 1.

mod cmd_adapter;
mod cmd_bench;
mod cmd_chat;
mod cmd_convert;
mod cmd_data;
mod cmd_eval;
mod cmd_export;
mod cmd_generate;
mod cmd_info;
mod cmd_logits;
mod cmd_train;
mod progress;
mod quickstart;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "lfm", version, about = "Train, evaluate and export LFM2-family language models")]
struct Cli {
    /// Device to run on: cpu, wgpu[:N] or cuda[:N] (the GPU ones need the matching build feature).
    /// Default: cpu (for `lfm train`, the config's `[run] device`, else cpu).
    #[arg(long, global = true)]
    device: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline on the bundled corpus, on the CPU in about a minute: parity of the
    /// embedded transformers-made LFM2, a BPE tokenizer, parquet shards, a tiny model trained
    /// from scratch, validation perplexity and samples, and a Q8_0 GGUF export with its
    /// quality report.
    Quickstart(quickstart::QuickstartArgs),
    /// Prints a checkpoint's configuration summary and parameter count; for a GGUF file also
    /// its tensor types, size and whether it carries a tokenizer and chat template.
    Info {
        /// Checkpoint directory (config.json + model.safetensors) or GGUF file.
        #[arg(long)]
        model: PathBuf,
    },
    /// Writes logits (and optionally a greedy continuation) for `input_ids` from a safetensors file.
    Logits(cmd_logits::LogitsArgs),
    /// Generates text from a prompt, streaming tokens.
    Generate(cmd_generate::GenerateArgs),
    /// LoRA adapters: merge one into its base.
    #[command(subcommand)]
    Adapter(cmd_adapter::AdapterCommand),
    /// Chat templates: render conversations exactly as the checkpoint's template does.
    #[command(subcommand)]
    Chat(cmd_chat::ChatCommand),
    /// Re-writes a checkpoint as f32 HF safetensors (e.g. bf16 -> f32), with its tokenizer.
    Convert(cmd_convert::ConvertArgs),
    /// Tokenizer tools.
    #[command(subcommand)]
    Tokenizer(cmd_data::TokenizerCommand),
    /// Datasets: local corpora -> tokenized parquet shards.
    #[command(subcommand)]
    Data(cmd_data::DataCommand),
    /// Throughput and memory: prefill, decode (f32, Q8_0, Q4_0) and training steps.
    Bench(cmd_bench::BenchArgs),
    /// Export: GGUF files (F32 … Q4_0, Q4_K_M, with llama.cpp's mixes) for llama.cpp and quantized inference.
    #[command(subcommand)]
    Export(cmd_export::ExportCommand),
    /// Evaluation: scorers over given responses or a model's generations.
    #[command(subcommand)]
    Eval(cmd_eval::EvalCommand),
    /// Training: continued pre-training, supervised fine-tuning and GRPO from TOML run configs.
    #[command(subcommand)]
    Train(cmd_train::TrainCommand),
}

/// Sampling flags shared by commands that generate. A flag left out takes the checkpoint's
/// `generation_config.json` value where the command reads it (`lfm generate`), greedy otherwise.
#[derive(Args, Clone, Debug, Default)]
pub struct SamplingArgs {
    /// Sampling temperature; 0 means greedy.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Keep only the k most likely tokens (0 = off).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Drop tokens less likely than this fraction of the most likely one (0 = off).
    #[arg(long)]
    pub min_p: Option<f32>,
    /// Penalty on tokens already present (1 = off).
    #[arg(long)]
    pub repetition_penalty: Option<f32>,
    /// Seed for the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl SamplingArgs {
    /// The flags given, over `base` (greedy when there is none).
    pub fn over(&self, base: Option<lfm_model::generate::SamplingConfig>) -> lfm_model::generate::SamplingConfig {
        let b = base.unwrap_or_default();
        lfm_model::generate::SamplingConfig {
            temperature: self.temperature.unwrap_or(b.temperature),
            top_k: self.top_k.unwrap_or(b.top_k),
            top_p: self.top_p.unwrap_or(b.top_p),
            min_p: self.min_p.unwrap_or(b.min_p),
            repetition_penalty: self.repetition_penalty.unwrap_or(b.repetition_penalty),
            seed: self.seed,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Train(t) = &cli.command {
        return cmd_train::run(t, cli.device.as_deref());
    }
    let device = lfm_model::device::parse_device(cli.device.as_deref().unwrap_or("cpu"))?;
    match cli.command {
        Command::Quickstart(a) => quickstart::run(&a, &device),
        Command::Info { model } => cmd_info::run(&model),
        Command::Logits(a) => cmd_logits::run(&a, &device),
        Command::Generate(a) => cmd_generate::run(&a, &device),
        Command::Chat(cmd_chat::ChatCommand::Render(a)) => cmd_chat::render(&a),
        Command::Adapter(cmd_adapter::AdapterCommand::Merge(a)) => cmd_adapter::merge(&a, &device),
        Command::Convert(a) => cmd_convert::run(&a, &device),
        Command::Tokenizer(cmd_data::TokenizerCommand::Train(a)) => cmd_data::tokenizer_train(&a),
        Command::Data(cmd_data::DataCommand::Build(a)) => cmd_data::data_build(&a),
        Command::Data(cmd_data::DataCommand::Inspect(a)) => cmd_data::data_inspect(&a),
        Command::Data(cmd_data::DataCommand::Teacher(a)) => cmd_data::data_teacher(&a, &device),
        Command::Bench(a) => cmd_bench::run(&a, &device),
        Command::Export(cmd_export::ExportCommand::Gguf(a)) => cmd_export::gguf(&a, &device),
        Command::Export(cmd_export::ExportCommand::GgufLora(a)) => cmd_export::gguf_lora(&a),
        Command::Eval(cmd_eval::EvalCommand::Ifeval(a)) => cmd_eval::ifeval(&a, &device),
        Command::Eval(cmd_eval::EvalCommand::Bfcl(a)) => cmd_eval::bfcl(&a, &device),
        Command::Eval(cmd_eval::EvalCommand::Perplexity(a)) => cmd_eval::perplexity(&a, &device),
        Command::Eval(cmd_eval::EvalCommand::Mc(a)) => cmd_eval::mc(&a, &device),
        Command::Eval(cmd_eval::EvalCommand::Pairs(a)) => cmd_eval::pairs(&a, &device),
        Command::Train(_) => unreachable!("handled above"),
    }
}

/// Keeps freed memory in the process heap for reuse (glibc only).
///
/// By default glibc serves large blocks with their own `mmap` and returns them on `free`. A
/// training step frees and re-allocates activations, gradients and optimizer states of up to a
/// few hundred MB each, and every fresh mapping is page-faulted and zeroed by the kernel again:
/// `perf` showed 23% of a 350M training step in `clear_page`. With every block on the heap and
/// no trimming, train_4x256 went from 31 to 55 tok/s on 2 cores, and peak RSS stayed under 8 GB.
/// A trim threshold of -1 turns trimming off altogether, and one arena keeps the rayon workers'
/// allocations on the same heap (a per-thread arena is mmap'd and shrunk on its own).
/// `lfm bench` hands freed heap back explicitly between benchmarks (`malloc_trim`).
/// `LFM_SYSTEM_MALLOC=1` keeps glibc's defaults.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("LFM_SYSTEM_MALLOC").is_some() {
            return;
        }
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_TOP_PAD: i32 = -2;
        const M_MMAP_MAX: i32 = -4;
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: mallopt only changes allocator parameters; it is called first thing in main,
        // before any thread starts or any allocation depends on the old settings.
        unsafe {
            mallopt(M_MMAP_MAX, 0);
            mallopt(M_TRIM_THRESHOLD, -1);
            mallopt(M_ARENA_MAX, 1);
            mallopt(M_TOP_PAD, 1 << 30);
        }
    }
}

#[cfg(unix)]
extern "C" {
    /// libc's `signal`: installs `handler` (`SIG_DFL` 0, `SIG_IGN` 1) and returns the previous one.
    fn signal(signum: i32, handler: usize) -> usize;
}

/// A closed pipe ends the process quietly, as it does `cat` or `grep` (`lfm info X | head -1`):
/// Rust starts with SIGPIPE ignored, so `println!` would otherwise panic on the failed write.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    {
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: restoring the default disposition of SIGPIPE installs no handler of ours; it
        // runs first thing in main, before any thread exists.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP remove the temporaries the command registered
/// ([`lfm_model::io::register_temp`]: a half-written GGUF, …), then end the process with
/// status 128 + the signal number, as a shell reports it. The signals are taken on a thread of
/// their own (signal-hook's self-pipe), where removing files is safe. A signal the process
/// started with ignored (`nohup`, `cmd &` in a script) stays ignored. SIGKILL cannot be caught:
/// the next writer of the same output removes what it left
/// ([`lfm_model::io::OutputLock::remove_stale_temps`]).
fn clean_up_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        const SIG_IGN: usize = 1;
        let handled: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|&sig| {
                // SAFETY: reads the disposition by setting SIG_IGN and putting the previous one
                // back; this runs first thing in main, before any thread exists.
                let previous = unsafe {
                    let p = signal(sig, SIG_IGN);
                    signal(sig, p);
                    p
                };
                previous != SIG_IGN
            })
            .collect();
        let mut signals = match signal_hook::iterator::Signals::new(&handled) {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "warning: cannot handle SIGINT/SIGTERM/SIGHUP ({e}); an interrupted command may leave temporary files"
                );
                return;
            }
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                lfm_model::io::remove_registered_temps();
                std::process::exit(128 + sig);
            }
        });
    }
}

fn main() -> ExitCode {
    quiet_broken_pipe();
    clean_up_on_signals();
    tune_allocator();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => {
            // A checkpoint without a chat template is said once, after the work, so that a
            // failed command's error stays its only line on stderr.
            if let Some(note) = lfm_data::template::take_fallback_note() {
                eprintln!("note: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // One line: the context chain joined, newlines flattened.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
