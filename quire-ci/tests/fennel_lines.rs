//! Runtime errors raised by compiled code name the Fennel file and the
//! Fennel line they came from, because the compiler keeps Lua line N
//! on Fennel line N.

use quire_ci::fennel::{self, CompileOptions};

fn run_error(source: &str) -> String {
    let opts = CompileOptions {
        filename: "pipeline.fnl".into(),
        allowed_globals: fennel::lua_standard_globals()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    };
    let compiled = fennel::compile(source, &opts).expect("compiles");
    let lua = mlua::Lua::new();
    let err = lua
        .load(compiled.lua.as_str())
        .set_name("@pipeline.fnl")
        .exec()
        .expect_err("raises an error");
    err.to_string()
}

#[test]
fn error_call_names_its_line() {
    let src = "(local x 1)\n\n(fn f []\n  (error \"boom\"))\n\n(f)\n";
    let err = run_error(src);
    assert!(err.contains("pipeline.fnl:4: boom"), "{err}");
}

#[test]
fn indexing_nil_names_its_line() {
    let src = "(local t {})\n(local y\n  (+ 1\n     t.missing.field))\n";
    let err = run_error(src);
    assert!(err.contains("pipeline.fnl:"), "{err}");
    assert!(err.contains("attempt to index a nil value"), "{err}");
    let line = err
        .split("pipeline.fnl:")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let line: u32 = line.parse().unwrap();
    assert!((2..=4).contains(&line), "line {line} in {err}");
}

#[test]
fn call_inside_multi_line_form_names_its_line() {
    let src = "(print (.. \"a\"\n  \"b\"\n  (error \"deep\")))\n";
    let err = run_error(src);
    assert!(err.contains("pipeline.fnl:3: deep"), "{err}");
}

#[test]
fn error_inside_job_function_names_its_line() {
    let src = "\
(local jobs {})
(fn job [name f] (tset jobs name f))
(job :build
  (fn [{: sh}]
    (let [out (sh \"make\")]
      (when (not= out 0)
        (error (.. \"make failed: \" out))))))
((. jobs :build) {:sh (fn [cmd] 2)})
";
    let err = run_error(src);
    assert!(err.contains("pipeline.fnl:7: make failed: 2"), "{err}");
}

#[test]
fn traceback_names_fennel_lines() {
    let src = "(fn inner []\n  (error \"x\"))\n(fn outer []\n  (inner)\n  nil)\n(outer)\n";
    let opts = CompileOptions {
        filename: "t.fnl".into(),
        allowed_globals: vec!["error".into(), "debug".into(), "xpcall".into()],
        ..CompileOptions::default()
    };
    let compiled = fennel::compile(src, &opts).expect("compiles");
    let lua = mlua::Lua::new();
    let err = lua
        .load(compiled.lua.as_str())
        .set_name("@t.fnl")
        .exec()
        .expect_err("raises");
    let text = err.to_string();
    assert!(text.contains("t.fnl:2: x"), "{text}");
    assert!(
        text.contains("t.fnl:4:"),
        "traceback lacks the caller's line: {text}"
    );
}

#[test]
fn lua_output_never_runs_ahead_of_fennel_lines() {
    let src = "(local a 1)\n(local b 2)\n\n(local c (+ a b))\n(print c)\n";
    let opts = CompileOptions {
        filename: "x.fnl".into(),
        allowed_globals: vec!["print".into()],
        ..Default::default()
    };
    let lua = fennel::compile(src, &opts).unwrap().lua;
    let lines: Vec<&str> = lua.lines().collect();
    assert!(lines[0].contains("local a = 1"), "{lua}");
    assert!(lines[1].contains("local b = 2"), "{lua}");
    assert!(lines[3].contains("local c"), "{lua}");
    assert!(lines[4].contains("print(c)"), "{lua}");
}
