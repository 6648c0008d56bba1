//! Secrets in a run: values, where declared values come from, the
//! per-run registry, the redactor, and the secret-fetch thread of the
//! API transport.
//!
//! A job's `(secret name)` goes to [`SecretRegistry::resolve`]. The
//! registry returns values from its cache, from the values declared up front
//! (the filesystem transport), or through a [`FetchHandle`] from the
//! server (the API transport), and registers every value it reveals
//! with the run's [`Redactor`] before returning it. Everything the run
//! records passes through that redactor, including quire-ci's own
//! tracing output through [`RedactingMakeWriter`].

mod error;
pub mod fetch;
mod log_writer;
mod redactor;
mod registry;
mod source;
mod value;

pub use error::{SOURCE_UNAVAILABLE_CODE, SecretError};
pub use fetch::{
    DEFAULT_SECRET_TIMEOUT, FetchConfig, FetchHandle, FetchStartError,
    RetryPolicy, SecretFetcher, start_fetcher,
};
pub use log_writer::{RedactingMakeWriter, RedactingWriter};
pub use redactor::{MIN_REDACTED_LEN, Redactor, StreamRedactor, encoded_forms};
pub use registry::{Resolution, SecretRegistry};
pub use source::{DeclaredSecret, SecretSpec, SourceError};
pub use value::SecretValue;
