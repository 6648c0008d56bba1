//! Operators: arithmetic, `..`, bitwise, comparison (chained), `and`,
//! `or`, `not` and `length`.
//!
//! Binary operators are always parenthesised, so their text is a
//! valid Lua prefix expression and Lua's precedence rules cannot
//! regroup them. `and` and
//! `or` whose later operands need statements fall back to `if`
//! statements, so short-circuiting still holds.

use super::specials::single_valued;
use super::{Compiler, EKind, Expr, Pos, R};
use crate::fennel::ast::Node;
use crate::fennel::diagnostics::Diag;

impl Compiler<'_> {
    pub(super) fn arithmetic(
        &mut self,
        node: &Node,
        name: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let args = &items[1..];
        let op = match name {
            "lshift" => "<<",
            "rshift" => ">>",
            "band" => "&",
            "bor" => "|",
            "bxor" => "~",
            other => other,
        };
        let expr = match args.len() {
            0 => {
                let identity = match name {
                    "+" | "bor" | "bxor" => "0",
                    "*" => "1",
                    "band" => "-1",
                    ".." => "\"\"",
                    _ => {
                        return Err(Diag::new(
                            node.span,
                            format!("`{name}` expects at least one argument"),
                            format!("write ({name} a b)"),
                        ));
                    }
                };
                Expr::new(identity, EKind::Lit)
            }
            1 => {
                let a = self.one(&args[0])?;
                match name {
                    "-" => {
                        Expr::new(format!("(- {})", a.single()), EKind::Single)
                    }
                    "/" | "//" => Expr::new(
                        format!("(1 {op} {})", a.single()),
                        EKind::Single,
                    ),
                    "lshift" | "rshift" => Expr::new(
                        format!("(1 {op} {})", a.single()),
                        EKind::Single,
                    ),
                    // As in Fennel 1.5, these apply the operator to
                    // their identity, so `(+ "5")` is the number 5 and
                    // `(bor 1.5)` raises Lua's integer error.
                    "+" | "*" | "band" | "bor" | "bxor" => {
                        let identity = match name {
                            "*" => "1",
                            "band" => "-1",
                            _ => "0",
                        };
                        Expr::new(
                            format!("({identity} {op} {})", a.single()),
                            EKind::Single,
                        )
                    }
                    _ => Expr::new(
                        a.single(),
                        if a.is_multi() { EKind::Single } else { a.kind },
                    ),
                }
            }
            _ => {
                let mut operands = Vec::with_capacity(args.len());
                for arg in args {
                    let a = self.one_after(arg, &mut operands)?;
                    operands.push(a);
                }
                let mut code = String::from("(");
                for (i, a) in operands.iter().enumerate() {
                    if i > 0 {
                        code.push(' ');
                        code.push_str(op);
                        code.push(' ');
                    }
                    code.push_str(&a.single());
                }
                code.push(')');
                Expr::new(code, EKind::Single)
            }
        };
        self.deliver(node.line, vec![expr], pos)
    }

    pub(super) fn bnot_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        self.unary(node, items, pos, "bnot", "write (bnot x)", |a| {
            format!("(~ {})", a.single())
        })
    }

    pub(super) fn length_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        self.unary(node, items, pos, "length", "write (length tbl)", |a| {
            format!("#{}", a.prefix())
        })
    }

    pub(super) fn not_form(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        self.unary(node, items, pos, "not", "write (not x)", |a| {
            format!("(not {})", a.single())
        })
    }

    /// Compiles a one-operand operator, whose Lua text `render` builds
    /// from the compiled operand.
    fn unary(
        &mut self,
        node: &Node,
        items: &[Node],
        pos: Pos,
        word: &str,
        usage: &str,
        render: fn(&Expr) -> String,
    ) -> R<Vec<Expr>> {
        let [_, arg] = items else {
            return Err(Diag::new(
                node.span,
                format!("`{word}` expects one argument"),
                usage,
            ));
        };
        let a = self.one(arg)?;
        self.deliver(node.line, vec![Expr::new(render(&a), EKind::Single)], pos)
    }

    pub(super) fn comparison(
        &mut self,
        node: &Node,
        name: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let args = &items[1..];
        if args.len() < 2 {
            return Err(Diag::new(
                node.span,
                format!("`{name}` expects at least two arguments"),
                format!("write ({name} a b)"),
            ));
        }
        let op = match name {
            "=" => "==",
            "not=" | "~=" => "~=",
            other => other,
        };
        let joiner = if op == "~=" { " or " } else { " and " };
        // In a chain the middle operands appear twice, so each operand
        // that is not pure is stored in a local, in operand order. As in
        // Fennel, every operand is evaluated, even after a comparison
        // that already failed: `(< 2 1 (f))` calls `f`.
        let chain = args.len() > 2;
        let mut operands: Vec<Expr> = Vec::with_capacity(args.len());
        for arg in args {
            let v = self.one_after(arg, &mut operands)?;
            let v = if chain && !v.is_pure() {
                let tmp = self.gensym();
                self.emit_fmt(
                    node.line,
                    format_args!("local {tmp} = {}", v.single()),
                );
                Expr::new(tmp, EKind::Name)
            } else {
                v
            };
            operands.push(v);
        }
        let values: Vec<String> = operands.iter().map(Expr::single).collect();
        let mut code = String::from("(");
        for i in 0..values.len() - 1 {
            if i > 0 {
                code.push_str(joiner);
            }
            code.push_str(&format!("({} {op} {})", values[i], values[i + 1]));
        }
        code.push(')');
        if values.len() == 2 {
            code = format!("({} {op} {})", values[0], values[1]);
        }
        self.deliver(node.line, vec![Expr::new(code, EKind::Single)], pos)
    }

    pub(super) fn and_or(
        &mut self,
        node: &Node,
        name: &str,
        items: &[Node],
        pos: Pos,
    ) -> R<Vec<Expr>> {
        let args = &items[1..];
        match args.len() {
            0 => {
                let v = if name == "and" { "true" } else { "false" };
                return self.deliver(
                    node.line,
                    vec![Expr::new(v, EKind::Lit)],
                    pos,
                );
            }
            1 => return self.compile(&args[0], pos),
            _ => {}
        }
        // Try the plain operator form: it is right when no operand after
        // the first needs statements.
        let saved = self.begin_buffer();
        let mut parts = Vec::with_capacity(args.len());
        let mut clean = true;
        for (i, arg) in args.iter().enumerate() {
            let before = self.out.len();
            let v = match self.one(arg) {
                Ok(v) => v,
                Err(e) => {
                    self.out = saved;
                    return Err(e);
                }
            };
            if i > 0 && self.out.len() != before {
                clean = false;
                break;
            }
            parts.push(v.single());
        }
        if clean {
            let stmts = self.end_buffer(saved);
            self.out.push_str(&stmts);
            let code = format!("({})", parts.join(&format!(" {name} ")));
            return self.deliver(
                node.line,
                vec![Expr::new(code, EKind::Single)],
                pos,
            );
        }
        self.out = saved;
        let single = single_valued(node);
        self.statement_form(node.line, pos, single, |c, p| {
            c.and_or_statement(node, name, args, p)
        })
    }

    fn and_or_statement(
        &mut self,
        node: &Node,
        name: &str,
        args: &[Node],
        pos: Pos,
    ) -> R<()> {
        let tmp = self.gensym();
        let first = self.one(&args[0])?;
        self.emit_fmt(
            node.line,
            format_args!("local {tmp} = {}", first.single()),
        );
        let test = if name == "and" {
            tmp.clone()
        } else {
            format!("not {tmp}")
        };
        let mut ends = 0;
        for arg in &args[1..] {
            self.emit_fmt(arg.line, format_args!("if {test} then"));
            ends += 1;
            let v = self.one(arg)?;
            self.emit_fmt(arg.line, format_args!("{tmp} = {}", v.single()));
        }
        for _ in 0..ends {
            self.out.push_str("end ");
        }
        self.deliver(node.line, vec![Expr::new(tmp, EKind::Name)], pos)?;
        Ok(())
    }
}
