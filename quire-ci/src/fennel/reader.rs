//! The reader: Fennel source text to [`Node`] trees.
//!
//! One pass over the bytes with an explicit stack of open delimiters,
//! so deeply nested input cannot overflow the native stack. Symbols,
//! numbers and keywords share one token rule, as in Fennel: a run of
//! symbol characters is read as a number when it parses as one and as
//! a symbol otherwise. `{: x}` is expanded here into `{:x x}`.

use super::ast::{Kind, Node, Span};
use super::diagnostics::Diag;
use super::number::parse_number;

mod strings;

/// Reads every top-level form of `source`.
pub fn read_all(source: &str) -> Result<Vec<Node>, Diag> {
    Reader {
        text: source,
        src: source.as_bytes(),
        pos: 0,
        line: 1,
    }
    .read_all()
}

/// Maximum nesting of lists, sequences and tables. Deeper input is
/// rejected, because the compiler walks forms recursively.
const MAX_DEPTH: usize = 200;

struct Reader<'a> {
    text: &'a str,
    /// `text` as bytes; every delimiter is ASCII, so a token between
    /// delimiters is always a valid slice of `text`.
    src: &'a [u8],
    pos: usize,
    line: u32,
}

/// An open delimiter waiting for its closer.
struct Open {
    closer: u8,
    start: usize,
    line: u32,
    items: Vec<Node>,
    /// Prefixes (`'`, `` ` ``, `,`, `#`) waiting for the next form.
    prefixes: Vec<(&'static str, usize, u32)>,
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'"'
            | b';'
            | b'\''
            | b'`'
            | b','
    ) || b.is_ascii_whitespace()
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}

impl<'a> Reader<'a> {
    fn read_all(mut self) -> Result<Vec<Node>, Diag> {
        if self.src.starts_with(b"#!") {
            while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                self.pos += 1;
            }
        }
        // The first line where a form opens in column 1 while another
        // form is still open: where a missing closer most likely is.
        let mut nested_at_margin: Option<u32> = None;
        let mut stack: Vec<Open> = vec![Open {
            closer: 0,
            start: 0,
            line: 1,
            items: Vec::new(),
            prefixes: Vec::new(),
        }];

        loop {
            self.skip_space();
            let Some(&b) = self.src.get(self.pos) else {
                break;
            };
            let start = self.pos;
            let line = self.line;
            let node = match b {
                b'(' | b'[' | b'{' => {
                    if stack.len() > MAX_DEPTH {
                        return Err(Diag::new(
                            span(start, start + 1),
                            "forms are nested too deeply",
                            format!(
                                "nest lists, sequences and tables at most \
                                 {MAX_DEPTH} levels deep"
                            ),
                        ));
                    }
                    let closer = match b {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    let at_margin = start == 0 || self.src[start - 1] == b'\n';
                    if at_margin
                        && stack.len() > 1
                        && nested_at_margin.is_none()
                    {
                        nested_at_margin = Some(line);
                    }
                    self.pos += 1;
                    stack.push(Open {
                        closer,
                        start,
                        line,
                        items: Vec::new(),
                        prefixes: Vec::new(),
                    });
                    continue;
                }
                b')' | b']' | b'}' => {
                    self.pos += 1;
                    let top = stack.len() - 1;
                    if top == 0 {
                        return Err(Diag::new(
                            span(start, start + 1),
                            format!("unexpected closing `{}`", b as char),
                            "remove it, or add the opening delimiter it \
                             was meant to close",
                        ));
                    }
                    let open = &stack[top];
                    if open.closer != b {
                        return Err(Diag::new(
                            span(start, start + 1),
                            format!(
                                "mismatched closing `{}`: expected `{}`",
                                b as char, open.closer as char
                            ),
                            format!(
                                "close the form opened on line {} with `{}`",
                                open.line, open.closer as char
                            ),
                        ));
                    }
                    if let Some(&(name, at, _)) = open.prefixes.last() {
                        return Err(dangling_prefix(name, at));
                    }
                    let open = stack.pop().expect("stack is not empty");
                    self.close(open, b, start + 1)?
                }
                b'"' => self.read_string()?,
                b'\'' | b'`' | b',' => {
                    self.pos += 1;
                    let name = match b {
                        b'\'' => "quote",
                        b'`' => "quasiquote",
                        _ => "unquote",
                    };
                    let top = stack.last_mut().expect("stack is not empty");
                    top.prefixes.push((name, start, line));
                    continue;
                }
                b'#' if self.src.get(self.pos + 1).is_some_and(|&n| {
                    !is_delimiter(n) || n == b'(' || n == b'[' || n == b'{'
                }) =>
                {
                    self.pos += 1;
                    let top = stack.last_mut().expect("stack is not empty");
                    top.prefixes.push(("hashfn", start, line));
                    continue;
                }
                _ => self.read_token()?,
            };
            let top = stack.last_mut().expect("stack is not empty");
            let mut node = node;
            while let Some((name, at, pline)) = top.prefixes.pop() {
                let sp = span(at, node.span.end as usize);
                let head =
                    Node::new(Kind::Sym(name.into()), span(at, at + 1), pline);
                node = Node::new(Kind::List(vec![head, node]), sp, pline);
            }
            top.items.push(node);
        }

        if stack.len() > 1 {
            let open = stack.last().expect("stack is not empty");
            let mut help = format!("add the closing `{}`", open.closer as char);
            if stack.len() > 2 {
                help += &format!(
                    ". {} forms are still open, the outermost from line {}",
                    stack.len() - 1,
                    stack[1].line
                );
            }
            if let Some(line) = nested_at_margin {
                help += &format!(
                    ". The form on line {line} starts in column 1 but is \
                     nested, so a closer is probably missing before it"
                );
            }
            return Err(Diag::new(
                span(open.start, open.start + 1),
                format!(
                    "unclosed `{}` opened here",
                    self.src[open.start] as char
                ),
                help,
            ));
        }
        let root = stack.pop().expect("stack is not empty");
        if let Some(&(name, at, _)) = root.prefixes.last() {
            return Err(dangling_prefix(name, at));
        }
        Ok(root.items)
    }

