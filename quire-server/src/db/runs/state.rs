//! A run's state and the rule for which state may follow which.
//!
//! ```text
//! pending ──▶ active ──▶ complete
//!    │           ├─────▶ failed
//!    ├──▶ failed └─────▶ superseded
//!    └──▶ superseded
//! ```
//!
//! `complete`, `failed` and `superseded` are terminal: nothing leaves
//! them. The rule lives here, apart from the SQL, so that the table of
//! allowed changes is one list that the queries in `runs` derive from.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The stage of a run's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Waiting in the queue.
    Pending,
    /// Its quire-ci process is being prepared or running.
    Active,
    /// quire-ci finished and no job failed.
    Complete,
    /// A job failed, or the run could not be carried out.
    Failed,
    /// A newer push to the same repository and ref replaced it.
    Superseded,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        RunState::Pending,
        RunState::Active,
        RunState::Complete,
        RunState::Failed,
        RunState::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Active => "active",
            RunState::Complete => "complete",
            RunState::Failed => "failed",
            RunState::Superseded => "superseded",
        }
    }

    /// True for the states nothing leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Complete | RunState::Failed | RunState::Superseded
        )
    }

    /// Returns the states a run may move to from `self`.
    pub fn successors(self) -> &'static [RunState] {
        match self {
            RunState::Pending => {
                &[RunState::Active, RunState::Failed, RunState::Superseded]
            }
            RunState::Active => {
                &[RunState::Complete, RunState::Failed, RunState::Superseded]
            }
            _ => &[],
        }
    }

    /// True when a run in `self` may move to `next`.
    pub fn can_become(self, next: RunState) -> bool {
        self.successors().contains(&next)
    }

    pub(super) fn predecessors(next: RunState) -> Vec<&'static str> {
        RunState::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .map(RunState::as_str)
            .collect()
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown run state {s:?}"))
    }
}

/// A refused state change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("run {run_id} cannot change from {from} to {to}")]
pub struct TransitionError {
    pub run_id: String,
    pub from: RunState,
    pub to: RunState,
}
