//! Relaying an upstream SSE stream to the client, event by event, as the upstream produces it.
//!
//! Each complete event is forwarded the moment its last byte arrives; nothing waits for the
//! end of the stream. On the way the relay reads the usage chunk (removing it again when
//! haimaker asked for it on the client's behalf), ends the stream with `data: [DONE]` if the
//! upstream closed cleanly without one, and turns an upstream failure or an idle timeout into
//! an OpenAI error event. Dropping the relay (client gone) drops the upstream body, which closes
//! that upstream connection: the upstream request is cancelled.
//!
//! A [`Translate`] (set for providers that do not speak OpenAI, and for `/v1/messages`) turns
//! the upstream's bytes into the client's events first; relays without one do nothing extra.
//!
//! A [`Collector`] (set by the response cache) keeps a copy of each event (a reference-counted
//! `Bytes`, no copy of the data) and hands them over only if the stream completed cleanly; without
//! one the relay does nothing extra.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use haimaker_openai::{SseSplitter, Usage, chunk_usage};
use haimaker_providers::{StreamFormat, StreamTranslator};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::error::ProxyError;
use crate::state::InFlight;

/// How a relayed stream ended, for accounting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    pub usage: Option<Usage>,
    pub completed: bool,
    /// When the first event was forwarded.
    pub first_byte: Option<std::time::SystemTime>,
    /// The same moment on the monotonic clock, for time-to-first-token.
    pub first_byte_at: Option<std::time::Instant>,
}

pub type OnFinish = Box<dyn FnOnce(StreamOutcome) + Send>;

/// A provider stream translator (`haimaker-providers`) for the relay.
pub struct Translate(pub Box<dyn StreamTranslator>);

impl std::fmt::Debug for Translate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Translate")
    }
}

/// Keeps the events of a stream (every one the upstream sent before `[DONE]`, the usage chunk
/// too, even when the client does not get it) and hands them to `done` when the stream completed
/// cleanly. Past `limit` bytes it gives up and keeps nothing.
pub struct Collector {
    events: Vec<Bytes>,
    size: usize,
    limit: usize,
    overflowed: bool,
    done: Box<dyn FnOnce(Vec<Bytes>) + Send>,
}

impl Collector {
    pub fn new(limit: usize, done: impl FnOnce(Vec<Bytes>) + Send + 'static) -> Self {
        Self {
            events: Vec::new(),
            size: 0,
            limit,
            overflowed: false,
            done: Box::new(done),
        }
    }

    fn push(&mut self, raw: &Bytes) {
        if self.overflowed {
            return;
        }
        self.size += raw.len();
        if self.size > self.limit {
            self.overflowed = true;
            self.events = Vec::new();
            return;
        }
        self.events.push(raw.clone());
    }

    fn finish(self, completed: bool) {
        if completed && !self.overflowed {
            (self.done)(self.events);
        }
    }
}

pub struct SseRelay {
    upstream: Incoming,
    splitter: SseSplitter,
    ready: VecDeque<Bytes>,
    scratch: Vec<haimaker_openai::SseEvent>,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    /// Remove the usage-only chunk: the client did not ask for it.
    strip_usage: bool,
    saw_done: bool,
    finished: bool,
    outcome: StreamOutcome,
    on_finish: Option<OnFinish>,
    collector: Option<Collector>,
    translator: Option<Box<dyn StreamTranslator>>,
    /// The client gets Anthropic events (no `[DONE]`, Anthropic error events).
    anthropic_out: bool,
    translated: Vec<Bytes>,
    describe: String,
    _in_flight: Option<InFlight>,
}

impl SseRelay {
    pub fn new(
        upstream: Incoming,
        idle: Duration,
        strip_usage: bool,
        describe: String,
        in_flight: Option<InFlight>,
        on_finish: Option<OnFinish>,
    ) -> Self {
        Self {
            upstream,
            splitter: SseSplitter::new(),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            idle,
            idle_timer: Box::pin(tokio::time::sleep(idle)),
            strip_usage,
            saw_done: false,
            finished: false,
            outcome: StreamOutcome::default(),
            on_finish,
            collector: None,
            translator: None,
            anthropic_out: false,
            translated: Vec::new(),
            describe,
            _in_flight: in_flight,
        }
    }

