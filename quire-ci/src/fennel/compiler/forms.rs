//! Special forms that bind, branch and sequence: `fn`, `lambda`,
//! `let`, `local`, `var`, `set`, `tset`, `global`, `if`, `when`, `do`,
//! `values`, `lua`, `quote`, `comment`, `tail!`, and the dispatch table
//! naming every special form and built-in macro.

use super::destructure::BindMode;
use super::{Compiler, EKind, Expr, Pos, R, push_field};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;
use crate::fennel::scope::BindKind;

/// Names the compiler handles itself; none may be shadowed by a local.
const SPECIALS: &[&str] = &[
    "fn",
    "lambda",
    "λ",
    "hashfn",
    "let",
    "local",
    "var",
    "set",
    "tset",
    "global",
    "if",
    "when",
    "do",
    "values",
    "and",
    "or",
    "not",
    "=",
    "not=",
    "~=",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "^",
    "..",
    "length",
    "#",
    ".",
    "?.",
    ":",
    "each",
    "for",
    "while",
    "collect",
    "icollect",
    "accumulate",
    "fcollect",
    "faccumulate",
    "->",
    "->>",
    "-?>",
    "-?>>",
    "doto",
    "match",
    "case",
    "match-try",
    "case-try",
    "with-open",
    "partial",
    "pick-values",
    "tail!",
    "lua",
    "comment",
    "lshift",
    "rshift",
    "band",
    "bor",
    "bxor",
    "bnot",
    "quote",
    "quasiquote",
    "unquote",
    "macro",
    "macros",
    "import-macros",
    "require-macros",
    "eval-compiler",
    "macrodebug",
    "include",
];

const MACRO_FORMS: &[&str] = &[
    "macro",
    "macros",
    "import-macros",
    "require-macros",
    "eval-compiler",
    "macrodebug",
    "include",
];

pub fn is_special(name: &str) -> bool {
    SPECIALS.contains(&name)
}

/// Returns whether a form certainly yields exactly one value.
pub fn single_valued(node: &Node) -> bool {
    match &node.kind {
        Kind::Sym(s) => s != "...",
        Kind::List(items) => {
            let Some(head) = items.first().and_then(Node::sym) else {
                return false;
            };
            match head {
                "fn" | "lambda" | "λ" | "hashfn" | "not" | "=" | "not="
                | "~=" | "<" | ">" | "<=" | ">=" | "+" | "-" | "*" | "/"
                | "//" | "%" | "^" | ".." | "length" | "#" | "." | "?."
                | "icollect" | "collect" | "fcollect" | "accumulate"
                | "faccumulate" | "lshift" | "rshift" | "band" | "bor"
                | "bxor" | "bnot" | "quote" | "partial" | "doto" => true,
                "and" | "or" => items[1..].iter().all(single_valued),
                "let" | "do" | "when" => {
                    items.len() > 1
                        && single_valued(items.last().expect("nonempty"))
                }
                "if" => {
                    let args = &items[1..];
                    let mut ok = args.len() % 2 == 1 || !args.is_empty();
                    for (i, form) in args.iter().enumerate() {
                        let is_branch = i % 2 == 1 || i + 1 == args.len();
                        if is_branch && !single_valued(form) {
                            ok = false;
                        }
                    }
                    ok
                }
                _ => false,
            }
        }
        _ => true,
    }
}

