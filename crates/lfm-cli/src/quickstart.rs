//! `lfm quickstart`: the embedded default job, CPU, about a minute. Everything it needs is
//! embedded in the binary (the bundled Jargon File corpus, `configs/quickstart.toml` and the
//! transformers parity fixture `data/lfm2-tiny`), everything it writes goes under one
//! directory it prints:
//!
//! 1. parity: the embedded tiny LFM2 made with transformers, loaded through the HF loader, must
//!    reproduce transformers' logits, cached greedy logits and ids (`lfm_model::reference`);
//! 2. a byte-level BPE tokenizer trained on the corpus (LFM2's special-token ids);
//! 3. the corpus tokenized into parquet shards with a validation split;
//! 4. a tiny LFM2 trained from scratch (`lfm train pretrain` with the embedded config);
//! 5. validation perplexity against the unigram baseline, and a few sampled lines;
//! 6. a Q8_0 GGUF export with its quality report on the validation split.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::Device;
use clap::Args;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use lfm_model::reference;

use lfm_data::shards::{self, BuildOptions};
use lfm_data::tokenizer::{self, BpeOptions};
use lfm_train::config::{Overrides, RunConfig};
use lfm_train::engine::{self, RunOptions};

use crate::progress;

const FILES: [(&str, &[u8]); 5] = [
    ("config.json", include_bytes!("../../../data/lfm2-tiny/config.json")),
    ("model.safetensors", include_bytes!("../../../data/lfm2-tiny/model.safetensors")),
    ("tokenizer.json", include_bytes!("../../../data/lfm2-tiny/tokenizer.json")),
    ("tokenizer_config.json", include_bytes!("../../../data/lfm2-tiny/tokenizer_config.json")),
    ("reference.safetensors", include_bytes!("../../../data/lfm2-tiny/reference.safetensors")),
];

const CORPUS: &[u8] = include_bytes!("../../../data/corpus/jargon.jsonl");
const CONFIG: &str = include_str!("../../../configs/quickstart.toml");

#[derive(Args)]
pub struct QuickstartArgs {
    /// Output directory (default: a new temporary directory); must not hold an earlier run.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Optimizer steps (default: the embedded config's).
    #[arg(long)]
    steps: Option<u64>,
    /// BPE vocabulary size.
    #[arg(long, default_value_t = 4096)]
    vocab_size: usize,
    /// Prompts for the samples.
    #[arg(long, default_values_t = ["The hacker".to_string(), "A kludge is".to_string(), "In the early days of".to_string()])]
    prompt: Vec<String>,
}

