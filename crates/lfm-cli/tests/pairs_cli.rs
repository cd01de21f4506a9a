//! `lfm eval pairs` as the outside check runs it: its per-pair log-probs must equal the ones
//! computed from `lfm logits` on the same token rows (the pairs rendered with the checkpoint's
//! codec, summed over the completion's mask with log_softmax in f64).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use lfm_data::pairs::{encode_pair, load_pairs};
use lfm_data::template::TextCodec;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lfm() -> Command {
    let mut c = Command::cargo_bin("lfm").unwrap();
    c.current_dir(repo());
    c
}

/// Log-probs of the masked tokens of `ids` from `lfm logits` (one row per call).
fn logits_logp(tmp: &Path, ids: &[u32], mask: &[bool]) -> f64 {
    let input = tmp.join("ids.safetensors");
    let bytes: Vec<u8> = ids.iter().flat_map(|&t| (t as i64).to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![1, ids.len()], &bytes).unwrap();
    safetensors::serialize_to_file([("input_ids", view)], None, &input).unwrap();
    let out = tmp.join("logits.safetensors");
    lfm()
        .args(["logits", "--model", "data/lfm2-tiny", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let file = std::fs::read(&out).unwrap();
    let st = safetensors::SafeTensors::deserialize(&file).unwrap();
    let t = st.tensor("logits").unwrap();
    let v = *t.shape().last().unwrap();
    let logits: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    (1..ids.len())
        .filter(|&t| mask[t])
        .map(|t| {
            let row = &logits[(t - 1) * v..t * v];
            let m = row.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
            let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
            row[ids[t] as usize] as f64 - lse
        })
        .sum()
}

#[test]
fn eval_pairs_logprobs_equal_those_from_lfm_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pairs.jsonl");
    std::fs::write(
        &data,
        concat!(
            r#"{"id": "a", "prompt": "What is 2+2?", "chosen": "4", "rejected": "The answer is five."}"#,
            "\n",
            r#"{"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a color."}], "chosen": [{"role": "assistant", "content": "Blue."}], "rejected": [{"role": "assistant", "content": "I cannot say."}]}"#,
            "\n",
            r#"{"chosen": [{"role": "user", "content": "Say yes"}, {"role": "assistant", "content": "yes"}], "rejected": [{"role": "user", "content": "Say yes"}, {"role": "assistant", "content": "no"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    lfm()
        .args(["eval", "pairs", "--model", "data/lfm2-tiny", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let per: HashMap<String, Value> = std::fs::read_to_string(out.join("per_pair.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    let codec = TextCodec::load(&repo().join("data/lfm2-tiny")).unwrap();
    let pairs = load_pairs(&data).unwrap();
    assert_eq!(per.len(), 3);
    let mut wins = 0;
    for p in &pairs {
        let e = encode_pair(&codec, p).unwrap();
        let got = &per[&p.id];
        for (side, enc) in [("chosen", &e.chosen), ("rejected", &e.rejected)] {
            let want = logits_logp(tmp.path(), &enc.ids, &enc.mask);
            let lp = got[format!("logp_{side}")].as_f64().unwrap();
            println!("{} {side}: eval pairs {lp}, from lfm logits {want}", p.id);
            assert!((lp - want).abs() <= 1e-3, "{} {side}: {lp} vs {want}", p.id);
            let n = enc.mask.iter().skip(1).filter(|&&m| m).count() as u64;
            assert_eq!(got[format!("n_{side}")].as_u64().unwrap(), n);
        }
        wins += (got["logp_chosen"].as_f64() > got["logp_rejected"].as_f64()) as usize;
    }
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["accuracy"].as_f64().unwrap(), wins as f64 / 3.0);
    // A malformed record: one line naming the file and line, no output.
    std::fs::write(&data, "{\"prompt\": \"a\", \"chosen\": \"b\"}\n").unwrap();
    let bad = tmp.path().join("bad");
    let a = lfm()
        .args(["eval", "pairs", "--model", "data/lfm2-tiny", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&bad)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("pairs.jsonl:1") && err.contains("no \"rejected\""), "{err}");
    assert!(!bad.exists());
}

/// The shipped DPO toy as a user runs it: `lfm eval pairs` on the held-out pairs (never trained
/// on) is near chance for the starting model and at least 0.8 for the final checkpoint.
#[test]
fn dpo_toy_config_raises_held_out_preference_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    lfm().args(["train", "dpo", "--config", "configs/dpo-toy.toml", "--out"]).arg(&run).assert().success();
    let accuracy = |model: &Path, out: &str| {
        let out = tmp.path().join(out);
        lfm()
            .args(["eval", "pairs", "--data", "data/dpo/pairs_val.jsonl", "--model"])
            .arg(model)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let s: Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        s["accuracy"].as_f64().unwrap()
    };
    let before = accuracy(&repo().join("data/lfm2-tiny"), "before");
    let after = accuracy(&run.join("checkpoints/step-000200"), "after");
    println!("held-out preference accuracy {before:.3} -> {after:.3}");
    assert!((0.35..=0.65).contains(&before), "the starting model should be near chance: {before}");
    assert!(after >= 0.8, "DPO should reach 0.8 held-out: {after}");
}
