//! Differential test of the langdetect port against the Python package (langdetect 1.0.9,
//! `DetectorFactory.seed = 0`, Python 3.11), recorded by `scripts/langdetect_official.py` on 4255
//! texts: every IFEval fixture response (as is, upper-cased, lower-cased, first line), every
//! IFEval prompt, and hand-written samples in 30+ languages and edge cases.

use std::path::Path;

use lfm_eval::ifeval::langdetect::{detect_langs, DetectError};
use serde_json::Value;

#[test]
fn detections_match_the_python_package() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/ifeval/langdetect_official.jsonl");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut bad = Vec::new();
    let mut n = 0;
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let t = row["text"].as_str().unwrap();
        n += 1;
        match (detect_langs(t), row.get("error")) {
            (Err(DetectError::NoFeatures), Some(_)) => {}
            (Ok(got), None) => {
                let want: Vec<(String, f64)> = row["probs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| (x[0].as_str().unwrap().to_string(), x[1].as_f64().unwrap()))
                    .collect();
                let want_lang = row["lang"].as_str().unwrap();
                let got_lang = got.first().map(|x| x.0.as_str()).unwrap_or("unknown");
                let same = got.len() == want.len()
                    && got.iter().zip(&want).all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= 1e-12);
                if got_lang != want_lang || !same {
                    bad.push(format!("{t:?}: ours {got:?}, python {want:?}"));
                }
            }
            (got, _) => bad.push(format!("{t:?}: ours {got:?}, python {row}")),
        }
    }
    assert_eq!(n, 4255);
    assert!(
        bad.is_empty(),
        "{} of {n} differ:\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}
