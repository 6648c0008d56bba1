//! The sandboxed Lua state a pipeline runs in.
//!
//! Only the `table`, `string`, `math`, `utf8` and `coroutine` libraries
//! and the safe parts of the base library are present. `io`, `debug`
//! and `package` are never opened; `load`, `loadstring`, `dofile`,
//! `loadfile` and `print` are removed; and `os` is rebuilt with only
//! `time`, `date` and `clock`. `require` is replaced by the resolver in
//! `modules`, so the only way a pipeline reaches the host is `sh`.

use mlua::{Lua, LuaOptions, StdLib, Table};

/// Globals removed from the base library.
const REMOVED: &[&str] = &["load", "loadstring", "dofile", "loadfile", "print"];

/// The `os` functions a pipeline keeps.
const OS_KEPT: &[&str] = &["time", "date", "clock"];

/// Creates a sandboxed state whose allocations stop at `memory_limit`
/// bytes.
pub fn new_state(memory_limit: usize) -> mlua::Result<Lua> {
    let libs = StdLib::TABLE
        | StdLib::STRING
        | StdLib::MATH
        | StdLib::UTF8
        | StdLib::COROUTINE
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    let globals = lua.globals();
    for name in REMOVED {
        globals.raw_set(*name, mlua::Nil)?;
    }
    let os: Table = globals.get("os")?;
    let safe_os = lua.create_table()?;
    for name in OS_KEPT {
        safe_os.raw_set(*name, os.raw_get::<mlua::Value>(*name)?)?;
    }
    globals.raw_set("os", safe_os)?;
    let hints = lua.create_table()?;
    for (name, hint) in UNAVAILABLE {
        hints.raw_set(*name, *hint)?;
    }
    lua.load(EXPLAIN_MISSING)
        .set_name("=sandbox")
        .call::<()>(hints)?;
    lua.set_memory_limit(memory_limit)?;
    Ok(lua)
}

/// Globals a pipeline does not have, each with what to use instead.
const UNAVAILABLE: &[(&str, &str)] = &[
    ("io", "use sh to read or write files"),
    ("debug", "it is not part of the sandbox"),
    (
        "package",
        "use require for quire.ci, quire.stdlib and .quire/ modules",
    ),
    ("load", "compile code into .quire/ modules and require them"),
    (
        "loadstring",
        "compile code into .quire/ modules and require them",
    ),
    ("dofile", "use require for modules under .quire/"),
    ("loadfile", "use require for modules under .quire/"),
    ("print", "use log inside a job"),
];

/// Returns what to use instead of `name`, when it is a global the
/// sandbox leaves out.
pub fn unavailable_hint(name: &str) -> Option<&'static str> {
    UNAVAILABLE
        .iter()
        .find(|(missing, _)| *missing == name)
        .map(|(_, hint)| *hint)
}

/// Makes a read of a removed global or `os` function raise an error
/// that names it and the alternative, instead of Lua's "attempt to
/// index a nil value". The chunk's argument maps each removed global to
/// its hint.
const EXPLAIN_MISSING: &str = r#"
local missing = ...
local function explain(name, hint)
  error(name .. " is not available in a pipeline; " .. hint, 3)
end
setmetatable(_G, {__index = function(_, name)
  local hint = missing[name]
  if hint then explain(name, hint) end
end})
setmetatable(os, {__index = function(_, name)
  explain("os." .. tostring(name),
    "os offers only time, date and clock, and sh runs commands")
end})
"#;

/// Lists the globals present, for the Fennel compiler's check
/// of global references.
pub fn global_names(lua: &Lua) -> mlua::Result<Vec<String>> {
    let mut names = Vec::new();
    for pair in lua.globals().pairs::<String, mlua::Value>() {
        names.push(pair?.0);
    }
    names.sort();
    Ok(names)
}
