//! End-to-end tests of the `lfm` binary: outputs against the transformers fixtures, and
//! one-line errors with a non-zero exit (and no output file) on bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lfm-model/tests/fixtures")
}

/// The workspace's shared tiny fixture (`data/lfm2-tiny`, the one the quickstart embeds).
fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/lfm2-tiny")
}

fn lfm() -> Command {
    Command::cargo_bin("lfm").unwrap()
}

/// Names in `dir`, without the run locks (`.NAME.lock`, lfm_model::io::OutputLock) that
/// writers leave beside their output by design (deleting one would race with a second writer).
fn entries_but_locks(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !(n.starts_with('.') && n.ends_with(".lock")))
        .collect()
}

/// Runs a command that must fail; returns its stderr after checking it is one line.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected failure");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error, got: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn logits_match_the_reference_for_every_fixture() {
    let dirs = std::fs::read_dir(fixtures()).unwrap().map(|e| e.unwrap().path());
    for dir in std::iter::once(tiny()).chain(dirs).filter(|p| p.join("reference.safetensors").exists()) {
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let n = expected["gen_ids"][0].as_array().unwrap().len();
        let out = tempfile::tempdir().unwrap();
        let out_file = out.path().join("out.safetensors");
        let r = lfm()
            .args(["logits", "--model"])
            .arg(&dir)
            .arg("--input")
            .arg(dir.join("reference.safetensors"))
            .arg("--out")
            .arg(&out_file)
            .args(["--generate", &n.to_string()])
            .arg("--reference")
            .arg(dir.join("reference.safetensors"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(r.status.success(), "{}: {stdout} {}", dir.display(), String::from_utf8_lossy(&r.stderr));
        assert!(stdout.contains("gen_ids      identical"), "{stdout}");
        // The written file has the fixture's layout.
        let bytes = std::fs::read(&out_file).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let logits = st.tensor("logits").unwrap();
        assert_eq!(logits.dtype(), safetensors::Dtype::F32);
        assert_eq!(st.tensor("gen_ids").unwrap().shape()[1], n);
    }
}

#[test]
fn reference_mismatch_fails() {
    // lfm2-tiny's reference against the mha-l2 model: shapes differ -> non-zero exit.
    let out = tempfile::tempdir().unwrap();
    let f = fixtures();
    let err = fails(
        lfm()
            .args(["logits", "--model"])
            .arg(tiny())
            .arg("--input")
            .arg(tiny().join("reference.safetensors"))
            .arg("--out")
            .arg(out.path().join("o.safetensors"))
            .arg("--reference")
            .arg(f.join("lfm2-untied-bias/reference.safetensors")),
    );
    assert!(err.contains("mismatch against reference"), "{err}");
}

/// A copy of `data/lfm2-tiny` in `dir` whose f32 tensor `name` is rewritten by `edit` (given
/// the tensor's values as little-endian f32 bytes).
fn tiny_with_tensor_edit(dir: &Path, name: &str, edit: impl FnOnce(&mut [u8])) -> PathBuf {
    let f = tiny();
    for file in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(f.join(file), dir.join(file)).unwrap();
    }
    let mut w = std::fs::read(f.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(w[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&w[8..8 + n]).unwrap();
    assert_eq!(header[name]["dtype"], "F32");
    let [a, b] = [0, 1].map(|i| 8 + n + header[name]["data_offsets"][i].as_u64().unwrap() as usize);
    edit(&mut w[a..b]);
    std::fs::write(dir.join("model.safetensors"), w).unwrap();
    dir.to_path_buf()
}

/// A copy of `data/lfm2-tiny` in `dir` whose tensor `name` has its element `k` set to NaN.
fn tiny_with_nan(dir: &Path, name: &str, k: usize) -> PathBuf {
    tiny_with_tensor_edit(dir, name, |t| t[4 * k..4 * k + 4].copy_from_slice(&f32::NAN.to_le_bytes()))
}

#[test]
fn a_nan_weight_fails_the_reference_check() {
    // One NaN in a layer's norm weight, another in the embedding: `lfm logits --reference`
    // must fail either way (a NaN-blind max-abs-diff would report 0 and pass).
    for (name, k) in [("model.layers.1.ffn_norm.weight", 3), ("model.embed_tokens.weight", 4000)] {
        let tmp = tempfile::tempdir().unwrap();
        let model = tiny_with_nan(tmp.path(), name, k);
        let ref_file = tiny().join("reference.safetensors");
        let out = tmp.path().join("out.safetensors");
        // Loading refuses the NaN unless told otherwise; told so, the comparison must catch it.
        let err =
            fails(lfm().args(["logits", "--model"]).arg(&model).arg("--input").arg(&ref_file).arg("--out").arg(&out));
        assert!(err.contains(name) && err.contains("model.safetensors") && err.contains("non-finite"), "{err}");
        assert!(!out.exists(), "no output on a refused load");
        let err = fails(
            lfm()
                .env("LFM_ALLOW_NONFINITE", "1")
                .args(["logits", "--model"])
                .arg(&model)
                .arg("--input")
                .arg(&ref_file)
                .arg("--out")
                .arg(&out)
                .arg("--reference")
                .arg(&ref_file),
        );
        assert!(err.contains("NaN"), "{name}: {err}");
    }
}

#[test]
fn a_nan_weight_is_refused_at_load_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_with_nan(tmp.path(), "model.layers.4.self_attn.k_proj.weight", 17);
    let out = tmp.path().join("out.gguf");
    let reference = tiny().join("reference.safetensors");
    for args in [
        vec!["generate", "--prompt", "hi", "--max-new-tokens", "2", "--model"],
        vec!["logits", "--input", reference.to_str().unwrap(), "--out", out.to_str().unwrap(), "--model"],
        vec!["export", "gguf", "--out", out.to_str().unwrap(), "--model"],
    ] {
        let err = fails(lfm().args(&args).arg(&model));
        assert!(
            err.contains("model.layers.4.self_attn.k_proj.weight") && err.contains("non-finite"),
            "{args:?}: {err}"
        );
    }
    assert!(!out.exists(), "export wrote a file from NaN weights");
}

/// A copy of `data/lfm2-tiny` in `dir` whose tensor `name` has every element set to `value`.
fn tiny_with_tensor_filled(dir: &Path, name: &str, value: f32) -> PathBuf {
    tiny_with_tensor_edit(dir, name, |t| {
        for c in t.chunks_exact_mut(4) {
            c.copy_from_slice(&value.to_le_bytes());
        }
    })
}

#[test]
fn overflowing_logits_stop_every_command_without_output() {
    // Finite weights (so loading accepts them) whose activations overflow f32: the final
    // norm's scale at 3e38.
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_with_tensor_filled(tmp.path(), "model.embedding_norm.weight", 3e38);
    let out = tmp.path().join("out");
    let text = tmp.path().join("t.jsonl");
    std::fs::write(&text, "{\"text\": \"Some words to score, long enough for a window.\"}\n").unwrap();
    let mc = tmp.path().join("mc.jsonl");
    std::fs::write(&mc, "{\"question\": \"2+2?\", \"options\": [\"3\", \"4\"], \"answer\": \"B\"}\n").unwrap();
    let reference = tiny().join("reference.safetensors");
    let o = out.to_str().unwrap();
    for args in [
        vec!["generate", "--prompt", "hi", "--max-new-tokens", "3"],
        vec!["logits", "--input", reference.to_str().unwrap(), "--out", o],
        vec!["export", "gguf", "--quant", "f32", "--out", o],
        vec!["eval", "perplexity", "--seq-len", "8", "--input", text.to_str().unwrap(), "--out", o],
        vec!["eval", "mc", "--data", mc.to_str().unwrap(), "--out", o],
    ] {
        let o = lfm().args(&args).arg("--model").arg(&model).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&o.stdout));
        assert!(err.contains("NaN or infinite"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!out.join("summary.json").exists() && !out.is_file(), "{args:?} wrote output");
        if args[0] == "generate" {
            assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "", "generate printed text from NaN logits");
        }
    }
}

