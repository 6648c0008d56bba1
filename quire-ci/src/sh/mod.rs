//! Running one command for a job's `(sh ...)`: spawning it, streaming
//! its output into its log, enforcing its timeout.
//!
//! Everything here is plain `std`, because it runs on the Lua thread,
//! which must never enter an async runtime. Each output pipe gets a
//! reader thread that sends chunks over a bounded channel. The calling
//! thread receives them in arrival order and writes the log. The bound
//! on the channel makes a fast writer wait for the log instead of
//! filling memory. A command runs in its own process group, so a
//! timeout kills the whole tree it started.

pub mod log;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use quire_proto::LogStream;

use crate::secret::Redactor;
pub use log::{Captured, CommandLog, Echo};

/// How much of each stream a `sh` result keeps by default, in bytes.
pub const DEFAULT_CAPTURE_LIMIT: usize = 1024 * 1024;

/// The size of one read from a command's pipe.
const CHUNK: usize = 64 * 1024;

/// Chunks in flight between the reader threads and the log writer.
const CHANNEL_DEPTH: usize = 8;

/// How long output is still read after the command exited or was
/// killed. A background process it started can keep a pipe open
/// forever, and the job must not hang on it.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How often a quiet command is checked for having exited.
const EXIT_POLL: Duration = Duration::from_millis(100);

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

enum Message {
    Data(LogStream, SystemTime, Vec<u8>),
    Closed(LogStream),
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
    let (sender, receiver) = mpsc::sync_channel(CHANNEL_DEPTH);
    if let Some(out) = child.stdout.take() {
        start_reader(out, LogStream::Stdout, sender.clone());
    }
    if let Some(err) = child.stderr.take() {
        start_reader(err, LogStream::Stderr, sender);
    }
    if let (Some(stdin), Some(bytes)) = (child.stdin.take(), &request.stdin) {
        start_writer(stdin, bytes.clone());
    }

    let deadline = Deadline::new(request);
    let killed =
        pump(&receiver, &mut log, &mut child, &deadline).map_err(log_error)?;
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
        .stderr(Stdio::piped())
        .process_group(0);
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

fn start_reader(
    mut pipe: impl Read + Send + 'static,
    stream: LogStream,
    sender: SyncSender<Message>,
) {
    thread::spawn(move || {
        loop {
            let mut buf = vec![0; CHUNK];
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    let at = SystemTime::now();
                    if sender.send(Message::Data(stream, at, buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = sender.send(Message::Closed(stream));
    });
}

fn start_writer(mut stdin: ChildStdin, bytes: Vec<u8>) {
    thread::spawn(move || {
        // A command that exits without reading its input closes the
        // pipe; that is its choice, not an error.
        let _ = stdin.write_all(&bytes);
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Command,
    Job,
}

struct Deadline {
    at: Option<(Instant, Expiry)>,
}

impl Deadline {
    fn new(request: &ShRequest) -> Self {
        let own = request
            .timeout
            .map(|t| (Instant::now() + t, Expiry::Command));
        let job = request.job_deadline.map(|at| (at, Expiry::Job));
        let at = match (own, job) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        Self { at }
    }
}

/// Moves output into the log until both streams close. Returns which
/// deadline, if any, killed the command.
///
/// Once the command has exited or been killed, output is read for at
/// most [`DRAIN_AFTER_EXIT`] more: a background process it started may
/// keep the pipes open long after, and the job must not wait for it.
fn pump(
    receiver: &Receiver<Message>,
    log: &mut CommandLog<'_>,
    child: &mut Child,
    deadline: &Deadline,
) -> io::Result<Option<Expiry>> {
    let mut open = 2;
    let mut killed: Option<Expiry> = None;
    let mut stop_at: Option<Instant> = None;
    while open > 0 {
        let now = Instant::now();
        if stop_at.is_some_and(|stop| now >= stop) {
            break;
        }
        let mut wake = now + EXIT_POLL;
        if let (None, Some((at, _))) = (killed, deadline.at) {
            wake = wake.min(at);
        }
        if let Some(stop) = stop_at {
            wake = wake.min(stop);
        }
        match receiver.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(Message::Data(stream, at, bytes)) => {
                log.push(stream, at, &bytes)?;
            }
            Ok(Message::Closed(stream)) => {
                log.finish_stream(stream)?;
                open -= 1;
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                match (killed, deadline.at) {
                    (None, Some((at, expiry))) if now >= at => {
                        kill_group(child);
                        killed = Some(expiry);
                        stop_at = Some(now + DRAIN_AFTER_EXIT);
                    }
                    _ if stop_at.is_none() => {
                        if let Ok(Some(_)) = child.try_wait() {
                            stop_at = Some(now + DRAIN_AFTER_EXIT);
                        }
                    }
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Writing after each chunk keeps the file current for anyone
        // reading it while the command runs.
        log.flush()?;
    }
    Ok(killed)
}

fn kill_group(child: &Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) with a negative pid signals the process group the
    // child leads; it has no memory-safety preconditions.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}
