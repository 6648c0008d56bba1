//! Per-command log lines in the CRI logging format:
//! `<RFC 3339 timestamp with nanoseconds> <stdout|stderr> <F|P> <content>`.
//!
//! `F` marks a full line; `P` marks a partial line whose content goes on
//! in the next line of the same stream. A command's output is split
//! into such lines as it arrives, so a log keeps the order in which the
//! two streams were written.

use std::fmt;
use std::time::SystemTime;

use crate::time::{format_rfc3339_nanos, validate_rfc3339};

/// Output stream that a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    /// Returns the name used in the log format.
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// RFC 3339 timestamp with nanoseconds, as written.
    pub timestamp: String,
    /// The stream the content came from.
    pub stream: LogStream,
    /// True for a `P` line, whose content continues in the next line.
    pub partial: bool,
    /// The content, without the line's newline.
    pub content: String,
}

/// A malformed log line: which line (counting from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLogError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ParseLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed log line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseLogError {}

/// Appends one log line, with its newline, to `out`.
///
/// `content` must not contain a newline; the writer that splits output
/// into lines is responsible for that. Invalid UTF-8 is written as is.
pub fn write_line(
    out: &mut Vec<u8>,
    at: SystemTime,
    stream: LogStream,
    partial: bool,
    content: &[u8],
) {
    debug_assert!(!content.contains(&b'\n'));
    out.extend_from_slice(format_rfc3339_nanos(at).as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// Parses one line, without its newline. `line_no` counts from 1 and
/// is used in the error.
pub fn parse_line(
    line: &str,
    line_no: usize,
) -> Result<LogLine, ParseLogError> {
    let fail = |reason: String| ParseLogError {
        line: line_no,
        reason,
    };
    let mut parts = line.splitn(4, ' ');
    let timestamp = parts.next().unwrap_or_default();
    validate_rfc3339(timestamp)
        .map_err(|r| fail(format!("invalid timestamp {timestamp:?}: {r}")))?;
    let stream = match parts.next() {
        Some("stdout") => LogStream::Stdout,
        Some("stderr") => LogStream::Stderr,
        Some(other) => {
            return Err(fail(format!(
                "stream is {other:?}, expected `stdout` or `stderr`"
            )));
        }
        None => return Err(fail("missing stream after the timestamp".into())),
    };
    let partial = match parts.next() {
        Some("F") => false,
        Some("P") => true,
        Some(other) => {
            return Err(fail(format!("tag is {other:?}, expected `F` or `P`")));
        }
        None => return Err(fail("missing `F` or `P` tag".into())),
    };
    let content = parts.next().unwrap_or_default().to_string();
    Ok(LogLine {
        timestamp: timestamp.to_string(),
        stream,
        partial,
        content,
    })
}

/// Parses a whole log; an empty trailing line is ignored.
pub fn parse_log(text: &str) -> Result<Vec<LogLine>, ParseLogError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| parse_line(line, i + 1))
        .collect()
}

/// Joins the `P`/`F` lines of one stream back into the text that was
/// written, adding a newline after each full line.
pub fn reassemble(lines: &[LogLine], stream: LogStream) -> String {
    let mut text = String::new();
    for line in lines.iter().filter(|l| l.stream == stream) {
        text.push_str(&line.content);
        if !line.partial {
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn writes_exact_format() {
        let at = UNIX_EPOCH + Duration::new(1_709_210_096, 5);
        let mut out = Vec::new();
        write_line(&mut out, at, LogStream::Stdout, false, b"hello world");
        write_line(&mut out, at, LogStream::Stderr, true, b"part");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2024-02-29T12:34:56.000000005Z stdout F hello world\n\
             2024-02-29T12:34:56.000000005Z stderr P part\n"
        );
    }

    #[test]
    fn round_trip_and_reassemble() {
        let at = SystemTime::now();
        let mut out = Vec::new();
        write_line(&mut out, at, LogStream::Stdout, true, b"ab");
        write_line(&mut out, at, LogStream::Stderr, false, b"warn");
        write_line(&mut out, at, LogStream::Stdout, false, b"c d");
        write_line(&mut out, at, LogStream::Stdout, false, b"");
        let text = String::from_utf8(out).unwrap();
        let lines = parse_log(&text).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].partial);
        assert_eq!(lines[1].stream, LogStream::Stderr);
        assert_eq!(lines[3].content, "");
        assert_eq!(reassemble(&lines, LogStream::Stdout), "abc d\n\n");
        assert_eq!(reassemble(&lines, LogStream::Stderr), "warn\n");
    }

    #[test]
    fn content_keeps_spaces() {
        let line =
            parse_line("2026-12-04T15:07:58.000000001Z stdout F  a  b ", 1)
                .unwrap();
        assert_eq!(line.content, " a  b ");
    }

    #[test]
    fn malformed_lines_say_which_and_why() {
        let ts = "2026-12-04T15:07:58.000000001Z";
        let cases = [
            ("garbage".to_string(), "invalid timestamp \"garbage\""),
            (ts.to_string(), "missing stream after the timestamp"),
            (format!("{ts} stdin F x"), "stream is \"stdin\""),
            (format!("{ts} stdout"), "missing `F` or `P` tag"),
            (format!("{ts} stdout X x"), "tag is \"X\""),
        ];
        for (line, reason) in cases {
            let err = parse_line(&line, 7).unwrap_err();
            assert_eq!(err.line, 7);
            assert!(err.reason.starts_with(reason), "{line}: {err}");
            assert!(err.to_string().starts_with("malformed log line 7: "));
        }
        let log = format!("{ts} stdout F ok\n{ts} bogus F x\n");
        assert_eq!(parse_log(&log).unwrap_err().line, 2);
    }
}