#[test]
fn bad_inputs_give_one_line_errors_and_no_output() {
    let f = tiny();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.safetensors");

    // Input without input_ids.
    let err = fails(
        lfm()
            .args(["logits", "--model"])
            .arg(&f)
            .arg("--input")
            .arg(f.join("model.safetensors"))
            .arg("--out")
            .arg(&out),
    );
    assert!(err.contains("no tensor \"input_ids\""), "{err}");
    // Truncated input file.
    let trunc = tmp.path().join("trunc.safetensors");
    let bytes = std::fs::read(f.join("reference.safetensors")).unwrap();
    std::fs::write(&trunc, &bytes[..1000]).unwrap();
    let err = fails(lfm().args(["logits", "--model"]).arg(&f).arg("--input").arg(&trunc).arg("--out").arg(&out));
    assert!(err.contains("trunc.safetensors") && err.contains("bad safetensors"), "{err}");
    // Ids outside the vocabulary: the tiny model (V=512) on input made for... itself, but
    // the mha-l2 model has V=256 and the tiny inputs go up to 481.
    let err = fails(
        lfm()
            .args(["logits", "--model"])
            .arg(fixtures().join("lfm2-mha-l2"))
            .arg("--input")
            .arg(f.join("reference.safetensors"))
            .arg("--out")
            .arg(&out),
    );
    assert!(err.contains("outside the vocabulary"), "{err}");
    // Missing model directory.
    let err = fails(lfm().args(["info", "--model"]).arg(tmp.path().join("nope")));
    assert!(err.contains("nope"), "{err}");
    // Truncated weights.
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    std::fs::copy(f.join("config.json"), model.join("config.json")).unwrap();
    let w = std::fs::read(f.join("model.safetensors")).unwrap();
    std::fs::write(model.join("model.safetensors"), &w[..w.len() - 100]).unwrap();
    let err = fails(
        lfm()
            .args(["logits", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(f.join("reference.safetensors"))
            .arg("--out")
            .arg(&out),
    );
    assert!(err.contains("model.safetensors") && err.contains("bad safetensors"), "{err}");
    // Unknown device.
    let err = fails(lfm().args(["info", "--device", "tpu:0", "--model"]).arg(&f));
    assert!(err.contains("unknown device"), "{err}");
    // Nothing was written by any failed run.
    assert!(!out.exists(), "no partial output");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2, "only the files the test made");
}

#[test]
fn generate_streams_text_and_info_prints_the_count() {
    let f = tiny();
    let out = lfm().args(["info", "--model"]).arg(&f).output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success() && s.contains("308864 parameters"), "{s}");
    let out = lfm()
        .args(["generate", "--model"])
        .arg(&f)
        .args(["--prompt", "Hello", "--max-new-tokens", "6", "--temperature", "0.7", "--top-k", "20", "--seed", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("6 new tokens"));
    // Same seed, same text.
    let again = lfm()
        .args(["generate", "--model"])
        .arg(&f)
        .args(["--prompt", "Hello", "--max-new-tokens", "6", "--temperature", "0.7", "--top-k", "20", "--seed", "1"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, again.stdout);
}

/// A copy of `data/lfm2-tiny` in `dir` with `edit` applied to its config.json.
fn tiny_with_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let f = tiny();
    for file in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(f.join(file), dir.join(file)).unwrap();
    }
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(f.join("config.json")).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    dir.to_path_buf()
}

#[test]
fn generate_takes_prompts_from_files_and_dashes_and_checks_lengths_and_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let greedy = |extra: &[&str]| {
        let o = lfm()
            .args(["generate", "--raw", "--max-new-tokens", "5", "--model"])
            .arg(tiny())
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // A prompt that starts with a dash is a prompt, not a flag.
    let dash = greedy(&["--prompt", "-hello there"]);
    // The same text from a file gives the same greedy text; so does stdin.
    let file = tmp.path().join("p.txt");
    std::fs::write(&file, "-hello there").unwrap();
    assert_eq!(greedy(&["--prompt-file", file.to_str().unwrap()]), dash);
    let o = lfm()
        .args(["generate", "--raw", "--max-new-tokens", "5", "--prompt-file", "-", "--model"])
        .arg(tiny())
        .write_stdin("-hello there")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), dash);
    // Not UTF-8: named, one line.
    std::fs::write(&file, b"caf\xe9").unwrap();
    let err = fails(lfm().args(["generate", "--prompt-file", file.to_str().unwrap(), "--model"]).arg(tiny()));
    assert!(err.contains("p.txt") && err.contains("not UTF-8"), "{err}");
    // A wrong --model path is named as such (not as a missing tokenizer).
    let err = fails(lfm().args(["generate", "--prompt", "hi", "--model", "/nonexistent/model"]));
    assert!(err.contains("/nonexistent/model") && !err.contains("tokenizer"), "{err}");
    // A prompt longer than the context.
    let short = tiny_with_config(&tmp.path().join("short").tap_mkdir(), |c| c["max_position_embeddings"] = 16.into());
    let err = fails(lfm().args(["generate", "--raw", "--prompt", &"word ".repeat(40), "--model"]).arg(&short));
    assert!(err.contains("more than the model's max_position_embeddings 16"), "{err}");
    // A config whose eos id is not an end token of this tokenizer.
    let wrong = tiny_with_config(&tmp.path().join("wrong").tap_mkdir(), |c| c["eos_token_id"] = 300.into());
    let err = fails(lfm().args(["generate", "--prompt", "hi", "--model"]).arg(&wrong));
    assert!(err.contains("eos_token_id 300"), "{err}");
}

