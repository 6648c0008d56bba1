//! Lua names for Fennel symbols: locals, fields and suggestions for
//! misspelt names.

use crate::fennel::lua_text::{self, mangle};

/// Returns the mangled Lua name for the Fennel name `name`, before
/// [`crate::fennel::scope::Scopes::fresh_local`] makes it unique.
pub fn local_name(name: &str) -> String {
    if let Some(number) = name.strip_prefix("\u{0}g") {
        return format!("_{number}_");
    }
    mangle(name)
}

/// Returns the candidate nearest to `name` by edit distance, when it is
/// close enough to be a likely misspelling.
pub(super) fn closest_name<'n>(
    name: &str,
    candidates: impl Iterator<Item = &'n str>,
) -> Option<&'n str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .filter(|c| !c.starts_with('\u{0}') && *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Splits `a.b.c` into `a` and `[b, c]`. A lone `.` or `..` stays whole.
pub fn split_multi(name: &str) -> (&str, Vec<&str>) {
    if name.starts_with('.') || name.ends_with('.') || !name.contains('.') {
        return (name, Vec::new());
    }
    let mut parts = name.split('.');
    let base = parts.next().expect("split yields one part");
    (base, parts.collect())
}

/// Appends `.field` or `["field"]` (or `[n]` for digits) to `code`.
pub fn push_field(code: &mut String, field: &str) {
    if lua_text::is_identifier(field) {
        code.push('.');
        code.push_str(field);
    } else if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) {
        code.push('[');
        code.push_str(field);
        code.push(']');
    } else {
        code.push('[');
        lua_text::push_string_literal(code, field.as_bytes());
        code.push(']');
    }
}
