//! Compile time of a large generated pipeline.
//!
//! Writes a pipeline of 200 jobs (about 1,400 lines; each job takes a
//! destructured parameter table and uses `let`, `when` and
//! `icollect`) to a temporary file, then times two loops over it in
//! the same run: the baseline reads the file and runs the reader
//! alone, the measured loop reads it and compiles it to Lua. Prints
//! the median of each and their ratio. Target: a compile within 5 ms.
//!
//! Run with `cargo bench -p quire-ci --bench fennel_compile`.

use std::time::{Duration, Instant};

use quire_ci::fennel::{self, CompileOptions};

const JOBS: usize = 200;

fn pipeline() -> String {
    let mut src = String::from("(local ci (require :quire.ci))\n\n");
    for i in 0..JOBS {
        let input = if i == 0 {
            "quire/push".to_owned()
        } else {
            format!("job-{}", i - 1)
        };
        src.push_str(&format!(
            ";; Job {i} builds every target with its own token.\n(ci.job :job-{i} [:{input}]\n  (fn [{{: sh : secret : jobs}}]\n    (let [targets [:a :b :c] token (secret :token-{i})]\n      (when (> (length targets) 0)\n        (icollect [_ t (ipairs targets)]\n          (sh (: \"make %s --token=%s\" :format t token)))))))\n",
        ));
    }
    src
}

/// Runs `f` repeatedly for about `budget` and returns the median time
/// of one call.
fn median_time(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..5 {
        f();
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || samples.len() < 20 {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ci.fnl");
    let source = pipeline();
    std::fs::write(&path, &source).expect("write pipeline");
    let lines = source.lines().count();

    let opts = CompileOptions {
        filename: ".quire/ci.fnl".into(),
        allowed_globals: fennel::lua_standard_globals()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..CompileOptions::default()
    };
    let lua_len = fennel::compile(&source, &opts)
        .expect("pipeline compiles")
        .lua
        .len();

    let budget = Duration::from_secs(2);
    let read = median_time(budget, || {
        let text = std::fs::read_to_string(&path).expect("read");
        std::hint::black_box(fennel::read(&text, &opts).expect("reads"));
    });
    let compile = median_time(budget, || {
        let text = std::fs::read_to_string(&path).expect("read");
        std::hint::black_box(fennel::compile(&text, &opts).expect("compiles"));
    });

    println!(
        "fennel_compile: {JOBS} jobs, {lines} lines, {} bytes of Fennel, {lua_len} bytes of Lua",
        source.len()
    );
    println!(
        "  baseline read + reader  {:>9.3} ms",
        read.as_secs_f64() * 1e3
    );
    println!(
        "  read + compile          {:>9.3} ms",
        compile.as_secs_f64() * 1e3
    );
    println!(
        "  ratio compile/baseline  {:>9.2}x",
        compile.as_secs_f64() / read.as_secs_f64()
    );
    let target = Duration::from_millis(5);
    println!(
        "  target <= 5 ms per compile: {}",
        if compile <= target { "met" } else { "NOT met" }
    );
}
