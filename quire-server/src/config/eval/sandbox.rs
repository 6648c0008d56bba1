//! The Lua state a config is evaluated in, and how its errors read.
//!
//! Only the `string`, `table`, `math` and `utf8` libraries and the safe
//! base functions exist. A memory limit and an instruction budget stop
//! a config that loops or grows forever, so a bad edit cannot hang the
//! server's reload. Error text drops string constants, because a
//! misplaced literal secret would otherwise reach the log.

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Value, VmState};

/// Memory a config evaluation may use.
const MEMORY_LIMIT: usize = 16 * 1024 * 1024;
/// Instructions a config evaluation may run, counted in steps of
/// [`HOOK_STEP`]; far more than any table literal needs.
const INSTRUCTION_BUDGET: u64 = 50_000_000;
const HOOK_STEP: u32 = 10_000;

/// Globals a config may reference.
pub(super) const ALLOWED_GLOBALS: &[&str] = &[
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

pub(super) fn sandbox() -> mlua::Result<Lua> {
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
pub(super) fn lua_error_text(err: &mlua::Error) -> String {
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
