//! Special forms that bind, branch and sequence: `let`, `local`,
//! `var`, `set`, `tset`, `global`, `if`, `when`, `do`, `values`,
//! `lua`, `quote`, `comment` and `tail!`.

use super::destructure::BindMode;
use super::specials::single_valued;
use super::{Compiler, EKind, Expr, Pos, R, push_field};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;
use crate::fennel::scope::BindKind;

impl Compiler<'_> {
    pub(super) fn let_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let Some(Kind::Seq(bindings)) = items.get(1).map(|n| &n.kind) else {
            let at = items.get(1).unwrap_or(node);
            return Err(Diag::new(
                at.span,
                "`let` expects a binding sequence",
                "write (let [name value ...] body...)",
            ));
        };
        if bindings.len() % 2 == 1 {
            return Err(Diag::new(
                items[1].span,
                "`let` bindings have an odd number of forms",
                "give every name a value, as in [a 1 b 2]",
            ));
        }
        let body = &items[2..];
        let single = body.last().is_none_or(single_valued);
        self.statement_form(node.line, pos, single, |c, p| {
            c.emit(node.line, "do");
            c.scope.push_block();
            let result = (|| {
                for pair in bindings.chunks(2) {
                    c.destructure(
                        &pair[0],
                        &pair[1],
                        BindMode::Local(BindKind::Local),
                    )?;
                }
                c.body(body, p, node.line)
            })();
            c.scope.pop();
            result?;
            c.out.push_str("end ");
            Ok(())
        })
    }

    pub(super) fn local_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
        kind: BindKind,
    ) -> R<Vec<Expr>> {
        if items.len() != 3 {
            let word = if kind == BindKind::Var {
                "var"
            } else {
                "local"
            };
            return Err(Diag::new(
                node.span,
                format!("`{word}` expects a name and a value"),
                format!("write ({word} name value)"),
            ));
        }
        self.destructure(&items[1], &items[2], BindMode::Local(kind))?;
        self.deliver(node.line, Vec::new(), pos)
    }

    pub(super) fn global_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() != 3 {
            return Err(Diag::new(
                node.span,
                "`global` expects a name and a value",
                "write (global name value)",
            ));
        }
        self.destructure(&items[1], &items[2], BindMode::Global)?;
        self.deliver(node.line, Vec::new(), pos)
    }

    pub(super) fn set_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() != 3 {
            return Err(Diag::new(
                node.span,
                "`set` expects a target and a value",
                "write (set name value) or (set tbl.field value)",
            ));
        }
        self.destructure(&items[1], &items[2], BindMode::Set)?;
        self.deliver(node.line, Vec::new(), pos)
    }

    /// Returns the Lua assignment target for a multi-symbol `a.b.c`.
    pub(super) fn set_target_multi(
        &mut self,
        node: &Node,
        name: &str,
    ) -> R<String> {
        let (base, fields) = super::split_multi(name);
        if name.contains(':') {
            return Err(Diag::new(
                node.span,
                format!("cannot assign to method reference `{name}`"),
                "use `.` to name a field, as in tbl.field",
            ));
        }
        let mut code = self.resolve(node.span, base)?;
        for field in fields {
            push_field(&mut code, field);
        }
        Ok(code)
    }

    pub(super) fn tset_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() < 4 {
            return Err(Diag::new(
                node.span,
                "`tset` expects a table, at least one key and a value",
                "write (tset tbl key value)",
            ));
        }
        let mut operands = Vec::with_capacity(items.len() - 1);
        for item in &items[1..] {
            let e = self.one_after(item, &mut operands)?;
            operands.push(e);
        }
        let value = operands.pop().expect("tset has a value");
        let mut target = operands[0].prefix();
        for k in &operands[1..] {
            target.push('[');
            target.push_str(&k.single());
            target.push(']');
        }
        self.emit_fmt(node.line, format_args!("{target} = {}", value.single()));
        self.deliver(node.line, Vec::new(), pos)
    }

    pub(super) fn if_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let args = &items[1..];
        if args.len() < 2 {
            return Err(Diag::new(
                node.span,
                "`if` expects a condition and a branch",
                "write (if condition then-form else-form)",
            ));
        }
        let single = single_valued(node);
        self.statement_form(node.line, pos, single, |c, p| {
            c.if_statement(node, args, p)
        })
    }

    fn if_statement(&mut self, node: &Node, args: &[Node], pos: Pos) -> R<()> {
        let mut nested_ends = 0;
        let mut i = 0;
        while i + 1 < args.len() {
            let saved = self.begin_buffer();
            let cond = self.one(&args[i]);
            let stmts = self.end_buffer(saved);
            let cond = cond?;
            if i == 0 {
                self.out.push_str(&stmts);
                self.emit_fmt(
                    args[i].line,
                    format_args!("if {} then", cond.single()),
                );
            } else if stmts.is_empty() {
                self.emit_fmt(
                    args[i].line,
                    format_args!("elseif {} then", cond.single()),
                );
            } else {
                self.out.push_str("else ");
                self.out.push_str(&stmts);
                self.emit_fmt(
                    args[i].line,
                    format_args!("if {} then", cond.single()),
                );
                nested_ends += 1;
            }
            self.branch(&args[i + 1], pos)?;
            i += 2;
        }
        if i < args.len() {
            self.out.push_str("else ");
            self.branch(&args[i], pos)?;
        } else if matches!(pos, Pos::Tail) {
            // Fennel's `if` without an else branch yields nil.
            self.emit(node.line, "else return nil");
        }
        for _ in 0..=nested_ends {
            self.out.push_str("end ");
        }
        Ok(())
    }

    fn branch(&mut self, form: &Node, pos: Pos) -> R<()> {
        self.scope.push_block();
        let result = self.compile(form, pos);
        self.scope.pop();
        result.map(drop)
    }

    pub(super) fn when_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() < 2 {
            return Err(Diag::new(
                node.span,
                "`when` expects a condition",
                "write (when condition body...)",
            ));
        }
        let body = &items[2..];
        let single = body.last().is_none_or(single_valued);
        self.statement_form(node.line, pos, single, |c, p| {
            let cond = c.one(&items[1])?;
            c.emit_fmt(node.line, format_args!("if {} then", cond.single()));
            c.scope.push_block();
            let result = c.body(body, p, node.line);
            c.scope.pop();
            result?;
            if matches!(p, Pos::Tail) {
                c.emit(node.line, "else return nil");
            }
            c.out.push_str("end ");
            Ok(())
        })
    }

    pub(super) fn do_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let body = &items[1..];
        let binds = |n: &Node| {
            matches!(n.head(), Some("local" | "var" | "fn" | "lambda" | "λ"))
        };
        if body.len() == 1 && !binds(&body[0]) {
            return self.compile(&body[0], pos);
        }
        let single = body.last().is_none_or(single_valued);
        self.statement_form(node.line, pos, single, |c, p| {
            c.emit(node.line, "do");
            c.scope.push_block();
            let result = c.body(body, p, node.line);
            c.scope.pop();
            result?;
            c.out.push_str("end ");
            Ok(())
        })
    }

    pub(super) fn values_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let args = &items[1..];
        if let Pos::Stmt = pos {
            for a in args {
                self.compile(a, Pos::Stmt)?;
            }
            return Ok(Vec::new());
        }
        let exprs = self.args(args)?;
        if let Pos::Expr(_) = pos {
            return Ok(exprs);
        }
        self.deliver(node.line, exprs, pos)
    }

    /// Compiles `(lua "statements")` or `(lua "statements" "expression")`
    /// as Fennel does, where either string may be nil. A lone string
    /// that does not start with a statement keyword also works as an
    /// expression, so `(lua "1 + 2")` yields 3.
    pub(super) fn lua_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let code_of = |n: &Node| match &n.kind {
            Kind::Str(s) => Some(Some(raw_lua(s))),
            Kind::Nil => Some(None),
            _ => None,
        };
        let parts: Option<Vec<Option<String>>> =
            items[1..].iter().map(code_of).collect();
        let (statement, expression) = match parts.as_deref() {
            Some([Some(code)]) if starts_with_statement(code) => {
                (Some(code.clone()), None)
            }
            Some([Some(code)]) if matches!(pos, Pos::Stmt) => {
                (Some(code.clone()), None)
            }
            Some([Some(code)]) => (None, Some(code.clone())),
            Some([statement, expression]) => {
                (statement.clone(), expression.clone())
            }
            _ => {
                return Err(Diag::new(
                    node.span,
                    "`lua` expects a string of Lua code",
                    "write (lua \"statements\") or \
                     (lua \"statements\" \"expression\"), using nil \
                     for a part you do not need",
                ));
            }
        };
        if let Some(code) = &statement {
            self.emit(node.line, code);
            if expression.is_none()
                && matches!(pos, Pos::Tail)
                && code.trim_start().starts_with("return")
            {
                // The code returns by itself; a second return would
                // not be valid Lua.
                return Ok(Vec::new());
            }
        }
        let exprs = match expression {
            Some(code) => vec![Expr::new(code, EKind::Single)],
            None => Vec::new(),
        };
        self.deliver(node.line, exprs, pos)
    }

    pub(super) fn tail_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let call = match items {
            [_, call] if call.list().is_some() => call,
            _ => {
                return Err(Diag::new(
                    node.span,
                    "`tail!` expects one function call",
                    "write (tail! (f args...))",
                ));
            }
        };
        if !matches!(pos, Pos::Tail) || self.scope.in_hoisted_function() {
            return Err(Diag::new(
                node.span,
                "`tail!` used outside tail position",
                "make (tail! ...) the last form of the function body",
            ));
        }
        self.compile(call, pos)
    }

    pub(super) fn quote_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let [_, form] = items else {
            return Err(Diag::new(
                node.span,
                "`quote` expects one form",
                "write 'form or (quote form)",
            ));
        };
        let code = quoted(form)?;
        self.deliver(node.line, vec![Expr::new(code, EKind::Single)], pos)
    }
}

