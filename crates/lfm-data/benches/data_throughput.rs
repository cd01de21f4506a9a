//! Data pipeline throughput against what training consumes, all measured in one run.
//!
//! `cargo bench -p lfm-data --bench data_throughput [-- --mb 32 --skip-train]`
//!
//! 1. Build: the bundled Jargon corpus repeated (with the repetition number prepended, so no
//!    two documents are equal) to about `--mb` MB of JSONL, tokenized with a 16k byte-level BPE
//!    trained on it; documents/s and tokens/s, and the peak RSS of the build at 1x and 4x the
//!    corpus size (Linux: VmHWM, reset through /proc/self/clear_refs) to show memory is bounded.
//! 2. Loader: shuffled `[8, 2049]` batches (seq_len 2048) from those shards through the
//!    background-thread loader: batches/s and tokens/s.
//! 3. Training: one forward+backward of the 350M preset at 1x256 on the default CPU device
//!    (random weights, f32): tokens/s a training step consumes.
//!
//! Prints the ratio loader tokens/s ÷ training tokens/s (the requirement is ≥ 100×).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use lfm_data::loader::{Loader, LoaderConfig};
use lfm_data::shards::{build, BuildOptions};
use lfm_data::tokenizer::{self, BpeOptions};
use lfm_model::init::RandomInit;
use lfm_model::{Lfm2Config, Lfm2Model};

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn peak_rss_reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn write_corpus(path: &Path, target_mb: usize) -> usize {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/corpus/jargon.jsonl")).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0usize;
    let mut rep = 0;
    while written < target_mb << 20 {
        for line in src.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = format!("[{rep}] {}", v["text"].as_str().unwrap());
            let l = serde_json::json!({ "text": text }).to_string();
            written += l.len() + 1;
            writeln!(f, "{l}").unwrap();
        }
        rep += 1;
    }
    written
}

fn build_once(corpus: &Path, tok: &Path, out: &Path) -> (f64, f64, u64, u64) {
    let mut o = BuildOptions::new(vec![corpus.display().to_string()], tok.to_path_buf(), out.to_path_buf());
    o.shard_tokens = 4 << 20;
    o.row_group_tokens = 1 << 20;
    peak_rss_reset();
    let (_, r) = build(&o, &ProgressBar::hidden()).unwrap();
    (r.tokens as f64 / r.seconds, peak_rss_mb().unwrap_or(f64::NAN), r.documents, r.tokens)
}

fn main() {
    let mb: usize = arg("--mb").and_then(|s| s.parse().ok()).unwrap_or(32);
    let tmp = tempfile::tempdir().unwrap();

    // Tokenizer: a 16k BPE trained on the bundled corpus.
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/corpus/jargon.jsonl")).unwrap();
    let texts: Vec<String> = src
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let tok = tokenizer::train_bpe(texts.iter(), &BpeOptions { vocab_size: 16384, ..Default::default() }).unwrap();
    tokenizer::save_dir(&tok, &tmp.path().join("tok"), 32768).unwrap();
    let tok_path = tmp.path().join("tok/tokenizer.json");

    // 1. Build at 1x and 4x.
    let small = tmp.path().join("small.jsonl");
    let big = tmp.path().join("big.jsonl");
    let small_bytes = write_corpus(&small, mb / 4);
    let big_bytes = write_corpus(&big, mb);
    let (tps_small, rss_small, _, _) = build_once(&small, &tok_path, &tmp.path().join("ds-small"));
    let (tps, rss_big, docs, tokens) = build_once(&big, &tok_path, &tmp.path().join("ds"));
    println!(
        "build      {:.1} MB JSONL, {docs} docs, {tokens} tokens: {tps:.0} tok/s ({} threads); {:.1} MB: {tps_small:.0} tok/s",
        big_bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        small_bytes as f64 / 1e6
    );
    println!(
        "build RSS  peak {rss_small:.0} MB at {:.0} MB of input, {rss_big:.0} MB at {:.0} MB (ratio {:.2} for {:.1}x the input)",
        small_bytes as f64 / 1e6,
        big_bytes as f64 / 1e6,
        rss_big / rss_small,
        big_bytes as f64 / small_bytes as f64
    );

    // 2. Loader at seq_len 2048.
    let (b, s) = (8usize, 2048usize);
    let mut loader = Loader::new(&tmp.path().join("ds"), LoaderConfig::train(b, s, 0), None).unwrap();
    let _ = loader.next_batch().unwrap();
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(loader.next_batch().unwrap().unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let loader_tps = (n * b * s) as f64 / secs;
    println!("loader     [{b}, {}] batches: {:.1} batches/s, {loader_tps:.0} tok/s", s + 1, n as f64 / secs);

    // 3. What a 350M training step consumes on this machine.
    if std::env::args().any(|a| a == "--skip-train") {
        return;
    }
    let cfg = Lfm2Config::lfm2_350m();
    let device = Device::default().autodiff();
    let model = Lfm2Model::build(&cfg, &device, &mut RandomInit::new(&cfg, 0)).unwrap();
    let t = 256;
    let data: Vec<i64> = (0..t).map(|i| ((i * 7919 + 13) % cfg.vocab_size) as i64).collect();
    let x: Tensor<2, Int> = Tensor::from_data(TensorData::new(data, [1, t]), &device);
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let start = Instant::now();
        let loss = Lfm2Model::loss(model.forward(x.clone()), x.clone());
        let _g = loss.backward();
        best = best.min(start.elapsed().as_secs_f64());
    }
    let train_tps = t as f64 / best;
    println!("train      350M fwd+bwd 1x{t}: {train_tps:.1} tok/s");
    println!(
        "ratio      loader / training = {:.0}x (need >= 100x); build / training = {:.0}x",
        loader_tps / train_tps,
        tps / train_tps
    );
}
