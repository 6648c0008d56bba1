//! `quire repo new`: a bare repository whose `post-receive` hook
//! notifies the server of each push.
//!
//! The hook script records the absolute paths of the `quire` binary
//! and the data directory at creation time, so it works whatever the
//! pusher's environment is. Moving either means recreating the hook.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::{DataDir, create_private_dir, validate_repo_name};

/// A failure to create a repository.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{0}")]
    InvalidName(String),
    #[error("repository {name} already exists at {path}")]
    Exists { name: String, path: String },
    #[error("cannot create repository {path}: {reason}")]
    Create { path: String, reason: String },
}

/// Creates `repos/<name>.git` with the hook; returns its path.
pub fn create(
    data: &DataDir,
    name: &str,
    quire: &Path,
) -> Result<PathBuf, RepoError> {
    validate_repo_name(name).map_err(RepoError::InvalidName)?;
    let path = data.repo(name);
    let create_err = |reason: String| RepoError::Create {
        path: path.display().to_string(),
        reason,
    };
    if path.exists() {
        return Err(RepoError::Exists {
            name: name.into(),
            path: path.display().to_string(),
        });
    }
    create_private_dir(&data.repos()).map_err(|e| create_err(e.to_string()))?;
    // --shared=0600 makes git create this repository's files 0600 and
    // its directories 0700, at init and on every later push.
    let output = Command::new("git")
        .args([
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "--shared=0600",
        ])
        .arg(&path)
        .output()
        .map_err(|e| create_err(format!("cannot run git: {e}")))?;
    if !output.status.success() {
        return Err(create_err(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let hook = path.join("hooks").join("post-receive");
    std::fs::write(&hook, hook_script(data, name, quire))
        .map_err(|e| create_err(e.to_string()))?;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| create_err(e.to_string()))?;
    Ok(path)
}

fn hook_script(data: &DataDir, name: &str, quire: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `quire repo new`: tells the quire server about a push.\n\
         exec {} --data-dir={} hook post-receive --repo={}\n",
        shell_quote(&quire.display().to_string()),
        shell_quote(&data.root().display().to_string()),
        shell_quote(name),
    )
}

/// Quotes `text` for a POSIX shell with single quotes.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_bare_repo_with_hook() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let path =
            create(&data, "widgets", Path::new("/opt/it's/quire")).unwrap();
        assert_eq!(path, dir.path().join("repos/widgets.git"));
        assert!(path.join("HEAD").is_file());
        let hook = path.join("hooks/post-receive");
        let script = std::fs::read_to_string(&hook).unwrap();
        assert!(script.contains(r"'/opt/it'\''s/quire'"), "{script}");
        assert!(
            script.contains("hook post-receive --repo='widgets'"),
            "{script}"
        );
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let again = create(&data, "widgets", Path::new("/q")).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        for name in ["../x", "-rf"] {
            let bad = create(&data, name, Path::new("/q")).unwrap_err();
            assert!(
                bad.to_string().contains("invalid repository name"),
                "{bad}"
            );
        }
    }
}
