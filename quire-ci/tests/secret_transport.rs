//! `quire-ci run` end to end in both secret transports: the real binary,
//! a real bootstrap file, and in the api transport a real HTTP server on
//! 127.0.0.1.

mod secret_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use quire_proto::{Event, EventKind, JobOutcome, SecretSource, cri};
use secret_server::{RUN_ID, SecretServer, TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_quire-ci");

/// Two jobs read `deploy_key`. The first prints it, its base64 form,
/// the environment `sh` gives it, and the environment quire-ci was
/// started with, where the token may still be found.
const PIPELINE: &str = r#"(local ci (require :quire.ci))
(ci.job :build [:quire/push]
  (fn [{: sh : secret : log}]
    (let [key (secret :deploy_key)]
      (sh (.. "echo key=" key))
      (sh (.. "printf %s '" key "' | base64"))
      (sh "env")
      (sh "tr '\\0' '\\n' < /proc/$PPID/environ")
      (log "read key" key)
      {:len (length key)})))
(ci.job :deploy [:build]
  (fn [{: secret}]
    {:same (length (secret :deploy_key))}))
"#;

const BOOTSTRAP_VALUE: &str = "bootstrap-value-9999";
const API_VALUE: &str = "api-served-value-4567";

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.quire")).unwrap();
        std::fs::write(dir.path().join("ws/.quire/ci.fnl"), pipeline).unwrap();
        Self { dir }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn bootstrap(&self, secrets: &str) -> PathBuf {
        let path = self.dir.path().join("bootstrap.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"meta":{{"sha":"0123456789abcdef0123456789abcdef01234567","ref":"refs/heads/main","pushed_at":"2026-12-04T15:07:58Z","repo":"widgets"}},"git_dir":"/srv/widgets.git","secrets":{secrets}}}"#
            ),
        )
        .unwrap();
        path
    }

    fn command(&self, bootstrap: &Path) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("run")
            .arg("--workspace")
            .arg(self.dir.path().join("ws"))
            .arg("--out-dir")
            .arg(self.out())
            .arg("--events")
            .arg(self.out().join("events.jsonl"))
            .arg("--bootstrap")
            .arg(bootstrap)
            .env_remove("QUIRE_CI_TOKEN")
            .env("QUIRE_LOG", "quire_ci::secret=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        command
    }

    fn events(&self) -> Vec<EventKind> {
        let text =
            std::fs::read_to_string(self.out().join("events.jsonl")).unwrap();
        text.lines()
            .map(|l| Event::from_line(l).unwrap().kind)
            .collect()
    }

    fn stdout_of(&self, job: &str, n: u32) -> String {
        let log = std::fs::read_to_string(
            self.out().join(format!("jobs/{job}/sh-{n}.log")),
        )
        .unwrap();
        let lines = cri::parse_log(&log).unwrap();
        cri::reassemble(&lines, quire_proto::LogStream::Stdout)
    }

    /// Concatenates every file the run wrote.
    fn recorded(&self) -> String {
        let mut text = String::new();
        let mut dirs = vec![self.out()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    text.push_str(&String::from_utf8_lossy(
                        &std::fs::read(&path).unwrap(),
                    ));
                }
            }
        }
        text
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn resolutions(events: &[EventKind]) -> Vec<(String, SecretSource, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::SecretResolved {
                job,
                source,
                cached,
                ..
            } => Some((job.clone(), *source, *cached)),
            _ => None,
        })
        .collect()
}

