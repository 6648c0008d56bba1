//! Functions: `fn`, `lambda`/`λ` and `#(...)` hash functions.
//!
//! A body is compiled into a fresh buffer inside a function scope, so
//! `...` is checked against the function's own parameters. Named
//! functions are bound before their body, which lets them recurse.

use super::destructure::BindMode;
use super::{Compiler, EKind, Expr, Pos, R, push_field};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;
use crate::fennel::scope::BindKind;

impl Compiler<'_> {
    pub(super) fn fn_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
        lambda: bool,
    ) -> R<Vec<Expr>> {
        let mut i = 1;
        let name = match items.get(1) {
            Some(n) if n.sym().is_some() => {
                i = 2;
                Some(n)
            }
            _ => None,
        };
        let Some(params_node) = items.get(i) else {
            return Err(Diag::new(
                node.span,
                "function has no parameter list",
                "write (fn name [params] body...) or (fn [params] body...)",
            ));
        };
        let Kind::Seq(params) = &params_node.kind else {
            return Err(Diag::new(
                params_node.span,
                format!(
                    "expected a parameter list [...], found {}",
                    params_node.describe()
                ),
                "write the parameters in square brackets, as in (fn [a b] ...)",
            ));
        };
        let mut body = &items[i + 1..];
        if body.len() > 1 && is_docstring_or_metadata(&body[0]) {
            body = &body[1..];
        }

        // A plain name is bound before the body, so the function can
        // call itself.
        let local_name = match name {
            Some(n) if !n.sym().expect("checked").contains(['.', ':']) => {
                Some(self.declare(n, BindKind::Local)?)
            }
            _ => None,
        };
        // `(fn obj:method [...])` takes an implicit `self` first.
        let method =
            name.and_then(|n| n.sym()).is_some_and(|n| n.contains(':'));
        let code = if method {
            let mut with_self = Vec::with_capacity(params.len() + 1);
            with_self.push(params_node.at(Kind::Sym("self".into())));
            with_self.extend(params.iter().cloned());
            self.function_text(node, &with_self, body, lambda)?
        } else {
            self.function_text(node, params, body, lambda)?
        };

        let expr = match (name, local_name) {
            (_, Some(lua)) => {
                let body =
                    code.strip_prefix("function").expect("function text");
                self.emit_fmt(
                    node.line,
                    format_args!("local function {lua}{body}"),
                );
                Expr::new(lua, EKind::Name)
            }
            (Some(n), None) => {
                let name = n.sym().expect("checked");
                let target = match name.rsplit_once(':') {
                    Some((object, method)) => {
                        let mut target = self.set_target_multi(n, object)?;
                        push_field(&mut target, method);
                        target
                    }
                    None => self.set_target_multi(n, name)?,
                };
                self.emit_fmt(node.line, format_args!("{target} = {code}"));
                Expr::new(target, EKind::Name)
            }
            (None, _) => Expr::new(code, EKind::Single),
        };
        self.deliver(node.line, vec![expr], pos)
    }

    /// Returns the text `function(params) body end`.
    pub(super) fn function_text(
        &mut self,
        node: &Node,
        params: &[Node],
        body: &[Node],
        lambda: bool,
    ) -> R<String> {
        let varargs = params.last().is_some_and(|p| p.is_sym("..."));
        let saved = self.begin_buffer();
        self.scope.push_function(varargs);
        let result = self.function_body(node, params, body, lambda);
        self.scope.pop();
        let inner = self.end_buffer(saved);
        let names = result?;
        let text = format!("function({}) {inner}end", names.join(", "));
        self.recycle(inner);
        Ok(text)
    }

    fn function_body(
        &mut self,
        node: &Node,
        params: &[Node],
        body: &[Node],
        lambda: bool,
    ) -> R<Vec<String>> {
        let mut names = Vec::with_capacity(params.len());
        let mut patterns = Vec::new();
        for (i, p) in params.iter().enumerate() {
            match &p.kind {
                Kind::Sym(s) if s == "..." => {
                    if i + 1 != params.len() {
                        return Err(Diag::new(
                            p.span,
                            "`...` must be the last parameter",
                            "move `...` to the end of the parameter list",
                        ));
                    }
                    names.push("...".to_owned());
                }
                Kind::Sym(_) => names.push(self.declare(p, BindKind::Local)?),
                Kind::Seq(_) | Kind::Table(_) => {
                    let tmp = self.gensym();
                    names.push(tmp.clone());
                    patterns.push((p, tmp));
                }
                _ => {
                    return Err(Diag::new(
                        p.span,
                        format!("invalid parameter: {}", p.describe()),
                        "use a name, `...`, or a [sequence] or {table} pattern",
                    ));
                }
            }
        }
        if lambda {
            for (p, lua) in params.iter().zip(&names) {
                let checked = match p.sym() {
                    Some(s) => {
                        !(s.starts_with('?')
                            || s.starts_with('_')
                            || s == "...")
                    }
                    None => true,
                };
                if checked {
                    let param_name = p.sym().unwrap_or("argument");
                    let msg = format!(
                        "Missing argument {param_name} on {}:{}",
                        self.opts.filename, p.line
                    );
                    let msg = lua_text::string_literal(msg.as_bytes());
                    let error_fn = self.global_ref("error");
                    self.emit_fmt(
                        p.line,
                        format_args!(
                            "if nil == {lua} then {error_fn}({msg}, 2) end"
                        ),
                    );
                }
            }
        }
        for (pattern, tmp) in patterns {
            let source = Expr::new(tmp, EKind::Name);
            self.bind_from(pattern, source, BindMode::Local(BindKind::Local))?;
        }
        self.body(body, Pos::Tail, node.line)?;
        Ok(names)
    }

    /// Binds `...` style parameters of a hash function and compiles it.
    pub(super) fn hashfn(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let [_, body] = items else {
            return Err(Diag::new(
                node.span,
                "`hashfn` expects one form",
                "write #(f $1 $2)",
            ));
        };
        let mut max = 0;
        let mut varargs = false;
        scan_dollars(body, &mut max, &mut varargs);
        let saved = self.begin_buffer();
        self.scope.push_function(varargs);
        let mut params: Vec<String> = Vec::new();
        for i in 1..=max {
            let lua = self.gensym();
            self.scope
                .bind(&format!("${i}"), lua.clone(), BindKind::Local);
            if i == 1 {
                self.scope.bind("$", lua.clone(), BindKind::Local);
            }
            params.push(lua);
        }
        if varargs {
            self.scope.bind("$...", "...".into(), BindKind::Local);
            params.push("...".into());
        }
        let result = self.compile(body, Pos::Tail);
        self.scope.pop();
        let inner = self.end_buffer(saved);
        result?;
        let code = format!("function({}) {inner}end", params.join(", "));
        self.deliver(node.line, vec![Expr::new(code, EKind::Single)], pos)
    }
}

