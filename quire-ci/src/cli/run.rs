//! `quire-ci run`: flags and bootstrap on the main thread, the run on
//! the Lua thread.
//!
//! The main thread reads (and at once deletes) the bootstrap file,
//! builds the secret registry and starts the Lua thread, which owns the
//! Lua state for the whole run and does all process spawning and log
//! streaming with `std`. Nothing here enters an async runtime. In the
//! api transport the main thread also starts the secret-fetch thread,
//! which runs its own tokio runtime, and joins it after the Lua thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use quire_proto::{Bootstrap, RunOutcome, TransportMode};

use super::{EXIT_JOB_FAILED, EXIT_SUCCESS, EXIT_USAGE, RunArgs};
use crate::events::EventTarget;
use crate::run::push::{PushInfo, PushSource};
use crate::run::secrets_file::{self, SecretsFileError};
use crate::run::{self, RunError, RunOptions};
use crate::runtime::modules::QUIRE_DIR;
use crate::runtime::{PIPELINE_FILE, PipelineLoadError};
use crate::secret::{
    FetchStartError, RedactingMakeWriter, Redactor, SecretFetcher,
    SecretRegistry, SecretValue, start_fetcher,
};

/// The environment variable that carries the run's token in the api
/// transport.
pub const TOKEN_ENV: &str = "QUIRE_CI_TOKEN";

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
    #[error(
        "--transport api needs --{0}; the server passes it when it starts \
         quire-ci"
    )]
    MissingApiFlag(&'static str),
    #[error(
        "--transport api needs the run's token in the {TOKEN_ENV} \
         environment variable, which is {0}"
    )]
    MissingToken(&'static str),
    #[error(
        "--secrets is for local runs; with --transport api the values \
         come from the server, so drop --secrets"
    )]
    SecretsWithApi,
    #[error(transparent)]
    Fetcher(#[from] FetchStartError),
    #[error("--{flag} must be a positive number, got {value}")]
    NotPositive { flag: &'static str, value: String },
    #[error("cannot create a temporary log directory: {0}")]
    TempDir(std::io::Error),
    #[error("cannot use the workspace {path}: {source}")]
    Workspace {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "no pipeline at {path}; write one there, or point --workspace at \
         a directory that contains .quire/ci.fnl"
    )]
    MissingPipeline { path: String },
}

