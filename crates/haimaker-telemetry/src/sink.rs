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
/// Writes to a pipe of at most PIPE_BUF bytes are atomic. Every process of the tree shares the
/// same stdout (a pipe in a container), so each write is at most this long and ends at a line
/// boundary: lines of different workers never interleave.
const ATOMIC_WRITE: usize = 4096;

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
            write_lines(&mut out, &spare);
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

/// Writes `bytes` in pieces of at most [`ATOMIC_WRITE`] bytes that end at a newline (a single
/// longer line is written alone). A closed or failing stdout must not take the process down;
/// the lines are lost.
fn write_lines(out: &mut impl Write, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let window = &bytes[..bytes.len().min(ATOMIC_WRITE)];
        let cut = if window.len() == bytes.len() {
            bytes.len()
        } else {
            match window.iter().rposition(|b| *b == b'\n') {
                Some(nl) => nl + 1,
                // One line longer than the window: write that line whole.
                None => bytes
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |nl| nl + 1),
            }
        };
        let _ = out.write_all(&bytes[..cut]);
        bytes = &bytes[cut..];
    }
    let _ = out.flush();
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

    /// Records the size of every write.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_write_is_whole_lines_of_at_most_pipe_buf() {
        let line = format!("{}\n", "x".repeat(99));
        let long = format!("{}\n", "y".repeat(10_000));
        let mut input = line.repeat(100);
        input.push_str(&long);
        input.push_str(&line.repeat(3));
        let out = Writes::default();
        write_lines(&mut out.clone(), input.as_bytes());
        let writes = out.0.lock().unwrap().clone();
        assert_eq!(writes.concat(), input.as_bytes());
        for w in &writes {
            assert!(w.ends_with(b"\n"));
            assert!(w.len() <= ATOMIC_WRITE || w.iter().filter(|b| **b == b'\n').count() == 1);
        }
        assert!(
            writes.iter().any(|w| w.len() == 10_001),
            "the long line alone"
        );
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
