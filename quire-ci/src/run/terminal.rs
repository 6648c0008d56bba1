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

/// The progress output and its settings.
pub struct Terminal {
    out: Box<dyn Write>,
    color: bool,
    echo: bool,
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
        }
    }

    /// Creates a terminal that prints nothing.
    pub fn silent() -> Self {
        Self {
            out: Box::new(io::sink()),
            color: false,
            echo: false,
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
        let text = String::from_utf8_lossy(line);
        let _ = writeln!(self.out, "{prefix} {marker}{text}");
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
        let _ = self.out.flush();
    }

    /// A line of its own, such as where the logs are.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
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

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(420)), "0.42 s");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
    }
}
