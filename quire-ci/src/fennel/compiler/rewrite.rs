//! Built-in macros that are rewrites into other forms: `->`, `->>`,
//! `-?>`, `-?>>`, `doto`, `partial`, `pick-values` and `with-open`.
//!
//! Each returns a new form made of nodes located at the original, so
//! errors inside the expansion still point at the user's code.
//! Temporaries are symbols no user can type.

use super::{Compiler, R};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;

fn list(at: &Node, items: Vec<Node>) -> Node {
    at.at(Kind::List(items))
}

fn sym(at: &Node, name: &str) -> Node {
    at.at(Kind::Sym(name.to_owned()))
}

impl Compiler<'_> {
    pub(super) fn rewrite(
        &mut self,
        node: &Node,
        name: &str,
        items: &[Node],
    ) -> R<Node> {
        match name {
            "->" | "->>" => {
                let Some(first) = items.get(1) else {
                    return Err(arity(node, name, "a value", "(-> x (f a) g)"));
                };
                let mut acc = first.clone();
                for step in &items[2..] {
                    acc = thread_step(step, acc, name == "->");
                }
                Ok(acc)
            }
            "-?>" | "-?>>" => {
                let Some(first) = items.get(1) else {
                    return Err(arity(
                        node,
                        name,
                        "a value",
                        "(-?> x (f a) g)",
                    ));
                };
                Ok(self.nil_safe_thread(
                    node,
                    first.clone(),
                    &items[2..],
                    name == "-?>",
                ))
            }
            "doto" => {
                let Some(first) = items.get(1) else {
                    return Err(arity(
                        node,
                        name,
                        "a value",
                        "(doto tbl (f a))",
                    ));
                };
                let tmp = self.gensym_node(node);
                let mut body = vec![
                    sym(node, "let"),
                    node.at(Kind::Seq(vec![tmp.clone(), first.clone()])),
                ];
                for step in &items[2..] {
                    body.push(thread_step(step, tmp.clone(), true));
                }
                body.push(tmp);
                Ok(list(node, body))
            }
            "partial" => {
                let Some(f) = items.get(1) else {
                    return Err(arity(
                        node,
                        name,
                        "a function",
                        "(partial f a b)",
                    ));
                };
                // As in Fennel, the function form is evaluated at each
                // call, and so are arguments that are literals or plain
                // names. Other arguments are evaluated once, here.
                let mut bindings = Vec::new();
                let mut call = vec![f.clone()];
                for arg in &items[2..] {
                    let plain = match &arg.kind {
                        Kind::Sym(s) => !s.contains(['.', ':']),
                        Kind::Str(_)
                        | Kind::Int(_)
                        | Kind::Float(_)
                        | Kind::Bool(_)
                        | Kind::Nil => true,
                        _ => false,
                    };
                    if plain {
                        call.push(arg.clone());
                        continue;
                    }
                    let tmp = self.gensym_node(arg);
                    bindings.push(tmp.clone());
                    bindings.push(arg.clone());
                    call.push(tmp);
                }
                call.push(sym(node, "..."));
                let func = list(
                    node,
                    vec![
                        sym(node, "fn"),
                        node.at(Kind::Seq(vec![sym(node, "...")])),
                        list(node, call),
                    ],
                );
                Ok(list(
                    node,
                    vec![sym(node, "let"), node.at(Kind::Seq(bindings)), func],
                ))
            }
            "pick-values" => {
                let count = match items.get(1).map(|n| &n.kind) {
                    Some(Kind::Int(n)) if *n >= 0 && items.len() <= 3 => {
                        *n as usize
                    }
                    _ => {
                        return Err(arity(
                            node,
                            name,
                            "a literal count and a form",
                            "(pick-values 2 (f))",
                        ));
                    }
                };
                if count > MAX_PICK_VALUES {
                    return Err(Diag::new(
                        items[1].span,
                        format!(
                            "`pick-values` count {count} is too large: each \
                             value becomes a Lua local, and a Lua function \
                             has at most 200"
                        ),
                        format!("pick at most {MAX_PICK_VALUES} values"),
                    ));
                }
                let value =
                    items.get(2).cloned().unwrap_or_else(|| node.at(Kind::Nil));
                if count == 0 {
                    return Ok(list(
                        node,
                        vec![
                            sym(node, "do"),
                            value,
                            list(node, vec![sym(node, "values")]),
                        ],
                    ));
                }
                let names: Vec<Node> =
                    (0..count).map(|_| self.gensym_node(node)).collect();
                let mut values = vec![sym(node, "values")];
                values.extend(names.iter().cloned());
                let pattern = list(node, names);
                Ok(list(
                    node,
                    vec![
                        sym(node, "let"),
                        node.at(Kind::Seq(vec![pattern, value])),
                        list(node, values),
                    ],
                ))
            }
            "with-open" => self.with_open(node, items),
            _ => unreachable!("rewrite called for `{name}`"),
        }
    }

    fn nil_safe_thread(
        &mut self,
        node: &Node,
        value: Node,
        steps: &[Node],
        first: bool,
    ) -> Node {
        let Some((step, rest)) = steps.split_first() else {
            return value;
        };
        let tmp = self.gensym_node(node);
        let next = thread_step(step, tmp.clone(), first);
        let inner = self.nil_safe_thread(node, next, rest, first);
        let test = list(
            node,
            vec![sym(node, "not="), node.at(Kind::Nil), tmp.clone()],
        );
        list(
            node,
            vec![
                sym(node, "let"),
                node.at(Kind::Seq(vec![tmp, value])),
                list(node, vec![sym(node, "if"), test, inner]),
            ],
        )
    }

    /// Expands `(with-open [name value ...] body...)`. The body runs in
    /// a protected call, and every handle is closed in reverse order
    /// whether the body returned or raised. An error is raised again
    /// after the handles are closed.
    fn with_open(&mut self, node: &Node, items: &[Node]) -> R<Node> {
        let Some(Kind::Seq(bindings)) = items.get(1).map(|n| &n.kind) else {
            return Err(arity(
                node,
                "with-open",
                "a binding sequence",
                "(with-open [f (io.open path)] body...)",
            ));
        };
        if bindings.len() % 2 == 1 || bindings.is_empty() {
            return Err(Diag::new(
                items[1].span,
                "`with-open` bindings must be name/value pairs",
                "write (with-open [f (io.open path)] body...)",
            ));
        }
        let mut closes = Vec::new();
        for pair in bindings.chunks(2).rev() {
            if pair[0].sym().is_none() {
                return Err(Diag::new(
                    pair[0].span,
                    "`with-open` binds names only",
                    "bind a plain name to each handle",
                ));
            }
            closes.push(list(
                node,
                vec![
                    sym(node, ":"),
                    pair[0].clone(),
                    node.at(Kind::Str(b"close".to_vec())),
                ],
            ));
        }
        let ok = self.gensym_node(node);
        let body_fn = list(node, {
            let mut f = vec![sym(node, "fn"), node.at(Kind::Seq(Vec::new()))];
            f.extend(items[2..].iter().cloned());
            f
        });
        let pcall =
            list(node, vec![node.at(Kind::LuaExpr("pcall".into())), body_fn]);
        let rethrow = list(
            node,
            vec![
                sym(node, "if"),
                ok.clone(),
                sym(node, "..."),
                list(
                    node,
                    vec![
                        node.at(Kind::LuaExpr("error".into())),
                        sym(node, "..."),
                        node.at(Kind::Int(0)),
                    ],
                ),
            ],
        );
        let mut closer = vec![
            sym(node, "fn"),
            node.at(Kind::Seq(vec![ok, sym(node, "...")])),
        ];
        closer.extend(closes);
        closer.push(rethrow);
        let call = list(node, vec![list(node, closer), pcall]);
        Ok(list(node, vec![sym(node, "let"), items[1].clone(), call]))
    }
}

/// Inserts `value` into `step` as its first (`->`) or last argument.
fn thread_step(step: &Node, value: Node, first: bool) -> Node {
    match &step.kind {
        Kind::List(items) if !items.is_empty() => {
            let mut out = items.clone();
            if first {
                out.insert(1, value);
            } else {
                out.push(value);
            }
            step.at(Kind::List(out))
        }
        _ => step.at(Kind::List(vec![step.clone(), value])),
    }
}

/// The largest `pick-values` count. Each value is bound to a Lua local,
/// and Lua 5.4 allows 200 active locals per function, some of which the
/// surrounding code already uses.
const MAX_PICK_VALUES: usize = 100;

fn arity(node: &Node, name: &str, what: &str, example: &str) -> Diag {
    Diag::new(
        node.span,
        format!("`{name}` expects {what}"),
        format!("write {example}"),
    )
}
