//! Reading a run's `events.jsonl` into job and command rows.
//!
//! quire-ci appends one JSON event per line and flushes each. While it
//! runs, the server records each complete line as it appears, so
//! `quire ci show` follows the run; when it exits, the rest is read.
//! A last line cut short by a kill is skipped. The outcome comes from
//! the last `run_finished` event, and a run without one did not finish.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quire_proto::{Event, EventKind, JobOutcome, RunOutcome, SecretSource};

use crate::db::secret_access::AccessResult;
use crate::db::{Db, DbError, jobs};
use crate::paths::RunDir;

/// The end of a run, as its events record it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// The `run_finished` outcome, if quire-ci got that far.
    pub outcome: Option<RunOutcome>,
    /// Jobs that ended `failed`, in the order they ended.
    pub failed_jobs: Vec<String>,
    /// Lines that were not valid events.
    pub skipped_lines: usize,
}

fn timestamp(at_ms: u64) -> String {
    let at: SystemTime = UNIX_EPOCH + Duration::from_millis(at_ms);
    quire_proto::time::format_rfc3339_nanos(at)
}

/// Reads the events of `run_id` from `dir` and records them. A missing
/// events file means quire-ci recorded nothing.
pub fn ingest(db: &Db, run_id: &str, dir: &RunDir) -> Result<Summary, DbError> {
    Ingester::new(run_id, dir.clone()).finish(db)
}

/// Follows one run's events file, recording lines as they complete.
pub struct Ingester {
    run_id: String,
    dir: RunDir,
    /// Bytes of the file already recorded; always just after a newline.
    offset: u64,
    summary: Summary,
}

impl Ingester {
    pub fn new(run_id: &str, dir: RunDir) -> Self {
        Self {
            run_id: run_id.to_string(),
            dir,
            offset: 0,
            summary: Summary::default(),
        }
    }

    /// Records every complete line appended since the last call.
    pub fn poll(&mut self, db: &Db) -> Result<(), DbError> {
        let bytes = read_from(&self.dir.events(), self.offset);
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&bytes[..=end]);
        record(db, &self.run_id, &self.dir, &text, &mut self.summary)?;
        self.offset += end as u64 + 1;
        Ok(())
    }

    /// Records the rest of the file, once quire-ci has exited, and
    /// returns how the run ended.
    pub fn finish(mut self, db: &Db) -> Result<Summary, DbError> {
        self.poll(db)?;
        let rest = read_from(&self.dir.events(), self.offset);
        let text = String::from_utf8_lossy(&rest);
        record(db, &self.run_id, &self.dir, &text, &mut self.summary)?;
        if self.summary.skipped_lines > 0 {
            tracing::warn!(
                run_id = self.run_id,
                lines = self.summary.skipped_lines,
                "skipped malformed lines in the events file"
            );
        }
        Ok(self.summary)
    }
}

/// Records the events in `text`, a run of whole lines.
fn record(
    db: &Db,
    run_id: &str,
    dir: &RunDir,
    text: &str,
    summary: &mut Summary,
) -> Result<(), DbError> {
    let mut secret_events = Vec::new();

    let mut conn = db.conn();
    let tx = conn.transaction()?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(event) = Event::from_line(line) else {
            summary.skipped_lines += 1;
            continue;
        };
        let at = timestamp(event.at_ms);
        match event.kind {
            EventKind::JobStarted { job } => {
                jobs::job_started(&tx, run_id, &job, &at)?;
            }
            EventKind::JobFinished {
                job,
                outcome,
                message,
            } => {
                jobs::job_finished(
                    &tx,
                    run_id,
                    &job,
                    outcome.as_str(),
                    message.as_deref(),
                    &at,
                )?;
                if outcome == JobOutcome::Failed {
                    summary.failed_jobs.push(job);
                }
            }
            EventKind::ShStarted { job, n, cmd } => {
                let log = dir.sh_log(&job, n).display().to_string();
                jobs::sh_started(&tx, run_id, &job, n, &cmd, &at, &log)?;
            }
            EventKind::ShFinished {
                job,
                n,
                exit,
                timed_out,
            } => {
                let log = dir.sh_log(&job, n).display().to_string();
                jobs::sh_finished(
                    &tx, run_id, &job, n, exit, timed_out, &at, &log,
                )?;
            }
            EventKind::SecretResolved {
                job,
                name,
                source,
                cached,
            } => {
                if !cached {
                    secret_events.push((job, name, source));
                }
            }
            EventKind::RunFinished { outcome } => {
                summary.outcome = Some(outcome);
            }
        }
    }
    tx.commit()?;
    drop(conn);

    for (job, name, source) in secret_events {
        match source {
            // The API already recorded the request; name its job.
            SecretSource::Api => {
                db.attribute_secret_access(run_id, &name, &job)?;
            }
            SecretSource::Declared => db.record_secret_access(
                run_id,
                Some(&job),
                &name,
                AccessResult::Bootstrap,
            )?,
        }
    }
    Ok(())
}

