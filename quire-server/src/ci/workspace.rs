//! Git plumbing for runs: resolving a ref in a bare repository, and
//! extracting one commit's tree as a run's workspace.
//!
//! The workspace is `git archive <sha>` piped into `tar -x`, so it
//! contains exactly the committed files, with no `.git` directory a
//! pipeline could reach into.

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A git or tar command that failed, with its stderr.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {detail}")]
pub struct GitError {
    pub what: String,
    pub detail: String,
}

fn fail(what: impl Into<String>, detail: impl ToString) -> GitError {
    GitError {
        what: what.into(),
        detail: detail.to_string(),
    }
}

/// Extracts the tree of `sha` from the bare repository `git_dir` into
/// `dest`, which must not exist yet.
pub fn extract(git_dir: &Path, sha: &str, dest: &Path) -> Result<(), GitError> {
    // Owner-only, like the rest of the data directory. The files inside
    // keep the modes git records, so executables stay executable.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dest)
        .map_err(|e| fail(format!("creating {}", dest.display()), e))?;
    let what = format!("git archive {sha}");
    let mut git = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["archive", "--format=tar", sha])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(&what, e))?;
    let archive = git.stdout.take().expect("stdout was piped");
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(archive)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| fail("tar -x", e))?;
    let mut git_err = String::new();
    if let Some(mut stderr) = git.stderr.take() {
        let _ = stderr.read_to_string(&mut git_err);
    }
    let git_status = git.wait().map_err(|e| fail(&what, e))?;
    if !git_status.success() {
        return Err(fail(what, git_err.trim()));
    }
    if !tar.status.success() {
        return Err(fail(
            "tar -x",
            String::from_utf8_lossy(&tar.stderr).trim(),
        ));
    }
    Ok(())
}

/// Resolves `reference` in `git_dir` to a full ref name and the commit
/// it points at. `None` means the repository's HEAD branch; a short
/// name such as `main` is looked up under `refs/heads/`.
pub fn resolve_ref(
    git_dir: &Path,
    reference: Option<&str>,
) -> Result<(String, String), GitError> {
    let ref_name = match reference {
        Some(name) if name.starts_with("refs/") => name.to_string(),
        Some(name) => format!("refs/heads/{name}"),
        None => git(git_dir, &["symbolic-ref", "HEAD"])?,
    };
    let sha = git(
        git_dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{ref_name}^{{commit}}"),
        ],
    )
    .map_err(|_| {
        fail(
            format!("resolving {ref_name}"),
            format!(
                "{ref_name} does not name a commit in {}; push it first",
                git_dir.display()
            ),
        )
    })?;
    Ok((ref_name, sha))
}

fn git(git_dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let what = format!("git {}", args.join(" "));
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(&what, e))?;
    if !output.status.success() {
        return Err(fail(what, String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
