//! Property tests: the reader and compiler never panic, whatever the
//! input, and whenever compilation succeeds Lua accepts the output.
//!
//! Arbitrary bytes mostly exercise the reader. Generated form trees
//! made from Fennel's own vocabulary reach deep into the compiler, and
//! loading their Lua (without running it) checks that every position
//! produces well-formed code.

use proptest::prelude::*;
use quire_ci::fennel::{self, CompileOptions};

fn options() -> CompileOptions {
    CompileOptions {
        filename: "fuzz.fnl".into(),
        allowed_globals: fennel::lua_standard_globals()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    }
}

const ATOMS: &[&str] = &[
    "fn",
    "lambda",
    "let",
    "local",
    "var",
    "set",
    "tset",
    "global",
    "if",
    "when",
    "do",
    "values",
    "and",
    "or",
    "not",
    "=",
    "not=",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "^",
    "..",
    "length",
    ".",
    "?.",
    ":",
    "each",
    "for",
    "while",
    "collect",
    "icollect",
    "accumulate",
    "fcollect",
    "faccumulate",
    "->",
    "->>",
    "-?>",
    "-?>>",
    "doto",
    "match",
    "case",
    "match-try",
    "case-try",
    "with-open",
    "partial",
    "pick-values",
    "tail!",
    "lua",
    "comment",
    "band",
    "bnot",
    "where",
    "catch",
    "hashfn",
    "quote",
    "x",
    "y",
    "t",
    "a.b",
    "s:upper",
    "...",
    "_",
    "?x",
    "&",
    "&as",
    "$1",
    "$",
    "$...",
    "&until",
    "&into",
    "note",
    "ipairs",
    "pairs",
    "1",
    "0",
    "-2",
    "1.5",
    "0xff",
    ".inf",
    "nil",
    "true",
    "false",
    ":key",
    "\"str\"",
    "\"a\\tb\"",
    "string.format",
];

/// Binds the names the generated forms use, so that more of them get
/// past the unknown-global check.
const PRELUDE: &str = "(local x 1) (var y 2) (local t {}) (local s \"s\") \
     (local a {:b 1}) (local log []) \
     (fn note [...] (table.insert log (select :# ...)) ...)";

fn form() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(ATOMS).prop_map(str::to_owned);
    leaf.prop_recursive(5, 48, 6, |inner| {
        let items = prop::collection::vec(inner, 0..6);
        prop_oneof![
            3 => items.clone().prop_map(|v| format!("({})", v.join(" "))),
            1 => items.clone().prop_map(|v| format!("[{}]", v.join(" "))),
            1 => items.prop_map(|v| format!("{{{}}}", v.join(" "))),
        ]
    })
}

