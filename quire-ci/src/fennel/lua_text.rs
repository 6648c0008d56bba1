//! Lua source text: identifier mangling, literals and line placement.
//!
//! Generated statements carry a line marker (`\x01` line `\x02`) instead
//! of a newline. [`place_lines`] resolves the markers in one pass,
//! adding newlines so that code from Fennel line N starts on Lua line N
//! whenever the output has not passed that line already. Loading the
//! result with the chunk name `@file` therefore makes Lua's own error
//! messages and tracebacks name the Fennel line. String literals never
//! contain the marker bytes because [`push_string_literal`] escapes
//! every control character.

/// Starts a line marker.
pub const MARK: char = '\x01';
/// Ends a line marker.
pub const MARK_END: char = '\x02';

const LUA_KEYWORDS: &[&str] = &[
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
    "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
    "then", "true", "until", "while",
];

pub fn is_lua_keyword(name: &str) -> bool {
    LUA_KEYWORDS.contains(&name)
}

/// Returns whether `name` is usable as a Lua identifier as it is.
pub fn is_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && !bytes[0].is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && !is_lua_keyword(name)
}

/// Mangles a Fennel symbol into a Lua identifier.
///
/// `-` becomes `_`, other characters Lua rejects become `_XX` with
/// their hex byte values, and Lua keywords gain a leading `_`. Names
/// of the form `_N_` are reserved for temporaries, so a user symbol
/// that mangles to one gets a trailing `x`.
pub fn mangle(name: &str) -> String {
    if is_identifier(name) {
        return reserve_check(name.to_owned());
    }
    if is_lua_keyword(name) {
        return format!("_{name}");
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, b) in name.bytes().enumerate() {
        match b {
            b'-' if i > 0 || name.len() == 1 => out.push('_'),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => out.push(b as char),
            b'0'..=b'9' if i > 0 => out.push(b as char),
            _ => {
                out.push('_');
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    reserve_check(out)
}

fn reserve_check(name: String) -> String {
    let bytes = name.as_bytes();
    let temp_like = bytes.len() >= 3
        && bytes[0] == b'_'
        && bytes[bytes.len() - 1] == b'_'
        && bytes[1..bytes.len() - 1].iter().all(u8::is_ascii_digit);
    if temp_like { name + "x" } else { name }
}

/// Appends `bytes` as a double-quoted Lua string literal.
pub fn push_string_literal(out: &mut String, bytes: &[u8]) {
    out.push('"');
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            0x80..=0xff => {
                let len = utf8_len(&bytes[i..]);
                if len > 0 {
                    let s = std::str::from_utf8(&bytes[i..i + len])
                        .expect("checked UTF-8 sequence");
                    out.push_str(s);
                    i += len;
                    continue;
                }
                out.push_str(&format!("\\x{b:02x}"));
            }
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
        i += 1;
    }
    out.push('"');
}

/// Returns the length of a valid UTF-8 character at the start of
/// `bytes`, or 0.
fn utf8_len(bytes: &[u8]) -> usize {
    let want = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match bytes.get(..want).map(std::str::from_utf8) {
        Some(Ok(_)) => want,
        _ => 0,
    }
}

pub fn string_literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    push_string_literal(&mut out, bytes);
    out
}

/// Formats an integer so Lua reads back the same integer.
pub fn int_literal(v: i64) -> String {
    if v == i64::MIN {
        // Lua reads 9223372036854775808 as a float, so build the value.
        "(-9223372036854775807 - 1)".to_owned()
    } else if v < 0 {
        format!("({v})")
    } else {
        v.to_string()
    }
}

/// Formats a float so Lua reads back the same float.
pub fn float_literal(v: f64) -> String {
    if v.is_nan() {
        "(0/0)".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "(1/0)" } else { "(-1/0)" }.to_owned()
    } else {
        let s = format!("{v:?}");
        if v < 0.0 { format!("({s})") } else { s }
    }
}

/// Appends a line marker for Fennel line `line`.
pub fn push_mark(out: &mut String, line: u32) {
    use std::fmt::Write;
    out.push(MARK);
    write!(out, "{line}").expect("writing to a String cannot fail");
    out.push(MARK_END);
}

/// Returns whether `code` begins with `(`, skipping line markers.
pub fn starts_with_paren(code: &str) -> bool {
    let mut rest = code;
    while let Some(after) = rest.strip_prefix(MARK) {
        match after.find(MARK_END) {
            Some(end) => rest = &after[end + 1..],
            None => return false,
        }
    }
    rest.starts_with('(')
}

/// Resolves line markers into newlines; see the module documentation.
pub fn place_lines(marked: &str) -> String {
    let mut out = String::with_capacity(marked.len() + marked.len() / 8);
    let mut current = 1u32;
    let mut rest = marked;
    while let Some(i) = rest.find(MARK) {
        // Raw `lua` code may contain newlines of its own.
        current += rest[..i].bytes().filter(|b| *b == b'\n').count() as u32;
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(MARK_END).expect("markers are balanced");
        let line: u32 = after[..end].parse().expect("marker holds a line");
        if line > current {
            while out.ends_with(' ') {
                out.pop();
            }
            for _ in current..line {
                out.push('\n');
            }
            current = line;
        } else if !out.is_empty() && !out.ends_with([' ', '\n', '(']) {
            out.push(' ');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_fennel_names() {
        assert_eq!(mangle("push-event"), "push_event");
        assert_eq!(mangle("end"), "_end");
        assert_eq!(mangle("ok?"), "ok_3f");
        assert_eq!(mangle("set!"), "set_21");
        assert_eq!(mangle("_1_"), "_1_x");
        assert_eq!(mangle("plain"), "plain");
    }

    #[test]
    fn string_literals_escape_controls() {
        assert_eq!(
            string_literal(b"a\"b\\\n\x01\xff"),
            "\"a\\\"b\\\\\\n\\x01\\xff\""
        );
        assert_eq!(string_literal("é".as_bytes()), "\"é\"");
    }

    #[test]
    fn markers_become_newlines() {
        let mut s = String::new();
        push_mark(&mut s, 1);
        s.push_str("a()");
        push_mark(&mut s, 3);
        s.push_str("b()");
        push_mark(&mut s, 3);
        s.push_str("c()");
        assert_eq!(place_lines(&s), "a()\n\nb() c()\n");
    }
}