pub fn run(a: &QuickstartArgs, device: &Device) -> Result<()> {
    let dir = match &a.out {
        Some(d) => d.clone(),
        None => tempfile::Builder::new().prefix("lfm-quickstart-").tempdir()?.keep(),
    };
    if dir.join("run").exists() {
        bail!("{}: already holds a quickstart run; choose another --out", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    println!("lfm quickstart -> {}", dir.display());
    parity(&dir.join("fixture"), device)?;

    // 2. Tokenizer.
    let corpus = dir.join("corpus/jargon.jsonl");
    std::fs::create_dir_all(corpus.parent().unwrap())?;
    std::fs::write(&corpus, CORPUS)?;
    let texts: Vec<String> = std::str::from_utf8(CORPUS)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let pb = progress::spinner(format!("training a {}-token BPE on {} documents", a.vocab_size, texts.len()));
    let tok = tokenizer::train_bpe(texts.iter(), &BpeOptions { vocab_size: a.vocab_size, ..Default::default() })?;
    let tok_dir = dir.join("tokenizer");
    tokenizer::save_dir(&tok, &tok_dir, 4096)?;
    pb.finish_and_clear();
    println!(
        "2/6 tokenizer: byte-level BPE, {} tokens, trained on the bundled Jargon File ({} documents, {:.1} MB) -> {}",
        tok.get_vocab_size(true),
        texts.len(),
        CORPUS.len() as f64 / 1e6,
        tok_dir.display()
    );

    // 3. Shards.
    let data = dir.join("data");
    let mut o = BuildOptions::new(vec![corpus.display().to_string()], tok_dir.join("tokenizer.json"), data.clone());
    o.val_fraction = 0.05;
    o.row_group_tokens = 16384;
    let pb = progress::bar(0, "input bytes");
    pb.set_message("building shards");
    let (m, _) = shards::build(&o, &pb)?;
    pb.finish_and_clear();
    println!(
        "3/6 dataset: train {} docs / {} tokens, val {} docs / {} tokens -> {}",
        m.train.documents,
        m.train.tokens,
        m.val.documents,
        m.val.tokens,
        data.display()
    );

    // 4. Training.
    let mut cfg = RunConfig::from_toml(CONFIG, "configs/quickstart.toml (embedded)")?;
    cfg.data.dataset = Some(data.clone());
    cfg.apply(&Overrides {
        steps: a.steps,
        out: Some(dir.join("run")),
        seed: None,
        device: None,
        init_from: None,
        adapter: None,
    });
    println!(
        "4/6 training a tiny LFM2 from scratch: {} steps of {} tokens (configs/quickstart.toml)",
        cfg.run.steps,
        cfg.batch.micro_batch * cfg.accum() * cfg.data.seq_len
    );
    let pb = progress::bar(cfg.run.steps, "steps");
    let s = engine::run(&cfg, device, &RunOptions { progress: Some(pb.clone()), ..Default::default() })?;
    drop(pb);
    let ckpt = s.last_checkpoint.clone().ok_or_else(|| anyhow!("the run wrote no checkpoint"))?;
    let h = lfm_data::loader::unigram_entropy(&data)?;
    let val = s.last_val_loss.ok_or_else(|| anyhow!("the run reported no validation loss"))?;
    println!(
        "    {:.0} tokens/s; train loss {:.3}; curves {}",
        s.tokens_per_s,
        s.last_loss,
        s.run_dir.join("loss.png").display()
    );

    // 5. Report and samples.
    let (mcfg, model) = progress::loading(&ckpt, |p| lfm_quant::load::load_for_inference(p, device))?;
    println!("5/6 validation perplexity {:.1} (loss {val:.3} nats/token); unigram baseline perplexity {:.1} ({h:.3}); uniform {}",
        val.exp(), h.exp(), mcfg.vocab_size);
    let codec = lfm_quant::load::load_codec(&ckpt)?;
    let prompts: Vec<Vec<u32>> = a.prompt.iter().map(|p| codec.encode_plain(p)).collect::<Result<_>>()?;
    let opts = GenerateOptions {
        max_new_tokens: 40,
        stop_tokens: vec![mcfg.eos_token_id],
        sampling: SamplingConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            repetition_penalty: 1.1,
            ..Default::default()
        },
        keep_logits: false,
    };
    let out = generate(&model, &mcfg, &prompts, &opts, device, |_, _| {})?;
    for (p, toks) in a.prompt.iter().zip(&out.tokens) {
        println!("    {p}{}", codec.decode(toks)?.replace('\n', " "));
    }
    // 6. Export for llama.cpp and edge runtimes, with what Q8_0 costs on held-out text.
    let gguf = dir.join("model-q8_0.gguf");
    println!("6/6 export: {} (Q8_0; quality on the validation split)", gguf.display());
    let windows = lfm_eval::quality::val_windows(&data, 128, 32)?;
    crate::cmd_export::export_and_report(
        &ckpt,
        &mcfg,
        &model,
        lfm_quant::export::Mix::Q8_0,
        &gguf,
        Some(&windows),
        device,
    )?;
    println!(
        "done. tokenizer {}, dataset {}, run {} (metrics.jsonl, loss.png), checkpoint {}, GGUF {}",
        tok_dir.display(),
        data.display(),
        s.run_dir.display(),
        ckpt.display(),
        gguf.display()
    );
    println!("next: lfm generate --model {} --raw --prompt \"The hacker\" --temperature 0.8", ckpt.display());
    Ok(())
}

/// Step 1: the embedded transformers fixture must match its reference outputs.
fn parity(dir: &std::path::Path, device: &Device) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in FILES {
        std::fs::write(dir.join(name), bytes)?;
    }
    let (cfg, model) = progress::loading(dir, |p| lfm_quant::load::load_model(p, device))?;
    let refs = dir.join("reference.safetensors");
    let (ids, shape) = reference::read_input_ids(&refs, cfg.vocab_size)?;
    let n = reference::read_gen_len(&refs)?;
    let out = reference::run(&model, &cfg, ids, shape, Some(n), device, || {})?;
    let cmp = out.compare(&refs, 1e-4)?;
    let diff = |name: &str| cmp.iter().find(|c| c.name == name).and_then(|c| c.max_abs_diff).unwrap_or(f32::NAN);
    let same = cmp.iter().any(|c| c.name == "gen_ids" && c.failure.is_none());
    println!(
        "1/6 parity: the embedded transformers-made LFM2 ({}) — logits max-abs-diff {:.2e}, cached greedy logits {:.2e} (tol 1e-4), cached greedy ids {}",
        cfg.pattern(),
        diff("logits"),
        diff("gen_logits"),
        if same { "identical" } else { "DIFFERENT" }
    );
    // Every tensor must match; a NaN difference fails too (check_close never passes one).
    if cmp.len() != 3 || cmp.iter().any(|c| c.failure.is_some()) {
        bail!("the embedded model does not match its transformers reference");
    }
    Ok(())
}
