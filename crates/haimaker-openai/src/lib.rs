//! OpenAI wire formats as haimaker needs them on the hot path: the error body every failure
//! answers with, a request body that is parsed only one level deep (so nested content is
//! forwarded byte for byte), SSE event framing, and the `usage` object.
//!
//! No tokio, no hyper: pure functions over bytes, unit-tested here.

mod error;
mod request;
mod sse;
mod usage;

pub use error::{ErrorBody, error_body};
pub use request::{BodyError, RequestBody};
pub use sse::{SseEvent, SseSplitter};
pub use usage::{
    ChunkUsage, PromptTokensDetails, ResponseUsage, Usage, chunk_usage, response_usage,
};
