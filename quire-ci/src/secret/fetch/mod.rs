//! The secret-fetch thread of the API transport.
//!
//! ```text
//! Lua thread                        secret-fetch thread (tokio)
//! FetchHandle::fetch(name, job)
//!   FetchRequest {id, name, job, reply}
//!   ── crossbeam channel, then Notify ──▶ actor task
//!                                         owns HttpClient (reqwest
//!                                         client + bearer token);
//!                                         one fetch per name at once
//!   reply.recv_timeout(timeout) ◀── reply channel ──┘
//! ```
//!
//! The design keeps async code off the Lua thread: it only sends on a
//! crossbeam channel and waits on a reply channel with a timeout. It
//! never calls `block_on`, never enters the tokio runtime and has no
//! access to the token. The actor task on the fetch thread owns the HTTP
//! client, so connections stay alive across fetches. It serves requests
//! concurrently, and requests for a name already being fetched wait for
//! that same HTTP call.
//!
//! Shutdown: [`SecretFetcher::shutdown`] (or dropping it) stops the
//! actor, which aborts fetches still running, and the thread is
//! joined. A waiting caller then gets `SecretError::Stopped`, never
//! a hang. The actor also ends when every [`FetchHandle`] and the
//! fetcher's own sender are gone.

mod actor;
mod client;
mod handle;
mod reply;

use std::time::Duration;

pub use handle::{FetchHandle, FetchStartError, SecretFetcher};

use super::value::SecretValue;

/// Default time a job waits for one secret from the server.
pub const DEFAULT_SECRET_TIMEOUT: Duration = Duration::from_secs(30);

/// The retry schedule for failed HTTP tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included. Default 5.
    pub attempts: u32,
    /// Wait before the second try; doubled before each later one.
    /// Default 100 ms.
    pub first_backoff: Duration,
    /// Upper bound of one wait. Default 2 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Wait before try number `attempt` (0 is the first try).
    pub fn backoff(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (attempt - 1).min(20);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Settings of the secret-fetch thread.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Base URL of the server, `http://HOST:PORT`; plain HTTP only.
    pub server_url: String,
    /// The run's id, used in the request path.
    pub run_id: String,
    /// The run's bearer token. Only the fetch thread keeps it.
    pub token: SecretValue,
    /// Time a caller waits for one secret; also the limit of one HTTP
    /// try. Default [`DEFAULT_SECRET_TIMEOUT`].
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl FetchConfig {
    /// Creates a config with the default retry policy.
    pub fn new(
        server_url: impl Into<String>,
        run_id: impl Into<String>,
        token: SecretValue,
        timeout: Duration,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            run_id: run_id.into(),
            token,
            timeout,
            retry: RetryPolicy::default(),
        }
    }
}

/// Starts the secret-fetch thread for one run.
pub fn start_fetcher(
    server_url: &str,
    run_id: &str,
    token: SecretValue,
    timeout: Duration,
) -> Result<SecretFetcher, FetchStartError> {
    SecretFetcher::start(FetchConfig::new(server_url, run_id, token, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (0..7)
            .map(|a| policy.backoff(a).as_millis() as u64)
            .collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1600, 2000]);
    }
}
