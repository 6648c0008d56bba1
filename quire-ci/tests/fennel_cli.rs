//! `quire-ci fennel compile` and `quire-ci fennel eval`, run as real
//! child processes on real files and on standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn quire_ci(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quire-ci"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("quire-ci starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("quire-ci exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn eval_prints_values_in_fennel_notation() {
    let out =
        quire_ci(&["fennel", "eval", "-"], "(values 1 [2 3] {:a \"x\"} nil)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1\t[2 3]\t{:a \"x\"}\tnil\n");
}

#[test]
fn eval_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snippet.fnl");
    std::fs::write(&path, "(fn sq [x] (* x x))\n(sq 12)\n").unwrap();
    let out = quire_ci(&["fennel", "eval", path.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "144\n");
}

#[test]
fn compile_output_runs_like_eval() {
    let source = "(local t (icollect [_ v (ipairs [1 2 3])] (* v 10)))\n(values (length t) (. t 3))\n";
    let compiled = quire_ci(&["fennel", "compile", "-"], source);
    assert!(compiled.status.success(), "{}", text(&compiled.stderr));
    let lua_source = text(&compiled.stdout);
    assert!(lua_source.contains("ipairs"), "{lua_source}");

    let lua = mlua::Lua::new();
    let values: mlua::MultiValue =
        lua.load(lua_source.as_str()).eval().expect("Lua runs");
    let values: Vec<mlua::Value> = values.into_iter().collect();
    let rendered = quire_ci::fennel::view::view_values(&values, "\t");

    let evaluated = quire_ci(&["fennel", "eval", "-"], source);
    assert_eq!(text(&evaluated.stdout), format!("{rendered}\n"));
    assert_eq!(rendered, "3\t30");
}

#[test]
fn compile_error_goes_to_stderr_with_exit_two() {
    let out = quire_ci(&["fennel", "compile", "-"], "(print\n  (+ 1 nope))\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.starts_with("stdin:2:8: unknown global `nope`"), "{err}");
    assert!(err.contains("2 |   (+ 1 nope))"), "{err}");
    assert!(err.contains("help: "), "{err}");
}

#[test]
fn runtime_error_names_the_fennel_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fail.fnl");
    std::fs::write(&path, "(local x 1)\n\n(error \"stop here\")\n").unwrap();
    let path = path.to_str().unwrap();
    let out = quire_ci(&["fennel", "eval", path], "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{path}:3: stop here")), "{err}");
}

#[test]
fn missing_file_is_reported() {
    let out = quire_ci(&["fennel", "eval", "/nonexistent/x.fnl"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/x.fnl"));
}
