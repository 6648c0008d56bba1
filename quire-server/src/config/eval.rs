//! Evaluating `config.fnl` and turning its table into a [`Config`].
//!
//! The Fennel source is compiled with only the sandbox's globals
//! allowed, then run in the sandbox (see [`sandbox`]) and converted
//! key by key (see [`convert`]). Keeping the three apart lets each be
//! read and tested on its own.

mod convert;
mod sandbox;

use std::path::Path;

use mlua::Value;
use quire_ci::fennel::{CompileOptions, compile};

use self::convert::{Converter, describe};
use self::sandbox::{ALLOWED_GLOBALS, lua_error_text, sandbox};
use super::{Config, ConfigError};

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
