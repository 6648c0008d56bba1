//! The compiler core: bodies, statements, positions and hoisting.
//!
//! A single pass over the forms writes Lua text. Every form is compiled
//! for a [`Pos`]: as a statement, in tail position (the value is
//! returned), as an expression wanting some number of values, or
//! assigned into fresh temporaries. Forms that need Lua statements
//! (`if`, `let`, loops) used as expressions are hoisted: into
//! temporaries when the number of values is known, otherwise into an
//! immediately called function that forwards `...`. Statements are
//! written to the current block buffer with a line marker, so the
//! final text keeps Fennel line numbers (see [`super::lua_text`]).

mod calls;
mod destructure;
mod expr;
mod forms;
mod functions;
mod loops;
mod match_try;
mod names;
mod ops;
mod patterns;
mod rewrite;
mod specials;
mod symbols;

use std::collections::HashSet;

use super::CompileOptions;
use super::ast::{Kind, Node};
use super::diagnostics::Diag;
use super::lua_text;
use super::scope::Scopes;

pub type R<T> = Result<T, Diag>;

pub use expr::{EKind, Expr, Pos, join};
use names::closest_name;
pub use names::{local_name, push_field, split_multi};

pub struct Compiler<'a> {
    pub opts: &'a CompileOptions,
    pub scope: Scopes,
    /// The block being written; function bodies swap in a fresh one.
    pub out: String,
    gensyms: u32,
    allowed: HashSet<&'a str>,
    /// Cleared buffers kept for reuse by [`Self::begin_buffer`], so the
    /// many short-lived statement buffers do not each grow from empty.
    spare: Vec<String>,
    /// Current nesting of [`Self::compile`] calls.
    depth: usize,
    /// Nesting at which compilation stops with an error.
    max_depth: usize,
    /// Set when compilation stopped at `max_depth`.
    pub depth_exceeded: bool,
}

