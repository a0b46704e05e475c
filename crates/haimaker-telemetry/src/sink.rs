//! The log sink: lines are appended to an in-memory buffer under a short lock, and one thread
//! writes the buffer to stdout every few milliseconds.
//!
//! Writing (or even waking a writer thread) once per line costs a request path as much as the
//! proxying itself at tens of thousands of requests per second; a batch per interval costs
//! nothing per line. If stdout blocks and the buffer grows past its cap, new lines are dropped
//! and counted, never blocking a request.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often buffered lines are written out.
const FLUSH_INTERVAL: Duration = Duration::from_millis(25);
/// Past this many buffered bytes, new lines are dropped.
const MAX_BUFFERED: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    wake: Condvar,
    stopping: AtomicBool,
    dropped: AtomicU64,
}

/// A cheap handle that appends to the buffer.
#[derive(Debug, Clone)]
pub struct Sink {
    shared: Arc<Shared>,
}

impl Sink {
    /// Appends what `fill` writes as one unit (never split across flushes).
    pub fn append(&self, fill: impl FnOnce(&mut Vec<u8>)) {
        let mut buffer = self.shared.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if buffer.len() >= MAX_BUFFERED {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        fill(&mut buffer);
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.append(|b| b.extend_from_slice(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = Sink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Owns the flushing thread; dropping it writes out everything buffered.
#[derive(Debug)]
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the sink and its flushing thread, writing to `out`.
pub fn start(out: impl Write + Send + 'static) -> (Sink, Flusher) {
    let shared = Arc::new(Shared::default());
    let worker = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("haimaker-log".into())
        .spawn(move || run(&worker, out))
        .ok();
    (
        Sink {
            shared: Arc::clone(&shared),
        },
        Flusher { shared, thread },
    )
}

fn run(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let stopping = {
            let buffer = shared.buffer.lock().unwrap_or_else(|p| p.into_inner());
            let (mut buffer, _) = shared
                .wake
                .wait_timeout(buffer, FLUSH_INTERVAL)
                .unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *buffer, &mut spare);
            shared.stopping.load(Ordering::Acquire)
        };
        if !spare.is_empty() {
            // A closed or failing stdout must not take the process down; the lines are lost.
            let _ = out.write_all(&spare);
            let _ = out.flush();
            spare.clear();
        }
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "WARNING:  {dropped} log lines dropped: stdout is not keeping up"
            );
        }
        if stopping && shared.buffer.lock().map(|b| b.is_empty()).unwrap_or(true) {
            return;
        }
    }
}

impl Flusher {
    /// Writes out everything buffered now and stops the thread.
    pub fn finish(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_order_and_flushed_on_finish() {
        let out = Captured::default();
        let (mut sink, mut flusher) = start(out.clone());
        for i in 0..1000 {
            writeln!(sink, "line {i}").unwrap();
        }
        flusher.finish();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }
}
