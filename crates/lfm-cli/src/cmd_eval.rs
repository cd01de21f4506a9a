//! `lfm eval ifeval|bfcl|mc|perplexity`: scorers over given responses or a model's own
//! generations. Every command writes `summary.json` (plus per-row JSONL), prints a short table,
//! shows progress on long steps and takes `--limit N`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use burn::tensor::Device;
use clap::{Args, Subcommand, ValueEnum};
use lfm_data::chat::{self, Conversation, Message, RenderOptions};
use lfm_eval::bfcl::{self, Mode, Record};
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use serde_json::{json, Value};

use crate::progress;

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
    /// Score only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Output directory (summary.json, per_record.jsonl).
    #[arg(long)]
    out: PathBuf,
}

/// One parsed multiple-choice row.
struct McRow {
    question: String,
    options: Vec<String>,
    answer: usize,
}

fn parse_mc_row(line: &str, at: &str) -> Result<McRow> {
    use lfm_eval::choice::LETTERS;
    let letters: Vec<char> = LETTERS.chars().collect();
    let v: Value = serde_json::from_str(line).map_err(|e| anyhow!("{at}: invalid JSON: {e}"))?;
    let q = v.get("question").and_then(Value::as_str).ok_or_else(|| anyhow!("{at}: no \"question\" string"))?;
    let options: Vec<String> = v
        .get("options")
        .and_then(Value::as_array)
        .and_then(|o| o.iter().map(|x| x.as_str().map(str::to_string)).collect())
        .ok_or_else(|| anyhow!("{at}: \"options\" must be a list of strings"))?;
    if options.len() < 2 || options.len() > letters.len() {
        bail!("{at}: {} options (2 to {} allowed)", options.len(), letters.len());
    }
    let answer = match v.get("answer") {
        Some(Value::String(s)) if s.len() == 1 => letters.iter().position(|c| s.starts_with(*c)),
        Some(Value::Number(n)) => n.as_u64().map(|n| n as usize),
        _ => None,
    }
    .filter(|&k| k < options.len())
    .ok_or_else(|| anyhow!("{at}: \"answer\" must be an option letter or index"))?;
    Ok(McRow { question: q.to_string(), options, answer })
}

