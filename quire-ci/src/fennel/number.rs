//! Number literals, read the way Lua's `tonumber` reads them.
//!
//! Decimal integers that fit in 64 bits stay integers, larger ones
//! become floats, and hexadecimal integers wrap around as in Lua 5.4,
//! so the compiled chunk computes with the same values Lua would.

use super::ast::Kind;

/// Parses a number the way Lua's `tonumber` does, after removing `_`
/// digit separators.
pub fn parse_number(text: &str) -> Option<Kind> {
    let cleaned: String;
    let text = if text.contains('_') {
        if text.starts_with('_') {
            return None;
        }
        cleaned = text.replace('_', "");
        &cleaned
    } else {
        text
    };
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let first = *body.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    if let Some(hex) =
        body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"))
    {
        return parse_hex(hex, negative);
    }
    let bytes = body.as_bytes();
    if !bytes.iter().all(|b| {
        b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')
    }) {
        return None;
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        if let Ok(v) = body.parse::<i64>() {
            return Some(Kind::Int(if negative {
                v.wrapping_neg()
            } else {
                v
            }));
        }
        let v: f64 = body.parse().ok()?;
        return Some(Kind::Float(if negative { -v } else { v }));
    }
    if body == "." || body.starts_with(".e") || body.starts_with(".E") {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    Some(Kind::Float(if negative { -v } else { v }))
}

fn parse_hex(hex: &str, negative: bool) -> Option<Kind> {
    if hex.is_empty() {
        return None;
    }
    if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut v: u64 = 0;
        for b in hex.bytes() {
            let d = (b as char).to_digit(16)? as u64;
            v = v.wrapping_mul(16).wrapping_add(d);
        }
        let v = v as i64;
        return Some(Kind::Int(if negative { v.wrapping_neg() } else { v }));
    }
    let (mantissa, exponent) = match hex.find(['p', 'P']) {
        Some(i) => (&hex[..i], hex[i + 1..].parse::<i32>().ok()?),
        None => (hex, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exponent);
    Some(Kind::Float(if negative { -v } else { v }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats() {
        assert_eq!(parse_number("10"), Some(Kind::Int(10)));
        assert_eq!(parse_number("-0x10"), Some(Kind::Int(-16)));
        assert_eq!(parse_number("0xffffffffffffffff"), Some(Kind::Int(-1)));
        assert_eq!(parse_number("1e2"), Some(Kind::Float(100.0)));
        assert_eq!(parse_number("0x1p4"), Some(Kind::Float(16.0)));
        assert_eq!(
            parse_number("99999999999999999999"),
            Some(Kind::Float(1e20))
        );
    }

    #[test]
    fn non_numbers() {
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("1.2.3"), None);
        assert_eq!(parse_number("_1"), None);
        assert_eq!(parse_number("."), None);
        assert_eq!(parse_number("-"), None);
    }
}
