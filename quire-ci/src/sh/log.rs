//! The log of one command: its two output streams, redacted, split into
//! CRI lines and appended to `jobs/<job>/sh-<n>.log` as they arrive.
//!
//! Memory stays bounded whatever a command prints. A line longer than
//! [`MAX_LINE`] is cut into `P` lines, and the file is written as soon
//! as a chunk is processed. The copy kept for the job's `sh` result
//! stops at its capture limit. A stream's unfinished line is written as a `P`
//! line as soon as the other stream writes, so the log keeps the order
//! in which the two streams arrived.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::SystemTime;

use quire_proto::LogStream;
use quire_proto::cri::write_line;

use crate::secret::{Redactor, StreamRedactor};

/// The maximum content of one log line, in bytes. Longer lines are cut
/// into `P` lines.
pub const MAX_LINE: usize = 16 * 1024;

/// Bytes gathered before they are written to the file.
const WRITE_BUFFER: usize = 64 * 1024;

/// A callback that receives each redacted log line (without its
/// newline) as it is written, for printing on a terminal. The flag is
/// true for a partial line, which the next piece of the same stream
/// continues.
pub type Echo<'a> = &'a mut dyn FnMut(LogStream, bool, &[u8]);

/// One command's log file and the captured copies of its output.
pub struct CommandLog<'a> {
    file: File,
    out: Vec<u8>,
    streams: [StreamState; 2],
    echo: Option<Echo<'a>>,
    scratch: Vec<u8>,
}

struct StreamState {
    stream: LogStream,
    redactor: StreamRedactor,
    /// Redacted content of the line not yet ended by a newline.
    line: Vec<u8>,
    line_at: SystemTime,
    /// The raw output kept for the `sh` result, at most `limit` bytes.
    capture: Vec<u8>,
    limit: usize,
    truncated: bool,
}

/// The output of a command, as returned to the job.
#[derive(Debug, Default)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

impl<'a> CommandLog<'a> {
    /// Starts a log that writes to `file`, keeping up to
    /// `capture_limit` bytes of each stream in memory.
    pub fn new(
        file: File,
        redactor: &Arc<Redactor>,
        capture_limit: usize,
        echo: Option<Echo<'a>>,
    ) -> Self {
        let state = |stream| StreamState {
            stream,
            redactor: redactor.stream(),
            line: Vec::new(),
            line_at: SystemTime::now(),
            capture: Vec::new(),
            limit: capture_limit,
            truncated: false,
        };
        Self {
            file,
            out: Vec::with_capacity(WRITE_BUFFER),
            streams: [state(LogStream::Stdout), state(LogStream::Stderr)],
            echo,
            scratch: Vec::new(),
        }
    }

    /// Adds a chunk that `stream` produced at `at`.
    pub fn push(
        &mut self,
        stream: LogStream,
        at: SystemTime,
        chunk: &[u8],
    ) -> io::Result<()> {
        let (this, other) = pair_mut(&mut self.streams, stream);
        let kept = this.limit.saturating_sub(this.capture.len());
        this.capture
            .extend_from_slice(&chunk[..kept.min(chunk.len())]);
        this.truncated |= chunk.len() > kept;

        // The other stream's unfinished line goes out first, so the log
        // shows it before this chunk.
        flush_partial(other, &mut self.out, &mut self.echo);

        self.scratch.clear();
        this.redactor.push(chunk, &mut self.scratch);
        split_lines(this, at, &self.scratch, &mut self.out, &mut self.echo);
        self.write_out(false)
    }

    /// Ends `stream`, writing what the redactor held back.
    pub fn finish_stream(&mut self, stream: LogStream) -> io::Result<()> {
        let (this, _) = pair_mut(&mut self.streams, stream);
        self.scratch.clear();
        this.redactor.finish(&mut self.scratch);
        let at = SystemTime::now();
        split_lines(this, at, &self.scratch, &mut self.out, &mut self.echo);
        flush_partial(this, &mut self.out, &mut self.echo);
        self.write_out(false)
    }

    /// Writes everything buffered and returns the captured output.
    pub fn finish(mut self) -> io::Result<Captured> {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let (this, _) = pair_mut(&mut self.streams, stream);
            flush_partial(this, &mut self.out, &mut self.echo);
        }
        self.write_out(true)?;
        self.file.flush()?;
        let [stdout, stderr] = self.streams;
        Ok(Captured {
            stdout_truncated: stdout.truncated,
            stderr_truncated: stderr.truncated,
            stdout: stdout.capture,
            stderr: stderr.capture,
        })
    }

    fn write_out(&mut self, force: bool) -> io::Result<()> {
        if !self.out.is_empty() && (force || self.out.len() >= WRITE_BUFFER) {
            self.file.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes buffered lines now, so a reader of the file gets them.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out(true)
    }
}

fn pair_mut(
    streams: &mut [StreamState; 2],
    stream: LogStream,
) -> (&mut StreamState, &mut StreamState) {
    let [stdout, stderr] = streams;
    match stream {
        LogStream::Stdout => (stdout, stderr),
        LogStream::Stderr => (stderr, stdout),
    }
}

