//! The two line formats.
//!
//! Text: `LEVEL:` padded to 10 columns, then the message (uvicorn), then the event's fields as
//! `key=value` (not for lifecycle lines, whose message already says it all).
//! JSON: `{"message", "level", "timestamp", <fields>}` (LiteLLM's JsonFormatter, plus fields).

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub(crate) struct LineFormat {
    pub json: bool,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = python_level(*event.metadata().level());
        let mut fields = Fields::default();
        event.record(&mut fields);
        if self.json {
            let mut obj = Map::with_capacity(fields.extra.len() + 3);
            obj.insert("message".into(), Value::String(fields.message));
            obj.insert("level".into(), Value::String(level.into()));
            obj.insert(
                "timestamp".into(),
                Value::String(
                    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                ),
            );
            for (k, v) in fields.extra {
                obj.insert(k, v);
            }
            let line = serde_json::to_string(&obj).map_err(|_| fmt::Error)?;
            writeln!(writer, "{line}")
        } else {
            let mut head = String::with_capacity(10);
            head.push_str(level);
            head.push(':');
            write!(writer, "{head:<10}{}", fields.message)?;
            let target = event.metadata().target();
            if target != crate::LIFECYCLE_TARGET {
                for (key, value) in &fields.extra {
                    match value {
                        Value::String(s) => write!(writer, " {key}={s}")?,
                        other => write!(writer, " {key}={other}")?,
                    }
                }
            }
            writeln!(writer)
        }
    }
}

fn python_level(level: tracing::Level) -> &'static str {
    match level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARNING",
        tracing::Level::INFO => "INFO",
        tracing::Level::DEBUG | tracing::Level::TRACE => "DEBUG",
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    extra: Map<String, Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.extra
                .insert(field.name().into(), Value::String(format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.extra
                .insert(field.name().into(), Value::String(value.into()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().into(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().into(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.extra.insert(field.name().into(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().into(), Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.extra
            .insert(field.name().into(), Value::String(value.to_string()));
    }
}