    fn skip_space(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if b == b'\n' {
                self.line += 1;
                self.pos += 1;
            } else if b.is_ascii_whitespace() {
                self.pos += 1;
            } else if b == b';' {
                while self.pos < self.src.len() && self.src[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn close(
        &mut self,
        open: Open,
        closer: u8,
        end: usize,
    ) -> Result<Node, Diag> {
        let sp = span(open.start, end);
        let kind = match closer {
            b')' => Kind::List(open.items),
            b']' => Kind::Seq(open.items),
            _ => Kind::Table(table_pairs(open.items, sp)?),
        };
        Ok(Node::new(kind, sp, open.line))
    }

    fn read_token(&mut self) -> Result<Node, Diag> {
        let start = self.pos;
        let line = self.line;
        while let Some(&b) = self.src.get(self.pos) {
            if is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        let sp = span(start, self.pos);
        let text = &self.text[start..self.pos];
        if let Some(at) = text.bytes().position(|b| b.is_ascii_control()) {
            let at = start + at;
            return Err(Diag::new(
                span(at, at + 1),
                format!(
                    "invalid control character {:#04x} in source",
                    self.src[at]
                ),
                "remove it, or write it inside a string as an escape \
                 such as \\x01",
            ));
        }
        let kind = classify_token(text).map_err(|message| {
            Diag::new(sp, message, "write the number in Lua syntax, such as 42, 0x2a, 1.5e3 or 1_000")
        })?;
        Ok(Node::new(kind, sp, line))
    }
}

fn dangling_prefix(name: &str, at: usize) -> Diag {
    Diag::new(
        span(at, at + 1),
        format!("`{name}` prefix is not followed by a form"),
        "put a form right after the prefix character, or remove it",
    )
}

fn table_pairs(items: Vec<Node>, sp: Span) -> Result<Vec<(Node, Node)>, Diag> {
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut iter = items.into_iter();
    while let Some(key) = iter.next() {
        let Some(value) = iter.next() else {
            return Err(Diag::new(
                key.span,
                "table literal has an odd number of forms",
                "give every key a value, as in {:key value}",
            ));
        };
        if key.is_sym(":") {
            let Some(name) = value.sym() else {
                return Err(Diag::new(
                    value.span,
                    "`:` shorthand expects a symbol after it",
                    "write {: name} to mean {:name name}",
                ));
            };
            let name = name.to_owned();
            let key = key.at(Kind::Str(name.into_bytes()));
            pairs.push((key, value));
        } else {
            pairs.push((key, value));
        }
    }
    let _ = sp;
    Ok(pairs)
}

/// Turns a token into a literal, number or symbol.
fn classify_token(text: &str) -> Result<Kind, String> {
    match text {
        "nil" => return Ok(Kind::Nil),
        "true" => return Ok(Kind::Bool(true)),
        "false" => return Ok(Kind::Bool(false)),
        ".inf" | "+.inf" => return Ok(Kind::Float(f64::INFINITY)),
        "-.inf" => return Ok(Kind::Float(f64::NEG_INFINITY)),
        ".nan" | "+.nan" | "-.nan" => return Ok(Kind::Float(f64::NAN)),
        _ => {}
    }
    if let Some(rest) = text.strip_prefix(':')
        && !rest.is_empty()
        && !rest.starts_with(':')
    {
        return Ok(Kind::Str(rest.as_bytes().to_vec()));
    }
    if let Some(number) = parse_number(text) {
        return Ok(number);
    }
    let first = text.as_bytes()[0];
    let signed_digit = matches!(first, b'-' | b'+')
        && text.as_bytes().get(1).is_some_and(u8::is_ascii_digit);
    if first.is_ascii_digit() || signed_digit {
        return Err(format!("invalid number `{text}`"));
    }
    Ok(Kind::Sym(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Kind {
        let mut forms = read_all(src).expect("reads");
        assert_eq!(forms.len(), 1);
        forms.remove(0).kind
    }

    #[test]
    fn numbers_in_every_spelling() {
        assert_eq!(one("42"), Kind::Int(42));
        assert_eq!(one("-7"), Kind::Int(-7));
        assert_eq!(one("0xff"), Kind::Int(255));
        assert_eq!(one("1_000_000"), Kind::Int(1_000_000));
        assert_eq!(one("1.5e3"), Kind::Float(1500.0));
        assert_eq!(one(".5"), Kind::Float(0.5));
        assert_eq!(one(".inf"), Kind::Float(f64::INFINITY));
        assert_eq!(one("-.inf"), Kind::Float(f64::NEG_INFINITY));
        assert!(matches!(one(".nan"), Kind::Float(f) if f.is_nan()));
    }

    #[test]
    fn symbols_and_keywords() {
        assert_eq!(one("foo-bar?"), Kind::Sym("foo-bar?".into()));
        assert_eq!(one("a.b:c"), Kind::Sym("a.b:c".into()));
        assert_eq!(one(":key"), Kind::Str(b"key".to_vec()));
        assert_eq!(one("-"), Kind::Sym("-".into()));
        assert_eq!(one("..."), Kind::Sym("...".into()));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            one(r#""a\tb\x41\065\u{e9}""#),
            Kind::Str(b"a\tbAA\xc3\xa9".to_vec())
        );
        assert!(read_all(r#""\q""#).is_err());
    }

    #[test]
    fn table_shorthand_and_odd_count() {
        let Kind::Table(pairs) = one("{: x :y 2}") else {
            panic!()
        };
        assert_eq!(pairs[0].0.kind, Kind::Str(b"x".to_vec()));
        assert_eq!(pairs[0].1.kind, Kind::Sym("x".into()));
        let err = read_all("{:a 1 :b}").unwrap_err();
        assert!(err.message.contains("odd number"));
    }

    #[test]
    fn prefixes_wrap_forms() {
        let Kind::List(items) = one("#(+ $1 1)") else {
            panic!()
        };
        assert!(items[0].is_sym("hashfn"));
        let Kind::List(items) = one("'x") else {
            panic!()
        };
        assert!(items[0].is_sym("quote"));
    }

    #[test]
    fn control_characters_rejected_in_symbols() {
        let err = read_all("(print a\u{0}b)").unwrap_err();
        assert!(err.message.contains("invalid control character 0x00"));
        assert_eq!(err.span.start, 8);
    }

    #[test]
    fn shebang_and_comments_skipped() {
        let forms = read_all("#!/usr/bin/env fennel\n; hi\n1 ; two\n").unwrap();
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].line, 3);
    }

    #[test]
    fn unbalanced_delimiters_rejected() {
        assert!(read_all("(a").unwrap_err().message.contains("unclosed"));
        assert!(read_all("a)").unwrap_err().message.contains("unexpected"));
        assert!(read_all("(a]").unwrap_err().message.contains("mismatched"));
    }
}
