//! `quire-ci fennel compile` and `quire-ci fennel eval`.
//!
//! Both read a file, or standard input for `-`, and allow Lua's
//! standard globals. `compile` prints the Lua chunk, which returns the
//! values of the last top-level form, so piping it into `lua` gives the
//! same result as `eval`. Errors go to standard error with exit code 2.

use std::io::{Read, Write};

use super::{EXIT_SUCCESS, EXIT_USAGE, FennelCommand};
use crate::fennel::{self, CompileOptions, view};

/// Compiles or evaluates Fennel; returns the exit code.
pub fn fennel(cmd: FennelCommand) -> u8 {
    let (file, eval) = match cmd {
        FennelCommand::Compile { file } => (file, false),
        FennelCommand::Eval { file } => (file, true),
    };
    match run(&file, eval) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(output.as_bytes()).is_err() {
                return EXIT_USAGE;
            }
            EXIT_SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            EXIT_USAGE
        }
    }
}

fn run(file: &str, eval: bool) -> Result<String, String> {
    let (source, filename) = read_source(file)?;
    let opts = CompileOptions {
        filename: filename.clone(),
        allowed_globals: fennel::lua_standard_globals()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    };
    let compiled =
        fennel::compile(&source, &opts).map_err(|e| e.to_string())?;
    if !eval {
        return Ok(compiled.lua);
    }

    let lua = mlua::Lua::new();
    let values = lua
        .load(compiled.lua.as_str())
        .set_name(format!("@{filename}"))
        .eval::<mlua::MultiValue>()
        .map_err(|e| format!("error: {e}"))?;
    let values: Vec<mlua::Value> = values.into_iter().collect();
    if values.is_empty() {
        return Ok(String::new());
    }
    Ok(view::view_values(&values, "\t") + "\n")
}

/// Reads `file`, or standard input for `-`; returns the text and the
/// name diagnostics use.
fn read_source(file: &str) -> Result<(String, String), String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("error: cannot read standard input: {e}"))?;
        return Ok((text, "stdin".to_owned()));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("error: cannot read {file}: {e}"))?;
    Ok((text, file.to_owned()))
}
