//! Pushes reach the server over `<data-dir>/server.sock`: a bare
//! repository's `post-receive` hook runs `quire hook post-receive`,
//! which sends the updated refs as one JSON line and reads one JSON
//! line back. `quire ci run` uses the same socket to start a run by
//! hand.
//!
//! A Unix socket in the data directory needs no port and no token,
//! because any user who can write to the data directory already
//! controls the server.

use serde::{Deserialize, Serialize};

use crate::ci::RefUpdate;

pub mod client;
pub mod repo;
pub mod server;

/// Maximum length in bytes of a request line that the server reads.
pub const MAX_REQUEST_LEN: usize = 1024 * 1024;

/// One request over the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SocketRequest {
    /// A push updated these refs of `repo`.
    Push {
        repo: String,
        updates: Vec<RefUpdate>,
    },
    /// Start a run of `repo` at `ref` (HEAD's branch when absent).
    Run {
        repo: String,
        #[serde(rename = "ref", default)]
        ref_name: Option<String>,
    },
}

/// Reply to a socket request: the runs created, or the error that
/// prevented them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SocketReply {
    #[serde(default)]
    pub runs: Vec<CreatedRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A run a request created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedRun {
    pub id: String,
    pub repo: String,
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
}
