//! Job outputs as plain data: Lua tables to JSON and back.
//!
//! Outputs cross from one job to the next and into the run's records,
//! so they are limited to what JSON can carry: strings, numbers,
//! booleans and nested tables. A table whose keys are exactly 1..n
//! becomes an array; any other table becomes an object whose keys are
//! strings (numbers are written as strings). An empty table is an
//! empty object.

use mlua::{Lua, Table, Value};
use serde_json::{Map, Number};

/// Tables nested deeper than this are rejected; it also stops a table
/// that contains itself.
const MAX_DEPTH: usize = 64;

/// Converts a job's returned table. The error names the path to the
/// offending value, such as `outputs.files[2]`.
pub fn to_json(table: &Table) -> Result<serde_json::Value, String> {
    convert_table(table, "outputs", 0)
}

fn convert(
    value: &Value,
    path: &str,
    depth: usize,
) -> Result<serde_json::Value, String> {
    match value {
        Value::Nil => Ok(serde_json::Value::Null),
        Value::Boolean(b) => Ok(serde_json::Value::Bool(*b)),
        Value::Integer(i) => Ok(serde_json::Value::Number((*i).into())),
        Value::Number(n) => Number::from_f64(*n)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{path} is {n}, which JSON cannot carry")),
        Value::String(s) => Ok(serde_json::Value::String(s.to_string_lossy())),
        Value::Table(t) => convert_table(t, path, depth + 1),
        other => Err(format!(
            "{path} is a {}; outputs are strings, numbers, booleans and \
             tables of those",
            other.type_name()
        )),
    }
}

fn convert_table(
    table: &Table,
    path: &str,
    depth: usize,
) -> Result<serde_json::Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{path} is nested more than {MAX_DEPTH} tables deep (does a \
             table contain itself?)"
        ));
    }
    let mut entries = Vec::new();
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        entries.push((key, value));
    }
    let len = table.raw_len();
    let is_array = len > 0
        && entries.len() == len
        && entries
            .iter()
            .all(|(k, _)| matches!(k, Value::Integer(i) if *i >= 1));
    if is_array {
        let mut items = Vec::with_capacity(len);
        for i in 1..=len {
            let value: Value = table.raw_get(i).map_err(|e| e.to_string())?;
            items.push(convert(&value, &format!("{path}[{i}]"), depth)?);
        }
        return Ok(serde_json::Value::Array(items));
    }
    let mut map = Map::new();
    for (key, value) in entries {
        let key = match &key {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(format!(
                    "{path} has a key that is a {}; keys are strings or \
                     numbers",
                    other.type_name()
                ));
            }
        };
        let child = format!("{path}.{key}");
        map.insert(key, convert(&value, &child, depth)?);
    }
    Ok(serde_json::Value::Object(map))
}

/// Builds a fresh Lua value from JSON, so a job cannot change another
/// job's outputs.
pub fn from_json(lua: &Lua, value: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, from_json(lua, item)?)?;
            }
            Value::Table(table)
        }
        serde_json::Value::Object(map) => {
            let table = lua.create_table_with_capacity(0, map.len())?;
            for (key, item) in map {
                table.raw_set(key.as_str(), from_json(lua, item)?)?;
            }
            Value::Table(table)
        }
    })
}

/// Redacts every string in `value`, keys included.
pub fn redact(
    value: &serde_json::Value,
    redact_str: &dyn Fn(&str) -> String,
) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => {
            serde_json::Value::String(redact_str(s))
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items.iter().map(|v| redact(v, redact_str)).collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (redact_str(k), redact(v, redact_str)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(lua: &Lua, code: &str) -> Table {
        lua.load(code).eval().unwrap()
    }

    #[test]
    fn plain_data_round_trips() {
        let lua = Lua::new();
        let table = eval(
            &lua,
            r#"return {name = "x", n = 3, ok = true, f = 1.5,
                       files = {"a", "b"}, empty = {}, nested = {k = {1}}}"#,
        );
        let json = to_json(&table).unwrap();
        assert_eq!(
            json.to_string(),
            r#"{"empty":{},"f":1.5,"files":["a","b"],"n":3,"name":"x","nested":{"k":[1]},"ok":true}"#
        );
        let back = from_json(&lua, &json).unwrap();
        let Value::Table(back) = back else { panic!() };
        assert_eq!(to_json(&back).unwrap(), json);
    }

    #[test]
    fn function_rejected_with_path() {
        let lua = Lua::new();
        let table = eval(&lua, "return {files = {'a', print}}");
        assert_eq!(
            to_json(&table).unwrap_err(),
            "outputs.files[2] is a function; outputs are strings, \
             numbers, booleans and tables of those"
        );
    }

    #[test]
    fn self_reference_rejected() {
        let lua = Lua::new();
        let table = eval(&lua, "local t = {} t.me = t return t");
        let err = to_json(&table).unwrap_err();
        assert!(err.contains("nested more than 64 tables deep"), "{err}");
    }
}
