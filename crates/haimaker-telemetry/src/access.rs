//! The access line: one per request, uvicorn's shape.
//!
//! `INFO:     10.0.0.1:52344 - "POST /chat/completions HTTP/1.1" 200 OK`
//!
//! Access lines bypass tracing: at tens of thousands of requests per second the generic
//! field machinery costs more than the request itself. They are formatted straight into the
//! log sink, as text or as a JSON object with the same keys as other JSON lines.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::LogSettings;
use crate::sink::Sink;

struct AccessLog {
    sink: Sink,
    json: bool,
}

static ACCESS: OnceLock<Option<AccessLog>> = OnceLock::new();

pub(crate) fn install(sink: Sink, settings: LogSettings) {
    let _ = ACCESS.set(settings.access_log.then_some(AccessLog {
        sink,
        json: settings.json,
    }));
}

/// What one access line reports. The path must come without its query string (it may carry
/// keys); the caller strips it.
#[derive(Debug, Clone, Copy)]
pub struct AccessLine<'a> {
    pub client: Option<SocketAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub version: &'a str,
    pub status: u16,
    pub reason: &'a str,
    pub duration: Duration,
    pub request_id: &'a str,
}

impl AccessLine<'_> {
    pub fn emit(&self) {
        let Some(Some(log)) = ACCESS.get() else {
            return;
        };
        log.sink.append(|buf| {
            if log.json {
                self.write_json(buf);
            } else {
                let _ = write!(buf, "INFO:     ");
                self.write_message(buf);
                buf.push(b'\n');
            }
        });
    }

    fn write_message(&self, buf: &mut Vec<u8>) {
        let _ = match self.client {
            Some(addr) => write!(buf, "{addr}"),
            None => write!(buf, "-"),
        };
        let _ = write!(
            buf,
            " - \"{} {} {}\" {} {}",
            self.method, self.path, self.version, self.status, self.reason
        );
    }

    /// `{"message", "level", "timestamp", "client", "method", "path", "status",
    /// "duration_ms", "request_id", "pid"}`, written field by field (no intermediate map).
    /// `pid` tells which worker served the request.
    fn write_json(&self, buf: &mut Vec<u8>) {
        let mut message = Vec::with_capacity(96);
        self.write_message(&mut message);
        buf.extend_from_slice(b"{\"message\":");
        json_str(buf, &String::from_utf8_lossy(&message));
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let _ = write!(
            buf,
            ",\"level\":\"INFO\",\"timestamp\":\"{now}\",\"client\":"
        );
        match self.client {
            Some(addr) => {
                let _ = write!(buf, "\"{addr}\"");
            }
            None => buf.extend_from_slice(b"null"),
        }
        buf.extend_from_slice(b",\"method\":");
        json_str(buf, self.method);
        buf.extend_from_slice(b",\"path\":");
        json_str(buf, self.path);
        let _ = write!(
            buf,
            ",\"status\":{},\"duration_ms\":{:.3},\"request_id\":",
            self.status,
            self.duration.as_secs_f64() * 1000.0
        );
        json_str(buf, self.request_id);
        let _ = writeln!(buf, ",\"pid\":{}}}", std::process::id());
    }
}

fn json_str(buf: &mut Vec<u8>, s: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}
