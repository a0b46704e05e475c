//! The error body of every failure: `{"error": {"message", "type", "param", "code"}}`.
//!
//! As in LiteLLM, `code` is the HTTP status as a string (`"401"`), so clients that read
//! either the status or the body agree.

use bytes::Bytes;
use serde::Serialize;

/// Borrowed form of the error object, serialized once per failed request.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub error_type: &'a str,
    pub param: Option<&'a str>,
    pub code: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
}

/// Serializes the OpenAI-shaped error body for `status`.
pub fn error_body(status: u16, message: &str, error_type: &str, param: Option<&str>) -> Bytes {
    let envelope = Envelope {
        error: ErrorBody {
            message,
            error_type,
            param,
            code: status.to_string(),
        },
    };
    // Serializing plain strings into a Vec cannot fail; fall back to a fixed body anyway so
    // no error path can panic.
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"error":{"message":"internal error","type":"internal_server_error","param":null,"code":"500"}}"#))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn body_has_the_four_keys_and_string_code() {
        let body = error_body(
            401,
            "Authentication Error, No api key passed in.",
            "auth_error",
            Some("None"),
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["error"]["message"],
            "Authentication Error, No api key passed in."
        );
        assert_eq!(v["error"]["type"], "auth_error");
        assert_eq!(v["error"]["param"], "None");
        assert_eq!(v["error"]["code"], "401");
    }

    #[test]
    fn missing_param_is_null_and_message_is_escaped() {
        let body = error_body(400, "bad \"quote\"\n", "invalid_request_error", None);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["param"].is_null());
        assert_eq!(v["error"]["message"], "bad \"quote\"\n");
    }
}
