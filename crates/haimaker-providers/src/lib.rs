//! Provider adapters: everything that differs between OpenAI's wire format and a provider's.
//!
//! Pure functions over JSON and bytes (no I/O, no tokio), one job per module:
//!
//! | module | job |
//! |---|---|
//! | [`azure`] | Azure OpenAI deployment URLs, `api-version`, auth header |
//! | [`anthropic`] | OpenAI chat request -> Messages API request; Messages response -> `chat.completion` |
//! | [`anthropic_stream`] | Messages SSE events -> `chat.completion.chunk` events, as they arrive |
//! | [`gemini`] | OpenAI chat request -> `generateContent` request; `GenerateContentResponse` -> `chat.completion` |
//! | [`gemini_stream`] | `streamGenerateContent?alt=sse` events -> `chat.completion.chunk` events |
//! | [`bedrock`] | OpenAI chat request -> Bedrock Converse request; Converse response -> `chat.completion` |
//! | [`bedrock_stream`] | ConverseStream messages -> `chat.completion.chunk` events |
//! | [`eventstream`] | the AWS event-stream binary encoding, decoded incrementally |
//! | [`sigv4`] | AWS SigV4 request signing (`aws-sigv4`) |
//! | [`messages`] | the reverse, for `POST /v1/messages`: Anthropic request -> OpenAI chat request, `chat.completion` -> Anthropic message |
//! | [`messages_stream`] | OpenAI chunks -> Anthropic SSE events; the usage observer for passed-through Anthropic streams |
//! | [`errors`] | provider error bodies -> status, message, and the LiteLLM exception they mean |
//! | [`params`] | which OpenAI parameters a provider takes, and `drop_params` |
//!
//! Shared inside the crate: `turns` (the OpenAI messages -> provider turns walk and the request
//! fields Anthropic, Gemini and Bedrock read alike), `stream` (SSE input, chunk building and the
//! usage-only chunk of the stream translators), `util` (JSON, usage and response helpers).
//!
//! The OpenAI-compatible path never comes here: only deployments whose provider needs a
//! translation pay for one.

pub mod anthropic;
pub mod anthropic_stream;
pub mod azure;
pub mod bedrock;
pub mod bedrock_stream;
pub mod errors;
pub mod eventstream;
pub mod gemini;
pub mod gemini_stream;
pub mod messages;
pub mod messages_stream;
pub mod params;
pub mod sigv4;
mod stream;
#[cfg(test)]
mod test_util;
mod turns;
mod util;

use bytes::Bytes;
use haimaker_openai::Usage;

/// A request the client sent that the provider cannot take (400 to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError {
    pub message: String,
    pub param: Option<String>,
}

impl TranslateError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            param: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }
}

impl std::fmt::Display for TranslateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The format of the events a stream translator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `data: {chat.completion.chunk}` events; the relay adds `[DONE]` and strips the
    /// usage-only chunk as it does for OpenAI upstreams.
    OpenAi,
    /// Anthropic's `event: <type>` / `data: {...}` events, relayed as they are.
    Anthropic,
}

/// Turns an upstream's stream, chunk by chunk, into complete SSE events in the client's format.
///
/// `push` is called with every body chunk the moment it arrives and appends every event the
/// chunk completes (possibly none), so nothing is held back longer than the upstream holds it.
pub trait StreamTranslator: Send {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>);
    /// The upstream ended its body cleanly: flush what is left.
    fn finish(&mut self, out: &mut Vec<Bytes>);
    /// The usage seen so far, in OpenAI terms (for cost and limits).
    fn usage(&self) -> Option<Usage>;
    fn format(&self) -> StreamFormat;
}

/// Two translators in a row (provider -> OpenAI -> Anthropic).
pub struct Chain<A, B> {
    first: A,
    second: B,
    scratch: Vec<Bytes>,
}

impl<A: StreamTranslator, B: StreamTranslator> Chain<A, B> {
    pub fn new(first: A, second: B) -> Self {
        Self {
            first,
            second,
            scratch: Vec::new(),
        }
    }

    fn pass(&mut self, out: &mut Vec<Bytes>) {
        for event in self.scratch.drain(..) {
            self.second.push(&event, out);
        }
    }
}

impl<A: StreamTranslator, B: StreamTranslator> StreamTranslator for Chain<A, B> {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Bytes>) {
        self.first.push(chunk, &mut self.scratch);
        self.pass(out);
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) {
        self.first.finish(&mut self.scratch);
        self.pass(out);
        self.second.finish(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.second.usage().or_else(|| self.first.usage())
    }

    fn format(&self) -> StreamFormat {
        self.second.format()
    }
}
