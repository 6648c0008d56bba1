//! `quire-ci run` and `quire-ci validate` as a user runs them: the real
//! binary on Fennel pipelines in temporary workspaces.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use quire_proto::{Event, EventKind, JobOutcome, RunOutcome, cri};

const BIN: &str = env!("CARGO_BIN_EXE_quire-ci");

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.quire")).unwrap();
        let ws = Self { dir };
        ws.write(".quire/ci.fnl", pipeline);
        ws
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, extra: &[&str]) -> Output {
        let mut command = Command::new(BIN);
        command
            .arg("run")
            .arg("--workspace")
            .arg(self.path())
            .arg("--out-dir")
            .arg(self.out())
            .arg("--events")
            .arg(self.out().join("events.jsonl"))
            .args(extra)
            .stdin(Stdio::null());
        command.output().unwrap()
    }

    fn events(&self) -> Vec<EventKind> {
        let text =
            std::fs::read_to_string(self.out().join("events.jsonl")).unwrap();
        text.lines()
            .map(|l| Event::from_line(l).unwrap().kind)
            .collect()
    }

    fn log(&self, job: &str, n: u32) -> String {
        std::fs::read_to_string(
            self.out().join(format!("jobs/{job}/sh-{n}.log")),
        )
        .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn outcome_of(events: &[EventKind], job: &str) -> Option<JobOutcome> {
    events.iter().find_map(|e| match e {
        EventKind::JobFinished {
            job: j, outcome, ..
        } if j == job => Some(*outcome),
        _ => None,
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn hello_example_runs() {
    let out = tempfile::tempdir().unwrap();
    let events = out.path().join("events.jsonl");
    let output = Command::new(BIN)
        .args(["run", "--workspace"])
        .arg(repo_root().join("examples/hello"))
        .arg("--out-dir")
        .arg(out.path())
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    let kinds: Vec<EventKind> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| Event::from_line(l).unwrap().kind)
        .collect();
    assert_eq!(outcome_of(&kinds, "build"), Some(JobOutcome::Complete));
    assert_eq!(outcome_of(&kinds, "test"), Some(JobOutcome::Complete));
    assert_eq!(outcome_of(&kinds, "release"), Some(JobOutcome::Skipped));
    assert_eq!(
        kinds.last(),
        Some(&EventKind::RunFinished {
            outcome: RunOutcome::Success
        })
    );
    let outputs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("jobs/test/outputs.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(outputs["count"], 2, "{outputs}");
    // The closing table lists every job with its outcome.
    assert!(stdout.contains("build    complete"), "{stdout}");
    assert!(stdout.contains("release  skipped"), "{stdout}");
}

#[test]
fn validate_lists_jobs_in_order() {
    let output = Command::new(BIN)
        .args(["validate", "--workspace"])
        .arg(repo_root().join("examples/hello"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "image: alpine:3.20\n\
         jobs, in execution order:\n  \
         1. build    <- quire/push\n  \
         2. test     <- build\n  \
         3. release  <- test\n"
    );
}

#[test]
fn validate_reports_graph_errors() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push :b] (fn [] {}))\n\
         (ci.job :b [:a] (fn [] {}))\n\
         (ci.job :c [:nope] (fn [] {}))\n",
    );
    let output = Command::new(BIN)
        .args(["validate", "--workspace"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: job \"c\" (.quire/ci.fnl:4) has an unknown input \"nope\": \
         an input is the id of a job in this pipeline or the source \
         quire/push\n\
         error: jobs form a cycle: a -> b -> a (each job lists the next as \
         an input; a is at .quire/ci.fnl:2, b at .quire/ci.fnl:3); remove \
         one of these inputs so the jobs can be ordered\n"
    );
}

#[test]
fn compile_error_points_at_file() {
    let ws = Workspace::new("(local ci (require :quire.ci))\n(ci.job :a\n");
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: .quire/ci.fnl:"), "{stderr}");
    assert!(!ws.out().join("events.jsonl").exists());
}

#[test]
fn removed_global_help_names_alternative() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [] (print \"hi\") {}))\n",
    );
    let output = Command::new(BIN)
        .args(["validate", "--workspace"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: .quire/ci.fnl:2:34: unknown global `print`\n\
         2 | (ci.job :a [:quire/push] (fn [] (print \"hi\") {}))\n  \
         |                                  ^^^^^\n\
         help: print is not available in a pipeline; use log inside a job\n"
    );
}

#[test]
fn registration_error_at_call_line() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [] {}))\n\
         (ci.job :a [:quire/push] (fn [] {}))\n",
    );
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: .quire/ci.fnl:3: job \"a\" is registered twice \
         (.quire/ci.fnl:2 and .quire/ci.fnl:3); give each job a unique id\n  \
         3 | (ci.job :a [:quire/push] (fn [] {}))\n"
    );
}