/// `lfm eval mc`: every row counts; a malformed row is reported with its line number and
/// scored as wrong, as is a generated reply with no extractable letter.
pub fn mc(a: &McArgs, device: &Device) -> Result<()> {
    use lfm_eval::choice::{argmax, continuation_logprobs, extract_letter, render, render_chat, PromptStyle, LETTERS};
    let text = std::fs::read_to_string(&a.data).with_context(|| format!("{}: cannot read", a.data.display()))?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(a.limit.unwrap_or(usize::MAX)).collect();
    let rows: Vec<(usize, Result<McRow>)> =
        lines.iter().map(|(i, l)| (i + 1, parse_mc_row(l, &format!("{}:{}", a.data.display(), i + 1)))).collect();
    let letters: Vec<char> = LETTERS.chars().collect();
    let style = match a.prompt {
        McPrompt::MmluPro => PromptStyle::MmluPro,
        McPrompt::Gpqa => PromptStyle::Gpqa,
    };
    // Predictions (None: no answer) and per-row extras, for the well-formed rows.
    let good: Vec<&McRow> = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let mut preds: Vec<(Option<usize>, Value)> = Vec::new();
    match a.method {
        McMethod::Loglik => {
            let (_, model, tok, bos) = load_scoring_model(&a.model, device)?;
            let enc = |s: &str| -> Result<Vec<u32>> {
                Ok(tok
                    .encode(s, false)
                    .map_err(|e| anyhow!("tokenizing: {e}"))?
                    .get_ids()
                    .iter()
                    .copied()
                    .filter(|&t| t != bos)
                    .collect())
            };
            let pb = progress::bar(good.len() as u64, "questions");
            for r in &good {
                let mut prompt = vec![bos];
                prompt.extend(enc(&render(&r.question, &r.options))?);
                let conts: Vec<Vec<u32>> =
                    (0..r.options.len()).map(|k| enc(&format!(" {}", letters[k]))).collect::<Result<_>>()?;
                let scores = continuation_logprobs(&model, &prompt, &conts, device);
                preds.push((Some(argmax(&scores)), json!({"logprobs": scores})));
                pb.inc(1);
            }
            pb.finish_and_clear();
        }
        McMethod::Generate => {
            let convs: Vec<Conversation> = good
                .iter()
                .map(|r| Conversation {
                    messages: vec![Message {
                        role: "user".into(),
                        content: json!(render_chat(style, &r.question, &r.options)),
                        tool_calls: vec![],
                    }],
                    tools: vec![],
                })
                .collect();
            let replies = chat_generate(&a.model, device, &convs, a.max_new_tokens, a.batch_size, false)?;
            for (r, reply) in good.iter().zip(replies) {
                preds.push((extract_letter(style, &reply, r.options.len()), json!({"reply": reply})));
            }
        }
    }
    let mut per = Vec::new();
    let (mut correct, mut malformed, mut unanswered) = (0usize, 0usize, 0usize);
    let mut preds = preds.into_iter();
    for (line, r) in &rows {
        match r {
            Err(e) => {
                eprintln!("warning: {e:#}");
                malformed += 1;
                per.push(json!({"line": line, "correct": false, "error": format!("{e:#}")}));
            }
            Ok(r) => {
                let (pred, extra) = preds.next().expect("one prediction per row");
                let ok = pred == Some(r.answer);
                correct += ok as usize;
                unanswered += pred.is_none() as usize;
                let mut row = json!({"line": line, "answer": letters[r.answer].to_string(), "pred": pred.map(|p| letters[p].to_string()), "correct": ok});
                row.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
                per.push(row);
            }
        }
    }
    let n = rows.len();
    let method = match a.method {
        McMethod::Loglik => "loglik of the answer letter".to_string(),
        McMethod::Generate => {
            format!("generated letter ({})", if style == PromptStyle::MmluPro { "mmlu-pro" } else { "gpqa" })
        }
    };
    let summary = json!({"acc": correct as f64 / n.max(1) as f64, "questions": n, "correct": correct, "malformed": malformed, "no_answer_extracted": unanswered, "method": method, "data": a.data.display().to_string()});
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let body: String = per.iter().map(|p| p.to_string() + "\n").collect();
    lfm_model::io::write_atomic(&a.out.join("per_record.jsonl"), body.as_bytes())?;
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("method       {method}");
    println!("questions    {n} ({malformed} malformed, {unanswered} without an extractable answer: counted as wrong)");
    println!("accuracy     {:.2}% ({correct}/{n})", 100.0 * correct as f64 / n.max(1) as f64);
    println!("-> {}", a.out.display());
    Ok(())
}

#[derive(Args)]
pub struct PerplexityArgs {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json) or GGUF file.
    #[arg(long)]
    model: PathBuf,
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
    device: &Device,
) -> Result<(lfm_model::Lfm2Config, lfm_model::Lfm2Model, tokenizers::Tokenizer, u32)> {
    let (cfg, model) = progress::loading(dir, |p| lfm_quant::load::load_for_inference(p, device))?;
    let tok = lfm_quant::load::load_tokenizer(dir)?;
    lfm_data::tokenizer::check_against_model(&tok, &cfg, &dir.display().to_string())?;
    let bos = lfm_data::tokenizer::require_id(&tok, "<|startoftext|>")?;
    Ok((cfg, model, tok, bos))
}

