//! The event stream `quire-ci` writes while a run executes: one JSON
//! object per line, each with `at_ms` and a `type`-tagged payload.
//!
//! The code that emits an event redacts its text first, so no event
//! carries a secret value.

use serde::{Deserialize, Serialize};

/// One event: when it happened and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The payload of an event, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A job's function is about to be called.
    JobStarted { job: String },
    /// A job ended. `message` explains a failure or a skip.
    JobFinished {
        job: String,
        outcome: JobOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// A job started its `n`th command (counting from 1). `cmd` is
    /// redacted by the emitter.
    ShStarted { job: String, n: u32, cmd: String },
    /// A command ended. `exit` is absent when a signal ended it, and
    /// `timed_out` is true when quire killed it for its timeout.
    ShFinished {
        job: String,
        n: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<i32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
    },
    /// A job read a secret for the first time. Never carries the value.
    SecretResolved {
        job: String,
        name: String,
        source: SecretSource,
        cached: bool,
    },
    /// The run ended; always the last event of a run that completed.
    RunFinished { outcome: RunOutcome },
}

/// Final state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// The job's function returned its outputs.
    Complete,
    /// The job raised an error or returned an invalid value.
    Failed,
    /// The job returned nil, or an input failed or was skipped.
    Skipped,
}

/// Final state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// No job failed.
    Success,
    /// At least one job failed.
    Failure,
}

/// Origin of a secret value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// Declared up front, through the bootstrap file or `--secrets`.
    Declared,
    /// Fetched from the server's secret API.
    Api,
}

impl JobOutcome {
    /// Returns the name used in events and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Complete => "complete",
            JobOutcome::Failed => "failed",
            JobOutcome::Skipped => "skipped",
        }
    }
}

impl RunOutcome {
    /// Returns the name used in events and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Success => "success",
            RunOutcome::Failure => "failure",
        }
    }
}

impl Event {
    /// Builds an event.
    pub fn new(at_ms: u64, kind: EventKind) -> Self {
        Self { at_ms, kind }
    }

    /// Serialises the event as one line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an event always serialises")
    }

    /// Parses one line of the event stream.
    pub fn from_line(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(kind: EventKind, json: &str) {
        let event = Event::new(1_733_324_878_123, kind);
        assert_eq!(event.to_line(), json);
        assert_eq!(Event::from_line(json).unwrap(), event);
    }

    #[test]
    fn job_events_exact_json() {
        round_trip(
            EventKind::JobStarted {
                job: "build".into(),
            },
            r#"{"at_ms":1733324878123,"type":"job_started","job":"build"}"#,
        );
        round_trip(
            EventKind::JobFinished {
                job: "build".into(),
                outcome: JobOutcome::Complete,
                message: None,
            },
            r#"{"at_ms":1733324878123,"type":"job_finished","job":"build","outcome":"complete"}"#,
        );
        round_trip(
            EventKind::JobFinished {
                job: "test".into(),
                outcome: JobOutcome::Failed,
                message: Some("boom".into()),
            },
            r#"{"at_ms":1733324878123,"type":"job_finished","job":"test","outcome":"failed","message":"boom"}"#,
        );
        round_trip(
            EventKind::JobFinished {
                job: "deploy".into(),
                outcome: JobOutcome::Skipped,
                message: None,
            },
            r#"{"at_ms":1733324878123,"type":"job_finished","job":"deploy","outcome":"skipped"}"#,
        );
    }

    #[test]
    fn sh_events_exact_json() {
        round_trip(
            EventKind::ShStarted {
                job: "build".into(),
                n: 1,
                cmd: "make {{ token }}".into(),
            },
            r#"{"at_ms":1733324878123,"type":"sh_started","job":"build","n":1,"cmd":"make {{ token }}"}"#,
        );
        round_trip(
            EventKind::ShFinished {
                job: "build".into(),
                n: 1,
                exit: Some(2),
                timed_out: false,
            },
            r#"{"at_ms":1733324878123,"type":"sh_finished","job":"build","n":1,"exit":2}"#,
        );
        round_trip(
            EventKind::ShFinished {
                job: "build".into(),
                n: 2,
                exit: None,
                timed_out: true,
            },
            r#"{"at_ms":1733324878123,"type":"sh_finished","job":"build","n":2,"timed_out":true}"#,
        );
    }

    #[test]
    fn secret_and_run_events_exact_json() {
        round_trip(
            EventKind::SecretResolved {
                job: "deploy".into(),
                name: "token".into(),
                source: SecretSource::Api,
                cached: false,
            },
            r#"{"at_ms":1733324878123,"type":"secret_resolved","job":"deploy","name":"token","source":"api","cached":false}"#,
        );
        round_trip(
            EventKind::SecretResolved {
                job: "deploy".into(),
                name: "token".into(),
                source: SecretSource::Declared,
                cached: true,
            },
            r#"{"at_ms":1733324878123,"type":"secret_resolved","job":"deploy","name":"token","source":"declared","cached":true}"#,
        );
        round_trip(
            EventKind::RunFinished {
                outcome: RunOutcome::Success,
            },
            r#"{"at_ms":1733324878123,"type":"run_finished","outcome":"success"}"#,
        );
        round_trip(
            EventKind::RunFinished {
                outcome: RunOutcome::Failure,
            },
            r#"{"at_ms":1733324878123,"type":"run_finished","outcome":"failure"}"#,
        );
    }

    #[test]
    fn bad_lines_rejected() {
        for bad in [
            r#"{"at_ms":1,"type":"job_exploded","job":"x"}"#,
            r#"{"at_ms":1,"type":"job_finished","job":"x","outcome":"ok"}"#,
            r#"{"type":"run_finished","outcome":"success"}"#,
            "not json",
        ] {
            assert!(Event::from_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outcome_words() {
        assert_eq!(JobOutcome::Skipped.as_str(), "skipped");
        assert_eq!(RunOutcome::Failure.as_str(), "failure");
    }
}
