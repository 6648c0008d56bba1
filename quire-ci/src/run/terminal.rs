//! The progress a run prints for people: each job as it starts and
//! ends, the output of its commands prefixed with the job's id, and a
//! table of outcomes at the end.
//!
//! Command output is echoed only when asked (by default, when the
//! output is a terminal), because the server keeps the same text in the
//! command logs. Colour is used only on a terminal. Every line shown
//! here has already been redacted.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use quire_proto::{JobOutcome, LogStream};

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";

/// One row of the closing table.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub job: String,
    pub outcome: JobOutcome,
    pub duration: Duration,
    pub message: Option<String>,
}

/// Bytes of an unfinished line kept for printing before it is shown
/// anyway, so a command that never ends its lines still shows output.
const MAX_PENDING: usize = 64 * 1024;

/// The progress output and its settings.
pub struct Terminal {
    out: Box<dyn Write>,
    color: bool,
    echo: bool,
    /// The unfinished line of each stream (stdout, stderr) of the
    /// running command. A log line cut into partial pieces, when the
    /// other stream wrote in between, is printed once, whole.
    pending: [Vec<u8>; 2],
}

/// When command output is echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EchoMode {
    /// When the progress output is a terminal.
    #[default]
    Auto,
    Always,
    Never,
}

impl Terminal {
    /// Prints to standard output, or to standard error when standard
    /// output carries the events.
    pub fn new(events_on_stdout: bool, echo: EchoMode) -> Self {
        let (out, is_tty): (Box<dyn Write>, bool) = if events_on_stdout {
            (Box::new(io::stderr()), io::stderr().is_terminal())
        } else {
            (Box::new(io::stdout()), io::stdout().is_terminal())
        };
        let echo = match echo {
            EchoMode::Auto => is_tty,
            EchoMode::Always => true,
            EchoMode::Never => false,
        };
        Self {
            out,
            color: is_tty,
            echo,
            pending: Default::default(),
        }
    }

    /// Creates a terminal that prints nothing.
    pub fn silent() -> Self {
        Self {
            out: Box::new(io::sink()),
            color: false,
            echo: false,
            pending: Default::default(),
        }
    }

    /// True when command output is shown.
    pub fn echoes(&self) -> bool {
        self.echo
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    pub fn job_started(&mut self, job: &str) {
        let line = self.paint(DIM, &format!("--- {job}"));
        let _ = writeln!(self.out, "{line}");
    }

    /// Prints one line of command output, or one `log` line.
    pub fn output_line(&mut self, job: &str, stream: LogStream, line: &[u8]) {
        if !self.echo {
            return;
        }
        let prefix = self.paint(DIM, &format!("[{job}]"));
        let marker = match stream {
            LogStream::Stdout => "",
            LogStream::Stderr => "! ",
        };
        let text = displayable(&String::from_utf8_lossy(line));
        let _ = writeln!(self.out, "{prefix} {marker}{text}");
    }

    /// Takes one piece of a command's output: a whole line, or a
    /// partial one that the stream's next piece continues.
    pub fn output_piece(
        &mut self,
        job: &str,
        stream: LogStream,
        partial: bool,
        piece: &[u8],
    ) {
        if !self.echo {
            return;
        }
        let index = stream_index(stream);
        self.pending[index].extend_from_slice(piece);
        if !partial || self.pending[index].len() >= MAX_PENDING {
            let line = std::mem::take(&mut self.pending[index]);
            self.output_line(job, stream, &line);
        }
    }

    /// Prints what a finished command left unterminated.
    pub fn end_output(&mut self, job: &str) {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let line = std::mem::take(&mut self.pending[stream_index(stream)]);
            if !line.is_empty() {
                self.output_line(job, stream, &line);
            }
        }
    }

    pub fn job_finished(&mut self, row: &JobRow) {
        let outcome = self.outcome(row.outcome);
        let mut line = format!(
            "--- {} {outcome} in {}",
            row.job,
            format_duration(row.duration)
        );
        if let Some(message) = &row.message {
            line.push_str(": ");
            line.push_str(message);
        }
        let _ = writeln!(self.out, "{line}");
    }

    fn outcome(&self, outcome: JobOutcome) -> String {
        let color = match outcome {
            JobOutcome::Complete => GREEN,
            JobOutcome::Failed => RED,
            JobOutcome::Skipped => YELLOW,
        };
        self.paint(color, outcome.as_str())
    }

