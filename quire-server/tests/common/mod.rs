//! Shared setup for the server's tests: a data directory with a real
//! bare repository, a `Ci` wired to a stand-in for quire-ci, and the
//! API served on 127.0.0.1.
//!
//! The stand-in is a shell script, a test double at the process
//! boundary: it records its argv, its `QUIRE_CI_TOKEN` and the
//! bootstrap file it was given, then acts as `control/mode` selects
//! (`finish`, `fail`, `hang` or `vanish`). The real quire-ci runs in
//! the end-to-end tests of the integration crate.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quire_server::api::{self, ApiState};
use quire_server::ci::{Ci, RunnerSettings};
use quire_server::config::{Config, ConfigHandle};
use quire_server::db::Db;
use quire_server::db::runs::{Run, RunState};
use quire_server::paths::DataDir;

const FAKE_QUIRE_CI: &str = r#"#!/bin/sh
# Stand-in for quire-ci: records what it was given, then acts.
control="$(dirname "$0")/control"
argv_file="$control/argv.$$"
printf '%s\n' "$@" > "$argv_file"
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift ;;
    --bootstrap) boot="$2"; shift ;;
    --run-id) run_id="$2"; shift ;;
  esac
  shift
done
record="$control/$run_id"
mkdir -p "$record"
mv "$argv_file" "$record/argv"
echo "$QUIRE_CI_TOKEN" > "$record/token"
for name in QUIRE_LOG RUST_LOG QUIRE_CI_LOG; do
  eval "printf '%s\\n' \"\${$name-unset}\"" > "$record/env.$name"
done
stat -c %a "$boot" > "$record/bootstrap_mode"
cat "$boot" > "$record/bootstrap.json"
pwd > "$record/cwd"
mode="$(cat "$control/mode" 2>/dev/null || echo finish)"
echo "fake quire-ci in mode $mode"
now=1733324878123
case "$mode" in
  finish|fail)
    rm -f "$boot"
    outcome=success; job=complete
    if [ "$mode" = fail ]; then outcome=failure; job=failed; fi
    {
      echo "{\"at_ms\":$now,\"type\":\"job_started\",\"job\":\"build\"}"
      echo "{\"at_ms\":$now,\"type\":\"sh_started\",\"job\":\"build\",\"n\":1,\"cmd\":\"make\"}"
      echo "{\"at_ms\":$now,\"type\":\"sh_finished\",\"job\":\"build\",\"n\":1,\"exit\":0}"
      echo "{\"at_ms\":$now,\"type\":\"job_finished\",\"job\":\"build\",\"outcome\":\"$job\"}"
      echo "{\"at_ms\":$now,\"type\":\"run_finished\",\"outcome\":\"$outcome\"}"
    } >> "$events"
    ;;
  hang)
    rm -f "$boot"
    echo "{\"at_ms\":$now,\"type\":\"job_started\",\"job\":\"build\"}" >> "$events"
    sleep 60 &
    echo $! > "$record/child_pid"
    echo $$ > "$record/pid"
    wait
    ;;
  compile-error)
    rm -f "$boot"
    echo "error: .quire/ci.fnl:2:3: unknown global: fo0" >&2
    echo "2 | (fo0 1)" >&2
    echo "help: define fo0 first" >&2
    exit 2
    ;;
  vanish)
    echo "{\"at_ms\":$now,\"type\":\"job_started\",\"job\":\"build\"}" >> "$events"
    exit 3
    ;;
esac
"#;

/// A test's data directory, `Ci` and API server.
pub struct Harness {
    pub tmp: tempfile::TempDir,
    pub data: DataDir,
    pub db: Arc<Db>,
    pub config: ConfigHandle,
    pub ci: Ci,
    pub url: String,
    pub control: PathBuf,
}

