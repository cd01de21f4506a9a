//! `lfm eval ifeval|bfcl|mc|perplexity|pairs`: scorers over given responses or a model's own
//! generations. Every command writes `summary.json` (plus per-row JSONL), prints a short table,
//! shows progress on long steps and takes `--limit N`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::tensor::Device;
use clap::{Args, Subcommand, ValueEnum};
use lfm_data::chat::Conversation;
use lfm_eval::bfcl::{self, Mode};
use lfm_eval::choice::PromptStyle;
use lfm_eval::generation::ChatGenOptions;
use serde_json::{json, Value};

use crate::{progress, SamplingArgs};

#[derive(Subcommand)]
pub enum EvalCommand {
    /// IFEval: the 25 instruction checks, strict and loose, on responses or a model's generations.
    Ifeval(IfevalArgs),
    /// Tool-call scoring (BFCL AST rules) of responses or of a model's generations.
    Bfcl(BfclArgs),
    /// Perplexity and bits per byte of a model on local text (txt/md, JSONL, parquet).
    Perplexity(PerplexityArgs),
    /// Multiple choice (MMLU-Pro / GPQA style JSONL): log-likelihood of the answer letter, or a
    /// generated reply (`--method generate`).
    Mc(McArgs),
    /// Preference pairs (prompt, chosen, rejected): summed completion log-probs per side, and
    /// the share of pairs the model prefers the chosen one (implicit DPO rewards with
    /// `--reference`).
    Pairs(PairsArgs),
}

#[derive(Args)]
pub struct PairsArgs {
    /// Checkpoint directory or GGUF file (its tokenizer and chat template render the pairs).
    #[arg(long)]
    model: PathBuf,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Pairs, JSONL or parquet: `{"prompt", "chosen", "rejected"}` (messages or strings), or
    /// TRL's conversational `chosen`/`rejected` whose common leading messages are the prompt.
    #[arg(long)]
    data: PathBuf,
    /// A reference checkpoint: accuracy then counts pairs whose implicit reward
    /// (logp - ref_logp) is higher for the chosen completion.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Score only the first N pairs.
    #[arg(long)]
    limit: Option<usize>,
    /// Output directory (summary.json, per_pair.jsonl).
    #[arg(long)]
    out: PathBuf,
}

