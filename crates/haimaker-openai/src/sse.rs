//! Server-sent-event framing: splits an upstream byte stream into whole events without
//! copying them, so each event can be inspected (usage, `[DONE]`) and forwarded the moment
//! its last byte arrives.

use bytes::{Bytes, BytesMut};

/// One complete event, as raw bytes including its terminating blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub raw: Bytes,
}

impl SseEvent {
    /// The payload of the event's `data:` line(s). One line is borrowed; several are joined
    /// with `\n` as the SSE spec says.
    pub fn data(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        let mut first: Option<&[u8]> = None;
        let mut joined: Option<Vec<u8>> = None;
        for line in self.raw.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(rest) = line.strip_prefix(b"data:") else {
                continue;
            };
            let value = rest.strip_prefix(b" ").unwrap_or(rest);
            match (&mut joined, first) {
                (Some(buf), _) => {
                    buf.push(b'\n');
                    buf.extend_from_slice(value);
                }
                (None, Some(prev)) => {
                    let mut buf = prev.to_vec();
                    buf.push(b'\n');
                    buf.extend_from_slice(value);
                    joined = Some(buf);
                }
                (None, None) => first = Some(value),
            }
        }
        match joined {
            Some(buf) => Some(std::borrow::Cow::Owned(buf)),
            None => first.map(std::borrow::Cow::Borrowed),
        }
    }

    /// `data: [DONE]`, the OpenAI end-of-stream marker.
    pub fn is_done(&self) -> bool {
        self.data().is_some_and(|d| d.as_ref() == b"[DONE]")
    }
}

/// Incremental splitter: feed chunks as they arrive, get back the events they complete.
#[derive(Debug, Default)]
pub struct SseSplitter {
    pending: BytesMut,
}

impl SseSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `chunk` and returns every event it completes, in order.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<SseEvent>) {
        if self.pending.is_empty() {
            // Fast path: the upstream usually sends whole events per chunk; slice them out
            // of the chunk itself.
            let consumed = split_events(&chunk, |range| {
                out.push(SseEvent {
                    raw: chunk.slice(range),
                })
            });
            if consumed < chunk.len() {
                self.pending.extend_from_slice(&chunk[consumed..]);
            }
            return;
        }
        self.pending.extend_from_slice(&chunk);
        let buffered = self.pending.split().freeze();
        let consumed = split_events(&buffered, |range| {
            out.push(SseEvent {
                raw: buffered.slice(range),
            })
        });
        if consumed < buffered.len() {
            self.pending.extend_from_slice(&buffered[consumed..]);
        }
    }

    /// At end of stream: whatever is left (an event without its blank line), if anything.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.pending.iter().all(u8::is_ascii_whitespace) {
            self.pending.clear();
            return None;
        }
        Some(SseEvent {
            raw: self.pending.split().freeze(),
        })
    }
}

/// Calls `emit` with the byte range of each complete event in `buf` (an event ends with a
/// blank line: `\n\n`, `\r\n\r\n` or a mix). Returns how many bytes were consumed.
fn split_events(buf: &[u8], mut emit: impl FnMut(std::ops::Range<usize>)) -> usize {
    let mut start = 0;
    let mut pos = 0;
    while let Some(off) = memchr::memchr(b'\n', &buf[pos..]) {
        let nl = pos + off;
        let next = nl + 1;
        let end = if buf.get(next) == Some(&b'\n') {
            Some(next + 1)
        } else if buf.get(next) == Some(&b'\r') && buf.get(next + 1) == Some(&b'\n') {
            Some(next + 2)
        } else {
            None
        };
        match end {
            Some(end) => {
                emit(start..end);
                start = end;
                pos = end;
            }
            None => pos = next,
        }
    }
    start
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = SseSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(Bytes::copy_from_slice(c), &mut out);
        }
        let mut v: Vec<Vec<u8>> = out.into_iter().map(|e| e.raw.to_vec()).collect();
        if let Some(e) = s.finish() {
            v.push(e.raw.to_vec());
        }
        v
    }

    #[test]
    fn whole_events_in_one_chunk() {
        let v = collect(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(
            v,
            vec![
                b"data: {\"a\":1}\n\n".to_vec(),
                b"data: [DONE]\n\n".to_vec()
            ]
        );
    }

    #[test]
    fn events_split_across_chunks_and_crlf() {
        let v = collect(&[b"data: {\"a\"", b":1}\r\n", b"\r\ndata: x\n", b"\n"]);
        assert_eq!(
            v,
            vec![b"data: {\"a\":1}\r\n\r\n".to_vec(), b"data: x\n\n".to_vec()]
        );
    }

    #[test]
    fn trailing_event_without_blank_line_is_returned_by_finish() {
        let v = collect(&[b"data: a\n\ndata: b\n"]);
        assert_eq!(v, vec![b"data: a\n\n".to_vec(), b"data: b\n".to_vec()]);
    }

    #[test]
    fn data_of_multi_line_and_done() {
        let e = SseEvent {
            raw: Bytes::from_static(b"event: x\ndata: a\ndata:b\n\n"),
        };
        assert_eq!(e.data().unwrap().as_ref(), b"a\nb");
        let d = SseEvent {
            raw: Bytes::from_static(b"data: [DONE]\n\n"),
        };
        assert!(d.is_done());
        let c = SseEvent {
            raw: Bytes::from_static(b": comment\n\n"),
        };
        assert!(c.data().is_none());
    }
}
