//! Run tokens end to end: dead once the run ends, bound to their own
//! run, and dead when quire-ci is killed.

use std::path::Path;
use std::time::Duration;

use integration::http::get;
use integration::pipeline::{
    capture_runner, config, fennel_string, wait_for_path,
};
use integration::quire::{process_exists, wait_for_file};
use integration::{Quire, in_both_transports};

const VALUE: &str = "alpha-value-5e1f0c7d";

fn secrets() -> String {
    format!(":alpha {}", fennel_string(VALUE))
}

/// Builds a pipeline whose one job records quire-ci's pid and token as
/// `<scratch>/<tag>.pid|token`, then waits for `<scratch>/<tag>.go`
/// when `hold` is set.
fn capturing_pipeline(scratch: &Path, tag: &str, hold: bool) -> String {
    let mut shell = capture_runner(scratch, tag);
    if hold {
        let release = scratch.join(format!("{tag}.go"));
        shell = format!("{shell}; {}", wait_for_path(&release));
    }
    format!(
        r#"(local ci (require :quire.ci))

(ci.job :capture [:quire/push]
  (fn [{{: sh : secret}}]
    (secret :alpha)
    (sh {})
    {{}}))
"#,
        fennel_string(&shell)
    )
}

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn secret_path(run_id: &str) -> String {
    format!("/api/runs/{run_id}/secrets/alpha")
}

fn tokens_die_and_stay_bound(transport: &str) {
    let quire = Quire::start(&config(transport, &secrets()));
    let scratch = quire.scratch();

    let first = quire.new_repo("first");
    first.write(".quire/ci.fnl", &capturing_pipeline(&scratch, "a", false));
    first.commit("capture the token");
    first.push();
    let run_a = quire.wait_for_runs("first", 1).remove(0);
    assert_eq!(run_a.state(), "complete", "{:#}", run_a.json);
    let token_a = read_trimmed(&scratch.join("a.token"));
    assert_eq!(token_a.len(), 64, "a hex token of 32 bytes");

    let dead = get(quire.addr(), &secret_path(run_a.id()), Some(&token_a));
    assert_eq!(dead.status, 401, "a finished run's token: {}", dead.body);

    // A second run, held open, has a live token of its own.
    let second = quire.new_repo("second");
    second.write(".quire/ci.fnl", &capturing_pipeline(&scratch, "b", true));
    second.commit("capture and hold");
    second.push();
    wait_for_file(&scratch.join("b.token"), Duration::from_secs(15));
    let token_b = read_trimmed(&scratch.join("b.token"));
    let run_b_id = quire.list_runs("second")[0]["id"]
        .as_str()
        .expect("the run has an id")
        .to_string();

    let live = get(quire.addr(), &secret_path(&run_b_id), Some(&token_b));
    assert_eq!(live.status, 200, "the live run's own token: {}", live.body);
    assert_eq!(live.body, VALUE);
    let crossed = get(quire.addr(), &secret_path(run_a.id()), Some(&token_b));
    assert_eq!(crossed.status, 401, "run B's token on run A");
    let old = get(quire.addr(), &secret_path(&run_b_id), Some(&token_a));
    assert_eq!(old.status, 401, "run A's dead token on run B");
    let none = get(quire.addr(), &secret_path(&run_b_id), None);
    assert_eq!(none.status, 401, "no token");
    assert_eq!(crossed.body, none.body, "one 401 body for every refusal");

    std::fs::write(scratch.join("b.go"), "").unwrap();
    let run_b = quire.wait_for_runs("second", 1).remove(0);
    assert_eq!(run_b.state(), "complete", "{:#}", run_b.json);
    let after = get(quire.addr(), &secret_path(&run_b_id), Some(&token_b));
    assert_eq!(after.status, 401, "run B's token after it finished");
}
in_both_transports!(
    tokens_die_and_stay_bound,
    filesystem: ,
    api: );

fn killed_runner_fails_run(transport: &str) {
    let quire = Quire::start(&config(transport, &secrets()));
    let scratch = quire.scratch();
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &capturing_pipeline(&scratch, "k", true));
    repo.commit("hold the job open");
    repo.push();
    wait_for_file(&scratch.join("k.pid"), Duration::from_secs(15));
    let pid: i32 = read_trimmed(&scratch.join("k.pid")).parse().unwrap();
    let token = read_trimmed(&scratch.join("k.token"));
    // quire-ci leads its own process group; its job's shell is in it.
    quire.track_group(pid);
    let run_id = quire.list_runs("widgets")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let live = get(quire.addr(), &secret_path(&run_id), Some(&token));
    assert_eq!(live.status, 200, "the token works mid-run");

    // SAFETY: kill(2) on the quire-ci process this test's run started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    let run = quire.wait_for_state(&run_id, "failed");
    assert_eq!(
        run.failure_reason(),
        Some("runner exited without finishing (killed by signal 9)"),
        "{:#}",
        run.json
    );
    let dead = get(quire.addr(), &secret_path(&run_id), Some(&token));
    assert_eq!(dead.status, 401, "the token of a killed run");
    integration::quire::kill_group(pid, libc::SIGKILL);
    assert!(!process_exists(pid) || is_zombie(pid), "quire-ci is gone");
}
in_both_transports!(
    killed_runner_fails_run,
    filesystem: ,
    api: );

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.contains(") Z "))
        .unwrap_or(true)
}

/// The server hands every run its token in `QUIRE_CI_TOKEN`, in the
/// filesystem transport too, where it still opens the secret API while
/// the run is active. Commands do not inherit it, but they can read it
/// from quire-ci's environment in `/proc`, so no recorded byte may
/// carry it.
#[test]
fn filesystem_token_stays_out_of_logs() {
    let quire = Quire::start(&config("filesystem", &secrets()));
    let scratch = quire.scratch();
    let shell = format!(
        "{}; echo \"inherited: $QUIRE_CI_TOKEN\"; \
         tr '\\0' '\\n' < /proc/$PPID/environ | grep '^QUIRE_CI_TOKEN='",
        capture_runner(&scratch, "f")
    );
    let pipeline = format!(
        r#"(local ci (require :quire.ci))

(ci.job :print-token [:quire/push]
  (fn [{{: sh}}]
    (sh {})
    {{}}))
"#,
        fennel_string(&shell)
    );
    let repo = quire.new_repo("widgets");
    repo.write(".quire/ci.fnl", &pipeline);
    repo.commit("print the inherited token");
    repo.push();

    let run = quire.wait_for_runs("widgets", 1).remove(0);
    assert_eq!(run.state(), "complete", "{:#}", run.json);
    let token = read_trimmed(&scratch.join("f.token"));
    assert_eq!(token.len(), 64, "a captured token");
    let hits = integration::scan::find_in_files(
        &quire.data_dir(),
        &[("the run's token", token.as_bytes())],
    );
    assert!(
        hits.is_empty(),
        "the token under the data directory: {hits:#?}"
    );
}