/// Appends complete lines of `data` to `out`, keeping the unfinished
/// tail in the stream's line buffer.
fn split_lines(
    state: &mut StreamState,
    at: SystemTime,
    mut data: &[u8],
    out: &mut Vec<u8>,
    echo: &mut Option<Echo<'_>>,
) {
    while !data.is_empty() {
        if state.line.is_empty() {
            state.line_at = at;
        }
        let room = MAX_LINE - state.line.len();
        match data.iter().take(room).position(|&b| b == b'\n') {
            Some(i) => {
                let content = &data[..i];
                if state.line.is_empty() {
                    emit(state.stream, at, false, content, out, echo);
                } else {
                    state.line.extend_from_slice(content);
                    let line = std::mem::take(&mut state.line);
                    emit(state.stream, state.line_at, false, &line, out, echo);
                    state.line = line;
                    state.line.clear();
                }
                data = &data[i + 1..];
            }
            None => {
                let take = room.min(data.len());
                state.line.extend_from_slice(&data[..take]);
                data = &data[take..];
                if state.line.len() == MAX_LINE {
                    flush_partial(state, out, echo);
                }
            }
        }
    }
}

fn flush_partial(
    state: &mut StreamState,
    out: &mut Vec<u8>,
    echo: &mut Option<Echo<'_>>,
) {
    if !state.line.is_empty() {
        emit(state.stream, state.line_at, true, &state.line, out, echo);
        state.line.clear();
    }
}

fn emit(
    stream: LogStream,
    at: SystemTime,
    partial: bool,
    content: &[u8],
    out: &mut Vec<u8>,
    echo: &mut Option<Echo<'_>>,
) {
    write_line(out, at, stream, partial, content);
    if let Some(echo) = echo {
        echo(stream, partial, content);
    }
}

#[cfg(test)]
mod tests {
    use quire_proto::cri::{parse_log, reassemble};

    use super::*;

    fn log_text(f: impl FnOnce(&mut CommandLog<'_>)) -> (String, Captured) {
        log_text_with(&[("token", "hunter2-hunter2")], f)
    }

    fn log_text_with(
        secrets: &[(&str, &str)],
        f: impl FnOnce(&mut CommandLog<'_>),
    ) -> (String, Captured) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sh-1.log");
        let file = File::create(&path).unwrap();
        let redactor = Redactor::new();
        for (name, value) in secrets {
            redactor.register(name, value.as_bytes());
        }
        let mut log = CommandLog::new(file, &redactor, 8, None);
        f(&mut log);
        let captured = log.finish().unwrap();
        (std::fs::read_to_string(&path).unwrap(), captured)
    }

    #[test]
    fn interleaves_in_arrival_order() {
        // With no secret registered the redactor keeps nothing back, so
        // an unfinished line is written as soon as the other stream
        // writes. A registered value delays up to its length - 1 bytes.
        let now = SystemTime::now();
        let (text, _) = log_text_with(&[], |log| {
            log.push(LogStream::Stdout, now, b"one\ntw").unwrap();
            log.push(LogStream::Stderr, now, b"warn\n").unwrap();
            log.push(LogStream::Stdout, now, b"o\n").unwrap();
            log.finish_stream(LogStream::Stdout).unwrap();
            log.finish_stream(LogStream::Stderr).unwrap();
        });
        let lines = parse_log(&text).unwrap();
        let shape: Vec<(LogStream, bool, &str)> = lines
            .iter()
            .map(|l| (l.stream, l.partial, l.content.as_str()))
            .collect();
        assert_eq!(
            shape,
            [
                (LogStream::Stdout, false, "one"),
                (LogStream::Stdout, true, "tw"),
                (LogStream::Stderr, false, "warn"),
                (LogStream::Stdout, false, "o"),
            ]
        );
        assert_eq!(reassemble(&lines, LogStream::Stdout), "one\ntwo\n");
    }

    #[test]
    fn long_line_cut_into_partials() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let (text, captured) = log_text(|log| {
            log.push(LogStream::Stdout, SystemTime::now(), &long)
                .unwrap();
            log.push(LogStream::Stdout, SystemTime::now(), b"\n")
                .unwrap();
            log.finish_stream(LogStream::Stdout).unwrap();
        });
        let lines = parse_log(&text).unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].partial);
        assert!(lines[1].partial);
        assert!(!lines[2].partial);
        assert_eq!(lines[0].content.len(), MAX_LINE);
        assert_eq!(lines[2].content.len(), 10);
        assert_eq!(captured.stdout, b"xxxxxxxx");
        assert!(captured.stdout_truncated);
        assert!(!captured.stderr_truncated);
    }

    #[test]
    fn unterminated_tail_kept_as_partial() {
        let (text, _) = log_text(|log| {
            log.push(LogStream::Stderr, SystemTime::now(), b"no newline")
                .unwrap();
            log.finish_stream(LogStream::Stderr).unwrap();
        });
        let lines = parse_log(&text).unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].partial);
        assert_eq!(reassemble(&lines, LogStream::Stderr), "no newline");
    }

    #[test]
    fn secret_redacted_in_file_not_capture() {
        let (text, captured) = log_text(|log| {
            let at = SystemTime::now();
            log.push(LogStream::Stdout, at, b"key=hunter2-").unwrap();
            log.push(LogStream::Stdout, at, b"hunter2 done\n").unwrap();
            log.finish_stream(LogStream::Stdout).unwrap();
        });
        assert!(!text.contains("hunter2"), "{text}");
        let lines = parse_log(&text).unwrap();
        assert_eq!(
            reassemble(&lines, LogStream::Stdout),
            "key={{ token }} done\n"
        );
        assert_eq!(captured.stdout, b"key=hunt");
    }
}