/// `lfm eval pairs`: every pair rendered with the model's chat template; all pairs are read
/// and tokenized before any is scored, so a bad record fails before the model runs.
pub fn pairs(a: &PairsArgs, device: &Device) -> Result<()> {
    use lfm_eval::pairs;
    let mut records = lfm_data::pairs::load_pairs(&a.data)?;
    records.truncate(a.limit.unwrap_or(usize::MAX));
    let (cfg, model) =
        progress::loading(&a.model, |p| lfm_quant::load::load_for_inference_with(p, a.adapter.as_deref(), device))?;
    let codec = lfm_quant::load::load_codec(&a.model)?;
    lfm_data::tokenizer::check_against_model(&codec.tokenizer, &cfg, &a.model.display().to_string())?;
    let encoded = records
        .iter()
        .map(|p| lfm_data::pairs::encode_pair(&codec, p).map_err(|e| anyhow::anyhow!("{}: {e:#}", a.data.display())))
        .collect::<Result<Vec<_>>>()?;
    let reference = match &a.reference {
        Some(r) => {
            let (rcfg, m) = progress::loading(r, |p| lfm_quant::load::load_for_inference_with(p, None, device))?;
            lfm_data::tokenizer::check_against_model(&codec.tokenizer, &rcfg, &r.display().to_string())?;
            Some(m)
        }
        None => None,
    };
    let pb = progress::bar(encoded.len() as u64, "pairs");
    let scores = pairs::score_pairs(&model, reference.as_ref(), &encoded, device, |n| pb.set_position(n as u64))?;
    pb.finish_and_clear();
    let s = pairs::summarize(&scores);
    let mut summary = serde_json::to_value(&s)?;
    if let Some(m) = summary.as_object_mut() {
        m.insert("model".into(), json!(a.model.display().to_string()));
        m.insert("adapter".into(), json!(a.adapter.as_ref().map(|p| p.display().to_string())));
        m.insert("reference".into(), json!(a.reference.as_ref().map(|p| p.display().to_string())));
        m.insert("data".into(), json!(a.data.display().to_string()));
        m.insert("prompt_source".into(), json!(codec.prompt_source()));
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    lfm_model::io::write_atomic(&a.out.join("per_pair.jsonl"), lfm_eval::to_jsonl(&scores)?.as_bytes())?;
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("pairs        {}", s.pairs);
    println!("accuracy     {:.2}% (scored by {})", 100.0 * s.accuracy, s.scored_by);
    println!("mean margin  {:.4}", s.mean_margin);
    println!("logp/token   chosen {:.4}, rejected {:.4}", s.logp_per_token_chosen, s.logp_per_token_rejected);
    println!("-> {}", a.out.display());
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum McMethod {
    /// Log-likelihood of each answer letter after a plain (no chat template) prompt.
    Loglik,
    /// Greedy chat generation, then the letter is extracted from the reply.
    Generate,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum McPrompt {
    /// MMLU-Pro zero-shot chain of thought, "the answer is (X)" extraction.
    MmluPro,
    /// simple-evals / GPQA template, "Answer: X" extraction.
    Gpqa,
}

#[derive(Args)]
pub struct McArgs {
    /// Checkpoint directory or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// JSONL rows `{"question", "options": [...], "answer": "C" | 2}`.
    #[arg(long)]
    data: PathBuf,
    /// Scoring method (see lfm_eval::choice for the exact prompts).
    #[arg(long, value_enum, default_value_t = McMethod::Loglik)]
    method: McMethod,
    /// Prompt and extraction protocol of `--method generate`.
    #[arg(long, value_enum, default_value_t = McPrompt::MmluPro)]
    prompt: McPrompt,
    /// New tokens per generated reply (`--method generate`).
    #[arg(long, default_value_t = 1024)]
    max_new_tokens: usize,
    /// Questions per generation batch (`--method generate`).
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Sampling for `--method generate` (greedy when none is given).
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Score only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Output directory (summary.json, per_record.jsonl).
    #[arg(long)]
    out: PathBuf,
}

/// `lfm eval mc`: every row counts; a malformed row is reported with its line number and
/// scored as wrong, as is a generated reply with no extractable letter.
pub fn mc(a: &McArgs, device: &Device) -> Result<()> {
    use lfm_eval::choice;
    let data = choice::load_rows(&a.data, a.limit)?;
    let style = match a.prompt {
        McPrompt::MmluPro => PromptStyle::MmluPro,
        McPrompt::Gpqa => PromptStyle::Gpqa,
    };
    let mut gen_info = None;
    let report = match a.method {
        McMethod::Loglik => {
            let (_, model, tok, bos) = load_scoring_model(&a.model, a.adapter.as_deref(), device)?;
            let pb = progress::bar(data.rows().count() as u64, "questions");
            let r = choice::evaluate_loglik(&model, &tok, bos, &data, device, |n| pb.set_position(n as u64))?;
            pb.finish_and_clear();
            r
        }
        McMethod::Generate => {
            let convs = choice::chat_conversations(style, &data);
            let (replies, info) = generate_replies(
                &Replies {
                    model: &a.model,
                    adapter: a.adapter.as_deref(),
                    max_new_tokens: a.max_new_tokens,
                    batch_size: a.batch_size,
                    keep_special: false,
                    sampling: &a.sampling,
                },
                device,
                &convs,
            )?;
            gen_info = Some(info);
            choice::evaluate_replies(style, &data, &replies)?
        }
    };
    for e in data.errors() {
        eprintln!("warning: {e}");
    }
    let s = &report.summary;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    lfm_model::io::write_atomic(&a.out.join("per_record.jsonl"), lfm_eval::to_jsonl(&report.records)?.as_bytes())?;
    let mut summary = serde_json::to_value(s)?;
    if let (Some(m), Some(Value::Object(info))) = (summary.as_object_mut(), gen_info) {
        m.extend(info);
    }
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("method       {}", s.method);
    println!(
        "questions    {} ({} malformed, {} without an extractable answer: counted as wrong)",
        s.questions, s.malformed, s.no_answer_extracted
    );
    println!("accuracy     {:.2}% ({}/{})", 100.0 * s.acc, s.correct, s.questions);
    println!("-> {}", a.out.display());
    Ok(())
}

#[derive(Args)]
pub struct PerplexityArgs {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json) or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Text files, directories or globs (each .txt/.md file, JSONL line or parquet row is a document).
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<String>,
    /// JSONL / parquet text field.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Tokens of context per window (windows overlap by one token).
    #[arg(long, default_value_t = 1024)]
    seq_len: usize,
    /// Windows per forward pass.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Score only the first N documents.
    #[arg(long)]
    limit: Option<usize>,
    /// Output directory for summary.json.
    #[arg(long)]
    out: PathBuf,
}

/// A checkpoint with its own tokenizer (checked against the config) and BOS id.
fn load_scoring_model(
    dir: &Path,
    adapter: Option<&Path>,
    device: &Device,
) -> Result<(lfm_model::Lfm2Config, lfm_model::Lfm2Model, tokenizers::Tokenizer, u32)> {
    let (cfg, model) = progress::loading(dir, |p| lfm_quant::load::load_for_inference_with(p, adapter, device))?;
    let tok = lfm_quant::load::load_tokenizer(dir)?;
    lfm_data::tokenizer::check_against_model(&tok, &cfg, &dir.display().to_string())?;
    let bos = lfm_data::tokenizer::require_id(&tok, "<|startoftext|>")?;
    Ok((cfg, model, tok, bos))
}

/// `lfm eval perplexity`: each document is `<|startoftext|>` + its tokens; every token after
/// BOS is scored, so bits per byte covers the documents' UTF-8 bytes exactly.
pub fn perplexity(a: &PerplexityArgs, device: &Device) -> Result<()> {
    let (_, model, tok, bos) = load_scoring_model(&a.model, a.adapter.as_deref(), device)?;
    let files = lfm_data::source::expand_inputs(&a.input)?;
    let stream = lfm_data::source::DocStream::new(files, crate::cmd_data::read_opts(&a.text_field));
    let t = lfm_eval::perplexity::tokenize_docs(stream, &tok, bos, a.limit)?;
    if t.docs.is_empty() {
        bail!("{}: no documents", a.input.join(", "));
    }
    let (docs, bytes) = (&t.docs, t.bytes);
    let pb = progress::bar(t.tokens_to_score() as u64, "tokens scored");
    let r = lfm_eval::perplexity::score_docs_with_progress(&model, docs, a.seq_len, a.batch_size, device, |n| {
        pb.set_position(n as u64)
    })?;
    pb.finish_and_clear();
    let summary = json!({
        "model": a.model.display().to_string(),
        "inputs": a.input,
        "documents": docs.len(),
        "tokens_scored": r.tokens,
        "bytes": bytes,
        "loss": r.mean(),
        "perplexity": r.perplexity(),
        "bits_per_byte": r.bits_per_byte(bytes),
        "seq_len": a.seq_len,
    });
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("documents      {}", docs.len());
    println!("tokens scored  {}", r.tokens);
    println!("loss           {:.4} nats/token", r.mean());
    println!("perplexity     {:.2}", r.perplexity());
    println!("bits per byte  {:.4}", r.bits_per_byte(bytes));
    println!("-> {}", a.out.join("summary.json").display());
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// Strip LFM2's wrappers (`<|tool_call_start|>…<|tool_call_end|>`, fences, JSON calls) first,
    /// and read the LFM2.5 template's dialect (JSON literals in dicts, a JSON-object argument).
    Lfm2,
    /// BFCL's default decoder exactly (what the official leaderboard applies to a model without
    /// its own handler).
    Official,
}

#[derive(Args)]
pub struct BfclArgs {
    /// Question file (BFCL v4 JSON Lines: id, question, function).
    #[arg(long)]
    data: PathBuf,
    /// Possible-answer file (needed for the AST categories; not for irrelevance).
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Responses to score: JSON Lines `{"id", "result"}` (raw model text).
    #[arg(long, conflicts_with = "model")]
    responses: Option<PathBuf>,
    /// Or generate the responses with this checkpoint directory or GGUF file (its chat
    /// template; greedy unless sampling flags are given).
    #[arg(long)]
    model: Option<PathBuf>,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long, requires = "model")]
    adapter: Option<PathBuf>,
    /// How to read responses (default lfm2).
    #[arg(long, value_enum, default_value_t = Format::Lfm2)]
    format: Format,
    /// Score only the first N records.
    #[arg(long)]
    limit: Option<usize>,
    /// New tokens per generated response.
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// Sampling for generated responses (greedy when none is given).
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Prompts per generation batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Output directory (summary.json, per_record.jsonl, and responses.jsonl when generated).
    #[arg(long)]
    out: PathBuf,
}