impl Compiler<'_> {
    /// Compiles `items` when its head names a special form or built-in
    /// macro; returns `None` for an ordinary call.
    pub(super) fn special(
        &mut self,
        node: &Node,
        name: &str,
        items: &[Node],
        pos: Pos,
    ) -> Option<R<Vec<Expr>>> {
        if self.scope.lookup(name).is_some() {
            return None;
        }
        let result = match name {
            "fn" => self.fn_form(node, items, pos, false),
            "lambda" | "λ" => self.fn_form(node, items, pos, true),
            "hashfn" => self.hashfn(node, items, pos),
            "let" => self.let_form(node, items, pos),
            "local" => self.local_form(node, items, pos, BindKind::Local),
            "var" => self.local_form(node, items, pos, BindKind::Var),
            "set" => self.set_form(node, items, pos),
            "tset" => self.tset_form(node, items, pos),
            "global" => self.global_form(node, items, pos),
            "if" => self.if_form(node, items, pos),
            "when" => self.when_form(node, items, pos),
            "do" => self.do_form(node, items, pos),
            "values" => self.values_form(node, items, pos),
            "lua" => self.lua_form(node, items, pos),
            "comment" => self.deliver(node.line, Vec::new(), pos),
            "quote" => self.quote_form(node, items, pos),
            "tail!" => self.tail_form(node, items, pos),
            "." => self.dot_form(node, items, pos),
            "?." => self.safe_dot_form(node, items, pos),
            ":" => self.colon_form(node, items, pos),
            "and" | "or" => self.and_or(node, name, items, pos),
            "not" => self.not_form(node, items, pos),
            "=" | "not=" | "~=" | "<" | ">" | "<=" | ">=" => {
                self.comparison(node, name, items, pos)
            }
            "+" | "-" | "*" | "/" | "//" | "%" | "^" | ".." | "lshift"
            | "rshift" | "band" | "bor" | "bxor" => {
                self.arithmetic(node, name, items, pos)
            }
            "bnot" => self.bnot_form(node, items, pos),
            "length" | "#" => self.length_form(node, items, pos),
            "each" => self.each_form(node, items, pos),
            "for" => self.for_form(node, items, pos),
            "while" => self.while_form(node, items, pos),
            "icollect" | "collect" | "fcollect" => {
                self.collect_form(node, name, items, pos)
            }
            "accumulate" | "faccumulate" => {
                self.accumulate_form(node, name, items, pos)
            }
            "match" | "case" => {
                self.match_form(node, name == "case", items, pos)
            }
            "match-try" | "case-try" => {
                self.match_try_form(node, name == "case-try", items, pos)
            }
            "->" | "->>" | "-?>" | "-?>>" | "doto" | "partial"
            | "pick-values" | "with-open" => {
                match self.rewrite(node, name, items) {
                    Ok(expanded) => self.compile(&expanded, pos),
                    Err(e) => Err(e),
                }
            }
            "quasiquote" | "unquote" => Err(Diag::new(
                node.span,
                format!(
                    "`{name}` is only meaningful inside macros, which are not supported yet"
                ),
                "build the value with ordinary table and sequence literals",
            )),
            _ if MACRO_FORMS.contains(&name) => Err(Diag::new(
                node.span,
                format!(
                    "`{name}` is not supported yet: quire's Fennel has no user-defined macros"
                ),
                "write the code without macros, for example as a function",
            )),
            _ => return None,
        };
        Some(result)
    }

    fn fn_form(
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
        if body.len() > 1
            && matches!(body[0].kind, Kind::Str(_) | Kind::Table(_))
        {
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
        let code = self.function_text(node, params, body, lambda)?;

        let expr = match (name, local_name) {
            (_, Some(lua)) => {
                let body =
                    code.strip_prefix("function").expect("function text");
                self.emit(node.line, &format!("local function {lua}{body}"));
                Expr::new(lua, EKind::Name)
            }
            (Some(n), None) => {
                let name = n.sym().expect("checked");
                let target = self.set_target_multi(n, name)?;
                self.emit(node.line, &format!("{target} = {code}"));
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
        let saved = std::mem::take(&mut self.out);
        self.scope.push_function(varargs);
        let result = self.function_body(node, params, body, lambda);
        self.scope.pop();
        let inner = std::mem::replace(&mut self.out, saved);
        let names = result?;
        Ok(format!("function({}) {inner}end", names.join(", ")))
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
                    let shown = p.sym().unwrap_or("argument");
                    let msg = format!(
                        "Missing argument {shown} on {}:{}",
                        self.opts.filename, p.line
                    );
                    let msg = lua_text::string_literal(msg.as_bytes());
                    self.emit(
                        p.line,
                        &format!("if nil == {lua} then error({msg}, 2) end"),
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

    fn let_form(
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

    fn local_form(
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

    fn global_form(
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

    fn set_form(
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

    fn tset_form(
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
        let t = self.one(&items[1])?;
        let mut target = t.prefix();
        for key in &items[2..items.len() - 1] {
            let k = self.one(key)?;
            target.push('[');
            target.push_str(&k.single());
            target.push(']');
        }
        let v = self.one(&items[items.len() - 1])?;
        self.emit(node.line, &format!("{target} = {}", v.single()));
        self.deliver(node.line, Vec::new(), pos)
    }

    fn if_form(
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
            let saved = std::mem::take(&mut self.out);
            let cond = self.one(&args[i]);
            let stmts = std::mem::replace(&mut self.out, saved);
            let cond = cond?;
            if i == 0 {
                self.out.push_str(&stmts);
                self.emit(args[i].line, &format!("if {} then", cond.single()));
            } else if stmts.is_empty() {
                self.emit(
                    args[i].line,
                    &format!("elseif {} then", cond.single()),
                );
            } else {
                self.out.push_str("else ");
                self.out.push_str(&stmts);
                self.emit(args[i].line, &format!("if {} then", cond.single()));
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

    fn when_form(
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
            c.emit(node.line, &format!("if {} then", cond.single()));
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

    fn do_form(
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

    fn values_form(
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

    fn lua_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let code = match items.get(1).map(|n| &n.kind) {
            Some(Kind::Str(s)) if items.len() == 2 => {
                String::from_utf8_lossy(s)
                    .replace([lua_text::MARK, lua_text::MARK_END], " ")
            }
            _ => {
                return Err(Diag::new(
                    node.span,
                    "`lua` expects one string of Lua code",
                    "write (lua \"code\")",
                ));
            }
        };
        // A `--` comment in the code must not swallow what follows.
        let code = if code.contains("--") {
            code + "\n"
        } else {
            code
        };
        if let Pos::Stmt = pos {
            self.emit(node.line, &code);
            return Ok(Vec::new());
        }
        self.deliver(node.line, vec![Expr::new(code, EKind::Single)], pos)
    }

    fn tail_form(
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
        if !matches!(pos, Pos::Tail) {
            return Err(Diag::new(
                node.span,
                "`tail!` used outside tail position",
                "make (tail! ...) the last form of the function body",
            ));
        }
        self.compile(call, pos)
    }

    fn quote_form(
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

    /// Binds `...` style parameters of a hash function and compiles it.
    fn hashfn(
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
        let saved = std::mem::take(&mut self.out);
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
        let inner = std::mem::replace(&mut self.out, saved);
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
