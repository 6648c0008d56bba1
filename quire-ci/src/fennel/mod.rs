//! Fennel source to Lua 5.4 source.
//!
//! PLACEHOLDER: the compiler is being written. This file fixes the
//! public interface other modules build against.

use std::fmt;

/// What the embedder allows a compiled chunk to reference.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// The file name shown in diagnostics, such as `.quire/ci.fnl`.
    pub filename: String,
    /// Global names the chunk may reference besides its own locals.
    pub allowed_globals: Vec<String>,
}

/// A compiled chunk.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Lua 5.4 source whose line N comes from Fennel line N.
    pub lua: String,
}

/// A compile error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub filename: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.filename, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for CompileError {}

/// Compiles Fennel `source` to Lua.
pub fn compile(
    _source: &str,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    Err(CompileError {
        filename: opts.filename.clone(),
        line: 1,
        column: 1,
        message: "the Fennel compiler is not written yet".into(),
    })
}
