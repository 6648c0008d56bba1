//! Loops and the forms built on them: `each`, `for`, `while`,
//! `icollect`, `collect`, `fcollect`, `accumulate` and `faccumulate`.
//!
//! Each form writes one Lua `for` or `while` statement. Accumulators and
//! result tables live in fresh temporaries, so the value a form yields
//! is a plain local that later code cannot shadow by accident.

use super::destructure::BindMode;
use super::{Compiler, EKind, Expr, Pos, R, join};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::scope::BindKind;

/// A loop's binding sequence split into its parts.
struct LoopSpec<'n> {
    main: Vec<&'n Node>,
    until: Option<&'n Node>,
    into: Option<&'n Node>,
}

fn loop_spec<'n>(
    node: &'n Node,
    form: &str,
    items: &'n [Node],
) -> R<(LoopSpec<'n>, &'n [Node])> {
    let Some(Kind::Seq(bindings)) = items.get(1).map(|n| &n.kind) else {
        return Err(Diag::new(
            items.get(1).unwrap_or(node).span,
            format!("`{form}` expects a binding sequence"),
            format!("write ({form} [bindings...] body...)"),
        ));
    };
    let mut spec = LoopSpec {
        main: Vec::new(),
        until: None,
        into: None,
    };
    let mut i = 0;
    while i < bindings.len() {
        let b = &bindings[i];
        if b.is_sym("&until") || b.is_sym("&into") {
            let Some(value) = bindings.get(i + 1) else {
                return Err(Diag::new(
                    b.span,
                    format!(
                        "`{}` must be followed by a form",
                        b.sym().unwrap_or("")
                    ),
                    "write &until condition or &into table",
                ));
            };
            if b.is_sym("&until") {
                spec.until = Some(value);
            } else {
                spec.into = Some(value);
            }
            i += 2;
            continue;
        }
        spec.main.push(b);
        i += 1;
    }
    Ok((spec, &items[2..]))
}