/// Runs a pipeline; returns the exit code.
pub fn run(args: RunArgs) -> u8 {
    // One redactor for the run, so quire-ci's own tracing output is
    // redacted with the same values as everything else.
    let redactor = Redactor::new();
    init_tracing(Some(&redactor));
    let (options, registry, fetcher) = match prepare(args, redactor) {
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
        Ok(handle) => {
            let result = handle.join();
            // The Lua thread's handle is gone; stop and join the fetcher.
            drop(fetcher);
            result
        }
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

/// Checks the flags, reads the bootstrap and builds the registry, and
/// in the api transport starts the secret-fetch thread.
fn prepare(
    args: RunArgs,
    redactor: Arc<Redactor>,
) -> Result<(RunOptions, SecretRegistry, Option<SecretFetcher>), RunSetupError>
{
    // The bootstrap is read, and so deleted, before any other check can
    // fail, because it may contain secret values.
    let bootstrap = match &args.bootstrap {
        Some(path) => Some(read_bootstrap(path)?),
        None => None,
    };

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
    let (registry, fetcher) =
        build_registry(&args, bootstrap.as_ref(), redactor)?;
    let push = match &bootstrap {
        Some(b) => PushSource::Known(PushInfo::from_meta(&b.meta, &b.git_dir)),
        None => PushSource::Checkout(args.workspace.clone()),
    };
    // Checked after the bootstrap was deleted, like every other input.
    check_workspace(&args.workspace)?;
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
    Ok((options, registry, fetcher))
}

/// Builds the run's secret registry from the bootstrap or `--secrets`,
/// or, in the api transport, over a new secret-fetch thread.
///
/// This is the one place that decides where secret values come from.
fn build_registry(
    args: &RunArgs,
    bootstrap: Option<&Bootstrap>,
    redactor: Arc<Redactor>,
) -> Result<(SecretRegistry, Option<SecretFetcher>), RunSetupError> {
    if args.transport == TransportMode::Api {
        let (registry, fetcher) = api_registry(args, bootstrap, redactor)?;
        return Ok((registry, Some(fetcher)));
    }

    // The server hands every run a token, whichever the transport. This
    // transport never uses it, but a command can still read it from
    // this process's initial environment, so it is redacted all the
    // same.
    if let Some(token) = std::env::var_os(TOKEN_ENV) {
        // SAFETY: as in `take_token`, no other thread exists yet.
        unsafe { std::env::remove_var(TOKEN_ENV) };
        let token = SecretValue::new(token.into_encoded_bytes());
        register_token(&redactor, &token);
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
    Ok((SecretRegistry::with_declared(declared, redactor), None))
}

/// Sets up the api transport: takes the token out of the environment,
/// registers it for redaction and starts the secret-fetch thread.
fn api_registry(
    args: &RunArgs,
    bootstrap: Option<&Bootstrap>,
    redactor: Arc<Redactor>,
) -> Result<(SecretRegistry, SecretFetcher), RunSetupError> {
    if args.secrets.is_some() {
        return Err(RunSetupError::SecretsWithApi);
    }
    let run_id = args
        .run_id
        .as_deref()
        .ok_or(RunSetupError::MissingApiFlag("run-id"))?;
    let server_url = args
        .server_url
        .as_deref()
        .ok_or(RunSetupError::MissingApiFlag("server-url"))?;
    let timeout = positive_seconds("secret-timeout", args.secret_timeout)?;
    let token = take_token()?;

    register_token(&redactor, &token);
    if let Some(b) = bootstrap
        && !b.secrets.is_empty()
    {
        tracing::warn!(
            count = b.secrets.len(),
            "the bootstrap file carries secret values, which the api \
             transport ignores; values are fetched from the server"
        );
    }

    let fetcher = start_fetcher(server_url, run_id, token, timeout)?;
    let registry = SecretRegistry::with_fetcher(fetcher.handle(), redactor);
    Ok((registry, fetcher))
}

/// Registers the run token for redaction: a command can still read it
/// from this process's initial environment in `/proc`, so no recorded
/// byte may carry it.
fn register_token(redactor: &Redactor, token: &SecretValue) {
    if !redactor.register(TOKEN_ENV, token.expose()) {
        tracing::warn!(
            "the run token in {TOKEN_ENV} is too short to be redacted"
        );
    }
}

/// Reads the run token and removes it from the environment, so that
/// commands run by `sh` do not inherit it.
fn take_token() -> Result<SecretValue, RunSetupError> {
    let token = std::env::var_os(TOKEN_ENV);
    // SAFETY: this runs on the main thread before the Lua and
    // secret-fetch threads start, and no other thread of this process
    // reads or writes the environment.
    unsafe { std::env::remove_var(TOKEN_ENV) };
    let token = token.ok_or(RunSetupError::MissingToken("not set"))?;
    let token = token
        .into_string()
        .map_err(|_| RunSetupError::MissingToken("not valid UTF-8"))?;
    if token.is_empty() {
        return Err(RunSetupError::MissingToken("empty"));
    }
    Ok(SecretValue::new(token.into_bytes()))
}

/// Converts a flag's seconds to a duration, rejecting zero, negative,
/// non-finite and too large values.
fn positive_seconds(
    flag: &'static str,
    secs: f64,
) -> Result<Duration, RunSetupError> {
    match Duration::try_from_secs_f64(secs) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(RunSetupError::NotPositive {
            flag,
            value: secs.to_string(),
        }),
    }
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

/// Checks that the workspace has a pipeline before anything is created
/// for the run, so a mistyped --workspace leaves no log directory.
fn check_workspace(workspace: &Path) -> Result<(), RunSetupError> {
    let resolved = workspace.canonicalize().map_err(|source| {
        RunSetupError::Workspace {
            path: workspace.display().to_string(),
            source,
        }
    })?;
    let pipeline = resolved.join(QUIRE_DIR).join(PIPELINE_FILE);
    if !pipeline.is_file() {
        return Err(RunSetupError::MissingPipeline {
            path: pipeline.display().to_string(),
        });
    }
    Ok(())
}

fn temp_out_dir() -> Result<PathBuf, RunSetupError> {
    tempfile::Builder::new()
        .prefix("quire-ci-")
        .tempdir()
        .map(|d| d.keep())
        .map_err(RunSetupError::TempDir)
}

/// Sends tracing output to standard error, filtered by `QUIRE_LOG`
/// (or `RUST_LOG`); only warnings and errors by default. With a
/// redactor, every line passes through it first.
pub fn init_tracing(redactor: Option<&Arc<Redactor>>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("QUIRE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    // quire-ci's stderr is usually the server's quire-ci.log, where
    // colour codes would only clutter the file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = match redactor {
        Some(redactor) => builder
            .with_writer(RedactingMakeWriter::new(
                std::io::stderr,
                Arc::clone(redactor),
            ))
            .try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
