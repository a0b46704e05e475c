//! The Slack payload text (LiteLLM's layout) and the small text helpers alerts share: UTC
//! timestamps, secret redaction, truncation.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::kind::{AlertType, Level};

/// Longest message body an alert carries (Slack accepts far more; alerts should stay readable).
pub const MAX_MESSAGE_CHARS: usize = 3_000;
/// How much of a prompt an alert shows (LiteLLM: the first 100 characters).
pub const MAX_PROMPT_CHARS: usize = 100;

/// LiteLLM's Slack text:
///
/// ```text
/// Level: `High`
/// Timestamp: `12:34:56`
///
/// Message: <message>
/// ```
///
/// then each `alerting_metadata` entry, then `Proxy URL: ...` when `PROXY_BASE_URL` is set.
/// Daily reports and new-model notices are the message alone. The timestamp is UTC.
pub fn slack_text(
    kind: AlertType,
    level: Level,
    message: &str,
    at: SystemTime,
    metadata: Option<&Map<String, Value>>,
    proxy_base_url: Option<&str>,
) -> String {
    let mut text = if kind.is_raw() {
        message.to_string()
    } else {
        format!(
            "Level: `{}`\nTimestamp: `{}`\n\nMessage: {message}",
            level.as_str(),
            hms_utc(at)
        )
    };
    if let Some(metadata) = metadata {
        for (key, value) in metadata {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text.push_str(&format!(
                "\n\n*Alerting Metadata*: \n{key}: `{}`\n\n",
                redact(&value)
            ));
        }
    }
    if let Some(url) = proxy_base_url {
        text.push_str(&format!("\n\nProxy URL: `{url}`"));
    }
    text
}

/// `[Num Alerts: N]` in front of a squashed alert, as LiteLLM writes it.
pub fn squashed(text: &str, count: u64) -> String {
    if count > 1 {
        format!("[Num Alerts: {count}]\n\n{text}")
    } else {
        text.to_string()
    }
}

/// `HH:MM:SS` of `at`, UTC.
pub fn hms_utc(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `YYYY-MM-DD` of `at`, UTC (civil-from-days, no time-zone database needed).
pub fn date_utc(at: SystemTime) -> String {
    let days = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}...", &s[..at]),
    }
}

/// Removes what looks like a credential from text that goes into an alert: `sk-...` keys,
/// `Bearer <token>`, and `key=` / `api_key=` / `token=` query values. Upstream error messages
/// sometimes echo the key they were sent.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(len) = secret_at(rest) {
            let (head, tail) = rest.split_at(len.0);
            out.push_str(head);
            out.push_str("[redacted]");
            rest = &tail[len.1..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// At the start of `s`: (bytes to keep, bytes of secret) when a secret starts here.
fn secret_at(s: &str) -> Option<(usize, usize)> {
    let token_len = |t: &str| {
        let n = t
            .bytes()
            .take_while(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
            })
            .count();
        // A sentence's full stop is not part of the token.
        n - t.as_bytes()[..n]
            .iter()
            .rev()
            .take_while(|b| **b == b'.')
            .count()
    };
    if let Some(tail) = s.strip_prefix("sk-") {
        let n = token_len(tail);
        if n >= 6 {
            return Some((3, n));
        }
        return None;
    }
    for prefix in ["Bearer ", "bearer "] {
        if let Some(tail) = s.strip_prefix(prefix) {
            let n = token_len(tail);
            if n >= 6 {
                return Some((prefix.len(), n));
            }
        }
    }
    for prefix in ["key=", "api_key=", "api-key=", "token=", "access_token="] {
        if let Some(tail) = s.strip_prefix(prefix) {
            let n = tail
                .bytes()
                .take_while(|b| !matches!(b, b'&' | b' ' | b'"' | b'\'' | b'`'))
                .count();
            if n > 0 {
                return Some((prefix.len(), n));
            }
        }
    }
    None
}

/// The scheme and host of a URL, for logs (Slack webhook URLs carry a token in their path).
pub fn url_for_logs(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/...")
        }
        None => "<webhook>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_slack_layout_is_litellms() {
        let at = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600 * 13 + 60 * 4 + 5);
        let mut meta = Map::new();
        meta.insert("env".into(), Value::from("prod"));
        let text = slack_text(
            AlertType::LlmExceptions,
            Level::High,
            "LLM API call failed: `boom`",
            at,
            Some(&meta),
            Some("https://proxy.example.com"),
        );
        assert_eq!(
            text,
            "Level: `High`\nTimestamp: `13:04:05`\n\nMessage: LLM API call failed: `boom`\n\n*Alerting Metadata*: \nenv: `prod`\n\n\n\nProxy URL: `https://proxy.example.com`"
        );
        let raw = slack_text(
            AlertType::DailyReports,
            Level::Low,
            "report",
            at,
            None,
            None,
        );
        assert_eq!(raw, "report");
        assert_eq!(squashed("x", 1), "x");
        assert_eq!(squashed("x", 3), "[Num Alerts: 3]\n\nx");
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(date_utc(UNIX_EPOCH), "1970-01-01");
        assert_eq!(
            date_utc(UNIX_EPOCH + Duration::from_secs(1_709_251_200)),
            "2024-03-01"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact("Incorrect API key provided: sk-abcdef123456. You can find"),
            "Incorrect API key provided: sk-[redacted]. You can find"
        );
        assert_eq!(
            redact("Authorization: Bearer abc.def-ghi"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(
            redact("GET https://x/v1?key=AIzaSy123&alt=sse"),
            "GET https://x/v1?key=[redacted]&alt=sse"
        );
        assert_eq!(redact("sk-1 is short"), "sk-1 is short");
        assert_eq!(redact("héllo sk-ünïcode"), "héllo sk-ünïcode");
    }

    #[test]
    fn urls_are_logged_without_their_path() {
        assert_eq!(
            url_for_logs("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/..."
        );
        assert_eq!(url_for_logs("http://user:pw@h:1/x?y"), "http://h:1/...");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé...");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
