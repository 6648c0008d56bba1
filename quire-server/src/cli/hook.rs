//! `quire hook post-receive`: git runs it after a push, in the bare
//! repository, with `old new ref` lines on stdin.
//!
//! A push must succeed even when the server is down, so every failure
//! here is a warning on stderr (which git shows the pusher) and the
//! exit code stays 0.

use std::io::Read;

use crate::hook::SocketRequest;
use crate::hook::client::{parse_updates, send};
use crate::paths::{DataDir, validate_repo_name};

pub(super) fn post_receive(
    data: &DataDir,
    repo: Option<String>,
) -> Result<(), String> {
    let Some(repo) = repo.or_else(repo_from_cwd) else {
        eprintln!(
            "quire: warning: cannot tell which repository this is; \
             pass --repo NAME"
        );
        return Ok(());
    };
    if let Err(error) = validate_repo_name(&repo) {
        eprintln!("quire: warning: {error}; no run was created");
        return Ok(());
    }
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("quire: warning: cannot read the pushed refs: {e}");
        return Ok(());
    }
    let (updates, bad) = parse_updates(&input);
    for line in bad {
        eprintln!("quire: warning: ignoring malformed hook line {line:?}");
    }
    if updates.is_empty() {
        return Ok(());
    }
    match send(&data.socket(), &SocketRequest::Push { repo, updates }) {
        Ok(reply) => {
            if let Some(error) = reply.error {
                eprintln!("quire: warning: no run created: {error}");
            }
            for run in reply.runs {
                eprintln!("quire: run {} created for {}", run.id, run.ref_name);
            }
        }
        Err(error) => {
            eprintln!(
                "quire: warning: {error}; the push succeeded but no run \
                 was created"
            );
        }
    }
    Ok(())
}

/// Returns the repository name from the hook's working directory, which git
/// sets to the bare repository `repos/<name>.git`.
fn repo_from_cwd() -> Option<String> {
    let dir = std::env::var_os("GIT_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let name = dir.file_name()?.to_str()?;
    name.strip_suffix(".git").map(str::to_string)
}
