//! GGUFs without `tokenizer.huggingface.json` (as llama.cpp's `convert_hf_to_gguf.py` writes
//! them): the tokenizer rebuilt from the `tokenizer.ggml.*` keys encodes and decodes exactly as
//! the HF tokenizer the keys were made from.
//!
//! The keys are derived here the way the converter derives them (its `get_vocab_base`): the
//! vocabulary with added tokens in id order, ids the HF vocabulary lacks as `[PADi]` of type
//! UNUSED, added tokens CONTROL when special (or when they look special, `<|…|>`) and
//! USER_DEFINED otherwise, merges as `"a b"` strings. Two HF tokenizers are checked: the
//! fixture's (GPT-2 byte-level, `pre` = `gpt-2`) and an LFM2-style one trained with lfm-data
//! (LFM2's split regex before byte-level, BOS template, `ignore_merges` as in llama.cpp's
//! `lfm2` handling; `pre` = `lfm2`). Each gets a non-special added token too.

use std::path::Path;

use lfm_quant::gguf::{Bytes, GgufFile, GgufWriter, Value};
use serde_json::Value as Json;
use tokenizers::{AddedToken, Tokenizer};

mod common;
use common::Rng;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The converter's keys for `hf` (with `vocab_size` ids, at least the tokenizer's).
fn ggml_keys(hf: &Tokenizer, vocab_size: usize, pre: &str) -> GgufWriter {
    let tj: Json = serde_json::from_str(&hf.to_string(false).unwrap()).unwrap();
    let reverse: std::collections::HashMap<u32, String> = hf.get_vocab(true).into_iter().map(|(t, i)| (i, t)).collect();
    let added: std::collections::HashMap<String, bool> = tj["added_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["content"].as_str().unwrap().to_string(), a["special"].as_bool().unwrap()))
        .collect();
    let (mut tokens, mut types) = (Vec::new(), Vec::new());
    for i in 0..vocab_size as u32 {
        match reverse.get(&i) {
            None => {
                tokens.push(format!("[PAD{i}]"));
                types.push(5);
            }
            Some(t) => {
                tokens.push(t.clone());
                types.push(match added.get(t) {
                    Some(&special) if special || (t.starts_with("<|") && t.ends_with("|>")) => 3,
                    Some(_) => 4,
                    None => 1,
                });
            }
        }
    }
    let merges: Vec<String> = tj["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            Json::String(s) => s.clone(),
            Json::Array(p) => format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap()),
            other => panic!("merge {other}"),
        })
        .collect();
    let id = |t: &str| Value::U32(hf.token_to_id(t).unwrap());
    let mut w = GgufWriter::default();
    w.set("general.architecture", Value::Str("lfm2".into()));
    w.set("tokenizer.ggml.model", Value::Str("gpt2".into()));
    w.set("tokenizer.ggml.pre", Value::Str(pre.into()));
    w.set("tokenizer.ggml.tokens", Value::strings(tokens));
    w.set("tokenizer.ggml.token_type", Value::i32s(types));
    w.set("tokenizer.ggml.merges", Value::strings(merges));
    w.set("tokenizer.ggml.bos_token_id", id("<|startoftext|>"));
    w.set("tokenizer.ggml.eos_token_id", id("<|im_end|>"));
    w.set("tokenizer.ggml.padding_token_id", id("<|pad|>"));
    w.set("tokenizer.ggml.add_bos_token", Value::Bool(true));
    w.set(
        "tokenizer.chat_template",
        Value::Str("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}".into()),
    );
    w
}

fn reopen(w: &GgufWriter) -> GgufFile {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.gguf");
    w.write(&p).unwrap();
    GgufFile::parse(Bytes::Owned(std::fs::read(&p).unwrap()), "t.gguf").unwrap()
}

