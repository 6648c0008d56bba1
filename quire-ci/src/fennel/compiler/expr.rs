//! Compiled Lua expressions and the positions forms compile for.

/// The destination of a form's values.
#[derive(Debug, Clone, Copy)]
pub enum Pos<'p> {
    /// Evaluate for side effects only.
    Stmt,
    /// Return the values from the enclosing function.
    Tail,
    /// Produce expressions: `Some(n)` values, or `None` for all of them.
    Expr(Option<usize>),
    /// Assign the values to these already declared Lua locals.
    Assign(&'p [String]),
}

/// The kind of a piece of Lua expression text, which decides where it
/// needs parentheses and how many values it can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EKind {
    /// A constant: no side effects, not usable as a prefix.
    Lit,
    /// A local, global or field access: usable as a prefix.
    Name,
    /// A function call: may produce any number of values.
    Call,
    /// `...`.
    Varg,
    /// Any other single-valued expression, wrapped in parentheses when
    /// used as a prefix.
    Single,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub code: String,
    pub kind: EKind,
}

impl Expr {
    pub fn new(code: impl Into<String>, kind: EKind) -> Expr {
        Expr {
            code: code.into(),
            kind,
        }
    }

    pub fn nil() -> Expr {
        Expr::new("nil", EKind::Lit)
    }

    /// Returns the text usable before `.x`, `[k]`, `(args)` or `:m()`.
    pub fn prefix(&self) -> String {
        match self.kind {
            EKind::Name | EKind::Call => self.code.clone(),
            _ => format!("({})", self.code),
        }
    }

    /// Returns text that yields exactly one value even at a list end.
    pub fn single(&self) -> String {
        match self.kind {
            EKind::Call | EKind::Varg => format!("({})", self.code),
            _ => self.code.clone(),
        }
    }

    pub fn is_multi(&self) -> bool {
        matches!(self.kind, EKind::Call | EKind::Varg)
    }

    /// Returns whether evaluating this twice is the same as once.
    pub fn is_pure(&self) -> bool {
        matches!(self.kind, EKind::Lit)
            || (self.kind == EKind::Name && !self.code.contains(['.', '[']))
    }
}

/// Joins expressions into a Lua expression list.
pub fn join(exprs: &[Expr]) -> String {
    let mut out = String::new();
    for (i, e) in exprs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&e.code);
    }
    out
}
