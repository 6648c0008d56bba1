//! Running one command for a job's `(sh ...)`: spawning it, streaming
//! its output into its log, enforcing its timeout.
//!
//! Everything here is plain `std` and `poll(2)`, because it runs on
//! the Lua thread, which must never enter an async runtime. The calling
//! thread reads both output pipes itself (see `pump`), and a timeout
//! kills the command and every process it started (see `kill`).

mod kill;
pub mod log;
mod pump;

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::secret::Redactor;
pub use log::{Captured, CommandLog, Echo};
use pump::Expiry;

/// How much of each stream a `sh` result keeps by default, in bytes.
pub const DEFAULT_CAPTURE_LIMIT: usize = 1024 * 1024;

/// Environment variables that commands never inherit: the run's API
/// token must stay inside `quire-ci`.
pub const HIDDEN_ENV: &[&str] = &["QUIRE_CI_TOKEN"];

/// A program to run: a shell command line or an argument vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Run with `sh -c`.
    Shell(String),
    /// Run directly, without a shell; never empty.
    Argv(Vec<String>),
}

impl Program {
    /// Formats the command as one line of text, for events and results.
    /// An argument vector is shell-quoted where needed.
    pub fn display(&self) -> String {
        match self {
            Program::Shell(line) => line.clone(),
            Program::Argv(argv) => argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Quotes `word` for a POSIX shell unless it needs no quoting.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// One command with its options.
#[derive(Debug, Clone)]
pub struct ShRequest {
    pub program: Program,
    /// Variables set over the runner's environment; `None` removes one.
    pub env: Vec<(String, Option<String>)>,
    /// The working directory, already checked to be in the workspace.
    pub cwd: PathBuf,
    /// Bytes written to the command's standard input, which is empty
    /// otherwise.
    pub stdin: Option<Vec<u8>>,
    /// The command's own timeout.
    pub timeout: Option<Duration>,
    /// When the job's time runs out; the command is killed then too.
    pub job_deadline: Option<Instant>,
    /// Bytes of each stream kept in the result.
    pub capture_limit: usize,
}

/// The end of a command: exit status, timeouts and output.
#[derive(Debug)]
pub struct ShOutcome {
    /// The exit code; `None` when a signal ended the command.
    pub exit: Option<i32>,
    /// The signal that ended the command, if one did.
    pub signal: Option<i32>,
    /// True when the command's own timeout killed it.
    pub timed_out: bool,
    /// True when the job's deadline killed it.
    pub job_timed_out: bool,
    pub output: Captured,
}

/// A failure to run a command.
#[derive(Debug, thiserror::Error)]
pub enum ShError {
    #[error("cannot start {program:?}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("cannot write the command log {path}: {source}")]
    Log { path: String, source: io::Error },
    #[error("cannot wait for {program:?}: {source}")]
    Wait { program: String, source: io::Error },
}

/// Runs `request`, writing its output to `log_path` as CRI lines.
pub fn run(
    request: &ShRequest,
    log_path: &std::path::Path,
    redactor: &Arc<Redactor>,
    echo: Option<Echo<'_>>,
) -> Result<ShOutcome, ShError> {
    let log_error = |source| ShError::Log {
        path: log_path.display().to_string(),
        source,
    };
    let file = File::create(log_path).map_err(log_error)?;
    let mut log = CommandLog::new(file, redactor, request.capture_limit, echo);

    let mut child = spawn(request)?;
    if let (Some(stdin), Some(bytes)) = (child.stdin.take(), &request.stdin) {
        start_writer(stdin, bytes.clone());
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let killed = pump::pump(
        &mut child,
        stdout,
        stderr,
        &mut log,
        first_deadline(request),
    );
    let killed = match killed {
        Ok(killed) => killed,
        Err(source) => {
            kill::kill_tree(child.id());
            let _ = child.wait();
            return Err(log_error(source));
        }
    };
    let status = child.wait().map_err(|source| ShError::Wait {
        program: program_name(&request.program),
        source,
    })?;
    let output = log.finish().map_err(log_error)?;
    Ok(ShOutcome {
        exit: status.code(),
        signal: status.signal(),
        timed_out: killed == Some(Expiry::Command),
        job_timed_out: killed == Some(Expiry::Job),
        output,
    })
}

fn spawn(request: &ShRequest) -> Result<Child, ShError> {
    let mut command = match &request.program {
        Program::Shell(line) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(line);
            c
        }
        Program::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    command
        .current_dir(&request.cwd)
        .stdin(if request.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in HIDDEN_ENV {
        command.env_remove(name);
    }
    for (name, value) in &request.env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.spawn().map_err(|source| ShError::Spawn {
        program: program_name(&request.program),
        source,
    })
}

fn program_name(program: &Program) -> String {
    match program {
        Program::Shell(_) => "sh".into(),
        Program::Argv(argv) => argv[0].clone(),
    }
}

fn start_writer(mut stdin: ChildStdin, bytes: Vec<u8>) {
    thread::spawn(move || {
        // A command that exits without reading its input closes the
        // pipe; that is its choice, not an error.
        let _ = stdin.write_all(&bytes);
    });
}

/// Returns the earlier of the command's own deadline and the job's.
fn first_deadline(request: &ShRequest) -> Option<(Instant, Expiry)> {
    let own = request
        .timeout
        .map(|t| (Instant::now() + t, Expiry::Command));
    let job = request.job_deadline.map(|at| (at, Expiry::Job));
    match (own, job) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}