fn base64(value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn assert_hidden(output: &Output, run: &Run, hidden: &[&str]) {
    let recorded = run.recorded();
    let stderr = text(&output.stderr);
    let stdout = text(&output.stdout);
    for value in hidden {
        assert!(!recorded.contains(value), "{value} in files: {recorded}");
        assert!(!stderr.contains(value), "{value} on stderr: {stderr}");
        assert!(!stdout.contains(value), "{value} on stdout: {stdout}");
    }
}

#[test]
fn filesystem_transport_end_to_end() {
    let run = Run::new(PIPELINE);
    let bootstrap =
        run.bootstrap(&format!(r#"{{"deploy_key":"{BOOTSTRAP_VALUE}"}}"#));
    let output = run.command(&bootstrap).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!bootstrap.exists(), "the bootstrap file was not deleted");

    assert_eq!(run.stdout_of("build", 1), "key={{ deploy_key }}\n");
    assert_eq!(run.stdout_of("build", 2), "{{ deploy_key }}\n");
    assert_eq!(
        resolutions(&run.events()),
        [
            ("build".to_string(), SecretSource::Declared, false),
            ("deploy".to_string(), SecretSource::Declared, true),
        ]
    );
    assert_hidden(&output, &run, &[BOOTSTRAP_VALUE, &base64(BOOTSTRAP_VALUE)]);
}

#[test]
fn api_transport_end_to_end() {
    let server = SecretServer::start(&[("deploy_key", API_VALUE)]);
    let run = Run::new(PIPELINE);
    // The bootstrap's own value is ignored in the api transport.
    let bootstrap =
        run.bootstrap(&format!(r#"{{"deploy_key":"{BOOTSTRAP_VALUE}"}}"#));
    let output = run
        .command(&bootstrap)
        .args(["--transport", "api", "--run-id", RUN_ID])
        .args(["--server-url", &server.url])
        .env("QUIRE_CI_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!bootstrap.exists(), "the bootstrap file was not deleted");

    assert_eq!(server.hits("deploy_key"), 1);
    let outputs =
        std::fs::read_to_string(run.out().join("jobs/build/outputs.json"))
            .unwrap();
    assert!(
        outputs.contains(&format!("{}", API_VALUE.len())),
        "{outputs}"
    );
    assert_eq!(run.stdout_of("build", 1), "key={{ deploy_key }}\n");
    assert_eq!(run.stdout_of("build", 2), "{{ deploy_key }}\n");

    // `sh` children do not inherit the token, and where a command finds
    // it anyway, the redactor replaces it.
    let env = run.stdout_of("build", 3);
    assert!(!env.contains("QUIRE_CI_TOKEN"), "{env}");
    let parent_env = run.stdout_of("build", 4);
    assert!(
        parent_env.contains("QUIRE_CI_TOKEN={{ QUIRE_CI_TOKEN }}"),
        "{parent_env}"
    );

    assert_eq!(
        resolutions(&run.events()),
        [
            ("build".to_string(), SecretSource::Api, false),
            ("deploy".to_string(), SecretSource::Api, true),
        ]
    );
    assert!(stderr.contains("secret request answered"), "{stderr}");
    assert!(stderr.contains("secret=deploy_key"), "{stderr}");
    assert_hidden(
        &output,
        &run,
        &[API_VALUE, &base64(API_VALUE), TOKEN, BOOTSTRAP_VALUE],
    );
}

#[test]
fn api_transport_unknown_secret_fails_job() {
    let server = SecretServer::start(&[]);
    let run = Run::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [{: secret}] {:v (secret :nope)}))\n",
    );
    let bootstrap = run.bootstrap("{}");
    let output = run
        .command(&bootstrap)
        .args(["--transport", "api", "--run-id", RUN_ID])
        .args(["--server-url", &server.url])
        .env("QUIRE_CI_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let message = run
        .events()
        .into_iter()
        .find_map(|e| match e {
            EventKind::JobFinished {
                outcome: JobOutcome::Failed,
                message,
                ..
            } => message,
            _ => None,
        })
        .expect("a failed job");
    assert!(message.contains("unknown secret: nope"), "{message}");
}

#[test]
fn api_transport_unreadable_source_fails_job() {
    let server = SecretServer::start(&[]);
    let run = Run::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push]\n  \
         (fn [{: secret}] {:v (secret :unreadable-key)}))\n",
    );
    let bootstrap = run.bootstrap("{}");
    let output = run
        .command(&bootstrap)
        .args(["--transport", "api", "--run-id", RUN_ID])
        .args(["--server-url", &server.url])
        .env("QUIRE_CI_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let message = run
        .events()
        .into_iter()
        .find_map(|e| match e {
            EventKind::JobFinished {
                outcome: JobOutcome::Failed,
                message,
                ..
            } => message,
            _ => None,
        })
        .expect("a failed job");
    let sentence = secret_server::unreadable_message("unreadable-key");
    assert!(message.contains(&sentence), "{message}");
    assert_eq!(server.hits("unreadable-key"), 1, "not retried");
}

#[test]
fn api_transport_requires_token_and_flags() {
    let run = Run::new("(local ci (require :quire.ci))\n");
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["--run-id", RUN_ID, "--server-url", "http://127.0.0.1:9"],
            None,
            "QUIRE_CI_TOKEN environment variable, which is not set",
        ),
        (
            &["--run-id", RUN_ID, "--server-url", "http://127.0.0.1:9"],
            Some(""),
            "QUIRE_CI_TOKEN environment variable, which is empty",
        ),
        (
            &["--server-url", "http://127.0.0.1:9"],
            Some(TOKEN),
            "--transport api needs --run-id",
        ),
        (
            &["--run-id", RUN_ID],
            Some(TOKEN),
            "--transport api needs --server-url",
        ),
    ];
    for (flags, token, expected) in cases {
        let bootstrap = run.bootstrap("{}");
        let mut command = run.command(&bootstrap);
        command.args(["--transport", "api"]).args(flags);
        if let Some(token) = token {
            command.env("QUIRE_CI_TOKEN", token);
        }
        let output = command.output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