/// `lfm eval perplexity`: each document is `<|startoftext|>` + its tokens; every token after
/// BOS is scored, so bits per byte covers the documents' UTF-8 bytes exactly.
pub fn perplexity(a: &PerplexityArgs, device: &Device) -> Result<()> {
    let (_, model, tok, bos) = load_scoring_model(&a.model, device)?;
    let files = lfm_data::source::expand_inputs(&a.input)?;
    let mut stream = lfm_data::source::DocStream::new(files, crate::cmd_data::read_opts(&a.text_field));
    let mut docs = Vec::new();
    let mut bytes = 0usize;
    while let Some(d) = stream.next() {
        let d = d?;
        if a.limit.is_some_and(|n| docs.len() >= n) {
            break;
        }
        if d.text.is_empty() {
            continue;
        }
        let enc = tok.encode(d.text.as_str(), false).map_err(|e| anyhow!("tokenizing: {e}"))?;
        let mut ids = vec![bos];
        ids.extend(enc.get_ids().iter().copied().filter(|&t| t != bos));
        bytes += d.text.len();
        docs.push(ids);
    }
    if docs.is_empty() {
        bail!("{}: no documents", a.input.join(", "));
    }
    let to_score: usize = docs.iter().map(|d| d.len() - 1).sum();
    let pb = progress::bar(to_score as u64, "tokens scored");
    let r = lfm_eval::perplexity::score_docs_with_progress(&model, &docs, a.seq_len, a.batch_size, device, |n| {
        pb.set_position(n as u64)
    });
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
    /// Strip LFM2's wrappers (`<|tool_call_start|>…<|tool_call_end|>`, fences, JSON calls) first.
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
    /// Or generate the responses with this checkpoint directory or GGUF file (greedy, LFM2
    /// tool template).
    #[arg(long)]
    model: Option<PathBuf>,
    /// How to read responses (default lfm2).
    #[arg(long, value_enum, default_value_t = Format::Lfm2)]
    format: Format,
    /// Score only the first N records.
    #[arg(long)]
    limit: Option<usize>,
    /// New tokens per generated response.
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// Prompts per generation batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Output directory (summary.json, per_record.jsonl, and responses.jsonl when generated).
    #[arg(long)]
    out: PathBuf,
}

/// Responses by id; malformed lines are counted (their record then has no response).
fn read_responses(path: &Path) -> Result<(HashMap<String, String>, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = HashMap::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                bad.push(format!("{}:{}: invalid JSON: {e}", path.display(), i + 1));
                continue;
            }
        };
        match (v.get("id").and_then(Value::as_str), v.get("result")) {
            (Some(id), Some(Value::String(r))) => {
                out.insert(id.to_string(), r.clone());
            }
            (Some(id), Some(other)) => {
                // Some runners store the result as a structure; score its JSON text.
                out.insert(id.to_string(), other.to_string());
            }
            _ => bad.push(format!("{}:{}: needs \"id\" and \"result\"", path.display(), i + 1)),
        }
    }
    Ok((out, bad))
}

/// BFCL's function docs as LFM2 tool schemas (`"type": "dict"` → `"object"`, recursively).
fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if k == "type" && x == "dict" { json!("object") } else { to_json_schema(x) };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(to_json_schema).collect()),
        other => other.clone(),
    }
}