impl Compiler<'_> {
    /// Writes `if cond then break end` for an `&until` clause.
    fn until_check(&mut self, until: Option<&Node>) -> R<()> {
        if let Some(cond) = until {
            let c = self.one(cond)?;
            self.emit_fmt(
                cond.line,
                format_args!("if {} then break end", c.single()),
            );
        }
        Ok(())
    }

    /// Opens `for pattern... in iterator do`, binding the patterns.
    fn open_each(&mut self, node: &Node, form: &str, spec: &LoopSpec) -> R<()> {
        if spec.main.len() < 2 {
            return Err(Diag::new(
                node.span,
                format!("`{form}` expects binding names and an iterator"),
                format!("write ({form} [k v (pairs tbl)] ...)"),
            ));
        }
        let (iterator, patterns) =
            spec.main.split_last().expect("checked length");
        let iter = self.compile(iterator, Pos::Expr(None))?;
        let iter = if iter.is_empty() {
            "nil".to_owned()
        } else {
            join(&iter)
        };
        self.scope.push_block();
        let mut names = Vec::with_capacity(patterns.len());
        let mut nested = Vec::new();
        for p in patterns {
            match &p.kind {
                Kind::Sym(s) if s == "_" => names.push(self.gensym()),
                Kind::Sym(_) => names.push(self.declare(p, BindKind::Local)?),
                Kind::Seq(_) | Kind::Table(_) => {
                    let tmp = self.gensym();
                    names.push(tmp.clone());
                    nested.push((*p, tmp));
                }
                _ => {
                    return Err(Diag::new(
                        p.span,
                        format!(
                            "cannot bind a loop variable to {}",
                            p.describe()
                        ),
                        "use a name or a [sequence] or {table} pattern",
                    ));
                }
            }
        }
        self.emit_fmt(
            node.line,
            format_args!("for {} in {iter} do", names.join(", ")),
        );
        for (p, tmp) in nested {
            self.bind_from(
                p,
                Expr::new(tmp, EKind::Name),
                BindMode::Local(BindKind::Local),
            )?;
        }
        self.until_check(spec.until)
    }

    /// Opens `for i = start, stop[, step] do`.
    fn open_range(
        &mut self,
        node: &Node,
        form: &str,
        spec: &LoopSpec,
    ) -> R<()> {
        let main = &spec.main;
        if !(3..=4).contains(&main.len()) {
            return Err(Diag::new(
                node.span,
                format!(
                    "`{form}` expects a name, a start, a stop and an optional step"
                ),
                format!(
                    "write ({form} [i 1 10] ...) or ({form} [i 10 1 -1] ...)"
                ),
            ));
        }
        let mut range = Vec::with_capacity(3);
        for n in &main[1..] {
            range.push(self.one(n)?.single());
        }
        self.scope.push_block();
        let var = if main[0].is_sym("_") {
            self.gensym()
        } else {
            self.declare(main[0], BindKind::Local)?
        };
        self.emit_fmt(
            node.line,
            format_args!("for {var} = {} do", range.join(", ")),
        );
        self.until_check(spec.until)
    }

    fn close_loop(&mut self) {
        self.scope.pop();
        self.out.push_str("end ");
    }

    /// Opens the Lua `for` header of `form`: a numeric range for `for`,
    /// `fcollect` and `faccumulate`, an iterator call for the others.
    fn open_loop(&mut self, node: &Node, form: &str, spec: &LoopSpec) -> R<()> {
        if matches!(form, "for" | "fcollect" | "faccumulate") {
            self.open_range(node, form, spec)
        } else {
            self.open_each(node, form, spec)
        }
    }

    /// Compiles `each` or `for`, named by `form`, as a statement.
    pub(super) fn loop_form(
        &mut self,
        node: &Node,
        form: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let (spec, body) = loop_spec(node, form, items)?;
        self.open_loop(node, form, &spec)?;
        self.body(body, Pos::Stmt, node.line)?;
        self.close_loop();
        self.deliver(node.line, Vec::new(), pos)
    }

    pub(super) fn while_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let Some(cond_node) = items.get(1) else {
            return Err(Diag::new(
                node.span,
                "`while` expects a condition",
                "write (while condition body...)",
            ));
        };
        let saved = self.begin_buffer();
        let cond = self.one(cond_node);
        let stmts = self.end_buffer(saved);
        let cond = cond?;
        if stmts.is_empty() {
            self.emit_fmt(
                node.line,
                format_args!("while {} do", cond.single()),
            );
        } else {
            self.emit(node.line, "while true do");
            self.out.push_str(&stmts);
            self.emit_fmt(
                node.line,
                format_args!("if not {} then break end", cond.single()),
            );
        }
        self.scope.push_block();
        self.body(&items[2..], Pos::Stmt, node.line)?;
        self.close_loop();
        self.deliver(node.line, Vec::new(), pos)
    }

    pub(super) fn collect_form(
        &mut self,
        node: &Node,
        form: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let (spec, body) = loop_spec(node, form, items)?;
        let tbl = self.gensym();
        let init = match spec.into {
            Some(into) => self.one(into)?.single(),
            None => "{}".to_owned(),
        };
        self.emit_fmt(node.line, format_args!("local {tbl} = {init}"));
        let count = self.gensym();
        if form != "collect" {
            self.emit_fmt(node.line, format_args!("local {count} = #{tbl}"));
        }
        self.open_loop(node, form, &spec)?;
        let (last, init) = match body.split_last() {
            Some(split) => split,
            None => {
                return Err(Diag::new(
                    node.span,
                    format!("`{form}` has no body"),
                    "add a form that computes each element",
                ));
            }
        };
        // As in Fennel, `collect` takes a key and a value form, or one
        // form yielding both; the others take exactly one form.
        let most = if form == "collect" { 2 } else { 1 };
        if body.len() > most {
            let forms = if most == 2 {
                "1 or 2 body forms"
            } else {
                "one body form"
            };
            return Err(Diag::new(
                body[most].span,
                format!("`{form}` expects {forms}, found {}", body.len()),
                "wrap several forms in (do ...)",
            ));
        }
        if form == "collect" {
            let key = self.gensym();
            let value = self.gensym();
            let exprs = match init.first() {
                Some(key_form) => {
                    let mut pair = vec![self.one(key_form)?];
                    let v = self.one_after(last, &mut pair)?;
                    pair.push(v);
                    pair
                }
                None => self.compile(last, Pos::Expr(Some(2)))?,
            };
            let exprs = if exprs.is_empty() {
                "nil".to_owned()
            } else {
                join(&exprs)
            };
            self.emit_fmt(
                last.line,
                format_args!("local {key}, {value} = {exprs}"),
            );
            self.emit_fmt(last.line, format_args!("if {key} ~= nil and {value} ~= nil then {tbl}[{key}] = {value} end"));
        } else {
            let value = self.gensym();
            let v = self.one(last)?;
            self.emit_fmt(
                last.line,
                format_args!("local {value} = {}", v.single()),
            );
            self.emit_fmt(last.line, format_args!("if {value} ~= nil then {count} = {count} + 1 {tbl}[{count}] = {value} end"));
        }
        self.close_loop();
        self.deliver(node.line, vec![Expr::new(tbl, EKind::Name)], pos)
    }

    pub(super) fn accumulate_form(
        &mut self,
        node: &Node,
        form: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let (mut spec, body) = loop_spec(node, form, items)?;
        if spec.main.len() < 2 {
            return Err(Diag::new(
                node.span,
                format!(
                    "`{form}` expects an accumulator name and its initial value"
                ),
                format!("write ({form} [sum 0 ...] body)"),
            ));
        }
        if items[1].list().is_none()
            && let Kind::Seq(bindings) = &items[1].kind
            && bindings[0].sym().is_none()
        {
            let expanded = accumulate_destructured(node, form, bindings, body);
            return self.compile(&expanded, pos);
        }
        let acc_node = spec.main.remove(0);
        let init_node = spec.main.remove(0);
        let init = self.one(init_node)?;
        let acc = self.gensym();
        self.emit_fmt(
            node.line,
            format_args!("local {acc} = {}", init.single()),
        );
        self.scope.push_block();
        let name = match self.check_bindable(acc_node) {
            Ok(name) => name,
            Err(e) => {
                self.scope.pop();
                return Err(e);
            }
        };
        self.scope.bind(name, acc.clone(), BindKind::Var);
        self.open_loop(node, form, &spec)?;
        if body.len() > 1 {
            self.scope.pop();
            return Err(Diag::new(
                body[1].span,
                format!("`{form}` expects one body form, found {}", body.len()),
                "wrap several forms in (do ...)",
            ));
        }
        let result = self.body(body, Pos::Expr(Some(1)), node.line);
        let v = result?.into_iter().next().unwrap_or_else(Expr::nil);
        self.emit_fmt(node.line, format_args!("{acc} = {}", v.single()));
        self.close_loop();
        self.scope.pop();
        self.deliver(node.line, vec![Expr::new(acc, EKind::Name)], pos)
    }
}

