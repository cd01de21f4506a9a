//! Differential test: our BFCL verdicts against the official `bfcl-eval` checker's, recorded
//! once by `scripts/bfcl_official_verdicts.py` on `evals/bfcl/responses.jsonl` (hand-made
//! near-misses for every rule, see `scripts/make_bfcl_responses.py`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lfm_eval::bfcl::{load_records, score, Mode, Record};
use serde_json::Value;

fn evals() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/bfcl")
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn records() -> HashMap<String, Record> {
    let mut out = HashMap::new();
    for e in std::fs::read_dir(evals()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("BFCL_v4_") || name.contains("possible_answer") || !name.ends_with(".jsonl") {
            continue;
        }
        let ans = p.with_file_name(name.replace(".jsonl", ".possible_answer.jsonl"));
        let recs = load_records(&p, ans.exists().then_some(ans.as_path())).unwrap();
        for r in recs {
            out.insert(r.id.clone(), r);
        }
    }
    out
}

#[test]
fn verdicts_match_the_official_checker_on_every_row() {
    let recs = records();
    let responses = lines(&evals().join("responses.jsonl"));
    let official = lines(&evals().join("official_verdicts.jsonl"));
    assert_eq!(responses.len(), official.len());
    let mut mismatches = Vec::new();
    let mut type_mismatches = 0;
    let mut by_cat: HashMap<String, (usize, usize)> = HashMap::new();
    for (r, o) in responses.iter().zip(&official) {
        assert_eq!(r["id"], o["id"]);
        assert_eq!(r["case"], o["case"]);
        let rec = &recs[r["id"].as_str().unwrap()];
        let v = score(rec, r["result"].as_str().unwrap(), Mode::Official);
        let want = o["valid"].as_bool().unwrap();
        let e = by_cat.entry(o["category"].as_str().unwrap_or("?").to_string()).or_default();
        e.0 += 1;
        e.1 += want as usize;
        if v.valid != want {
            mismatches.push(format!(
                "{} [{}] {:?}: ours {} ({:?}: {:?}), official {} ({})",
                r["id"], r["case"], r["result"], v.valid, v.error_type, v.reason, want, o["error_type"]
            ));
        } else if !want && v.error_type.as_deref() != o["error_type"].as_str() {
            type_mismatches += 1;
            println!(
                "error type differs: {} [{}]: ours {:?}, official {}",
                r["id"], r["case"], v.error_type, o["error_type"]
            );
        }
    }
    println!("per category (rows, officially valid): {by_cat:?}");
    println!(
        "{} rows, {} verdict mismatches, {type_mismatches} error-type differences",
        responses.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(type_mismatches, 0, "error types differ from the official ones");
}

/// In LFM2 mode the official-valid calls stay valid when wrapped the way LFM2 emits them.
#[test]
fn lfm2_wrappers_are_stripped_in_lfm2_mode() {
    let recs = records();
    let responses = lines(&evals().join("responses.jsonl"));
    let official = lines(&evals().join("official_verdicts.jsonl"));
    let mut n = 0;
    for (r, o) in responses.iter().zip(&official) {
        if r["case"] != "oracle" || o["valid"] != true {
            continue;
        }
        let rec = &recs[r["id"].as_str().unwrap()];
        let raw = r["result"].as_str().unwrap();
        for wrapped in [
            format!("<|tool_call_start|>{raw}<|tool_call_end|>"),
            format!("```python\n{raw}\n```"),
            format!("{raw}<|im_end|>"),
        ] {
            let wrapped = wrapped.replace("<|im_end|>", "");
            let v = score(rec, &wrapped, Mode::Lfm2);
            assert!(v.valid, "{}: {wrapped:?}: {v:?}", rec.id);
            assert!(!score(rec, &wrapped, Mode::Official).valid || !wrapped.contains('<') && !wrapped.contains('`'));
        }
        n += 1;
    }
    assert!(n >= 90, "oracle rows checked: {n}");
}
