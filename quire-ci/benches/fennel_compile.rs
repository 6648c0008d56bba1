//! Compile time of a large generated pipeline.
//!
//! Writes a pipeline of 200 jobs, about 1,400 lines, to a temporary
//! file. Each job takes a destructured parameter table and uses `let`,
//! `when` and `icollect`. Two loops over the file are timed in the same
//! run. The baseline reads the file and runs the reader alone, and the
//! measured loop reads it and compiles it to Lua. For each loop the
//! bench prints the median wall time of one call, the fastest call,
//! and the median CPU time of the calling thread, with ratios to the
//! baseline. CPU time leaves out the time other processes hold the
//! cores, so it is the figure to compare on a busy machine. Target: a
//! compile within 5 ms of median CPU time.
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

/// Timings of one call.
struct Timing {
    median: Duration,
    fastest: Duration,
    median_cpu: Duration,
}

/// Returns the CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc =
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` repeatedly for about `budget` and times each call.
fn time_calls(budget: Duration, mut f: impl FnMut()) -> Timing {
    for _ in 0..5 {
        f();
    }
    let mut samples = Vec::new();
    let mut cpu_samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || samples.len() < 20 {
        let cpu = thread_cpu_time();
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
        cpu_samples.push(thread_cpu_time() - cpu);
    }
    samples.sort();
    cpu_samples.sort();
    Timing {
        median: samples[samples.len() / 2],
        fastest: samples[0],
        median_cpu: cpu_samples[cpu_samples.len() / 2],
    }
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
    let read = time_calls(budget, || {
        let text = std::fs::read_to_string(&path).expect("read");
        std::hint::black_box(fennel::read(&text, &opts).expect("reads"));
    });
    let compile = time_calls(budget, || {
        let text = std::fs::read_to_string(&path).expect("read");
        std::hint::black_box(fennel::compile(&text, &opts).expect("compiles"));
    });

    println!(
        "fennel_compile: {JOBS} jobs, {lines} lines, {} bytes of Fennel, {lua_len} bytes of Lua",
        source.len()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("                          median     fastest    CPU median");
    for (name, t) in [
        ("baseline read + reader", &read),
        ("read + compile        ", &compile),
    ] {
        println!(
            "  {name} {:>7.3} ms {:>7.3} ms {:>7.3} ms",
            ms(t.median),
            ms(t.fastest),
            ms(t.median_cpu)
        );
    }
    println!(
        "  ratio compile/baseline {:>7.2}x    {:>7.2}x    {:>7.2}x",
        ratio(compile.median, read.median),
        ratio(compile.fastest, read.fastest),
        ratio(compile.median_cpu, read.median_cpu)
    );
    let target = Duration::from_millis(5);
    let verdict = if compile.median_cpu <= target {
        "met"
    } else {
        "NOT met"
    };
    println!("  target, compile <= 5 ms of median CPU time: {verdict}");
}
