//! Pattern matching: `match`, `case`, `match-try` and `case-try`.

use super::{Compiler, Expr, Pos, R};
use crate::fennel::ast::Node;
use crate::fennel::diagnostics::Diag;

impl Compiler<'_> {
    pub(super) fn match_form(
        &mut self,
        node: &Node,
        _case: bool,
        _items: &[Node],
        _pos: Pos,
    ) -> R<Vec<Expr>> {
        Err(Diag::new(
            node.span,
            "pattern matching is not supported yet",
            "use if",
        ))
    }

    pub(super) fn match_try_form(
        &mut self,
        node: &Node,
        _case: bool,
        _items: &[Node],
        _pos: Pos,
    ) -> R<Vec<Expr>> {
        Err(Diag::new(
            node.span,
            "pattern matching is not supported yet",
            "use if",
        ))
    }
}
