//! Evaluating `config.fnl` and turning its table into a [`Config`].
//!
//! The Lua state is sandboxed: only the `string`, `table`, `math` and
//! `utf8` libraries and the safe base functions exist, with no `io`,
//! `os`, `load`, `dofile` or `require`. A memory limit and an
//! instruction budget stop a config that loops or grows forever, so a
//! bad edit cannot hang the server's reload.

use std::collections::BTreeMap;
use std::path::Path;

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use quire_ci::fennel::{CompileOptions, compile};
use quire_proto::TransportMode;
use quire_proto::secret_api::validate_secret_name;

use super::{Config, ConfigError, DeclaredSecret};

/// Memory a config evaluation may use.
const MEMORY_LIMIT: usize = 16 * 1024 * 1024;
/// Instructions a config evaluation may run, counted in steps of
/// [`HOOK_STEP`]; far more than any table literal needs.
const INSTRUCTION_BUDGET: u64 = 50_000_000;
const HOOK_STEP: u32 = 10_000;

/// Globals a config may reference.
const ALLOWED_GLOBALS: &[&str] = &[
    "string",
    "table",
    "math",
    "utf8",
    "tostring",
    "tonumber",
    "pairs",
    "ipairs",
    "next",
    "type",
    "select",
    "error",
    "assert",
    "pcall",
    "setmetatable",
    "getmetatable",
    "rawget",
    "rawset",
    "rawequal",
    "rawlen",
];

/// Base functions removed from the sandbox.
const REMOVED_GLOBALS: &[&str] = &[
    "load",
    "loadfile",
    "dofile",
    "require",
    "collectgarbage",
    "print",
    "loadstring",
    "package",
    "io",
    "os",
    "debug",
];

pub(super) fn parse_fennel(
    source: &str,
    file: &str,
    base: &Path,
) -> Result<Config, ConfigError> {
    let options = CompileOptions {
        filename: file.to_string(),
        allowed_globals: ALLOWED_GLOBALS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    };
    let compiled = compile(source, &options).map_err(|e| {
        // Position, message and help only: the offending source line
        // may contain a literal secret, and this text is logged.
        ConfigError::Syntax(format!(
            "{}:{}:{}: {} (help: {})",
            e.filename, e.line, e.column, e.message, e.help
        ))
    })?;
    parse_lua(&compiled.lua, file, base)
}

/// Evaluates compiled Lua and converts the table it returns.
pub(super) fn parse_lua(
    lua_source: &str,
    file: &str,
    base: &Path,
) -> Result<Config, ConfigError> {
    let eval_err = |message: String| ConfigError::Eval {
        file: file.to_string(),
        message,
    };
    let lua = sandbox().map_err(|e| eval_err(e.to_string()))?;
    let value: Value = lua
        .load(lua_source)
        .set_name(format!("@{file}"))
        .eval()
        .map_err(|e| eval_err(lua_error_text(&e)))?;
    let converter = Converter { file, base };
    match value {
        Value::Table(table) => converter.config(&table),
        other => Err(ConfigError::Invalid {
            file: file.to_string(),
            key: "the config".into(),
            message: format!(
                "the file must evaluate to a table, got {}",
                describe(&other)
            ),
        }),
    }
}

fn sandbox() -> mlua::Result<Lua> {
    let libs = StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    let globals = lua.globals();
    for name in REMOVED_GLOBALS {
        globals.raw_set(*name, Value::Nil)?;
    }
    lua.set_memory_limit(MEMORY_LIMIT)?;
    let steps = std::cell::Cell::new(0u64);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_STEP),
        move |_, _| {
            steps.set(steps.get() + u64::from(HOOK_STEP));
            if steps.get() > INSTRUCTION_BUDGET {
                return Err(mlua::Error::runtime(
                    "the config ran too long; it must only build a table",
                ));
            }
            Ok(VmState::Continue)
        },
    )?;
    Ok(lua)
}