fn scan_dollars(node: &Node, max: &mut usize, varargs: &mut bool) {
    match &node.kind {
        Kind::Sym(s) => {
            let base = super::split_multi(s).0;
            let base = base.split(':').next().unwrap_or(base);
            if base == "$" {
                *max = (*max).max(1);
            } else if base == "$..." {
                *varargs = true;
            } else if let Some(d) = base.strip_prefix('$')
                && d.len() == 1
                && let Some(n) = d.chars().next().and_then(|c| c.to_digit(10))
                && n >= 1
            {
                *max = (*max).max(n as usize);
            }
        }
        Kind::List(items) => {
            if items.first().is_some_and(|h| h.is_sym("hashfn")) {
                return;
            }
            items.iter().for_each(|n| scan_dollars(n, max, varargs));
        }
        Kind::Seq(items) => {
            items.iter().for_each(|n| scan_dollars(n, max, varargs))
        }
        Kind::Table(pairs) => pairs.iter().for_each(|(k, v)| {
            scan_dollars(k, max, varargs);
            scan_dollars(v, max, varargs);
        }),
        _ => {}
    }
}

/// Returns whether the first form of a function body is its docstring,
/// or a metadata table whose keys all start with `fnl/`.
fn is_docstring_or_metadata(form: &Node) -> bool {
    match &form.kind {
        Kind::Str(_) => true,
        Kind::Table(pairs) => pairs.iter().all(|(key, _)| {
            matches!(&key.kind, Kind::Str(k) if k.starts_with(b"fnl/"))
        }),
        _ => false,
    }
}
