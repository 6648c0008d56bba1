//! The location and plain message of a Lua error.
//!
//! Chunks are loaded under their path inside the workspace (such as
//! `@.quire/ci.fnl`), and the compiled Lua keeps each Fennel line on
//! the same line number, so Lua's own `file:line` prefixes already name
//! Fennel lines. This module adds the source line below such a message
//! and strips the Lua stack traceback, which names only Lua internals.

use std::collections::HashMap;

use mlua::{Lua, Value};

/// The `file:line` of the innermost Lua function on the stack, or
/// `?` when no Lua function is running.
pub fn call_site(lua: &Lua) -> String {
    for level in 0..32 {
        let site = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            if source.what == "C" {
                return None;
            }
            let file = source.short_src.unwrap_or_default().into_owned();
            let line = debug.current_line()?;
            Some(format!("{file}:{line}"))
        });
        match site {
            Some(Some(site)) => return site,
            Some(None) => continue,
            None => break,
        }
    }
    "?".into()
}

/// Describes the Lua type of `value` for error messages, with the
/// value itself for strings, numbers and booleans.
pub fn type_name(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {:?}", s.to_string_lossy()),
        Value::Integer(i) => format!("the number {i}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        other => other.type_name().to_string(),
    }
}

/// Extracts the message of a Lua error, without the traceback. A
/// memory error is reported with `memory_limit_mib`.
pub fn error_message(error: &mlua::Error, memory_limit_mib: usize) -> String {
    match error {
        mlua::Error::RuntimeError(msg) => strip_traceback(msg).to_string(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(_) => format!(
            "the pipeline's Lua state exceeded its memory limit of \
             {memory_limit_mib} MiB; use less memory or raise \
             --memory-limit-mib"
        ),
        mlua::Error::CallbackError { cause, .. } => {
            error_message(cause, memory_limit_mib)
        }
        mlua::Error::WithContext { context, cause } => {
            format!("{context}: {}", error_message(cause, memory_limit_mib))
        }
        mlua::Error::ExternalError(e) => e.to_string(),
        other => strip_traceback(&other.to_string()).to_string(),
    }
}

fn strip_traceback(msg: &str) -> &str {
    match msg.find("\nstack traceback:") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// The pipeline file, where a call into a helper module starts.
const PIPELINE: &str = ".quire/ci.fnl";

/// Returns the `.quire/ci.fnl:LINE` that led to an error raised in a
/// helper module under `.quire/`, from the error's traceback. `None`
/// for an error located elsewhere or nowhere, or when no frame of the
/// pipeline file is left (a tail call replaces the caller's frame).
pub fn pipeline_caller(message: &str, full: &str) -> Option<String> {
    let in_module = message.starts_with(".quire/")
        && !message.starts_with(&format!("{PIPELINE}:"));
    if !in_module {
        return None;
    }
    let traceback = &full[full.find("stack traceback:")?..];
    traceback.lines().skip(1).find_map(|frame| {
        let frame = frame.trim_start_matches(['\t', ' ', '>']);
        let rest = frame.strip_prefix(PIPELINE)?.strip_prefix(':')?;
        let digits: String =
            rest.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| format!("{PIPELINE}:{digits}"))
    })
}

/// Appends the source line a message starts with (`file:line: ...`),
/// when `sources` has that file.
pub fn with_source_line(
    message: &str,
    sources: &HashMap<String, String>,
) -> String {
    let Some((file, rest)) = message.split_once(':') else {
        return message.to_string();
    };
    let digits: String =
        rest.chars().take_while(char::is_ascii_digit).collect();
    let (Some(source), Ok(line)) = (sources.get(file), digits.parse::<usize>())
    else {
        return message.to_string();
    };
    match source.lines().nth(line.wrapping_sub(1)) {
        Some(text) => format!("{message}\n  {line} | {text}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_line_appended() {
        let sources = HashMap::from([(
            ".quire/ci.fnl".to_string(),
            "(local x 1)\n(error :boom)\n".to_string(),
        )]);
        assert_eq!(
            with_source_line(".quire/ci.fnl:2: boom", &sources),
            ".quire/ci.fnl:2: boom\n  2 | (error :boom)"
        );
        assert_eq!(with_source_line("plain", &sources), "plain");
        assert_eq!(
            with_source_line("other.fnl:2: x", &sources),
            "other.fnl:2: x"
        );
    }

    #[test]
    fn pipeline_caller_from_traceback() {
        let full = ".quire/lib/util.fnl:4: exited 3\nstack traceback:\n\
                    \t[C]: in function 'error'\n\
                    \t.quire/lib/util.fnl:4: in function 'must'\n\
                    \t.quire/ci.fnl:6: in function <.quire/ci.fnl:5>";
        let message = ".quire/lib/util.fnl:4: exited 3";
        assert_eq!(
            pipeline_caller(message, full).as_deref(),
            Some(".quire/ci.fnl:6")
        );
        assert_eq!(pipeline_caller(".quire/ci.fnl:6: x", full), None);
        assert_eq!(pipeline_caller("nil", full), None);
        assert_eq!(pipeline_caller("job \"a\" timed out", full), None);
        assert_eq!(pipeline_caller(message, message), None);
    }

    #[test]
    fn traceback_stripped() {
        let err = mlua::Error::RuntimeError(
            "x.fnl:1: boom\nstack traceback:\n\t[C]: in ?".into(),
        );
        assert_eq!(error_message(&err, 256), "x.fnl:1: boom");
    }
}