/// Returns the message of a Lua error without mlua's traceback.
fn lua_error_text(err: &mlua::Error) -> String {
    match err {
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        mlua::Error::RuntimeError(msg)
        | mlua::Error::SyntaxError { message: msg, .. } => {
            hide_constants(msg.lines().next().unwrap_or_default())
        }
        mlua::Error::MemoryError(_) => {
            "the config used more than 16 MiB of memory".into()
        }
        other => {
            hide_constants(other.to_string().lines().next().unwrap_or_default())
        }
    }
}

/// Replaces the string constants Lua quotes in its messages, as in
/// `attempt to perform arithmetic on a string value (constant 'KEY')`,
/// since such a constant may be a literal secret.
fn hide_constants(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("(constant '") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("')") {
            Some(end) => {
                out.push_str("(a string constant)");
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("(a string constant)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Names a Lua value's type the way an error message should. A string
/// is never quoted, because it may be a secret written under the wrong
/// key, and these messages are logged.
fn describe(value: &Value) -> String {
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

struct Converter<'a> {
    file: &'a str,
    base: &'a Path,
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

    fn config(&self, table: &Table) -> Result<Config, ConfigError> {
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

#[cfg(test)]
mod tests {
    use quire_proto::TransportMode;

    use super::*;
    use crate::config::SecretSpec;

    fn parse(lua: &str) -> Result<Config, ConfigError> {
        parse_lua(lua, "/d/config.fnl", Path::new("/d"))
    }

    fn error(lua: &str) -> String {
        parse(lua).unwrap_err().to_string()
    }

    #[test]
    fn full_config_typed() {
        let config = parse(
            r#"return {port = 8080,
                 secrets = {deploy_key = "k3y-value-long",
                            npm = {file = "npm.txt"},
                            gh = {env = "GH_TOKEN"}},
                 ci = {transport = "api", ["max-concurrent-runs"] = 3},
                 sentry = {dsn = {env = "SENTRY_DSN"}}}"#,
        )
        .unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.transport, TransportMode::Api);
        assert_eq!(config.max_concurrent_runs, 3);
        assert_eq!(
            config.secrets["deploy_key"]
                .reveal("deploy_key")
                .unwrap()
                .expose(),
            b"k3y-value-long"
        );
        assert!(
            config.secrets["npm"].spec()
                == &SecretSpec::File("/d/npm.txt".into())
        );
        assert!(
            config.secrets["gh"].spec() == &SecretSpec::Env("GH_TOKEN".into())
        );
        assert!(matches!(
            config.sentry_dsn.as_ref().unwrap().spec(),
            SecretSpec::Env(name) if name == "SENTRY_DSN"
        ));
    }

    #[test]
    fn empty_table_is_defaults() {
        let config = parse("return {}").unwrap();
        assert_eq!(config.port, 3000);
        assert_eq!(config.transport, TransportMode::Filesystem);
        assert_eq!(config.max_concurrent_runs, 1);
        assert!(config.secrets.is_empty());
        assert!(config.sentry_dsn.is_none());
    }

    #[test]
    fn every_key_error_named() {
        let cases = [
            (
                "return 5",
                "the config: the file must evaluate to a table, got the integer 5",
            ),
            (
                "return {colour = 1}",
                ":colour: unknown key; expected one of :port, :secrets, :ci, :sentry",
            ),
            (
                "return {port = \"80\"}",
                ":port: expected an integer, got a string",
            ),
            (
                "return {port = 80.5}",
                ":port: expected an integer, got the number 80.5",
            ),
            (
                "return {port = 70000}",
                ":port: expected a port from 0 to 65535, got 70000",
            ),
            (
                "return {secrets = 1}",
                ":secrets: expected a table, got the integer 1",
            ),
            (
                "return {secrets = {[1] = \"x\"}}",
                ":secrets: keys must be strings or keywords, got the integer 1",
            ),
            (
                "return {secrets = {[\"a b\"] = \"x\"}}",
                ":secrets (a key that is not a keyword): invalid secret name: use only",
            ),
            (
                "return {secrets = {k = 12345678}}",
                ":secrets :k: expected a string, {:file PATH} or {:env NAME}, got an integer",
            ),
            (
                "return {secrets = {k = {}}}",
                ":secrets :k: expected a string, {:file PATH} or {:env NAME}, with exactly one of :file or :env",
            ),
            (
                "return {secrets = {k = {file = \"a\", env = \"B\"}}}",
                "with exactly one of :file or :env",
            ),
            (
                "return {secrets = {k = {path = \"a\"}}}",
                ":secrets :k :path: unknown key; expected one of :file, :env",
            ),
            (
                "return {secrets = {k = {file = 3}}}",
                ":secrets :k :file: expected a string, got the integer 3",
            ),
            (
                "return {secrets = {k = {env = \"\"}}}",
                ":secrets :k :env: must not be empty",
            ),
            (
                "return {ci = \"api\"}",
                ":ci: expected a table, got a string",
            ),
            (
                "return {ci = {transport = \"vault\"}}",
                ":ci :transport: expected :filesystem or :api, got another string",
            ),
            (
                "return {ci = {transport = true}}",
                ":ci :transport: expected a string, got the boolean true",
            ),
            (
                "return {ci = {[\"max-concurrent-runs\"] = 0}}",
                ":ci :max-concurrent-runs: expected a positive integer, got 0",
            ),
            (
                "return {ci = {[\"max-concurrent-runs\"] = \"2\"}}",
                ":ci :max-concurrent-runs: expected an integer, got a string",
            ),
            (
                "return {ci = {parallel = 2}}",
                ":ci :parallel: unknown key; expected one of :transport, :max-concurrent-runs",
            ),
            ("return {sentry = {}}", ":sentry: missing :dsn"),
            (
                "return {sentry = {dsn = \"x\", env = \"y\"}}",
                ":sentry :env: unknown key; expected one of :dsn",
            ),
        ];
        for (lua, expected) in cases {
            let err = error(lua);
            assert!(err.starts_with("/d/config.fnl: "), "{lua}: {err}");
            assert!(
                err.contains(expected),
                "{lua}:\n  got {err}\n  want {expected}"
            );
        }
    }

    #[test]
    fn wrong_typed_secret_value_not_echoed() {
        let err = error("return {secrets = {k = 987654321}}");
        assert!(!err.contains("987654321"), "{err}");
    }

    #[test]
    fn string_values_never_quoted() {
        let cases = [
            "return {sentry = \"http://K3Y-SENTRY@host/1\"}",
            "return {secrets = \"K3Y-SENTRY\"}",
            "return {port = \"K3Y-SENTRY\"}",
            "return {ci = {transport = \"K3Y-SENTRY\"}}",
            "return {[\"K3Y SENTRY\"] = 1}",
            "return {secrets = {[\"K3Y SENTRY\"] = \"x\"}}",
            "return {secrets = {k = {file = {\"K3Y-SENTRY\"}}}}",
            "return {port = \"K3Y-SENTRY\" + 1}",
        ];
        for lua in cases {
            let err = error(lua);
            assert!(!err.contains("K3Y"), "{lua}: {err}");
        }
    }

    #[test]
    fn runtime_error_named() {
        let err = error("error(\"boom\")");
        assert!(
            err.starts_with("/d/config.fnl: evaluating the config failed:"),
            "{err}"
        );
        assert!(err.contains("boom"), "{err}");
    }

    #[test]
    fn sandbox_has_no_escape() {
        for lua in [
            "return io.open('/etc/passwd')",
            "return os.getenv('HOME')",
            "return load('return 1')()",
            "return require('x')",
            "return dofile('/etc/passwd')",
        ] {
            let err = error(lua);
            assert!(
                err.contains("evaluating the config failed"),
                "{lua}: {err}"
            );
        }
    }

    #[test]
    fn endless_loop_stopped() {
        let err = error("while true do end");
        assert!(err.contains("ran too long"), "{err}");
    }

    #[test]
    fn memory_bomb_stopped() {
        let err = error(
            "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end",
        );
        assert!(err.contains("evaluating the config failed"), "{err}");
    }
}
