//! Gemini's `streamGenerateContent?alt=sse` -> `chat.completion.chunk` events, each translated
//! the moment its event is complete.
//!
//! Every event is a whole `GenerateContentResponse` holding the next piece of each candidate:
//!
//! | Gemini | OpenAI chunk |
//! |---|---|
//! | `text` part | `delta.content` (the first chunk of a candidate also carries `role`) |
//! | `text` part with `thought: true` | `delta.reasoning_content` |
//! | `functionCall` part (always whole) | `delta.tool_calls[i]` with id, name and all arguments |
//! | `finishReason` | `finish_reason` (`tool_calls` when the candidate called tools) |
//! | `usageMetadata` (cumulative) | kept; a usage-only chunk and `[DONE]` when the stream ends |
//! | `{"error": {...}}` | `data: {"error": {...}}` (the OpenAI shape of a mid-stream failure) |

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::{Value, json};

use crate::errors;
use crate::gemini::{call_id, finish_reason, usage_value};
use crate::stream::{ChunkHead, SseData, SseInput, finish_data, push_data};
use crate::util::data_event;
use crate::{StreamFormat, StreamTranslator};

/// Per-candidate state.
#[derive(Default, Clone, Copy)]
struct Candidate {
    started: bool,
    tools: usize,
}

pub struct GeminiToOpenAi {
    input: SseInput,
    head: ChunkHead,
    candidates: Vec<Candidate>,
    usage: Option<Value>,
    done: bool,
}

impl GeminiToOpenAi {
    pub fn new(model: &str) -> Self {
        Self {
            input: SseInput::default(),
            head: ChunkHead::new(
                format!("chatcmpl-{}", uuid::Uuid::new_v4()),
                model.to_string(),
            ),
            candidates: Vec::new(),
            usage: None,
            done: false,
        }
    }

    fn chunk(&self, index: u64, delta: Value, finish: Option<&str>) -> Bytes {
        self.head.chunk(index, delta, finish)
    }

    fn event(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        if self.done {
            return;
        }
        let Ok(event) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if let Some(error) = event.get("error") {
            let status = error
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the provider reported an error");
            out.push(data_event(&errors::error_event(
                status,
                message,
                "GeminiException",
            )));
            self.done = true;
            return;
        }
        if let Some(id) = event.get("responseId").and_then(Value::as_str) {
            self.head.id = id.to_string();
        }
        if let Some(model) = event.get("modelVersion").and_then(Value::as_str) {
            self.head.model = model.to_string();
        }
        if let Some(u) = event.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let candidates = event
            .get("candidates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if candidates.is_empty()
            && event
                .get("promptFeedback")
                .and_then(|f| f.get("blockReason"))
                .is_some()
        {
            // The prompt was blocked: nothing will be generated.
            out.push(self.chunk(0, json!({"role": "assistant", "content": ""}), None));
            out.push(self.chunk(0, json!({}), Some("content_filter")));
            return;
        }
        for (position, candidate) in candidates.iter().enumerate() {
            let index = candidate
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let slot = usize::try_from(index).unwrap_or(0).min(64);
            if self.candidates.len() <= slot {
                self.candidates.resize(slot + 1, Candidate::default());
            }
            for part in candidate
                .get("content")
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut delta = if let Some(call) = part.get("functionCall") {
                    let tool = self.candidates[slot].tools;
                    self.candidates[slot].tools += 1;
                    json!({"tool_calls": [{
                        "index": tool,
                        "id": call.get("id").and_then(Value::as_str).map_or_else(call_id, str::to_string),
                        "type": "function",
                        "function": {
                            "name": call.get("name"),
                            "arguments": call.get("args").map_or_else(|| "{}".to_string(), Value::to_string),
                        },
                    }]})
                } else if let Some(text) = part.get("text").and_then(Value::as_str) {
                    if part.get("thought").and_then(Value::as_bool) == Some(true) {
                        json!({"reasoning_content": text})
                    } else {
                        json!({"content": text})
                    }
                } else {
                    continue;
                };
                if !self.candidates[slot].started {
                    self.candidates[slot].started = true;
                    delta["role"] = json!("assistant");
                }
                out.push(self.chunk(index, delta, None));
            }
            if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
                let finish = if self.candidates[slot].tools > 0 {
                    "tool_calls"
                } else {
                    finish_reason(reason)
                };
                let mut delta = json!({});
                if !self.candidates[slot].started {
                    self.candidates[slot].started = true;
                    delta = json!({"role": "assistant", "content": ""});
                }
                out.push(self.chunk(index, delta, Some(finish)));
            }
        }
    }

    fn end(&mut self, out: &mut Vec<Bytes>) {
        if self.done {
            return;
        }
        self.done = true;
        let usage = self.usage.as_ref().map(|u| usage_value(u).1);
        self.head.end(usage, out);
    }
}

impl SseData for GeminiToOpenAi {
    fn input(&mut self) -> &mut SseInput {
        &mut self.input
    }

    fn data(&mut self, data: &[u8], out: &mut Vec<Bytes>) {
        self.event(data, out);
    }
}

impl StreamTranslator for GeminiToOpenAi {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        push_data(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        finish_data(self, out);
        self.end(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(crate::gemini::usage_of)
    }

    fn format(&self) -> StreamFormat {
        StreamFormat::OpenAi
    }
}
