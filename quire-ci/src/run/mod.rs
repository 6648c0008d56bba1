//! Executing a run: loading the pipeline, running its jobs in order,
//! skipping the dependents of failed and skipped jobs, and recording
//! events, logs and outputs.
//!
//! Everything here runs on the Lua thread. A job is skipped without
//! being called when one of its direct inputs failed or was skipped,
//! so a failure skips every transitive dependent, while jobs that do
//! not depend on it still run.

pub mod push;
pub mod secrets_file;
pub mod terminal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use quire_proto::{EventKind, JobOutcome, RunOutcome};

use crate::events::{EventError, EventSink, EventTarget};
use crate::runtime::job_table::{JobScope, RunShared};
use crate::runtime::value::redact;
use crate::runtime::{JobResult, Pipeline, PipelineLoadError, Runtime};
use crate::secret::SecretRegistry;
use push::PushSource;
use terminal::{EchoMode, JobRow, Terminal};

/// Everything a run needs besides its secrets.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The workspace directory, containing `.quire/ci.fnl`.
    pub workspace: PathBuf,
    /// The directory for `jobs/<job>/` logs and outputs.
    pub out_dir: PathBuf,
    pub events: EventTarget,
    pub memory_limit_mib: usize,
    pub job_timeout: Option<Duration>,
    pub echo: EchoMode,
    /// Print progress and the closing table.
    pub progress: bool,
    pub push: PushSource,
}

/// A failure that stops a run before its first job.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Pipeline(#[from] PipelineLoadError),
    #[error(transparent)]
    Events(#[from] EventError),
    #[error("cannot use the workspace {path}: {source}")]
    Workspace {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the log directory {path}: {source}")]
    OutDir {
        path: String,
        source: std::io::Error,
    },
}

/// The outcome of a run and of each job.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub outcome: RunOutcome,
    /// One row per job, in execution order.
    pub jobs: Vec<JobRow>,
}

/// Runs the pipeline in `options.workspace`.
pub fn execute(
    options: RunOptions,
    registry: SecretRegistry,
) -> Result<RunReport, RunError> {
    let workspace = options.workspace.canonicalize().map_err(|source| {
        RunError::Workspace {
            path: options.workspace.display().to_string(),
            source,
        }
    })?;
    let runtime = Runtime::new(&workspace, options.memory_limit_mib)?;
    let pipeline = runtime.load_pipeline()?;
    let options = RunOptions {
        workspace,
        ..options
    };
    run_loaded(&runtime, &pipeline, &options, registry)
}

/// Runs an already loaded pipeline. `options.workspace` must be the
/// workspace with its links resolved, as `Runtime::new` was given.
pub fn run_loaded(
    runtime: &Runtime,
    pipeline: &Pipeline,
    options: &RunOptions,
    registry: SecretRegistry,
) -> Result<RunReport, RunError> {
    std::fs::create_dir_all(options.out_dir.join("jobs")).map_err(
        |source| RunError::OutDir {
            path: options.out_dir.display().to_string(),
            source,
        },
    )?;
    let events = EventSink::open(&options.events)?;
    let terminal = if options.progress {
        Terminal::new(options.events == EventTarget::Stdout, options.echo)
    } else {
        Terminal::silent()
    };
    let shared = Rc::new(RunShared::new(
        options.workspace.clone(),
        options.out_dir.clone(),
        events,
        registry,
        terminal,
        options.push.clone(),
        pipeline.spec.jobs.iter().map(|j| j.id.clone()).collect(),
        options.memory_limit_mib,
    ));
    Ok(run_jobs(runtime, pipeline, &shared, options))
}

