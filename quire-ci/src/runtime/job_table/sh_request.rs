//! Reading the arguments of `sh` into a [`ShRequest`].
//!
//! A command is a string run by the shell or a sequence run as argv,
//! and the options table may set `:env`, `:cwd`, `:stdin`, `:timeout`
//! and `:max-output`. Every check happens before anything runs, so a
//! typo in an option fails the call instead of running the command
//! with a default. Errors are plain text, and the caller adds the
//! `file:line` of the call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mlua::Value;

use super::JobScope;
use crate::runtime::location::type_name;
use crate::sh::{DEFAULT_CAPTURE_LIMIT, Program, ShRequest};

const SH_OPTIONS: &str = ":env :cwd :stdin :timeout :max-output";

/// The end of the error for a NUL byte in a command, its arguments or
/// its environment, which the operating system takes as the end of a
/// string.
const NUL_BYTE: &str = "a NUL byte, which commands cannot receive; remove it";

pub(super) fn parse_request(
    scope: &JobScope,
    cmd: Value,
    opts: Value,
) -> Result<ShRequest, String> {
    let program = match cmd {
        Value::String(s) => {
            let line = s.to_string_lossy();
            if line.contains('\0') {
                return Err(format!("sh: the command contains {NUL_BYTE}"));
            }
            Program::Shell(line)
        }
        Value::Table(t) => {
            let mut argv = Vec::new();
            for i in 1..=t.raw_len() {
                match t.raw_get::<Value>(i) {
                    Ok(Value::String(s)) => {
                        let arg = s.to_string_lossy();
                        if arg.contains('\0') {
                            return Err(format!(
                                "sh: argument {i} of the command contains \
                                 {NUL_BYTE}"
                            ));
                        }
                        argv.push(arg);
                    }
                    Ok(other) => {
                        return Err(format!(
                            "sh: argument {i} of the command is {}; every \
                             argument must be a string",
                            type_name(&other)
                        ));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            if argv.is_empty() {
                return Err("sh: the argument list is empty; give the \
                            program and its arguments, such as \
                            [\"make\" \"test\"]"
                    .into());
            }
            Program::Argv(argv)
        }
        other => {
            return Err(format!(
                "sh: the command must be a string or a sequence of \
                 strings, got {}",
                type_name(&other)
            ));
        }
    };
    let mut request = ShRequest {
        program,
        env: Vec::new(),
        cwd: scope.run.workspace.clone(),
        stdin: None,
        timeout: None,
        job_deadline: scope.deadline,
        capture_limit: DEFAULT_CAPTURE_LIMIT,
    };
    let opts = match opts {
        Value::Nil => return Ok(request),
        Value::Table(t) => t,
        other => {
            return Err(format!(
                "sh: options must be a table such as {{:cwd \"src\"}}, got {}",
                type_name(&other)
            ));
        }
    };
    for pair in opts.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        let key = match key {
            Value::String(s) => s.to_string_lossy(),
            other => {
                return Err(format!(
                    "sh: option keys are names such as :cwd, got {}",
                    type_name(&other)
                ));
            }
        };
        match key.as_str() {
            "env" => request.env = parse_env(value)?,
            "cwd" => {
                let Value::String(s) = value else {
                    return Err(format!(
                        "sh: :cwd must be a path string, got {}",
                        type_name(&value)
                    ));
                };
                request.cwd =
                    resolve_cwd(&scope.run.workspace, &s.to_string_lossy())?;
            }
            "stdin" => match value {
                Value::String(s) => request.stdin = Some(s.as_bytes().to_vec()),
                other => {
                    return Err(format!(
                        "sh: :stdin must be a string, got {}",
                        type_name(&other)
                    ));
                }
            },
            "timeout" => {
                let secs = match value {
                    Value::Integer(i) => i as f64,
                    Value::Number(n) => n,
                    ref other => {
                        return Err(format!(
                            "sh: :timeout must be a number of seconds, got {}",
                            type_name(other)
                        ));
                    }
                };
                if !(secs > 0.0 && secs.is_finite()) {
                    return Err(format!(
                        "sh: :timeout must be a positive number of seconds, \
                         got {secs}"
                    ));
                }
                request.timeout = Some(Duration::from_secs_f64(secs));
            }
            "max-output" => match value {
                Value::Integer(i) if i >= 0 => {
                    let limit = scope.run.memory_limit_mib;
                    if i as u64 > (limit as u64) << 20 {
                        return Err(format!(
                            "sh: :max-output {i} is more than the pipeline's \
                             memory limit of {limit} MiB, which the result \
                             must fit in; lower it or raise \
                             --memory-limit-mib"
                        ));
                    }
                    request.capture_limit = i as usize
                }
                other => {
                    return Err(format!(
                        "sh: :max-output must be a number of bytes (0 or \
                         more), got {}",
                        type_name(&other)
                    ));
                }
            },
            other => {
                return Err(format!(
                    "sh: unknown option :{other}; the options are \
                     {SH_OPTIONS}"
                ));
            }
        }
    }
    Ok(request)
}

fn parse_env(value: Value) -> Result<Vec<(String, Option<String>)>, String> {
    let Value::Table(table) = value else {
        return Err(format!(
            "sh: :env must be a table of names to strings, got {}",
            type_name(&value)
        ));
    };
    let mut env = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        let (name, value) = pair.map_err(|e| e.to_string())?;
        let Value::String(name) = name else {
            return Err(format!(
                "sh: :env names must be strings, got {}",
                type_name(&name)
            ));
        };
        let name = name.to_string_lossy();
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(format!("sh: {name:?} is not an environment name"));
        }
        let value = match value {
            Value::String(s) if s.as_bytes().contains(&0) => {
                return Err(format!(
                    "sh: :env value of {name} contains {NUL_BYTE}"
                ));
            }
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Boolean(false) => None,
            other => {
                return Err(format!(
                    "sh: :env value of {name} must be a string, or false \
                     to unset it, got {}",
                    type_name(&other)
                ));
            }
        };
        env.push((name, value));
    }
    env.sort();
    Ok(env)
}

/// Resolves `cwd` against the workspace; it must stay inside it once
/// links are followed.
fn resolve_cwd(workspace: &Path, cwd: &str) -> Result<PathBuf, String> {
    let joined = workspace.join(cwd);
    let resolved = joined
        .canonicalize()
        .map_err(|e| format!("sh: :cwd {cwd:?} cannot be used: {e}"))?;
    if !resolved.starts_with(workspace) {
        return Err(format!(
            "sh: :cwd {cwd:?} is outside the workspace; use a directory \
             inside it"
        ));
    }
    if !resolved.is_dir() {
        return Err(format!("sh: :cwd {cwd:?} is not a directory"));
    }
    Ok(resolved)
}