trait Mkdir {
    fn tap_mkdir(self) -> Self;
}

impl Mkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    // `lfm info X | head -0`: the reader is gone before lfm writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("lfm"));
    let out = cmd.args(["info", "--model"]).arg(tiny()).stdout(writer).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(13), "ended by SIGPIPE, as `cat` would: {:?}", out.status);
    }
}

#[test]
fn quickstart_runs_and_checks_parity() {
    let tmp = tempfile::tempdir().unwrap();
    // Shortened (3 steps, small vocabulary): the full default run is for humans.
    let out =
        lfm().args(["quickstart", "--steps", "3", "--vocab-size", "600", "--out"]).arg(tmp.path()).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s} {}", String::from_utf8_lossy(&out.stderr));
    assert!(s.contains("cached greedy ids identical"), "{s}");
    assert!(s.contains("validation perplexity") && s.contains("unigram baseline"), "{s}");
    assert!(s.contains("6/6 export") && s.contains("top-1 vs f32"), "{s}");
    for p in [
        "tokenizer/tokenizer.json",
        "data/manifest.json",
        "run/metrics.jsonl",
        "run/loss.png",
        "run/checkpoints/step-000003/DONE",
        "model-q8_0.gguf",
    ] {
        assert!(tmp.path().join(p).exists(), "{p}");
    }
    // A second quickstart into the same directory is refused rather than mixing runs.
    let again = lfm().args(["quickstart", "--steps", "3", "--out"]).arg(tmp.path()).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn convert_writes_a_loadable_checkpoint_and_refuses_to_overwrite() {
    let f = fixtures().join("lfm2-untied-bias");
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("converted");
    let out = lfm().args(["convert", "--model"]).arg(&f).arg("--out").arg(&dst).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["config.json", "model.safetensors", "generation_config.json"] {
        assert!(dst.join(name).exists(), "{name}");
    }
    // The converted model reproduces transformers' reference.
    let r = lfm()
        .args(["logits", "--model"])
        .arg(&dst)
        .arg("--input")
        .arg(f.join("reference.safetensors"))
        .arg("--out")
        .arg(tmp.path().join("o.safetensors"))
        .arg("--reference")
        .arg(f.join("reference.safetensors"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let err = fails(lfm().args(["convert", "--model"]).arg(&f).arg("--out").arg(&dst));
    assert!(err.contains("already exists"), "{err}");
    // A failed conversion (bad source) leaves nothing behind.
    let err = fails(
        lfm().args(["convert", "--model"]).arg(tmp.path().join("missing")).arg("--out").arg(tmp.path().join("x")),
    );
    assert!(err.contains("missing"), "{err}");
    let left: Vec<_> = entries_but_locks(tmp.path());
    assert_eq!(left.len(), 2, "only `converted` and `o.safetensors`: {left:?}");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn tokenizer_train_then_data_build_then_inspect_on_the_bundled_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = repo().join("data/corpus/jargon.jsonl");
    let sft = repo().join("data/sft/tool_calls.jsonl");
    let tok_dir = tmp.path().join("tok");
    let out = lfm()
        .args(["tokenizer", "train", "--vocab-size", "2048", "--input"])
        .arg(&corpus)
        .arg("--out")
        .arg(&tok_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tok = tokenizers::Tokenizer::from_file(tok_dir.join("tokenizer.json")).unwrap();
    assert_eq!(tok.get_vocab_size(true), 2048);
    assert_eq!(tok.token_to_id("<|im_end|>"), Some(7));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tok_dir.join("tokenizer_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["eos_token"], "<|im_end|>");

    let ds = tmp.path().join("ds");
    let out = lfm()
        .args(["data", "build", "--input"])
        .arg(&corpus)
        .arg(&sft)
        .arg("--tokenizer")
        .arg(tok_dir.join("tokenizer.json"))
        .arg("--out")
        .arg(&ds)
        .args(["--shard-tokens", "100000", "--val-fraction", "0.05"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap();
    let docs = m["train"]["documents"].as_u64().unwrap() + m["val"]["documents"].as_u64().unwrap();
    let lines = std::fs::read_to_string(&corpus).unwrap().lines().count()
        + std::fs::read_to_string(&sft).unwrap().lines().count();
    assert_eq!(docs as usize, lines);
    assert!(m["train"]["shards"].as_array().unwrap().len() >= 2);

    let out = lfm().args(["data", "inspect"]).arg(&ds).args(["--seq-len", "8"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("checksums   ok") && stdout.contains("<|startoftext|>Chapter 1."),
        "{stdout}"
    );
}

#[test]
fn data_build_bad_input_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"fine\"}\n{oops}\n").unwrap();
    let ds = tmp.path().join("ds");
    let err = fails(
        lfm()
            .args(["data", "build", "--input"])
            .arg(&bad)
            .arg("--tokenizer")
            .arg(tiny().join("tokenizer.json"))
            .arg("--out")
            .arg(&ds),
    );
    assert!(err.contains("bad.jsonl:2: invalid JSON"), "{err}");
    assert!(!ds.exists() && !tmp.path().join("ds.partial").exists());
    let err = fails(lfm().args(["data", "inspect"]).arg(tmp.path()));
    assert!(err.contains("no manifest.json"), "{err}");
    let err = fails(
        lfm()
            .args(["tokenizer", "train", "--vocab-size", "10", "--input"])
            .arg(repo().join("data/sft/tool_calls.jsonl"))
            .arg("--out")
            .arg(tmp.path().join("t")),
    );
    assert!(err.contains("too small"), "{err}");
    // A tokenizer that does not fit the model: the 2-token vocabulary of a hand-made BPE.
    let small_tok = tmp.path().join("small.json");
    std::fs::write(
        &small_tok,
        r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{"a":0,"b":1},"merges":[]}}"#,
    )
    .unwrap();
    let ok_src = tmp.path().join("ok.jsonl");
    std::fs::write(&ok_src, "{\"text\": \"ab\"}\n").unwrap();
    let err = fails(
        lfm()
            .args(["data", "build", "--input"])
            .arg(&ok_src)
            .arg("--tokenizer")
            .arg(&small_tok)
            .arg("--model")
            .arg(tiny())
            .arg("--out")
            .arg(&ds),
    );
    assert!(err.contains("small.json") && err.contains("bos_token_id 1"), "{err}");
    assert!(!ds.exists());
}

#[test]
fn eval_bfcl_scores_responses_and_model_generations() {
    let evals = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/bfcl");
    let tmp = tempfile::tempdir().unwrap();
    // The oracle rows of the differential fixture, as a responses file, plus one malformed line
    // and one record left without a response.
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(evals.join("responses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| {
            v["case"] == "oracle"
                && v["id"].as_str().unwrap().starts_with("parallel_")
                && !v["id"].as_str().unwrap().starts_with("parallel_multiple")
                && v["id"] != "parallel_3"
        })
        .collect();
    let mut text: String =
        rows.iter().map(|v| serde_json::json!({"id": v["id"], "result": v["result"]}).to_string() + "\n").collect();
    text.push_str("{not json\n");
    let resp = tmp.path().join("r.jsonl");
    std::fs::write(&resp, text).unwrap();
    let out = tmp.path().join("out");
    let o = lfm()
        .args(["eval", "bfcl", "--format", "official", "--data"])
        .arg(evals.join("BFCL_v4_parallel.first25.jsonl"))
        .arg("--answers")
        .arg(evals.join("BFCL_v4_parallel.first25.possible_answer.jsonl"))
        .arg("--responses")
        .arg(&resp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("r.jsonl:25: invalid JSON"));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // 24 oracle answers are valid; the record without a response counts against the total.
    assert_eq!((s["records"].as_u64(), s["valid"].as_u64()), (Some(25), Some(24)));
    assert_eq!(s["missing_responses"], 1);
    assert_eq!(s["malformed_response_lines"], 1);
    let per = std::fs::read_to_string(out.join("per_record.jsonl")).unwrap();
    assert_eq!(per.lines().count(), 25);
    assert!(per.contains("\"error_type\":\"no_response\""));

    // Generation through the chat/tool template with the (random) fixture model: the path runs
    // end to end and writes what it generated.
    let out2 = tmp.path().join("gen");
    let o = lfm()
        .args(["eval", "bfcl", "--limit", "2", "--max-new-tokens", "8", "--data"])
        .arg(evals.join("BFCL_v4_simple_python.first25.jsonl"))
        .arg("--answers")
        .arg(evals.join("BFCL_v4_simple_python.first25.possible_answer.jsonl"))
        .arg("--model")
        .arg(tiny())
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(out2.join("responses.jsonl")).unwrap().lines().count(), 2);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["records"], 2);
}

#[test]
fn eval_ifeval_scores_responses_against_the_official_verdicts() {
    use serde_json::{json, Value};
    let evals = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/ifeval");
    let tmp = tempfile::tempdir().unwrap();
    let read = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let inputs = read(&evals.join("input_data.jsonl"));
    let responses = read(&evals.join("responses.jsonl"));
    let official = read(&evals.join("official_verdicts.jsonl"));
    // The first fixture response of each key; half joined by prompt text, half by key. The
    // expected metrics come from the official verdicts of those rows (literal-letter variant
    // for the two letter-fallback keys); prompts without a response count as failed.
    let prompt_of = |k: &Value| inputs.iter().find(|i| &i["key"] == k).unwrap()["prompt"].clone();
    let mut seen = std::collections::HashSet::new();
    let (mut body, mut ps, mut pl, mut is, mut il, mut ni) = (String::new(), 0, 0, 0, 0, 0);
    for (r, o) in responses.iter().zip(&official) {
        if !seen.insert(r["key"].as_i64().unwrap()) {
            continue;
        }
        let row = if seen.len() % 2 == 0 {
            json!({"key": r["key"], "response": r["response"]})
        } else {
            json!({"prompt": prompt_of(&r["key"]), "response": r["response"]})
        };
        body.push_str(&(row.to_string() + "\n"));
        let o = o.get("letter_fallback").map(|f| &f["literal"]).unwrap_or(o);
        ps += o["prompt_strict"].as_bool().unwrap() as usize;
        pl += o["prompt_loose"].as_bool().unwrap() as usize;
        let count = |k: &str| o[k].as_array().unwrap().iter().filter(|b| b.as_bool().unwrap()).count();
        is += count("strict");
        il += count("loose");
    }
    for i in &inputs {
        ni += i["instruction_id_list"].as_array().unwrap().len();
    }
    // Bad input: a malformed line, an unknown instruction id, an ill-typed kwarg (line numbers
    // 542..544), and a malformed response line. All are counted, none shrinks a denominator.
    let mut input_text = std::fs::read_to_string(evals.join("input_data.jsonl")).unwrap();
    input_text.push_str("{\"key\": 9000, oops\n");
    input_text.push_str(
        &(json!({"key": 9001, "prompt": "p1", "instruction_id_list": ["foo:bar"], "kwargs": [{}]}).to_string() + "\n"),
    );
    input_text.push_str(
        &(json!({"key": 9002, "prompt": "p2", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"], "kwargs": [{}, {"num_words": "ten", "relation": "at least"}]}).to_string() + "\n"),
    );
    body.push_str("{\"key\": 9001, \"response\": \"hello\"}\n{\"key\": 9002, \"response\": \"hello\"}\nnot json\n");
    let (inp, resp, out) = (tmp.path().join("in.jsonl"), tmp.path().join("r.jsonl"), tmp.path().join("out"));
    std::fs::write(&inp, input_text).unwrap();
    std::fs::write(&resp, body).unwrap();
    let o = lfm()
        .args(["eval", "ifeval", "--input"])
        .arg(&inp)
        .arg("--responses")
        .arg(&resp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("in.jsonl:542: invalid JSON"), "{stderr}");
    assert!(stderr.contains("line 543: foo:bar: unknown instruction id"), "{stderr}");
    assert!(stderr.contains("line 544: length_constraints:number_words"), "{stderr}");
    assert!(stderr.contains("r.jsonl:386: invalid JSON"), "{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let (np, ni) = (541 + 3, ni + 1 + 1 + 2);
    assert_eq!((s["prompts"].as_u64().unwrap() as usize, s["instructions"].as_u64().unwrap() as usize), (np, ni));
    let f = |k: &str| s[k].as_f64().unwrap();
    assert_eq!(f("prompt_level_strict"), ps as f64 / np as f64);
    assert_eq!(f("prompt_level_loose"), pl as f64 / np as f64);
    // Key 9002's no_comma instruction is followed by "hello".
    assert_eq!(f("inst_level_strict"), (is + 1) as f64 / ni as f64);
    assert_eq!(f("inst_level_loose"), (il + 1) as f64 / ni as f64);
    assert_eq!((s["malformed_input_lines"].as_u64(), s["missing_responses"].as_u64()), (Some(1), Some(541 - 383)));
    assert_eq!((s["instruction_errors"].as_u64(), s["malformed_response_lines"].as_u64()), (Some(2), Some(1)));
    let per = read(&out.join("per_prompt.jsonl"));
    assert_eq!(per.len(), np);
    let k9002 = per.iter().find(|r| r["key"] == 9002).unwrap();
    assert_eq!((&k9002["strict"], &k9002["strict_per_instruction"]), (&json!(false), &json!([true, false])));

    // --limit and generation with the (random) fixture model: the path runs end to end, writes
    // its responses, and scoring them again as --responses gives the same summary.
    let out2 = tmp.path().join("gen");
    let o = lfm()
        .args(["eval", "ifeval", "--limit", "3", "--max-new-tokens", "6", "--batch-size", "2", "--input"])
        .arg(evals.join("input_data.jsonl"))
        .arg("--model")
        .arg(tiny())
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out2.join("responses.jsonl")).len(), 3);
    let out3 = tmp.path().join("rescore");
    let o = lfm()
        .args(["eval", "ifeval", "--limit", "3", "--input"])
        .arg(evals.join("input_data.jsonl"))
        .arg("--responses")
        .arg(out2.join("responses.jsonl"))
        .arg("--out")
        .arg(&out3)
        .output()
        .unwrap();
    assert!(o.status.success());
    let a: Value = serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    let b: Value = serde_json::from_str(&std::fs::read_to_string(out3.join("summary.json")).unwrap()).unwrap();
    assert_eq!(a["prompts"], 3);
    assert_eq!((&a["prompt_level_strict"], &a["per_instruction"]), (&b["prompt_level_strict"], &b["per_instruction"]));
}

#[test]
fn eval_perplexity_reports_loss_perplexity_and_bits_per_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("t.jsonl");
    std::fs::write(&text, "{\"text\": \"The hacker wrote a kludge.\"}\n{\"text\": \"A second, longer document about compilers and their bugs.\"}\n").unwrap();
    let out = tmp.path().join("ppl");
    let o = lfm()
        .args(["eval", "perplexity", "--seq-len", "8", "--model"])
        .arg(tiny())
        .arg("--input")
        .arg(&text)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["documents"], 2);
    let (loss, tokens, bytes) =
        (s["loss"].as_f64().unwrap(), s["tokens_scored"].as_f64().unwrap(), s["bytes"].as_f64().unwrap());
    assert_eq!(
        bytes as usize,
        "The hacker wrote a kludge.".len() + "A second, longer document about compilers and their bugs.".len()
    );
    // A random 512-token model (the fixture's loss on its own ids is 7.98): no better than
    // uniform; bits per byte is the same NLL per byte.
    assert!(loss > (512f64).ln() - 0.5 && loss < 12.0, "{loss}");
    let bpb = s["bits_per_byte"].as_f64().unwrap();
    assert!((bpb - loss * tokens / std::f64::consts::LN_2 / bytes).abs() < 1e-9);
    assert!((s["perplexity"].as_f64().unwrap() - loss.exp()).abs() < 1e-6 * loss.exp());
    // A missing input is a one-line error.
    let err = fails(
        lfm()
            .args(["eval", "perplexity", "--model"])
            .arg(tiny())
            .args(["--input", "/nonexistent.txt", "--out"])
            .arg(&out),
    );
    assert!(err.contains("nonexistent"), "{err}");
}

#[test]
fn eval_mc_scores_every_row_and_counts_malformed_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("mc.jsonl");
    std::fs::write(
        &data,
        "{\"question\": \"2+2?\", \"options\": [\"3\", \"4\", \"5\"], \"answer\": \"B\"}\n\
         {\"question\": \"Sky?\", \"options\": [\"blue\", \"green\"], \"answer\": 0}\n\
         {\"question\": \"bad\", \"options\": [\"only one\"], \"answer\": \"A\"}\n",
    )
    .unwrap();
    let out = tmp.path().join("mc");
    let o = lfm()
        .args(["eval", "mc", "--model"])
        .arg(tiny())
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mc.jsonl:3: 1 options"));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!((s["questions"].as_u64(), s["malformed"].as_u64()), (Some(3), Some(1)));
    let per: Vec<serde_json::Value> = std::fs::read_to_string(out.join("per_record.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(per.len(), 3);
    assert_eq!(per[0]["logprobs"].as_array().unwrap().len(), 3);
    let hits = per.iter().filter(|p| p["correct"] == true).count() as u64;
    assert_eq!(s["correct"].as_u64(), Some(hits));

    // Generated-letter mode: the verdict of each row is the extraction rule applied to the reply
    // the command recorded.
    let out = tmp.path().join("mc-gen");
    let o = lfm()
        .args(["eval", "mc", "--method", "generate", "--prompt", "gpqa", "--max-new-tokens", "5", "--model"])
        .arg(tiny())
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!((s["questions"].as_u64(), s["malformed"].as_u64()), (Some(3), Some(1)));
    let per: Vec<serde_json::Value> = std::fs::read_to_string(out.join("per_record.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (p, n, ans) in [(&per[0], 3, 1), (&per[1], 2, 0)] {
        let pred =
            lfm_eval::choice::extract_letter(lfm_eval::choice::PromptStyle::Gpqa, p["reply"].as_str().unwrap(), n);
        assert_eq!(p["correct"], pred == Some(ans));
    }
}

#[test]
fn export_gguf_writes_a_file_that_generate_logits_and_eval_run_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny();
    let gguf = tmp.path().join("tiny-q8_0.gguf");
    let o = lfm()
        .args(["export", "gguf", "--quant", "q8_0", "--eval-windows", "4", "--seq-len", "16", "--model"])
        .arg(&model)
        .arg("--out")
        .arg(&gguf)
        .arg("--eval-text")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/corpus/jargon.jsonl"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("8.50 bits per weight"), "{stdout}");
    assert!(
        stdout.contains("quality on 4 held-out windows (64 tokens)") && stdout.contains("top-1 vs f32"),
        "{stdout}"
    );

    // generate: the tokenizer and chat template come from the file; peak RSS is reported.
    let o =
        lfm().args(["generate", "--prompt", "hello", "--max-new-tokens", "4", "--model"]).arg(&gguf).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("peak RSS"));

    // logits: the packed model against the f32 checkpoint on the fixture's inputs (close, not equal).
    let out = tmp.path().join("q.safetensors");
    let o = lfm()
        .args(["logits", "--model"])
        .arg(&gguf)
        .arg("--input")
        .arg(model.join("reference.safetensors"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let q = std::fs::read(&out).unwrap();
    let q = safetensors::SafeTensors::deserialize(&q).unwrap();
    let r = std::fs::read(model.join("reference.safetensors")).unwrap();
    let r = safetensors::SafeTensors::deserialize(&r).unwrap();
    let f = |t: safetensors::tensor::TensorView<'_>| -> Vec<f32> {
        t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    };
    let (a, b) = (f(q.tensor("logits").unwrap()), f(r.tensor("logits").unwrap()));
    assert_eq!(a.len(), b.len());
    let max = lfm_model::compare::max_abs_diff(&a, &b);
    assert!(max > 0.0 && max < 2.0, "q8_0 logits differ from the reference by {max}");

    // eval: a GGUF is a model like any other.
    let data = tmp.path().join("mc.jsonl");
    std::fs::write(&data, "{\"question\": \"2+2?\", \"options\": [\"3\", \"4\"], \"answer\": \"B\"}\n").unwrap();
    let o = lfm()
        .args(["eval", "mc", "--model"])
        .arg(&gguf)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(tmp.path().join("mc"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `lfm export gguf --model F32.gguf --quant MIX` (re-encoding, as llama-quantize does) writes
/// the very file that exporting the checkpoint with `--quant MIX` writes.
#[test]
fn reencoding_an_f32_gguf_equals_exporting_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let export = |model: &Path, quant: &str, out: &Path| {
        let o = lfm()
            .args(["export", "gguf", "--quant", quant, "--model"])
            .arg(model)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let f32_path = tmp.path().join("f32.gguf");
    export(&tiny(), "f32", &f32_path);
    for quant in ["q4_k_m", "q6_k", "q5_0"] {
        let (a, b) = (tmp.path().join(format!("a-{quant}.gguf")), tmp.path().join(format!("b-{quant}.gguf")));
        export(&tiny(), quant, &a);
        export(&f32_path, quant, &b);
        assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{quant}: the files differ");
    }
}

#[test]
fn export_and_gguf_bad_input_fail_in_one_line_without_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.gguf");
    let err = fails(lfm().args(["export", "gguf", "--quant", "q3_k", "--model"]).arg(tiny()).arg("--out").arg(&out));
    assert!(err.contains("unknown --quant \"q3_k\""), "{err}");

    // A good file, then broken copies of it.
    let good = tmp.path().join("good.gguf");
    let o = lfm()
        .args(["export", "gguf", "--quant", "q4_0", "--model"])
        .arg(tiny())
        .arg("--out")
        .arg(&good)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A quantized GGUF is not quantized again (llama-quantize refuses too): one line, no file.
    let err = fails(lfm().args(["export", "gguf", "--quant", "q4_k_m", "--model"]).arg(&good).arg("--out").arg(&out));
    assert!(err.contains("good.gguf") && err.contains("is already q"), "{err}");
    assert!(!out.exists());
    let bytes = std::fs::read(&good).unwrap();
    let bad = tmp.path().join("bad.gguf");
    let run = |b: &[u8]| {
        std::fs::write(&bad, b).unwrap();
        fails(lfm().args(["generate", "--prompt", "hi", "--max-new-tokens", "2", "--model"]).arg(&bad))
    };
    let err = run(&bytes[..bytes.len() / 2]);
    assert!(err.contains("bad.gguf") && err.contains("truncated"), "{err}");
    let err = run(b"GGUF");
    assert!(err.contains("bad.gguf") && err.contains("truncated"), "{err}");
    let err = run(b"PK\x03\x04 not a gguf at all");
    assert!(err.contains("bad.gguf: not a GGUF file"), "{err}");
    // Unknown tensor type: patch the first tensor's type id (after its name and dims) to 99.
    let g = lfm_quant::gguf::GgufFile::open(&good).unwrap();
    let first = &g.tensors[0];
    let name = first.name.as_bytes();
    let pos = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 4 + 8 * first.dims.len();
    let mut patched = bytes.clone();
    patched[pos..pos + 4].copy_from_slice(&99u32.to_le_bytes());
    let err = run(&patched);
    assert!(err.contains(&format!("tensor {}: unsupported ggml type id 99", first.name)), "{err}");
}

#[test]
fn train_grpo_rejects_bad_configs_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(repo.join("configs/grpo-toy.toml")).unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, text.replace("tool_call = 1.0", "tool_calls = 1.0")).unwrap();
    let err = fails(lfm().args(["train", "grpo", "--config"]).arg(&bad));
    // FILE:LINE: [section] key: problem, the line counted here from the text.
    let line = |key: &str| 1 + text.lines().position(|l| l.starts_with(key)).unwrap();
    let at = format!("bad.toml:{}: [rewards] tool_calls: unknown reward \"tool_calls\"", line("tool_call ="));
    assert!(err.contains(&at), "{err}");
    std::fs::write(&bad, text.replace("group_size = 8", "group_size = 1")).unwrap();
    let err = fails(lfm().args(["train", "grpo", "--config"]).arg(&bad));
    let at = format!("bad.toml:{}: [grpo] group_size: must be at least 2", line("group_size ="));
    assert!(err.contains(&at), "{err}");
    std::fs::write(&bad, text.replace("[grpo]", "[grpo]\nmystery = 3")).unwrap();
    let err = fails(lfm().args(["train", "grpo", "--config"]).arg(&bad));
    assert!(err.contains("bad.toml") && err.contains("mystery"), "{err}");
}

#[test]
fn bench_writes_named_results_with_throughput_and_peak_rss() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let o = lfm()
        .args([
            "bench",
            "--preset",
            "tiny",
            "--repeats",
            "1",
            "--only",
            "decode_b1_f32,decode_b1_q4_0,decode_b32_q4_0,train_1x512,train_bf16_1x512,grpo_step_350m",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["decode_b1_f32", "decode_b1_q4_0", "decode_b32_q4_0", "train_1x512", "train_bf16_1x512", "grpo_step_350m"]
    );
    // A batched row: 32 sequences of 128 tokens; aggregate = 32 x per sequence, and a step
    // (one token for every sequence) takes 1000 / per-sequence tokens/s milliseconds.
    let b = &v[2];
    let (tps, per, ms) = (
        b["tokens_per_s"].as_f64().unwrap(),
        b["per_sequence_tokens_per_s"].as_f64().unwrap(),
        b["ms_per_step"].as_f64().unwrap(),
    );
    assert_eq!(b["batch"], 32);
    assert!((tps - 32.0 * per).abs() <= 1e-6 * tps && (ms * per - 1000.0).abs() < 1e-6, "{b}");
    for r in v.as_array().unwrap() {
        assert!(r["tokens_per_s"].as_f64().unwrap() > 0.0 && r["peak_rss_bytes"].as_u64().unwrap() > 0, "{r}");
    }
    // Decode reports the bandwidth fraction: weight bytes per token over the measured bandwidth.
    assert!(v[0]["bandwidth_fraction"].as_f64().unwrap() > 0.0);
    assert!(
        v[1]["weight_bytes"].as_f64().unwrap() < v[0]["weight_bytes"].as_f64().unwrap() / 4.0,
        "q4_0 reads < 1/4 of f32's bytes"
    );
    // The bf16 training row states its speed over the f32 row of the same run.
    let ratio = v[4]["tokens_per_s"].as_f64().unwrap() / v[3]["tokens_per_s"].as_f64().unwrap();
    assert!((v[4]["vs_f32"].as_f64().unwrap() - ratio).abs() < 1e-9 * ratio, "{}", v[4]);
    // The GRPO row splits its step into sampling and update; 32 completions of 64 tokens.
    let g = &v[5];
    let (s, u) = (g["sampling_s"].as_f64().unwrap(), g["update_s"].as_f64().unwrap());
    assert!(s > 0.0 && u > 0.0 && (g["sampling_share"].as_f64().unwrap() - s / (s + u)).abs() < 1e-9, "{g}");
    let sampled = g["sampling_tokens_per_s"].as_f64().unwrap() * s;
    assert!((sampled - 2048.0).abs() < 1e-6 * 2048.0, "{g}");
}

#[test]
fn eval_inputs_that_cannot_be_scored_honestly_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // An empty multiple-choice file: no accuracy over zero questions.
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "\n  \n").unwrap();
    let err = fails(
        lfm().args(["eval", "mc", "--data", empty.to_str().unwrap(), "--model"]).arg(tiny()).arg("--out").arg(&out),
    );
    assert!(err.contains("empty.jsonl: no questions"), "{err}");
    assert!(!out.join("summary.json").exists());
    // BFCL responses: a repeated id, and an id the question file does not have.
    let evals = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/bfcl");
    let data = evals.join("BFCL_v4_parallel.first25.jsonl");
    let answers = evals.join("BFCL_v4_parallel.first25.possible_answer.jsonl");
    for (body, want) in [
        (
            "{\"id\": \"parallel_1\", \"result\": \"[f()]\"}\n{\"id\": \"parallel_2\", \"result\": \"[]\"}\n{\"id\": \"parallel_1\", \"result\": \"[g()]\"}\n",
            "r.jsonl:3: a second response for id \"parallel_1\" (the first is on line 1)",
        ),
        (
            "{\"id\": \"parallel_1\", \"result\": \"[f()]\"}\n{\"id\": \"simple_python_9\", \"result\": \"[]\"}\n",
            "r.jsonl:2: id \"simple_python_9\" is not in the question file",
        ),
    ] {
        let resp = tmp.path().join("r.jsonl");
        std::fs::write(&resp, body).unwrap();
        let err = fails(
            lfm()
                .args(["eval", "bfcl", "--limit", "3", "--data"])
                .arg(&data)
                .arg("--answers")
                .arg(&answers)
                .arg("--responses")
                .arg(&resp)
                .arg("--out")
                .arg(&out),
        );
        assert!(err.contains(want), "{err}");
        assert!(!out.join("summary.json").exists());
    }
    // A benchmark name that does not exist.
    let err = fails(lfm().args(["bench", "--preset", "tiny", "--only", "decode_b1_f32,decode_b2_f32"]));
    assert!(err.contains("--only decode_b2_f32: no such benchmark"), "{err}");
}

