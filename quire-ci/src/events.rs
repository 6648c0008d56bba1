//! The event sink of one run: where `quire-ci run --events` sends each
//! `Event`.
//!
//! The server tails the events file while the run goes on, so every
//! event is written as one whole JSON line and flushed before the next
//! step starts. The code that builds an event redacts its text, not
//! this sink.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use quire_proto::{Event, EventKind};

/// Destination of events, as given to `--events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    /// Events are dropped.
    Null,
    /// One JSON line per event on standard output.
    Stdout,
    /// Appended to a file, one JSON line per event.
    File(PathBuf),
}

impl EventTarget {
    /// Parses `null`, `stdout` or a path.
    pub fn parse(text: &str) -> Self {
        match text {
            "null" => EventTarget::Null,
            "stdout" | "-" => EventTarget::Stdout,
            path => EventTarget::File(PathBuf::from(path)),
        }
    }
}

/// A failure to open or write the events target.
#[derive(Debug, thiserror::Error)]
#[error("cannot write events to {path}: {source}")]
pub struct EventError {
    path: String,
    source: io::Error,
}

/// An open event target.
pub struct EventSink {
    out: Output,
    /// The first write error; later events are dropped, because a run
    /// must not stop halfway through a job for its event log.
    failed: Option<EventError>,
}

enum Output {
    Null,
    Stdout,
    File(File, PathBuf),
}

impl EventSink {
    /// Opens `target`, creating a file target or appending to it.
    pub fn open(target: &EventTarget) -> Result<Self, EventError> {
        let out = match target {
            EventTarget::Null => Output::Null,
            EventTarget::Stdout => Output::Stdout,
            EventTarget::File(path) => {
                let file = open_append(path).map_err(|source| EventError {
                    path: path.display().to_string(),
                    source,
                })?;
                Output::File(file, path.clone())
            }
        };
        Ok(Self { out, failed: None })
    }

    /// Creates a sink that drops every event.
    pub fn null() -> Self {
        Self {
            out: Output::Null,
            failed: None,
        }
    }

    /// Writes one event stamped with the current time.
    pub fn emit(&mut self, kind: EventKind) {
        if matches!(self.out, Output::Null) || self.failed.is_some() {
            return;
        }
        let mut line = Event::new(now_ms(), kind).to_line();
        line.push('\n');
        let (result, path) = match &mut self.out {
            Output::Null => return,
            Output::Stdout => {
                let mut stdout = io::stdout().lock();
                let result = stdout
                    .write_all(line.as_bytes())
                    .and_then(|()| stdout.flush());
                (result, "standard output".to_string())
            }
            // One `write_all` of a whole line on an unbuffered file, so
            // a reader never sees half an event.
            Output::File(file, path) => {
                (file.write_all(line.as_bytes()), path.display().to_string())
            }
        };
        if let Err(source) = result {
            tracing::error!(%path, error = %source, "cannot write event");
            self.failed = Some(EventError { path, source });
        }
    }

    /// Returns the first write error, if any event was lost.
    pub fn error(&self) -> Option<&EventError> {
        self.failed.as_ref()
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use quire_proto::{JobOutcome, RunOutcome};

    use super::*;

    #[test]
    fn target_words() {
        assert_eq!(EventTarget::parse("null"), EventTarget::Null);
        assert_eq!(EventTarget::parse("stdout"), EventTarget::Stdout);
        assert_eq!(
            EventTarget::parse("/tmp/e.jsonl"),
            EventTarget::File("/tmp/e.jsonl".into())
        );
    }

    #[test]
    fn file_sink_appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"earlier\":1}\n").unwrap();
        let mut sink =
            EventSink::open(&EventTarget::File(path.clone())).unwrap();
        sink.emit(EventKind::JobStarted { job: "a".into() });
        // Visible before the sink is dropped: each event is flushed.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        sink.emit(EventKind::JobFinished {
            job: "a".into(),
            outcome: JobOutcome::Complete,
            message: None,
        });
        sink.emit(EventKind::RunFinished {
            outcome: RunOutcome::Success,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let last = Event::from_line(lines[3]).unwrap();
        assert_eq!(
            last.kind,
            EventKind::RunFinished {
                outcome: RunOutcome::Success
            }
        );
        assert!(sink.error().is_none());
    }

    #[test]
    fn unwritable_target_named() {
        let err = EventSink::open(&EventTarget::File(
            "/nonexistent-dir/e.jsonl".into(),
        ))
        .err()
        .unwrap();
        assert!(
            err.to_string()
                .starts_with("cannot write events to /nonexistent-dir/e.jsonl")
        );
    }
}
