//! Dispatch, queueing, supersede and reconcile, with real git
//! repositories, real SQLite and real child processes.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Harness, alive};
use quire_proto::{Bootstrap, TransportMode};
use quire_server::ci::RefUpdate;
use quire_server::config::{Config, DeclaredSecret};
use quire_server::db::runs::RunState;
use sha2::{Digest, Sha256};

fn config(transport: TransportMode, max: usize) -> Config {
    let mut config = Config {
        transport,
        max_concurrent_runs: max,
        ..Config::default()
    };
    config.secrets.insert(
        "deploy_key".into(),
        DeclaredSecret::literal(b"k3y-value-0123".to_vec()),
    );
    config
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_dispatch_exact() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    let sha = h.commit("widgets", "refs/heads/main", "two");
    let run = h.ci.run_ref("widgets", Some("main")).unwrap();
    assert_eq!(run.sha, sha);
    let run = h.wait_state(&run.id, RunState::Complete).await;
    let dir = h.data.run_dir("widgets", &run.id);

    let argv: Vec<String> = h
        .recorded(&run.id, "argv")
        .lines()
        .map(String::from)
        .collect();
    let expected: Vec<String> = [
        "run",
        "--workspace",
        dir.workspace().to_str().unwrap(),
        "--bootstrap",
        dir.bootstrap().to_str().unwrap(),
        "--out-dir",
        dir.root().to_str().unwrap(),
        "--events",
        dir.events().to_str().unwrap(),
        "--run-id",
        &run.id,
        "--server-url",
        &h.url,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(argv, expected);

    // The token is in the environment only, and only its hash is stored.
    let token = h.recorded(&run.id, "token");
    assert_eq!(token.len(), 64);
    assert!(!argv.iter().any(|a| a.contains(&token)));
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let auth = h.db.run_auth(&run.id).unwrap().unwrap();
    assert_eq!(auth.token_hash.unwrap(), Sha256::digest(&raw).to_vec());

    assert_eq!(h.recorded(&run.id, "bootstrap_mode"), "600");
    let boot =
        Bootstrap::from_json(&h.recorded(&run.id, "bootstrap.json")).unwrap();
    assert_eq!(boot.secrets["deploy_key"].expose(), "k3y-value-0123");
    assert_eq!(boot.meta.sha, sha);
    assert_eq!(boot.meta.ref_name, "refs/heads/main");
    assert_eq!(boot.meta.repo, "widgets");
    assert_eq!(boot.git_dir, h.data.repo("widgets").to_str().unwrap());

    // The workspace is the commit's tree, without .git.
    assert_eq!(
        std::fs::read_to_string(dir.workspace().join("README")).unwrap(),
        "two"
    );
    assert!(!dir.workspace().join(".git").exists());
    assert!(!dir.bootstrap().exists());
    let log = std::fs::read_to_string(dir.runner_log()).unwrap();
    assert!(log.contains("fake quire-ci in mode finish"), "{log}");

    let jobs = h.db.jobs(&run.id).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].outcome.as_deref(), Some("complete"));
    assert_eq!(h.db.sh_commands(&run.id).unwrap()[0].cmd, "make");
    assert!(run.finished_at.is_some());
    assert_eq!(run.failure_reason, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_dispatch_adds_transport() {
    let h = Harness::start(config(TransportMode::Api, 1)).await;
    let run = h.ci.run_ref("widgets", None).unwrap();
    assert_eq!(run.transport, TransportMode::Api);
    h.wait_state(&run.id, RunState::Complete).await;
    let argv: Vec<String> = h
        .recorded(&run.id, "argv")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(argv[0], "run");
    assert_eq!(argv[3], "--bootstrap");
    assert_eq!(&argv[argv.len() - 2..], ["--transport", "api"]);
    assert_eq!(argv.len(), 15);
    assert_eq!(h.recorded(&run.id, "bootstrap_mode"), "600");
    let text = h.recorded(&run.id, "bootstrap.json");
    assert!(!text.contains("k3y-value-0123"), "{text}");
    let boot = Bootstrap::from_json(&text).unwrap();
    assert!(boot.secrets.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_unfinished_runs() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    h.set_mode("fail");
    let run = h.ci.run_ref("widgets", None).unwrap();
    let run = h.wait_state(&run.id, RunState::Failed).await;
    assert_eq!(run.failure_reason.as_deref(), Some("failed jobs: build"));

    h.set_mode("vanish");
    let run = h.ci.run_ref("widgets", None).unwrap();
    let run = h.wait_state(&run.id, RunState::Failed).await;
    assert_eq!(
        run.failure_reason.as_deref(),
        Some("runner exited without finishing (exit code 3)")
    );
    // The stand-in left its bootstrap file; the server removed it.
    let dir = h.data.run_dir("widgets", &run.id);
    assert!(!dir.bootstrap().exists());
    assert_eq!(h.db.jobs(&run.id).unwrap()[0].outcome, None);

    h.set_mode("compile-error");
    let run = h.ci.run_ref("widgets", None).unwrap();
    let run = h.wait_state(&run.id, RunState::Failed).await;
    assert_eq!(
        run.failure_reason.as_deref(),
        Some(".quire/ci.fnl:2:3: unknown global: fo0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runner_takes_commands_along() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    h.set_mode("hang");
    let run = h.ci.run_ref("widgets", None).unwrap();
    h.wait_recorded(&run.id, "child_pid").await;
    let pid: i32 = h.recorded(&run.id, "pid").parse().unwrap();
    let child: i32 = h.recorded(&run.id, "child_pid").parse().unwrap();
    assert!(alive(child), "its command is not running");

    // SAFETY: kill(2) on the stand-in process this test's run started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);

    let run = h.wait_state(&run.id, RunState::Failed).await;
    assert_eq!(
        run.failure_reason.as_deref(),
        Some("runner exited without finishing (killed by signal 9)")
    );
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(child) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!alive(child), "the command outlived quire-ci");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_runner_fails_run() {
    let mut h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    h.ci = quire_server::ci::Ci::new(
        h.db.clone(),
        h.config.clone(),
        h.data.clone(),
        quire_server::ci::RunnerSettings {
            program: h.tmp.path().join("no-such-quire-ci"),
            server_url: h.url.clone(),
        },
    );
    let run = h.ci.run_ref("widgets", None).unwrap();
    let run = h.wait_state(&run.id, RunState::Failed).await;
    let reason = run.failure_reason.unwrap();
    assert!(reason.starts_with("cannot start quire-ci"), "{reason}");
    assert!(!h.data.run_dir("widgets", &run.id).bootstrap().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_secret_fails_run() {
    let mut config = config(TransportMode::Filesystem, 1);
    config
        .secrets
        .insert("npm".into(), DeclaredSecret::env("QUIRE_TEST_UNSET_SECRET"));
    let h = Harness::start(config).await;
    let run = h.ci.run_ref("widgets", None).unwrap();
    let run = h.wait_state(&run.id, RunState::Failed).await;
    assert_eq!(
        run.failure_reason.as_deref(),
        Some(
            "secret npm: environment variable QUIRE_TEST_UNSET_SECRET is not \
             set; set it in the environment of the process that reads the \
             secret"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supersede_kills_active_run() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    h.set_mode("hang");
    let first = h.ci.run_ref("widgets", None).unwrap();
    h.wait_recorded(&first.id, "child_pid").await;
    let pid: i32 = h.recorded(&first.id, "pid").parse().unwrap();
    let child: i32 = h.recorded(&first.id, "child_pid").parse().unwrap();
    // Events are recorded while the run is still going.
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.db.jobs(&first.id).unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no job recorded mid-run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.db.jobs(&first.id).unwrap()[0].name, "build");
    assert!(alive(pid), "quire-ci is not running");
    assert!(alive(child), "its command is not running");

    h.set_mode("finish");
    let sha = h.commit("widgets", "refs/heads/main", "three");
    let runs =
        h.ci.push(
            "widgets",
            &[RefUpdate {
                old: first.sha.clone(),
                new: sha.clone(),
                ref_name: "refs/heads/main".into(),
            }],
        )
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].previous_sha.as_deref(), Some(first.sha.as_str()));
    let old = h.wait_state(&first.id, RunState::Superseded).await;
    assert!(old.finished_at.is_some());
    let expected = format!("superseded by run {}", runs[0].id);
    assert_eq!(old.failure_reason.as_deref(), Some(expected.as_str()));
    h.wait_state(&runs[0].id, RunState::Complete).await;
    h.wait_idle().await;
    // The whole process group is gone, the command it started too.
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(5);
    while (alive(pid) || alive(child)) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "quire-ci still running");
    assert!(!alive(child), "its command still running");
    // The superseded run stays superseded after its process exits.
    assert_eq!(
        h.db.run(&first.id).unwrap().unwrap().state,
        RunState::Superseded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_order_and_pending_supersede() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    h.set_mode("hang");
    let blocker = h.ci.run_ref("widgets", None).unwrap();
    h.wait_recorded(&blocker.id, "pid").await;

    h.commit("widgets", "refs/heads/a", "a1");
    h.commit("widgets", "refs/heads/b", "b1");
    let a1 = h.ci.run_ref("widgets", Some("a")).unwrap();
    let b1 = h.ci.run_ref("widgets", Some("b")).unwrap();
    let a2 = h.ci.run_ref("widgets", Some("a")).unwrap();
    // Only one run at a time: the others wait, and a newer push to
    // `a` replaced the waiting one.
    assert_eq!(
        h.db.run(&a1.id).unwrap().unwrap().state,
        RunState::Superseded
    );
    assert_eq!(h.db.run(&b1.id).unwrap().unwrap().state, RunState::Pending);
    assert_eq!(h.db.run(&a2.id).unwrap().unwrap().state, RunState::Pending);
    assert_eq!(h.ci.active_runs(), std::slice::from_ref(&blocker.id));

    // A deleted ref creates no run.
    let none =
        h.ci.push(
            "widgets",
            &[RefUpdate {
                old: b1.sha.clone(),
                new: "0".repeat(40),
                ref_name: "refs/heads/b".into(),
            }],
        )
        .unwrap();
    assert!(none.is_empty());

    h.set_mode("finish");
    let pid: u32 = h.recorded(&blocker.id, "pid").parse().unwrap();
    quire_server::ci::dispatch::kill_group(pid);
    h.wait_state(&blocker.id, RunState::Failed).await;
    let b1 = h.wait_state(&b1.id, RunState::Complete).await;
    let a2 = h.wait_state(&a2.id, RunState::Complete).await;
    // Push order: b1 was queued before a2 and started first.
    assert!(b1.started_at.unwrap() <= a2.started_at.unwrap());
    assert!(
        !h.control.join(&a1.id).exists(),
        "a superseded pending run never starts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_respected() {
    let h = Harness::start(config(TransportMode::Filesystem, 2)).await;
    h.set_mode("hang");
    for branch in ["x", "y", "z"] {
        h.commit("widgets", &format!("refs/heads/{branch}"), branch);
    }
    let x = h.ci.run_ref("widgets", Some("x")).unwrap();
    let y = h.ci.run_ref("widgets", Some("y")).unwrap();
    let z = h.ci.run_ref("widgets", Some("z")).unwrap();
    h.wait_recorded(&x.id, "pid").await;
    h.wait_recorded(&y.id, "pid").await;
    assert_eq!(h.db.run(&z.id).unwrap().unwrap().state, RunState::Pending);
    h.ci.kill_all();
    h.wait_recorded(&z.id, "pid").await;
    h.ci.kill_all();
    h.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_repo_rejected() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    let err = h.ci.run_ref("ghost", None).unwrap_err().to_string();
    assert_eq!(
        err,
        "repository ghost does not exist; create it with `quire repo new ghost`"
    );
    let err =
        h.ci.run_ref("widgets", Some("nope"))
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("refs/heads/nope does not name a commit"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_after_crash() {
    let h = Harness::start(config(TransportMode::Filesystem, 1)).await;
    // A run left active by a server that died, whose quire-ci still
    // runs, and a run left pending.
    h.set_mode("hang");
    let orphan = h.ci.run_ref("widgets", None).unwrap();
    h.wait_recorded(&orphan.id, "child_pid").await;
    let pid: i32 = h.recorded(&orphan.id, "pid").parse().unwrap();
    let dir = h.data.run_dir("widgets", &orphan.id);
    std::fs::write(dir.bootstrap(), "{}").unwrap();
    std::fs::set_permissions(
        dir.bootstrap(),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    h.commit("widgets", "refs/heads/later", "later");
    let pending = h.ci.run_ref("widgets", Some("later")).unwrap();
    assert_eq!(
        h.db.run(&pending.id).unwrap().unwrap().state,
        RunState::Pending
    );

    // A new server over the same database.
    h.set_mode("finish");
    let restarted = quire_server::ci::Ci::new(
        h.db.clone(),
        h.config.clone(),
        h.data.clone(),
        quire_server::ci::RunnerSettings {
            program: h.control.parent().unwrap().join("fake-quire-ci"),
            server_url: h.url.clone(),
        },
    );
    assert_eq!(restarted.reconcile().unwrap(), 1);
    let run = h.db.run(&orphan.id).unwrap().unwrap();
    assert_eq!(run.state, RunState::Failed);
    assert_eq!(run.failure_reason.as_deref(), Some("server restarted"));
    assert!(!dir.bootstrap().exists());
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the orphaned quire-ci was not killed");

    // The pending run is queued again, with a fresh token.
    restarted.pump();
    h.wait_state(&pending.id, RunState::Complete).await;
    let token = h.recorded(&pending.id, "token");
    assert_eq!(token.len(), 64);
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let hash =
        h.db.run_auth(&pending.id)
            .unwrap()
            .unwrap()
            .token_hash
            .unwrap();
    assert_eq!(hex(&hash), hex(&Sha256::digest(&raw)));
    h.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_dsn_handed_over() {
    let mut config = config(TransportMode::Api, 1);
    config.sentry_dsn = Some(DeclaredSecret::literal(
        b"https://key@errors.invalid/1".to_vec(),
    ));
    let h = Harness::start(config).await;
    let run = h.ci.run_ref("widgets", None).unwrap();
    h.wait_state(&run.id, RunState::Complete).await;
    let boot =
        Bootstrap::from_json(&h.recorded(&run.id, "bootstrap.json")).unwrap();
    assert!(boot.secrets.is_empty());
    let sentry = boot.sentry.expect("a sentry handoff");
    assert_eq!(sentry.dsn.expose(), "https://key@errors.invalid/1");
    assert_eq!(sentry.trace_id.len(), 32);
    assert!(sentry.trace_id.bytes().all(|b| b.is_ascii_hexdigit()));
}