#[test]
fn eval_ifeval_finds_its_bundled_prompts_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let responses = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/ifeval/responses.jsonl");
    let o = lfm()
        .current_dir(tmp.path())
        .args(["eval", "ifeval", "--out", "ife", "--responses"])
        .arg(&responses)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("ife/summary.json")).unwrap()).unwrap();
    // The official input file has 541 prompts.
    assert_eq!(s["prompts"], 541);
    assert!(s["input"].as_str().unwrap().contains("built in"));
}

/// Exports the tiny fixture with `lfm export gguf --quant QUANT` to `out`.
fn export_tiny(quant: &str, out: &Path) {
    let o =
        lfm().args(["export", "gguf", "--quant", quant, "--model"]).arg(tiny()).arg("--out").arg(out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn nan_or_inf_in_a_gguf_is_refused_by_generate_and_info() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.gguf");
    export_tiny("q8_0", &good);
    let g = lfm_quant::gguf::GgufFile::open(&good).unwrap();
    let clean = std::fs::read(&good).unwrap();
    let bad = tmp.path().join("bad.gguf");
    // An element of an f32 tensor, and a Q8_0 block scale (an f16 Inf at the block's start).
    for (name, k, is_block) in [
        ("blk.1.ffn_norm.weight", 37usize, false),
        ("token_embd_norm.weight", 0, false),
        ("blk.3.ffn_down.weight", 11, true),
        ("token_embd.weight", 1000, true),
    ] {
        let t = g.tensor(name).unwrap();
        assert_eq!(t.ty.is_quantized(), is_block, "{name}");
        let mut b = clean.clone();
        if is_block {
            let at = t.start + 34 * k;
            b[at..at + 2].copy_from_slice(&0x7c00u16.to_le_bytes());
        } else {
            let at = t.start + 4 * k;
            b[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        }
        std::fs::write(&bad, &b).unwrap();
        let want = if is_block {
            format!("tensor {name}: 1 q8_0 block(s) with a non-finite scale, the first block {k} (d = inf")
        } else {
            format!("tensor {name}: 1 non-finite value(s), the first NaN at index {k}")
        };
        for args in [vec!["generate", "--prompt", "hi", "--max-new-tokens", "2", "--model"], vec!["info", "--model"]] {
            let err = fails(lfm().args(&args).arg(&bad));
            assert!(err.contains("bad.gguf: ") && err.contains(&want), "{args:?}: {err}\nwant {want}");
            assert!(err.contains("LFM_ALLOW_NONFINITE=1"), "{err}");
        }
        // The escape hatch.
        let o = lfm().env("LFM_ALLOW_NONFINITE", "1").args(["info", "--model"]).arg(&bad).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn info_describes_a_gguf() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("tiny-q4_0.gguf");
    export_tiny("q4_0", &q);
    let o = lfm().args(["info", "--model"]).arg(&q).output().unwrap();
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = lfm().args(["info", "--model"]).arg(tiny()).output().unwrap();
    let dir = String::from_utf8(dir.stdout).unwrap();
    // The same config as the checkpoint it came from.
    for line in dir.lines().skip(1).take(5) {
        assert!(s.contains(line), "{line:?} missing from\n{s}");
    }
    let size = std::fs::metadata(&q).unwrap().len() as f64 / (1 << 20) as f64;
    assert!(s.contains(&format!("GGUF v3, {size:.2} MiB")), "{s}");
    // Types: the tied embedding (the output) Q8_0, other 2-D weights Q4_0, norms and conv F32.
    let g = lfm_quant::gguf::GgufFile::open(&q).unwrap();
    for (ty, name) in [("q4_0", "q4_0"), ("q8_0", "q8_0"), ("f32", "f32")] {
        let n = g.tensors.iter().filter(|t| t.ty.name() == ty).count();
        assert!(n > 0 && s.contains(&format!("    {name:<6} {n:>4} tensors")), "{ty} x{n}: {s}");
    }
    assert!(s.contains(&format!("{} tensors in the file, {} expected, 0 missing", g.tensors.len(), g.tensors.len())));
    assert!(s.contains("tokenizer:         tokenizer.huggingface.json, 512 tokens"), "{s}");
    assert!(s.contains("chat template:     none"), "{s}");
}

/// `src` rewritten without `tokenizer.huggingface.json`, as llama.cpp's converter writes files:
/// the tokenizer only in the `tokenizer.ggml.*` keys.
fn without_hf_tokenizer(src: &Path, dst: &Path) {
    use lfm_quant::gguf::{GgufFile, GgufWriter, WriteTensor};
    let g = GgufFile::open(src).unwrap();
    let mut w = GgufWriter::default();
    for (k, v) in &g.kv {
        if k != "tokenizer.huggingface.json" {
            w.set(k, v.clone());
        }
    }
    for t in &g.tensors {
        w.add_tensor(WriteTensor { name: t.name.clone(), dims: t.dims.clone(), ty: t.ty, data: g.data(t).to_vec() });
    }
    w.write(dst).unwrap();
}

#[test]
fn a_gguf_with_only_ggml_tokenizer_keys_generates_the_same_text() {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours.gguf");
    export_tiny("q8_0", &ours);
    let foreign = tmp.path().join("foreign.gguf");
    without_hf_tokenizer(&ours, &foreign);
    assert!(lfm_quant::gguf::GgufFile::open(&foreign).unwrap().get("tokenizer.huggingface.json").is_none());
    let gen = |m: &Path, prompt: &str| {
        let o =
            lfm().args(["generate", "--max-new-tokens", "12", "--prompt", prompt, "--model"]).arg(m).output().unwrap();
        assert!(o.status.success(), "{}: {}", m.display(), String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    for prompt in ["Hello there", "Zürich 2024 👍 <|im_start|>"] {
        let a = gen(&ours, prompt);
        assert!(!a.is_empty());
        assert_eq!(gen(&foreign, prompt), a, "{prompt}");
    }
    let o = lfm().args(["info", "--model"]).arg(&foreign).output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("tokenizer:         tokenizer.ggml.* (model gpt2, pre gpt-2), 512 tokens"), "{s}");
}

/// Entries of `dir` whose names start with `prefix`.
fn entries_starting(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// Starts an f32 export of the tiny fixture to `out` that pauses after each tensor it writes,
/// and returns once its temporary file exists.
fn start_slow_export(out: &Path) -> std::process::Child {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("lfm"));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        // SAFETY: between fork and exec only `signal` runs (async-signal-safe): SIGINT and
        // SIGTERM get their default disposition whatever this test runner inherited (a job
        // started in the background of a script has SIGINT ignored, and lfm keeps it so).
        unsafe {
            cmd.pre_exec(|| {
                signal(2, 0);
                signal(15, 0);
                Ok(())
            });
        }
    }
    let child = cmd
        .env("LFM_TEST_WRITE_PAUSE_MS", "300")
        .args(["export", "gguf", "--quant", "f32", "--model"])
        .arg(tiny())
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dir = out.parent().unwrap();
    let prefix = format!(".{}.tmp", out.file_name().unwrap().to_string_lossy());
    let t0 = std::time::Instant::now();
    while entries_starting(dir, &prefix).is_empty() {
        assert!(t0.elapsed().as_secs() < 120, "the export never started writing");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[cfg(unix)]
#[test]
fn sigint_or_sigterm_mid_export_leaves_no_temporary_file_and_no_output() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    for (sig, code) in [("TERM", 143), ("INT", 130)] {
        let out = tmp.path().join("m.gguf");
        let mut child = start_slow_export(&out);
        let k = std::process::Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status().unwrap();
        assert!(k.success());
        let status = child.wait().unwrap();
        assert_eq!((status.code(), status.signal()), (Some(code), None), "SIG{sig}");
        assert_eq!(entries_starting(tmp.path(), ".m.gguf.tmp"), Vec::<String>::new(), "SIG{sig}");
        assert!(!out.exists(), "SIG{sig}: a partial output");
    }
}

#[cfg(unix)]
#[test]
fn the_next_export_removes_what_a_sigkilled_one_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m.gguf");
    let mut child = start_slow_export(&out);
    child.kill().unwrap(); // SIGKILL: nothing can clean up
    child.wait().unwrap();
    let stale = entries_starting(tmp.path(), ".m.gguf.tmp");
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(!out.exists());
    // Look-alikes that are not this output's temporaries stay.
    let others = [".m.gguf.tmpfoo", ".m.gguf.tmpABCDEF.x", ".other.gguf.tmpABCDEF", "m.gguf.tmpABCDEF"];
    for o in others {
        std::fs::write(tmp.path().join(o), b"x").unwrap();
    }
    export_tiny("q8_0", &out);
    lfm_quant::gguf::GgufFile::open(&out).unwrap();
    let mut left = entries_starting(tmp.path(), "");
    left.retain(|n| !n.ends_with(".lock"));
    let mut want: Vec<String> = others.iter().map(|s| s.to_string()).chain(["m.gguf".to_string()]).collect();
    want.sort();
    assert_eq!(left, want, "the stale {stale:?} is removed, nothing else");
}

#[cfg(unix)]
#[test]
fn a_write_error_names_the_output_and_leaves_nothing() {
    // A file size limit makes the GGUF write fail (EFBIG; SIGXFSZ ignored so that the write
    // returns the error) after the model was loaded and encoded, as a full disk would.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("big.gguf");
    let lfm_bin = assert_cmd::cargo::cargo_bin("lfm");
    let err = fails(
        Command::new("sh")
            .args(["-c", "trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\""])
            .arg(&lfm_bin)
            .args(["export", "gguf", "--quant", "f32", "--model"])
            .arg(tiny())
            .arg("--out")
            .arg(&out),
    );
    assert!(err.contains(&format!("{}: write failed: ", out.display())) && err.contains("File too large"), "{err}");
    assert!(!out.exists());
    assert_eq!(entries_starting(tmp.path(), ".big.gguf.tmp"), Vec::<String>::new());
}
