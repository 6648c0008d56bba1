//! The operator's settings, from `<data-dir>/config.fnl`.
//!
//! The file is Fennel, compiled with quire-ci's compiler and evaluated
//! in a sandboxed Lua state; the table it returns becomes a typed
//! [`Config`]. The config is parsed once per edit and shared as an
//! `Arc`, never re-read per request (see [`watch`]).

use std::collections::BTreeMap;
use std::path::Path;

use quire_proto::TransportMode;

mod eval;
pub mod watch;

/// Declared secrets use quire-ci's type, so a local run's `--secrets`
/// file and the server's config read sources the same way.
pub use quire_ci::secret::{DeclaredSecret, SecretSpec, SourceError};
pub use watch::{ConfigHandle, ConfigWatcher};

/// The default TCP port of the HTTP API.
pub const DEFAULT_PORT: u16 = 3000;

/// Typed settings. `Default` is what an absent config file means.
#[derive(Debug)]
pub struct Config {
    /// TCP port of the HTTP API on 127.0.0.1; `quire serve --bind`
    /// overrides it.
    pub port: u16,
    /// Declared secrets, by name.
    pub secrets: BTreeMap<String, DeclaredSecret>,
    /// The secret transport that carries values to quire-ci.
    pub transport: TransportMode,
    /// How many runs execute at once; the rest wait in push order.
    pub max_concurrent_runs: usize,
    /// The error-reporting DSN handed to quire-ci in the bootstrap. It
    /// contains a credential, so it is held like a secret.
    pub sentry_dsn: Option<DeclaredSecret>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            secrets: BTreeMap::new(),
            transport: TransportMode::Filesystem,
            max_concurrent_runs: 1,
            sentry_dsn: None,
        }
    }
}

/// A rejected config file. Each message names the file, and
/// the key or line where that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    /// A Fennel compile error; its text starts with `file:line:col`.
    #[error("{0}")]
    Syntax(String),
    /// The compiled config raised an error while it was evaluated.
    #[error("{file}: evaluating the config failed: {message}")]
    Eval { file: String, message: String },
    /// A key whose value is invalid, or a key that is not known.
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        /// The key path in Fennel syntax, such as `:ci :transport`.
        key: String,
        message: String,
    },
}

impl Config {
    /// Loads `path`; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(ConfigError::Read {
                    file,
                    reason: e.to_string(),
                });
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        eval::parse_fennel(&source, &file, base)
    }

    /// Parses config text as if it were the file `file`; relative
    /// secret file paths are resolved against `base`.
    pub fn parse(
        source: &str,
        file: &str,
        base: &Path,
    ) -> Result<Config, ConfigError> {
        eval::parse_fennel(source, file, base)
    }
}