/// Returns Lua text for quoted data: symbols become their names.
fn quoted(form: &Node) -> R<String> {
    Ok(match &form.kind {
        Kind::Nil => "nil".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Int(v) => lua_text::int_literal(*v),
        Kind::Float(v) => lua_text::float_literal(*v),
        Kind::Str(s) => lua_text::string_literal(s),
        Kind::Sym(s) => lua_text::string_literal(s.as_bytes()),
        Kind::Seq(items) => {
            let parts: R<Vec<String>> = items.iter().map(quoted).collect();
            format!("{{{}}}", parts?.join(", "))
        }
        Kind::Table(pairs) => {
            let mut parts = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                parts.push(format!("[{}] = {}", quoted(k)?, quoted(v)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        Kind::List(_) | Kind::LuaExpr(_) => {
            return Err(Diag::new(
                form.span,
                "quoted lists are only meaningful inside macros, which are not supported yet",
                "quote only literals, symbols, sequences and tables",
            ));
        }
    })
}

/// Returns the Lua code of a `lua` string. Bytes that mark lines in
/// generated text become spaces, and code with a `--` comment gets a
/// newline so the comment cannot swallow what follows.
fn raw_lua(bytes: &[u8]) -> String {
    let code = String::from_utf8_lossy(bytes)
        .replace([lua_text::MARK, lua_text::MARK_END], " ");
    if code.contains("--") {
        code + "\n"
    } else {
        code
    }
}

/// Returns whether Lua `code` begins with a statement keyword, so it
/// cannot be an expression.
fn starts_with_statement(code: &str) -> bool {
    let word: String = code
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    matches!(
        word.as_str(),
        "return"
            | "local"
            | "if"
            | "for"
            | "while"
            | "do"
            | "repeat"
            | "goto"
            | "break"
    ) || (word == "function" && {
        // `function name()` is a statement, `function()` an expression.
        let rest = code.trim_start()["function".len()..].trim_start();
        !rest.starts_with('(')
    })
}