impl Harness {
    /// Builds everything with `config` and a repository `widgets`
    /// holding one commit on `main`.
    pub async fn start(config: Config) -> Harness {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::new(tmp.path().join("data"));
        std::fs::create_dir_all(data.root()).unwrap();
        let program = install_fake_quire_ci(&tmp.path().join("bin"));
        let control = tmp.path().join("bin").join("control");

        let db = Arc::new(Db::open(&data.database()).unwrap());
        let config = ConfigHandle::new(config);
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = api::router(Arc::new(ApiState {
            db: Arc::clone(&db),
            config: config.clone(),
        }));
        tokio::spawn(
            async move { axum::serve(listener, router).await.unwrap() },
        );
        let ci = Ci::new(
            Arc::clone(&db),
            config.clone(),
            data.clone(),
            RunnerSettings {
                program,
                server_url: url.clone(),
            },
        );
        let harness = Harness {
            tmp,
            data,
            db,
            config,
            ci,
            url,
            control,
        };
        harness.make_repo("widgets");
        harness
    }

    /// Sets what the stand-in does for the runs it starts from now on.
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.control.join("mode"), mode).unwrap();
    }

    /// Returns what the stand-in recorded for a run.
    pub fn recorded(&self, run_id: &str, file: &str) -> String {
        std::fs::read_to_string(self.control.join(run_id).join(file))
            .unwrap_or_else(|e| panic!("{run_id}/{file}: {e}"))
            .trim_end()
            .to_string()
    }

    /// Creates `repos/<name>.git` with one commit on `main`; returns
    /// the commit's sha.
    pub fn make_repo(&self, name: &str) -> String {
        let bare = self.data.repo(name);
        std::fs::create_dir_all(self.data.repos()).unwrap();
        git(
            self.tmp.path(),
            &[
                "init",
                "-q",
                "--bare",
                "--initial-branch=main",
                bare.to_str().unwrap(),
            ],
        );
        self.commit(name, "refs/heads/main", "one")
    }

    /// Commits a file with `content` onto `ref` of repository `name`
    /// (through a scratch clone) and returns the new sha.
    pub fn commit(&self, name: &str, ref_name: &str, content: &str) -> String {
        let work = self.tmp.path().join(format!("work-{name}-{content}"));
        std::fs::create_dir_all(work.join(".quire")).unwrap();
        git(&work, &["init", "-q", "--initial-branch=main"]);
        std::fs::write(work.join(".quire/ci.fnl"), format!(";; {content}\n"))
            .unwrap();
        std::fs::write(work.join("README"), content).unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", content]);
        let bare = self.data.repo(name);
        git(
            &work,
            &[
                "push",
                "-q",
                "--force",
                bare.to_str().unwrap(),
                &format!("HEAD:{ref_name}"),
            ],
        );
        git_output(&work, &["rev-parse", "HEAD"])
    }

    /// Waits until `run_id` is in `state`, failing after 20 s.
    pub async fn wait_state(&self, run_id: &str, state: RunState) -> Run {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let run = self.db.run(run_id).unwrap().expect("run exists");
            if run.state == state {
                return run;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(
                    self.data.run_dir(&run.repo, &run.id).runner_log(),
                )
                .unwrap_or_default();
                panic!(
                    "run {run_id} is {} not {state}; quire-ci.log:\n{log}",
                    run.state
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `file` is recorded for the run.
    pub async fn wait_recorded(&self, run_id: &str, file: &str) {
        let path = self.control.join(run_id).join(file);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The stand-in writes then closes; give it a moment to finish.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Waits until no run has a slot.
    pub async fn wait_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.ci.active_runs().is_empty() {
            assert!(Instant::now() < deadline, "runs never finished");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Writes the stand-in for quire-ci into `bin`, with its `control`
/// directory beside it; returns the program's path.
pub fn install_fake_quire_ci(bin: &Path) -> PathBuf {
    std::fs::create_dir_all(bin.join("control")).unwrap();
    let program = bin.join("fake-quire-ci");
    write_executable(&program, FAKE_QUIRE_CI);
    program
}

pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap();
}

pub fn git(dir: &Path, args: &[&str]) {
    git_output(dir, args);
}

pub fn git_output(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// True while a process with `pid` exists (zombies count as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.contains(") Z "),
        Err(_) => false,
    }
}
