//! Bedrock's ConverseStream (AWS event-stream messages, [`crate::eventstream`]) ->
//! `chat.completion.chunk` events, each translated the moment its message is complete.
//!
//! | ConverseStream event | OpenAI chunk |
//! |---|---|
//! | `messageStart` | `delta: {role: "assistant", content: ""}` |
//! | `contentBlockStart` with `toolUse` | `delta.tool_calls[i]` with id, name, empty arguments |
//! | `contentBlockDelta` `text` / `toolUse.input` / `reasoningContent.text` | `delta.content` / `delta.tool_calls[i].function.arguments` / `delta.reasoning_content` |
//! | `messageStop` | `finish_reason` |
//! | `metadata` | usage kept; a usage-only chunk and `[DONE]` when the stream ends |
//! | an exception message (`throttlingException`, ...) or a corrupt stream | `data: {"error": {...}}` |

use bytes::Bytes;
use haimaker_openai::Usage;
use serde_json::{Value, json};

use crate::bedrock::{exception_status, finish_reason, usage_of};
use crate::errors;
use crate::eventstream::{Decoder, Message};
use crate::stream::{ChunkHead, ToolCalls, tool_call_arguments, tool_call_start};
use crate::util::{data_event, usage_json};
use crate::{StreamFormat, StreamTranslator};

pub struct BedrockToOpenAi {
    decoder: Decoder,
    head: ChunkHead,
    started: bool,
    tools: ToolCalls,
    usage: Option<Value>,
    done: bool,
}

impl BedrockToOpenAi {
    pub fn new(model: &str) -> Self {
        Self {
            decoder: Decoder::new(),
            head: ChunkHead::new(
                format!("chatcmpl-{}", uuid::Uuid::new_v4()),
                model.to_string(),
            ),
            started: false,
            tools: ToolCalls::default(),
            usage: None,
            done: false,
        }
    }

    fn chunk(&mut self, mut delta: Value, finish: Option<&str>) -> Bytes {
        if !self.started {
            self.started = true;
            delta["role"] = json!("assistant");
        }
        self.head.chunk(0, delta, finish)
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<Bytes>) {
        out.push(data_event(&errors::error_event(
            status,
            message,
            "BedrockException",
        )));
        self.done = true;
    }

    fn message(&mut self, message: &Message, out: &mut Vec<Bytes>) {
        let payload: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
        match message.header(":message-type").unwrap_or("event") {
            "exception" => {
                let kind = message
                    .header(":exception-type")
                    .unwrap_or("internalServerException");
                let text = payload
                    .get("message")
                    .or_else(|| payload.get("Message"))
                    .and_then(Value::as_str)
                    .unwrap_or(kind)
                    .to_string();
                self.error(exception_status(kind), &text, out);
                return;
            }
            "error" => {
                let text = message
                    .header(":error-message")
                    .or_else(|| message.header(":error-code"))
                    .unwrap_or("the stream failed")
                    .to_string();
                self.error(500, &text, out);
                return;
            }
            _ => {}
        }
        match message.header(":event-type").unwrap_or("") {
            "messageStart" => {
                let chunk = self.chunk(json!({"content": ""}), None);
                out.push(chunk);
            }
            "contentBlockStart" => {
                if let Some(tool) = payload.pointer("/start/toolUse") {
                    let index = payload
                        .get("contentBlockIndex")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    let call = self.tools.start(index);
                    let chunk = self.chunk(
                        tool_call_start(call, tool.get("toolUseId"), tool.get("name")),
                        None,
                    );
                    out.push(chunk);
                }
            }
            "contentBlockDelta" => {
                let delta = payload.get("delta").unwrap_or(&Value::Null);
                let index = payload
                    .get("contentBlockIndex")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let translated = if let Some(text) = delta.get("text") {
                    json!({"content": text})
                } else if let Some(input) = delta.pointer("/toolUse/input") {
                    tool_call_arguments(self.tools.of(index), Some(input))
                } else if let Some(text) = delta.pointer("/reasoningContent/text") {
                    json!({"reasoning_content": text})
                } else {
                    return;
                };
                let chunk = self.chunk(translated, None);
                out.push(chunk);
            }
            "messageStop" => {
                let stop = payload
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .unwrap_or("end_turn");
                let chunk = self.chunk(json!({}), Some(finish_reason(stop)));
                out.push(chunk);
            }
            "metadata" => {
                if let Some(u) = payload.get("usage").filter(|u| u.is_object()) {
                    self.usage = Some(u.clone());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, out: &mut Vec<Bytes>) {
        if self.done {
            return;
        }
        self.done = true;
        let usage = self.usage.as_ref().map(|u| usage_json(&usage_of(u)));
        self.head.end(usage, out);
    }
}

impl StreamTranslator for BedrockToOpenAi {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        if self.done {
            return;
        }
        self.decoder.push(chunk);
        while let Some(next) = self.decoder.next_message() {
            match next {
                Ok(message) => self.message(&message, out),
                Err(e) => self.error(500, &e.0, out),
            }
            if self.done {
                return;
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        if !self.done && self.decoder.pending() > 0 {
            self.error(
                500,
                "the event stream ended in the middle of a message",
                out,
            );
        }
        self.end(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(usage_of)
    }

    fn format(&self) -> StreamFormat {
        StreamFormat::OpenAi
    }
}
