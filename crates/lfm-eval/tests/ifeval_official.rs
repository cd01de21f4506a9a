//! Differential test: our IFEval verdicts against the official lm-eval checkers', recorded once
//! by `scripts/ifeval_official_verdicts.py` on `evals/ifeval/responses.jsonl` (passes and
//! near-misses for every instruction id and SUBTLE case, see `scripts/make_ifeval_responses.py`).
//! Rows that use a check not implemented yet (sentence count, capital-word count, language id)
//! are skipped and counted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use lfm_eval::ifeval::{load_inputs, score, CheckError};
use serde_json::Value;

fn evals() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/ifeval")
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap().lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn verdicts_match_the_official_checker() {
    let inputs: HashMap<i64, _> = load_inputs(&evals().join("input_data.jsonl")).unwrap().into_iter().map(|p| (p.key, p)).collect();
    assert_eq!(inputs.len(), 541);
    let responses = lines(&evals().join("responses.jsonl"));
    let official = lines(&evals().join("official_verdicts.jsonl"));
    assert_eq!(responses.len(), official.len());
    let mut compared = 0;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (r, o) in responses.iter().zip(&official) {
        assert_eq!(r["key"], o["key"]);
        assert_eq!(r["case"], o["case"]);
        let p = &inputs[&r["key"].as_i64().unwrap()];
        // Keys 1122 and 1129 ask for the frequency of "#" / "!": upstream swaps such a letter for
        // a random one; we count the literal character, so compare with the official verdicts
        // recorded with the literal character (`letter_fallback.literal`).
        let o = match o.get("letter_fallback") {
            Some(f) => &f["literal"],
            None => o,
        };
        match score(p, r["response"].as_str().unwrap()) {
            Err(CheckError::Unsupported(id)) => *skipped.entry(id).or_default() += 1,
            Err(e) => panic!("{}: {e}", r["key"]),
            Ok(v) => {
                compared += 1;
                let want_s: Vec<bool> = o["strict"].as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect();
                let want_l: Vec<bool> = o["loose"].as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect();
                if v.strict != want_s || v.loose != want_l {
                    mismatches.push(format!(
                        "key {} [{}] {:?}: ours strict {:?} loose {:?}, official {want_s:?} {want_l:?}; response {:?}",
                        r["key"], r["case"], p.instruction_id_list, v.strict, v.loose, r["response"]
                    ));
                }
            }
        }
    }
    println!("{compared} rows compared, skipped (unimplemented check) {skipped:?}, {} mismatches", mismatches.len());
    assert!(compared >= responses.len() / 2, "most rows are compared");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
