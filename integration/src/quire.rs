//! One test's quire: a temporary directory with the data directory,
//! the server process, scratch checkouts and the logs.
//!
//! ```text
//! <tmp>/
//!   data/          the data directory (config.fnl, quire.db, repos/, runs/)
//!   checkouts/     scratch clones the test commits in
//!   scratch/       files pipelines and tests share (markers, captures)
//!   server.log     the server's stdout and stderr, across restarts
//! ```
//!
//! The server runs in its own process group, and [`Drop`] stops it
//! (SIGTERM, which kills its quire-ci processes, then SIGKILL of the
//! group), so nothing outlives a test, even one that panicked.
//! quire-ci processes left by a simulated crash are killed through
//! [`Quire::track_group`].

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binaries::{Binaries, binaries};
use crate::git::Checkout;
use crate::run::RunView;

/// How long the server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopped server may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`Quire::wait_for_runs`] waits by default.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// The line `quire serve` prints once it listens.
const LISTENING: &str = "quire listening on http://";

/// A test's data directory and server.
pub struct Quire {
    root: tempfile::TempDir,
    bins: Binaries,
    quire_ci: PathBuf,
    env: Vec<(OsString, OsString)>,
    server: Option<ServerProcess>,
    groups: Mutex<Vec<i32>>,
}

struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl Quire {
    /// Creates the directories and `config.fnl`; the server is not
    /// started yet.
    pub fn new(config: &str) -> Quire {
        let bins = binaries().clone();
        let root = tempfile::Builder::new()
            .prefix("quire-e2e-")
            .tempdir()
            .expect("a temporary directory");
        for dir in ["data", "checkouts", "scratch"] {
            std::fs::create_dir_all(root.path().join(dir))
                .expect("the test's directories");
        }
        std::fs::write(root.path().join("data/config.fnl"), config)
            .expect("config.fnl is written");
        let quire_ci = bins.quire_ci.clone();
        Quire {
            root,
            bins,
            quire_ci,
            env: Vec::new(),
            server: None,
            groups: Mutex::new(Vec::new()),
        }
    }

    /// Creates and starts a quire with `config`.
    pub fn start(config: &str) -> Quire {
        let mut quire = Quire::new(config);
        quire.start_server();
        quire
    }

    /// Sets an environment variable for the server (and so for the
    /// quire-ci processes it starts). Takes effect at the next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.into(), value.into()));
    }

    /// Makes the server start `program` instead of quire-ci; the
    /// program receives quire-ci's arguments.
    pub fn set_quire_ci(&mut self, program: PathBuf) {
        self.quire_ci = program;
    }

    pub fn binaries(&self) -> &Binaries {
        &self.bins
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Returns a directory outside the data directory, for markers and
    /// captures.
    pub fn scratch(&self) -> PathBuf {
        self.root.path().join("scratch")
    }

    pub fn server_log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.server_log_path()).unwrap_or_default()
    }

    /// Returns the API's address; panics when the server is not running.
    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("the server is running").addr
    }

    /// Starts `quire serve` on 127.0.0.1 with a port the OS picks, and
    /// waits for the line that names the address.
    pub fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.server_log_path())
            .expect("the server log opens");
        let stderr = log.try_clone().expect("the server log is cloned");
        let mut command = self.command(&self.bins.quire);
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci"])
            .arg(&self.quire_ci)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().expect("quire serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || copy_stdout(stdout, log, found));

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            match address.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    self.print_logs();
                    panic!("quire serve exited before it listened");
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                self.print_logs();
                panic!("quire serve exited before it listened: {status}");
            }
            if Instant::now() > deadline {
                kill_group(child.id() as i32, libc::SIGKILL);
                let _ = child.wait();
                self.print_logs();
                panic!("quire serve printed no address in {START_TIMEOUT:?}");
            }
        };
        self.server = Some(ServerProcess { child, addr });
    }

    /// Stops the server as an operator would (SIGTERM), waiting for it
    /// to exit; kills its process group if it takes too long.
    pub fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            stop(server);
        }
    }

    /// Kills the server with SIGKILL, as a crash would; the quire-ci
    /// processes it started keep running.
    pub fn crash_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            kill_group(server.child.id() as i32, libc::SIGKILL);
            let _ = server.child.wait();
        }
    }

    /// Records a process group (such as a quire-ci left by a crash)
    /// to kill when the test ends.
    pub fn track_group(&self, pgid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pgid);
    }

    /// Builds a command for one of quire's programs with the test's
    /// environment: no user or system git config, no inherited quire
    /// settings.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("QUIRE_LOG", "info,quire_ci::secret=debug")
            .env("NO_COLOR", "1")
            .env_remove("QUIRE_DATA_DIR")
            .env_remove("QUIRE_CI_BIN")
            .env_remove("QUIRE_CI_TOKEN")
            .env_remove("RUST_LOG");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs `quire --data-dir <data> ARGS` and returns its output.
    pub fn quire(&self, args: &[&str]) -> Output {
        self.command(&self.bins.quire)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("quire starts")
    }

    /// Runs a `quire` command that must succeed; returns its stdout.
    pub fn quire_ok(&self, args: &[&str]) -> String {
        let output = self.quire(args);
        if !output.status.success() {
            self.print_logs();
            panic!(
                "quire {} failed ({}):\n{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates `repos/<name>.git` with `quire repo new` and a scratch
    /// checkout whose `origin` it is.
    pub fn new_repo(&self, name: &str) -> Checkout {
        self.quire_ok(&["repo", "new", name]);
        let bare = self.data_dir().join("repos").join(format!("{name}.git"));
        assert!(bare.is_dir(), "quire repo new made no {}", bare.display());
        Checkout::init(&self.root.path().join("checkouts").join(name), &bare)
    }

    /// Lists the runs of `repo`, newest first, with `quire ci list --json`.
    pub fn list_runs(&self, repo: &str) -> Vec<Value> {
        let text = self.quire_ok(&["ci", "list", repo, "--json"]);
        match serde_json::from_str(&text) {
            Ok(Value::Array(runs)) => runs,
            _ => panic!("quire ci list --json printed no array:\n{text}"),
        }
    }

    /// Reads one run with `quire ci show RUN --json`.
    pub fn show(&self, run_id: &str) -> RunView {
        let text = self.quire_ok(&["ci", "show", run_id, "--json"]);
        let json = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("quire ci show --json printed invalid JSON ({e}):\n{text}")
        });
        RunView::new(json)
    }

    /// Waits until `repo` has `count` runs and all of them reached a
    /// terminal state; returns them oldest first.
    pub fn wait_for_runs(&self, repo: &str, count: usize) -> Vec<RunView> {
        self.wait_for_runs_within(repo, count, RUN_TIMEOUT)
    }

    /// [`Quire::wait_for_runs`] with an explicit bound.
    pub fn wait_for_runs_within(
        &self,
        repo: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<RunView> {
        let deadline = Instant::now() + timeout;
        loop {
            let runs = self.list_runs(repo);
            let done = runs
                .iter()
                .filter(|run| {
                    matches!(
                        run["state"].as_str(),
                        Some("complete" | "failed" | "superseded")
                    )
                })
                .count();
            if runs.len() >= count && done == runs.len() {
                let views: Vec<RunView> = runs
                    .iter()
                    .rev()
                    .map(|run| self.show(run["id"].as_str().expect("id")))
                    .collect();
                return views;
            }
            if Instant::now() > deadline {
                self.print_logs();
                panic!(
                    "repo {repo}: wanted {count} finished runs within \
                     {timeout:?}; have {} runs, {done} finished:\n{}",
                    runs.len(),
                    serde_json::to_string_pretty(&runs).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until run `run_id` is in `state`; returns it.
    pub fn wait_for_state(&self, run_id: &str, state: &str) -> RunView {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            let run = self.show(run_id);
            if run.state() == state {
                return run;
            }
            if Instant::now() > deadline {
                self.print_logs();
                panic!(
                    "run {run_id} is {} after {RUN_TIMEOUT:?}, not {state}",
                    run.state()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Prints the server's log and every run's quire-ci log and events
    /// to stderr, where the test harness shows them for failed tests.
    pub fn print_logs(&self) {
        eprintln!("===== server log {}", self.server_log_path().display());
        eprintln!("{}", self.server_log());
        let runs = self.data_dir().join("runs");
        for file in crate::scan::files_under(&runs) {
            let name = file.file_name().and_then(|n| n.to_str());
            if matches!(name, Some("quire-ci.log" | "events.jsonl")) {
                eprintln!("===== {}", file.display());
                eprintln!(
                    "{}",
                    std::fs::read_to_string(&file).unwrap_or_default()
                );
            }
        }
    }
}

impl Drop for Quire {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        self.stop_server();
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for pgid in groups.iter() {
            kill_group(*pgid, libc::SIGKILL);
        }
    }
}

/// Copies the server's stdout to its log, and sends the address from
/// the listening line.
fn copy_stdout(
    stdout: std::process::ChildStdout,
    mut log: File,
    found: mpsc::Sender<SocketAddr>,
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if let Some(rest) = line.find(LISTENING).map(|at| &line[at..]) {
            let text = rest[LISTENING.len()..].trim();
            if let Ok(addr) = text.parse::<SocketAddr>() {
                let _ = found.send(addr);
            }
        }
    }
}

fn stop(mut server: ServerProcess) {
    let pid = server.child.id() as i32;
    // SAFETY: kill(2) sends a signal to a process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match server.child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                kill_group(pid, libc::SIGKILL);
                let _ = server.child.wait();
                break;
            }
        }
    }
    // Anything the server left in its own group goes too.
    kill_group(pid, libc::SIGKILL);
}

/// Sends `signal` to the process group `pgid`.
pub fn kill_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group
        // this test started; it touches no memory of this process.
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// True while a process with `pid` exists (a zombie counts).
pub fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until `path` exists, or panics after `timeout`.
pub fn wait_for_file(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
