//! LoRA from the command line: the toy config trains an adapter in PEFT's layout on the
//! tiny fixture, `lfm adapter merge` folds it in (recomputed here from the adapter files as
//! PEFT reads them), and `--adapter` gives the merged model's logits and text.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lfm() -> Command {
    let mut c = Command::cargo_bin("lfm").unwrap();
    c.current_dir(repo());
    c
}

fn read_f32(path: &Path) -> std::collections::HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.names()
        .into_iter()
        .filter(|n| st.tensor(n).unwrap().dtype() == safetensors::tensor::Dtype::F32)
        .map(|n| {
            let t = st.tensor(n).unwrap();
            let v = t.data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (n.to_string(), (t.shape().to_vec(), v))
        })
        .collect()
}

/// `lfm logits` of the fixture's reference input under `model` (with `--adapter` when given),
/// written to `out` and read back.
fn logits(model: &Path, adapter: Option<&Path>, out: &Path) -> Vec<f32> {
    let mut c = lfm();
    c.args(["logits", "--input", "data/lfm2-tiny/reference.safetensors", "--model"]).arg(model).arg("--out").arg(out);
    if let Some(a) = adapter {
        c.arg("--adapter").arg(a);
    }
    c.assert().success();
    read_f32(out).remove("logits").unwrap().1
}

#[test]
fn lora_toy_run_merges_and_serves_as_the_merged_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    lfm()
        .args([
            "train",
            "sft",
            "--config",
            "configs/lora-sft-toy.toml",
            "--steps",
            "3",
            "--init-from",
            "data/lfm2-tiny",
            "--out",
        ])
        .arg(&run)
        .assert()
        .success();
    let ck = run.join("checkpoints/step-000003");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ck.join("adapter_config.json")).unwrap()).unwrap();
    assert_eq!(
        (cfg["peft_type"].as_str(), cfg["r"].as_u64(), cfg["lora_alpha"].as_f64()),
        (Some("LORA"), Some(8), Some(16.0))
    );
    assert!(!ck.join("model.safetensors").exists());

    let merged = dir.path().join("merged");
    lfm()
        .args(["adapter", "merge", "--model", "data/lfm2-tiny", "--adapter"])
        .arg(&ck)
        .arg("--out")
        .arg(&merged)
        .assert()
        .success();
    for f in ["tokenizer.json", "tokenizer_config.json", "config.json", "model.safetensors"] {
        assert!(merged.join(f).exists(), "{f}");
    }
    // W + (alpha / r) B A, recomputed from the files as PEFT would.
    let base = read_f32(&repo().join("data/lfm2-tiny/model.safetensors"));
    let adapter = read_f32(&ck.join("adapter_model.safetensors"));
    let out = read_f32(&merged.join("model.safetensors"));
    let scale = 16.0 / 8.0;
    let mut checked = 0;
    for (name, (shape, w)) in &base {
        let module = name.trim_end_matches(".weight");
        let a = adapter.get(&format!("base_model.model.{module}.lora_A.weight"));
        let b = adapter.get(&format!("base_model.model.{module}.lora_B.weight"));
        let got = &out[name].1;
        match (a, b) {
            (Some((sa, a)), Some((sb, b))) => {
                let (o, i, r) = (shape[0], shape[1], sa[0]);
                assert_eq!((sa.as_slice(), sb.as_slice()), ([r, i].as_slice(), [o, r].as_slice()));
                for oo in 0..o {
                    for ii in 0..i {
                        let d: f64 = (0..r).map(|k| b[oo * r + k] as f64 * a[k * i + ii] as f64).sum();
                        let want = w[oo * i + ii] as f64 + scale * d;
                        assert!((got[oo * i + ii] as f64 - want).abs() < 1e-5, "{name}[{oo},{ii}]");
                    }
                }
                checked += 1;
            }
            _ => assert_eq!(got, w, "{name} is not adapted and stays as it was"),
        }
    }
    assert!(checked >= 9, "{checked} adapted matrices");

    // --adapter on generate gives the merged checkpoint's greedy text.
    let text = |model: &Path, adapter: Option<&Path>| {
        let mut c = lfm();
        c.args(["generate", "--prompt", "Weather in Oslo?", "--max-new-tokens", "12", "--temperature", "0", "--model"])
            .arg(model);
        if let Some(a) = adapter {
            c.arg("--adapter").arg(a);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(text(&repo().join("data/lfm2-tiny"), Some(&ck)), text(&merged, None));

    // --adapter on logits (applied unmerged) gives the merged checkpoint's logits.
    let unmerged = logits(&repo().join("data/lfm2-tiny"), Some(&ck), &dir.path().join("l1.safetensors"));
    let from_merged = logits(&merged, None, &dir.path().join("l2.safetensors"));
    let scale = lfm_model::compare::max_abs(&from_merged).max(1.0);
    let diff = lfm_model::compare::max_abs_diff(&unmerged, &from_merged);
    assert!(diff <= 1e-5 * scale, "unmerged vs merged logits: {diff} (scale {scale})");

    // A bad adapter is one line.
    std::fs::write(ck.join("adapter_config.json"), "{\"peft_type\": \"LORA\"}").unwrap();
    let o = lfm()
        .args(["adapter", "merge", "--model", "data/lfm2-tiny", "--out"])
        .arg(dir.path().join("m2"))
        .arg("--adapter")
        .arg(&ck)
        .output()
        .unwrap();
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(!o.status.success() && err.trim_end().lines().count() == 1 && err.contains("adapter_config.json"), "{err}");
    assert!(!dir.path().join("m2").exists());
}

/// QLoRA from the command line: the toy LoRA config on a Q8_0 GGUF of the fixture (the packed
/// weights stay packed), then the adapter served beside the same GGUF base by `logits`. The
/// adapter trained on the packed base moves the logits, and `lfm train` reports peak RSS.
#[test]
fn qlora_trains_an_adapter_on_a_packed_gguf_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    let gguf = base.join("tiny-q8_0.gguf");
    lfm()
        .args(["export", "gguf", "--model", "data/lfm2-tiny", "--quant", "q8_0", "--out"])
        .arg(&gguf)
        .assert()
        .success();
    // The tokenizer and chat template live beside the GGUF file, as in an HF directory.
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(repo().join("data/lfm2-tiny").join(f), base.join(f)).unwrap();
    }
    let run = dir.path().join("run");
    let o = lfm()
        .args(["train", "sft", "--config", "configs/lora-sft-toy.toml", "--steps", "2", "--init-from"])
        .arg(&gguf)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("peak RSS"), "{stdout}");
    let ck = run.join("checkpoints/step-000002");
    assert!(ck.join("adapter_model.safetensors").exists() && !ck.join("model.safetensors").exists());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ck.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["init"].as_str().map(PathBuf::from), Some(gguf.clone()));

    let logits = |adapter: Option<&Path>, out: &Path| logits(&gguf, adapter, out);
    let plain = logits(None, &dir.path().join("l0.safetensors"));
    let tuned = logits(Some(&ck), &dir.path().join("l1.safetensors"));
    let moved = lfm_model::compare::max_abs_diff(&plain, &tuned);
    assert!(moved.is_finite() && moved > 1e-4, "the adapter does not move the packed model's logits: {moved}");

    // Without an [adapter] a packed base is refused, in one line.
    let o = lfm()
        .args(["train", "sft", "--config", "configs/sft-tools.toml", "--steps", "1", "--init-from"])
        .arg(&gguf)
        .arg("--out")
        .arg(dir.path().join("full"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("cannot be trained in full"), "{err}");
}