#[test]
fn runtime_error_names_fennel_line() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         \n\
         (ci.job :a [:quire/push]\n  \
         (fn [{: sh}]\n    \
         (error \"deploy failed\")))\n",
    );
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(1));
    let events = ws.events();
    let message = events
        .iter()
        .find_map(|e| match e {
            EventKind::JobFinished { message, .. } => message.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        message,
        ".quire/ci.fnl:5: deploy failed\n  5 |     (error \"deploy failed\")))"
    );
    assert_eq!(
        events.last(),
        Some(&EventKind::RunFinished {
            outcome: RunOutcome::Failure
        })
    );
}

#[test]
fn fennel_module_required_from_quire_dir() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (local util (require :lib.util))\n\
         (ci.job :a [:quire/push]\n  \
         (fn [{: sh}] {:greeting (util.greet \"ci\")}))\n",
    );
    ws.write(
        ".quire/lib/util.fnl",
        "(fn greet [who] (.. \"hello \" who))\n{: greet}\n",
    );
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let outputs =
        std::fs::read_to_string(ws.out().join("jobs/a/outputs.json")).unwrap();
    assert!(outputs.contains("\"greeting\": \"hello ci\""), "{outputs}");
}

#[test]
fn module_error_names_pipeline_caller() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (local util (require :lib.util))\n\
         (ci.job :a [:quire/push]\n  \
         (fn []\n    \
         (util.must false)\n    \
         {}))\n",
    );
    ws.write(
        ".quire/lib/util.fnl",
        "(fn must [ok]\n  (when (not ok)\n    (error \"check failed\")))\n\
         {: must}\n",
    );
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(1));
    let message = ws.events().into_iter().find_map(|e| match e {
        EventKind::JobFinished { message, .. } => message,
        _ => None,
    });
    assert_eq!(
        message.as_deref(),
        Some(
            ".quire/lib/util.fnl:3: check failed\n  \
             3 |     (error \"check failed\")))\n\
             called from .quire/ci.fnl:5\n  \
             5 |     (util.must false)"
        )
    );
}

#[test]
fn require_outside_quire_dir_fails() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [] (require :escape) {}))\n",
    );
    // A link inside .quire/ that points outside it is not followed.
    ws.write("outside.fnl", "{:owned true}\n");
    std::os::unix::fs::symlink(
        ws.path().join("outside.fnl"),
        ws.path().join(".quire/escape.fnl"),
    )
    .unwrap();
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(1));
    let message = ws
        .events()
        .iter()
        .find_map(|e| match e {
            EventKind::JobFinished { message, .. } => message.clone(),
            _ => None,
        })
        .unwrap();
    assert!(
        message.starts_with(
            ".quire/ci.fnl:2: module \"escape\" not found (no file \
             .quire/escape.fnl)"
        ),
        "{message}"
    );
}

