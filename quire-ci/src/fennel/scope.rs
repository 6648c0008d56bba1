//! Lexical scopes: which Fennel names are bound, and to what Lua names.
//!
//! A stack of frames, innermost last. Function frames record whether
//! `...` is available, because Lua rejects `...` outside a vararg
//! function and Fennel reports that at compile time.

use std::collections::HashMap;

/// How a name was introduced, which decides whether `set` may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `local`, `let`, parameters, loop and pattern variables.
    Local,
    /// `var`: the only locals that `set` may change.
    Var,
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub lua: String,
    pub kind: BindKind,
}

#[derive(Debug, Default)]
struct Frame {
    names: HashMap<String, Binding>,
    /// `Some(varargs)` for a function body, `None` for a block.
    function: Option<bool>,
    /// Number of `bind` calls on this frame, rebinding included.
    bind_count: usize,
}

/// The scope stack of one compilation.
#[derive(Debug)]
pub struct Scopes {
    frames: Vec<Frame>,
    /// Globals declared with `global`, by Fennel name, to Lua name.
    globals: HashMap<String, String>,
}

impl Scopes {
    /// Creates the chunk's scope; a chunk receives `...` from its loader.
    pub fn new() -> Scopes {
        Scopes {
            frames: vec![Frame {
                names: HashMap::new(),
                function: Some(true),
                bind_count: 0,
            }],
            globals: HashMap::new(),
        }
    }

    pub fn push_block(&mut self) {
        self.frames.push(Frame::default());
    }

    pub fn push_function(&mut self, varargs: bool) {
        self.frames.push(Frame {
            names: HashMap::new(),
            function: Some(varargs),
            bind_count: 0,
        });
    }

    pub fn pop(&mut self) {
        self.frames.pop();
        debug_assert!(!self.frames.is_empty());
    }

    pub fn bind(&mut self, name: &str, lua: String, kind: BindKind) {
        let frame = self.frames.last_mut().expect("a frame is open");
        frame.bind_count += 1;
        frame.names.insert(name.to_owned(), Binding { lua, kind });
    }

    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        self.frames.iter().rev().find_map(|f| f.names.get(name))
    }

    pub fn declare_global(&mut self, name: &str, lua: String) {
        self.globals.insert(name.to_owned(), lua);
    }

    pub fn global(&self, name: &str) -> Option<&str> {
        self.globals.get(name).map(String::as_str)
    }

    /// Returns how many bindings the innermost frame has made.
    pub fn innermost_bind_count(&self) -> usize {
        self.frames.last().map_or(0, |f| f.bind_count)
    }

    /// Returns every name visible here, locals and declared globals.
    pub fn visible_names(&self) -> impl Iterator<Item = &str> {
        self.frames
            .iter()
            .flat_map(|f| f.names.keys())
            .chain(self.globals.keys())
            .map(String::as_str)
    }

    /// Returns whether `...` may be used at this point.
    pub fn varargs(&self) -> bool {
        self.frames
            .iter()
            .rev()
            .find_map(|f| f.function)
            .unwrap_or(false)
    }
}
