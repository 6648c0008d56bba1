//! `quire-ci run`: flags and bootstrap on the main thread, the run on
//! the Lua thread.
//!
//! The main thread reads (and at once deletes) the bootstrap file,
//! builds the secret registry and starts the Lua thread, which owns the
//! Lua state for the whole run and does all process spawning and log
//! streaming with `std`. Nothing here enters an async runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use quire_proto::{Bootstrap, RunOutcome, TransportMode};

use super::{EXIT_JOB_FAILED, EXIT_SUCCESS, EXIT_USAGE, RunArgs};
use crate::events::EventTarget;
use crate::run::push::{PushInfo, PushSource};
use crate::run::secrets_file::{self, SecretsFileError};
use crate::run::{self, RunError, RunOptions};
use crate::runtime::PipelineLoadError;
use crate::secret::{Redactor, SecretRegistry, SecretValue};

/// Stack size of the Lua thread. Deep pipelines recurse through Lua
/// and Rust callbacks, so it is larger than a thread's default.
const LUA_THREAD_STACK: usize = 16 << 20;

/// A problem with the flags or the files they name.
#[derive(Debug, thiserror::Error)]
pub enum RunSetupError {
    #[error("cannot read the bootstrap file {path}: {source}")]
    ReadBootstrap {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid bootstrap file {path}: {reason}")]
    InvalidBootstrap { path: String, reason: String },
    #[error(transparent)]
    SecretsFile(#[from] SecretsFileError),
    #[error(
        "--secrets is for local runs; with --bootstrap the secrets come \
         from the bootstrap file, so drop one of the two"
    )]
    SecretsWithBootstrap,
    #[error("the api transport is not available in this build of quire-ci")]
    ApiTransport,
    #[error("--{flag} must be a positive number, got {value}")]
    NotPositive { flag: &'static str, value: String },
    #[error("cannot create a temporary log directory: {0}")]
    TempDir(std::io::Error),
}

/// Runs a pipeline; returns the exit code.
pub fn run(args: RunArgs) -> u8 {
    init_tracing();
    let (options, registry) = match prepare(args) {
        Ok(prepared) => prepared,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let lua_thread = thread::Builder::new()
        .name("lua".into())
        .stack_size(LUA_THREAD_STACK)
        .spawn(move || run::execute(options, registry));
    let result = match lua_thread {
        Ok(handle) => handle.join(),
        Err(e) => {
            eprintln!("error: cannot start the Lua thread: {e}");
            return EXIT_USAGE;
        }
    };
    match result {
        Ok(Ok(report)) => match report.outcome {
            RunOutcome::Success => EXIT_SUCCESS,
            RunOutcome::Failure => EXIT_JOB_FAILED,
        },
        Ok(Err(e)) => {
            print_run_error(&e);
            EXIT_USAGE
        }
        Err(_) => {
            eprintln!("error: the Lua thread panicked; the run is incomplete");
            EXIT_JOB_FAILED
        }
    }
}

/// Prints a run that could not start, one error per line.
pub fn print_run_error(error: &RunError) {
    match error {
        RunError::Pipeline(PipelineLoadError::Invalid(errors)) => {
            for e in errors {
                eprintln!("error: {e}");
            }
        }
        other => eprintln!("error: {other}"),
    }
}

/// Checks the flags, reads the bootstrap and builds the registry.
fn prepare(
    args: RunArgs,
) -> Result<(RunOptions, SecretRegistry), RunSetupError> {
    if args.memory_limit_mib == 0 {
        return Err(RunSetupError::NotPositive {
            flag: "memory-limit-mib",
            value: "0".into(),
        });
    }
    let job_timeout = match args.job_timeout {
        None => None,
        Some(secs) if secs > 0.0 && secs.is_finite() => {
            Some(Duration::from_secs_f64(secs))
        }
        Some(secs) => {
            return Err(RunSetupError::NotPositive {
                flag: "job-timeout",
                value: secs.to_string(),
            });
        }
    };
    let bootstrap = match &args.bootstrap {
        Some(path) => Some(read_bootstrap(path)?),
        None => None,
    };
    let registry = build_registry(&args, bootstrap.as_ref())?;
    let push = match &bootstrap {
        Some(b) => PushSource::Known(PushInfo::from_meta(&b.meta, &b.git_dir)),
        None => PushSource::Checkout(args.workspace.clone()),
    };
    let events = EventTarget::parse(&args.events);
    let out_dir = match args.out_dir {
        Some(dir) => dir,
        None => {
            let dir = temp_out_dir()?;
            // Standard output may carry the events, one JSON per line.
            if events == EventTarget::Stdout {
                eprintln!("logs: {}", dir.display());
            } else {
                println!("logs: {}", dir.display());
            }
            dir
        }
    };
    let options = RunOptions {
        workspace: args.workspace,
        out_dir,
        events,
        memory_limit_mib: args.memory_limit_mib,
        job_timeout,
        echo: args.echo,
        progress: true,
        push,
    };
    Ok((options, registry))
}

/// Builds the run's secret registry from the bootstrap or `--secrets`.
///
/// This is the one place that decides where secret values come from.
fn build_registry(
    args: &RunArgs,
    bootstrap: Option<&Bootstrap>,
) -> Result<SecretRegistry, RunSetupError> {
    if args.transport == TransportMode::Api {
        return Err(RunSetupError::ApiTransport);
    }
    let declared: BTreeMap<String, SecretValue> =
        match (bootstrap, &args.secrets) {
            (Some(_), Some(_)) => {
                return Err(RunSetupError::SecretsWithBootstrap);
            }
            (Some(b), None) => b
                .secrets
                .iter()
                .map(|(name, value)| {
                    let bytes = value.expose().as_bytes().to_vec();
                    (name.clone(), SecretValue::new(bytes))
                })
                .collect(),
            (None, Some(path)) => secrets_file::read(path)?,
            (None, None) => BTreeMap::new(),
        };
    Ok(SecretRegistry::with_declared(declared, Redactor::new()))
}

/// Reads the bootstrap file and deletes it at once, so the secret
/// values it contains stay on disk as briefly as possible.
fn read_bootstrap(path: &Path) -> Result<Bootstrap, RunSetupError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| {
        RunSetupError::ReadBootstrap {
            path: shown.clone(),
            source,
        }
    })?;
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %shown, error = %e,
            "cannot delete the bootstrap file; delete it by hand, it holds \
             secret values");
        eprintln!(
            "warning: cannot delete the bootstrap file {shown}: {e}; \
             delete it by hand, it holds secret values"
        );
    }
    Bootstrap::from_json(&text).map_err(|e| RunSetupError::InvalidBootstrap {
        path: shown,
        reason: describe_json_error(&e),
    })
}

/// Describes a JSON error without any text from the document, which
/// may quote a secret value. Errors about field names are kept whole.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let names_a_field = ["unknown field", "missing field", "duplicate field"]
        .iter()
        .any(|prefix| text.starts_with(prefix));
    if names_a_field {
        return text;
    }
    let kind = match e.classify() {
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Eof => "the document ends early",
        serde_json::error::Category::Data => {
            "a value does not match the bootstrap format"
        }
        serde_json::error::Category::Io => "read error",
    };
    format!("{kind} at line {}, column {}", e.line(), e.column())
}

fn temp_out_dir() -> Result<PathBuf, RunSetupError> {
    tempfile::Builder::new()
        .prefix("quire-ci-")
        .tempdir()
        .map(|d| d.keep())
        .map_err(RunSetupError::TempDir)
}

/// Sends tracing output to standard error, filtered by `QUIRE_LOG`
/// (or `RUST_LOG`); only warnings and errors by default.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("QUIRE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
