//! The `usage` object of responses and stream chunks.

use serde::Deserialize;
use serde::de::IgnoredAny;

/// Token counts as OpenAI-compatible servers report them. Every field is optional: servers
/// differ, and a missing count must never fail a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub total_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Prompt tokens written to the provider's prompt cache (Anthropic, Bedrock), counted in
    /// `prompt_tokens` and priced at the cache-write price.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct PromptTokensDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

impl Usage {
    pub fn prompt(&self) -> u64 {
        self.prompt_tokens.unwrap_or(0)
    }

    pub fn completion(&self) -> u64 {
        self.completion_tokens.unwrap_or(0)
    }

    pub fn cached(&self) -> u64 {
        self.prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    pub fn cache_creation(&self) -> u64 {
        self.cache_creation_input_tokens.unwrap_or(0)
    }
}

/// What a non-streaming response body tells us. Parsing it also proves the body is a JSON
/// object, which is how garbage from an upstream is caught.
#[derive(Debug, Default, Deserialize)]
pub struct ResponseUsage {
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Reads `usage` from a response body; an error when the body is not a JSON object.
pub fn response_usage(body: &[u8]) -> Result<ResponseUsage, serde_json::Error> {
    serde_json::from_slice(body)
}

/// The usage carried by one stream chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkUsage {
    pub usage: Usage,
    /// The chunk has no choices: it exists only to carry usage (`stream_options.include_usage`).
    pub usage_only: bool,
}

#[derive(Deserialize)]
struct ChunkPeek {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
}

/// The usage of a stream chunk's JSON, if it has any. Cheap for the common chunk: no parse
/// unless the bytes mention `"usage"`.
pub fn chunk_usage(data: &[u8]) -> Option<ChunkUsage> {
    memchr::memmem::find(data, b"\"usage\"")?;
    let peek: ChunkPeek = serde_json::from_slice(data).ok()?;
    let usage = peek.usage?;
    Some(ChunkUsage {
        usage,
        usage_only: peek.choices.is_none_or(|c| c.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn response_usage_reads_counts_and_cached_tokens() {
        let r = response_usage(
            br#"{"id":"x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        )
        .unwrap();
        let u = r.usage.unwrap();
        assert_eq!((u.prompt(), u.completion(), u.cached()), (9, 5, 4));
    }

    #[test]
    fn garbage_is_an_error_and_nulls_are_fine() {
        assert!(response_usage(b"<html>").is_err());
        assert!(response_usage(b"[1]").is_err());
        let r = response_usage(br#"{"usage":{"prompt_tokens":null,"prompt_tokens_details":null}}"#)
            .unwrap();
        assert_eq!(r.usage.unwrap().prompt(), 0);
        assert!(response_usage(b"{}").unwrap().usage.is_none());
    }

    #[test]
    fn chunk_usage_only_when_present() {
        assert!(chunk_usage(br#"{"choices":[{"delta":{"content":"usage"}}]}"#).is_none());
        let c = chunk_usage(br#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#)
            .unwrap();
        assert!(c.usage_only);
        assert_eq!(c.usage.completion(), 2);
        let c = chunk_usage(br#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}"#).unwrap();
        assert!(!c.usage_only);
        assert!(chunk_usage(br#"{"choices":[],"usage":null}"#).is_none());
    }
}
