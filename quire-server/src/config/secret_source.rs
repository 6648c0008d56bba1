//! Where a declared secret's value comes from: a literal in the config,
//! a file, or an environment variable of the server.
//!
//! File and environment sources are read on first use and then kept
//! for the life of the loaded config, so a config edit (which builds
//! new sources) is the way to pick up a changed file. A failed read is
//! not kept: the next use tries again.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use quire_ci::secret::SecretValue;

// NOTE: quire-ci is meant to export a shared type for config secret
// sources; until it does, the server keeps this private one.

/// A declared secret's source.
pub struct SecretSource {
    kind: SourceKind,
    value: OnceLock<SecretValue>,
}

/// The three forms a source takes in `config.fnl`.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A string written in the config itself.
    Literal,
    /// `{:file PATH}`; a relative path is relative to the config's
    /// directory. One trailing newline is stripped.
    File(PathBuf),
    /// `{:env NAME}`: an environment variable of the server process.
    Env(String),
}

/// A source that could not be read. Names the file or variable, never
/// a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read secret file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("environment variable {0} is not valid UTF-8")]
    EnvNotUnicode(String),
}

impl SecretSource {
    /// A literal value.
    pub fn literal(value: Vec<u8>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(SecretValue::new(value));
        Self {
            kind: SourceKind::Literal,
            value: cell,
        }
    }

    /// A file read on first use.
    pub fn file(path: PathBuf) -> Self {
        Self {
            kind: SourceKind::File(path),
            value: OnceLock::new(),
        }
    }

    /// An environment variable read on first use.
    pub fn env(name: String) -> Self {
        Self {
            kind: SourceKind::Env(name),
            value: OnceLock::new(),
        }
    }

    pub fn kind(&self) -> &SourceKind {
        &self.kind
    }

    /// Returns the value, reading the file or variable the first time.
    pub fn resolve(&self) -> Result<&SecretValue, SourceError> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = match &self.kind {
            SourceKind::Literal => {
                unreachable!("a literal source is set when it is built")
            }
            SourceKind::File(path) => read_file(path)?,
            SourceKind::Env(name) => read_env(name)?,
        };
        // Two first uses may race; both read the same source, and the
        // loser's copy is dropped (and zeroed).
        Ok(self.value.get_or_init(|| value))
    }
}

fn read_file(path: &PathBuf) -> Result<SecretValue, SourceError> {
    let mut bytes = std::fs::read(path).map_err(|e| SourceError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    Ok(SecretValue::new(bytes))
}

fn read_env(name: &str) -> Result<SecretValue, SourceError> {
    match std::env::var_os(name) {
        None => Err(SourceError::EnvMissing(name.into())),
        Some(value) => match value.into_string() {
            Ok(text) => Ok(SecretValue::new(text.into_bytes())),
            Err(_) => Err(SourceError::EnvNotUnicode(name.into())),
        },
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Literal => f.write_str("Literal(<redacted>)"),
            SourceKind::File(path) => write!(f, "File({})", path.display()),
            SourceKind::Env(name) => write!(f, "Env({name})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_resolves_and_hides() {
        let source = SecretSource::literal(b"hunter2-hunter2".to_vec());
        assert_eq!(source.resolve().unwrap().expose(), b"hunter2-hunter2");
        let debug = format!("{source:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn file_read_once_trailing_newline_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "line1\nline2\n").unwrap();
        let source = SecretSource::file(path.clone());
        assert_eq!(source.resolve().unwrap().expose(), b"line1\nline2");
        // Kept after the first read, even when the file changes.
        std::fs::write(&path, "other").unwrap();
        assert_eq!(source.resolve().unwrap().expose(), b"line1\nline2");
    }

    #[test]
    fn missing_file_names_path_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let source = SecretSource::file(path.clone());
        let err = source.resolve().unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        std::fs::write(&path, "now-here").unwrap();
        assert_eq!(source.resolve().unwrap().expose(), b"now-here");
    }

    #[test]
    fn env_missing_names_variable() {
        let source = SecretSource::env("QUIRE_TEST_SURELY_UNSET_VAR".into());
        assert_eq!(
            source.resolve().unwrap_err().to_string(),
            "environment variable QUIRE_TEST_SURELY_UNSET_VAR is not set"
        );
        let source = SecretSource::env("PATH".into());
        assert!(!source.resolve().unwrap().expose().is_empty());
    }
}
