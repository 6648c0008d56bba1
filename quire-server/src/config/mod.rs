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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> Result<Config, ConfigError> {
        Config::parse(source, "/d/config.fnl", Path::new("/d"))
    }

    #[test]
    fn fennel_config_typed() {
        let config = parse(
            r#";; the operator's settings
{:port 8080
 :secrets {:deploy_key "k3y-value-long"
           :npm {:file "npm.txt"}
           :gh {:env "GH_TOKEN"}}
 :ci {:transport :api :max-concurrent-runs 3}
 :sentry {:dsn "https://key@errors.invalid/1"}}
"#,
        )
        .unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.transport, TransportMode::Api);
        assert_eq!(config.max_concurrent_runs, 3);
        let key = config.secrets["deploy_key"].reveal("deploy_key").unwrap();
        assert_eq!(key.expose(), b"k3y-value-long");
        assert_eq!(
            config.secrets["npm"].spec(),
            &SecretSpec::File("/d/npm.txt".into())
        );
        assert_eq!(
            config.secrets["gh"].spec(),
            &SecretSpec::Env("GH_TOKEN".into())
        );
        assert!(config.sentry_dsn.is_some());
    }

    #[test]
    fn fennel_helpers_allowed() {
        let config =
            parse("(local n (+ 1 1))\n{:ci {:max-concurrent-runs (* n 2)}}\n")
                .unwrap();
        assert_eq!(config.max_concurrent_runs, 4);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("{:port 3000\n :ci {:transport :api}\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("/d/config.fnl:"), "{text}");
        let position: Vec<&str> = text.splitn(4, ':').collect();
        assert!(position[1].parse::<usize>().is_ok(), "{text}");
        assert!(position[2].parse::<usize>().is_ok(), "{text}");
    }

    #[test]
    fn key_errors_through_fennel() {
        let err = parse("{:ci {:transport :vault}}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/d/config.fnl: :ci :transport: expected :filesystem or :api, \
             got another string"
        );
        let err = parse("{:port :eighty}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/d/config.fnl: :port: expected an integer, got a string"
        );
    }

    #[test]
    fn syntax_error_hides_source_line() {
        let err = parse("{:secrets {:k \"s3cret-in-line\"}\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!err.contains('^'), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("/d/config.fnl:1:"), "{err}");
        assert!(err.contains("(help: "), "{err}");
    }

    #[test]
    fn missing_file_is_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&dir.path().join("config.fnl")).unwrap();
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.transport, TransportMode::Filesystem);
        assert_eq!(config.max_concurrent_runs, 1);
    }

    #[test]
    fn file_paths_relative_to_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.fnl");
        std::fs::write(&path, "{:secrets {:k {:file \"k.txt\"}}}").unwrap();
        std::fs::write(dir.path().join("k.txt"), "from-file-value\n").unwrap();
        let config = Config::load(&path).unwrap();
        let value = config.secrets["k"].reveal("k").unwrap();
        assert_eq!(value.expose(), b"from-file-value");
    }
}
