//! The renderer against transformers: each fixture checkpoint's template (written for this
//! project to use the constructs of LFM2's and LFM2.5's public templates) renders the bundled
//! conversations to the same text, ids and assistant mask that transformers 5.25's
//! `apply_chat_template` produced (`scripts/chat_reference.py`, see fixtures/chat/README.md).

use std::path::{Path, PathBuf};

use lfm_data::chat::{self, Conversation};
use lfm_data::template::TextCodec;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat")
}

fn codec(name: &str) -> TextCodec {
    let mut c = TextCodec::load(&fixtures().join(name)).unwrap();
    c.options.now = Some("2026-01-15T00:00:00+00:00".into());
    c
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check(name: &str) {
    let c = codec(name);
    let convs = lines(&fixtures().join("conversations.jsonl"));
    let expected = lines(&fixtures().join(format!("expected/{name}.jsonl")));
    assert_eq!(convs.len(), expected.len());
    let mut masked = 0;
    for (conv, want) in convs.iter().zip(&expected) {
        let id = conv["id"].as_str().unwrap();
        assert_eq!(want["id"].as_str(), Some(id));
        let cv = Conversation::from_value(conv).unwrap();
        let (text, ids, mask) = c.render_with_mask(&cv).unwrap_or_else(|e| panic!("{name}/{id}: {e:#}"));
        assert_eq!(text, want["text"].as_str().unwrap(), "{name}/{id}: text");
        let want_ids: Vec<u32> = want["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(ids, want_ids, "{name}/{id}: ids");
        let want_mask: Vec<bool> =
            want["assistant_mask"].as_array().unwrap().iter().map(|v| v.as_u64() == Some(1)).collect();
        assert_eq!(mask, want_mask, "{name}/{id}: assistant mask");
        masked += mask.iter().filter(|m| **m).count();
    }
    if c.templates.as_ref().unwrap().templates.iter().any(|(_, t)| t.has_generation) {
        assert!(masked > 0, "{name}: the fixture exercises the mask");
    }
}

#[test]
fn lfm2_style_template_matches_transformers() {
    check("v1");
}

#[test]
fn lfm25_style_template_matches_transformers() {
    check("v25");
}

#[test]
fn template_without_generation_blocks_matches_transformers_with_an_empty_mask() {
    check("nogen");
}

#[test]
fn named_templates_pick_tool_use_with_tools_as_transformers_does() {
    check("named");
}

#[test]
fn a_template_string_in_tokenizer_config_is_read() {
    check("legacy_string");
}

#[test]
fn broken_templates_are_one_line_errors_naming_the_file() {
    let dir = fixtures();
    let e = format!("{:#}", TextCodec::load(&dir.join("broken_syntax")).err().unwrap());
    assert!(
        e.contains("broken_syntax/chat_template.jinja: the chat template does not parse") && !e.contains('\n'),
        "{e}"
    );
    let boom =
        Conversation::from_value(&serde_json::json!({"messages": [{"role": "user", "content": "boom"}]})).unwrap();
    let e = format!("{:#}", codec("broken_runtime").render(&boom, true).unwrap_err());
    assert!(
        e.contains("broken_runtime/chat_template.jinja: the chat template raised an exception:") && !e.contains('\n'),
        "{e}"
    );
    codec("broken_runtime").render(&Conversation::user("fine"), true).unwrap();
    let e = format!("{:#}", codec("undefined_call").render(&Conversation::user("x"), true).unwrap_err());
    assert!(
        e.contains("undefined_call/chat_template.jinja: rendering the chat template failed")
            && e.contains("line")
            && !e.contains('\n'),
        "{e}"
    );
}

#[test]
fn replies_rendered_by_the_templates_parse_back_to_the_same_calls() {
    // message -> template -> reply text -> structured calls, for both call dialects.
    for name in ["v1", "v25"] {
        let c = codec(name);
        for conv in lines(&fixtures().join("conversations.jsonl")) {
            let cv = Conversation::from_value(&conv).unwrap();
            for i in 0..cv.messages.len() {
                let calls = cv.tool_calls(i).unwrap();
                if calls.is_empty() {
                    continue;
                }
                // The assistant turn as the template renders it, cut out of the conversation.
                let before = c.render(&cv.prefix(i), true).unwrap().text;
                let upto = c.render(&cv.prefix(i + 1), false).unwrap().text;
                let reply = upto[before.len()..].trim_end().trim_end_matches("<|im_end|>");
                let parsed = chat::parse_reply(reply).unwrap_or_else(|e| panic!("{name}: {reply:?}: {e:#}"));
                assert_eq!(parsed.calls, calls, "{name}: {reply}");
            }
        }
    }
}