    /// Keeps the stream's events for `collector` (the response cache).
    pub fn set_collector(&mut self, collector: Collector) {
        self.collector = Some(collector);
    }

    /// Translates the upstream's stream with `translate` before anything else reads it.
    pub fn set_translator(&mut self, translate: Translate) {
        self.anthropic_out = translate.0.format() == StreamFormat::Anthropic;
        self.translator = Some(translate.0);
    }

    /// Upstream bytes in: through the translator when there is one.
    fn take_upstream(&mut self, chunk: Bytes, end: bool) {
        let Some(translator) = &mut self.translator else {
            self.take_events(chunk);
            return;
        };
        if end {
            translator.finish(&mut self.translated);
        } else {
            translator.push(&chunk, &mut self.translated);
        }
        let events = std::mem::take(&mut self.translated);
        for event in &events {
            if self.anthropic_out {
                self.ready.push_back(event.clone());
            } else {
                self.take_events(event.clone());
            }
        }
        self.translated = events;
        self.translated.clear();
    }

    fn take_events(&mut self, chunk: Bytes) {
        self.splitter.push(chunk, &mut self.scratch);
        for event in self.scratch.drain(..) {
            if event.is_done() {
                self.saw_done = true;
                self.ready.push_back(event.raw);
                continue;
            }
            if let Some(collector) = &mut self.collector {
                collector.push(&event.raw);
            }
            if let Some(data) = event.data()
                && let Some(found) = chunk_usage(&data)
            {
                self.outcome.usage = Some(found.usage);
                if found.usage_only && self.strip_usage {
                    continue;
                }
            }
            self.ready.push_back(event.raw);
        }
    }

    fn fail(&mut self, error: ProxyError) {
        tracing::warn!(target: "haimaker::stream", error = %error.message, "stream ended with an error");
        if self.anthropic_out {
            let event = serde_json::json!({"type": "error", "error": {"type": "api_error", "message": error.message}});
            self.ready
                .push_back(Bytes::from(format!("event: error\ndata: {event}\n\n")));
        } else {
            self.ready.push_back(error.sse_event());
        }
        self.finish(false);
    }

    fn finish(&mut self, completed: bool) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.outcome.completed = completed;
        if self.outcome.usage.is_none()
            && let Some(translator) = &self.translator
        {
            self.outcome.usage = translator.usage();
        }
        if let Some(callback) = self.on_finish.take() {
            callback(self.outcome);
        }
        if let Some(collector) = self.collector.take() {
            collector.finish(completed);
        }
    }
}

impl Body for SseRelay {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.ready.pop_front() {
                if this.outcome.first_byte.is_none() {
                    this.outcome.first_byte = Some(std::time::SystemTime::now());
                    this.outcome.first_byte_at = Some(std::time::Instant::now());
                }
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let deadline = Instant::now() + this.idle;
                        this.idle_timer.as_mut().reset(deadline);
                        this.take_upstream(data, false);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let msg = format!(
                        "litellm.APIConnectionError: OpenAIException - the upstream stream broke off: {e} {}",
                        this.describe
                    );
                    this.fail(ProxyError::internal(msg));
                }
                Poll::Ready(None) if this.translator.is_some() => {
                    this.take_upstream(Bytes::new(), true);
                    if !this.saw_done && !this.anthropic_out {
                        this.ready
                            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    }
                    this.finish(true);
                }
                Poll::Ready(None) => {
                    if let Some(rest) = this.splitter.finish() {
                        if let Some(collector) = &mut this.collector
                            && !rest.is_done()
                        {
                            collector.push(&rest.raw);
                        }
                        this.ready.push_back(rest.raw);
                    }
                    if !this.saw_done {
                        this.ready
                            .push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    }
                    this.finish(true);
                }
                Poll::Pending => {
                    if this.idle_timer.as_mut().poll(cx).is_ready() {
                        let idle = this.idle;
                        this.fail(ProxyError::timeout(
                            idle,
                            &format!("waiting for the next stream chunk {}", this.describe),
                        ));
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.ready.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for SseRelay {
    fn drop(&mut self) {
        // The client went away before the end: still account for what was seen.
        self.finish(false);
    }
}
