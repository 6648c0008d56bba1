//! Run outcome: the final state and failure reason a run gets once
//! its quire-ci process has exited.
//!
//! The events quire-ci wrote decide the state when they include
//! `run_finished`. Without it the reason comes from the exit status,
//! or, for a pipeline that failed to load, from the first `error: `
//! line of quire-ci.log, because that line names file:line:col.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use quire_proto::RunOutcome;

use crate::db::runs::RunState;
use crate::paths::RunDir;

use super::ingest;

/// The failure reason of a run whose quire-ci ended without a
/// `run_finished` event; how quire-ci ended follows in brackets.
pub const REASON_UNFINISHED: &str = "runner exited without finishing";
/// quire-ci's exit code for a pipeline that could not be loaded, such
/// as a compile error in `.quire/ci.fnl`.
const EXIT_PIPELINE_ERROR: i32 = 2;
/// The maximum length in bytes of a failure reason taken from
/// quire-ci.log.
const MAX_LOGGED_REASON: usize = 500;
/// How much of quire-ci.log is searched for its first error line.
const MAX_LOG_SCAN: u64 = 1024 * 1024;

/// The outcome of a run whose quire-ci has exited: its events, exit
/// status and directory.
pub(super) struct Ended {
    pub(super) summary: ingest::Summary,
    /// quire-ci's exit status, when waiting for it succeeded.
    pub(super) status: Option<ExitStatus>,
    pub(super) dir: RunDir,
}

/// Returns the state a run ends in, from its events and quire-ci's
/// exit status.
pub(super) fn final_state(ended: &Ended) -> (RunState, Option<String>) {
    let summary = &ended.summary;
    match summary.outcome {
        Some(RunOutcome::Success) => (RunState::Complete, None),
        Some(RunOutcome::Failure) => {
            let reason = if summary.failed_jobs.is_empty() {
                "the pipeline failed".to_string()
            } else {
                format!("failed jobs: {}", summary.failed_jobs.join(", "))
            };
            (RunState::Failed, Some(reason))
        }
        None => (RunState::Failed, Some(unfinished_reason(ended))),
    }
}

/// Returns the failure reason of a run whose quire-ci exited without a
/// `run_finished` event, saying how it exited.
fn unfinished_reason(ended: &Ended) -> String {
    // When a pipeline fails to compile or register, the error line
    // names file:line:col, which is more useful than the exit status.
    // quire-ci has already redacted the line.
    if ended.status.and_then(|s| s.code()) == Some(EXIT_PIPELINE_ERROR)
        && let Some(line) = first_error_line(&ended.dir.runner_log())
    {
        return line;
    }
    match ended.status {
        Some(status) => {
            format!("{REASON_UNFINISHED} ({})", describe_exit(status))
        }
        None => REASON_UNFINISHED.into(),
    }
}

/// Returns the first `error: ` line of quire-ci's log without that
/// prefix, cut to [`MAX_LOGGED_REASON`] bytes.
fn first_error_line(log: &std::path::Path) -> Option<String> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(log).ok()?;
    let reader = std::io::BufReader::new(file.take(MAX_LOG_SCAN));
    for line in reader.split(b'\n') {
        let line = line.ok()?;
        let line = String::from_utf8_lossy(&line);
        let Some(message) = line.trim_end().strip_prefix("error: ") else {
            continue;
        };
        let message = message.trim();
        if message.is_empty() {
            continue;
        }
        return Some(truncate(message, MAX_LOGGED_REASON));
    }
    None
}

/// Cuts `text` to at most `max` bytes at a character boundary, marking
/// a cut with "...".
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Describes an exit status as "exit code N" or "killed by signal N".
fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_cut() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("quire-ci.log");
        let long = "x".repeat(2000);
        std::fs::write(
            &log,
            format!("WARN something\nerror: ci.fnl:1:2: {long}\nerror: b\n"),
        )
        .unwrap();
        let line = first_error_line(&log).unwrap();
        assert!(line.starts_with("ci.fnl:1:2: xxx"), "{line}");
        assert!(line.ends_with("..."), "{line}");
        assert_eq!(line.len(), MAX_LOGGED_REASON);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn first_error_line_absent() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("quire-ci.log");
        std::fs::write(&log, "WARN only a warning\n").unwrap();
        assert_eq!(first_error_line(&log), None);
        assert_eq!(first_error_line(&dir.path().join("missing")), None);
    }
}