/// Greedy, batched generation of one assistant turn per conversation with the LFM2 chat
/// template; stops at `<|im_end|>` / `<|endoftext|>`. `keep_special` keeps special tokens in the
/// text (the tool-call markers); the stop token itself is never part of the reply.
pub(crate) fn chat_generate(
    dir: &Path,
    device: &Device,
    convs: &[Conversation],
    max_new_tokens: usize,
    batch_size: usize,
    keep_special: bool,
) -> Result<Vec<String>> {
    let (cfg, model) = progress::loading(dir, |p| lfm_quant::load::load_for_inference(p, device))?;
    let tok = lfm_quant::load::load_tokenizer(dir)?;
    lfm_data::tokenizer::check_against_model(&tok, &cfg, &dir.display().to_string())?;
    let mut prompts = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let r = chat::render(conv, &RenderOptions { add_generation_prompt: true, ..Default::default() })?;
        prompts.push(
            tok.encode(r.text.as_str(), false).map_err(|e| anyhow!("prompt {i}: tokenizing: {e}"))?.get_ids().to_vec(),
        );
    }
    let stop = ["<|im_end|>", "<|endoftext|>"].iter().filter_map(|t| tok.token_to_id(t)).collect::<Vec<_>>();
    let opts = GenerateOptions {
        max_new_tokens,
        stop_tokens: stop.clone(),
        sampling: SamplingConfig::greedy(),
        keep_logits: false,
    };
    let pb = progress::bar(prompts.len() as u64, "prompts");
    let mut out = Vec::new();
    for chunk in prompts.chunks(batch_size.max(1)) {
        let g = generate(&model, &cfg, chunk, &opts, device, |_, _| {})?;
        for ids in &g.tokens {
            let ids: &[u32] = match ids.last() {
                Some(t) if stop.contains(t) => &ids[..ids.len() - 1],
                _ => ids,
            };
            out.push(tok.decode(ids, !keep_special).map_err(|e| anyhow!("decoding: {e}"))?);
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    Ok(out)
}

fn generate_responses(
    a: &BfclArgs,
    dir: &Path,
    device: &Device,
    recs: &[Record],
    questions: &[Value],
) -> Result<HashMap<String, String>> {
    let mut convs = Vec::new();
    for (rec, q) in recs.iter().zip(questions) {
        let turn = q
            .pointer("/question/0")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("{}: no question turn", rec.id))?;
        let messages: Vec<Message> = turn
            .iter()
            .map(|m| Message {
                role: m.get("role").and_then(Value::as_str).unwrap_or("user").to_string(),
                content: m.get("content").cloned().unwrap_or(Value::Null),
                tool_calls: vec![],
            })
            .collect();
        convs.push(Conversation { messages, tools: rec.functions.iter().map(to_json_schema).collect() });
    }
    let texts = chat_generate(dir, device, &convs, a.max_new_tokens, a.batch_size, true)?;
    Ok(recs.iter().map(|r| r.id.clone()).zip(texts).collect())
}

