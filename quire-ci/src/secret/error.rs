//! Errors from resolving a secret.
//!
//! Every message names the secret and what to check. None carries a
//! value or the run's token, because failures from the HTTP client are
//! kept as text describing the transport error or the status code.

use std::time::Duration;

use quire_proto::InvalidSecretName;

/// The `code` of the secret API's error body when the server declares
/// the secret but cannot read its source. It comes with HTTP 500, and
/// the client does not retry it.
pub const SOURCE_UNAVAILABLE_CODE: &str = "secret_source_unavailable";

/// Error resolving a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret of this name is declared; the text is the same in both
    /// transports.
    #[error("unknown secret: {0}")]
    Unknown(String),
    /// The name breaks the secret name rule; no request was sent.
    #[error("{0}")]
    InvalidName(InvalidSecretName),
    /// The server responded with 401 or 403.
    #[error(
        "the server refused this run's token (HTTP {status}) when asked \
         for secret {name}; the run may have ended, or the token in \
         QUIRE_CI_TOKEN is not this run's"
    )]
    Refused { name: String, status: u16 },
    /// The server responded with a status that retrying cannot fix.
    #[error(
        "the server rejected the request for secret {name} \
         (HTTP {status}): {message}"
    )]
    Rejected {
        name: String,
        status: u16,
        message: String,
    },
    /// The server declares the secret but cannot read its source (a
    /// missing file or environment variable). Retrying cannot fix
    /// that, so no further try is made. `message` is the server's
    /// sentence, which names the secret and the source to fix.
    #[error("{message}")]
    SourceUnavailable { name: String, message: String },
    /// Every try failed with a server error or a connection failure.
    #[error(
        "cannot fetch secret {name} from {server_url} after {attempts} \
         tries; last failure: {last}"
    )]
    Unavailable {
        name: String,
        server_url: String,
        attempts: u32,
        last: String,
    },
    /// No response arrived within the secret timeout.
    #[error(
        "timed out after {:.1}s waiting for secret {name} from the \
         server; check that the server is up, or raise --secret-timeout",
        waited.as_secs_f64()
    )]
    Timeout { name: String, waited: Duration },
    /// The secret-fetch thread stopped before it replied.
    #[error("the secret-fetch thread stopped before secret {name} was fetched")]
    Stopped { name: String },
}

impl SecretError {
    /// Returns a short label for traces and metrics, such as `unknown`
    /// or `refused`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretError::Unknown(_) => "unknown",
            SecretError::InvalidName(_) => "invalid_name",
            SecretError::Refused { .. } => "refused",
            SecretError::Rejected { .. } => "rejected",
            SecretError::SourceUnavailable { .. } => "source_unavailable",
            SecretError::Unavailable { .. } => "unavailable",
            SecretError::Timeout { .. } => "timeout",
            SecretError::Stopped { .. } => "stopped",
        }
    }
}
