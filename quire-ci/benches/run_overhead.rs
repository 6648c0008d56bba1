//! The overhead `quire-ci run` adds to the commands a pipeline runs.
//!
//! Two figures, each beside a baseline measured in the same run:
//!
//! - a whole `quire-ci run` of a one-job pipeline that runs `true`,
//!   against spawning `true` directly (median wall time; target 10 ms);
//! - the cost of one `sh` call from a job, against spawning the same
//!   program directly with `std::process` (target: at most 1 ms more).
//!
//! Run with `cargo bench -p quire-ci --bench run_overhead`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quire_ci::events::EventTarget;
use quire_ci::run::push::{PushInfo, PushSource};
use quire_ci::run::terminal::EchoMode;
use quire_ci::run::{RunOptions, run_loaded};
use quire_ci::runtime::Runtime;
use quire_ci::secret::{Redactor, SecretRegistry};

const WHOLE_RUNS: usize = 60;
const SH_CALLS: usize = 300;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    per_sh(dir.path());
    whole_run(dir.path());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn spawn_true() {
    let status = Command::new("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn whole_run(dir: &Path) {
    let workspace = dir.join("one-job");
    std::fs::create_dir_all(workspace.join(".quire")).unwrap();
    std::fs::write(
        workspace.join(".quire/ci.fnl"),
        "(local ci (require :quire.ci))\n\
         (ci.job :check [:quire/push]\n  \
         (fn [{: sh}] (sh [\"true\"]) {}))\n",
    )
    .unwrap();
    let out = dir.join("out");
    let binary = env!("CARGO_BIN_EXE_quire-ci");
    let run_once = || {
        let status = Command::new(binary)
            .args(["run", "--workspace"])
            .arg(&workspace)
            .arg("--out-dir")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "quire-ci run failed: {status}");
    };
    run_once();

    let mut runs = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..WHOLE_RUNS {
        let start = Instant::now();
        run_once();
        runs.push(start.elapsed());
        let start = Instant::now();
        spawn_true();
        direct.push(start.elapsed());
    }
    let (run, base) = (median(runs), median(direct));
    println!(
        "whole run, one job running `true`: median {:.2} ms \
         (spawning `true` directly: {:.2} ms, ratio {:.1}x; target \
         10 ms)",
        ms(run),
        ms(base),
        run.as_secs_f64() / base.as_secs_f64()
    );
}

fn per_sh(dir: &Path) {
    let workspace = dir.join("many-sh").canonicalize_or_create();
    let out = dir.join("out-sh");
    let code = format!(
        "local ci = require('quire.ci')\n\
         ci.job('many', {{'quire/push'}}, function(rt)\n\
           for i = 1, {SH_CALLS} do rt.sh({{'true'}}) end\n\
           return {{}}\n\
         end)\n"
    );
    let options = RunOptions {
        workspace: workspace.clone(),
        out_dir: out,
        events: EventTarget::Null,
        memory_limit_mib: 256,
        job_timeout: None,
        echo: EchoMode::Never,
        progress: false,
        push: PushSource::Known(PushInfo::from_checkout(&workspace)),
    };

    let mut with_sh = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..5 {
        let runtime = Runtime::new(&workspace, 256).unwrap();
        let pipeline = runtime.load_pipeline_lua(&code).unwrap();
        let registry =
            SecretRegistry::with_declared(BTreeMap::new(), Redactor::new());
        let start = Instant::now();
        run_loaded(&runtime, &pipeline, &options, registry).unwrap();
        with_sh.push(start.elapsed() / SH_CALLS as u32);

        let start = Instant::now();
        for _ in 0..SH_CALLS {
            spawn_true();
        }
        direct.push(start.elapsed() / SH_CALLS as u32);
    }
    let (sh, base) = (median(with_sh), median(direct));
    let overhead = sh.saturating_sub(base);
    println!(
        "one sh call of `true`: median {:.3} ms (spawning `true` \
         directly: {:.3} ms, ratio {:.2}x); overhead {:.3} ms, target \
         at most 1 ms",
        ms(sh),
        ms(base),
        sh.as_secs_f64() / base.as_secs_f64(),
        ms(overhead)
    );
}

trait CreateDir {
    fn canonicalize_or_create(self) -> std::path::PathBuf;
}

impl CreateDir for std::path::PathBuf {
    fn canonicalize_or_create(self) -> std::path::PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self.canonicalize().unwrap()
    }
}
