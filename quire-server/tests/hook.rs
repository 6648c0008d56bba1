//! Pushes through a real bare repository and its `post-receive` hook,
//! and the `quire` binary's commands, against a server started
//! in-process.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{git, git_output, install_fake_quire_ci};
use quire_server::db::Db;
use quire_server::paths::DataDir;
use quire_server::server::{ServeOptions, Server};

const QUIRE: &str = env!("CARGO_BIN_EXE_quire");

fn quire(data: &Path, args: &[&str]) -> Output {
    Command::new(QUIRE)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "quire failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Commits `content` in `work` and pushes it to `bare`'s main; returns
/// the push's stderr, where git shows the hook's output.
fn commit_and_push(work: &Path, bare: &Path, content: &str) -> String {
    std::fs::write(work.join("README"), content).unwrap();
    git(work, &["add", "."]);
    git(work, &["commit", "-q", "-m", content]);
    let output = Command::new("git")
        .args(["push", bare.to_str().unwrap(), "HEAD:refs/heads/main"])
        .current_dir(work)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "push failed: {stderr}");
    stderr
}

async fn wait_for_state(db: &Db, run_id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = db.run(run_id).unwrap().unwrap();
        if run.state.as_str() == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run is {} not {state}",
            run.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_through_hook_creates_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let data = DataDir::new(&data_path);
    let fake = install_fake_quire_ci(&tmp.path().join("bin"));
    let server = Server::start(ServeOptions {
        data: data.clone(),
        bind: Some("127.0.0.1:0".into()),
        quire_ci: fake,
        config_poll: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let health = reqwest::get(format!("{}/healthz", server.url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let created = stdout(&quire(&data_path, &["repo", "new", "widgets"]));
    let bare = data.repo("widgets");
    assert_eq!(created.trim(), format!("created {}", bare.display()));

    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join(".quire")).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    git(&work, &["config", "user.name", "Test"]);
    git(&work, &["config", "user.email", "test@example.invalid"]);
    std::fs::write(work.join(".quire/ci.fnl"), ";; pipeline\n").unwrap();
    let push_err = commit_and_push(&work, &bare, "first");
    let sha = git_output(&work, &["rev-parse", "HEAD"]);
    assert!(push_err.contains("quire: run "), "{push_err}");
    assert!(
        push_err.contains("created for refs/heads/main"),
        "{push_err}"
    );

    let db = Db::open(&data.database()).unwrap();
    let runs = db.list_runs(Some("widgets"), 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].sha, sha);
    assert_eq!(runs[0].ref_name, "refs/heads/main");
    assert_eq!(runs[0].previous_sha, None);
    wait_for_state(&db, &runs[0].id, "complete").await;

    // `quire ci run`, `list` and `show` against the same server.
    let started =
        stdout(&quire(&data_path, &["ci", "run", "widgets", "--json"]));
    let started: serde_json::Value = serde_json::from_str(&started).unwrap();
    let second = started["id"].as_str().unwrap().to_string();
    assert_eq!(started["sha"], sha.as_str());
    wait_for_state(&db, &second, "complete").await;

    let list = stdout(&quire(&data_path, &["ci", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], second.as_str(), "newest first");
    assert_eq!(list[0]["state"], "complete");

    let show =
        stdout(&quire(&data_path, &["ci", "show", &second[..13], "--json"]));
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(show["run"]["id"], second.as_str());
    assert_eq!(show["jobs"][0]["name"], "build");
    assert_eq!(show["jobs"][0]["outcome"], "complete");
    assert_eq!(show["jobs"][0]["commands"][0]["cmd"], "make");
    let output = show["runner_output"].as_str().unwrap();
    assert!(output.contains("fake quire-ci in mode finish"), "{output}");
    let text = stdout(&quire(&data_path, &["ci", "show", &second]));
    assert!(text.contains("job build  complete"), "{text}");
    assert!(text.contains("$ make  (exit 0)"), "{text}");

    let missing = quire(&data_path, &["ci", "show", "ffffffff"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("run ffffffff not found"), "{err}");

    // With the server stopped, a push still succeeds with a warning.
    server.stop().await;
    let push_err = commit_and_push(&work, &bare, "second");
    assert!(
        push_err.contains("quire: warning: cannot reach the quire server"),
        "{push_err}"
    );
    assert!(
        push_err.contains("the push succeeded but no run was created"),
        "{push_err}"
    );
    assert_eq!(db.list_runs(None, 10).unwrap().len(), 2);
    let no_server = quire(&data_path, &["ci", "run", "widgets"]);
    assert!(!no_server.status.success());
}

#[test]
fn serve_binary_reports_address() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = install_fake_quire_ci(&tmp.path().join("bin"));
    let mut child = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci"])
        .arg(&fake)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("quire listening on ")
        .unwrap()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(tmp.path().join("data/quire.db").exists());
    let mode = std::fs::metadata(tmp.path().join("data/runs")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o700
    );
    assert!(tmp.path().join("data/server.sock").exists());
    // SAFETY: kill(2) on the child's pid, which has not been reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!tmp.path().join("data/server.sock").exists());
}

#[test]
fn serve_rejects_broken_config() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("config.fnl"), "{:port 3000\n").unwrap();
    let output = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci", "/bin/true"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "error: refusing to start: {}:1:1: unclosed `{{`",
        data.join("config.fnl").display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    std::fs::write(data.join("config.fnl"), "{:ci {:parallel 2}}\n").unwrap();
    let output = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci", "/bin/true"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(":ci :parallel: unknown key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_leaves_run_for_reconcile() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let data = DataDir::new(&data_path);
    let bin = tmp.path().join("bin");
    let fake = install_fake_quire_ci(&bin);
    std::fs::write(bin.join("control/mode"), "hang").unwrap();
    let options = ServeOptions {
        data: data.clone(),
        bind: Some("127.0.0.1:0".into()),
        quire_ci: fake,
        config_poll: Duration::from_millis(50),
    };
    let server = Server::start(options.clone()).await.unwrap();
    stdout(&quire(&data_path, &["repo", "new", "widgets"]));
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    git(&work, &["config", "user.name", "Test"]);
    git(&work, &["config", "user.email", "test@example.invalid"]);
    commit_and_push(&work, &data.repo("widgets"), "held");

    let db = Db::open(&data.database()).unwrap();
    let run_id = db.list_runs(None, 1).unwrap()[0].id.clone();
    let pid_file = bin.join("control").join(&run_id).join("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "quire-ci never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    server.stop().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::alive(pid) {
        assert!(Instant::now() < deadline, "quire-ci outlived the stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = db.run(&run_id).unwrap().unwrap();
    assert_eq!(run.state.as_str(), "active", "until the next start");

    let server = Server::start(options).await.unwrap();
    let run = db.run(&run_id).unwrap().unwrap();
    assert_eq!(run.state.as_str(), "failed");
    assert_eq!(run.failure_reason.as_deref(), Some("server restarted"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_serve_leaves_active_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let data = DataDir::new(&data_path);
    let bin = tmp.path().join("bin");
    let fake = install_fake_quire_ci(&bin);
    std::fs::write(bin.join("control/mode"), "hang").unwrap();
    let server = Server::start(ServeOptions {
        data: data.clone(),
        bind: Some("127.0.0.1:0".into()),
        quire_ci: fake.clone(),
        config_poll: Duration::from_millis(50),
    })
    .await
    .unwrap();
    stdout(&quire(&data_path, &["repo", "new", "widgets"]));
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    git(&work, &["config", "user.name", "Test"]);
    git(&work, &["config", "user.email", "test@example.invalid"]);
    commit_and_push(&work, &data.repo("widgets"), "held");

    let db = Db::open(&data.database()).unwrap();
    let run_id = db.list_runs(None, 1).unwrap()[0].id.clone();
    let pid_file = bin.join("control").join(&run_id).join("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "quire-ci never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let second = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(&data_path)
        .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci"])
        .arg(&fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "second server started: {stderr}");

    let run = db.run(&run_id).unwrap().unwrap();
    assert_eq!(run.state.as_str(), "active");
    assert_eq!(run.failure_reason, None);
    assert!(common::alive(pid), "the second start killed quire-ci");
    assert!(data.socket().exists(), "the first server's socket is gone");
    assert!(
        stderr.contains("another quire server is running"),
        "{stderr}"
    );

    server.stop().await;
}

#[test]
fn repo_name_with_dash_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    for name in ["-rf", "--repo"] {
        let output = quire(&data_path, &["repo", "new", "--", name]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} accepted");
        assert!(stderr.contains("invalid repository name"), "{stderr}");
        assert!(!data_path.join("repos").join(format!("{name}.git")).exists());

        let output = quire(&data_path, &["ci", "run", "--", name]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "ci run {name} accepted");
        assert!(stderr.contains("invalid repository name"), "{stderr}");
    }
}

/// Runs `quire ci run widgets` against a `quire serve` child started
/// with `envs`; returns what the stand-in recorded of its environment
/// as (QUIRE_LOG, RUST_LOG, QUIRE_CI_LOG).
fn runner_env_under(envs: &[(&str, &str)]) -> (String, String, String) {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let bin = tmp.path().join("bin");
    let fake = install_fake_quire_ci(&bin);
    let mut command = Command::new(QUIRE);
    command
        .arg("--data-dir")
        .arg(&data_path)
        .args(["serve", "--bind", "127.0.0.1:0", "--quire-ci"])
        .arg(&fake)
        .env_remove("QUIRE_LOG")
        .env_remove("RUST_LOG")
        .env_remove("QUIRE_CI_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut server = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("quire listening on"), "{line}");

    stdout(&quire(&data_path, &["repo", "new", "widgets"]));
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    git(&work, &["config", "user.name", "Test"]);
    git(&work, &["config", "user.email", "test@example.invalid"]);
    commit_and_push(&work, &DataDir::new(&data_path).repo("widgets"), "env");
    let db = Db::open(&DataDir::new(&data_path).database()).unwrap();
    let run_id = db.list_runs(None, 1).unwrap()[0].id.clone();
    let record = bin.join("control").join(&run_id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !record.join("env.QUIRE_CI_LOG").exists() {
        assert!(Instant::now() < deadline, "quire-ci never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    let read = |name: &str| {
        std::fs::read_to_string(record.join(format!("env.{name}")))
            .unwrap()
            .trim_end()
            .to_string()
    };
    let recorded = (read("QUIRE_LOG"), read("RUST_LOG"), read("QUIRE_CI_LOG"));
    // SAFETY: kill(2) on the server this function started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    server.wait().unwrap();
    recorded
}

#[test]
fn server_log_filter_not_inherited() {
    let (quire_log, rust_log, ci_log) = runner_env_under(&[
        ("QUIRE_LOG", "quire_server=error"),
        ("RUST_LOG", "error"),
    ]);
    assert_eq!(quire_log, "unset");
    assert_eq!(rust_log, "unset");
    assert_eq!(ci_log, "unset");

    let (quire_log, rust_log, ci_log) = runner_env_under(&[
        ("QUIRE_LOG", "quire_server=error"),
        ("RUST_LOG", "error"),
        ("QUIRE_CI_LOG", "quire_ci=debug"),
    ]);
    assert_eq!(quire_log, "quire_ci=debug");
    assert_eq!(rust_log, "unset");
    assert_eq!(ci_log, "unset");
}

/// Returns the paths under `dir`, itself included, that the group or
/// others may access.
fn shared_paths(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push(format!("{:o} {}", mode, path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let data = DataDir::new(&data_path);
    // `repo new` before the first `serve` creates the data directory.
    stdout(&quire(&data_path, &["repo", "new", "widgets"]));

    let bin = tmp.path().join("bin");
    let fake = install_fake_quire_ci(&bin);
    let server = Server::start(ServeOptions {
        data: data.clone(),
        bind: Some("127.0.0.1:0".into()),
        quire_ci: fake,
        config_poll: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "--initial-branch=main"]);
    git(&work, &["config", "user.name", "Test"]);
    git(&work, &["config", "user.email", "test@example.invalid"]);
    commit_and_push(&work, &data.repo("widgets"), "modes");
    let db = Db::open(&data.database()).unwrap();
    let run_id = db.list_runs(None, 1).unwrap()[0].id.clone();
    wait_for_state(&db, &run_id, "complete").await;

    let mode = |path: &Path| {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    let run = data.run_dir("widgets", &run_id);
    for dir in [
        data_path.clone(),
        data.repos(),
        data.repo("widgets"),
        data_path.join("runs"),
        data_path.join("runs/widgets"),
        run.root().to_path_buf(),
        run.workspace(),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in [
        data.database(),
        data_path.join("quire.db-wal"),
        data.socket(),
        data.lock_file(),
        run.runner_log(),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let hook = data.repo("widgets").join("hooks/post-receive");
    assert_eq!(mode(&hook), 0o700);
    // git writes the repository's own files, pushed objects included.
    assert_eq!(shared_paths(&data.repo("widgets")), Vec::<String>::new());
    server.stop().await;
}

#[test]
fn show_empty_id_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    std::fs::create_dir_all(&data_path).unwrap();
    drop(Db::open(&DataDir::new(&data_path).database()).unwrap());
    for id in ["", " "] {
        let output = quire(&data_path, &["ci", "show", id]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{id:?} accepted");
        assert!(stderr.contains("missing run id"), "{stderr}");
        assert!(!stderr.contains("ambiguous"), "{stderr}");
    }
}
