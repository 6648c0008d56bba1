//! Wire formats that the quire server and the `quire-ci` runner agree on.
//!
//! Everything here is plain data plus the rules that validate it. That
//! covers the bootstrap document the server writes for a run, the push
//! metadata, the secret transport mode, the event stream, the secret
//! API's paths and name rule, and the per-command log line format. The crate does
//! no I/O and has no async code, so both processes can depend on it
//! without pulling in a runtime.

pub mod bootstrap;
pub mod cri;
pub mod event;
pub mod push;
pub mod redacted;
pub mod secret_api;
pub mod time;
pub mod transport;

pub use bootstrap::{Bootstrap, SentryHandoff};
pub use cri::{LogLine, LogStream, ParseLogError};
pub use event::{Event, EventKind, JobOutcome, RunOutcome, SecretSource};
pub use push::{PushError, PushMeta};
pub use redacted::RevealedString;
pub use secret_api::{ApiError, InvalidSecretName, secret_path};
pub use transport::{TransportMode, UnknownTransport};
