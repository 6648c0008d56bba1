//! Destructuring for `let`, `local`, `var`, `global`, `set`, function
//! parameters and loop bindings.
//!
//! A pattern is a symbol, a `[seq]` with optional `& rest` and
//! `&as whole`, a `{table}` of key to pattern with optional `&as`, or at
//! the top only, a `(list)` that takes several values. The value is
//! evaluated once into a temporary, then each part is read from it.
//! New names are declared only after their value is computed, so a
//! binding may refer to an outer name it shadows.

use super::{Compiler, EKind, Expr, Pos, R, join};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;
use crate::fennel::scope::BindKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    /// Declare new locals of this kind.
    Local(BindKind),
    /// Assign to existing `var`s, declared globals or fields.
    Set,
    /// Assign and declare globals.
    Global,
}

impl Compiler<'_> {
    /// Binds `pattern` to the value(s) of `value`.
    pub fn destructure(
        &mut self,
        pattern: &Node,
        value: &Node,
        mode: BindMode,
    ) -> R<()> {
        match &pattern.kind {
            Kind::List(items) if !is_field_target(pattern) => {
                let exprs = self.compile(value, Pos::Expr(None))?;
                self.bind_values(pattern, items, exprs, mode)
            }
            Kind::Sym(_) | Kind::List(_) => {
                let outer = self.begin_buffer();
                let v = self.one(value);
                let stmts = self.end_buffer(outer);
                let v = v?;
                let target = self.simple_target(pattern, mode)?;
                let decl = declaration(mode);
                // The new local is declared before the value's code, so
                // that code must not mention the name.
                let mentions = stmts.contains(target.as_str())
                    || v.code.contains(target.as_str());
                if !decl.is_empty() && !mentions && stmts.contains("local ") {
                    // Close the value's temporaries in a block, so they
                    // do not count against Lua's 200 locals afterwards.
                    self.emit_fmt(pattern.line, format_args!("local {target}"));
                    self.out.push_str("do ");
                    self.out.push_str(&stmts);
                    self.emit_fmt(
                        pattern.line,
                        format_args!("{target} = {}", v.single()),
                    );
                    self.out.push_str("end ");
                } else {
                    self.out.push_str(&stmts);
                    self.emit_fmt(
                        pattern.line,
                        format_args!("{decl}{target} = {}", v.single()),
                    );
                }
                self.recycle(stmts);
                self.commit_target(pattern, mode, &target);
                Ok(())
            }
            Kind::Seq(_) | Kind::Table(_) => {
                let v = self.one(value)?;
                self.bind_from(pattern, v, mode)
            }
            _ => Err(bad_pattern(pattern)),
        }
    }

    /// Binds a `(a b c)` pattern to a list of expressions.
    fn bind_values(
        &mut self,
        pattern: &Node,
        items: &[Node],
        exprs: Vec<Expr>,
        mode: BindMode,
    ) -> R<()> {
        if items.is_empty() {
            return Err(Diag::new(
                pattern.span,
                "empty multiple-value pattern",
                "name at least one value, as in (a b)",
            ));
        }
        let mut targets = Vec::with_capacity(items.len());
        let mut nested = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Sym(_) | Kind::List(_) if is_simple_target(item) => {
                    targets.push(self.simple_target(item, mode)?)
                }
                Kind::Seq(_) | Kind::Table(_) => {
                    let tmp = self.gensym();
                    targets.push(tmp.clone());
                    nested.push((item, tmp));
                }
                _ => return Err(bad_pattern(item)),
            }
        }
        let values = if exprs.is_empty() {
            "nil".to_owned()
        } else {
            join(&exprs)
        };
        let has_temps = !nested.is_empty();
        let decl = declaration(mode);
        if has_temps && decl.is_empty() {
            // Temporaries need declaring even when assigning.
            let temps: Vec<&str> =
                nested.iter().map(|(_, t)| t.as_str()).collect();
            self.emit_fmt(
                pattern.line,
                format_args!("local {}", temps.join(", ")),
            );
        }
        self.emit_fmt(
            pattern.line,
            format_args!("{decl}{} = {values}", targets.join(", ")),
        );
        let mut next_target = targets.iter();
        for item in items {
            let target = next_target.next().expect("a target per item");
            if is_simple_target(item) {
                self.commit_target(item, mode, target);
            }
        }
        for (item, tmp) in nested {
            self.bind_from(item, Expr::new(tmp, EKind::Name), mode)?;
        }
        Ok(())
    }

    /// Binds `pattern` to one already compiled value.
    pub fn bind_from(
        &mut self,
        pattern: &Node,
        value: Expr,
        mode: BindMode,
    ) -> R<()> {
        match &pattern.kind {
            Kind::Sym(_) | Kind::List(_) if is_simple_target(pattern) => {
                let target = self.simple_target(pattern, mode)?;
                let decl = declaration(mode);
                self.emit_fmt(
                    pattern.line,
                    format_args!("{decl}{target} = {}", value.single()),
                );
                self.commit_target(pattern, mode, &target);
                Ok(())
            }
            Kind::Seq(items) => {
                let src = self.as_local(pattern, value);
                let mut index = 1;
                let mut i = 0;
                while i < items.len() {
                    let item = &items[i];
                    if item.is_sym("&") || item.is_sym("&as") {
                        let Some(next) = items.get(i + 1) else {
                            return Err(Diag::new(
                                item.span,
                                format!(
                                    "`{}` must be followed by a pattern",
                                    item.sym().unwrap_or("&")
                                ),
                                "write [a b & rest] or [a b &as whole]",
                            ));
                        };
                        let v = if item.is_sym("&") {
                            let table = self.global_ref("table");
                            Expr::new(
                                format!("{{{table}.unpack({src}, {index})}}"),
                                EKind::Single,
                            )
                        } else {
                            Expr::new(src.clone(), EKind::Name)
                        };
                        self.bind_from(next, v, mode)?;
                        i += 2;
                        continue;
                    }
                    let v = Expr::new(format!("{src}[{index}]"), EKind::Name);
                    self.bind_from(item, v, mode)?;
                    index += 1;
                    i += 1;
                }
                Ok(())
            }
            Kind::Table(pairs) => {
                let src = self.as_local(pattern, value);
                for (key, sub) in pairs {
                    if key.is_sym("&as") {
                        self.bind_from(
                            sub,
                            Expr::new(src.clone(), EKind::Name),
                            mode,
                        )?;
                        continue;
                    }
                    let mut access = src.clone();
                    self.push_key(&mut access, key)?;
                    self.bind_from(sub, Expr::new(access, EKind::Name), mode)?;
                }
                Ok(())
            }
            Kind::List(_) => Err(Diag::new(
                pattern.span,
                "multiple-value pattern `(...)` inside another pattern",
                "use (a b) only as the whole binding, as in (let [(a b) (f)] ...)",
            )),
            _ => Err(bad_pattern(pattern)),
        }
    }

    /// Stores `value` in a fresh local unless it is already a plain local.
    fn as_local(&mut self, pattern: &Node, value: Expr) -> String {
        if value.kind == EKind::Name && lua_text::is_identifier(&value.code) {
            return value.code;
        }
        let tmp = self.gensym();
        self.emit_fmt(
            pattern.line,
            format_args!("local {tmp} = {}", value.single()),
        );
        tmp
    }

    /// Returns the Lua name or field that a symbol or field target
    /// assigns to. A new name enters the scope only afterwards, in
    /// [`Self::commit_target`], so the value cannot see it.
    fn simple_target(&mut self, node: &Node, mode: BindMode) -> R<String> {
        if let Some(list) = node.list() {
            // `(. tbl key ...)` as a `set` target.
            if mode != BindMode::Set || list.len() < 3 {
                return Err(bad_pattern(node));
            }
            let t = self.one(&list[1])?;
            let mut code = t.prefix();
            for key in &list[2..] {
                let k = self.one(key)?;
                code.push('[');
                code.push_str(&k.single());
                code.push(']');
            }
            return Ok(code);
        }
        let name = node.sym().expect("simple targets are symbols or lists");
        match mode {
            BindMode::Local(_) => {
                self.check_bindable(node)?;
                if name == "_" {
                    return Ok(self.gensym());
                }
                Ok(self.fresh_local(name))
            }
            BindMode::Global => {
                self.check_bindable(node)?;
                if self.scope.lookup(name).is_some() {
                    // Fennel rejects this too: later uses of the name
                    // would still read the local.
                    return Err(Diag::new(
                        node.span,
                        format!("global `{name}` conflicts with a local"),
                        format!(
                            "rename the local, or set the global with \
                             (set _G.{name} value)"
                        ),
                    ));
                }
                Ok(self.global_ref(&lua_text::mangle(name)))
            }
            BindMode::Set => self.set_target(node, name),
        }
    }

    /// Binds a new local or global name once its value is assigned to
    /// `lua`, the target [`Self::simple_target`] returned.
    fn commit_target(&mut self, node: &Node, mode: BindMode, lua: &str) {
        let Some(name) = node.sym() else { return };
        match mode {
            BindMode::Local(kind) if name != "_" => {
                self.scope.bind(name, lua.to_owned(), kind);
            }
            BindMode::Global => {
                self.scope.declare_global(name, lua_text::mangle(name));
            }
            _ => {}
        }
    }

    /// Returns the assignment target for `(set name ...)`.
    fn set_target(&mut self, node: &Node, name: &str) -> R<String> {
        if name.contains('.') && name.len() > 1 {
            return self.set_target_multi(node, name);
        }
        if let Some(b) = self.scope.lookup(name) {
            if b.kind == BindKind::Var {
                return Ok(b.lua.clone());
            }
            return Err(Diag::new(
                node.span,
                format!("cannot set `{name}`: it is a local, not a var"),
                format!(
                    "declare it with (var {name} ...) to change it later, or bind a new name"
                ),
            ));
        }
        if let Some(lua) = self.scope.global(name) {
            return Ok(self.global_ref(lua));
        }
        // As in Fennel, a global the embedder allows may be set.
        if self.global_allowed(name) {
            return Ok(self.global_ref(&lua_text::mangle(name)));
        }
        Err(Diag::new(
            node.span,
            format!("cannot set undeclared name `{name}`"),
            format!(
                "declare it first with (var {name} ...) or (global {name} ...)"
            ),
        ))
    }
}

/// Returns `local ` when `mode` declares new locals.
fn declaration(mode: BindMode) -> &'static str {
    match mode {
        BindMode::Local(_) => "local ",
        _ => "",
    }
}

fn is_field_target(node: &Node) -> bool {
    node.head() == Some(".")
}

fn is_simple_target(node: &Node) -> bool {
    matches!(node.kind, Kind::Sym(_)) || is_field_target(node)
}

fn bad_pattern(node: &Node) -> Diag {
    Diag::new(
        node.span,
        format!("cannot bind to {}", node.describe()),
        "bind a name, a [sequence] or {table} pattern, or (a b) for several values",
    )
}
