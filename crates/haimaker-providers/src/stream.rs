//! What the stream translators share: reading an SSE body chunk by chunk, and writing
//! `chat.completion.chunk` events (one choice's delta, the usage-only chunk, `[DONE]`).

use bytes::Bytes;
use haimaker_openai::{SseEvent, SseSplitter};
use serde_json::{Map, Value, json};

use crate::util::{data_event, now};

/// An SSE body read as it arrives.
#[derive(Default)]
pub(crate) struct SseInput {
    splitter: SseSplitter,
    scratch: Vec<SseEvent>,
}

impl SseInput {
    /// The events `chunk` completes. Hand the vector back with [`Self::recycle`] so that its
    /// allocation serves the next chunk.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.splitter
            .push(Bytes::copy_from_slice(chunk), &mut self.scratch);
        std::mem::take(&mut self.scratch)
    }

    pub(crate) fn recycle(&mut self, mut events: Vec<SseEvent>) {
        events.clear();
        self.scratch = events;
    }

    /// The body ended: the last event, if it was not terminated.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        self.splitter.finish()
    }
}

/// A translator that reads the `data` of every SSE event.
pub(crate) trait SseData {
    fn input(&mut self) -> &mut SseInput;
    fn data(&mut self, data: &[u8], out: &mut Vec<Bytes>);
}

/// [`crate::StreamTranslator::push`] for an [`SseData`] translator.
pub(crate) fn push_data<T: SseData>(translator: &mut T, chunk: &[u8], out: &mut Vec<Bytes>) {
    let events = translator.input().push(chunk);
    for event in &events {
        if let Some(data) = event.data() {
            translator.data(&data, out);
        }
    }
    translator.input().recycle(events);
}

/// Reads the last, unterminated event of an [`SseData`] translator's body, if any.
pub(crate) fn finish_data<T: SseData>(translator: &mut T, out: &mut Vec<Bytes>) {
    if let Some(rest) = translator.input().finish()
        && let Some(data) = rest.data()
    {
        translator.data(&data, out);
    }
}

/// The fields every `chat.completion.chunk` of one stream repeats.
#[derive(Default)]
pub(crate) struct ChunkHead {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) created: u64,
}

impl ChunkHead {
    /// Created now.
    pub(crate) fn new(id: String, model: String) -> Self {
        Self {
            id,
            model,
            created: now(),
        }
    }

    /// A chunk with the delta of choice `index`.
    pub(crate) fn chunk(&self, index: u64, delta: Value, finish: Option<&str>) -> Bytes {
        data_event(&json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}],
        }))
    }

    /// The end of the stream: the usage-only chunk (when there is usage), then `[DONE]`.
    pub(crate) fn end(&self, usage: Option<Value>, out: &mut Vec<Bytes>) {
        if let Some(usage) = usage {
            out.push(data_event(&json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            })));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
}

/// Provider content block index -> OpenAI tool call index, for providers whose tool calls
/// stream as a start event and argument deltas addressed by block index.
#[derive(Default)]
pub(crate) struct ToolCalls(Vec<(u64, usize)>);

impl ToolCalls {
    /// A tool call starts in content block `block`: its index.
    pub(crate) fn start(&mut self, block: u64) -> usize {
        let call = self.0.len();
        self.0.push((block, call));
        call
    }

    /// The index of the tool call of content block `block` (0 for an unknown block).
    pub(crate) fn of(&self, block: u64) -> usize {
        self.0
            .iter()
            .find(|(b, _)| *b == block)
            .map_or(0, |(_, call)| *call)
    }
}

/// The delta that starts tool call `index` (its arguments follow in deltas).
pub(crate) fn tool_call_start(index: usize, id: Option<&Value>, name: Option<&Value>) -> Value {
    json!({"tool_calls": [{
        "index": index,
        "id": id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }]})
}

/// The delta that adds `arguments` to tool call `index`.
pub(crate) fn tool_call_arguments(index: usize, arguments: Option<&Value>) -> Value {
    json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})
}

/// Copies the non-null fields of `from` into `into` (usage objects that arrive in pieces).
pub(crate) fn merge_non_null(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        if !v.is_null() {
            into.insert(k.clone(), v.clone());
        }
    }
}