fn texts() -> Vec<String> {
    let fixed = [
        "Hello, world! It's 2024 and we've got 1234567 items (3.14159).",
        "  leading spaces,   runs of   spaces\t\ttabs\n\n\nnewlines \r\n CRLF   \n",
        "Ünïcödé façade — naïve café; Straße; ÆØÅ æøå",
        "Привет, мир! Как дела? Ёжик.",
        "日本語のテキストと漢字、中文的句子。한국어 문장입니다.",
        "مرحبا بالعالم ١٢٣٤ — हिन्दी में वाक्य। ภาษาไทย",
        "emoji 👍🏽 🇳🇴 👩‍👩‍👧‍👦 ❤️ 🤖🚀",
        "<|startoftext|><|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
        "calls: <|tool_call_start|>[get(x=1)]<|tool_call_end|> and <think>maybe</think>",
        "I'LL SAY IT'S DON'T won't they'd you're we've; plugh xyzzyq xyzzyqq",
        "fn main() { let x = vec![1, 2, 3]; println!(\"{x:?}\"); } // 0x7f 1e-5",
        "digits 1 12 123 1234 12345 123456 0001 9999999999 3,141,592",
        "",
        " ",
        "\n",
    ];
    let mut out: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    // Random strings from a pool mixing all of the above.
    let pool: Vec<char> =
        "aAzZ09 '\t\n\r.,!?-_()[]{}<>|/\\\"#@ éüßøЖжя中文日本한글ع्😀👍🏽\u{200d}\u{fe0f}".chars().collect();
    let specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "<|pad|>"];
    let mut r = Rng(42);
    for _ in 0..300 {
        let mut s = String::new();
        for _ in 0..r.below(60) {
            if r.below(20) == 0 {
                s.push_str(specials[r.below(specials.len())]);
            } else {
                s.push(pool[r.below(pool.len())]);
            }
        }
        out.push(s);
    }
    out
}

/// Encodes and decodes every text (and random id sequences) with both tokenizers.
fn assert_same(hf: &Tokenizer, ours: &Tokenizer, hf_adds_bos: bool, what: &str) {
    assert_eq!(ours.get_vocab_size(true), hf.get_vocab_size(true), "{what}");
    let bos = hf.token_to_id("<|startoftext|>").unwrap();
    for t in texts() {
        let want = hf.encode(t.as_str(), false).unwrap().get_ids().to_vec();
        let got = ours.encode(t.as_str(), false).unwrap().get_ids().to_vec();
        assert_eq!(got, want, "{what}: {t:?}");
        // With special tokens: BOS in front, as llama.cpp adds it (add_bos_token).
        let mut want_bos = hf.encode(t.as_str(), true).unwrap().get_ids().to_vec();
        if !hf_adds_bos {
            want_bos.insert(0, bos);
        }
        assert_eq!(ours.encode(t.as_str(), true).unwrap().get_ids(), &want_bos[..], "{what}: {t:?}");
        for skip in [false, true] {
            assert_eq!(ours.decode(&got, skip).unwrap(), hf.decode(&want, skip).unwrap(), "{what}: {t:?}");
        }
    }
    let mut r = Rng(9);
    let n = hf.get_vocab_size(true);
    for _ in 0..300 {
        let ids: Vec<u32> = (0..r.below(12)).map(|_| r.below(n) as u32).collect();
        for skip in [false, true] {
            assert_eq!(ours.decode(&ids, skip).unwrap(), hf.decode(&ids, skip).unwrap(), "{what}: {ids:?}");
        }
    }
}

#[test]
fn fixture_tokenizer_from_ggml_keys_matches_hf() {
    let mut hf = Tokenizer::from_file(repo().join("data/lfm2-tiny/tokenizer.json")).unwrap();
    hf.add_tokens(&[AddedToken::from("<think>", false), AddedToken::from("</think>", false)]);
    let n = hf.get_vocab_size(true);
    let g = reopen(&ggml_keys(&hf, n + 6, "gpt-2"));
    let ours = lfm_quant::import::tokenizer(&g).unwrap().expect("a tokenizer from the ggml keys");
    // The fixture's post-processor adds no BOS; with `add_bos_token` ours does, like llama.cpp.
    assert_same(&hf, &ours, false, "fixture");
    // [PADi] ids are not tokens.
    assert_eq!(ours.id_to_token(n as u32 + 1), None);
}

