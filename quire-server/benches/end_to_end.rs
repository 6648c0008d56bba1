//! Two end-to-end figures through a real server, each printed beside a
//! baseline measured in the same run:
//!
//! 1. From the hook firing to the first job starting, without the
//!    `git archive` that builds the workspace. The hook is fired by
//!    running `quire hook post-receive` exactly as the bare
//!    repository's hook script does. The first job's start is its
//!    `job_started` event (millisecond wall-clock time). `git archive`
//!    is timed on the same commit and subtracted. Baseline: starting
//!    quire-ci by hand on an extracted workspace, until its first job
//!    starts. Target: at most 100 ms.
//! 2. A pipeline making 1,000 lookups of 100 names, from the hook to
//!    the run's final state, in the api transport beside the
//!    filesystem transport. Target: api at most 1.2 times filesystem.
//!
//! The server runs in this process (the same [`Server`] `quire serve`
//! starts). Runs are real quire-ci processes, started through a link
//! named `quire-ci` to the `quire` binary of this build. That binary
//! contains the whole runner, so the figures never come from a stale
//! quire-ci.
//!
//! Run: `cargo bench -p quire-server --bench end_to_end`
//!
//! [`Server`]: quire_server::server::Server

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use quire_proto::{Event, EventKind};
use quire_server::db::runs::{Run, RunState};
use quire_server::demo::{Demo, DemoPaths, REPO, runner_link};

const QUIRE: &str = env!("CARGO_BIN_EXE_quire");
const ROUNDS: usize = 15;
const HOOK_TARGET_MS: f64 = 100.0;
const LOOKUP_TARGET_RATIO: f64 = 1.2;
const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

const ONE_JOB: &str = r#"(local ci (require :quire.ci))
(ci.job :first [:quire/push] (fn [] {}))
"#;

const LOOKUPS: &str = r#"(local ci (require :quire.ci))
(ci.job :lookups [:quire/push]
  (fn [{: secret}]
    (for [i 1 1000]
      (secret (.. "s" (% i 100))))
    {}))
"#;

fn main() {
    let tmp = tempfile::Builder::new()
        .prefix("quire-bench-")
        .tempdir()
        .expect("a temporary directory");
    let quire_ci = runner_link(&tmp.path().join("bin"), Path::new(QUIRE))
        .expect("the runner link");

    println!("end-to-end through a real server ({ROUNDS} rounds, medians)");
    hook_to_first_job(tmp.path(), &quire_ci);
    lookups_by_transport(tmp.path(), &quire_ci);
}

/// Starts a server in `root/<name>` with `config` and pushes `files`;
/// returns it with the sha pushed once that first run finished.
fn start(
    root: &Path,
    name: &str,
    quire_ci: &Path,
    config: &str,
    pipeline: &str,
) -> (Demo, String) {
    let paths = DemoPaths {
        root: root.join(name),
        quire: PathBuf::from(QUIRE),
        quire_ci: quire_ci.to_path_buf(),
    };
    let demo = Demo::start_in(paths, config).expect("the server starts");
    let run = demo
        .push(&[(".quire/ci.fnl", pipeline)])
        .expect("the push creates a run");
    let run = wait(&demo, &run.id);
    assert_eq!(run.state, RunState::Complete, "the warm-up run failed");
    (demo, run.sha)
}

/// Fires the hook for `sha` on a new ref; returns the run and the
/// wall-clock time just before the hook started.
fn fire_hook(demo: &Demo, sha: &str, ref_name: &str) -> (Run, SystemTime) {
    let data = demo.paths().data_dir();
    let before = SystemTime::now();
    let mut hook = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(data.root())
        .args(["hook", "post-receive", "--repo", REPO])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the hook starts");
    let line = format!("{ZERO_SHA} {sha} {ref_name}\n");
    let mut stdin = hook.stdin.take().expect("stdin is piped");
    stdin.write_all(line.as_bytes()).expect("the hook reads");
    drop(stdin);
    hook.wait().expect("the hook ends");
    let run = demo
        .db()
        .list_runs(Some(REPO), 1)
        .expect("runs are readable")
        .into_iter()
        .find(|run| run.ref_name == ref_name)
        .expect("the hook created a run");
    (run, before)
}

