//! Pattern matching for `match` and `case`.
//!
//! The subject is evaluated once into temporaries. Each clause becomes
//! one Lua condition (type checks first, so nested field reads never
//! index a non-table) and a list of bindings made once it is true.
//! Without `where` guards the clauses form one `if`/`elseif` chain.
//! With guards, a `matched` flag carries the fall-through, because a
//! guard can only be tested after its clause's bindings exist. An
//! `(or ...)` whose alternatives bind names, at any depth, compiles as
//! one clause per combination of alternatives, sharing the same body.
//!
//! In `match`, a plain name already bound outside the pattern is
//! compared with, not rebound; in `case`, names always bind and
//! `(= name)` compares.

use super::{Compiler, EKind, Expr, Pos, R};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::lua_text;
use crate::fennel::scope::BindKind;

/// One alternative of one clause, ready to emit.
struct Clause<'n> {
    conds: Vec<String>,
    /// Fennel name, Lua accessor, in binding order.
    binds: Vec<(String, String)>,
    guards: Vec<&'n Node>,
    body: &'n Node,
}

fn is_multi_pattern(p: &Node) -> bool {
    match p.list() {
        Some(items) => !matches!(
            items.first().and_then(Node::sym),
            Some("where" | "or" | "=")
        ),
        None => false,
    }
}

/// Number of values the top-level patterns take.
pub(super) fn pattern_arity(p: &Node) -> usize {
    let Some(items) = p.list() else { return 1 };
    match items.first().and_then(Node::sym) {
        Some("where") => items.get(1).map_or(1, pattern_arity),
        Some("or") => items[1..].iter().map(pattern_arity).max().unwrap_or(1),
        Some("=") => 1,
        _ => items.len().max(1),
    }
}