impl<'a> Compiler<'a> {
    /// Creates a compiler that stops at `max_depth` nested forms,
    /// counting the forms built-in macros such as `->` expand into.
    pub fn new(opts: &'a CompileOptions, max_depth: usize) -> Compiler<'a> {
        Compiler {
            opts,
            scope: Scopes::new(),
            out: String::new(),
            gensyms: 0,
            spare: Vec::new(),
            depth: 0,
            max_depth,
            depth_exceeded: false,
            allowed: opts.allowed_globals.iter().map(String::as_str).collect(),
        }
    }

    /// Compiles a whole chunk; it returns the last form's values.
    pub fn compile_chunk(&mut self, forms: &[Node]) -> R<String> {
        self.body(forms, Pos::Tail, 1)?;
        Ok(lua_text::place_lines(&self.out))
    }

    /// Returns a fresh temporary name of the form `_N_`.
    pub fn gensym(&mut self) -> String {
        self.gensyms += 1;
        format!("_{}_", self.gensyms)
    }

    /// Returns a fresh symbol node for rewrites; its name cannot be typed.
    pub fn gensym_node(&mut self, at: &Node) -> Node {
        self.gensyms += 1;
        at.at(Kind::Sym(format!("\u{0}g{}", self.gensyms)))
    }

    /// Starts writing into an empty buffer and returns the one that was
    /// in use, to be handed back to [`Self::end_buffer`].
    pub fn begin_buffer(&mut self) -> String {
        let fresh = self.spare.pop().unwrap_or_default();
        std::mem::replace(&mut self.out, fresh)
    }

    /// Resumes writing into `outer` and returns what was written since
    /// the matching [`Self::begin_buffer`].
    pub fn end_buffer(&mut self, outer: String) -> String {
        std::mem::replace(&mut self.out, outer)
    }

    /// Keeps `buffer`'s allocation for a later [`Self::begin_buffer`].
    pub fn recycle(&mut self, mut buffer: String) {
        buffer.clear();
        self.spare.push(buffer);
    }

    /// Appends one statement placed on `line`.
    pub fn emit(&mut self, line: u32, stmt: &str) {
        lua_text::push_mark(&mut self.out, line);
        if lua_text::starts_with_paren(stmt) {
            // Lua would read `x = a (f)()` as a call of `a`, so a
            // statement that opens with `(` starts with `;` instead.
            self.out.push(';');
        }
        self.out.push_str(stmt);
        self.out.push(' ');
    }

    /// Appends one statement placed on `line`, formatting it straight
    /// into the output buffer instead of through a temporary String.
    pub fn emit_fmt(&mut self, line: u32, stmt: std::fmt::Arguments) {
        use std::fmt::Write;
        lua_text::push_mark(&mut self.out, line);
        let start = self.out.len();
        self.out
            .write_fmt(stmt)
            .expect("writing to a String cannot fail");
        if lua_text::starts_with_paren(&self.out[start..]) {
            // See `emit`: a statement must not open with `(`.
            self.out.insert(start, ';');
        }
        self.out.push(' ');
    }

    /// Compiles `forms` as a body: all but the last as statements.
    pub fn body(
        &mut self,
        forms: &[Node],
        pos: Pos,
        line: u32,
    ) -> R<Vec<Expr>> {
        let Some((last, init)) = forms.split_last() else {
            return self.deliver(line, Vec::new(), pos);
        };
        for form in init {
            self.statement(form)?;
        }
        self.compile(last, pos)
    }

    /// Compiles `form` as a statement. Temporaries it declares are
    /// closed in a `do ... end` block, because Lua allows only 200
    /// locals per function and a long top level would otherwise run
    /// out. Forms that bind names for the code after them stay open.
    pub fn statement(&mut self, form: &Node) -> R<()> {
        let binds = matches!(
            form.head(),
            Some("local" | "var" | "fn" | "lambda" | "λ" | "lua")
        );
        if binds || form.list().is_none() {
            return self.compile(form, Pos::Stmt).map(drop);
        }
        let names_before = self.scope.innermost_bind_count();
        let outer = self.begin_buffer();
        let result = self.compile(form, Pos::Stmt);
        let inner = self.end_buffer(outer);
        result?;
        // A named `fn` nested in the form binds a name for later forms.
        let binds_names = self.scope.innermost_bind_count() != names_before;
        if !binds_names && inner.contains("local ") {
            self.out.push_str("do ");
            self.out.push_str(&inner);
            self.out.push_str("end ");
        } else {
            self.out.push_str(&inner);
        }
        self.recycle(inner);
        Ok(())
    }

    /// Sends already compiled expressions where `pos` wants them.
    pub fn deliver(
        &mut self,
        line: u32,
        exprs: Vec<Expr>,
        pos: Pos,
    ) -> R<Vec<Expr>> {
        match pos {
            Pos::Expr(want) => {
                if exprs.is_empty() && want != Some(0) && want.is_some() {
                    return Ok(vec![Expr::nil()]);
                }
                Ok(exprs)
            }
            Pos::Stmt => {
                for e in exprs {
                    match e.kind {
                        EKind::Call => self.emit(line, &e.code),
                        EKind::Lit | EKind::Varg => {}
                        EKind::Name if e.is_pure() => {}
                        _ => self.emit_fmt(
                            line,
                            format_args!("do local _ = {} end", e.code),
                        ),
                    }
                }
                Ok(Vec::new())
            }
            Pos::Tail => {
                if exprs.is_empty() {
                    self.emit(line, "return");
                } else {
                    self.emit_fmt(
                        line,
                        format_args!("return {}", join(&exprs)),
                    );
                }
                Ok(Vec::new())
            }
            Pos::Assign(names) => {
                let values = if exprs.is_empty() {
                    "nil".to_owned()
                } else {
                    join(&exprs)
                };
                self.emit_fmt(
                    line,
                    format_args!("{} = {}", names.join(", "), values),
                );
                Ok(Vec::new())
            }
        }
    }

    /// Runs `write`, which compiles statements for a given position, for
    /// a form used in position `pos`, hoisting it when `pos` wants
    /// expressions. `single` is true when the form yields exactly one
    /// value.
    pub fn statement_form(
        &mut self,
        line: u32,
        pos: Pos,
        single: bool,
        write: impl FnOnce(&mut Self, Pos) -> R<()>,
    ) -> R<Vec<Expr>> {
        let want = match pos {
            Pos::Expr(want) => want,
            _ => {
                write(self, pos)?;
                return Ok(Vec::new());
            }
        };
        let want = match want {
            None if single => Some(1),
            other => other,
        };
        match want {
            Some(0) => {
                write(self, Pos::Stmt)?;
                Ok(Vec::new())
            }
            Some(n) => {
                let names: Vec<String> =
                    (0..n).map(|_| self.gensym()).collect();
                self.emit_fmt(line, format_args!("local {}", names.join(", ")));
                write(self, Pos::Assign(&names))?;
                Ok(names
                    .into_iter()
                    .map(|n| Expr::new(n, EKind::Name))
                    .collect())
            }
            None => {
                let varargs = self.scope.varargs();
                let saved = self.begin_buffer();
                self.scope.push_hoisted(varargs);
                let result = write(self, Pos::Tail);
                self.scope.pop();
                let inner = self.end_buffer(saved);
                result?;
                let va = if varargs { "..." } else { "" };
                let code = format!("(function({va}) {inner}end)({va})");
                Ok(vec![Expr::new(code, EKind::Call)])
            }
        }
    }

    /// Compiles `node` to exactly one expression.
    pub fn one(&mut self, node: &Node) -> R<Expr> {
        self.one_after(node, &mut [])
    }

    /// Compiles `node` to exactly one expression that is evaluated after
    /// `earlier`; see [`Self::compile_after`].
    pub fn one_after(&mut self, node: &Node, earlier: &mut [Expr]) -> R<Expr> {
        let mut exprs =
            self.compile_after(node, Pos::Expr(Some(1)), earlier)?;
        if exprs.is_empty() {
            return Ok(Expr::nil());
        }
        if exprs[1..]
            .iter()
            .all(|e| e.is_pure() || e.kind == EKind::Varg)
        {
            return Ok(exprs.swap_remove(0));
        }
        // Extra values are dropped, but they are still evaluated, in
        // order: Lua evaluates every expression of a local statement.
        let tmp = self.gensym();
        self.emit_fmt(
            node.line,
            format_args!("local {tmp} = {}", join(&exprs)),
        );
        Ok(Expr::new(tmp, EKind::Name))
    }

    /// Compiles `node` for the expression position `pos`, as the next
    /// operand after the already compiled `earlier` ones. When `node`
    /// needs statements, which run before the whole expression, the
    /// impure `earlier` operands are first stored in locals, so
    /// operands are still evaluated left to right.
    pub fn compile_after(
        &mut self,
        node: &Node,
        pos: Pos,
        earlier: &mut [Expr],
    ) -> R<Vec<Expr>> {
        let outer = self.begin_buffer();
        let result = self.compile(node, pos);
        let stmts = self.end_buffer(outer);
        if !stmts.is_empty() {
            for e in earlier.iter_mut() {
                if !e.is_pure() {
                    let tmp = self.gensym();
                    self.emit_fmt(
                        node.line,
                        format_args!("local {tmp} = {}", e.single()),
                    );
                    *e = Expr::new(tmp, EKind::Name);
                }
            }
            self.out.push_str(&stmts);
        }
        self.recycle(stmts);
        result
    }

    /// Compiles argument-like forms: each to one value except the last,
    /// which keeps all of its values.
    pub fn args(&mut self, nodes: &[Node]) -> R<Vec<Expr>> {
        let mut out = Vec::with_capacity(nodes.len());
        self.args_after(&mut out, nodes)?;
        Ok(out)
    }

    /// Compiles argument-like forms into `out`, after the operands
    /// already in it.
    pub fn args_after(&mut self, out: &mut Vec<Expr>, nodes: &[Node]) -> R<()> {
        for (i, node) in nodes.iter().enumerate() {
            if i + 1 == nodes.len() {
                let exprs = self.compile_after(node, Pos::Expr(None), out)?;
                out.extend(exprs);
            } else {
                let e = self.one_after(node, out)?;
                let kind = if e.is_multi() { EKind::Single } else { e.kind };
                out.push(Expr::new(e.single(), kind));
            }
        }
        Ok(())
    }

    /// Compiles one form for `pos`.
    pub fn compile(&mut self, node: &Node, pos: Pos) -> R<Vec<Expr>> {
        if self.depth >= self.max_depth {
            self.depth_exceeded = true;
            return Err(Diag::new(
                node.span,
                "forms are nested too deeply to compile",
                format!(
                    "split the expression into named steps; at most {} \
                     levels, counting macro expansions, are allowed",
                    self.max_depth
                ),
            ));
        }
        self.depth += 1;
        let result = self.compile_form(node, pos);
        self.depth -= 1;
        result
    }

    fn compile_form(&mut self, node: &Node, pos: Pos) -> R<Vec<Expr>> {
        let exprs = match &node.kind {
            Kind::Nil => vec![Expr::nil()],
            Kind::Bool(b) => {
                vec![Expr::new(if *b { "true" } else { "false" }, EKind::Lit)]
            }
            Kind::Int(v) => {
                vec![Expr::new(lua_text::int_literal(*v), EKind::Lit)]
            }
            Kind::Float(v) => {
                vec![Expr::new(lua_text::float_literal(*v), EKind::Lit)]
            }
            Kind::Str(s) => {
                vec![Expr::new(lua_text::string_literal(s), EKind::Lit)]
            }
            Kind::Sym(name) => vec![self.symbol(node, name)?],
            // Expansions name Lua globals such as `pcall` this way, so
            // a user local of the same name must not capture them.
            Kind::LuaExpr(code) if lua_text::is_identifier(code) => {
                vec![Expr::new(self.global_ref(code), EKind::Name)]
            }
            Kind::LuaExpr(code) => vec![Expr::new(code.clone(), EKind::Single)],
            Kind::Seq(items) => {
                let exprs = self.args(items)?;
                vec![Expr::new(format!("{{{}}}", join(&exprs)), EKind::Single)]
            }
            Kind::Table(pairs) => vec![self.table(pairs)?],
            Kind::List(items) => return self.list(node, items, pos),
        };
        self.deliver(node.line, exprs, pos)
    }

    fn table(&mut self, pairs: &[(Node, Node)]) -> R<Expr> {
        // Computed keys and all values, in evaluation order; `None`
        // keys are written as `name = value`.
        let mut operands: Vec<Expr> = Vec::with_capacity(pairs.len() * 2);
        let mut names: Vec<Option<&str>> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            match &key.kind {
                Kind::Str(s)
                    if std::str::from_utf8(s)
                        .is_ok_and(lua_text::is_identifier) =>
                {
                    names.push(Some(std::str::from_utf8(s).expect("checked")));
                }
                Kind::Nil => {
                    return Err(Diag::new(
                        key.span,
                        "table key is nil",
                        "use a non-nil key; Lua tables cannot hold nil keys",
                    ));
                }
                _ => {
                    let k = self.one_after(key, &mut operands)?;
                    operands.push(k);
                    names.push(None);
                }
            }
            let v = self.one_after(value, &mut operands)?;
            operands.push(v);
        }

        let mut code = String::from("{");
        let mut next = operands.iter();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                code.push_str(", ");
            }
            match name {
                Some(name) => code.push_str(name),
                None => {
                    let k = next.next().expect("a computed key");
                    code.push('[');
                    code.push_str(&k.single());
                    code.push(']');
                }
            }
            code.push_str(" = ");
            let v = next.next().expect("a value per key");
            code.push_str(&v.single());
        }
        code.push('}');
        Ok(Expr::new(code, EKind::Single))
    }

    /// Compiles a list form: a special form or a call.
    fn list(&mut self, node: &Node, items: &[Node], pos: Pos) -> R<Vec<Expr>> {
        let Some(head) = items.first() else {
            return Err(Diag::new(
                node.span,
                "empty list `()` cannot be compiled",
                "put a function or special form first, or use [] for an empty table",
            ));
        };
        if let Some(name) = head.sym()
            && let Some(result) = self.special(node, name, items, pos)
        {
            return result;
        }
        let exprs = vec![self.call(node, items)?];
        self.deliver(node.line, exprs, pos)
    }
}
