//! The access line: one per request, uvicorn's shape.
//!
//! `INFO:     10.0.0.1:52344 - "POST /chat/completions HTTP/1.1" 200 OK`

use std::net::SocketAddr;
use std::time::Duration;

/// The tracing target of access lines (filtered separately from haimaker's own logs).
pub const ACCESS_TARGET: &str = "access";

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
        let client = match self.client {
            Some(addr) => addr.to_string(),
            None => "-".to_string(),
        };
        tracing::info!(
            target: ACCESS_TARGET,
            client = %client,
            method = self.method,
            path = self.path,
            status = self.status,
            duration_ms = self.duration.as_secs_f64() * 1000.0,
            request_id = self.request_id,
            "{client} - \"{} {} {}\" {} {}",
            self.method,
            self.path,
            self.version,
            self.status,
            self.reason,
        );
    }
}
