//! Fennel source to Lua 5.4 source.
//!
//! quire compiles pipelines (`.quire/ci.fnl`) and the server's
//! `config.fnl` with this module; mlua then runs the Lua. The language
//! is Fennel 1.5 as its reference manual defines it, without
//! user-defined macros: `macro`, `macros` and `import-macros` are
//! compile errors that name the form.
//!
//! The pipeline is [`reader`] (text to forms with spans), then the
//! single-pass [`compiler`] (forms to Lua text). Code from Fennel line
//! N starts on Lua line N wherever the output has not already passed
//! that line. A chunk loaded with the chunk name `@<filename>` therefore
//! gets runtime errors and tracebacks that name the right Fennel line,
//! without any line map.
//!
//! A reference to a global the embedder did not allow is a compile
//! error; [`lua_standard_globals`] lists Lua 5.4's own globals for
//! embedders that want them.

mod ast;
mod compiler;
mod diagnostics;
mod lua_text;
mod number;
mod reader;
mod scope;
pub mod view;

pub use diagnostics::CompileError;

/// Options of one compilation: the file name for diagnostics and the
/// globals a chunk may reference.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// The file name shown in diagnostics, such as `.quire/ci.fnl`.
    pub filename: String,
    /// Global names the chunk may reference besides its own locals.
    pub allowed_globals: Vec<String>,
    /// Allows a reference to any global name. Off by default, so a
    /// misspelt name is a compile error instead of a nil at run time.
    pub allow_all_globals: bool,
}

/// A compiled chunk.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Lua 5.4 source whose line N comes from Fennel line N. The chunk
    /// returns the values of the last top-level form.
    pub lua: String,
}

/// Nesting the compiler handles on the caller's stack. Deeper input is
/// compiled again on a thread of its own with [`DEEP_STACK_BYTES`] of
/// stack, because the compiler recurses once per nested form and an
/// unoptimised build uses several KiB of stack per level.
const INLINE_DEPTH: usize = 48;
/// Deepest nesting accepted at all, counting macro expansions.
const MAX_DEPTH: usize = 1000;
/// Stack reserved for deep input; only the pages used are committed.
const DEEP_STACK_BYTES: usize = 256 << 20;

/// Compiles Fennel `source` to Lua.
pub fn compile(
    source: &str,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    let to_error = |d| CompileError::from_diag(d, source, &opts.filename);
    let forms = reader::read_all(source).map_err(to_error)?;

    let mut inline = compiler::Compiler::new(opts, INLINE_DEPTH);
    // Generated Lua is about one and a half times the Fennel's size
    // (92 KB from 60 KB for the benchmark pipeline), so reserving that
    // up front saves regrowing the output buffer.
    inline.out.reserve(source.len() * 3 / 2);
    let result = inline.compile_chunk(&forms);
    let result = if inline.depth_exceeded {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("fennel-compile".into())
                .stack_size(DEEP_STACK_BYTES)
                .spawn_scoped(scope, || {
                    compiler::Compiler::new(opts, MAX_DEPTH)
                        .compile_chunk(&forms)
                })
                .map(|handle| handle.join())
        })
        .map_err(|e| CompileError::internal(opts, &e.to_string()))?
        .map_err(|_| CompileError::internal(opts, "compiler thread panicked"))?
    } else {
        result
    };
    let lua = result.map_err(to_error)?;
    Ok(Compiled { lua })
}

/// Reads `source` without compiling it; returns the number of top-level
/// forms, or the first syntax error.
pub fn read(
    source: &str,
    opts: &CompileOptions,
) -> Result<usize, CompileError> {
    reader::read_all(source)
        .map(|forms| forms.len())
        .map_err(|d| CompileError::from_diag(d, source, &opts.filename))
}

/// Lua 5.4's standard global names, as the reference interpreter
/// defines them with every standard library opened.
pub fn lua_standard_globals() -> &'static [&'static str] {
    &[
        "_G",
        "_VERSION",
        "assert",
        "collectgarbage",
        "coroutine",
        "debug",
        "dofile",
        "error",
        "getmetatable",
        "io",
        "ipairs",
        "load",
        "loadfile",
        "math",
        "next",
        "os",
        "package",
        "pairs",
        "pcall",
        "print",
        "rawequal",
        "rawget",
        "rawlen",
        "rawset",
        "require",
        "select",
        "setmetatable",
        "string",
        "table",
        "tonumber",
        "tostring",
        "type",
        "utf8",
        "warn",
        "xpcall",
    ]
}
