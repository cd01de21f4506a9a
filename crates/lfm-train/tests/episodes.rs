//! Multi-turn tool episodes: the token row an episode builds (prompt, the model's turn as
//! sampled, the tool results and the next generation prompt) is, as text, exactly what the
//! checkpoint's chat template renders for the same conversation with the built-in LFM2
//! layout; with an LFM2.5-style Jinja template, which rewrites the system turn once tool
//! results exist, the appended text is the template's rendering after the assistant turn.

mod common;

use lfm_data::chat::{parse_reply, Conversation};
use lfm_data::template::TextCodec;
use lfm_train::env::{continuation, Environment, ToyTools};
use serde_json::json;

fn check(codec: &TextCodec, stable: bool) {
    let conv = Conversation::new(
        vec![json!({"role": "user", "content": "Count the s in mississippi, and set a 5 minute timer."})],
        Some(vec![
            json!({"name": "count_letter", "parameters": {"type": "object", "properties": {"word": {"type": "string"}, "letter": {"type": "string"}}, "required": ["word", "letter"]}}),
            json!({"name": "set_timer", "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]}}),
        ]),
    )
    .unwrap();
    let prompt = codec.render(&conv, true).unwrap().text;
    // The model's turn as it would sample it: the calls in the template's own call syntax.
    let reply =
        "<|tool_call_start|>[count_letter(word=\"mississippi\", letter=\"s\"), set_timer(minutes=5)]<|tool_call_end|>";
    let parsed = parse_reply(reply).unwrap();
    assert_eq!(parsed.calls.len(), 2);
    let results: Vec<_> = parsed.calls.iter().map(|c| ToyTools.execute(c)).collect();
    assert_eq!(results[0].key.as_deref(), Some("4"));
    let (next, ids) = continuation(codec, &conv, &parsed, &results, "<|im_end|>").unwrap();
    assert_eq!(next.messages.len(), 4, "user, assistant, two tool messages");
    let between = codec.tokenizer.decode(&ids, false).unwrap();
    let episode_text = format!("{prompt}{reply}<|im_end|>{between}");
    let rendered = codec.render(&next, true).unwrap().text;
    assert!(between.contains(&results[0].content) && between.contains(&results[1].content), "{between}");
    assert!(rendered.ends_with(&between), "{rendered:?}\n{between:?}");
    if stable {
        assert_eq!(episode_text, rendered, "{}", codec.prompt_source());
    } else {
        // The template rewrote the system turn once tool results exist: the episode keeps
        // what the model saw, the rest is the template's.
        assert_ne!(episode_text, rendered);
    }
}

#[test]
fn an_episode_continues_the_template_token_for_token() {
    let repo = common::repo();
    check(&TextCodec::load(&repo.join("data/lfm2-tiny")).unwrap(), true);
    check(&TextCodec::load(&repo.join("crates/lfm-data/tests/fixtures/chat/v25")).unwrap(), false);
}
