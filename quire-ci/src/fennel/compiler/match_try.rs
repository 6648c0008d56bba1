//! `match-try` and `case-try`: a chain of pattern steps that stops at
//! the first value that does not match.
//!
//! Each step is rewritten into a `let` that captures the step's values
//! and a `match` or `case` whose success clause contains the next step.
//! Values that match no step go to the `catch` clauses, or are
//! returned unchanged when there are none.

use super::patterns::pattern_arity;
use super::{Compiler, Expr, Pos, R};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;

impl Compiler<'_> {
    pub(super) fn match_try_form(
        &mut self,
        node: &Node,
        case: bool,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let form = if case { "case-try" } else { "match-try" };
        let Some(subject) = items.get(1) else {
            return Err(Diag::new(
                node.span,
                format!("`{form}` expects a value and clauses"),
                format!(
                    "write ({form} value pattern body ... (catch pattern body ...))"
                ),
            ));
        };
        let mut steps = &items[2..];
        let mut catches: &[Node] = &[];
        if let Some(last) = steps.last()
            && last.head() == Some("catch")
        {
            catches = &last.list().expect("catch is a list")[1..];
            steps = &steps[..steps.len() - 1];
            if catches.len() % 2 == 1 {
                return Err(Diag::new(
                    last.span,
                    "`catch` clauses must be pattern/body pairs",
                    "write (catch pattern body ...)",
                ));
            }
        }
        if steps.is_empty() || steps.len() % 2 == 1 {
            return Err(Diag::new(
                node.span,
                format!("`{form}` steps must be pattern/body pairs"),
                "give every pattern a body",
            ));
        }
        let expanded =
            self.expand_try(node, case, subject.clone(), steps, catches);
        self.compile(&expanded, pos)
    }

    /// Rewrites one `case-try` step into a `let` and a `case`.
    fn expand_try(
        &mut self,
        node: &Node,
        case: bool,
        subject: Node,
        steps: &[Node],
        catches: &[Node],
    ) -> Node {
        let sym = |name: &str| node.at(Kind::Sym(name.to_owned()));
        let (pattern, body) = (&steps[0], &steps[1]);
        let arity = std::iter::once(pattern)
            .chain(catches.iter().step_by(2))
            .map(pattern_arity)
            .max()
            .unwrap_or(1);
        let temps: Vec<Node> =
            (0..arity).map(|_| self.gensym_node(node)).collect();
        let values = || {
            let mut v = vec![sym("values")];
            v.extend(temps.iter().cloned());
            node.at(Kind::List(v))
        };
        let next = if steps.len() > 2 {
            self.expand_try(node, case, body.clone(), &steps[2..], catches)
        } else {
            body.clone()
        };
        let mut matcher = vec![
            sym(if case { "case" } else { "match" }),
            values(),
            pattern.clone(),
            next,
        ];
        matcher.extend(catches.iter().cloned());
        if catches.is_empty() {
            matcher.push(sym("_"));
            matcher.push(values());
        }
        let binding = node
            .at(Kind::Seq(vec![node.at(Kind::List(temps.clone())), subject]));
        node.at(Kind::List(vec![
            sym("let"),
            binding,
            node.at(Kind::List(matcher)),
        ]))
    }
}
