//! Sources of declared secret values: a literal, a file or an
//! environment variable.
//!
//! The server's `config.fnl` and a local run's `--secrets` file both
//! declare secrets this way, so the type carries no Lua. A file or a
//! variable is read on first use, not when the declaration is loaded.
//! So a secret that no run requests never has to exist, and the value
//! is read only by the process that needs it. A successful read is kept
//! for the life of the declaration. A failed read is retried on the
//! next use, so fixing the file or variable takes effect at once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::value::SecretValue;

/// Source of a secret's value, as written in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSpec {
    /// A value written in the config itself.
    Literal(SecretValue),
    /// `{:file PATH}`: the file's bytes, less one trailing newline.
    File(PathBuf),
    /// `{:env NAME}`: the value of an environment variable.
    Env(String),
}

/// Error reading a declared secret.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The `{:file PATH}` could not be read.
    #[error(
        "secret {name}: cannot read file {}: {source}; check that the \
         file exists and that this process may read it",
        path.display()
    )]
    ReadFile {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The `{:env NAME}` variable is not set.
    #[error(
        "secret {name}: environment variable {var} is not set; set it \
         in the environment of the process that reads the secret"
    )]
    MissingEnv { name: String, var: String },
    /// The `{:env NAME}` variable contains bytes that are not UTF-8.
    #[error("secret {name}: environment variable {var} is not valid UTF-8")]
    EnvNotUnicode { name: String, var: String },
}

impl SourceError {
    /// Describes the source and why it failed, without the secret's
    /// name: `file /etc/quire/key: No such file or directory` or
    /// `environment variable NPM_TOKEN is not set`. The server puts
    /// this in the error body it sends for the secret; it carries the
    /// path or the variable's name, never a value.
    pub fn source_problem(&self) -> String {
        match self {
            SourceError::ReadFile { path, source, .. } => {
                format!("file {}: {}", path.display(), io_reason(source))
            }
            SourceError::MissingEnv { var, .. } => {
                format!("environment variable {var} is not set")
            }
            SourceError::EnvNotUnicode { var, .. } => {
                format!("environment variable {var} is not valid UTF-8")
            }
        }
    }
}

/// Formats an I/O error without the ` (os error N)` suffix.
fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// A declared secret: its spec, and its value once read.
#[derive(Debug)]
pub struct DeclaredSecret {
    spec: SecretSpec,
    /// The value after the first successful read.
    value: OnceLock<SecretValue>,
}

impl DeclaredSecret {
    /// Declares a secret from a spec; nothing is read yet.
    pub fn new(spec: SecretSpec) -> Self {
        Self {
            spec,
            value: OnceLock::new(),
        }
    }

    /// Declares a literal value.
    pub fn literal(value: impl Into<Vec<u8>>) -> Self {
        Self::new(SecretSpec::Literal(SecretValue::new(value.into())))
    }

    /// Declares `{:file PATH}`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::new(SecretSpec::File(path.into()))
    }

    /// Declares `{:env NAME}`.
    pub fn env(var: impl Into<String>) -> Self {
        Self::new(SecretSpec::Env(var.into()))
    }

    /// Returns the spec as declared.
    pub fn spec(&self) -> &SecretSpec {
        &self.spec
    }

    /// Reads the value on first use and returns it. `name` is the
    /// secret's name, used only in error messages.
    pub fn reveal(&self, name: &str) -> Result<SecretValue, SourceError> {
        if let Some(value) = self.value.get() {
            return Ok(value.clone());
        }
        let value = match &self.spec {
            SecretSpec::Literal(value) => value.clone(),
            SecretSpec::File(path) => read_file(name, path)?,
            SecretSpec::Env(var) => read_env(name, var)?,
        };
        // Two threads may read at once; both read the same source, and
        // the first value stored is the one every later call returns.
        Ok(self.value.get_or_init(|| value).clone())
    }
}

impl Clone for DeclaredSecret {
    /// Clones the spec; the clone reads its source again on first use.
    fn clone(&self) -> Self {
        Self::new(self.spec.clone())
    }
}

fn read_file(name: &str, path: &Path) -> Result<SecretValue, SourceError> {
    let mut bytes =
        std::fs::read(path).map_err(|source| SourceError::ReadFile {
            name: name.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
    strip_one_newline(&mut bytes);
    Ok(SecretValue::new(bytes))
}

/// Removes one trailing `\n` or `\r\n`, as editors add one at the end.
fn strip_one_newline(bytes: &mut Vec<u8>) {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
}

fn read_env(name: &str, var: &str) -> Result<SecretValue, SourceError> {
    match std::env::var(var) {
        Ok(text) => Ok(SecretValue::new(text.into_bytes())),
        Err(std::env::VarError::NotPresent) => Err(SourceError::MissingEnv {
            name: name.to_string(),
            var: var.to_string(),
        }),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(SourceError::EnvNotUnicode {
                name: name.to_string(),
                var: var.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_newline() {
        let cases: [(&[u8], &[u8]); 5] = [
            (b"abc\n", b"abc"),
            (b"abc\n\n", b"abc\n"),
            (b"abc\r\n", b"abc"),
            (b"abc", b"abc"),
            (b"", b""),
        ];
        for (input, expected) in cases {
            let mut bytes = input.to_vec();
            strip_one_newline(&mut bytes);
            assert_eq!(bytes, expected, "{input:?}");
        }
    }

    #[test]
    fn source_problem_names_path_and_variable() {
        let file = DeclaredSecret::file("/nonexistent/quire-key")
            .reveal("deploy_key")
            .unwrap_err();
        assert_eq!(
            file.source_problem(),
            "file /nonexistent/quire-key: No such file or directory"
        );
        let env = DeclaredSecret::env("QUIRE_TEST_UNSET_VARIABLE_7f3a")
            .reveal("npm_token")
            .unwrap_err();
        assert_eq!(
            env.source_problem(),
            "environment variable QUIRE_TEST_UNSET_VARIABLE_7f3a is not set"
        );
    }

    #[test]
    fn literal_reveals_itself() {
        let secret = DeclaredSecret::literal("s3cr3t-value");
        assert_eq!(secret.reveal("x").unwrap().expose(), b"s3cr3t-value");
    }
}
