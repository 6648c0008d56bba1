//! The run lifecycle end to end: superseding pushes, a pipeline that
//! does not compile, and a server restarted under a running run.

use std::path::Path;
use std::time::{Duration, Instant};

use integration::http::get;
use integration::pipeline::{
    capture_runner, config, fennel_string, wait_for_path,
};
use integration::quire::{process_exists, wait_for_file};
use integration::{Quire, in_both_transports};

const QUICK: &str = r#"(local ci (require :quire.ci))

(ci.job :quick [:quire/push]
  (fn [{: sh}]
    (sh "echo second push")
    {}))
"#;

/// Builds a pipeline that records quire-ci's pid and token under `tag`,
/// then waits for `<scratch>/<tag>.go` (at most 20 seconds).
fn holding_pipeline(scratch: &Path, tag: &str) -> String {
    let release = scratch.join(format!("{tag}.go"));
    let shell = format!(
        "{}; {}",
        capture_runner(scratch, tag),
        wait_for_path(&release)
    );
    format!(
        r#"(local ci (require :quire.ci))

(ci.job :hold [:quire/push]
  (fn [{{: sh}}]
    (sh {})
    {{}}))
"#,
        fennel_string(&shell)
    )
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .expect("a pid")
}

/// Waits until the process `pid` has exited and been reaped.
fn wait_until_gone(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_exists(pid) && !is_zombie(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.contains(") Z "))
        .unwrap_or(true)
}

fn push_supersedes_active_run(transport: &str) {
    let quire = Quire::start(&config(transport, ""));
    let scratch = quire.scratch();
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &holding_pipeline(&scratch, "one"));
    let first_sha = repo.commit("hold the job open");
    repo.push();
    wait_for_file(&scratch.join("one.pid"), Duration::from_secs(15));
    let pid = read_pid(&scratch.join("one.pid"));
    quire.track_group(pid);

    repo.write(".quire/ci.fnl", QUICK);
    let second_sha = repo.commit("replace the pipeline");
    repo.push();

    let runs = quire.wait_for_runs("widgets", 2);
    assert_eq!(runs[0].sha(), first_sha);
    assert_eq!(runs[0].state(), "superseded", "{:#}", runs[0].json);
    assert_eq!(runs[1].sha(), second_sha);
    assert_eq!(runs[1].state(), "complete", "{:#}", runs[1].json);
    assert!(runs[1].job_log("quick").contains("second push"));
    wait_until_gone(pid);
}
in_both_transports!(
    push_supersedes_active_run,
    filesystem: ,
    api: );

#[test]
fn quick_pushes_supersede_first() {
    let quire = Quire::start(&config("filesystem", ""));
    let scratch = quire.scratch();
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &holding_pipeline(&scratch, "one"));
    let first_sha = repo.commit("first");
    repo.push();
    repo.write(".quire/ci.fnl", QUICK);
    let second_sha = repo.commit("second");
    repo.push();

    let runs = quire.wait_for_runs("widgets", 2);
    assert_eq!(runs[0].sha(), first_sha);
    assert_eq!(runs[0].state(), "superseded", "{:#}", runs[0].json);
    assert_eq!(runs[1].sha(), second_sha);
    assert_eq!(runs[1].state(), "complete", "{:#}", runs[1].json);
    if let Ok(text) = std::fs::read_to_string(scratch.join("one.pid")) {
        let pid: i32 = text.trim().parse().unwrap();
        quire.track_group(pid);
        wait_until_gone(pid);
    }
}

/// A stray `)` at line 5, column 35.
const BROKEN: &str = r#"(local ci (require :quire.ci))

(ci.job :build [:quire/push]
  (fn [] {:ok true}))
(ci.job :test [:build] (fn [] {})))
"#;

#[test]
fn syntax_error_names_location() {
    let quire = Quire::start(&config("filesystem", ""));
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", BROKEN);
    repo.commit("break the pipeline");
    repo.push();

    let run = quire.wait_for_runs("widgets", 1).remove(0);
    assert_eq!(run.state(), "failed", "{:#}", run.json);
    let log = run.runner_log();
    assert!(log.contains(".quire/ci.fnl:5:35"), "quire-ci.log:\n{log}");
}

/// Starts a run that keeps its job open. Returns the run id,
/// quire-ci's pid and the run's token.
fn start_held_run(quire: &Quire) -> (String, i32, String) {
    let scratch = quire.scratch();
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &holding_pipeline(&scratch, "r"));
    repo.commit("hold the job open");
    repo.push();
    wait_for_file(&scratch.join("r.pid"), Duration::from_secs(15));
    let pid = read_pid(&scratch.join("r.pid"));
    quire.track_group(pid);
    let token = std::fs::read_to_string(scratch.join("r.token")).unwrap();
    let run_id = quire.list_runs("widgets")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (run_id, pid, token.trim().to_string())
}

fn assert_reconciled(quire: &Quire, run_id: &str, token: &str) {
    let run = quire.show(run_id);
    assert_eq!(run.state(), "failed", "{:#}", run.json);
    assert_eq!(run.failure_reason(), Some("server restarted"));
    let path = format!("/api/runs/{run_id}/secrets/alpha");
    let response = get(quire.addr(), &path, Some(token));
    assert_eq!(response.status, 401, "the token of a reconciled run");
}

/// A stopped server kills its quire-ci processes but leaves their runs
/// active, so the next start reconciles them.
#[test]
fn stop_then_start_reconciles_run() {
    let mut quire = Quire::start(&config("filesystem", ""));
    let (run_id, pid, token) = start_held_run(&quire);

    quire.stop_server();
    wait_until_gone(pid);
    assert_eq!(quire.show(&run_id).state(), "active", "until the restart");
    quire.start_server();

    assert_reconciled(&quire, &run_id, &token);
}

#[test]
fn restart_after_crash_kills_runner() {
    let mut quire = Quire::start(&config("filesystem", ""));
    let (run_id, pid, token) = start_held_run(&quire);

    quire.crash_server();
    assert!(process_exists(pid), "quire-ci outlives a crashed server");
    quire.start_server();

    assert_reconciled(&quire, &run_id, &token);
    wait_until_gone(pid);
}