#[test]
fn secrets_file_values_redacted() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :deploy [:quire/push]\n  \
         (fn [{: sh : secret}]\n    \
         (sh (.. \"echo token=\" (secret :api-token)))\n    \
         {:used true}))\n",
    );
    let secrets = ws.dir.path().join("secrets.fnl");
    std::fs::write(&secrets, "{:api-token \"s3cr3t-value-1234\"}\n").unwrap();
    let output = ws.run(&["--secrets", secrets.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let log = ws.log("deploy", 1);
    let lines = cri::parse_log(&log).unwrap();
    assert_eq!(
        cri::reassemble(&lines, quire_proto::LogStream::Stdout),
        "token={{ api-token }}\n"
    );
    let events =
        std::fs::read_to_string(ws.out().join("events.jsonl")).unwrap();
    assert!(!events.contains("s3cr3t-value-1234"));
    assert!(events.contains("\"type\":\"secret_resolved\""), "{events}");
}

#[test]
fn bootstrap_read_unlinked_and_used() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push]\n  \
         (fn [{: jobs : secret}]\n    \
         (let [push (jobs :quire/push)]\n      \
         {:branch push.branch :repo push.repo :git push.git-dir\n       \
         :len (length (secret :token))})))\n",
    );
    let bootstrap = ws.dir.path().join("bootstrap.json");
    std::fs::write(
        &bootstrap,
        r#"{"meta":{"sha":"0123456789abcdef0123456789abcdef01234567","ref":"refs/heads/feature","pushed_at":"2026-12-04T15:07:58Z","repo":"widgets"},"git_dir":"/srv/widgets.git","secrets":{"token":"bootstrap-token-value"}}"#,
    )
    .unwrap();
    let output = ws.run(&["--bootstrap", bootstrap.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!bootstrap.exists(), "the bootstrap file was not deleted");
    let outputs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.out().join("jobs/a/outputs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        outputs,
        serde_json::json!({"branch": "feature", "repo": "widgets",
                           "git": "/srv/widgets.git", "len": 21})
    );
}