/// Runs a loaded pipeline's jobs in order and emits `run_finished`.
pub fn run_jobs(
    runtime: &Runtime,
    pipeline: &Pipeline,
    shared: &Rc<RunShared>,
    options: &RunOptions,
) -> RunReport {
    let spec = &pipeline.spec;
    let mut outcomes: HashMap<String, JobOutcome> = HashMap::new();
    let mut rows = Vec::new();

    for &index in &spec.graph.order {
        let job = &spec.jobs[index];
        clear_job_records(&shared.job_dir(&job.id));
        let blocked = job.inputs.iter().find_map(|input| {
            match outcomes.get(input.as_str()) {
                Some(JobOutcome::Failed) => Some((input, "failed")),
                Some(JobOutcome::Skipped) => Some((input, "was skipped")),
                _ => None,
            }
        });
        let row = match blocked {
            Some((input, why)) => {
                let message = format!("skipped because input {input:?} {why}");
                shared.emit(EventKind::JobFinished {
                    job: job.id.clone(),
                    outcome: JobOutcome::Skipped,
                    message: Some(message.clone()),
                });
                JobRow {
                    job: job.id.clone(),
                    outcome: JobOutcome::Skipped,
                    duration: Duration::ZERO,
                    message: Some(message),
                }
            }
            None => run_job(runtime, pipeline, index, shared, options),
        };
        shared.terminal.borrow_mut().job_finished(&row);
        outcomes.insert(job.id.clone(), row.outcome);
        rows.push(row);
    }

    let outcome = if rows.iter().any(|r| r.outcome == JobOutcome::Failed) {
        RunOutcome::Failure
    } else {
        RunOutcome::Success
    };
    shared.emit(EventKind::RunFinished { outcome });
    shared.terminal.borrow_mut().summary(&rows);
    RunReport {
        outcome,
        jobs: rows,
    }
}

/// Removes what an earlier run into the same `--out-dir` recorded for
/// a job, so its logs and outputs are not mistaken for this run's.
/// Only the files a run writes are removed, because the directory may
/// be the author's own.
fn clear_job_records(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let command_log = name
            .strip_prefix("sh-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
            });
        let recorded =
            command_log || name == "job.log" || name == "outputs.json";
        if recorded && let Err(e) = std::fs::remove_file(entry.path()) {
            tracing::warn!(path = %entry.path().display(), error = %e,
                "cannot remove a log of an earlier run");
        }
    }
}

fn run_job(
    runtime: &Runtime,
    pipeline: &Pipeline,
    index: usize,
    shared: &Rc<RunShared>,
    options: &RunOptions,
) -> JobRow {
    let spec = &pipeline.spec;
    let id = spec.jobs[index].id.clone();
    let started = Instant::now();
    let span = tracing::info_span!("job", job = %id);
    let _guard = span.enter();

    shared.terminal.borrow_mut().job_started(&id);
    shared.emit(EventKind::JobStarted { job: id.clone() });
    let dir = shared.job_dir(&id);
    let result = match std::fs::create_dir_all(&dir) {
        Ok(()) => {
            let scope = Rc::new(JobScope::new(
                id.clone(),
                spec.graph.upstream[index].clone(),
                options.job_timeout,
                Rc::clone(shared),
            ));
            runtime.call_job(pipeline, index, &scope)
        }
        Err(e) => JobResult::Failed(format!(
            "cannot create the job's log directory {}: {e}",
            dir.display()
        )),
    };

    let (outcome, message) = match result {
        JobResult::Outputs(outputs) => {
            let recorded = redact(&outputs, &|s| shared.redact(s));
            let path = dir.join("outputs.json");
            let text = serde_json::to_string_pretty(&recorded)
                .expect("JSON values always serialise");
            if let Err(e) = std::fs::write(&path, text + "\n") {
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot record the job's outputs");
            }
            shared.outputs.borrow_mut().insert(id.clone(), outputs);
            (JobOutcome::Complete, None)
        }
        JobResult::Skipped => (
            JobOutcome::Skipped,
            Some("the job's function returned nil".to_string()),
        ),
        JobResult::Failed(message) => {
            (JobOutcome::Failed, Some(shared.redact(&message)))
        }
    };
    shared.emit(EventKind::JobFinished {
        job: id.clone(),
        outcome,
        message: message.clone(),
    });
    JobRow {
        job: id,
        outcome,
        duration: started.elapsed(),
        message,
    }
}
