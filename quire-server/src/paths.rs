//! The data directory's layout, in one place.
//!
//! ```text
//! <data-dir>/
//!   config.fnl           operator's settings
//!   quire.db             runs, jobs, commands, secret accesses
//!   server.sock          push notifications from hooks
//!   server.lock          held (flock) by the running server
//!   repos/<name>.git     bare repositories
//!   runs/<repo>/<run>/   workspace/, events.jsonl, jobs/<job>/sh-<n>.log
//! ```
//!
//! Every other module gets its paths from this type instead of joining
//! strings, so the layout can only change here.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The default data directory when neither `--data-dir` nor
/// `QUIRE_DATA_DIR` is given.
pub const DEFAULT_DATA_DIR: &str = "/var/quire";

/// A data directory and the paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Wraps `root`, made absolute against the current directory so the
    /// paths handed to hooks and child processes stay valid anywhere.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(&root))
                .unwrap_or(root)
        };
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.fnl")
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("quire.db")
    }

    pub fn socket(&self) -> PathBuf {
        self.root.join("server.sock")
    }

    /// Returns the file a running server holds an exclusive lock on.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("server.lock")
    }

    pub fn repos(&self) -> PathBuf {
        self.root.join("repos")
    }

    /// Returns the bare repository `repos/<name>.git`.
    pub fn repo(&self, name: &str) -> PathBuf {
        self.repos().join(format!("{name}.git"))
    }

    /// Returns the directory of one run, `runs/<repo>/<run>`.
    pub fn run_dir(&self, repo: &str, run_id: &str) -> RunDir {
        RunDir {
            root: self.root.join("runs").join(repo).join(run_id),
        }
    }
}

/// The files of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Returns the run directory itself, also quire-ci's `--out-dir`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    pub fn bootstrap(&self) -> PathBuf {
        self.root.join("bootstrap.json")
    }

    pub fn events(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }

    /// quire-ci's own standard output and error.
    pub fn runner_log(&self) -> PathBuf {
        self.root.join("quire-ci.log")
    }

    /// Returns the file of a job's `(log ...)` lines.
    pub fn job_log(&self, job: &str) -> PathBuf {
        self.root.join("jobs").join(job).join("job.log")
    }

    /// Returns the log of a job's `n`th command.
    pub fn sh_log(&self, job: &str, n: u32) -> PathBuf {
        self.root.join("jobs").join(job).join(format!("sh-{n}.log"))
    }
}

/// Creates `dir` and any missing parents with mode 0700, since the
/// data directory contains the database, secrets in bootstrap files and
/// run logs. A directory that already exists keeps its mode.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Checks a repository name: ASCII letters, digits, `_`, `-` and `.`,
/// not starting with `.` or `-`, at most 100 bytes. The name becomes a
/// directory under `repos/` and `runs/` and an argument of git and of
/// the hook, so nothing else is allowed. `repo new`, the hook and
/// `ci run` all check names here.
pub fn validate_repo_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err(format!(
            "invalid repository name {name:?}: use 1 to 100 characters"
        ));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(format!(
            "invalid repository name {name:?}: it may not start with `.` \
             or `-`"
        ));
    }
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
    };
    if !name.bytes().all(allowed) {
        return Err(format!(
            "invalid repository name {name:?}: use only ASCII letters, \
             digits, `_`, `-` and `.`"
        ));
    }
    if name.ends_with(".git") {
        return Err(format!(
            "invalid repository name {name:?}: leave out the `.git` suffix"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_design() {
        let dir = DataDir::new("/d");
        assert_eq!(dir.config_file(), Path::new("/d/config.fnl"));
        assert_eq!(dir.database(), Path::new("/d/quire.db"));
        assert_eq!(dir.socket(), Path::new("/d/server.sock"));
        assert_eq!(dir.repo("w"), Path::new("/d/repos/w.git"));
        let run = dir.run_dir("w", "r1");
        assert_eq!(run.workspace(), Path::new("/d/runs/w/r1/workspace"));
        assert_eq!(run.events(), Path::new("/d/runs/w/r1/events.jsonl"));
        assert_eq!(
            run.sh_log("build", 2),
            Path::new("/d/runs/w/r1/jobs/build/sh-2.log")
        );
    }

    #[test]
    fn relative_root_made_absolute() {
        assert!(DataDir::new("rel").root().is_absolute());
    }

    #[test]
    fn repo_names_checked() {
        for ok in ["widgets", "a.b-c_d", "X1"] {
            assert_eq!(validate_repo_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".hidden", "-rf", "--repo", "a/b", "a b", "w.git"] {
            assert!(validate_repo_name(bad).is_err(), "{bad:?}");
        }
    }
}