impl Compiler<'_> {
    pub(super) fn match_form(
        &mut self,
        node: &Node,
        case: bool,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let form = if case { "case" } else { "match" };
        let Some(subject) = items.get(1) else {
            return Err(Diag::new(
                node.span,
                format!("`{form}` expects a value and clauses"),
                format!("write ({form} value pattern body ...)"),
            ));
        };
        let clauses = &items[2..];
        if clauses.is_empty() || clauses.len() % 2 == 1 {
            let at = clauses.last().unwrap_or(node);
            return Err(Diag::new(
                at.span,
                format!("`{form}` clauses must be pattern/body pairs"),
                "give every pattern a body; use _ as the last pattern for a default",
            ));
        }
        let arity = clauses
            .chunks(2)
            .map(|c| pattern_arity(&c[0]))
            .max()
            .unwrap_or(1);
        self.statement_form(node.line, pos, false, |c, p| {
            c.match_statement(node, case, subject, clauses, arity, p)
        })
    }

    fn match_statement(
        &mut self,
        node: &Node,
        case: bool,
        subject: &Node,
        clauses: &[Node],
        arity: usize,
        pos: Pos,
    ) -> R<()> {
        let subjects = self.match_subjects(subject, arity)?;

        let mut compiled = Vec::new();
        for pair in clauses.chunks(2) {
            let (pattern, body) = (&pair[0], &pair[1]);
            let (pattern, guards) = split_where(pattern);
            for alt in &alternatives(pattern)? {
                let mut clause = Clause {
                    conds: Vec::new(),
                    binds: Vec::new(),
                    guards: guards.iter().collect(),
                    body,
                };
                self.top_pattern(alt, &subjects, case, &mut clause)?;
                compiled.push(clause);
            }
        }

        if compiled.iter().all(|c| c.guards.is_empty()) {
            for (i, clause) in compiled.iter().enumerate() {
                let cond = conjunction(&clause.conds);
                let word = if i == 0 { "if" } else { "elseif" };
                self.emit_fmt(
                    clause.body.line,
                    format_args!("{word} {cond} then"),
                );
                self.clause_body(clause, pos)?;
            }
            if matches!(pos, Pos::Tail) {
                self.emit(node.line, "else return nil");
            }
            self.out.push_str("end ");
            return Ok(());
        }

        let flag = self.gensym();
        self.emit_fmt(node.line, format_args!("local {flag} = false"));
        for clause in &compiled {
            let cond = conjunction(&clause.conds);
            self.emit_fmt(
                clause.body.line,
                format_args!("if not {flag} and {cond} then"),
            );
            self.scope.push_block();
            let result = self.guarded_body(clause, &flag, pos);
            self.scope.pop();
            result?;
            self.out.push_str("end ");
        }
        if matches!(pos, Pos::Tail) {
            self.emit(node.line, "return nil");
        }
        Ok(())
    }

    /// Evaluates the subject once into plain locals.
    fn match_subjects(
        &mut self,
        subject: &Node,
        arity: usize,
    ) -> R<Vec<String>> {
        if arity == 1 {
            let v = self.one(subject)?;
            if v.kind == EKind::Name && lua_text::is_identifier(&v.code) {
                return Ok(vec![v.code]);
            }
            let tmp = self.gensym();
            self.emit_fmt(
                subject.line,
                format_args!("local {tmp} = {}", v.single()),
            );
            return Ok(vec![tmp]);
        }
        let exprs = self.compile(subject, Pos::Expr(None))?;
        let values = if exprs.is_empty() {
            "nil".to_owned()
        } else {
            super::join(&exprs)
        };
        let names: Vec<String> = (0..arity).map(|_| self.gensym()).collect();
        self.emit_fmt(
            subject.line,
            format_args!("local {} = {values}", names.join(", ")),
        );
        Ok(names)
    }

    /// Declares the clause's names in one statement, so a binding that
    /// shadows the subject's own name cannot change later accessors.
    fn bind_clause(&mut self, clause: &Clause) {
        if clause.binds.is_empty() {
            return;
        }
        let names: Vec<String> = clause
            .binds
            .iter()
            .map(|(n, _)| self.fresh_local(n))
            .collect();
        let values: Vec<&str> =
            clause.binds.iter().map(|(_, a)| a.as_str()).collect();
        self.emit_fmt(
            clause.body.line,
            format_args!("local {} = {}", names.join(", "), values.join(", ")),
        );
        for ((name, _), lua) in clause.binds.iter().zip(names) {
            self.scope.bind(name, lua, BindKind::Local);
        }
    }

    fn clause_body(&mut self, clause: &Clause, pos: Pos) -> R<()> {
        self.scope.push_block();
        self.bind_clause(clause);
        let result = self.compile(clause.body, pos);
        self.scope.pop();
        result.map(drop)
    }

    fn guarded_body(&mut self, clause: &Clause, flag: &str, pos: Pos) -> R<()> {
        self.bind_clause(clause);
        let mut ends = 0;
        for guard in &clause.guards {
            let g = self.one(guard)?;
            self.emit_fmt(guard.line, format_args!("if {} then", g.single()));
            ends += 1;
        }
        self.emit_fmt(clause.body.line, format_args!("{flag} = true"));
        self.compile(clause.body, pos)?;
        for _ in 0..ends {
            self.out.push_str("end ");
        }
        Ok(())
    }

    fn top_pattern(
        &mut self,
        pattern: &Node,
        subjects: &[String],
        case: bool,
        clause: &mut Clause,
    ) -> R<()> {
        if is_multi_pattern(pattern) {
            let items = pattern.list().expect("multi pattern is a list");
            for (item, subject) in items.iter().zip(subjects) {
                self.pattern(item, subject, case, clause)?;
            }
            return Ok(());
        }
        self.pattern(pattern, &subjects[0], case, clause)
    }

    /// Adds the conditions and bindings for matching `access` against
    /// `pattern`.
    fn pattern(
        &mut self,
        pattern: &Node,
        access: &str,
        case: bool,
        clause: &mut Clause,
    ) -> R<()> {
        match &pattern.kind {
            Kind::Sym(name) => {
                self.symbol_pattern(pattern, name, access, case, clause)
            }
            Kind::Nil => {
                clause.conds.push(format!("{access} == nil"));
                Ok(())
            }
            Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) | Kind::Str(_) => {
                let lit = self.one(pattern)?;
                clause.conds.push(format!("{access} == {}", lit.code));
                Ok(())
            }
            Kind::Seq(items) => {
                let type_fn = self.global_ref("type");
                clause
                    .conds
                    .push(format!("{type_fn}({access}) == \"table\""));
                let mut index = 1;
                let mut i = 0;
                while i < items.len() {
                    let item = &items[i];
                    if item.is_sym("&") || item.is_sym("&as") {
                        let Some(next) = items.get(i + 1) else {
                            return Err(Diag::new(
                                item.span,
                                "`&` and `&as` must be followed by a name",
                                "write [a & rest] or [a &as whole]",
                            ));
                        };
                        let value = if item.is_sym("&") {
                            let table = self.global_ref("table");
                            format!("{{{table}.unpack({access}, {index})}}")
                        } else {
                            access.to_owned()
                        };
                        if item.is_sym("&") && next.sym().is_none() {
                            // A rest pattern such as [a & [b c]] matches
                            // a fresh table of the remaining items.
                            let rest = format!("({value})");
                            self.pattern(next, &rest, case, clause)?;
                        } else {
                            let name = self.check_bindable(next)?.to_owned();
                            clause.binds.push((name, value));
                        }
                        i += 2;
                        continue;
                    }
                    self.pattern(
                        item,
                        &format!("{access}[{index}]"),
                        case,
                        clause,
                    )?;
                    index += 1;
                    i += 1;
                }
                Ok(())
            }
            Kind::Table(pairs) => {
                let type_fn = self.global_ref("type");
                clause
                    .conds
                    .push(format!("{type_fn}({access}) == \"table\""));
                for (key, sub) in pairs {
                    if key.is_sym("&as") {
                        let name = self.check_bindable(sub)?.to_owned();
                        clause.binds.push((name, access.to_owned()));
                        continue;
                    }
                    let mut field = access.to_owned();
                    match &key.kind {
                        Kind::Str(s)
                            if std::str::from_utf8(s)
                                .is_ok_and(lua_text::is_identifier) =>
                        {
                            field.push('.');
                            field.push_str(
                                std::str::from_utf8(s).expect("checked"),
                            );
                        }
                        _ => {
                            let k = self.one(key)?;
                            field = format!("{access}[{}]", k.single());
                        }
                    }
                    self.pattern(sub, &field, case, clause)?;
                }
                Ok(())
            }
            Kind::List(items) => {
                self.list_pattern(pattern, items, access, case, clause)
            }
            Kind::LuaExpr(_) => Err(bad_pattern(pattern)),
        }
    }

    fn symbol_pattern(
        &mut self,
        pattern: &Node,
        name: &str,
        access: &str,
        case: bool,
        clause: &mut Clause,
    ) -> R<()> {
        if name == "_" {
            return Ok(());
        }
        if name.len() > 1 && name.contains('.') {
            let v = self.symbol(pattern, name)?;
            clause.conds.push(format!("{access} == {}", v.code));
            return Ok(());
        }
        if let Some((_, first)) = clause.binds.iter().find(|(n, _)| n == name) {
            clause.conds.push(format!("{access} == {first}"));
            return Ok(());
        }
        let optional = name.starts_with('?') || name.starts_with('_');
        if !case
            && !optional
            && let Some(b) = self.scope.lookup(name)
        {
            clause.conds.push(format!("{access} == {}", b.lua));
            return Ok(());
        }
        self.check_bindable(pattern)?;
        if !optional {
            clause.conds.push(format!("{access} ~= nil"));
        }
        clause.binds.push((name.to_owned(), access.to_owned()));
        Ok(())
    }

    fn list_pattern(
        &mut self,
        pattern: &Node,
        items: &[Node],
        access: &str,
        case: bool,
        clause: &mut Clause,
    ) -> R<()> {
        match items.first().and_then(Node::sym) {
            Some("=") => {
                let [_, pinned] = items else {
                    return Err(Diag::new(
                        pattern.span,
                        "`(= name)` takes one name",
                        "write (= name)",
                    ));
                };
                let v = self.one(pinned)?;
                clause.conds.push(format!("{access} == {}", v.single()));
                Ok(())
            }
            Some("or") => {
                let mut alts = Vec::new();
                for alt in &items[1..] {
                    let mut sub = Clause {
                        conds: Vec::new(),
                        binds: Vec::new(),
                        guards: Vec::new(),
                        body: clause.body,
                    };
                    self.pattern(alt, access, case, &mut sub)?;
                    if !sub.binds.is_empty() {
                        return Err(Diag::new(
                            alt.span,
                            "an `or` pattern inside another pattern cannot bind names",
                            "move the `or` to the top of the clause, or match literals only",
                        ));
                    }
                    alts.push(format!("({})", conjunction(&sub.conds)));
                }
                clause.conds.push(format!("({})", alts.join(" or ")));
                Ok(())
            }
            Some("where") => Err(Diag::new(
                pattern.span,
                "`where` is only allowed around a whole clause pattern",
                "write (where pattern guard) as the clause's pattern",
            )),
            _ => Err(Diag::new(
                pattern.span,
                "a multiple-value pattern `(...)` is only allowed at the top of a clause",
                "use [...] to match a sequence inside a pattern",
            )),
        }
    }
}

