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
    } else if n == n.trunc() && n.abs() < 1e16 {
        format!("{n:.1}")
    } else {
        format!("{n}")
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
