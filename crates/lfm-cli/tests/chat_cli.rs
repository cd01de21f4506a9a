//! `lfm chat render` against transformers' renderings, its errors, and the template and
//! generation defaults reaching `lfm generate` and the evals.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chat_fixtures() -> PathBuf {
    repo().join("crates/lfm-data/tests/fixtures/chat")
}

fn lfm() -> Command {
    Command::cargo_bin("lfm").unwrap()
}

fn jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The tiny checkpoint with the LFM2.5-style test template and a generation config.
fn tiny_with_template(dir: &Path, generation_config: &str) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(repo().join("data/lfm2-tiny").join(f), m.join(f)).unwrap();
    }
    std::fs::copy(chat_fixtures().join("v25/chat_template.jinja"), m.join("chat_template.jinja")).unwrap();
    std::fs::write(m.join("generation_config.json"), generation_config).unwrap();
    m
}

#[test]
fn chat_render_gives_transformers_text_ids_and_mask() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["v1", "v25", "nogen", "named"] {
        let out = dir.path().join(format!("{name}.jsonl"));
        lfm()
            .args(["chat", "render", "--now", "2026-01-15", "--model"])
            .arg(chat_fixtures().join(name))
            .arg("--input")
            .arg(chat_fixtures().join("conversations.jsonl"))
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let ours = jsonl(&out);
        let want = jsonl(&chat_fixtures().join(format!("expected/{name}.jsonl")));
        assert_eq!(ours.len(), want.len());
        for (o, w) in ours.iter().zip(&want) {
            assert_eq!(o, w, "{name}/{}", w["id"]);
        }
    }
}

#[test]
fn a_bad_line_is_one_error_with_its_line_number_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("{\"id\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{not json\n", ":2: invalid JSON"),
        (
            "{\"id\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"name\": \"f\", \"arguments\": {}}]}]}\n",
            ":1: message 1: tool_calls[0]: the earlier",
        ),
        ("\n\n{\"id\": 3, \"messages\": []}\n", ":3: \"messages\" is empty"),
        ("{\"id\": 4, \"messages\": [{\"role\": \"user\", \"content\": \"boom\"}]}\n", ":1: "),
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        let inp = dir.path().join(format!("in{i}.jsonl"));
        std::fs::write(&inp, input).unwrap();
        let out = dir.path().join(format!("out{i}.jsonl"));
        let model = if i == 3 { chat_fixtures().join("broken_runtime") } else { chat_fixtures().join("v25") };
        let o = lfm()
            .args(["chat", "render", "--model"])
            .arg(model)
            .arg("--input")
            .arg(&inp)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("in{i}.jsonl{want}")), "{err}");
        assert!(!out.exists());
    }
    // The earlier layout's message says how to convert.
    let err = String::from_utf8(
        lfm()
            .args(["chat", "render", "--model"])
            .arg(chat_fixtures().join("v1"))
            .arg("--input")
            .arg(dir.path().join("in1.jsonl"))
            .arg("--out")
            .arg(dir.path().join("x.jsonl"))
            .output()
            .unwrap()
            .stderr,
    )
    .unwrap();
    assert!(err.contains("scripts/convert_chat_jsonl.py"), "{err}");
    // A broken template names its file.
    let err = String::from_utf8(
        lfm()
            .args(["chat", "render", "--model"])
            .arg(chat_fixtures().join("broken_syntax"))
            .arg("--input")
            .arg(chat_fixtures().join("conversations.jsonl"))
            .arg("--out")
            .arg(dir.path().join("y.jsonl"))
            .output()
            .unwrap()
            .stderr,
    )
    .unwrap();
    assert!(err.contains("broken_syntax/chat_template.jinja: the chat template does not parse"), "{err}");
}

