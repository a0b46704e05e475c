//! Fixtures the adapters' unit tests share.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use serde_json::{Map, Value, json};

/// A JSON object literal as a request body.
pub(crate) fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// `data: ...` events as JSON, `[DONE]` as the string `"[DONE]"`.
pub(crate) fn data_events(out: &[Bytes]) -> Vec<Value> {
    out.iter()
        .map(|e| {
            let s = std::str::from_utf8(e).unwrap();
            let d = s.strip_prefix("data: ").unwrap().trim();
            if d == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(d).unwrap()
            }
        })
        .collect()
}
