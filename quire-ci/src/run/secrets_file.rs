//! The `--secrets FILE` of a local run: a Fennel table of secret name
//! to value, shaped like the `:secrets` table of the server's config.
//!
//! A value is a string, `{:file PATH}` (the file's contents, with one
//! trailing newline removed) or `{:env NAME}` (an environment
//! variable). All of them are read when the file is loaded, before any
//! job runs, so a missing file or variable stops the run at once.

use std::collections::BTreeMap;
use std::path::Path;

use mlua::Value;
use quire_proto::secret_api::validate_secret_name;

use crate::fennel::{self, CompileOptions};
use crate::runtime::location::{error_message, type_name};
use crate::runtime::sandbox;
use crate::secret::SecretValue;

/// Memory for evaluating the file; a table of secrets needs little.
const MEMORY_LIMIT: usize = 16 << 20;

/// A secrets file that cannot be used, with the file and secret named.
#[derive(Debug, thiserror::Error)]
pub enum SecretsFileError {
    #[error("cannot read the secrets file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Compile(String),
    #[error("secrets file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads and evaluates a secrets file.
pub fn read(
    path: &Path,
) -> Result<BTreeMap<String, SecretValue>, SecretsFileError> {
    let shown = path.display().to_string();
    let invalid = |message: String| SecretsFileError::Invalid {
        path: shown.clone(),
        message,
    };
    let source = std::fs::read_to_string(path).map_err(|source| {
        SecretsFileError::Read {
            path: shown.clone(),
            source,
        }
    })?;
    let lua =
        sandbox::new_state(MEMORY_LIMIT).map_err(|e| invalid(e.to_string()))?;
    let options = CompileOptions {
        filename: shown.clone(),
        allowed_globals: sandbox::global_names(&lua)
            .map_err(|e| invalid(e.to_string()))?,
        ..CompileOptions::default()
    };
    let compiled = fennel::compile(&source, &options)
        .map_err(|e| SecretsFileError::Compile(e.to_string()))?;
    // The message of an evaluation error may quote a value, so it is
    // replaced by the place it happened.
    let value: Value = lua
        .load(compiled.lua.as_str())
        .set_name(format!("@{shown}"))
        .eval()
        .map_err(|e| {
            let message = error_message(&e, MEMORY_LIMIT >> 20);
            let place = message.split(": ").next().unwrap_or("").to_string();
            invalid(format!(
                "evaluating the file failed at {place}; it should be a \
                 table such as {{:deploy-key \"...\"}}"
            ))
        })?;
    let Value::Table(table) = value else {
        return Err(invalid(format!(
            "the file evaluates to a {}; it should be a table of secret \
             names to values",
            type_name_without_value(&value)
        )));
    };

    let mut secrets = BTreeMap::new();
    for pair in table.pairs::<Value, Value>() {
        let (name, value) = pair.map_err(|e| invalid(e.to_string()))?;
        let Value::String(name) = name else {
            return Err(invalid(format!(
                "secret names are strings, found a key that is {}",
                type_name(&name)
            )));
        };
        let name = name.to_string_lossy();
        validate_secret_name(&name).map_err(|e| invalid(e.to_string()))?;
        let bytes = read_value(&name, value).map_err(&invalid)?;
        secrets.insert(name, SecretValue::new(bytes));
    }
    Ok(secrets)
}

fn read_value(name: &str, value: Value) -> Result<Vec<u8>, String> {
    let table = match value {
        Value::String(s) => return Ok(s.as_bytes().to_vec()),
        Value::Table(t) => t,
        other => {
            return Err(format!(
                "secret {name:?} is a {}; a value is a string, {{:file \
                 PATH}} or {{:env NAME}}",
                type_name_without_value(&other)
            ));
        }
    };
    let file: Option<String> = table.get("file").map_err(|e| e.to_string())?;
    let env: Option<String> = table.get("env").map_err(|e| e.to_string())?;
    match (file, env) {
        (Some(path), None) => {
            let mut bytes = std::fs::read(&path).map_err(|e| {
                format!("secret {name:?}: cannot read {path}: {e}")
            })?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            Ok(bytes)
        }
        (None, Some(var)) => std::env::var_os(&var)
            .map(|v| v.into_encoded_bytes())
            .ok_or_else(|| {
                format!(
                    "secret {name:?}: the environment variable {var} is \
                     not set"
                )
            }),
        _ => Err(format!(
            "secret {name:?}: a table value is {{:file PATH}} or {{:env \
             NAME}}, with exactly one of the two keys"
        )),
    }
}

/// Returns the type of a value, never the value itself.
fn type_name_without_value(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) | Value::Number(_) => "number",
        other => other.type_name(),
    }
}