#[test]
fn generate_renders_with_the_checkpoint_template_and_samples_with_its_generation_config() {
    let dir = tempfile::tempdir().unwrap();
    // do_sample with top_k 1: the sampled text must equal the greedy text.
    let model = tiny_with_template(dir.path(), r#"{"do_sample": true, "temperature": 0.7, "top_k": 1}"#);
    // The prompt `lfm generate` builds is the template's: its token count is chat render's.
    let inp = dir.path().join("c.jsonl");
    std::fs::write(&inp, "{\"id\": 0, \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"hi there\"}]}\n").unwrap();
    let out = dir.path().join("r.jsonl");
    lfm()
        .args(["chat", "render", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&inp)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let n_ids = jsonl(&out)[0]["ids"].as_array().unwrap().len();
    let run = |extra: &[&str]| {
        let o = lfm()
            .args(["generate", "--system", "Be brief.", "--prompt", "hi there", "--max-new-tokens", "6", "--model"])
            .arg(&model)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
    };
    let (sampled, err) = run(&[]);
    assert!(err.contains(&format!("1 prompt(s), {n_ids} prompt tokens")), "{err}");
    let (greedy, _) = run(&["--temperature", "0"]);
    assert_eq!(sampled, greedy, "top_k 1 from generation_config.json is greedy");
    // A flag overrides the file: top_k 0 at temperature 50 over many seeds leaves greedy.
    let differs = (0..6).any(|s| run(&["--top-k", "0", "--temperature", "50", "--seed", &s.to_string()]).0 != greedy);
    assert!(differs, "--top-k 0 --temperature 50 overrides the config's top_k 1");
    // A bad generation_config.json is named.
    std::fs::write(model.join("generation_config.json"), r#"{"do_sample": true, "min_p": 3}"#).unwrap();
    let o = lfm().args(["generate", "--prompt", "x", "--model"]).arg(&model).output().unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(!o.status.success() && err.contains("generation_config.json") && err.contains("min_p"), "{err}");
}

#[test]
fn eval_summaries_name_the_template_and_the_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_with_template(dir.path(), r#"{"do_sample": true, "temperature": 0.7}"#);
    let out = dir.path().join("ifeval");
    lfm()
        .args(["eval", "ifeval", "--limit", "2", "--max-new-tokens", "2", "--out"])
        .arg(&out)
        .arg("--model")
        .arg(&model)
        .assert()
        .success();
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(s["prompt_source"].as_str().unwrap().ends_with("model/chat_template.jinja"), "{s}");
    // Evals stay greedy: the checkpoint's do_sample is not taken.
    assert_eq!(s["sampling"]["greedy"], Value::Bool(true), "{s}");
    assert_eq!(s["sampling"]["temperature"].as_f64(), Some(0.0));
    let out2 = dir.path().join("ifeval2");
    lfm()
        .args([
            "eval",
            "ifeval",
            "--limit",
            "1",
            "--max-new-tokens",
            "2",
            "--temperature",
            "0.5",
            "--min-p",
            "0.1",
            "--out",
        ])
        .arg(&out2)
        .arg("--model")
        .arg(&model)
        .assert()
        .success();
    let s: Value = serde_json::from_str(&std::fs::read_to_string(out2.join("summary.json")).unwrap()).unwrap();
    assert_eq!((s["sampling"]["greedy"].as_bool(), s["sampling"]["temperature"].as_f64()), (Some(false), Some(0.5)));
    assert!((s["sampling"]["min_p"].as_f64().unwrap() - 0.1).abs() < 1e-6);
}

#[test]
fn a_checkpoint_without_a_template_says_so_once_and_uses_the_builtin_layout() {
    let o = lfm()
        .args(["generate", "--prompt", "hi", "--prompt", "there", "--max-new-tokens", "2", "--model"])
        .arg(repo().join("data/lfm2-tiny"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(notes[0].contains("built-in LFM2 layout") && notes[0].contains("has no chat template"), "{err}");
    // chat render shows the built-in layout too.
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("c.jsonl");
    std::fs::write(
        &inp,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n",
    )
    .unwrap();
    let out = dir.path().join("o.jsonl");
    lfm()
        .args(["chat", "render", "--model"])
        .arg(repo().join("data/lfm2-tiny"))
        .arg("--input")
        .arg(&inp)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let rows = jsonl(&out);
    assert_eq!(rows[0]["text"], "<|startoftext|><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    assert!(rows[0]["assistant_mask"].as_array().unwrap().iter().all(|m| m == 0));
    // The built-in layout marks its assistant turn (content and <|im_end|>, id 7).
    let ids = rows[1]["ids"].as_array().unwrap();
    let on: Vec<&Value> = ids
        .iter()
        .zip(rows[1]["assistant_mask"].as_array().unwrap())
        .filter(|(_, m)| *m == 1)
        .map(|(i, _)| i)
        .collect();
    assert!(!on.is_empty() && *on.last().unwrap() == 7, "{:?}", rows[1]);
}