/// Rewrites an `accumulate` or `faccumulate` whose accumulator is a
/// pattern, such as `(sum count)` or `[lo hi]`, as Fennel defines it:
/// `(do (var pattern init) (each [...] (set pattern body)) pattern)`,
/// where a `(a b)` accumulator yields `(values a b)`.
fn accumulate_destructured(
    node: &Node,
    form: &str,
    bindings: &[Node],
    body: &[Node],
) -> Node {
    let sym = |name: &str| node.at(Kind::Sym(name.to_owned()));
    let list = |items: Vec<Node>| node.at(Kind::List(items));
    let (pattern, init) = (&bindings[0], &bindings[1]);
    let mut body_form = vec![sym("do")];
    body_form.extend(body.iter().cloned());
    let iterate = if form == "faccumulate" { "for" } else { "each" };
    let result = match pattern.list() {
        Some(names) => {
            let mut values = vec![sym("values")];
            values.extend(names.iter().cloned());
            list(values)
        }
        None => pattern.clone(),
    };
    list(vec![
        sym("do"),
        list(vec![sym("var"), pattern.clone(), init.clone()]),
        list(vec![
            sym(iterate),
            node.at(Kind::Seq(bindings[2..].to_vec())),
            list(vec![sym("set"), pattern.clone(), list(body_form)]),
        ]),
        result,
    ])
}