#[test]
fn lfm2_style_tokenizer_from_ggml_keys_matches_hf() {
    let corpus = std::fs::read_to_string(repo().join("data/corpus/jargon.jsonl")).unwrap();
    let docs: Vec<String> = corpus
        .lines()
        .take(400)
        .map(|l| serde_json::from_str::<Json>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let opts = lfm_data::tokenizer::BpeOptions { vocab_size: 1500, ..Default::default() };
    let trained = lfm_data::tokenizer::train_bpe(docs.iter(), &opts).unwrap();
    // As LFM2's tokenizer.json (and llama.cpp's `lfm2`): words that are tokens skip the merges.
    let mut tj: Json = serde_json::from_str(&trained.to_string(false).unwrap()).unwrap();
    assert_eq!(tj["pre_tokenizer"]["type"], "Sequence");
    tj["model"]["ignore_merges"] = Json::Bool(true);
    // A whole word in the vocabulary that no merge makes: only `ignore_merges` yields it.
    let next = tj["model"]["vocab"].as_object().unwrap().len();
    tj["model"]["vocab"]["Ġxyzzyq"] = next.into();
    let mut hf: Tokenizer = tj.to_string().parse().unwrap();
    hf.add_tokens(&[AddedToken::from("<think>", false)]);
    let n = hf.get_vocab_size(true);
    let g = reopen(&ggml_keys(&hf, n, "lfm2"));
    let ours = lfm_quant::import::tokenizer(&g).unwrap().unwrap();
    assert_same(&hf, &ours, true, "lfm2-style");

    // The codec (chat template, BOS) of a GGUF with only these keys.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.gguf");
    ggml_keys(&hf, n, "lfm2").write(&p).unwrap();
    let codec = lfm_quant::load::load_codec(&p).unwrap();
    assert!(codec.add_bos && codec.templates.is_some());
    assert_eq!(codec.bos_token(), Some("<|startoftext|>"));
    assert_eq!(codec.eos_token(), Some("<|im_end|>"));
    let ids = codec.encode_plain("Hello there").unwrap();
    assert_eq!(ids[0], hf.token_to_id("<|startoftext|>").unwrap());
    assert_eq!(&ids[1..], hf.encode("Hello there", false).unwrap().get_ids());
}

#[test]
fn unsupported_or_broken_ggml_tokenizers_are_one_line_errors() {
    let hf = Tokenizer::from_file(repo().join("data/lfm2-tiny/tokenizer.json")).unwrap();
    let n = hf.get_vocab_size(true);
    let err = |w: &GgufWriter| format!("{:#}", lfm_quant::import::tokenizer(&reopen(w)).err().unwrap());
    let mut w = ggml_keys(&hf, n, "gpt-2");
    w.set("tokenizer.ggml.model", Value::Str("llama".into()));
    let e = err(&w);
    assert!(e.starts_with("t.gguf: ") && e.contains("\"llama\" is not supported"), "{e}");
    let mut w = ggml_keys(&hf, n, "qwen2");
    let e = err(&w);
    assert!(e.contains("tokenizer.ggml.pre \"qwen2\" is not supported"), "{e}");
    w.set("tokenizer.ggml.pre", Value::Str("lfm2".into()));
    w.set("tokenizer.ggml.merges", Value::strings(["Ġ zzz-not-a-token"]));
    let e = err(&w);
    assert!(e.contains("do not form a BPE vocabulary") && !e.contains('\n'), "{e}");
    let mut w = ggml_keys(&hf, n, "lfm2");
    w.set("tokenizer.ggml.token_type", Value::i32s([1, 1]));
    assert!(err(&w).contains("one integer per token"));
    // No tokenizer keys at all: no tokenizer (callers that need one say so).
    let mut w = GgufWriter::default();
    w.set("general.architecture", Value::Str("lfm2".into()));
    assert!(lfm_quant::import::tokenizer(&reopen(&w)).unwrap().is_none());
}