/// How a run's replies were made, for `summary.json`: the prompt source (the template file, or
/// the built-in layout) and the sampling settings.
fn generation_info(
    codec: &lfm_data::template::TextCodec,
    s: &lfm_model::generate::SamplingConfig,
    adapter: Option<&Path>,
) -> serde_json::Value {
    json!({
        "adapter": adapter.map(|a| a.display().to_string()),
        "prompt_source": codec.prompt_source(),
        "sampling": {
            "greedy": s.temperature == 0.0,
            "temperature": s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "repetition_penalty": s.repetition_penalty,
            "seed": s.seed,
        },
    })
}

/// How an eval generates its replies: the model (and adapter) and the eval's generation flags.
struct Replies<'a> {
    model: &'a Path,
    adapter: Option<&'a Path>,
    max_new_tokens: usize,
    batch_size: usize,
    /// Keep special tokens in the text (BFCL reads the tool-call markers).
    keep_special: bool,
    sampling: &'a SamplingArgs,
}

/// The checkpoint's model, config and codec (checked against each other), then chat replies to
/// `convs` with a progress bar: greedy unless sampling flags are given (the checkpoint's
/// generation_config.json is not used, so scores are reproducible). Also returns
/// [`generation_info`].
fn generate_replies(g: &Replies, device: &Device, convs: &[Conversation]) -> Result<(Vec<String>, serde_json::Value)> {
    let (dir, adapter) = (g.model, g.adapter);
    let (cfg, model) = progress::loading(dir, |p| lfm_quant::load::load_for_inference_with(p, adapter, device))?;
    let codec = lfm_quant::load::load_codec(dir)?;
    lfm_data::tokenizer::check_against_model(&codec.tokenizer, &cfg, &dir.display().to_string())?;
    let sampling = g.sampling.over(None);
    sampling.validate()?;
    let opts = ChatGenOptions {
        max_new_tokens: g.max_new_tokens,
        batch_size: g.batch_size,
        keep_special: g.keep_special,
        sampling: sampling.clone(),
    };
    let pb = progress::bar(convs.len() as u64, "prompts");
    let out =
        lfm_eval::generation::chat_generate(&model, &cfg, &codec, convs, &opts, device, |n| pb.set_position(n as u64));
    pb.finish_and_clear();
    Ok((out?, generation_info(&codec, &sampling, adapter)))
}

