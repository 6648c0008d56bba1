//! `require` inside a pipeline: `quire.ci`, `quire.stdlib`, and Fennel
//! modules under the workspace's `.quire/` directory.
//!
//! A module name maps to a file by replacing dots with slashes, so
//! `lib.util` is `.quire/lib/util.fnl`. Names are restricted to letters,
//! digits, `_` and `-` between the dots, and the resolved file must
//! still be inside `.quire/` after symbolic links are followed, so no
//! name reaches a file outside it. Each module is compiled and run once
//! and its value cached, as Lua's own `require` does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{ChunkMode, Function, Lua, MultiValue, Table, Value};

use crate::fennel::{self, CompileOptions};

/// The directory, relative to the workspace, that contains the pipeline.
pub const QUIRE_DIR: &str = ".quire";

const STDLIB: &str = include_str!("stdlib.lua");

/// The Fennel files a state has loaded and how to find more.
pub struct Modules {
    /// The workspace's `.quire` directory.
    quire_dir: PathBuf,
    /// Source text by display name (`.quire/ci.fnl`), for showing the
    /// line an error points at.
    sources: RefCell<HashMap<String, String>>,
    /// Globals compiled code may reference.
    globals: Vec<String>,
    /// Modules being loaded, innermost last, to report a require cycle.
    loading: RefCell<Vec<String>>,
}

/// A failure to load a Fennel file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The compiler's diagnostic, with file, line, column and caret.
    #[error("{0}")]
    Compile(String),
    /// Lua rejected the compiled code.
    #[error("{0}")]
    Lua(String),
}

impl Modules {
    pub fn new(workspace: &Path, globals: Vec<String>) -> Self {
        Self {
            quire_dir: workspace.join(QUIRE_DIR),
            sources: RefCell::default(),
            globals,
            loading: RefCell::default(),
        }
    }

    /// Returns the workspace's `.quire` directory.
    pub fn quire_dir(&self) -> &Path {
        &self.quire_dir
    }

    /// Returns a copy of the loaded sources, for error messages.
    pub fn sources(&self) -> HashMap<String, String> {
        self.sources.borrow().clone()
    }

    /// Compiles `.quire/<relative>` and loads it as a function.
    pub fn load_file(
        &self,
        lua: &Lua,
        relative: &str,
    ) -> Result<Function, LoadError> {
        let path = self.quire_dir.join(relative);
        let display = format!("{QUIRE_DIR}/{relative}");
        let source = std::fs::read_to_string(&path).map_err(|source| {
            LoadError::Read {
                path: display.clone(),
                source,
            }
        })?;
        self.load_source(lua, &display, source)
    }

    /// Compiles Fennel `source`, shown in errors as `display`.
    pub fn load_source(
        &self,
        lua: &Lua,
        display: &str,
        source: String,
    ) -> Result<Function, LoadError> {
        let options = CompileOptions {
            filename: display.to_string(),
            allowed_globals: self.globals.clone(),
            ..CompileOptions::default()
        };
        let compiled = fennel::compile(&source, &options)
            .map_err(|e| LoadError::Compile(explain_global(e).to_string()))?;
        self.sources
            .borrow_mut()
            .insert(display.to_string(), source);
        load_lua(lua, display, &compiled.lua)
    }
}

/// Replaces the compiler's help for a global the sandbox leaves out
/// (`io`, `print`, ...), which would suggest declaring it, with what a
/// pipeline uses instead.
fn explain_global(mut error: fennel::CompileError) -> fennel::CompileError {
    let name = error
        .message
        .strip_prefix("unknown global `")
        .and_then(|rest| rest.strip_suffix('`'));
    if let Some(hint) = name.and_then(super::sandbox::unavailable_hint) {
        error.help = format!(
            "{} is not available in a pipeline; {hint}",
            name.unwrap_or_default()
        );
    }
    error
}

/// Loads Lua text as a function whose errors name `display`.
pub fn load_lua(
    lua: &Lua,
    display: &str,
    code: &str,
) -> Result<Function, LoadError> {
    lua.load(code)
        .set_name(format!("@{display}"))
        .set_mode(ChunkMode::Text)
        .into_function()
        .map_err(|e| LoadError::Lua(super::location::error_message(&e, 0)))
}

