//! `mock_response`: answers built locally, shaped like the real thing, so a config works with
//! no network (the README quick start) and tests can exercise the gateway alone.
//!
//! Usage is LiteLLM's mock usage: 10 prompt tokens, 20 completion tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::json;

use super::route::CallType;

pub const MOCK_USAGE: Usage = Usage {
    prompt_tokens: Some(10),
    completion_tokens: Some(20),
    total_tokens: Some(30),
    prompt_tokens_details: None,
    cache_creation_input_tokens: None,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage_json() -> serde_json::Value {
    json!({"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30})
}

/// A complete (non-streaming) response.
pub fn response(call: CallType, model: &str, text: &str, id: &str, inputs: usize) -> Bytes {
    let body = match call {
        CallType::Messages => {
            let chat: serde_json::Value =
                serde_json::from_slice(&response(CallType::Chat, model, text, id, inputs))
                    .unwrap_or_default();
            haimaker_providers::messages::response(&chat)
        }
        CallType::Chat => json!({
            "id": format!("chatcmpl-{id}"),
            "object": "chat.completion",
            "created": now(),
            "model": model,
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage_json(),
        }),
        CallType::Completion => json!({
            "id": format!("cmpl-{id}"),
            "object": "text_completion",
            "created": now(),
            "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": "stop"}],
            "usage": usage_json(),
        }),
        CallType::Embedding => json!({
            "object": "list",
            "model": model,
            "data": (0..inputs.max(1)).map(|i| json!({
                "object": "embedding",
                "index": i,
                "embedding": [0.0023, -0.0093, 0.0154, -0.0028],
            })).collect::<Vec<_>>(),
            "usage": {"prompt_tokens": 10, "total_tokens": 10},
        }),
    };
    Bytes::from(body.to_string())
}

/// A complete SSE stream: one chunk per word, then usage (if asked) and `[DONE]`.
pub fn stream(call: CallType, model: &str, text: &str, id: &str, include_usage: bool) -> Bytes {
    if call == CallType::Messages {
        use haimaker_providers::StreamTranslator;
        let chat = stream(CallType::Chat, model, text, id, true);
        let mut translator = haimaker_providers::messages_stream::OpenAiToAnthropic::new(model);
        let mut events = Vec::new();
        translator.push(&chat, &mut events);
        translator.finish(&mut events);
        return Bytes::from(events.concat());
    }
    let created = now();
    let mut out = String::new();
    let mut push = |value: serde_json::Value| {
        out.push_str("data: ");
        out.push_str(&value.to_string());
        out.push_str("\n\n");
    };
    let pieces: Vec<&str> = text.split_inclusive(' ').collect();
    let chat = call == CallType::Chat;
    let (object, chunk_id) = if chat {
        ("chat.completion.chunk", format!("chatcmpl-{id}"))
    } else {
        ("text_completion", format!("cmpl-{id}"))
    };
    let choice = |content: &str, first: bool, finish: Option<&str>| {
        if chat {
            let delta = match (first, finish) {
                (_, Some(_)) => json!({}),
                (true, None) => json!({"role": "assistant", "content": content}),
                (false, None) => json!({"content": content}),
            };
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
        } else {
            json!({"index": 0, "text": content, "logprobs": null, "finish_reason": finish})
        }
    };
    for (i, piece) in pieces.iter().enumerate() {
        push(
            json!({"id": chunk_id, "object": object, "created": created, "model": model,
                    "choices": [choice(piece, i == 0, None)]}),
        );
    }
    push(
        json!({"id": chunk_id, "object": object, "created": created, "model": model,
                "choices": [choice("", false, Some("stop"))]}),
    );
    if include_usage {
        push(
            json!({"id": chunk_id, "object": object, "created": created, "model": model,
                    "choices": [], "usage": usage_json()}),
        );
    }
    out.push_str("data: [DONE]\n\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn chat_response_is_a_chat_completion() {
        let body: serde_json::Value =
            serde_json::from_slice(&response(CallType::Chat, "fake", "hi there", "1", 1)).unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["message"]["content"], "hi there");
        assert_eq!(body["usage"]["total_tokens"], 30);
    }

    #[test]
    fn stream_has_word_chunks_usage_and_done() {
        let s = stream(CallType::Chat, "fake", "hello big world", "1", true);
        let text = std::str::from_utf8(&s).unwrap();
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 3 + 1 + 1 + 1);
        assert!(events[0].contains(r#""role":"assistant""#));
        assert!(events[4].contains(r#""usage""#));
        assert_eq!(events[5], "data: [DONE]");
        let s = stream(CallType::Chat, "fake", "hi", "1", false);
        assert!(!std::str::from_utf8(&s).unwrap().contains("usage"));
    }
}