/// Reads `path` from byte `offset` to its end; a missing file reads as
/// empty.
fn read_from(path: &Path, offset: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::Start(offset))?;
        file.read_to_end(&mut bytes)
    });
    match read {
        Ok(_) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => {
            tracing::warn!(
                path = %path.display(),
                %error,
                "cannot read events",
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use quire_proto::{PushMeta, TransportMode};

    use super::*;
    use crate::paths::DataDir;

    fn setup() -> (tempfile::TempDir, Db, RunDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("quire.db")).unwrap();
        let push = PushMeta::new(
            "0123456789abcdef0123456789abcdef01234567".into(),
            "refs/heads/main".into(),
            "2026-12-04T15:07:58Z".into(),
            None,
            "w".into(),
        )
        .unwrap();
        db.insert_run("r1", &push, TransportMode::Api, &[0; 32])
            .unwrap();
        let run_dir = DataDir::new(dir.path()).run_dir("w", "r1");
        std::fs::create_dir_all(run_dir.root()).unwrap();
        (dir, db, run_dir)
    }

    fn write_events(dir: &RunDir, events: &[EventKind], tail: &str) {
        let mut text = String::new();
        for (i, kind) in events.iter().enumerate() {
            text.push_str(
                &Event::new(1_000 + i as u64, kind.clone()).to_line(),
            );
            text.push('\n');
        }
        text.push_str(tail);
        std::fs::write(dir.events(), text).unwrap();
    }

    #[test]
    fn events_become_rows() {
        let (_tmp, db, dir) = setup();
        db.record_secret_access("r1", None, "token", AccessResult::Granted)
            .unwrap();
        write_events(
            &dir,
            &[
                EventKind::JobStarted {
                    job: "build".into(),
                },
                EventKind::ShStarted {
                    job: "build".into(),
                    n: 1,
                    cmd: "make {{ token }}".into(),
                },
                EventKind::SecretResolved {
                    job: "build".into(),
                    name: "token".into(),
                    source: SecretSource::Api,
                    cached: false,
                },
                EventKind::ShFinished {
                    job: "build".into(),
                    n: 1,
                    exit: Some(2),
                    timed_out: false,
                },
                EventKind::JobFinished {
                    job: "build".into(),
                    outcome: JobOutcome::Failed,
                    message: Some("exit 2".into()),
                },
                EventKind::RunFinished {
                    outcome: RunOutcome::Failure,
                },
            ],
            "",
        );
        let summary = ingest(&db, "r1", &dir).unwrap();
        assert_eq!(summary.outcome, Some(RunOutcome::Failure));
        assert_eq!(summary.failed_jobs, ["build"]);
        let jobs = db.jobs("r1").unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].outcome.as_deref(), Some("failed"));
        assert_eq!(jobs[0].message.as_deref(), Some("exit 2"));
        let sh = db.sh_commands("r1").unwrap();
        assert_eq!(sh.len(), 1);
        assert_eq!(sh[0].cmd, "make {{ token }}");
        assert_eq!(sh[0].exit_code, Some(2));
        assert!(sh[0].log_path.ends_with("runs/w/r1/jobs/build/sh-1.log"));
        let accesses = db.secret_accesses("r1").unwrap();
        assert_eq!(accesses.len(), 1);
        assert_eq!(accesses[0].job.as_deref(), Some("build"));
    }

    #[test]
    fn missing_run_finished_and_cut_line() {
        let (_tmp, db, dir) = setup();
        write_events(
            &dir,
            &[EventKind::JobStarted { job: "slow".into() }],
            r#"{"at_ms":5,"type":"job_fin"#,
        );
        let summary = ingest(&db, "r1", &dir).unwrap();
        assert_eq!(summary.outcome, None);
        assert_eq!(summary.skipped_lines, 1);
        assert_eq!(db.jobs("r1").unwrap()[0].outcome, None);
    }

    #[test]
    fn lines_recorded_as_they_complete() {
        let (_tmp, db, dir) = setup();
        let started = Event::new(1, EventKind::JobStarted { job: "a".into() });
        let finished = Event::new(
            2,
            EventKind::RunFinished {
                outcome: RunOutcome::Success,
            },
        );
        let line = started.to_line();
        let (head, tail) = line.split_at(10);
        std::fs::write(dir.events(), format!("{line}\n{head}")).unwrap();

        let mut ingester = Ingester::new("r1", dir.clone());
        ingester.poll(&db).unwrap();
        assert_eq!(db.jobs("r1").unwrap().len(), 1);
        // The cut line waits until it is complete.
        ingester.poll(&db).unwrap();
        assert_eq!(ingester.summary.skipped_lines, 0);

        let rest = format!("{tail}\n{}", finished.to_line());
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.events())
            .unwrap();
        std::io::Write::write_all(&mut file, rest.as_bytes()).unwrap();
        let summary = ingester.finish(&db).unwrap();
        assert_eq!(summary.outcome, Some(RunOutcome::Success));
        assert_eq!(summary.skipped_lines, 0);
        assert_eq!(db.jobs("r1").unwrap().len(), 1);
    }

    #[test]
    fn no_events_file() {
        let (_tmp, db, dir) = setup();
        let summary = ingest(&db, "r1", &dir).unwrap();
        assert_eq!(summary, Summary::default());
    }

    #[test]
    fn declared_secret_recorded_once() {
        let (_tmp, db, dir) = setup();
        let resolved = |cached| EventKind::SecretResolved {
            job: "deploy".into(),
            name: "key".into(),
            source: SecretSource::Declared,
            cached,
        };
        write_events(&dir, &[resolved(false), resolved(true)], "");
        ingest(&db, "r1", &dir).unwrap();
        let rows = db.secret_accesses("r1").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].result, "bootstrap");
    }
}