fn split_where(pattern: &Node) -> (&Node, &[Node]) {
    match pattern.list() {
        Some(items)
            if items.first().is_some_and(|h| h.is_sym("where"))
                && items.len() >= 2 =>
        {
            (&items[1], &items[2..])
        }
        _ => (pattern, &[]),
    }
}

/// Most alternatives one clause may expand into.
const MAX_ALTERNATIVES: usize = 256;

/// Expands every `(or ...)` in `pattern` whose alternatives may bind
/// names into whole-clause alternatives, one per combination, so each
/// gets its own bindings. An `or` of literals only stays a condition.
fn alternatives(pattern: &Node) -> R<Vec<Node>> {
    // A top-level `or` always splits, because its alternatives may be
    // multiple-value patterns, which only work as whole patterns.
    let expanded: Vec<Node> = match pattern.list() {
        Some(items) if items.first().is_some_and(|h| h.is_sym("or")) => {
            items[1..].iter().flat_map(expand_or).collect()
        }
        _ => expand_or(pattern),
    };
    if expanded.len() > MAX_ALTERNATIVES {
        return Err(Diag::new(
            pattern.span,
            format!("pattern expands into {} alternatives", expanded.len()),
            format!(
                "split the clause: `or` patterns that bind names may \
                 combine into at most {MAX_ALTERNATIVES} alternatives"
            ),
        ));
    }
    Ok(expanded)
}

