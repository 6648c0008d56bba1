//! The Fennel conformance corpus: every case in `tests/fennel/*.txt`
//! is compiled, run in a fresh Lua 5.4 state through mlua, and its
//! returned values are compared in Fennel notation.
//!
//! Case format, one after another in a file:
//!
//! ```text
//! === name of the case
//! (fennel source, any number of lines)
//! --- expected values, separated by spaces
//! ```
//!
//! `--- error: text` expects a compile error whose rendered diagnostic
//! contains `text`; `--- runtime: text` expects a Lua error whose
//! message contains `text`.

use std::path::Path;

use quire_ci::fennel::{self, CompileOptions, view};

struct Case {
    file: String,
    line: usize,
    name: String,
    source: String,
    expected: Expected,
}

enum Expected {
    Values(String),
    CompileError(String),
    RuntimeError(String),
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("=== ") {
            assert!(
                current.is_none(),
                "{file}:{}: case without `---` line",
                i + 1
            );
            current = Some((i + 1, name.to_owned(), String::new()));
        } else if let Some(rest) = line.strip_prefix("---") {
            let (start, name, source) = current.take().unwrap_or_else(|| {
                panic!("{file}:{}: `---` without a case", i + 1)
            });
            let rest = rest.trim();
            let expected = if let Some(t) = rest.strip_prefix("error:") {
                Expected::CompileError(t.trim().to_owned())
            } else if let Some(t) = rest.strip_prefix("runtime:") {
                Expected::RuntimeError(t.trim().to_owned())
            } else {
                Expected::Values(rest.to_owned())
            };
            cases.push(Case {
                file: file.to_owned(),
                line: start,
                name,
                source,
                expected,
            });
        } else if let Some((_, _, source)) = current.as_mut() {
            source.push_str(line);
            source.push('\n');
        }
    }
    assert!(current.is_none(), "{file}: last case has no `---` line");
    cases
}

fn load_corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fennel");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).expect("corpus file is readable");
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        cases.extend(parse_cases(&name, &text));
    }
    cases
}

fn options() -> CompileOptions {
    CompileOptions {
        filename: "case.fnl".into(),
        allowed_globals: fennel::lua_standard_globals()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    }
}

/// Runs one case; returns a failure description.
fn run_case(case: &Case) -> Option<String> {
    let compiled = fennel::compile(&case.source, &options());
    let compiled = match (&case.expected, compiled) {
        (Expected::CompileError(want), Err(e)) => {
            let text = e.to_string();
            return (!text.contains(want.as_str()))
                .then(|| format!("compile error lacks {want:?}:\n{text}"));
        }
        (_, Err(e)) => return Some(format!("unexpected compile error:\n{e}")),
        (Expected::CompileError(want), Ok(c)) => {
            return Some(format!(
                "expected compile error {want:?}, got Lua:\n{}",
                c.lua
            ));
        }
        (_, Ok(c)) => c,
    };
    let lua = mlua::Lua::new();
    let result = lua
        .load(compiled.lua.as_str())
        .set_name("@case.fnl")
        .eval::<mlua::MultiValue>();
    match (&case.expected, result) {
        (Expected::Values(want), Ok(values)) => {
            let values: Vec<mlua::Value> = values.into_iter().collect();
            let got = view::view_values(&values, " ");
            (got != *want).then(|| {
                format!(
                    "expected {want}\n     got {got}\nLua:\n{}",
                    compiled.lua
                )
            })
        }
        (Expected::Values(_), Err(e)) => {
            Some(format!("runtime error: {e}\nLua:\n{}", compiled.lua))
        }
        (Expected::RuntimeError(want), Err(e)) => {
            let text = e.to_string();
            (!text.contains(want.as_str()))
                .then(|| format!("runtime error lacks {want:?}: {text}"))
        }
        (Expected::RuntimeError(want), Ok(_)) => {
            Some(format!("expected runtime error {want:?}"))
        }
        (Expected::CompileError(_), _) => unreachable!("handled above"),
    }
}

#[test]
fn corpus_cases_pass() {
    let cases = load_corpus();
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(why) = run_case(case) {
            failures.push(format!(
                "{}:{} {}\n{}",
                case.file, case.line, case.name, why
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn corpus_has_enough_cases() {
    let cases = load_corpus();
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert((&c.file, &c.name)),
            "duplicate case name {}",
            c.name
        );
    }
    assert!(cases.len() >= 300, "only {} cases", cases.len());
}
