//! Cleaning up after a server that stopped without finishing its runs.
//!
//! At start, every `active` run lost its supervisor: it becomes
//! `failed` ("server restarted"), its quire-ci process group is killed
//! if it is still alive, its leftover bootstrap file is removed and
//! whatever events it wrote are recorded. `pending` runs stay pending
//! and the queue starts them again.

use crate::db::DbError;
use crate::db::runs::RunState;

use super::{
    Ci, CiError, REASON_RESTARTED, dispatch, ingest, remove_bootstrap,
};

impl Ci {
    /// Reconciles the runs a crash left behind; returns how many
    /// active runs were failed.
    pub fn reconcile(&self) -> Result<usize, CiError> {
        let db = self.db();
        let orphans = db.runs_in_state(RunState::Active)?;
        for run in &orphans {
            // Fail the run first: its token dies before its process.
            match db.transition(
                &run.id,
                RunState::Failed,
                Some(REASON_RESTARTED),
            ) {
                Ok(()) | Err(DbError::Transition(_)) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(pid) = db.runner_pid(&run.id)?
                && is_quire_ci(pid)
            {
                dispatch::kill_group(pid);
            }
            let dir = self.data().run_dir(&run.repo, &run.id);
            remove_bootstrap(&dir);
            ingest::ingest(db, &run.id, &dir)?;
            db.set_runner_pid(&run.id, None)?;
            tracing::warn!(
                run_id = %run.id,
                "run was active when the server stopped; marked failed",
            );
        }
        let pending = db.runs_in_state(RunState::Pending)?.len();
        if pending > 0 {
            tracing::info!(pending, "queueing runs left pending");
        }
        Ok(orphans.len())
    }
}

/// True when `pid` is still a quire-ci process, so a reused pid of an
/// unrelated process is never killed.
fn is_quire_ci(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // The whole command line, since a script's argv[0] is its
    // interpreter.
    String::from_utf8_lossy(&cmdline).contains("quire-ci")
}
