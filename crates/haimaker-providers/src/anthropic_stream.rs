//! Anthropic's Messages stream -> `chat.completion.chunk` events, each translated the moment
//! its event is complete.
//!
//! | Anthropic event | OpenAI chunk |
//! |---|---|
//! | `message_start` | `delta: {role: "assistant", content: ""}` (id, model, input usage kept) |
//! | `content_block_start` (`tool_use`) | `delta.tool_calls[i]` with id, name, empty arguments |
//! | `content_block_delta` `text_delta` / `input_json_delta` / `thinking_delta` | `delta.content` / `delta.tool_calls[i].function.arguments` / `delta.reasoning_content` |
//! | `message_delta` | `finish_reason` (output usage kept) |
//! | `message_stop` | a usage-only chunk, then `[DONE]` |
//! | `error` | `data: {"error": {...}}` (the OpenAI shape of a mid-stream failure) |
//! | `ping`, `content_block_stop` | nothing |

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::{Value, json};

use crate::anthropic::{finish_reason, usage_of};
use crate::errors;
use crate::stream::{
    ChunkHead, SseData, SseInput, ToolCalls, finish_data, merge_non_null, push_data,
    tool_call_arguments, tool_call_start,
};
use crate::util::{data_event, usage_json};
use crate::{StreamFormat, StreamTranslator};

#[derive(Default)]
pub struct AnthropicToOpenAi {
    input: SseInput,
    head: ChunkHead,
    /// `message_start`'s usage (input and cache counts), updated by `message_delta`.
    usage: Value,
    tools: ToolCalls,
    done: bool,
    saw_usage: bool,
}

impl AnthropicToOpenAi {
    pub fn new() -> Self {
        Self {
            head: ChunkHead::new(String::new(), String::new()),
            usage: json!({}),
            ..Self::default()
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Bytes {
        self.head.chunk(0, delta, finish)
    }

    fn merge_usage(&mut self, u: &Value) {
        if let (Some(into), Some(from)) = (self.usage.as_object_mut(), u.as_object()) {
            merge_non_null(into, from);
            self.saw_usage = true;
        }
    }

    fn event(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                let message = event.get("message").unwrap_or(&Value::Null);
                self.head.id = message
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                self.head.model = message
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(u) = message.get("usage") {
                    self.merge_usage(u);
                }
                out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
            }
            "content_block_start" => {
                let block = event.get("content_block").unwrap_or(&Value::Null);
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let tool = self.tools.start(index);
                        out.push(self.chunk(
                            tool_call_start(tool, block.get("id"), block.get("name")),
                            None,
                        ));
                    }
                    Some("text") => {
                        if let Some(text) = block
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push(self.chunk(json!({"content": text}), None));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = event.get("delta").unwrap_or(&Value::Null);
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        out.push(self.chunk(json!({"content": delta.get("text")}), None));
                    }
                    Some("input_json_delta") => {
                        let tool = self.tools.of(index);
                        out.push(
                            self.chunk(tool_call_arguments(tool, delta.get("partial_json")), None),
                        );
                    }
                    Some("thinking_delta") => {
                        out.push(
                            self.chunk(json!({"reasoning_content": delta.get("thinking")}), None),
                        );
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = event.get("usage") {
                    self.merge_usage(u);
                }
                let stop = event
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                out.push(self.chunk(json!({}), Some(finish_reason(stop))));
            }
            "message_stop" => self.end(out),
            "error" => {
                let error = event.get("error").unwrap_or(&Value::Null);
                let (status, body) = errors::stream_error(error, "AnthropicException");
                let _ = status;
                out.push(data_event(&body));
                self.done = true;
            }
            _ => {}
        }
    }

    fn end(&mut self, out: &mut Vec<Bytes>) {
        if self.done {
            return;
        }
        self.done = true;
        let usage = self.usage().map(|usage| usage_json(&usage));
        self.head.end(usage, out);
    }
}

impl SseData for AnthropicToOpenAi {
    fn input(&mut self) -> &mut SseInput {
        &mut self.input
    }

    fn data(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        self.event(data, out);
    }
}

impl StreamTranslator for AnthropicToOpenAi {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        push_data(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        finish_data(self, out);
    }

    fn usage(&self) -> Option<Usage> {
        self.saw_usage.then(|| usage_of(&self.usage))
    }

    fn format(&self) -> StreamFormat {
        StreamFormat::OpenAi
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The tool-use stream of Anthropic's streaming documentation.
    pub(crate) const TOOL_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"SF\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    fn run(input: &str, split_at: usize) -> Vec<Value> {
        let mut t = AnthropicToOpenAi::new();
        let mut out = Vec::new();
        let (a, b) = input.as_bytes().split_at(split_at);
        t.push(a, &mut out);
        t.push(b, &mut out);
        t.finish(&mut out);
        crate::test_util::data_events(&out)
    }

    #[test]
    fn translates_text_tool_calls_finish_and_usage_across_chunk_boundaries() {
        for split in [0, 17, 300, TOOL_STREAM.len() / 2, TOOL_STREAM.len()] {
            let chunks = run(TOOL_STREAM, split);
            assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
            assert_eq!(chunks[0]["id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
            assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Okay");
            let tc = &chunks[2]["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(
                (tc["index"].as_u64(), tc["id"].as_str()),
                (Some(0), Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6"))
            );
            assert_eq!(tc["function"]["name"], "get_weather");
            let args: String = chunks[3..5]
                .iter()
                .map(|c| {
                    c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(args, "{\"location\": \"SF\"}");
            assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
            assert_eq!(chunks[6]["choices"], json!([]));
            assert_eq!(chunks[6]["usage"]["prompt_tokens"], 472);
            assert_eq!(chunks[6]["usage"]["completion_tokens"], 89);
            assert_eq!(chunks[7], "[DONE]");
            assert_eq!(chunks.len(), 8);
        }
    }

    #[test]
    fn an_error_event_becomes_an_openai_error_event() {
        let chunks = run(
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
            5,
        );
        assert_eq!(chunks.len(), 1);
        assert!(
            chunks[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Overloaded")
        );
        assert_eq!(chunks[0]["error"]["code"], "500");
    }
}
