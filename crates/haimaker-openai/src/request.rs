//! A request body parsed one level deep.
//!
//! The gateway needs a handful of top-level fields (`model`, `stream`, `timeout`, ...) and
//! must rewrite a few (`model`, LiteLLM-only keys). Everything else (messages, tools, images)
//! is kept as raw JSON text and forwarded byte for byte: no re-encoding of large prompts, no
//! float or unicode normalisation.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all, with serde's position.
    Malformed(String),
    /// JSON, but not an object at the top level.
    NotAnObject,
    /// A known field has the wrong type.
    WrongType {
        field: String,
        expected: &'static str,
    },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "request body is not valid JSON: {e}"),
            Self::NotAnObject => f.write_str("request body must be a JSON object"),
            Self::WrongType { field, expected } => {
                write!(f, "`{field}` must be {expected}")
            }
        }
    }
}

impl std::error::Error for BodyError {}

/// The top-level fields of a JSON object, in order, values as raw JSON.
#[derive(Debug, Clone, Default)]
pub struct RequestBody {
    fields: Vec<(String, Box<RawValue>)>,
}

impl RequestBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let fields = TopLevel.deserialize(&mut de).map_err(|e| classify(&e))?;
        de.end().map_err(|e| BodyError::Malformed(e.to_string()))?;
        Ok(Self { fields })
    }

    pub fn get(&self, key: &str) -> Option<&RawValue> {
        // Last one wins, as in every JSON parser that keeps one value per key.
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.get() != "null")
    }

    /// A string field; `Ok(None)` when absent or null.
    pub fn str_field(&self, key: &str) -> Result<Option<String>, BodyError> {
        self.typed(key, "a string")
    }

    /// A boolean field; `Ok(None)` when absent or null.
    pub fn bool_field(&self, key: &str) -> Result<Option<bool>, BodyError> {
        self.typed(key, "a boolean")
    }

    /// A number field; `Ok(None)` when absent or null. Numeric strings are accepted too, as
    /// LiteLLM's `timeout` often arrives as one.
    pub fn f64_field(&self, key: &str) -> Result<Option<f64>, BodyError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrStr {
            Num(f64),
            Str(String),
        }
        match self.typed::<NumOrStr>(key, "a number")? {
            None => Ok(None),
            Some(NumOrStr::Num(n)) => Ok(Some(n)),
            Some(NumOrStr::Str(s)) => {
                s.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| BodyError::WrongType {
                        field: key.to_string(),
                        expected: "a number",
                    })
            }
        }
    }

    /// Any field deserialized as `T`; `Ok(None)` when absent or null.
    pub fn typed<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
        expected: &'static str,
    ) -> Result<Option<T>, BodyError> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) if raw.get() == "null" => Ok(None),
            Some(raw) => {
                serde_json::from_str(raw.get())
                    .map(Some)
                    .map_err(|_| BodyError::WrongType {
                        field: key.to_string(),
                        expected,
                    })
            }
        }
    }

    /// Removes every occurrence of `key`, returning the last value.
    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let mut last = None;
        self.fields.retain_mut(|(k, v)| {
            if k == key {
                last = Some(std::mem::replace(v, empty_raw()));
                false
            } else {
                true
            }
        });
        last
    }

    /// Sets `key` to raw JSON `value`, replacing it in place if present.
    pub fn set(&mut self, key: &str, value: Box<RawValue>) {
        match self.fields.iter_mut().rev().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.fields.push((key.to_string(), value)),
        }
    }

    /// Sets a string field.
    pub fn set_str(&mut self, key: &str, value: &str) {
        if let Ok(raw) = serde_json::value::to_raw_value(value) {
            self.set(key, raw);
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    /// The object as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let size: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + 2);
        out.push(b'{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Keys came from valid JSON and are re-escaped here; a String always serializes.
            if serde_json::to_writer(&mut out, k).is_err() {
                out.extend_from_slice(b"\"\"");
            }
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
        out
    }
}

fn empty_raw() -> Box<RawValue> {
    RawValue::NULL.to_owned()
}

fn classify(e: &serde_json::Error) -> BodyError {
    if e.to_string().contains(NOT_AN_OBJECT) {
        BodyError::NotAnObject
    } else {
        BodyError::Malformed(e.to_string())
    }
}

const NOT_AN_OBJECT: &str = "haimaker: expected a JSON object";

struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Vec<(String, Box<RawValue>)>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Vec<(String, Box<RawValue>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
            fields.push((k, v));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_top_level_fields_and_keeps_nested_bytes() {
        let body = RequestBody::parse(
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"h\u00e9 1.0e2"}],"stream":true,"timeout":"2.5"}"#,
        )
        .unwrap();
        assert_eq!(body.str_field("model").unwrap().as_deref(), Some("gpt-4o"));
        assert_eq!(body.bool_field("stream").unwrap(), Some(true));
        assert_eq!(body.f64_field("timeout").unwrap(), Some(2.5));
        assert_eq!(
            body.get("messages").unwrap().get(),
            r#"[{"role":"user","content":"h\u00e9 1.0e2"}]"#
        );
    }

    #[test]
    fn rewrites_and_removes_in_order() {
        let mut body =
            RequestBody::parse(br#"{"model":"group","temperature":0.5,"fallbacks":["x"]}"#)
                .unwrap();
        body.set_str("model", "provider-model");
        assert!(body.remove("fallbacks").is_some());
        body.set("user", serde_json::value::to_raw_value("u1").unwrap());
        assert_eq!(
            String::from_utf8(body.to_vec()).unwrap(),
            r#"{"model":"provider-model","temperature":0.5,"user":"u1"}"#
        );
    }

    #[test]
    fn rejects_non_objects_and_garbage() {
        assert_eq!(
            RequestBody::parse(b"[1,2]").unwrap_err(),
            BodyError::NotAnObject
        );
        assert_eq!(
            RequestBody::parse(b"\"x\"").unwrap_err(),
            BodyError::NotAnObject
        );
        assert!(matches!(
            RequestBody::parse(b"{\"model\":").unwrap_err(),
            BodyError::Malformed(_)
        ));
        assert!(matches!(
            RequestBody::parse(b"{} x").unwrap_err(),
            BodyError::Malformed(_)
        ));
        assert!(matches!(
            RequestBody::parse(b"").unwrap_err(),
            BodyError::Malformed(_)
        ));
    }

    #[test]
    fn wrong_types_are_named() {
        let body = RequestBody::parse(br#"{"model":3,"stream":"yes"}"#).unwrap();
        assert_eq!(
            body.str_field("model").unwrap_err(),
            BodyError::WrongType {
                field: "model".into(),
                expected: "a string"
            }
        );
        assert!(body.bool_field("stream").is_err());
        assert_eq!(body.str_field("absent").unwrap(), None);
    }

    #[test]
    fn escaped_keys_survive_the_round_trip() {
        let body = RequestBody::parse(br#"{"a\"b":1}"#).unwrap();
        assert_eq!(body.to_vec(), br#"{"a\"b":1}"#);
    }
}