#[derive(Args)]
pub struct IfevalArgs {
    /// IFEval prompts (`{"key", "prompt", "instruction_id_list", "kwargs"}` per line);
    /// default: the official 541 prompts, built into lfm.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Responses to score: JSONL `{"prompt", "response"}` (joined on the prompt text, as
    /// lm-eval writes them) or `{"key", "response"}`.
    #[arg(long, conflicts_with = "model")]
    responses: Option<PathBuf>,
    /// Or generate the responses with this checkpoint directory or GGUF file (chat template,
    /// greedy, batched).
    #[arg(long)]
    model: Option<PathBuf>,
    /// A PEFT LoRA adapter directory: merged into an HF directory base, applied beside a GGUF base.
    #[arg(long, requires = "model")]
    adapter: Option<PathBuf>,
    /// New tokens per generated response (lm-eval's IFEval task uses 1280).
    #[arg(long, default_value_t = 1280)]
    max_new_tokens: usize,
    /// Sampling for generated responses (greedy when none is given).
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Prompts per generation batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Score only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// Output directory (summary.json, per_prompt.jsonl, and responses.jsonl when generated).
    #[arg(long)]
    out: PathBuf,
}

/// `lfm eval ifeval`: every input line counts. A malformed input line, a prompt without a
/// response, an unknown instruction id or an ill-typed kwarg is reported with its line number
/// and scored as not followed.
pub fn ifeval(a: &IfevalArgs, device: &Device) -> Result<()> {
    use lfm_eval::ifeval;
    let (input_name, (mut prompts, mut bad)) = match &a.input {
        Some(p) => (p.display().to_string(), ifeval::load_inputs_lenient(p)?),
        None => (
            ifeval::BUNDLED_INPUT_NAME.to_string(),
            ifeval::parse_inputs_lenient(ifeval::BUNDLED_INPUT_NAME, ifeval::BUNDLED_INPUT),
        ),
    };
    if let Some(n) = a.limit {
        ifeval::keep_first_lines(&mut prompts, &mut bad, n);
    }
    if prompts.is_empty() && bad.is_empty() {
        bail!("{input_name}: no prompts");
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let mut gen_info = None;
    let responses = match (&a.responses, &a.model) {
        (Some(p), None) => ifeval::load_responses(p)?,
        (None, Some(dir)) => {
            let convs = ifeval::conversations(&prompts);
            let (texts, info) = generate_replies(
                &Replies {
                    model: dir,
                    adapter: a.adapter.as_deref(),
                    max_new_tokens: a.max_new_tokens,
                    batch_size: a.batch_size,
                    keep_special: false,
                    sampling: &a.sampling,
                },
                device,
                &convs,
            )?;
            gen_info = Some(info);
            let body = ifeval::responses_jsonl(&prompts, &texts);
            lfm_model::io::write_atomic(&a.out.join("responses.jsonl"), body.as_bytes())?;
            ifeval::Responses::from_generated(&prompts, texts)
        }
        _ => bail!("give --responses FILE or --model DIR"),
    };
    for b in &bad {
        eprintln!("warning: {}", b.message);
    }
    for b in &responses.bad_lines {
        eprintln!("warning: {b}");
    }
    let pb = progress::bar((prompts.len() + bad.len()) as u64, "prompts scored");
    let rows = ifeval::evaluate(&prompts, &bad, &responses);
    pb.set_position(rows.len() as u64);
    pb.finish_and_clear();
    let s = ifeval::summarize(&rows);
    for r in rows.iter().filter(|r| r.status == "scored") {
        for e in &r.errors {
            eprintln!("warning: {input_name}: {e}");
        }
    }
    let mut summary = serde_json::to_value(&s)?;
    let m = summary.as_object_mut().expect("summary is an object");
    m.insert("malformed_response_lines".into(), json!(responses.bad_lines.len()));
    m.insert("input".into(), json!(input_name));
    m.insert("langdetect_seed".into(), json!(0));
    if let Some(Value::Object(info)) = gen_info {
        m.extend(info);
    }
    lfm_model::io::write_atomic(&a.out.join("per_prompt.jsonl"), lfm_eval::to_jsonl(&rows)?.as_bytes())?;
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    // Short table: the four metrics, then instruction-level accuracy by group.
    println!("{:<22} {:>8} {:>8}", "", "strict", "loose");
    println!(
        "{:<22} {:>7.2}% {:>7.2}%",
        format!("prompt-level ({})", s.prompts),
        100.0 * s.prompt_level_strict,
        100.0 * s.prompt_level_loose
    );
    println!(
        "{:<22} {:>7.2}% {:>7.2}%",
        format!("instruction ({})", s.instructions),
        100.0 * s.inst_level_strict,
        100.0 * s.inst_level_loose
    );
    for (g, c) in &s.per_group() {
        println!(
            "  {:<20} {:>7.2}% {:>7.2}%   ({} instructions)",
            g,
            100.0 * c[1] as f64 / c[0] as f64,
            100.0 * c[2] as f64 / c[0] as f64,
            c[0]
        );
    }
    if s.malformed_input_lines + s.missing_responses + s.instruction_errors + responses.bad_lines.len() > 0 {
        println!(
            "({} malformed input lines, {} prompts without a response, {} unscorable instructions, {} malformed response lines — all counted as not followed)",
            s.malformed_input_lines,
            s.missing_responses,
            s.instruction_errors,
            responses.bad_lines.len()
        );
    }
    println!("-> {}", a.out.display());
    Ok(())
}

pub fn bfcl(a: &BfclArgs, device: &Device) -> Result<()> {
    let mut recs = bfcl::load_records(&a.data, a.answers.as_deref())?;
    let file_responses = match &a.responses {
        Some(p) => {
            let r = bfcl::load_responses(p)?;
            r.check_ids(&recs, &p.display().to_string())?;
            Some(r)
        }
        None => None,
    };
    if let Some(n) = a.limit {
        recs.truncate(n);
    }
    if recs.is_empty() {
        bail!("{}: no records", a.data.display());
    }
    let mode = match a.format {
        Format::Lfm2 => Mode::Lfm2,
        Format::Official => Mode::Official,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let mut gen_info = None;
    let responses = match (file_responses, &a.model) {
        (Some(r), None) => r,
        (None, Some(dir)) => {
            let convs = bfcl::conversations(&a.data, &recs)?;
            let (texts, info) = generate_replies(
                &Replies {
                    model: dir,
                    adapter: a.adapter.as_deref(),
                    max_new_tokens: a.max_new_tokens,
                    batch_size: a.batch_size,
                    keep_special: true,
                    sampling: &a.sampling,
                },
                device,
                &convs,
            )?;
            gen_info = Some(info);
            let r = bfcl::Responses::from_generated(&recs, texts);
            lfm_model::io::write_atomic(&a.out.join("responses.jsonl"), r.to_jsonl(&recs).as_bytes())?;
            r
        }
        _ => bail!("give --responses FILE or --model DIR"),
    };
    for b in &responses.bad_lines {
        eprintln!("warning: {b}");
    }
    let (per, mut s) = bfcl::evaluate(&recs, &responses, mode);
    s.data = a.data.display().to_string();
    lfm_model::io::write_atomic(&a.out.join("per_record.jsonl"), lfm_eval::to_jsonl(&per)?.as_bytes())?;
    let mut summary = serde_json::to_value(&s)?;
    if let (Some(m), Some(Value::Object(info))) = (summary.as_object_mut(), gen_info) {
        m.extend(info);
    }
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("{:<20} {:>8} {:>8} {:>9}", "category", "records", "valid", "accuracy");
    for (k, c) in &s.categories {
        println!("{k:<20} {:>8} {:>8} {:>8.2}%", c.records, c.valid, 100.0 * c.accuracy);
    }
    println!("{:<20} {:>8} {:>8} {:>8.2}%", "all", s.records, s.valid, 100.0 * s.accuracy);
    if s.missing_responses > 0 || s.malformed_response_lines > 0 {
        println!(
            "({} records without a response, {} malformed response lines — counted as invalid)",
            s.missing_responses, s.malformed_response_lines
        );
    }
    println!("-> {}", a.out.display());
    Ok(())
}
