//! Lua values printed in Fennel notation, as `quire-ci fennel eval`
//! shows them: `[1 2 3]` for sequences, `{:key value}` for other tables,
//! `:word` is not used for strings so the output reads back unchanged.
//!
//! Table keys are sorted so the output is deterministic. Tables already
//! being printed show as `@table` to stop cycles.

use mlua::Value;

/// Renders each value and joins them with `sep`.
pub fn view_values(values: &[Value], sep: &str) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        view_into(&mut out, v, &mut Vec::new());
    }
    out
}

/// Renders one value.
pub fn view(value: &Value) -> String {
    let mut out = String::new();
    view_into(&mut out, value, &mut Vec::new());
    out
}

fn view_into(
    out: &mut String,
    value: &Value,
    seen: &mut Vec<*const std::ffi::c_void>,
) {
    match value {
        Value::Nil => out.push_str("nil"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Number(n) => out.push_str(&view_float(*n)),
        Value::String(s) => {
            out.push_str(&super::lua_text::string_literal(&s.as_bytes()));
        }
        Value::Table(t) => {
            let ptr = t.to_pointer();
            if seen.contains(&ptr) {
                out.push_str("@table");
                return;
            }
            seen.push(ptr);
            view_table(out, t, seen);
            seen.pop();
        }
        Value::Function(_) => out.push_str("#<function>"),
        Value::Thread(_) => out.push_str("#<thread>"),
        Value::UserData(_) | Value::LightUserData(_) => {
            out.push_str("#<userdata>")
        }
        other => out.push_str(&format!("#<{}>", other.type_name())),
    }
}

fn view_float(n: f64) -> String {
    if n.is_nan() {
        ".nan".into()
    } else if n.is_infinite() {
        if n > 0.0 { ".inf" } else { "-.inf" }.into()
    } else {
        lua_number_text(n)
    }
}

/// Formats a float as Lua 5.4's `tostring` does: C's `%.14g`, plus
/// `.0` when the result would read back as an integer.
fn lua_number_text(n: f64) -> String {
    let text = if n == 0.0 {
        if n.is_sign_negative() { "-0" } else { "0" }.to_owned()
    } else {
        let exponent = n.abs().log10().floor() as i32;
        let scientific = format!("{n:.13e}");
        let (mantissa, exp) =
            scientific.split_once('e').expect("exponent format");
        let exp: i32 = exp.parse().expect("exponent digits");
        // Rounding to 14 digits can carry into the next power of ten.
        let exponent = if exp != exponent { exp } else { exponent };
        if !(-4..14).contains(&exponent) {
            let mantissa = trim_fraction(mantissa);
            let sign = if exponent < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exponent.abs())
        } else {
            let decimals = (13 - exponent).max(0) as usize;
            trim_fraction(&format!("{n:.decimals$}")).to_owned()
        }
    };
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        text + ".0"
    } else {
        text
    }
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn view_table(
    out: &mut String,
    t: &mlua::Table,
    seen: &mut Vec<*const std::ffi::c_void>,
) {
    let pairs: Vec<(Value, Value)> =
        t.pairs::<Value, Value>().filter_map(Result::ok).collect();
    // A table is shown as a sequence when its border (`#t`) covers every
    // key, so `[nil 2]` keeps its hole.
    let len = t.raw_len() as i64;
    let is_sequence = len > 0
        && pairs.iter().all(
            |(k, _)| matches!(k, Value::Integer(i) if (1..=len).contains(i)),
        );
    if is_sequence {
        out.push('[');
        for i in 1..=len {
            if i > 1 {
                out.push(' ');
            }
            let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
            view_into(out, &v, seen);
        }
        out.push(']');
        return;
    }
    let mut rendered: Vec<(u8, String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            let rank = match k {
                Value::Integer(_) | Value::Number(_) => 0,
                Value::String(_) => 1,
                _ => 2,
            };
            let key = match k {
                Value::String(s) => {
                    let bytes = s.as_bytes();
                    match std::str::from_utf8(&bytes) {
                        Ok(text) if is_keyword(text) => format!(":{text}"),
                        _ => view(k),
                    }
                }
                _ => {
                    let mut o = String::new();
                    view_into(&mut o, k, seen);
                    o
                }
            };
            let mut value = String::new();
            view_into(&mut value, v, seen);
            (rank, key, value)
        })
        .collect();
    rendered.sort();
    out.push('{');
    for (i, (_, k, v)) in rendered.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(' ');
        out.push_str(v);
    }
    out.push('}');
}

fn is_keyword(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| !c.is_whitespace() && !"()[]{}\"';,`@~#:".contains(c))
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::lua_number_text;

    #[test]
    fn floats_print_like_lua_tostring() {
        let lua = mlua::Lua::new();
        let tostring: mlua::Function = lua.globals().get("tostring").unwrap();
        let samples = [
            1.0,
            1.5,
            0.1,
            -2.5,
            1e20,
            1e-7,
            123456.789,
            1.0 / 3.0,
            1e15,
            99999999999999.9,
            1e14,
            12345678901234.5,
            0.0001,
            0.00001234,
            -0.0,
            0.0,
            2.0f64.powi(53),
            5e-324,
            1.7976931348623157e308,
            -123.456e-10,
            100.0,
            0.5,
        ];
        for n in samples {
            let expected: String = tostring.call(n).unwrap();
            assert_eq!(lua_number_text(n), expected, "for {n:e}");
        }
    }
}
