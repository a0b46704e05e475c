//! Streams for `POST /v1/messages`.
//!
//! [`OpenAiToAnthropic`]: `chat.completion.chunk` events -> Anthropic's event sequence
//! (`message_start`, `content_block_start` / `_delta` / `_stop` per text or tool block,
//! `message_delta` with the stop reason and usage, `message_stop`), for deployments that speak
//! OpenAI. [`AnthropicPassthrough`]: an Anthropic deployment's events relayed byte for byte,
//! read on the way for usage.

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::{Value, json};

use crate::messages::{stop_reason, usage_json};
use crate::stream::{SseData, SseInput, finish_data, merge_non_null, push_data};
use crate::util::named_event;
use crate::{StreamFormat, StreamTranslator};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    None,
    Text(u64),
    Tool(u64, u64),
}

pub struct OpenAiToAnthropic {
    input: SseInput,
    model: String,
    started: bool,
    block: Block,
    next_index: u64,
    stop: Option<&'static str>,
    usage: Option<Usage>,
    ended: bool,
}

impl OpenAiToAnthropic {
    /// `model`: what `message_start` names until the upstream says.
    pub fn new(model: &str) -> Self {
        Self {
            input: SseInput::default(),
            model: model.to_string(),
            started: false,
            block: Block::None,
            next_index: 0,
            stop: None,
            usage: None,
            ended: false,
        }
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<Bytes>) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(m) = chunk
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            self.model = m.to_string();
        }
        let id = chunk
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("msg_haimaker");
        out.push(named_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        ));
    }

    fn close_block(&mut self, out: &mut Vec<Bytes>) {
        let index = match self.block {
            Block::None => return,
            Block::Text(i) | Block::Tool(i, _) => i,
        };
        out.push(named_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
        self.block = Block::None;
    }

    fn open(&mut self, block: Value, out: &mut Vec<Bytes>) -> u64 {
        let index = self.next_index;
        self.next_index += 1;
        out.push(named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        index
    }

    fn chunk(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        if data == b"[DONE]" {
            self.end(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if let Some(error) = chunk.get("error") {
            self.close_block(out);
            out.push(named_event(
                "error",
                &json!({"type": "error", "error": {
                    "type": "api_error",
                    "message": error.get("message").and_then(Value::as_str).unwrap_or("upstream error"),
                }}),
            ));
            self.ended = true;
            return;
        }
        self.start(&chunk, out);
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object())
            && let Ok(usage) = serde_json::from_value::<Usage>(u.clone())
        {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = match self.block {
                Block::Text(i) => i,
                _ => {
                    self.close_block(out);
                    let i = self.open(json!({"type": "text", "text": ""}), out);
                    self.block = Block::Text(i);
                    i
                }
            };
            out.push(named_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let function = call.get("function").unwrap_or(&Value::Null);
            let index = match self.block {
                Block::Tool(i, t) if t == tool && call.get("id").is_none_or(Value::is_null) => i,
                _ => {
                    self.close_block(out);
                    let i = self.open(
                        json!({"type": "tool_use", "id": call.get("id"),
                               "name": function.get("name"), "input": {}}),
                        out,
                    );
                    self.block = Block::Tool(i, tool);
                    i
                }
            };
            if let Some(args) = function
                .get("arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                out.push(named_event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": args}}),
                ));
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop = Some(stop_reason(finish));
        }
    }

    fn end(&mut self, out: &mut Vec<Bytes>) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.start(&Value::Null, out);
        self.close_block(out);
        let usage = self.usage.unwrap_or_default();
        out.push(named_event(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": self.stop.unwrap_or("end_turn"), "stop_sequence": null},
                    "usage": usage_json(&usage)}),
        ));
        out.push(named_event(
            "message_stop",
            &json!({"type": "message_stop"}),
        ));
    }
}

impl SseData for OpenAiToAnthropic {
    fn input(&mut self) -> &mut SseInput {
        &mut self.input
    }

    fn data(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        self.chunk(data, out);
    }
}

impl StreamTranslator for OpenAiToAnthropic {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        push_data(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        finish_data(self, out);
        self.end(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn format(&self) -> StreamFormat {
        StreamFormat::Anthropic
    }
}

/// An Anthropic stream relayed as it is (event by event), read for usage on the way.
#[derive(Default)]
pub struct AnthropicPassthrough {
    input: SseInput,
    usage: Option<Value>,
}

impl AnthropicPassthrough {
    pub fn new() -> Self {
        Self::default()
    }

    fn read_usage(&mut self, data: &[u8]) {
        if memchr_usage(data)
            && let Ok(event) = serde_json::from_slice::<Value>(data)
        {
            let u = event
                .get("usage")
                .or_else(|| event.get("message").and_then(|m| m.get("usage")));
            if let Some(Value::Object(u)) = u {
                let into = self.usage.get_or_insert_with(|| json!({}));
                if let Some(into) = into.as_object_mut() {
                    merge_non_null(into, u);
                }
            }
        }
    }
}

fn memchr_usage(data: &[u8]) -> bool {
    data.windows(7).any(|w| w == b"\"usage\"")
}

impl StreamTranslator for AnthropicPassthrough {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        let events = self.input.push(chunk);
        for event in &events {
            if let Some(data) = event.data() {
                self.read_usage(&data);
            }
            out.push(event.raw.clone());
        }
        self.input.recycle(events);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        if let Some(rest) = self.input.finish() {
            out.push(rest.raw);
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(crate::anthropic::usage_of)
    }

    fn format(&self) -> StreamFormat {
        StreamFormat::Anthropic
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::util::data_event;

    fn events(out: &[Bytes]) -> Vec<(String, Value)> {
        out.iter()
            .map(|e| {
                let s = std::str::from_utf8(e).unwrap();
                let (name, data) = s.trim().split_once('\n').unwrap();
                (
                    name.strip_prefix("event: ").unwrap().to_string(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn openai_chunks_become_the_anthropic_event_sequence() {
        let mut t = OpenAiToAnthropic::new("group");
        let mut out = Vec::new();
        let chunk = |delta: Value, finish: Value| {
            data_event(
                &json!({"id": "chatcmpl-1", "model": "gpt-x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            )
        };
        for e in [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hel"}), Value::Null),
            chunk(json!({"content": "lo"}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            data_event(
                &json!({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
            ),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ] {
            t.push(&e, &mut out);
        }
        t.finish(&mut out);
        let ev = events(&out);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(ev[0].1["message"]["model"], "gpt-x");
        assert_eq!(ev[2].1["delta"]["text"], "Hel");
        assert_eq!(ev[5].1["content_block"]["name"], "f");
        assert_eq!(ev[5].1["index"], 1);
        assert_eq!(ev[6].1["delta"]["partial_json"], "{\"a\":1}");
        assert_eq!(ev[8].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(ev[8].1["usage"]["input_tokens"], 7);
        assert_eq!(ev[8].1["usage"]["output_tokens"], 3);
        assert_eq!(t.usage().unwrap().prompt(), 7);
    }

    #[test]
    fn passthrough_keeps_bytes_and_reads_usage() {
        let mut t = AnthropicPassthrough::new();
        let mut out = Vec::new();
        let stream = crate::anthropic_stream::tests::TOOL_STREAM;
        t.push(&stream.as_bytes()[..100], &mut out);
        t.push(&stream.as_bytes()[100..], &mut out);
        t.finish(&mut out);
        let joined: Vec<u8> = out.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(joined, stream.as_bytes());
        let u = t.usage().unwrap();
        assert_eq!((u.prompt(), u.completion()), (472, 89));
    }
}
