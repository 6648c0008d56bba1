//! Clause alternatives for `match` and `case`: the `where` guard split
//! and the expansion of `(or ...)` patterns that bind names.
//!
//! An `or` whose alternatives bind names cannot be one Lua condition,
//! because each alternative binds from different places. Such a pattern
//! is rewritten into whole-clause alternatives, one per combination,
//! and the count is capped so a clause cannot grow without bound.

use super::R;
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;

pub(super) fn split_where(pattern: &Node) -> (&Node, &[Node]) {
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
pub(super) fn alternatives(pattern: &Node) -> R<Vec<Node>> {
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
