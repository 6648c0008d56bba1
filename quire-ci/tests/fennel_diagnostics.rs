//! Compile errors carry the file, line and column, show the source
//! line with a caret under the offending span, and tell how to fix
//! it.

use quire_ci::fennel::{self, CompileError, CompileOptions};

fn error_for(source: &str) -> CompileError {
    let opts = CompileOptions {
        filename: ".quire/ci.fnl".into(),
        allowed_globals: vec!["print".into()],
        ..CompileOptions::default()
    };
    fennel::compile(source, &opts).expect_err("compile fails")
}

#[test]
fn unknown_global_renders_fully() {
    let err = error_for("(local x 1)\n(print (+ x missing-thing))\n");
    assert_eq!(err.filename, ".quire/ci.fnl");
    assert_eq!(err.line, 2);
    assert_eq!(err.column, 13);
    assert_eq!(err.message, "unknown global `missing-thing`");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        ".quire/ci.fnl:2:13: unknown global `missing-thing`"
    );
    assert_eq!(lines[1], "2 | (print (+ x missing-thing))");
    assert_eq!(lines[2], "  |             ^^^^^^^^^^^^^");
    assert!(lines[3].starts_with("help: "), "{text}");
    assert!(lines[3].contains("(global missing-thing value)"), "{text}");
}

#[test]
fn unclosed_list_points_at_opener() {
    let err = error_for("(print 1)\n  (print\n   2\n");
    assert_eq!((err.line, err.column), (2, 3));
    assert!(err.message.contains("unclosed `(`"), "{}", err.message);
    assert!(err.to_string().contains("help: add the closing `)`"));
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = error_for("(print \"héllo\" oops)");
    assert_eq!(err.column, 16);
    assert!(
        err.to_string().contains("\n  |                ^^^^\n"),
        "{err}"
    );
}

#[test]
fn set_on_local_says_to_use_var() {
    let err = error_for("(local count 0)\n(set count 1)");
    assert_eq!(err.line, 2);
    assert_eq!(err.column, 6);
    assert!(err.help.contains("(var count ...)"), "{}", err.help);
}

#[test]
fn unsupported_macro_names_the_form() {
    let err = error_for("(import-macros {: m} :mine)");
    assert_eq!(
        err.message,
        "`import-macros` is not supported yet: quire's Fennel has no user-defined macros"
    );
    assert_eq!((err.line, err.column), (1, 1));
}

#[test]
fn caret_covers_the_whole_form_on_its_line() {
    let err = error_for("(let [a] a)");
    let text = err.to_string();
    assert!(text.contains("^^^"), "{text}");
    assert_eq!(err.column, 6);
}

#[test]
fn error_is_a_std_error() {
    let err: Box<dyn std::error::Error> = Box::new(error_for("(nope)"));
    assert!(
        err.to_string()
            .starts_with(".quire/ci.fnl:1:2: unknown global `nope`")
    );
}

#[test]
fn error_at_end_of_input_is_located() {
    let err = error_for("(print \"abc");
    assert_eq!((err.line, err.column), (1, 8));
    assert!(err.message.contains("unterminated string"));
}

#[test]
fn misspelt_local_suggests_the_name() {
    let err = error_for("(let [targets [1]]\n  (print targetz))");
    assert_eq!(err.message, "unknown global `targetz`");
    assert!(
        err.help.starts_with("did you mean `targets`?"),
        "{}",
        err.help
    );
}

#[test]
fn misspelt_allowed_global_suggests_it() {
    let err = error_for("(prnt 1)");
    assert!(
        err.help.starts_with("did you mean `print`?"),
        "{}",
        err.help
    );
}

#[test]
fn unrelated_name_gets_no_suggestion() {
    let err = error_for("(local alpha 1)\n(zzzzzz)");
    assert!(err.help.starts_with("bind it first"), "{}", err.help);
}
