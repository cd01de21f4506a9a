//! `lfm quickstart`: the embedded default job. Until training lands it runs the tiny LFM2
//! fixture made with transformers (random weights, embedded in the binary): loads it through
//! the same HF loader as any checkpoint, checks logits and the cached greedy continuation
//! against transformers' reference outputs, then generates through the tokenizer and chat
//! format. Everything it writes goes to a temporary directory it prints.

use std::path::PathBuf;

use anyhow::{bail, Result};
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::Args;
use lfm_model::generate::{generate, GenerateOptions, SamplingConfig};
use safetensors::SafeTensors;

use crate::chat::TextCodec;
use crate::progress;

const FILES: [(&str, &[u8]); 5] = [
    ("config.json", include_bytes!("../../lfm-model/tests/fixtures/lfm2-tiny/config.json")),
    ("model.safetensors", include_bytes!("../../lfm-model/tests/fixtures/lfm2-tiny/model.safetensors")),
    ("tokenizer.json", include_bytes!("../../lfm-model/tests/fixtures/lfm2-tiny/tokenizer.json")),
    ("tokenizer_config.json", include_bytes!("../../lfm-model/tests/fixtures/lfm2-tiny/tokenizer_config.json")),
    ("reference.safetensors", include_bytes!("../../lfm-model/tests/fixtures/lfm2-tiny/reference.safetensors")),
];

#[derive(Args)]
pub struct QuickstartArgs {
    /// Where to unpack the embedded model (default: a new temporary directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Prompt for the sample generation.
    #[arg(long, default_value = "Once upon a time")]
    prompt: String,
}

fn read_f32(st: &SafeTensors, name: &str) -> Result<Vec<f32>> {
    Ok(st.tensor(name)?.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
}

fn read_i64(st: &SafeTensors, name: &str) -> Result<(Vec<usize>, Vec<i64>)> {
    let t = st.tensor(name)?;
    Ok((t.shape().to_vec(), t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()))
}

pub fn run(a: &QuickstartArgs, device: &Device) -> Result<()> {
    let dir = match &a.out {
        Some(d) => d.clone(),
        None => tempfile::Builder::new().prefix("lfm-quickstart-").tempdir()?.keep(),
    };
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in FILES {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("1/3 unpacked the embedded tiny LFM2 (made with transformers 5.23) into {}", dir.display());
    let (cfg, model) = progress::load_model(&dir, device)?;
    println!("    {}", cfg.summary());

    let refs = std::fs::read(dir.join("reference.safetensors"))?;
    let st = SafeTensors::deserialize(&refs)?;
    let (shape, ids) = read_i64(&st, "input_ids")?;
    let input: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids.clone(), [shape[0], shape[1]]), device);
    let logits = model.forward(input).into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let want = read_f32(&st, "logits")?;
    let diff = logits.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    let (gshape, gen_want) = read_i64(&st, "gen_ids")?;
    let prompts: Vec<Vec<u32>> = ids.chunks(shape[1]).map(|r| r.iter().map(|&x| x as u32).collect()).collect();
    let opts = GenerateOptions { max_new_tokens: gshape[1], stop_tokens: vec![], sampling: SamplingConfig::greedy(), keep_logits: false };
    let gen = generate(&model, &cfg, &prompts, &opts, device, |_, _| {})?;
    let same = gen.tokens.iter().flatten().map(|&t| t as i64).eq(gen_want.iter().copied());
    println!("2/3 parity with transformers: logits max-abs-diff {diff:.2e} (tol 1e-4), cached greedy ids {}",
        if same { "identical" } else { "DIFFERENT" });
    if diff > 1e-4 || !same {
        bail!("the embedded model does not match its transformers reference");
    }

    let codec = TextCodec::load(&dir)?;
    let prompt = codec.encode_rendered(&codec.render_chat(None, &a.prompt)?)?;
    let opts = GenerateOptions {
        max_new_tokens: 24,
        stop_tokens: vec![cfg.eos_token_id],
        sampling: SamplingConfig { temperature: 0.8, top_k: 40, top_p: 0.95, repetition_penalty: 1.05, seed: 0 },
        keep_logits: false,
    };
    let out = generate(&model, &cfg, &[prompt.clone()], &opts, device, |_, _| {})?;
    println!("3/3 sampled {} tokens after a {}-token chat prompt {:?} (random weights, so the text is noise):",
        out.tokens[0].len(), prompt.len(), a.prompt);
    println!("    {:?}", codec.decode(&out.tokens[0])?);
    println!("next: `lfm generate --model {} --prompt \"...\"`, `lfm info --model {}`", dir.display(), dir.display());
    Ok(())
}
