//! Lexical scopes: which Fennel names are bound, and to what Lua names.
//!
//! A stack of frames, innermost last. Function frames record whether
//! `...` is available, because Lua rejects `...` outside a vararg
//! function and Fennel reports that at compile time.
//!
//! Every new local gets a Lua name that no visible local uses yet, as
//! Fennel does (`x`, then `x0` when it shadows). So two Fennel names
//! that mangle alike (`a-b`, `a_b`) stay apart, and a local declared by
//! a hoisted statement cannot capture a name that an already compiled
//! operand refers to.

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
    /// Fennel names this frame binds, to unbind when it closes.
    names: Vec<String>,
    /// `Some(varargs)` for a function body, `None` for a block.
    function: Option<bool>,
    /// Number of `bind` calls on this frame, rebinding included.
    bind_count: usize,
    /// Set on the function frame of a form hoisted into an immediately
    /// called function, whose `return` is not the enclosing function's.
    hoisted: bool,
}

/// The scope stack of one compilation.
///
/// Bindings live in one map from Fennel name to a stack of (frame
/// index, binding), innermost last, so a lookup hashes the name once
/// however deep the nesting is.
#[derive(Debug)]
pub struct Scopes {
    frames: Vec<Frame>,
    bindings: HashMap<String, Vec<(usize, Binding)>>,
    /// Globals declared with `global`, by Fennel name, to Lua name.
    globals: HashMap<String, String>,
    /// How many visible locals use each Lua name.
    in_use: HashMap<String, u32>,
}

impl Scopes {
    /// Creates the chunk's scope; a chunk receives `...` from its loader.
    pub fn new() -> Scopes {
        Scopes {
            frames: vec![Frame {
                function: Some(true),
                ..Frame::default()
            }],
            bindings: HashMap::new(),
            globals: HashMap::new(),
            in_use: HashMap::new(),
        }
    }

    pub fn push_block(&mut self) {
        self.frames.push(Frame::default());
    }

    pub fn push_function(&mut self, varargs: bool) {
        self.frames.push(Frame {
            function: Some(varargs),
            ..Frame::default()
        });
    }

    /// Opens the function frame of a hoisted form; see [`Frame::hoisted`].
    pub fn push_hoisted(&mut self, varargs: bool) {
        self.frames.push(Frame {
            function: Some(varargs),
            hoisted: true,
            ..Frame::default()
        });
    }

    pub fn pop(&mut self) {
        let frame = self.frames.pop().expect("a frame is open");
        debug_assert!(!self.frames.is_empty());
        for name in frame.names {
            let popped = self.bindings.get_mut(&name).and_then(Vec::pop);
            if let Some((_, binding)) = popped {
                self.release(&binding.lua);
            }
        }
    }

    /// Marks one use of the Lua name `lua` as out of scope. Names that
    /// [`Self::fresh_local`] did not hand out, such as temporaries, are
    /// not counted and are ignored here.
    fn release(&mut self, lua: &str) {
        if let Some(count) = self.in_use.get_mut(lua) {
            *count -= 1;
            if *count == 0 {
                self.in_use.remove(lua);
            }
        }
    }

    /// Returns a Lua name for a new local that mangles from `base` and
    /// that no visible local uses. The name counts as used until the
    /// binding made with it goes out of scope or is replaced.
    pub fn fresh_local(&mut self, base: String) -> String {
        let lua = if self.in_use.contains_key(&base) {
            (0..)
                .map(|n| format!("{base}{n}"))
                .find(|candidate| !self.in_use.contains_key(candidate))
                .expect("some suffix is free")
        } else {
            base
        };
        *self.in_use.entry(lua.clone()).or_insert(0) += 1;
        lua
    }

    /// Returns whether a visible local uses the Lua name `lua`, so a
    /// global of that name must be reached through `_ENV`.
    pub fn lua_name_in_use(&self, lua: &str) -> bool {
        self.in_use.contains_key(lua)
    }

    /// Returns whether the innermost function frame is a hoisted form.
    pub fn in_hoisted_function(&self) -> bool {
        self.frames
            .iter()
            .rev()
            .find(|f| f.function.is_some())
            .is_some_and(|f| f.hoisted)
    }

    pub fn bind(&mut self, name: &str, lua: String, kind: BindKind) {
        let depth = self.frames.len() - 1;
        let frame = self.frames.last_mut().expect("a frame is open");
        frame.bind_count += 1;
        let binding = Binding { lua, kind };
        let stack = match self.bindings.get_mut(name) {
            Some(stack) => stack,
            None => self.bindings.entry(name.to_owned()).or_default(),
        };
        match stack.last_mut() {
            Some((at, existing)) if *at == depth => {
                // The replaced local is unreachable from Fennel now.
                let old = std::mem::replace(existing, binding);
                self.release(&old.lua);
            }
            _ => {
                stack.push((depth, binding));
                frame.names.push(name.to_owned());
            }
        }
    }

    pub fn lookup(&self, name: &str) -> Option<&Binding> {
        self.bindings
            .get(name)
            .and_then(|stack| stack.last())
            .map(|(_, binding)| binding)
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
        self.bindings
            .iter()
            .filter(|(_, stack)| !stack.is_empty())
            .map(|(name, _)| name)
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