/// Waits for run `id` to reach a terminal state, polling every
/// millisecond.
fn wait(demo: &Demo, id: &str) -> Run {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = demo.db().run(id).expect("runs are readable");
        if let Some(run) = run
            && run.state.is_terminal()
        {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} did not finish");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn millis_since_epoch(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

/// Returns the milliseconds from the first `job_started` to the
/// `run_finished` in an events file.
fn job_span(events: &Path) -> f64 {
    let text = std::fs::read_to_string(events).expect("the events file");
    let events: Vec<Event> = text
        .lines()
        .filter_map(|line| Event::from_line(line).ok())
        .collect();
    let start = first_job_start_in(&events);
    let end = events
        .iter()
        .rev()
        .find(|event| matches!(event.kind, EventKind::RunFinished { .. }))
        .map(|event| event.at_ms as f64)
        .expect("the run finished");
    end - start
}

fn first_job_start_in(events: &[Event]) -> f64 {
    events
        .iter()
        .find(|event| matches!(event.kind, EventKind::JobStarted { .. }))
        .map(|event| event.at_ms as f64)
        .expect("a job started")
}

/// Returns the `at_ms` of the first `job_started` in an events file.
fn first_job_start(events: &Path) -> f64 {
    let text = std::fs::read_to_string(events).expect("the events file");
    let events: Vec<Event> = text
        .lines()
        .filter_map(|line| Event::from_line(line).ok())
        .collect();
    first_job_start_in(&events)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn hook_to_first_job(root: &Path, quire_ci: &Path) {
    let (demo, sha) = start(root, "hook", quire_ci, "{}", ONE_JOB);
    let data = demo.paths().data_dir();

    let mut total = Vec::new();
    for round in 0..ROUNDS {
        let (run, before) =
            fire_hook(&demo, &sha, &format!("refs/heads/hook-{round}"));
        let run = wait(&demo, &run.id);
        assert_eq!(run.state, RunState::Complete, "run {} failed", run.id);
        let events = data.run_dir(&run.repo, &run.id).events();
        total.push(first_job_start(&events) - millis_since_epoch(before));
    }

    let git_dir = data.repo(REPO);
    let mut archive = Vec::new();
    let mut direct = Vec::new();
    for round in 0..ROUNDS {
        let workspace = root.join(format!("hook/archive-{round}"));
        let started = Instant::now();
        quire_server::ci::workspace::extract(&git_dir, &sha, &workspace)
            .expect("git archive works");
        archive.push(started.elapsed().as_secs_f64() * 1e3);

        let out = root.join(format!("hook/direct-{round}"));
        let events = out.join("events.jsonl");
        std::fs::create_dir_all(&out).expect("the out directory");
        let before = SystemTime::now();
        let status = Command::new(quire_ci)
            .arg("run")
            .arg("--workspace")
            .arg(&workspace)
            .arg("--out-dir")
            .arg(&out)
            .arg("--events")
            .arg(&events)
            .args(["--echo", "never"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("quire-ci starts");
        assert!(status.success(), "quire-ci run failed: {status}");
        direct.push(first_job_start(&events) - millis_since_epoch(before));
    }

    let total = median(&mut total);
    let archive = median(&mut archive);
    let direct = median(&mut direct);
    let without_archive = total - archive;
    println!();
    println!("hook fired -> first job started");
    println!("  total                          {total:8.1} ms");
    println!("  git archive + tar (subtracted) {archive:8.1} ms");
    println!(
        "  without git archive            {without_archive:8.1} ms  \
         (target <= {HOOK_TARGET_MS:.0} ms: {})",
        verdict(without_archive <= HOOK_TARGET_MS)
    );
    println!(
        "  baseline: quire-ci by hand     {direct:8.1} ms  \
         (server path / baseline = {:.2}x)",
        without_archive / direct
    );
    demo.stop();
}

fn lookups_by_transport(root: &Path, quire_ci: &Path) {
    let secrets: String = (0..100)
        .map(|i| format!(" :s{i} \"bench-secret-value-{i:03}-7d1e\""))
        .collect();
    let config = |transport: &str| {
        format!("{{:secrets {{{secrets}}} :ci {{:transport :{transport}}}}}")
    };
    let (filesystem, fs_sha) =
        start(root, "filesystem", quire_ci, &config("filesystem"), LOOKUPS);
    let api = Demo::start_in(
        DemoPaths {
            root: root.join("api"),
            quire: PathBuf::from(QUIRE),
            quire_ci: quire_ci.to_path_buf(),
        },
        &config("api"),
    )
    .expect("the server starts");
    let first = api
        .push(&[(".quire/ci.fnl", LOOKUPS)])
        .expect("the push creates a run");
    let first = wait(&api, &first.id);
    println!();
    println!("1,000 secret lookups of 100 names, hook -> final state");
    if first.state != RunState::Complete {
        println!(
            "  api transport: the run ended {} ({}); no figure",
            first.state,
            first.failure_reason.as_deref().unwrap_or("no reason")
        );
        filesystem.stop();
        api.stop();
        return;
    }

    let mut fs_times = Vec::new();
    let mut api_times = Vec::new();
    let mut fs_spans = Vec::new();
    let mut api_spans = Vec::new();
    for round in 0..ROUNDS {
        let name = format!("refs/heads/lookups-{round}");
        for (demo, sha, times, spans) in [
            (&filesystem, &fs_sha, &mut fs_times, &mut fs_spans),
            (&api, &first.sha, &mut api_times, &mut api_spans),
        ] {
            let started = Instant::now();
            let (run, _) = fire_hook(demo, sha, &name);
            let run = wait(demo, &run.id);
            times.push(started.elapsed().as_secs_f64() * 1e3);
            assert_eq!(run.state, RunState::Complete, "run {} failed", run.id);
            let data = demo.paths().data_dir();
            spans.push(job_span(&data.run_dir(&run.repo, &run.id).events()));
        }
    }
    let fs = median(&mut fs_times);
    let api_ms = median(&mut api_times);
    let fs_span = median(&mut fs_spans);
    let api_span = median(&mut api_spans);
    let ratio = api_ms / fs;
    println!("  filesystem transport (baseline) {fs:8.1} ms");
    println!(
        "  api transport                   {api_ms:8.1} ms  \
         (api / filesystem = {ratio:.2}x, target <= \
         {LOOKUP_TARGET_RATIO}x: {})",
        verdict(ratio <= LOOKUP_TARGET_RATIO)
    );
    println!(
        "  api cost per fetched name       {:8.3} ms  (100 names, \
         each fetched once)",
        (api_ms - fs) / 100.0
    );
    println!(
        "  first job start -> run_finished {fs_span:8.1} ms filesystem, \
         {api_span:.1} ms api"
    );
    filesystem.stop();
    api.stop();
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
