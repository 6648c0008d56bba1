//! The push a run reads through `(jobs :quire/push)`.
//!
//! A run started by the server gets it from the bootstrap file. A local
//! run reads the workspace's git checkout: HEAD, its branch, and the
//! name of the checkout's top directory as the repository. Outside a
//! checkout it uses placeholders: an all-zero sha, the branch `local`
//! and the workspace directory's name as the repository. The
//! checkout is read on first use, so a pipeline that never requests
//! the push never runs git.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use quire_proto::PushMeta;
use quire_proto::time::format_rfc3339;

/// The sha used outside a git checkout.
pub const PLACEHOLDER_SHA: &str = "0000000000000000000000000000000000000000";

/// The push table that `(jobs :quire/push)` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushInfo {
    pub sha: String,
    /// The full ref name; `None` for a detached checkout.
    pub ref_name: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub previous_sha: Option<String>,
    pub pushed_at: String,
    pub repo: String,
    pub git_dir: Option<String>,
}

/// The origin of the push.
#[derive(Debug, Clone)]
pub enum PushSource {
    /// Given by the server.
    Known(PushInfo),
    /// Read from the workspace's checkout when first asked for.
    Checkout(PathBuf),
}

impl PushInfo {
    /// Copies the push the server recorded.
    pub fn from_meta(meta: &PushMeta, git_dir: &str) -> Self {
        Self {
            sha: meta.sha.clone(),
            ref_name: Some(meta.ref_name.clone()),
            branch: meta.branch().map(str::to_string),
            tag: meta.tag().map(str::to_string),
            previous_sha: meta.previous_sha.clone(),
            pushed_at: meta.pushed_at.clone(),
            repo: meta.repo.clone(),
            git_dir: Some(git_dir.to_string()),
        }
    }

    /// Reads HEAD of the checkout at `workspace`, or placeholders when
    /// it is not one.
    pub fn from_checkout(workspace: &Path) -> Self {
        let repo = workspace
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into()))
            .unwrap_or_else(|| "workspace".to_string());
        let pushed_at = format_rfc3339(SystemTime::now());
        let output = Command::new("git")
            .args(["rev-parse", "--show-toplevel", "--absolute-git-dir"])
            .arg("HEAD")
            .args(["--symbolic-full-name", "HEAD"])
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let text = match output {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
            _ => {
                return Self {
                    sha: PLACEHOLDER_SHA.into(),
                    ref_name: Some("refs/heads/local".into()),
                    branch: Some("local".into()),
                    tag: None,
                    previous_sha: None,
                    pushed_at,
                    repo,
                    git_dir: None,
                };
            }
        };
        let mut lines = text.lines();
        let repo = lines
            .next()
            .and_then(|top| Path::new(top).file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or(repo);
        let git_dir = lines.next().map(str::to_string);
        let sha = lines.next().unwrap_or(PLACEHOLDER_SHA).to_string();
        let ref_name = lines
            .next()
            .filter(|r| r.starts_with("refs/"))
            .map(str::to_string);
        let branch = ref_name
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string);
        Self {
            sha,
            ref_name,
            branch,
            tag: None,
            previous_sha: None,
            pushed_at,
            repo,
            git_dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let push = PushInfo::from_checkout(dir.path());
        assert_eq!(push.sha, PLACEHOLDER_SHA);
        assert_eq!(push.branch.as_deref(), Some("local"));
        assert_eq!(push.git_dir, None);
    }

    #[test]
    fn reads_head_and_branch() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .output()
                .unwrap();
            assert!(status.status.success(), "{status:?}");
            String::from_utf8(status.stdout).unwrap()
        };
        git(&["init", "-q", "-b", "trunk"]);
        git(&["commit", "-q", "--allow-empty", "-m", "first"]);
        let head = git(&["rev-parse", "HEAD"]);
        let push = PushInfo::from_checkout(dir.path());
        assert_eq!(push.sha, head.trim());
        assert_eq!(push.ref_name.as_deref(), Some("refs/heads/trunk"));
        assert_eq!(push.branch.as_deref(), Some("trunk"));
        let top = dir.path().canonicalize().unwrap();
        let name = top.file_name().unwrap().to_string_lossy();
        assert_eq!(push.repo, name);
        assert!(push.git_dir.unwrap().ends_with(".git"));
    }
}