    /// Prints the table of jobs, outcomes and durations.
    pub fn summary(&mut self, rows: &[JobRow]) {
        let width = rows.iter().map(|r| r.job.len()).max().unwrap_or(0);
        let width = width.max("job".len());
        let _ = writeln!(self.out);
        let _ =
            writeln!(self.out, "{:<width$}  {:<8}  duration", "job", "outcome");
        for row in rows {
            // Pad before painting, so escape codes do not count.
            let outcome = format!("{:<8}", row.outcome.as_str());
            let painted = self.paint(
                match row.outcome {
                    JobOutcome::Complete => GREEN,
                    JobOutcome::Failed => RED,
                    JobOutcome::Skipped => YELLOW,
                },
                &outcome,
            );
            let _ = writeln!(
                self.out,
                "{:<width$}  {painted}  {}",
                row.job,
                format_duration(row.duration)
            );
        }

        // Repeat why each job failed, which may have scrolled away.
        let failed: Vec<&JobRow> = rows
            .iter()
            .filter(|r| r.outcome == JobOutcome::Failed)
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(self.out);
        }
        for row in failed {
            let first = row
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .unwrap_or("");
            let label = self.paint(RED, "failed");
            let _ = writeln!(self.out, "{label} {}: {first}", row.job);
        }
        let _ = self.out.flush();
    }

    /// Prints `text` on a line of its own, such as the location of the
    /// logs.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
}

fn stream_index(stream: LogStream) -> usize {
    match stream {
        LogStream::Stdout => 0,
        LogStream::Stderr => 1,
    }
}

/// Prepares a line of output for a terminal after the job's prefix.
/// Only the text after the last carriage return is kept, as a terminal
/// would show it, because a progress display (`50%\r100%`) would
/// otherwise overwrite the prefix. Other control characters, except tab
/// and escape (colour codes), are shown as U+FFFD.
fn displayable(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let shown = match line.rfind('\r') {
        Some(i) => &line[i + 1..],
        None => line,
    };
    shown
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' && c != '\x1b' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// `0.42 s`, `12.3 s`, `2 min 5 s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.2} s")
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read after the terminal has
    /// taken ownership of it.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn echoing() -> (Terminal, Shared) {
        let shared = Shared::default();
        let terminal = Terminal {
            out: Box::new(shared.clone()),
            color: false,
            echo: true,
            pending: Default::default(),
        };
        (terminal, shared)
    }

    fn printed(shared: &Shared) -> String {
        String::from_utf8(shared.0.borrow().clone()).unwrap()
    }

    #[test]
    fn partial_pieces_printed_whole() {
        let (mut terminal, shared) = echoing();
        terminal.output_piece("build", LogStream::Stdout, true, b"token=");
        terminal.output_piece("build", LogStream::Stderr, false, b"warn");
        terminal.output_piece("build", LogStream::Stdout, false, b"x");
        terminal.output_piece("build", LogStream::Stdout, true, b"tail");
        assert_eq!(printed(&shared), "[build] ! warn\n[build] token=x\n");
        terminal.end_output("build");
        assert_eq!(
            printed(&shared),
            "[build] ! warn\n[build] token=x\n[build] tail\n"
        );
    }

    #[test]
    fn summary_repeats_failures() {
        let (mut terminal, shared) = echoing();
        let row = |job: &str, outcome, message: Option<&str>| JobRow {
            job: job.into(),
            outcome,
            duration: Duration::from_millis(10),
            message: message.map(str::to_string),
        };
        terminal.summary(&[
            row("build", JobOutcome::Complete, None),
            row(
                "lint",
                JobOutcome::Failed,
                Some(".quire/ci.fnl:6: lint failed\n  6 | (error x)"),
            ),
            row("docs", JobOutcome::Skipped, Some("skipped because ...")),
        ]);
        assert_eq!(
            printed(&shared),
            "\njob    outcome   duration\n\
             build  complete  0.01 s\n\
             lint   failed    0.01 s\n\
             docs   skipped   0.01 s\n\
             \n\
             failed lint: .quire/ci.fnl:6: lint failed\n"
        );
    }

    #[test]
    fn carriage_returns_keep_last_text() {
        assert_eq!(displayable("step 1\rstep 2\rdone"), "done");
        assert_eq!(displayable("windows line\r"), "windows line");
        assert_eq!(displayable("bell\x07 tab\t"), "bell\u{FFFD} tab\t");
        assert_eq!(displayable("\x1b[32mgreen\x1b[0m"), "\x1b[32mgreen\x1b[0m");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(420)), "0.42 s");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
    }
}
