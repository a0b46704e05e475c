//! The AWS event-stream encoding (`application/vnd.amazon.eventstream`) that Bedrock's
//! ConverseStream answers with, decoded incrementally: bytes go in as they arrive, cut
//! anywhere, and each message comes out the moment its last byte is in.
//!
//! A message is
//!
//! ```text
//! total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (of the 8 bytes before)
//! headers: name length (u8) | name | value type (u8) | value
//! payload
//! message CRC32 (of everything before it)
//! ```
//!
//! Header values: 0/1 true/false, 2 byte, 3 short, 4 int, 5 long, 6 byte array and 7 string
//! (u16 BE length first), 8 timestamp (i64 ms), 9 UUID (16 bytes). Bedrock's messages carry
//! `:message-type` (`event` / `exception` / `error`), `:event-type` or `:exception-type`, and
//! `:content-type`, all strings.

use bytes::{Buf, Bytes, BytesMut};

/// The prelude (12 bytes) plus the message CRC (4).
const MIN_MESSAGE: usize = 16;
/// A message longer than this is corrupt (AWS's limit is 16 MB).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// One decoded message: its string headers and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `(name, value)` of every string header; other header types are skipped.
    pub headers: Vec<(String, String)>,
    pub payload: Bytes,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why the stream cannot be read any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The incremental decoder.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    failed: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The next complete message, `None` until one is; after an error, `None` for good.
    pub fn next_message(&mut self) -> Option<Result<Message, DecodeError>> {
        if self.failed || self.buf.len() < 12 {
            return None;
        }
        let total =
            u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        let headers_len =
            u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        let prelude_crc =
            u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]]);
        if crc32fast::hash(&self.buf[..8]) != prelude_crc {
            return Some(self.fail("prelude checksum mismatch"));
        }
        if !(MIN_MESSAGE..=MAX_MESSAGE).contains(&total) || headers_len > total - MIN_MESSAGE {
            return Some(self.fail("invalid message lengths"));
        }
        if self.buf.len() < total {
            return None;
        }
        let message = self.buf.split_to(total).freeze();
        let crc = u32::from_be_bytes([
            message[total - 4],
            message[total - 3],
            message[total - 2],
            message[total - 1],
        ]);
        if crc32fast::hash(&message[..total - 4]) != crc {
            return Some(self.fail("message checksum mismatch"));
        }
        let headers = match parse_headers(&message[12..12 + headers_len]) {
            Ok(h) => h,
            Err(e) => return Some(self.fail(e)),
        };
        Some(Ok(Message {
            headers,
            payload: message.slice(12 + headers_len..total - 4),
        }))
    }

    /// Bytes left over that do not make a whole message (a cut-off stream).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, why: &str) -> Result<Message, DecodeError> {
        self.failed = true;
        self.buf.clear();
        Err(DecodeError(format!("malformed event stream: {why}")))
    }
}

fn parse_headers(mut raw: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    let mut out = Vec::new();
    while raw.has_remaining() {
        let name_len = raw.get_u8() as usize;
        if raw.remaining() < name_len + 1 {
            return Err("truncated header");
        }
        let name = String::from_utf8_lossy(&raw[..name_len]).into_owned();
        raw.advance(name_len);
        let kind = raw.get_u8();
        let fixed = match kind {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            6 | 7 => {
                if raw.remaining() < 2 {
                    return Err("truncated header");
                }
                let len = raw.get_u16() as usize;
                if raw.remaining() < len {
                    return Err("truncated header");
                }
                if kind == 7 {
                    out.push((name, String::from_utf8_lossy(&raw[..len]).into_owned()));
                }
                raw.advance(len);
                continue;
            }
            _ => return Err("unknown header value type"),
        };
        if raw.remaining() < fixed {
            return Err("truncated header");
        }
        raw.advance(fixed);
    }
    Ok(out)
}

/// Encodes one message with string headers (for tests and mocks).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = MIN_MESSAGE + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn drain(d: &mut Decoder) -> Vec<Result<Message, DecodeError>> {
        std::iter::from_fn(|| d.next_message()).collect()
    }

    /// The "all headers" and "int32 header" vectors of the AWS event-stream test suite are
    /// binary; this is the suite's "empty message": total 16, no headers, no payload.
    #[test]
    fn the_empty_message_of_the_aws_suite() {
        let bytes = [
            0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98,
            0xc8, 0xff,
        ];
        let mut d = Decoder::new();
        d.push(&bytes);
        let m = d.next_message().unwrap().unwrap();
        assert!(m.headers.is_empty() && m.payload.is_empty());
        assert_eq!(encode(&[], b""), bytes);
    }

    #[test]
    fn decodes_every_cut_and_skips_non_string_headers() {
        let mut stream = encode(
            &[
                (":message-type", "event"),
                (":event-type", "contentBlockDelta"),
            ],
            br#"{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcd"}"#,
        );
        stream.extend(encode(
            &[(":event-type", "messageStop")],
            br#"{"stopReason":"end_turn"}"#,
        ));
        // A message with an int32 and a boolean header before a string one.
        let mut odd = Vec::new();
        odd.extend_from_slice(&[4, b'n', b'u', b'm', b'b', 4, 0, 0, 0, 42]);
        odd.extend_from_slice(&[2, b'o', b'k', 0]);
        odd.extend_from_slice(&[1, b's', 7, 0, 2, b'h', b'i']);
        let total = 16 + odd.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(total as u32).to_be_bytes());
        m.extend_from_slice(&(odd.len() as u32).to_be_bytes());
        let crc = crc32fast::hash(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        m.extend_from_slice(&odd);
        let crc = crc32fast::hash(&m);
        m.extend_from_slice(&crc.to_be_bytes());
        stream.extend(m);

        for cut in 0..=stream.len() {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            d.push(&stream[..cut]);
            got.extend(drain(&mut d));
            d.push(&stream[cut..]);
            got.extend(drain(&mut d));
            assert_eq!(got.len(), 3, "cut at {cut}");
            let got: Vec<Message> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(got[0].header(":event-type"), Some("contentBlockDelta"));
            assert_eq!(
                &got[0].payload[..],
                br#"{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcd"}"#
            );
            assert_eq!(got[1].header(":event-type"), Some("messageStop"));
            assert_eq!(got[2].headers, vec![("s".to_string(), "hi".to_string())]);
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn corrupt_bytes_are_an_error_once_and_then_nothing() {
        let mut bytes = encode(
            &[(":event-type", "messageStart")],
            br#"{"role":"assistant"}"#,
        );
        let last = bytes.len() - 6;
        bytes[last] ^= 0xff;
        let mut d = Decoder::new();
        d.push(&bytes);
        assert!(d.next_message().unwrap().is_err());
        d.push(&encode(&[], b""));
        assert!(d.next_message().is_none());

        let mut d = Decoder::new();
        let mut bad_prelude = encode(&[], b"x");
        bad_prelude[9] ^= 1;
        d.push(&bad_prelude);
        assert!(d.next_message().unwrap().is_err());
    }
}
