//! The table of special forms and built-in macros, and the dispatch
//! from a list's head symbol to the code that compiles it.
//!
//! Special names take precedence over globals, but a local of the same
//! name cannot exist: binding one is a compile error.

use std::collections::HashSet;

use super::destructure::BindMode;
use super::{Compiler, Expr, Pos, R};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;
use crate::fennel::scope::BindKind;

/// Names the compiler handles itself; none may be shadowed by a local.
/// [`MACRO_FORMS`] are special names as well.
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
];

/// Macro-system forms this compiler does not support. They are special
/// names too, so a local cannot shadow them either.
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
    static SET: std::sync::OnceLock<HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| SPECIALS.iter().chain(MACRO_FORMS).copied().collect())
        .contains(name)
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
        if !is_special(name) || self.scope.lookup(name).is_some() {
            return None;
        }
        let result = match name {
            "fn" => self.fn_form(node, items, pos, false),
            "lambda" | "λ" => self.fn_form(node, items, pos, true),
            "hashfn" => self.hashfn(node, items, pos),
            "let" => self.let_form(node, items, pos),
            "local" => self.binding_form(
                node,
                items,
                pos,
                BindMode::Local(BindKind::Local),
            ),
            "var" => self.binding_form(
                node,
                items,
                pos,
                BindMode::Local(BindKind::Var),
            ),
            "set" => self.binding_form(node, items, pos, BindMode::Set),
            "tset" => self.tset_form(node, items, pos),
            "global" => self.binding_form(node, items, pos, BindMode::Global),
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
            "each" | "for" => self.loop_form(node, name, items, pos),
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
}