/// Installs the global `require`, with `quire.ci` already loaded.
pub fn install_require(
    lua: &Lua,
    modules: Rc<Modules>,
    ci: Table,
) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    loaded.raw_set("quire.ci", ci)?;
    let require = lua.create_function(move |lua, name: Value| {
        let Value::String(name) = name else {
            return Err(raise(
                lua,
                format!(
                    "require expects a module name, got {}",
                    super::location::type_name(&name)
                ),
            ));
        };
        let name = name.to_string_lossy();
        let cached: Value = loaded.raw_get(name.as_str())?;
        if !cached.is_nil() {
            return Ok(cached);
        }
        let value = load_module(lua, &modules, &name)?;
        loaded.raw_set(name.as_str(), value.clone())?;
        Ok(value)
    })?;
    lua.globals().raw_set("require", require)
}

fn raise(lua: &Lua, message: String) -> mlua::Error {
    let at = super::location::call_site(lua);
    mlua::Error::RuntimeError(format!("{at}: {message}"))
}

fn load_module(
    lua: &Lua,
    modules: &Modules,
    name: &str,
) -> mlua::Result<Value> {
    if name == "quire.stdlib" {
        return load_stdlib(lua).map(Value::Table);
    }
    let Some(relative) = module_path(name) else {
        return Err(raise(lua, not_found(name, None)));
    };
    let path = modules.quire_dir.join(&relative);
    if !inside(&modules.quire_dir, &path) {
        return Err(raise(lua, not_found(name, Some(&relative))));
    }

    {
        let mut loading = modules.loading.borrow_mut();
        if loading.iter().any(|m| m == name) {
            let mut chain = loading.clone();
            chain.push(name.to_string());
            return Err(raise(
                lua,
                format!(
                    "require cycle: {}; a module cannot require itself, \
                     directly or through others",
                    chain.join(" -> ")
                ),
            ));
        }
        loading.push(name.to_string());
    }
    let result = modules
        .load_file(lua, &relative)
        .map_err(|e| match e {
            LoadError::Compile(diagnostic) => {
                mlua::Error::RuntimeError(diagnostic)
            }
            other => raise(lua, other.to_string()),
        })
        .and_then(|function| function.call::<Value>(name));
    modules.loading.borrow_mut().pop();

    Ok(match result? {
        Value::Nil => Value::Boolean(true),
        value => value,
    })
}

/// Loads `quire.stdlib`, with each helper wrapped in a Rust function.
///
/// A helper's argument errors carry no position, and the wrapper
/// prefixes the pipeline line that called it. Lua cannot name that line
/// itself when the helper is tail-called, because a tail call replaces
/// the caller's frame, while a call into Rust keeps it.
fn load_stdlib(lua: &Lua) -> mlua::Result<Table> {
    let function = load_lua(lua, "quire.stdlib", STDLIB)
        .map_err(|e| mlua::Error::RuntimeError(e.to_string()))?;
    let helpers: Table = function.call(())?;
    let module = lua.create_table()?;
    for pair in helpers.pairs::<Value, Function>() {
        let (name, helper) = pair?;
        let wrapped = lua.create_function(move |lua, args: MultiValue| {
            helper.call::<MultiValue>(args).map_err(|e| match e {
                mlua::Error::RuntimeError(message)
                    if !message.starts_with("quire.stdlib:") =>
                {
                    raise(lua, message)
                }
                other => other,
            })
        })?;
        module.raw_set(name, wrapped)?;
    }
    Ok(module)
}

/// `lib.util` → `lib/util.fnl`; `None` for a name that could leave the
/// directory or is not a module name.
fn module_path(name: &str) -> Option<String> {
    let segments: Vec<&str> = name.split('.').collect();
    let valid = segments.iter().all(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    valid.then(|| format!("{}.fnl", segments.join("/")))
}

/// True when `path` exists and, with links followed, is inside `dir`.
fn inside(dir: &Path, path: &Path) -> bool {
    match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(path)) => path.starts_with(dir),
        _ => false,
    }
}

fn not_found(name: &str, relative: Option<&str>) -> String {
    let looked = match relative {
        Some(rel) => format!(" (no file {QUIRE_DIR}/{rel})"),
        None => String::new(),
    };
    format!(
        "module {name:?} not found{looked}; require loads quire.ci, \
         quire.stdlib and Fennel modules under {QUIRE_DIR}/, where \
         lib.util is {QUIRE_DIR}/lib/util.fnl"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_map_to_files() {
        assert_eq!(module_path("util").as_deref(), Some("util.fnl"));
        assert_eq!(module_path("lib.util").as_deref(), Some("lib/util.fnl"));
        for bad in ["", "..", "../x", "a..b", "/etc/passwd", "a/b", "x.", "é"]
        {
            assert_eq!(module_path(bad), None, "{bad:?}");
        }
    }
}
