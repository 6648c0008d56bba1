//! A `tracing_subscriber` writer that redacts quire-ci's own log output.
//!
//! The fmt layer formats each event completely and then writes it
//! through a writer made for that event. [`RedactingMakeWriter`] hands
//! out writers that collect the event's bytes and, when dropped,
//! write them redacted to the inner writer, so a value split across
//! several `write` calls of one event is still found.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;
use zeroize::Zeroize;

use super::Redactor;

/// Wraps a `MakeWriter` so that every event passes the redactor.
///
/// ```no_run
/// use quire_ci::secret::{Redactor, RedactingMakeWriter};
///
/// let redactor = Redactor::new();
/// tracing_subscriber::fmt()
///     .with_writer(RedactingMakeWriter::new(std::io::stderr, redactor))
///     .init();
/// ```
#[derive(Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> RedactingMakeWriter<M> {
    /// Redacts what `inner`'s writers receive with `redactor`.
    pub fn new(inner: M, redactor: Arc<Redactor>) -> Self {
        Self { inner, redactor }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            redactor: Arc::clone(&self.redactor),
            pending: Vec::new(),
        }
    }
}

/// Collects one event's bytes; writes them redacted on flush or drop.
pub struct RedactingWriter<W: Write> {
    inner: W,
    redactor: Arc<Redactor>,
    pending: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let redacted = self.redactor.redact(&self.pending);
        self.pending.zeroize();
        self.inner.write_all(&redacted)
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        // A log line that cannot be written has nowhere to be reported.
        let _ = self.write_pending();
    }
}
