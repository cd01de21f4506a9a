//! `lfm info --model DIR`.

use std::path::Path;

use anyhow::Result;
use lfm_model::hf::SafetensorsSource;
use lfm_model::Lfm2Config;

pub fn run(dir: &Path) -> Result<()> {
    let cfg = Lfm2Config::from_hf_file(&dir.join("config.json"))?;
    println!("{}", dir.display());
    println!("{}", cfg.summary());
    println!("  parameters:        {} ({:.1} M)", cfg.num_params(), cfg.num_params() as f64 / 1e6);
    println!(
        "  without embedding: {}",
        cfg.num_params() - cfg.vocab_size * cfg.hidden_size * if cfg.tie_embedding { 1 } else { 2 }
    );
    println!("  attention layers:  {:?}", cfg.attention_layers());
    println!("  ids:               bos {} eos {} pad {}", cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id);
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
