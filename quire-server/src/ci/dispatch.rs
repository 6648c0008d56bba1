//! Handing one run to quire-ci: the run directory, the workspace, the
//! bootstrap file and the child process.
//!
//! The bootstrap file is created exclusively (`O_EXCL`) with mode 0600,
//! so no other file can be substituted for it and no other user can
//! read it. In the `api` transport its `secrets` map is empty and
//! quire-ci requests each value from the API. The token goes only into the
//! child's `QUIRE_CI_TOKEN` variable, never into argv, a file or a log.
//! quire-ci starts in its own process group so that superseding the
//! run can kill it and every command it started.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use quire_proto::{Bootstrap, RevealedString, SentryHandoff, TransportMode};
use tokio::process::{Child, Command};

use super::token::RunToken;
use super::workspace;
use crate::config::Config;
use crate::db::runs::Run;
use crate::paths::{DataDir, RunDir, create_private_dir};

/// The environment variable that carries the run's token.
pub const TOKEN_ENV: &str = "QUIRE_CI_TOKEN";

/// The server's environment variable whose value becomes quire-ci's
/// `QUIRE_LOG`. The server's own `QUIRE_LOG` and `RUST_LOG` are not
/// passed on, because quire-ci hands its environment to every job and
/// its log filter decides which warnings it shows.
pub const RUNNER_LOG_ENV: &str = "QUIRE_CI_LOG";

/// Settings for starting quire-ci.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// The `quire-ci` program.
    pub program: PathBuf,
    /// The base URL quire-ci uses for the API, such as
    /// `http://127.0.0.1:3000`.
    pub server_url: String,
}

/// A failure to hand a run to quire-ci. The text becomes the
/// run's failure reason, so it never contains a value.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("cannot prepare the run directory {path}: {reason}")]
    RunDir { path: String, reason: String },
    #[error("cannot check out the workspace: {0}")]
    Workspace(#[from] workspace::GitError),
    /// A declared secret could not be read; the text names it.
    #[error("{0}")]
    Secret(String),
    #[error("cannot write the bootstrap file {path}: {reason}")]
    Bootstrap { path: String, reason: String },
    #[error("cannot start quire-ci ({program}): {reason}")]
    Spawn { program: String, reason: String },
}

/// Builds the run's directory, workspace and bootstrap file. Blocking:
/// it runs `git archive` and writes files.
pub fn prepare(
    data: &DataDir,
    run: &Run,
    config: &Config,
) -> Result<RunDir, DispatchError> {
    let dir = data.run_dir(&run.repo, &run.id);
    create_private_dir(dir.root()).map_err(|e| DispatchError::RunDir {
        path: dir.root().display().to_string(),
        reason: e.to_string(),
    })?;
    let git_dir = data.repo(&run.repo);
    workspace::extract(&git_dir, &run.sha, &dir.workspace())?;
    let bootstrap = bootstrap(run, config, &git_dir)?;
    write_bootstrap(&dir.bootstrap(), &bootstrap)?;
    Ok(dir)
}

/// Builds the bootstrap document; in the filesystem transport it
/// carries every declared value.
fn bootstrap(
    run: &Run,
    config: &Config,
    git_dir: &Path,
) -> Result<Bootstrap, DispatchError> {
    let mut secrets = BTreeMap::new();
    if run.transport == TransportMode::Filesystem {
        for (name, source) in &config.secrets {
            secrets.insert(name.clone(), reveal(name, source)?);
        }
    }
    let sentry = match &config.sentry_dsn {
        Some(source) => Some(SentryHandoff {
            dsn: reveal("sentry dsn", source)?,
            trace_id: trace_id(),
        }),
        None => None,
    };
    Ok(Bootstrap {
        meta: run.push_meta(),
        git_dir: git_dir.display().to_string(),
        secrets,
        sentry,
    })
}

fn reveal(
    name: &str,
    source: &crate::config::DeclaredSecret,
) -> Result<RevealedString, DispatchError> {
    let value = source
        .reveal(name)
        .map_err(|e| DispatchError::Secret(e.to_string()))?;
    let text = std::str::from_utf8(value.expose()).map_err(|_| {
        DispatchError::Secret(format!(
            "secret {name}: the value is not UTF-8 text, which a \
             bootstrap file cannot carry; use the api transport"
        ))
    })?;
    Ok(RevealedString::new(text.to_string()))
}

/// Returns a random 128-bit trace id in hex, for the error-reporting handoff.
fn trace_id() -> String {
    let mut bytes = [0u8; 16];
    // A trace id is not a credential; on the unlikely failure of the
    // random source a time-based id still joins the reports.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the bootstrap file: created exclusively, mode 0600.
fn write_bootstrap(
    path: &Path,
    bootstrap: &Bootstrap,
) -> Result<(), DispatchError> {
    let fail = |e: std::io::Error| DispatchError::Bootstrap {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    let mut json = zeroize::Zeroizing::new(bootstrap.to_json());
    json.push('\n');
    // No fsync: the file lives for milliseconds, and after a crash
    // reconcile deletes it and fails the run anyway.
    file.write_all(json.as_bytes()).map_err(fail)?;
    Ok(())
}

/// Builds the arguments quire-ci is started with.
pub fn runner_args(
    run: &Run,
    dir: &RunDir,
    settings: &RunnerSettings,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--workspace".into(),
        dir.workspace().into(),
        "--bootstrap".into(),
        dir.bootstrap().into(),
        "--out-dir".into(),
        dir.root().into(),
        "--events".into(),
        dir.events().into(),
        "--run-id".into(),
        run.id.clone().into(),
        "--server-url".into(),
        settings.server_url.clone().into(),
    ];
    if run.transport == TransportMode::Api {
        args.push("--transport".into());
        args.push("api".into());
    }
    args
}

/// Starts quire-ci for a prepared run, in its own process group, with
/// its output going to `quire-ci.log`.
pub fn spawn(
    run: &Run,
    dir: &RunDir,
    settings: &RunnerSettings,
    token: &RunToken,
) -> Result<Child, DispatchError> {
    let spawn_err = |reason: String| DispatchError::Spawn {
        program: settings.program.display().to_string(),
        reason,
    };
    let log = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.runner_log())
        .map_err(|e| spawn_err(format!("cannot create quire-ci.log: {e}")))?;
    let log_err = log
        .try_clone()
        .map_err(|e| spawn_err(format!("cannot create quire-ci.log: {e}")))?;
    let token_hex = token.to_hex();
    let mut command = Command::new(&settings.program);
    command
        .env_remove("QUIRE_LOG")
        .env_remove("RUST_LOG")
        .env_remove(RUNNER_LOG_ENV);
    if let Some(filter) = std::env::var_os(RUNNER_LOG_ENV) {
        command.env("QUIRE_LOG", filter);
    }
    let child = command
        .args(runner_args(run, dir, settings))
        .env(TOKEN_ENV, token_hex.as_str())
        .current_dir(dir.root())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| spawn_err(e.to_string()))?;
    Ok(child)
}

/// Kills a quire-ci process group with SIGKILL.
pub fn kill_group(pgid: u32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid signals a process group; it
    // touches no memory of this process.
    let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(
                pgid,
                %error,
                "cannot kill quire-ci's process group",
            );
        }
    }
}
