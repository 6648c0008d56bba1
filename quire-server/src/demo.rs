//! `quire demo`: a throwaway quire with one repository and one run of
//! the example pipeline, for a first look at the whole path.
//!
//! The example files are compiled into the binary, so the demo works
//! from any directory. Everything lives in a new temporary directory
//! that is kept after the demo ends, so the run can be explored with
//! `quire --data-dir <dir>/data ci show`:
//!
//! ```text
//! <tmp>/data/       the data directory: config.fnl, quire.db, repos/, runs/
//! <tmp>/checkout/   the working copy that was pushed
//! ```
//!
//! The server is the one `quire serve` runs, started in this process
//! on 127.0.0.1 with a port the OS picks. The push goes through a real
//! bare repository and its `post-receive` hook, which runs this same
//! binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::db::runs::Run;
use crate::hook::repo;
use crate::paths::DataDir;
use crate::server::{ServeOptions, Server};

/// The demo's `config.fnl`.
pub const CONFIG: &str = include_str!("../../examples/demo/config.fnl");

/// The files pushed to the demo repository, by path in the checkout.
pub const PIPELINE_FILES: &[(&str, &str)] = &[
    (
        ".quire/ci.fnl",
        include_str!("../../examples/demo/.quire/ci.fnl"),
    ),
    (
        ".quire/lib/notes.fnl",
        include_str!("../../examples/demo/.quire/lib/notes.fnl"),
    ),
];

/// The name of the demo repository.
pub const REPO: &str = "demo";

/// How long the demo waits for its run to finish.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A step of the demo that failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot create the demo directory: {0}")]
    TempDir(std::io::Error),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start the server: {0}")]
    Serve(#[from] crate::server::ServeError),
    #[error("cannot create the demo repository: {0}")]
    Repo(#[from] repo::RepoError),
    #[error("`git {args}` failed in {dir}: {reason}")]
    Git {
        args: String,
        dir: String,
        reason: String,
    },
    #[error("cannot catch stop signals: {0}")]
    Signal(std::io::Error),
    #[error("the push created no run; the server log above says why")]
    NoRun,
    #[error("cannot read the run: {0}")]
    Db(#[from] crate::db::DbError),
    #[error(
        "run {run_id} did not finish within {seconds} s; inspect it with \
         `quire --data-dir {data_dir} ci show {run_id}`"
    )]
    Timeout {
        run_id: String,
        seconds: u64,
        data_dir: String,
    },
}

/// Handlers for the signals that stop a kept demo.
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

/// The paths of a demo and the programs it uses.
#[derive(Debug, Clone)]
pub struct DemoPaths {
    /// The temporary directory holding `data/` and `checkout/`.
    pub root: PathBuf,
    /// The `quire` binary the hook runs.
    pub quire: PathBuf,
    /// The `quire-ci` binary the server starts for each run.
    pub quire_ci: PathBuf,
}

impl DemoPaths {
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(self.root.join("data"))
    }

    pub fn checkout(&self) -> PathBuf {
        self.root.join("checkout")
    }
}

/// A running demo: the runtime, the server and its paths.
pub struct Demo {
    paths: DemoPaths,
    runtime: tokio::runtime::Runtime,
    server: Option<Server>,
}

impl Demo {
    /// Creates a new temporary directory, writes the demo's
    /// `config.fnl` and starts the server on 127.0.0.1 with a port the
    /// OS picks. Without `quire_ci`, runs use the runner built into
    /// `quire` through [`runner_link`].
    pub fn start(
        quire: PathBuf,
        quire_ci: Option<PathBuf>,
    ) -> Result<Demo, DemoError> {
        let root = tempfile::Builder::new()
            .prefix("quire-demo-")
            .tempdir()
            .map_err(DemoError::TempDir)?
            .keep();
        let quire_ci = match quire_ci {
            Some(path) => path,
            None => runner_link(&root.join("bin"), &quire)?,
        };
        let paths = DemoPaths {
            root,
            quire,
            quire_ci,
        };
        Demo::start_in(paths, CONFIG)
    }

