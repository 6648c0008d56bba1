//! Symbols: resolving them to locals, declared globals and allowed
//! globals, and checking names that new locals take.

use super::specials;
use super::{
    Compiler, EKind, Expr, R, closest_name, local_name, push_field, split_multi,
};
use crate::fennel::ast::{Node, Span};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text::mangle;
use crate::fennel::scope::BindKind;

impl Compiler<'_> {
    /// Resolves a symbol used as a value.
    pub fn symbol(&mut self, node: &Node, name: &str) -> R<Expr> {
        if name == "..." {
            if !self.scope.varargs() {
                return Err(Diag::new(
                    node.span,
                    "`...` used outside a function that takes `...`",
                    "add `...` to the enclosing function's parameters",
                ));
            }
            return Ok(Expr::new("...", EKind::Varg));
        }
        if name.contains(':') && name.len() > 1 && !name.starts_with(':') {
            return Err(Diag::new(
                node.span,
                format!("method call `{name}` used as a value"),
                format!(
                    "call it: ({name} args...), or use (: obj :method) in a call"
                ),
            ));
        }
        let (base, fields) = split_multi(name);
        let mut code = self.resolve(node.span, base)?;
        for field in fields {
            push_field(&mut code, field);
        }
        Ok(Expr::new(code, EKind::Name))
    }

    /// Returns the Lua name for a plain (non-multi) symbol.
    pub fn resolve(&self, span: Span, name: &str) -> R<String> {
        if let Some(b) = self.scope.lookup(name) {
            return Ok(b.lua.clone());
        }
        if let Some(lua) = self.scope.global(name) {
            return Ok(self.global_ref(lua));
        }
        if specials::is_special(name) {
            return Err(Diag::new(
                span,
                format!("special form `{name}` used as a value"),
                format!(
                    "wrap it in a function, such as (fn [...] ({name} ...))"
                ),
            ));
        }
        if self.global_allowed(name) {
            return Ok(self.global_ref(&mangle(name)));
        }
        let candidates = self
            .scope
            .visible_names()
            .chain(self.allowed.iter().copied());
        let help = match closest_name(name, candidates) {
            Some(close) => format!(
                "did you mean `{close}`? Otherwise bind `{name}` with \
                 `local`, `let` or `fn`, or declare it with \
                 (global {name} value)"
            ),
            None => format!(
                "bind it first with `local`, `let` or `fn`, declare it with \
                 (global {name} value), or check the spelling"
            ),
        };
        Err(Diag::new(span, format!("unknown global `{name}`"), help))
    }

    /// Returns whether the embedder allows the global `name`.
    pub fn global_allowed(&self, name: &str) -> bool {
        self.opts.allow_all_globals || self.allowed.contains(name)
    }

    /// Returns Lua text that reads the global `lua`: the bare name, or
    /// `_ENV.name` while a local of that Lua name is visible. Generated
    /// code reaches `type`, `table` and `error` this way, so a user
    /// local named `type` neither breaks it nor needs renaming.
    pub fn global_ref(&self, lua: &str) -> String {
        if self.scope.lua_name_in_use(lua) {
            format!("_ENV.{lua}")
        } else {
            lua.to_owned()
        }
    }

    /// Returns a Lua name for a new local called `name`, unique among
    /// the visible locals; the caller binds it with `scope.bind`.
    pub fn fresh_local(&mut self, name: &str) -> String {
        self.scope.fresh_local(local_name(name))
    }

    /// Declares a new local for `name` in the innermost scope and returns
    /// its Lua name.
    pub fn declare(&mut self, node: &Node, kind: BindKind) -> R<String> {
        let name = self.check_bindable(node)?;
        let lua = self.fresh_local(name);
        self.scope.bind(name, lua.clone(), kind);
        Ok(lua)
    }

    /// Checks that `node` is a symbol that may name a new local.
    pub fn check_bindable<'n>(&self, node: &'n Node) -> R<&'n str> {
        let Some(name) = node.sym() else {
            return Err(Diag::new(
                node.span,
                format!("expected a symbol to bind, found {}", node.describe()),
                "bind a plain name such as `x` here",
            ));
        };
        let multi =
            name.len() > 1 && (name.contains('.') || name.contains(':'));
        if multi && name != "..." {
            return Err(Diag::new(
                node.span,
                format!("cannot bind multi-symbol `{name}`"),
                "bind a plain name; use `set` to change a field",
            ));
        }
        if specials::is_special(name) {
            return Err(Diag::new(
                node.span,
                format!("local `{name}` would shadow a special form"),
                "pick another name",
            ));
        }
        Ok(name)
    }
}