#[test]
fn invalid_bootstrap_hides_values() {
    let ws = Workspace::new("(local ci (require :quire.ci))\n");
    let bootstrap = ws.dir.path().join("bootstrap.json");
    std::fs::write(
        &bootstrap,
        r#"{"meta":"leaked-secret-value","git_dir":"/g","secrets":{}}"#,
    )
    .unwrap();
    let output = ws.run(&["--bootstrap", bootstrap.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("invalid bootstrap file"), "{stderr}");
    assert!(!stderr.contains("leaked-secret-value"), "{stderr}");
    assert!(!bootstrap.exists());
}

#[test]
fn bad_flag_still_deletes_bootstrap() {
    let ws = Workspace::new("(local ci (require :quire.ci))\n");
    let bootstrap = ws.dir.path().join("bootstrap.json");
    std::fs::write(&bootstrap, "{}").unwrap();
    let output = ws.run(&[
        "--bootstrap",
        bootstrap.to_str().unwrap(),
        "--memory-limit-mib",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(!bootstrap.exists(), "a usage error left the bootstrap");
}

#[test]
fn temporary_log_dir_printed() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [{: sh}] (sh \"echo hi\") {}))\n",
    );
    let output = Command::new(BIN)
        .args(["run", "--workspace"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    let first = stdout.lines().next().unwrap();
    let dir = first.strip_prefix("logs: ").expect(&stdout);
    let log = std::fs::read_to_string(Path::new(dir).join("jobs/a/sh-1.log"))
        .unwrap();
    assert!(log.ends_with(" stdout F hi\n"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn echo_prefixes_output_with_job() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :build [:quire/push]\n  \
         (fn [{: sh : log}] (sh \"echo out; echo err >&2\") (log \"note\") {}))\n",
    );
    let output = ws.run(&["--echo", "always"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("[build] out\n"), "{stdout}");
    assert!(stdout.contains("[build] ! err\n"), "{stdout}");
    assert!(stdout.contains("[build] note\n"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "colour without a terminal");
    let quiet = ws.run(&["--echo", "never"]);
    assert!(!text(&quiet.stdout).contains("[build] out"));
}

#[test]
fn zero_memory_limit_is_usage_error() {
    let ws = Workspace::new("(local ci (require :quire.ci))\n");
    let output = ws.run(&["--memory-limit-mib", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: --memory-limit-mib must be a positive number, got 0\n"
    );
}

/// Reads `VmHWM` (peak resident memory) of quire-ci from a command it
/// runs after one that printed `mib` MiB.
fn peak_after_printing(mib: usize, script: &str) -> (u64, Workspace) {
    let ws = Workspace::new(&format!(
        "(local ci (require :quire.ci))\n\
         (ci.job :flood [:quire/push]\n  \
         (fn [{{: sh}}]\n    \
         (local r (sh \"{script}\"))\n    \
         (local m (sh \"grep VmHWM /proc/$PPID/status\"))\n    \
         {{:peak m.stdout :cut r.stdout-truncated :kept (length r.stdout)}}))\n"
    ));
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let outputs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.out().join("jobs/flood/outputs.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(outputs["cut"], true);
    assert_eq!(outputs["kept"], 1024 * 1024);
    let peak = outputs["peak"].as_str().unwrap();
    let kib: u64 = peak
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {peak:?}"));
    let size = std::fs::metadata(ws.out().join("jobs/flood/sh-1.log"))
        .unwrap()
        .len();
    assert!(size > (mib as u64) << 20, "log holds {size} bytes");
    (kib, ws)
}

#[test]
fn huge_output_streamed_in_bounded_memory() {
    // 256 MiB of 100-byte lines, then 256 MiB with no newline at all.
    for script in [
        "yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -c 268435456",
        "head -c 268435456 /dev/zero | tr '\\\\0' x",
    ] {
        let (kib, ws) = peak_after_printing(256, script);
        assert!(
            kib < 64 * 1024,
            "quire-ci peaked at {kib} KiB while a command printed 256 MiB"
        );
        drop(ws);
    }
}

#[test]
fn events_on_stdout_stay_parseable() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push] (fn [{: sh}] (sh \"echo hi\") {}))\n",
    );
    let output = Command::new(BIN)
        .args([
            "run",
            "--events",
            "stdout",
            "--echo",
            "always",
            "--workspace",
        ])
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    let kinds: Vec<EventKind> = stdout
        .lines()
        .map(|l| {
            Event::from_line(l)
                .unwrap_or_else(|e| panic!("{l}: {e}"))
                .kind
        })
        .collect();
    assert_eq!(kinds.len(), 5, "{stdout}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[a] hi\n"), "{stderr}");
    let dir = stderr
        .lines()
        .next()
        .unwrap()
        .strip_prefix("logs: ")
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secrets_file_env_and_file_values() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :a [:quire/push]\n  \
         (fn [{: secret}]\n    \
         {:env (secret :from-env) :file (secret :from-file)}))\n",
    );
    let key = ws.dir.path().join("key.txt");
    std::fs::write(&key, "file-secret-value\n").unwrap();
    let secrets = ws.dir.path().join("secrets.fnl");
    std::fs::write(
        &secrets,
        format!(
            "{{:from-env {{:env \"QUIRE_TEST_SECRET\"}}\n \
             :from-file {{:file \"{}\"}}}}\n",
            key.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["run", "--workspace"])
        .arg(ws.path())
        .arg("--out-dir")
        .arg(ws.out())
        .arg("--secrets")
        .arg(&secrets)
        .env("QUIRE_TEST_SECRET", "env-secret-value");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // Recorded outputs are redacted, so the names show where each came from.
    let outputs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.out().join("jobs/a/outputs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        outputs,
        serde_json::json!({"env": "{{ from-env }}", "file": "{{ from-file }}"})
    );
}

#[test]
fn secrets_file_errors_name_secret() {
    let ws = Workspace::new("(local ci (require :quire.ci))\n");
    let secrets = ws.dir.path().join("secrets.fnl");
    let cases = [
        (
            "{:token 42}",
            "secret \"token\" is a number; a value is a string, {:file PATH} \
             or {:env NAME}",
        ),
        (
            "{:token {:env \"QUIRE_TEST_UNSET_VARIABLE\"}}",
            "secret \"token\": the environment variable \
             QUIRE_TEST_UNSET_VARIABLE is not set",
        ),
        (
            "{\"bad name\" \"value\"}",
            "invalid secret name \"bad name\": use only ASCII letters, \
             digits, `_`, `-` and `.`",
        ),
        (
            "[\"value\"]",
            "secret names are strings, found a key that is the number 1",
        ),
    ];
    for (source, expected) in cases {
        std::fs::write(&secrets, source).unwrap();
        let output = ws.run(&["--secrets", secrets.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{source}");
        assert_eq!(
            text(&output.stderr),
            format!("error: secrets file {}: {expected}\n", secrets.display()),
            "{source}"
        );
    }
}

#[test]
fn fennel_sandbox_escape_fails() {
    for (call, expected) in [
        ("(io.open \"/etc/passwd\")", "io"),
        ("(os.execute \"true\")", "execute"),
        ("(debug.getinfo 1)", "debug"),
        ("(load \"return 1\")", "load"),
    ] {
        let ws = Workspace::new(&format!(
            "(local ci (require :quire.ci))\n\
             (ci.job :a [:quire/push] (fn [] {call} {{}}))\n"
        ));
        let output = ws.run(&[]);
        let code = output.status.code();
        assert!(code == Some(1) || code == Some(2), "{call}: {code:?}");
        let stderr = text(&output.stderr);
        let recorded = std::fs::read_to_string(ws.out().join("events.jsonl"))
            .unwrap_or_default();
        let shown = format!("{stderr}{recorded}");
        assert!(shown.contains(".quire/ci.fnl:2"), "{call}: {shown}");
        assert!(shown.contains(expected), "{call}: {shown}");
    }
}

#[test]
fn module_errors_name_module_file() {
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (local a (require :a))\n\
         (ci.job :x [:quire/push] (fn [] {}))\n",
    );
    ws.write(".quire/a.fnl", "(local b (require :b))\n{}\n");
    ws.write(".quire/b.fnl", "(local a (require :a))\n{}\n");
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(
            "error: .quire/b.fnl:1: require cycle: a -> b -> a; a module \
             cannot require itself, directly or through others"
        ),
        "{stderr}"
    );

    ws.write(".quire/a.fnl", "(fn broken [)\n");
    let output = ws.run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: .quire/a.fnl:1:"), "{stderr}");
}

#[test]
fn missing_pipeline_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["validate", "--workspace"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let path = dir.path().canonicalize().unwrap().join(".quire/ci.fnl");
    assert_eq!(
        text(&output.stderr),
        format!(
            "error: no pipeline at {}; write one there, or point \
             --workspace at a directory that contains .quire/ci.fnl\n",
            path.display()
        )
    );
}

#[test]
fn run_without_pipeline_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["run", "--workspace"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    // No temporary log directory was made and announced.
    assert_eq!(text(&output.stdout), "");
    let path = dir.path().canonicalize().unwrap().join(".quire/ci.fnl");
    assert_eq!(
        text(&output.stderr),
        format!(
            "error: no pipeline at {}; write one there, or point \
             --workspace at a directory that contains .quire/ci.fnl\n",
            path.display()
        )
    );

    let missing = dir.path().join("nope");
    let output = Command::new(BIN)
        .args(["run", "--workspace"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stdout), "");
    assert!(
        text(&output.stderr).starts_with(&format!(
            "error: cannot use the workspace {}: ",
            missing.display()
        )),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn terminal_gets_colour_and_output() {
    // `script` (util-linux) runs quire-ci with a pseudo-terminal as its
    // standard output, as a developer's shell would.
    let ws = Workspace::new(
        "(local ci (require :quire.ci))\n\
         (ci.job :build [:quire/push] (fn [{: sh}] (sh \"echo on-tty\") {}))\n",
    );
    let command = format!(
        "{BIN} run --workspace '{}' --out-dir '{}'",
        ws.path().display(),
        ws.out().display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script from util-linux runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(shown.contains("on-tty"), "{shown}");
    assert!(shown.contains("[build]"), "{shown}");
    assert!(
        shown.contains("\x1b[32m"),
        "no colour on a terminal: {shown}"
    );
}