/// Expressions that are valid Fennel by construction, nesting every
/// form in every position: argument, binding value, branch, body, tail.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(
        &[
            "x",
            "y",
            "1",
            "2.5",
            "nil",
            "true",
            "false",
            "\"s\"",
            ":k",
            "t",
            "a.b",
            "(s:upper)",
            "[]",
            "{}",
            "(values)",
        ][..],
    )
    .prop_map(str::to_owned);
    leaf.prop_recursive(6, 64, 4, |e| {
        let two = (e.clone(), e.clone());
        let three = (e.clone(), e.clone(), e.clone());
        prop_oneof![
            two.clone().prop_map(|(a, b)| format!("(+ {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(.. {a} {b})")),
            three
                .clone()
                .prop_map(|(a, b, c)| format!("(< {a} {b} {c})")),
            three
                .clone()
                .prop_map(|(a, b, c)| format!("(if {a} {b} {c})")),
            two.clone().prop_map(|(a, b)| format!("(if {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(when {a} {b})")),
            two.clone()
                .prop_map(|(a, b)| format!("(let [z {a}] {b} z)")),
            two.clone()
                .prop_map(|(a, b)| format!("(let [(p q) {a}] {b})")),
            two.clone()
                .prop_map(|(a, b)| format!("(let [[p & q] [{a}]] {b})")),
            two.clone()
                .prop_map(|(a, b)| format!("(let [{{: p}} {{:p {a}}}] {b})")),
            two.clone().prop_map(|(a, b)| format!("(do {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(values {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(and {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(or {a} {b})")),
            e.clone().prop_map(|a| format!("(not {a})")),
            e.clone()
                .prop_map(|a| format!("((fn [...] (values {a} ...)) 1 2)")),
            e.clone().prop_map(|a| format!("(fn f [w ...] {a})")),
            e.clone().prop_map(|a| format!("(#(do $1 {a}) 1)")),
            two.clone()
                .prop_map(|(a, b)| format!("(do (set y {a}) {b})")),
            two.clone()
                .prop_map(|(a, b)| format!("(do (tset t :k {a}) {b})")),
            two.clone().prop_map(|(a, b)| format!("(note {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("[{a} {b}]")),
            two.clone().prop_map(|(a, b)| format!("{{:k {a} :j {b}}}")),
            two.clone().prop_map(|(a, b)| format!(
                "(match {a} 1 {b} [p] p (where q (= q 2)) q _ nil)"
            )),
            two.clone().prop_map(|(a, b)| format!(
                "(case {a} (or 1 2) {b} {{: p}} p)"
            )),
            two.clone().prop_map(|(a, b)| format!(
                "(icollect [_ v (ipairs [{a}])] {b})"
            )),
            two.clone().prop_map(|(a, b)| format!(
                "(collect [k v (pairs {{:a {a}}})] (values k {b}))"
            )),
            two.clone().prop_map(|(a, b)| format!(
                "(accumulate [acc {a} _ v (ipairs [1 2])] {b})"
            )),
            two.clone()
                .prop_map(|(a, b)| format!("(each [_ v (ipairs [{a}])] {b})")),
            two.clone()
                .prop_map(|(a, b)| format!("(for [i 1 2] {a} {b})")),
            two.clone().prop_map(|(a, b)| format!("(-> {a} (or {b}))")),
            two.clone().prop_map(|(a, b)| format!("(-?> {a} (or {b}))")),
            two.clone()
                .prop_map(|(a, b)| format!("(?. {{:k {a}}} :k {b})")),
            two.clone().prop_map(|(a, b)| format!(
                "(: (type {a}) :rep (length [{b}]))"
            )),
            two.prop_map(|(a, b)| format!("(pick-values 1 (values {a} {b}))")),
            three.prop_map(|(a, b, c)| format!(
                "(case-try {a} p {b} q {c} (catch _ nil))"
            )),
        ]
    })
}

/// Runs `e` inside each wrapper (`E` marks the spot) and checks that all
/// of them return the same values, or all raise an error.
fn prop_assert_positions_agree(
    e: &str,
    wrappers: &[&str],
) -> Result<(), TestCaseError> {
    let mut outcomes = Vec::new();
    for wrapper in wrappers {
        let source = format!("{PRELUDE}\n{}", wrapper.replace('E', e));
        let compiled = fennel::compile(&source, &options());
        prop_assert!(compiled.is_ok(), "{}\n{}", source, compiled.unwrap_err());
        let lua_text = compiled.unwrap().lua;
        let lua = mlua::Lua::new();
        let result = lua.load(lua_text.as_str()).eval::<mlua::MultiValue>();
        let outcome = match result {
            Ok(values) => {
                let values: Vec<mlua::Value> = values.into_iter().collect();
                fennel::view::view_values(&values, " ")
            }
            Err(_) => "error".to_owned(),
        };
        outcomes.push((source, lua_text, outcome));
    }
    let (first_source, first_lua, first) = &outcomes[0];
    for (source, lua_text, outcome) in &outcomes[1..] {
        prop_assert!(
            outcome == first,
            "{} gives {}\n{}\nbut {} gives {}\n{}",
            first_source,
            first,
            first_lua,
            source,
            outcome,
            lua_text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_expressions_compile_to_valid_lua(body in expr(), tail in expr()) {
        let source = format!(
            "{PRELUDE}\n{body}\n(fn g [...]\n  {body})\n\n{tail}"
        );
        let compiled = fennel::compile(&source, &options());
        prop_assert!(compiled.is_ok(), "{}\n{}", source, compiled.unwrap_err());
        let lua_text = compiled.unwrap().lua;
        // Code from Fennel line N starts on Lua line N, so the output can
        // never have more lines than the source.
        prop_assert!(
            lua_text.lines().count() <= source.lines().count(),
            "Lua ran past the Fennel lines\n{}\n---\n{}",
            source,
            lua_text
        );
        let lua = mlua::Lua::new();
        let loaded = lua.load(lua_text.as_str()).set_name("@fuzz.fnl").into_function();
        prop_assert!(loaded.is_ok(), "Lua rejected\n{}\n---\n{}\n---\n{:?}", source, lua_text, loaded.err());
    }

    #[test]
    fn runtime_errors_name_their_line(
        before in expr(),
        wrapper in 0usize..8,
    ) {
        let raise = "(error \"boom\")";
        let form = match wrapper {
            0 => format!("(when true\n  {raise})"),
            1 => format!("(if x\n  {raise} 1)"),
            2 => format!("(icollect [_ v (ipairs [1])]\n  {raise})"),
            3 => format!("(match 1 1\n  {raise})"),
            4 => format!("(do {before}\n  {raise})"),
            5 => format!("[{before}\n  {raise}]"),
            6 => format!("(note {before}\n  {raise})"),
            _ => format!("(let [z {before}]\n  {raise})"),
        };
        let source = format!("{PRELUDE}\n(local r\n  {form})\nr");
        let compiled = fennel::compile(&source, &options());
        prop_assert!(compiled.is_ok(), "{}\n{}", source, compiled.unwrap_err());
        let lua_text = compiled.unwrap().lua;
        let lua = mlua::Lua::new();
        let result = lua.load(lua_text.as_str()).set_name("@fuzz.fnl").exec();
        if let Err(err) = result {
            let message = err.to_string();
            // Only the raised error is checked: `before` may fail first.
            if message.contains("boom") {
                prop_assert!(
                    message.contains("fuzz.fnl:4: boom"),
                    "{}\n---\n{}\n---\n{}",
                    source,
                    lua_text,
                    message
                );
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = fennel::compile(&text, &options());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[()\\[\\]{}\"\\\\:#'`,;.a-z0-9 \n&$?_-]{0,120}") {
        let _ = fennel::compile(&text, &options());
    }

    #[test]
    fn generated_forms_compile_to_valid_lua(forms in prop::collection::vec(form(), 1..4)) {
        let source = format!("{PRELUDE}\n{}", forms.join("\n"));
        if let Ok(compiled) = fennel::compile(&source, &options()) {
            let lua = mlua::Lua::new();
            let loaded = lua.load(compiled.lua.as_str()).set_name("@fuzz.fnl").into_function();
            prop_assert!(
                loaded.is_ok(),
                "Lua rejected the output of\n{}\n---\n{}\n---\n{:?}",
                source,
                compiled.lua,
                loaded.err()
            );
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "(".repeat(100_000);
    assert!(fennel::compile(&deep, &options()).is_err());
    let nested = format!("{}1{}", "(do ".repeat(150), ")".repeat(150));
    let compiled = fennel::compile(&nested, &options());
    assert!(compiled.is_ok(), "{:?}", compiled.err());
}

#[test]
fn long_threading_chain_compiles_on_a_small_stack() {
    let steps = " (+ 1)".repeat(2000);
    let source = format!("(-> 0{steps})");
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || fennel::compile(&source, &options()).is_ok())
        .expect("thread starts");
    let compiled = handle.join().expect("compiler did not overflow its stack");
    assert!(!compiled, "a chain deeper than the limit is rejected");
}

/// Compiles `source` on a thread with a 2 MiB stack, the default for
/// spawned threads, and returns whether it compiled.
fn compiles_on_small_stack(source: String) -> bool {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || fennel::compile(&source, &options()).is_ok())
        .expect("thread starts")
        .join()
        .expect("compiler did not overflow its stack")
}

#[test]
fn deepest_accepted_forms_fit_a_small_stack() {
    let depth = 199;
    let wrappers = [
        ("(let [x 1] ", ")"),
        ("(if x ", " 2)"),
        ("(match x 1 ", " _ 2)"),
        ("(fn [] ", ")"),
        ("(icollect [_ v (ipairs x)] ", ")"),
        ("(and x ", ")"),
        ("(when x ", ")"),
        ("(print ", ")"),
        ("[", "]"),
        ("{:a ", "}"),
        ("(-?> x ", ")"),
    ];
    for (open, close) in wrappers {
        let source = format!(
            "(local x 1) {}x{}",
            open.repeat(depth),
            close.repeat(depth)
        );
        let _ = compiles_on_small_stack(source);
    }
}

proptest! {
    // Each case compiles and runs 16 programs, so fewer cases.
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn expressions_give_the_same_values_in_every_position(e in expr()) {
        let wrappers = [
            "[E]",
            "[((fn [] E))]",
            "[(do E)]",
            "[(let [] E)]",
            "[(if true E)]",
            "[(when true E)]",
            "[(match 1 1 E)]",
            "(fn g [] E)\n[(g)]",
            "[(#(do E))]",
        ];
        prop_assert_positions_agree(&e, &wrappers)?;

        // Positions that keep only the first value.
        let first_value = [
            "[(. [E] 1)]",
            "(let [v E] [v])",
            "(do (local v E) [v])",
            "(do (var v nil) (set v E) [v])",
            "(fn first-of [v] [v])\n(first-of E)",
            "(let [(v) E] [v])",
            "[(pick-values 1 E)]",
        ];
        prop_assert_positions_agree(&e, &first_value)?;
    }
}