fn expand_or(pattern: &Node) -> Vec<Node> {
    let product = |parts: Vec<Vec<Node>>,
                   rebuild: &dyn Fn(Vec<Node>) -> Kind| {
        let mut combos: Vec<Vec<Node>> = vec![Vec::new()];
        for options in parts {
            if combos.len() * options.len() > MAX_ALTERNATIVES + 1 {
                // Report the size without building every combination.
                return vec![pattern.clone(); MAX_ALTERNATIVES + 1];
            }
            let mut next = Vec::with_capacity(combos.len() * options.len());
            for combo in &combos {
                for option in &options {
                    let mut longer = combo.clone();
                    longer.push(option.clone());
                    next.push(longer);
                }
            }
            combos = next;
        }
        combos
            .into_iter()
            .map(|items| pattern.at(rebuild(items)))
            .collect()
    };
    match &pattern.kind {
        Kind::List(items) => match items.first().and_then(Node::sym) {
            Some("or") if items[1..].iter().any(may_bind) => {
                items[1..].iter().flat_map(expand_or).collect()
            }
            Some("or" | "=" | "where") => vec![pattern.clone()],
            _ => product(items.iter().map(expand_or).collect(), &Kind::List),
        },
        Kind::Seq(items) => {
            product(items.iter().map(expand_or).collect(), &Kind::Seq)
        }
        Kind::Table(pairs) => {
            let keys: Vec<&Node> = pairs.iter().map(|(k, _)| k).collect();
            let rebuild = |values: Vec<Node>| {
                Kind::Table(
                    keys.iter().map(|k| (*k).clone()).zip(values).collect(),
                )
            };
            product(pairs.iter().map(|(_, v)| expand_or(v)).collect(), &rebuild)
        }
        _ => vec![pattern.clone()],
    }
}

/// Returns whether `pattern` contains a symbol that could bind a name.
fn may_bind(pattern: &Node) -> bool {
    match &pattern.kind {
        Kind::Sym(s) => s != "_" && !(s.len() > 1 && s.contains('.')),
        Kind::List(items) if items.first().is_some_and(|h| h.is_sym("=")) => {
            false
        }
        Kind::List(items) | Kind::Seq(items) => items.iter().any(may_bind),
        Kind::Table(pairs) => pairs.iter().any(|(_, v)| may_bind(v)),
        _ => false,
    }
}

fn conjunction(conds: &[String]) -> String {
    if conds.is_empty() {
        return "true".to_owned();
    }
    let parts: Vec<String> = conds.iter().map(|c| format!("({c})")).collect();
    parts.join(" and ")
}

fn bad_pattern(node: &Node) -> Diag {
    Diag::new(
        node.span,
        format!("cannot match against {}", node.describe()),
        "use a literal, a name, [...] or {...}",
    )
}
