//! The forms the reader produces and the compiler consumes.
//!
//! Every node keeps its byte span and its 1-based line, because the
//! compiler places each form's Lua on that form's line and every
//! diagnostic points back into the source. Strings are bytes, not
//! `String`, because Lua strings may hold any byte (`"\xff"`).

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// One form with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
    /// 1-based source line of the form's first character.
    pub line: u32,
}

/// The kinds of form.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    /// A symbol as written, including multi-symbols such as `a.b:c`.
    Sym(String),
    List(Vec<Node>),
    /// A `[...]` sequence literal.
    Seq(Vec<Node>),
    /// A `{...}` table literal as key/value pairs in source order.
    Table(Vec<(Node, Node)>),
    /// Lua expression text made by a built-in macro expansion; the
    /// reader never produces it.
    LuaExpr(String),
}

impl Node {
    pub fn new(kind: Kind, span: Span, line: u32) -> Node {
        Node { kind, span, line }
    }

    /// Returns a node of `kind` located where `self` is.
    pub fn at(&self, kind: Kind) -> Node {
        Node {
            kind,
            span: self.span,
            line: self.line,
        }
    }

    pub fn sym(&self) -> Option<&str> {
        match &self.kind {
            Kind::Sym(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_sym(&self, name: &str) -> bool {
        self.sym() == Some(name)
    }

    pub fn list(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::List(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the head symbol when this is a list starting with one.
    pub fn head(&self) -> Option<&str> {
        self.list()
            .and_then(|items| items.first())
            .and_then(Node::sym)
    }

    /// Names the kind of form, for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Nil => "nil",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Sym(_) => "a symbol",
            Kind::List(_) => "a list",
            Kind::Seq(_) => "a sequence",
            Kind::Table(_) => "a table",
            Kind::LuaExpr(_) => "an expression",
        }
    }
}
