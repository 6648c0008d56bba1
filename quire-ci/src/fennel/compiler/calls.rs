//! Function calls, method calls and field access: `(f ...)`,
//! `(obj:m ...)`, `(: obj :m ...)`, `(. t k ...)` and `(?. t k ...)`.

use super::{Compiler, EKind, Expr, Pos, R, join, push_field};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;

impl Compiler<'_> {
    /// Compiles a call whose head is not a special form.
    pub(super) fn call(&mut self, node: &Node, items: &[Node]) -> R<Expr> {
        let head = &items[0];
        if let Some(name) = head.sym()
            && let Some(colon) = method_colon(name)
        {
            let (object, method) = (&name[..colon], &name[colon + 1..]);
            let object_node = head.at(Kind::Sym(object.to_owned()));
            let obj = self.symbol(&object_node, object)?;
            return self.method_call(node, obj, method.as_bytes(), &items[1..]);
        }
        let f = match &head.kind {
            Kind::Sym(name) => self.symbol(head, name)?,
            Kind::Str(_)
            | Kind::Int(_)
            | Kind::Float(_)
            | Kind::Bool(_)
            | Kind::Nil => {
                return Err(Diag::new(
                    head.span,
                    format!("cannot call {}", head.describe()),
                    "put a function or special form first in the list",
                ));
            }
            _ => self.one(head)?,
        };
        // The function is evaluated before its arguments.
        let mut operands = vec![f];
        self.args_after(&mut operands, &items[1..])?;
        let f = operands.remove(0);
        let mut code = String::new();
        lua_text::push_mark(&mut code, node.line);
        code.push_str(&format!("{}({})", f.prefix(), join(&operands)));
        Ok(Expr::new(code, EKind::Call))
    }

    /// Compiles `obj:method(args)`, binding `obj` to a temporary when it
    /// cannot be evaluated twice and the method name is not an identifier.
    pub(super) fn method_call(
        &mut self,
        node: &Node,
        obj: Expr,
        method: &[u8],
        args: &[Node],
    ) -> R<Expr> {
        let method_name = std::str::from_utf8(method)
            .ok()
            .filter(|m| lua_text::is_identifier(m));
        let obj = match method_name {
            Some(_) => obj,
            None if obj.is_pure() => obj,
            None => {
                let tmp = self.gensym();
                self.emit_fmt(
                    node.line,
                    format_args!("local {tmp} = {}", obj.single()),
                );
                Expr::new(tmp, EKind::Name)
            }
        };
        let mut operands = vec![obj];
        self.args_after(&mut operands, args)?;
        let obj_code = operands.remove(0).prefix();
        let args = operands;
        let mut code = String::new();
        lua_text::push_mark(&mut code, node.line);
        code += &match method_name {
            Some(m) => format!("{obj_code}:{m}({})", join(&args)),
            None => {
                let key = lua_text::string_literal(method);
                let sep = if args.is_empty() { "" } else { ", " };
                format!("{obj_code}[{key}]({obj_code}{sep}{})", join(&args))
            }
        };
        Ok(Expr::new(code, EKind::Call))
    }

    /// `(: obj :method args...)`.
    pub(super) fn colon_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() < 3 {
            return Err(Diag::new(
                node.span,
                "`:` expects an object and a method name",
                "write (: obj :method args...)",
            ));
        }
        let obj = self.one(&items[1])?;
        let expr = match &items[2].kind {
            Kind::Str(m) => {
                self.method_call(node, obj, &m.clone(), &items[3..])?
            }
            _ => {
                let obj_code = if obj.is_pure() {
                    obj.prefix()
                } else {
                    let tmp = self.gensym();
                    self.emit_fmt(
                        node.line,
                        format_args!("local {tmp} = {}", obj.single()),
                    );
                    tmp
                };
                let m = self.one(&items[2])?;
                let mut args = vec![Expr::new(obj_code.clone(), EKind::Name)];
                args.extend(self.args(&items[3..])?);
                Expr::new(
                    format!("{obj_code}[{}]({})", m.single(), join(&args)),
                    EKind::Call,
                )
            }
        };
        self.deliver(node.line, vec![expr], pos)
    }

    /// `(. t k1 k2 ...)`.
    pub(super) fn dot_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() < 2 {
            return Err(Diag::new(
                node.span,
                "`.` expects a table",
                "write (. tbl key ...)",
            ));
        }
        let t = self.one(&items[1])?;
        let mut code = t.prefix();
        let mut kind = t.kind;
        for key in &items[2..] {
            self.push_key(&mut code, key)?;
            kind = EKind::Name;
        }
        if kind == EKind::Call || kind == EKind::Varg {
            code = t.single();
            kind = EKind::Single;
        }
        self.deliver(node.line, vec![Expr::new(code, kind)], pos)
    }

    /// Appends the Lua index of `key` to `code`: `.name` for a string
    /// that is a Lua identifier, `[key]` for any other key.
    pub(super) fn push_key(&mut self, code: &mut String, key: &Node) -> R<()> {
        match &key.kind {
            Kind::Str(s)
                if std::str::from_utf8(s)
                    .is_ok_and(lua_text::is_identifier) =>
            {
                push_field(code, std::str::from_utf8(s).expect("checked"));
            }
            _ => {
                let k = self.one(key)?;
                code.push('[');
                code.push_str(&k.single());
                code.push(']');
            }
        }
        Ok(())
    }

    /// `(?. t k1 k2 ...)`: stops at the first nil.
    pub(super) fn safe_dot_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        if items.len() < 2 {
            return Err(Diag::new(
                node.span,
                "`?.` expects a table",
                "write (?. tbl key ...)",
            ));
        }
        let t = self.one(&items[1])?;
        let tmp = self.gensym();
        self.emit_fmt(node.line, format_args!("local {tmp} = {}", t.single()));
        for key in &items[2..] {
            let mut access = tmp.clone();
            self.push_key(&mut access, key)?;
            self.emit_fmt(
                node.line,
                format_args!("if {tmp} ~= nil then {tmp} = {access} end"),
            );
        }
        self.deliver(node.line, vec![Expr::new(tmp, EKind::Name)], pos)
    }
}

/// Returns the index of the method colon in `a.b:c`, if any.
fn method_colon(name: &str) -> Option<usize> {
    if name.len() < 3 || name.starts_with(':') || name.ends_with(':') {
        return None;
    }
    name.rfind(':')
}
