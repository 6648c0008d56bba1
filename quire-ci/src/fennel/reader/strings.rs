//! String literals: the quoted text, its escape sequences and the
//! extended UTF-8 that `\u{XXX}` produces.
//!
//! Escapes follow Lua 5.4, because the compiled string is handed to Lua
//! as bytes: `\ddd`, `\xXX`, `\z` and `\u{XXX}` up to 31 bits are all
//! accepted, and anything else is an error naming the escape.

use super::{Reader, span};
use crate::fennel::ast::{Kind, Node};
use crate::fennel::diagnostics::Diag;

impl Reader<'_> {
    pub(super) fn read_string(&mut self) -> Result<Node, Diag> {
        let start = self.pos;
        let line = self.line;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return Err(Diag::new(
                    span(start, start + 1),
                    "unterminated string",
                    "add the closing `\"`",
                ));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => self.read_escape(&mut out)?,
                b'\n' => {
                    self.line += 1;
                    out.push(b);
                    self.pos += 1;
                }
                _ => {
                    // Copy the run of plain bytes up to the next quote,
                    // backslash or newline at once.
                    let run = self.src[self.pos..]
                        .iter()
                        .position(|c| matches!(c, b'"' | b'\\' | b'\n'))
                        .unwrap_or(self.src.len() - self.pos);
                    out.extend_from_slice(&self.src[self.pos..self.pos + run]);
                    self.pos += run;
                }
            }
        }
        Ok(Node::new(Kind::Str(out), span(start, self.pos), line))
    }

    fn read_escape(&mut self, out: &mut Vec<u8>) -> Result<(), Diag> {
        let at = self.pos;
        self.pos += 1;
        let bad = |end: usize, what: &str| {
            Diag::new(
                span(at, end),
                format!("invalid escape sequence {what}"),
                "use one of \\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \\' \\z \
                 \\xXX \\ddd \\u{XXX}, or write \\\\ for a backslash",
            )
        };
        let Some(&b) = self.src.get(self.pos) else {
            return Err(bad(self.pos, "at end of input"));
        };
        self.pos += 1;
        let simple = match b {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            b'\\' => Some(b'\\'),
            b'"' => Some(b'"'),
            b'\'' => Some(b'\''),
            b'\n' => {
                self.line += 1;
                Some(b'\n')
            }
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            return Ok(());
        }
        match b {
            b'\r' => {
                if self.src.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                    self.line += 1;
                }
                out.push(b'\n');
            }
            b'z' => {
                while let Some(&c) = self.src.get(self.pos) {
                    if !c.is_ascii_whitespace() {
                        break;
                    }
                    if c == b'\n' {
                        self.line += 1;
                    }
                    self.pos += 1;
                }
            }
            b'x' => {
                let digits = self.src.get(self.pos..self.pos + 2);
                let value = digits
                    .and_then(|d| std::str::from_utf8(d).ok())
                    .and_then(|d| u8::from_str_radix(d, 16).ok())
                    .ok_or_else(|| {
                        bad(self.pos, "\\x: expected two hex digits")
                    })?;
                self.pos += 2;
                out.push(value);
            }
            b'0'..=b'9' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.src.get(self.pos) {
                        Some(&d) if d.is_ascii_digit() => {
                            value = value * 10 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                let value = u8::try_from(value)
                    .map_err(|_| bad(self.pos, "\\ddd: value above 255"))?;
                out.push(value);
            }
            b'u' => {
                if self.src.get(self.pos) != Some(&b'{') {
                    return Err(bad(self.pos, "\\u: expected `{`"));
                }
                self.pos += 1;
                let digits_start = self.pos;
                while self.src.get(self.pos).is_some_and(u8::is_ascii_hexdigit)
                {
                    self.pos += 1;
                }
                let digits =
                    std::str::from_utf8(&self.src[digits_start..self.pos])
                        .expect("hex digits are ASCII");
                if self.src.get(self.pos) != Some(&b'}') || digits.is_empty() {
                    return Err(bad(
                        self.pos,
                        "\\u{XXX}: expected hex digits and `}`",
                    ));
                }
                self.pos += 1;
                let value = u32::from_str_radix(digits, 16)
                    .ok()
                    .filter(|v| *v < 0x8000_0000)
                    .ok_or_else(|| {
                        bad(self.pos, "\\u{XXX}: value too large")
                    })?;
                push_utf8_extended(out, value);
            }
            _ => return Err(bad(self.pos, &format!("`\\{}`", b as char))),
        }
        Ok(())
    }
}

/// Encodes `value` as Lua 5.4 does for `\u{XXX}`: UTF-8 extended to
/// 31-bit values.
fn push_utf8_extended(out: &mut Vec<u8>, value: u32) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut buf = [0u8; 8];
    let mut n = 0;
    let mut v = value;
    let mut limit = 0x3f;
    loop {
        buf[7 - n] = 0x80 | (v & 0x3f) as u8;
        n += 1;
        v >>= 6;
        limit >>= 1;
        if v <= limit {
            break;
        }
    }
    let first = ((!limit << 1) & 0xff) as u8 | v as u8;
    out.push(first);
    out.extend_from_slice(&buf[8 - n..]);
}
