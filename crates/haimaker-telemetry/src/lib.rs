//! Logging for every haimaker process: the level from `LITELLM_LOG`, text or JSON lines, and
//! the uvicorn-style access line.
//!
//! Text lines look like uvicorn's (`INFO:     message`), JSON lines like LiteLLM's
//! `JsonFormatter` (`{"message", "level", "timestamp", ...fields}`). Lines are buffered in
//! memory and written by a background thread in batches ([`sink`]), so a request never waits
//! on stdout.
//!
//! What must not be logged (keys, prompts, completions) is the caller's duty; this crate only
//! offers `detailed_debug` as the switch callers consult.

mod access;
mod format;
mod level;
mod sink;

pub use access::AccessLine;

/// The tracing target of process lifecycle events (workers started and stopped, "running
/// on ..."). Like uvicorn's start-up lines, they are shown at any `LITELLM_LOG` level.
pub const LIFECYCLE_TARGET: &str = "lifecycle";
pub use level::{Level, parse_level};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How a process logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// Level of haimaker's own logs.
    pub level: Level,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Emit one access line per request (at INFO, independent of `level`, as uvicorn does).
    pub access_log: bool,
}

/// Keeps the background writer alive; dropping it writes out what is buffered.
#[must_use = "dropping the guard stops the log writer"]
#[derive(Debug)]
pub struct LogGuard {
    _flusher: sink::Flusher,
}

/// Installs the global subscriber and the access-line sink. Call once per process, before
/// anything logs.
pub fn init(settings: LogSettings) -> LogGuard {
    let (sink, flusher) = sink::start(std::io::stdout());
    access::install(sink.clone(), settings);
    let own = LevelFilter::from_level(settings.level.as_tracing());
    let filter = Targets::new()
        .with_target(LIFECYCLE_TARGET, LevelFilter::INFO)
        .with_target("haimaker", own)
        .with_default(LevelFilter::WARN.min(own));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(sink)
        .event_format(format::LineFormat {
            json: settings.json,
        });
    // A second init (tests that run several servers in one process) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
    LogGuard { _flusher: flusher }
}