#[derive(Args)]
pub struct IfevalArgs {
    /// IFEval prompts (`{"key", "prompt", "instruction_id_list", "kwargs"}` per line).
    #[arg(long, default_value = "evals/ifeval/input_data.jsonl")]
    input: PathBuf,
    /// Responses to score: JSONL `{"prompt", "response"}` (joined on the prompt text, as
    /// lm-eval writes them) or `{"key", "response"}`.
    #[arg(long, conflicts_with = "model")]
    responses: Option<PathBuf>,
    /// Or generate the responses with this checkpoint directory or GGUF file (chat template,
    /// greedy, batched).
    #[arg(long)]
    model: Option<PathBuf>,
    /// New tokens per generated response (lm-eval's IFEval task uses 1280).
    #[arg(long, default_value_t = 1280)]
    max_new_tokens: usize,
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
    let (mut prompts, mut bad) = ifeval::load_inputs_lenient(&a.input)?;
    if let Some(n) = a.limit {
        // The first N input lines, malformed ones included.
        let mut lines: Vec<usize> = prompts.iter().map(|p| p.line).chain(bad.iter().map(|b| b.line)).collect();
        lines.sort_unstable();
        let last = lines.get(n.saturating_sub(1)).copied().unwrap_or(usize::MAX);
        prompts.retain(|p| n > 0 && p.line <= last);
        bad.retain(|b| n > 0 && b.line <= last);
    }
    if prompts.is_empty() && bad.is_empty() {
        bail!("{}: no prompts", a.input.display());
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let responses = match (&a.responses, &a.model) {
        (Some(p), None) => ifeval::load_responses(p)?,
        (None, Some(dir)) => {
            let convs: Vec<Conversation> = prompts
                .iter()
                .map(|p| Conversation {
                    messages: vec![Message { role: "user".into(), content: json!(p.prompt), tool_calls: vec![] }],
                    tools: vec![],
                })
                .collect();
            let texts = chat_generate(dir, device, &convs, a.max_new_tokens, a.batch_size, false)?;
            let body: String = prompts
                .iter()
                .zip(&texts)
                .map(|(p, t)| json!({"key": p.key, "prompt": p.prompt, "response": t}).to_string() + "\n")
                .collect();
            lfm_model::io::write_atomic(&a.out.join("responses.jsonl"), body.as_bytes())?;
            let mut r = ifeval::Responses::default();
            r.by_key = prompts.iter().map(|p| p.key).zip(texts).collect();
            r
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
            eprintln!("warning: {}: {e}", a.input.display());
        }
    }
    let mut summary = serde_json::to_value(&s)?;
    let m = summary.as_object_mut().expect("summary is an object");
    m.insert("malformed_response_lines".into(), json!(responses.bad_lines.len()));
    m.insert("input".into(), json!(a.input.display().to_string()));
    m.insert("langdetect_seed".into(), json!(0));
    let body: String = rows.iter().map(|r| serde_json::to_string(r).expect("row") + "\n").collect();
    lfm_model::io::write_atomic(&a.out.join("per_prompt.jsonl"), body.as_bytes())?;
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
    let mut groups: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for (id, c) in &s.per_instruction {
        let g = groups.entry(id.split(':').next().unwrap_or(id)).or_default();
        for k in 0..3 {
            g[k] += c[k];
        }
    }
    for (g, c) in &groups {
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
    let (responses, bad_lines) = match (&a.responses, &a.model) {
        (Some(p), None) => read_responses(p)?,
        (None, Some(dir)) => {
            let text = std::fs::read_to_string(&a.data)?;
            let questions: Vec<Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(recs.len())
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()?;
            let r = generate_responses(a, dir, device, &recs, &questions)?;
            let mut f = std::fs::File::create(a.out.join("responses.jsonl"))?;
            for rec in &recs {
                writeln!(f, "{}", json!({"id": rec.id, "result": r[&rec.id]}))?;
            }
            (r, vec![])
        }
        _ => bail!("give --responses FILE or --model DIR"),
    };
    for b in &bad_lines {
        eprintln!("warning: {b}");
    }

    let mut per = Vec::new();
    let mut by_cat: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_error: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = 0;
    for rec in &recs {
        let cat = format!("{:?}", rec.category).to_lowercase();
        let v = match responses.get(&rec.id) {
            Some(r) => bfcl::score(rec, r, mode),
            None => {
                missing += 1;
                bfcl::Verdict {
                    valid: false,
                    error_type: Some("no_response".into()),
                    reason: Some("no response for this id".into()),
                    decoded: None,
                }
            }
        };
        let e = by_cat.entry(cat).or_default();
        e.0 += 1;
        e.1 += v.valid as usize;
        if let Some(t) = &v.error_type {
            *by_error.entry(t.clone()).or_default() += 1;
        }
        per.push(json!({"id": rec.id, "valid": v.valid, "error_type": v.error_type, "reason": v.reason, "decoded": v.decoded}));
    }
    let total = recs.len();
    let valid = per.iter().filter(|p| p["valid"] == true).count();
    let summary = json!({
        "accuracy": valid as f64 / total as f64,
        "records": total,
        "valid": valid,
        "format": match mode { Mode::Lfm2 => "lfm2", Mode::Official => "official" },
        "categories": by_cat.iter().map(|(k, (n, v))| (k.clone(), json!({"records": n, "valid": v, "accuracy": *v as f64 / *n as f64}))).collect::<serde_json::Map<_, _>>(),
        "errors": by_error,
        "missing_responses": missing,
        "malformed_response_lines": bad_lines.len(),
        "data": a.data.display().to_string(),
    });
    let body: String = per.iter().map(|p| p.to_string() + "\n").collect();
    lfm_model::io::write_atomic(&a.out.join("per_record.jsonl"), body.as_bytes())?;
    lfm_model::io::write_atomic(&a.out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    println!("{:<20} {:>8} {:>8} {:>9}", "category", "records", "valid", "accuracy");
    for (k, (n, v)) in &by_cat {
        println!("{k:<20} {n:>8} {v:>8} {:>8.2}%", 100.0 * *v as f64 / *n as f64);
    }
    println!("{:<20} {total:>8} {valid:>8} {:>8.2}%", "all", 100.0 * valid as f64 / total as f64);
    if missing > 0 || !bad_lines.is_empty() {
        println!(
            "({missing} records without a response, {} malformed response lines — counted as invalid)",
            bad_lines.len()
        );
    }
    println!("-> {}", a.out.display());
    Ok(())
}
