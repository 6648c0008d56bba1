//! Conversion of the table a config returns into a [`Config`].
//!
//! Every check names the key path as Fennel would write it and the
//! file, so an error shows where to look. No message quotes a string
//! value, because a secret written under the wrong key would end up in
//! the log.

use std::collections::BTreeMap;
use std::path::Path;

use mlua::{Table, Value};
use quire_proto::TransportMode;
use quire_proto::secret_api::validate_secret_name;

use crate::config::{Config, ConfigError, DeclaredSecret};

/// Names a Lua value's type the way an error message should. A string
/// is never quoted, because it may be a secret written under the wrong
/// key, and these messages are logged.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => "a string".into(),
        other => format!("a {}", other.type_name()),
    }
}

/// Shows a key path element as Fennel would write it.
fn key_text(key: &str) -> String {
    let keyword = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.?!*+<>=/".contains(&b));
    if keyword {
        format!(":{key}")
    } else {
        // Not quoted: a misplaced value can end up as a key.
        "(a key that is not a keyword)".into()
    }
}

pub(super) struct Converter<'a> {
    pub(super) file: &'a str,
    pub(super) base: &'a Path,
}

impl Converter<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Reads a table's entries, rejecting non-string keys and any key
    /// not in `known`.
    fn entries(
        &self,
        table: &Table,
        path: &str,
        known: Option<&[&str]>,
    ) -> Result<BTreeMap<String, Value>, ConfigError> {
        let mut entries = BTreeMap::new();
        for pair in table.pairs::<Value, Value>() {
            let (key, value) =
                pair.map_err(|e| self.invalid(path, e.to_string()))?;
            let key = match key {
                Value::String(s) => s
                    .to_str()
                    .map_err(|_| {
                        self.invalid(path, "keys must be valid UTF-8")
                    })?
                    .to_string(),
                other => {
                    return Err(self.invalid(
                        path,
                        format!(
                            "keys must be strings or keywords, got {}",
                            describe(&other)
                        ),
                    ));
                }
            };
            if let Some(known) = known
                && !known.contains(&key.as_str())
            {
                let expected: Vec<String> =
                    known.iter().map(|k| key_text(k)).collect();
                let full = join(path, &key);
                return Err(self.invalid(
                    &full,
                    format!(
                        "unknown key; expected one of {}",
                        expected.join(", ")
                    ),
                ));
            }
            entries.insert(key, value);
        }
        Ok(entries)
    }

    pub(super) fn config(&self, table: &Table) -> Result<Config, ConfigError> {
        let known = ["port", "secrets", "ci", "sentry"];
        let entries = self.entries(table, "", Some(&known))?;
        let mut config = Config::default();
        for (key, value) in entries {
            let path = key_text(&key);
            match key.as_str() {
                "port" => config.port = self.port(&path, value)?,
                "secrets" => config.secrets = self.secrets(&path, value)?,
                "ci" => {
                    let table = self.table(&path, value)?;
                    let known = ["transport", "max-concurrent-runs"];
                    for (key, value) in
                        self.entries(&table, &path, Some(&known))?
                    {
                        let path = join(&path, &key);
                        if key == "transport" {
                            config.transport = self.transport(&path, value)?;
                        } else {
                            config.max_concurrent_runs =
                                self.positive(&path, value)?;
                        }
                    }
                }
                "sentry" => {
                    let table = self.table(&path, value)?;
                    let mut entries =
                        self.entries(&table, &path, Some(&["dsn"]))?;
                    let dsn = entries.remove("dsn").ok_or_else(|| {
                        self.invalid(
                            &path,
                            "missing :dsn, the DSN to report errors to",
                        )
                    })?;
                    config.sentry_dsn =
                        Some(self.source(&join(&path, "dsn"), dsn)?);
                }
                _ => unreachable!("entries() rejects unknown keys"),
            }
        }
        Ok(config)
    }

    fn table(&self, path: &str, value: Value) -> Result<Table, ConfigError> {
        match value {
            Value::Table(table) => Ok(table),
            other => Err(self.invalid(
                path,
                format!("expected a table, got {}", describe(&other)),
            )),
        }
    }

    fn string(&self, path: &str, value: Value) -> Result<String, ConfigError> {
        match value {
            Value::String(s) => s
                .to_str()
                .map(|s| s.to_string())
                .map_err(|_| self.invalid(path, "expected UTF-8 text")),
            other => Err(self.invalid(
                path,
                format!("expected a string, got {}", describe(&other)),
            )),
        }
    }

    fn integer(&self, path: &str, value: &Value) -> Result<i64, ConfigError> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => Err(self.invalid(
                path,
                format!("expected an integer, got {}", describe(other)),
            )),
        }
    }

    fn port(&self, path: &str, value: Value) -> Result<u16, ConfigError> {
        let n = self.integer(path, &value)?;
        u16::try_from(n).map_err(|_| {
            self.invalid(
                path,
                format!("expected a port from 0 to 65535, got {n}"),
            )
        })
    }

    fn positive(&self, path: &str, value: Value) -> Result<usize, ConfigError> {
        let n = self.integer(path, &value)?;
        if n < 1 {
            return Err(self.invalid(
                path,
                format!("expected a positive integer, got {n}"),
            ));
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn transport(
        &self,
        path: &str,
        value: Value,
    ) -> Result<TransportMode, ConfigError> {
        let word = self.string(path, value)?;
        word.parse().map_err(|_| {
            self.invalid(
                path,
                "expected :filesystem or :api, got another string",
            )
        })
    }

    fn secrets(
        &self,
        path: &str,
        value: Value,
    ) -> Result<BTreeMap<String, DeclaredSecret>, ConfigError> {
        let table = self.table(path, value)?;
        let mut secrets = BTreeMap::new();
        for (name, value) in self.entries(&table, path, None)? {
            let key = join(path, &name);
            validate_secret_name(&name).map_err(|e| {
                self.invalid(&key, format!("invalid secret name: {}", e.reason))
            })?;
            secrets.insert(name, self.source(&key, value)?);
        }
        Ok(secrets)
    }

    /// Reads a source: a literal string, `{:file PATH}` or `{:env NAME}`.
    fn source(
        &self,
        path: &str,
        value: Value,
    ) -> Result<DeclaredSecret, ConfigError> {
        let shape = "expected a string, {:file PATH} or {:env NAME}";
        match value {
            Value::String(s) => {
                Ok(DeclaredSecret::literal(s.as_bytes().to_vec()))
            }
            Value::Table(table) => {
                let entries =
                    self.entries(&table, path, Some(&["file", "env"]))?;
                if entries.len() != 1 {
                    return Err(self.invalid(
                        path,
                        format!("{shape}, with exactly one of :file or :env"),
                    ));
                }
                let (kind, value) =
                    entries.into_iter().next().expect("one entry");
                let text = self.string(&join(path, &kind), value)?;
                if text.is_empty() {
                    return Err(
                        self.invalid(&join(path, &kind), "must not be empty")
                    );
                }
                if kind == "file" {
                    Ok(DeclaredSecret::file(self.base.join(text)))
                } else {
                    Ok(DeclaredSecret::env(text))
                }
            }
            // No `describe` here: the value might be a secret written
            // with the wrong type, and error messages are logged.
            other => Err(self.invalid(
                path,
                format!("{shape}, got {}", with_article(other.type_name())),
            )),
        }
    }
}

/// Prefixes a type name with "a" or "an".
fn with_article(name: &str) -> String {
    let vowel = name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {name}", if vowel { "an" } else { "a" })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key_text(key)
    } else {
        format!("{path} {}", key_text(key))
    }
}
