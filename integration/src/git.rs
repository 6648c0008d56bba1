//! A scratch clone that commits files and pushes them with real `git`.
//!
//! Every git command runs with the user's and the system's git config
//! switched off, and with a name and email set in the repository
//! itself, so the tests behave the same on any machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns a `git` command that reads no global or system config.
pub fn git_command() -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    command
}

/// Runs git in `dir`, panicking with its output when it fails; returns
/// its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git starts");
    assert!(
        output.status.success(),
        "git {} failed in {}:\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A working repository whose `origin` is a bare repository quire
/// hosts.
#[derive(Debug)]
pub struct Checkout {
    dir: PathBuf,
}

impl Checkout {
    /// Initialises `dir` with branch `main` and `origin` at `bare`.
    pub fn init(dir: &Path, bare: &Path) -> Checkout {
        std::fs::create_dir_all(dir).expect("the checkout directory");
        git(dir, &["init", "--quiet", "--initial-branch=main"]);
        git(dir, &["config", "user.name", "quire tests"]);
        git(dir, &["config", "user.email", "tests@quire.invalid"]);
        git(dir, &["config", "commit.gpgsign", "false"]);
        let bare = bare.to_str().expect("a UTF-8 path");
        git(dir, &["remote", "add", "origin", bare]);
        Checkout {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `content` to `path` inside the checkout, creating
    /// directories as needed.
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let file = self.dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("the file's directory");
        }
        std::fs::write(&file, content)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        self
    }

    /// Commits everything; returns the new commit's sha.
    pub fn commit(&self, message: &str) -> String {
        git(&self.dir, &["add", "--all"]);
        git(
            &self.dir,
            &["commit", "--quiet", "--allow-empty", "-m", message],
        );
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    /// Pushes `main` to `origin`; returns git's output, which includes
    /// what the `post-receive` hook printed.
    pub fn push(&self) -> Output {
        let output = git_command()
            .current_dir(&self.dir)
            .args(["push", "--quiet", "origin", "main"])
            .output()
            .expect("git push starts");
        assert!(
            output.status.success(),
            "git push failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}
