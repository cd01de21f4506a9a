//! `lfm info --model DIR|FILE.gguf`.

use std::path::Path;

use anyhow::Result;
use lfm_model::hf::SafetensorsSource;
use lfm_model::Lfm2Config;

pub fn run(path: &Path) -> Result<()> {
    if lfm_quant::load::is_gguf(path) {
        return gguf(path);
    }
    let dir = path;
    let cfg = Lfm2Config::from_hf_file(&dir.join("config.json"))?;
    println!("{}", dir.display());
    print_config(&cfg);
    let src = SafetensorsSource::open_dir(dir)?;
    let expected = lfm_model::hf::expected_names(&cfg);
    let missing: Vec<_> = expected.iter().filter(|n| !src.names().contains(&n.as_str())).collect();
    println!(
        "  weights:           {} tensors in the checkpoint, {} expected, {} missing",
        src.names().len(),
        expected.len(),
        missing.len()
    );
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja"] {
        if dir.join(f).exists() {
            println!("  {f:<18} present");
        }
    }
    Ok(())
}

fn print_config(cfg: &Lfm2Config) {
    println!("{}", cfg.summary());
    println!("  parameters:        {} ({:.1} M)", cfg.num_params(), cfg.num_params() as f64 / 1e6);
    println!(
        "  without embedding: {}",
        cfg.num_params() - cfg.vocab_size * cfg.hidden_size * if cfg.tie_embedding { 1 } else { 2 }
    );
    println!("  attention layers:  {:?}", cfg.attention_layers());
    println!("  ids:               bos {} eos {} pad {}", cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id);
}

fn gguf(path: &Path) -> Result<()> {
    let s = lfm_quant::import::summarize(path)?;
    println!("{}", path.display());
    print_config(&s.cfg);
    println!(
        "  file:              GGUF v{}, {:.2} MiB, {} metadata keys",
        s.version,
        s.file_bytes as f64 / (1 << 20) as f64,
        s.metadata_keys
    );
    println!(
        "  weights:           {} tensors in the file, {} expected, {} missing, {} not used",
        s.tensors,
        s.expected,
        s.missing.len(),
        s.unexpected.len()
    );
    for (ty, n, elems, bytes) in &s.by_type {
        println!(
            "    {:<6} {n:>4} tensors {elems:>12} weights {:>8.2} MiB ({:.2} bits per weight)",
            ty.name(),
            *bytes as f64 / (1 << 20) as f64,
            8.0 * *bytes as f64 / *elems as f64
        );
    }
    match &s.tokenizer {
        Some((source, n)) => println!("  tokenizer:         {source}, {n} tokens"),
        None => println!("  tokenizer:         none"),
    }
    println!("  chat template:     {}", if s.chat_template { "present" } else { "none" });
    Ok(())
}