    /// Starts a server over `paths.root/data` with `config` as its
    /// `config.fnl`.
    pub fn start_in(paths: DemoPaths, config: &str) -> Result<Demo, DemoError> {
        let data = paths.data_dir();
        write_file(&data.config_file(), config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(DemoError::Runtime)?;
        let server = runtime.block_on(Server::start(ServeOptions {
            data,
            bind: Some("127.0.0.1:0".into()),
            quire_ci: paths.quire_ci.clone(),
            config_poll: Duration::from_secs(1),
        }))?;
        Ok(Demo {
            paths,
            runtime,
            server: Some(server),
        })
    }

    pub fn paths(&self) -> &DemoPaths {
        &self.paths
    }

    /// Returns the API's base URL.
    pub fn url(&self) -> String {
        self.server().url()
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs until stop")
    }

    /// Returns the server's database, for reading runs as they change.
    pub fn db(&self) -> &std::sync::Arc<crate::db::Db> {
        self.server().ci().db()
    }

    /// Creates the demo repository, commits `files` in a fresh
    /// checkout and pushes them; returns the run the push created.
    pub fn push(&self, files: &[(&str, &str)]) -> Result<Run, DemoError> {
        let data = self.paths.data_dir();
        let bare = repo::create(&data, REPO, &self.paths.quire)?;
        let checkout = self.paths.checkout();
        for (path, content) in files {
            write_file(&checkout.join(path), content)?;
        }
        git(&checkout, &["init", "--quiet", "--initial-branch=main"])?;
        git(&checkout, &["config", "user.name", "quire demo"])?;
        git(&checkout, &["config", "user.email", "demo@quire.invalid"])?;
        git(&checkout, &["config", "commit.gpgsign", "false"])?;
        git(&checkout, &["add", "--all"])?;
        git(
            &checkout,
            &["commit", "--quiet", "-m", "Add the demo pipeline"],
        )?;
        let bare = bare.display().to_string();
        git(
            &checkout,
            &["push", "--quiet", &bare, "HEAD:refs/heads/main"],
        )?;

        let db = self.db();
        db.list_runs(Some(REPO), 1)?
            .into_iter()
            .next()
            .ok_or(DemoError::NoRun)
    }

    /// Waits until run `run_id` reaches a terminal state.
    pub fn wait(
        &self,
        run_id: &str,
        timeout: Duration,
    ) -> Result<Run, DemoError> {
        let db = self.db();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(run) = db.run(run_id)?
                && run.state.is_terminal()
            {
                return Ok(run);
            }
            if Instant::now() > deadline {
                return Err(DemoError::Timeout {
                    run_id: run_id.into(),
                    seconds: timeout.as_secs(),
                    data_dir: self
                        .paths
                        .data_dir()
                        .root()
                        .display()
                        .to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Installs handlers for Ctrl-C (SIGINT) and SIGTERM. From this
    /// call on, those signals are caught, so a caller installs them
    /// before it prompts the user to press Ctrl-C.
    pub fn catch_stop_signals(&self) -> Result<StopSignals, DemoError> {
        use tokio::signal::unix::{SignalKind, signal};
        let _entered = self.runtime.enter();
        let interrupt =
            signal(SignalKind::interrupt()).map_err(DemoError::Signal)?;
        let terminate =
            signal(SignalKind::terminate()).map_err(DemoError::Signal)?;
        Ok(StopSignals {
            interrupt,
            terminate,
        })
    }

    /// Blocks until one of `signals` arrives.
    pub fn wait_for(&self, mut signals: StopSignals) {
        self.runtime.block_on(async {
            tokio::select! {
                _ = signals.interrupt.recv() => {}
                _ = signals.terminate.recv() => {}
            }
        });
    }

    /// Stops the server; the data directory stays.
    pub fn stop(mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.stop());
        }
    }
}

/// True when this process was started through a link named
/// `quire-ci`, as [`runner_link`] makes.
pub fn invoked_as_quire_ci() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .is_some_and(|argv0| argv0.file_name().is_some_and(|n| n == "quire-ci"))
}

/// Makes `<dir>/quire-ci`, a link to the `quire` binary, which then
/// runs quire-ci's command line (the `quire` binary contains the whole
/// runner library). `cargo run --bin quire` builds only `quire`, so
/// the link makes the demo run with the runner of the same build, even
/// when `quire-ci` is missing or older.
pub fn runner_link(dir: &Path, quire: &Path) -> Result<PathBuf, DemoError> {
    let link = dir.join("quire-ci");
    let fail = |e: std::io::Error| DemoError::Write {
        path: link.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::os::unix::fs::symlink(quire, &link).map_err(fail)?;
    Ok(link)
}

fn write_file(path: &Path, content: &str) -> Result<(), DemoError> {
    let fail = |e: std::io::Error| DemoError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, content).map_err(fail)
}

/// Runs git in `dir`; a failure carries git's stderr.
fn git(dir: &Path, args: &[&str]) -> Result<(), DemoError> {
    let fail = |reason: String| DemoError::Git {
        args: args.join(" "),
        dir: dir.display().to_string(),
        reason,
    };
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}
