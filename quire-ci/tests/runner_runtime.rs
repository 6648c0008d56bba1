//! The runtime driven with plain Lua pipelines: job order, skips,
//! outputs, the runtime table, events, redaction, sandbox and limits.
//! The Fennel front end is covered by the tests that run the binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quire_ci::events::EventTarget;
use quire_ci::run::push::{PushInfo, PushSource};
use quire_ci::run::terminal::EchoMode;
use quire_ci::run::{RunOptions, RunReport, run_loaded};
use quire_ci::runtime::{PipelineLoadError, Runtime};
use quire_ci::secret::{Redactor, SecretRegistry, SecretValue};
use quire_proto::{Event, EventKind, JobOutcome, RunOutcome, cri};

const TOKEN: &str = "tok-3f9a8b7c6d5e";

struct Run {
    report: RunReport,
    events: Vec<EventKind>,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn outcome(&self, job: &str) -> JobOutcome {
        self.report
            .jobs
            .iter()
            .find(|r| r.job == job)
            .unwrap_or_else(|| panic!("no job {job}"))
            .outcome
    }

    fn message(&self, job: &str) -> String {
        self.report
            .jobs
            .iter()
            .find(|r| r.job == job)
            .and_then(|r| r.message.clone())
            .unwrap_or_default()
    }

    fn log(&self, job: &str, n: u32) -> String {
        let path = self.out.join(format!("jobs/{job}/sh-{n}.log"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn stdout(&self, job: &str, n: u32) -> String {
        let lines = cri::parse_log(&self.log(job, n)).unwrap();
        cri::reassemble(&lines, quire_proto::LogStream::Stdout)
    }

    fn outputs(&self, job: &str) -> serde_json::Value {
        let path = self.out.join(format!("jobs/{job}/outputs.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

fn options(workspace: &Path, out: &Path) -> RunOptions {
    RunOptions {
        workspace: workspace.to_path_buf(),
        out_dir: out.to_path_buf(),
        events: EventTarget::File(out.join("events.jsonl")),
        memory_limit_mib: 64,
        job_timeout: None,
        echo: EchoMode::Never,
        progress: false,
        push: PushSource::Known(PushInfo {
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            ref_name: Some("refs/heads/main".into()),
            branch: Some("main".into()),
            tag: None,
            previous_sha: None,
            pushed_at: "2026-12-04T15:07:58Z".into(),
            repo: "widgets".into(),
            git_dir: Some("/srv/widgets.git".into()),
        }),
    }
}

fn registry() -> SecretRegistry {
    let declared = BTreeMap::from([(
        "token".to_string(),
        SecretValue::new(TOKEN.as_bytes().to_vec()),
    )]);
    SecretRegistry::with_declared(declared, Redactor::new())
}

fn run_with(code: &str, tweak: impl FnOnce(&mut RunOptions)) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws").canonicalize_or_create();
    std::fs::create_dir_all(workspace.join("src/deep")).unwrap();
    std::fs::write(workspace.join("src/file.txt"), "content\n").unwrap();
    let out = dir.path().join("out");
    let mut options = options(&workspace, &out);
    tweak(&mut options);
    let runtime = Runtime::new(&workspace, options.memory_limit_mib).unwrap();
    let pipeline = match runtime.load_pipeline_lua(code) {
        Ok(p) => p,
        Err(e) => panic!("pipeline did not load: {e}"),
    };
    let report = run_loaded(&runtime, &pipeline, &options, registry()).unwrap();
    let text =
        std::fs::read_to_string(out.join("events.jsonl")).unwrap_or_default();
    let events = text
        .lines()
        .map(|l| Event::from_line(l).unwrap().kind)
        .collect();
    Run {
        report,
        events,
        out,
        _dir: dir,
    }
}

fn run(code: &str) -> Run {
    run_with(code, |_| {})
}

trait CreateDir {
    fn canonicalize_or_create(self) -> PathBuf;
}

impl CreateDir for PathBuf {
    fn canonicalize_or_create(self) -> PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self.canonicalize().unwrap()
    }
}

fn load_error(code: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(dir.path(), 64).unwrap();
    match runtime.load_pipeline_lua(code) {
        Ok(_) => panic!("pipeline loaded"),
        Err(PipelineLoadError::Invalid(errors)) => errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => e.to_string(),
    }
}

const PRELUDE: &str = "local ci = require('quire.ci')\n";

fn pipeline(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

#[test]
fn order_outputs_and_skips() {
    let run = run(&pipeline(
        r#"
ci.job("test", {"build"}, function(rt)
  local b = rt.jobs("build")
  return {artifact = b.artifact, n = b.n + 1}
end)
ci.job("build", {"quire/push"}, function(rt)
  return {artifact = "app-" .. rt.jobs("quire/push").sha:sub(1, 7), n = 1}
end)
ci.job("broken", {"quire/push"}, function(rt) error("no luck") end)
ci.job("after-broken", {"broken"}, function(rt) return {} end)
ci.job("after-after", {"after-broken", "build"}, function(rt) return {} end)
ci.job("docs", {"quire/push"}, function(rt) return nil end)
ci.job("after-docs", {"docs"}, function(rt) return {} end)
"#,
    ));
    let order: Vec<&str> =
        run.report.jobs.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(
        order,
        [
            "build",
            "test",
            "broken",
            "after-broken",
            "after-after",
            "docs",
            "after-docs"
        ]
    );
    assert_eq!(run.outcome("build"), JobOutcome::Complete);
    assert_eq!(run.outcome("test"), JobOutcome::Complete);
    assert_eq!(
        run.outputs("test"),
        serde_json::json!({"artifact": "app-0123456", "n": 2})
    );
    assert_eq!(run.outcome("broken"), JobOutcome::Failed);
    assert_eq!(run.message("broken"), ".quire/ci.fnl:10: no luck");
    assert_eq!(run.outcome("after-broken"), JobOutcome::Skipped);
    assert_eq!(
        run.message("after-broken"),
        "skipped because input \"broken\" failed"
    );
    assert_eq!(run.outcome("after-after"), JobOutcome::Skipped);
    assert_eq!(
        run.message("after-after"),
        "skipped because input \"after-broken\" was skipped"
    );
    assert_eq!(run.outcome("docs"), JobOutcome::Skipped);
    assert_eq!(run.outcome("after-docs"), JobOutcome::Skipped);
    assert_eq!(run.report.outcome, RunOutcome::Failure);
    assert_eq!(
        run.events.last(),
        Some(&EventKind::RunFinished {
            outcome: RunOutcome::Failure
        })
    );
    // A job skipped for its inputs is never started.
    assert!(!run.events.contains(&EventKind::JobStarted {
        job: "after-broken".into()
    }));
}

#[test]
fn successful_run_events() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.sh("exit 3")
  return {}
end)"#,
    ));
    assert_eq!(run.report.outcome, RunOutcome::Success);
    assert_eq!(
        run.events,
        [
            EventKind::JobStarted { job: "a".into() },
            EventKind::ShStarted {
                job: "a".into(),
                n: 1,
                cmd: "exit 3".into()
            },
            EventKind::ShFinished {
                job: "a".into(),
                n: 1,
                exit: Some(3),
                timed_out: false
            },
            EventKind::JobFinished {
                job: "a".into(),
                outcome: JobOutcome::Complete,
                message: None
            },
            EventKind::RunFinished {
                outcome: RunOutcome::Success
            },
        ]
    );
}

#[test]
fn push_fields() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local p = rt.jobs("quire/push")
  return {sha = p.sha, ref = p.ref, branch = p.branch, tag = p.tag,
          prev = p["previous-sha"], at = p["pushed-at"], repo = p.repo,
          git = p["git-dir"]}
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "ref": "refs/heads/main", "branch": "main",
            "at": "2026-12-04T15:07:58Z", "repo": "widgets",
            "git": "/srv/widgets.git"
        })
    );
}

#[test]
fn sh_string_and_argv() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local s = rt.sh("echo one; echo two >&2; exit 4")
  local v = rt.sh({"printf", "%s|", "a b", "$HOME"})
  return {s_exit = s.exit, s_out = s.stdout, s_err = s.stderr, s_cmd = s.cmd,
          v_exit = v.exit, v_out = v.stdout, v_cmd = v.cmd,
          timed = s["timed-out"], trunc = s["stdout-truncated"]}
end)"#,
    ));
    assert_eq!(
        run.outcome("a"),
        JobOutcome::Complete,
        "{}",
        run.message("a")
    );
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({
            "s_exit": 4, "s_out": "one\n", "s_err": "two\n",
            "s_cmd": "echo one; echo two >&2; exit 4",
            "v_exit": 0, "v_out": "a b|$HOME|",
            "v_cmd": "printf '%s|' 'a b' '$HOME'",
            "timed": false, "trunc": false
        })
    );
    let log = cri::parse_log(&run.log("a", 1)).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        cri::reassemble(&log, quire_proto::LogStream::Stderr),
        "two\n"
    );
}

#[test]
fn sh_commands_share_runner_group() {
    // The server stops a run by killing quire-ci's process group, so
    // commands must be in it.
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local mine = rt.sh("cut -d' ' -f5 /proc/$$/stat").stdout
  local runner = rt.sh("cut -d' ' -f5 /proc/$PPID/stat").stdout
  return {same = mine == runner, mine = mine}
end)"#,
    ));
    assert_eq!(run.outputs("a")["same"], true, "{}", run.outputs("a"));
}

#[test]
fn sh_env_cwd_stdin() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local e = rt.sh("echo $GREETING-$HOME", {env = {GREETING = "hi", HOME = false}})
  local c = rt.sh("pwd; cat file.txt", {cwd = "src"})
  local i = rt.sh({"tr", "a-z", "A-Z"}, {stdin = "shout"})
  return {e = e.stdout, c = c.stdout, i = i.stdout}
end)"#,
    ));
    let outputs = run.outputs("a");
    assert_eq!(outputs["e"], "hi-\n");
    let c = outputs["c"].as_str().unwrap();
    assert!(c.ends_with("/ws/src\ncontent\n"), "{c}");
    assert_eq!(outputs["i"], "SHOUT");
}

#[test]
fn sh_cwd_outside_workspace_rejected() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.sh("true", {cwd = "../.."})
end)"#,
    ));
    assert_eq!(run.outcome("a"), JobOutcome::Failed);
    assert_eq!(
        run.message("a"),
        ".quire/ci.fnl:3: sh: :cwd \"../..\" is outside the workspace; use \
         a directory inside it"
    );
}

#[test]
fn sh_timeout_kills_command() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local r = rt.sh("echo started; sleep 30 & echo $! > bg.pid; wait",
                  {timeout = 0.3})
  local bg = rt.sh("cat bg.pid; rm bg.pid").stdout
  -- Gone, or a zombie that nobody has reaped yet.
  local gone = rt.sh("for i in 1 2 3 4 5 6 7 8 9 10; do " ..
    "s=$(cut -d' ' -f3 /proc/" .. bg:gsub("%s", "") .. "/stat 2>/dev/null); " ..
    "[ -z \"$s\" ] || [ \"$s\" = Z ] && exit 0; sleep 0.1; done; exit 1")
  return {timed = r["timed-out"], exit = r.exit, out = r.stdout,
          gone = gone.exit == 0}
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({"timed": true, "out": "started\n", "gone": true})
    );
    assert!(run.events.contains(&EventKind::ShFinished {
        job: "a".into(),
        n: 1,
        exit: None,
        timed_out: true
    }));
}

#[test]
fn sh_background_process_not_awaited() {
    // The background sleep keeps stdout open; sh returns once the shell
    // has exited and its output has drained, not when sleep ends.
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local r = rt.sh("sleep 30 & echo $! > bg.pid; echo started", {timeout = 20})
  rt.sh("kill $(cat bg.pid); rm bg.pid")
  return {timed = r["timed-out"], exit = r.exit, out = r.stdout}
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({"timed": false, "exit": 0, "out": "started\n"})
    );
}

#[test]
fn sh_timeout_after_pipes_close() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local r = rt.sh("exec >/dev/null 2>&1; sleep 30", {timeout = 0.3})
  return {timed = r["timed-out"]}
end)"#,
    ));
    assert_eq!(run.outputs("a"), serde_json::json!({"timed": true}));
}

#[test]
fn sh_missing_program_raises() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.sh({"no-such-program-here", "x"})
end)"#,
    ));
    assert_eq!(run.outcome("a"), JobOutcome::Failed);
    let message = run.message("a");
    assert!(
        message.starts_with(
            ".quire/ci.fnl:3: sh: cannot start \"no-such-program-here\": "
        ),
        "{message}"
    );
}

#[test]
fn sh_capture_limit_and_full_log() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local r = rt.sh("seq 1 1000", {["max-output"] = 10})
  local d = rt.sh("seq 1 3")
  return {out = r.stdout, cut = r["stdout-truncated"], err = r["stderr-truncated"],
          d = d["stdout-truncated"]}
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({"out": "1\n2\n3\n4\n5\n", "cut": true, "err": false,
                           "d": false})
    );
    let all: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    assert_eq!(run.stdout("a", 1), all);
}

#[test]
fn sh_option_errors() {
    let cases = [
        (
            "rt.sh(42)",
            "sh: the command must be a string or a sequence",
        ),
        ("rt.sh({})", "sh: the argument list is empty"),
        (
            "rt.sh('true', {shell = 'bash'})",
            "sh: unknown option :shell",
        ),
        (
            "rt.sh('true', {timeout = -1})",
            "sh: :timeout must be a positive",
        ),
        (
            "rt.sh('true', {env = {X = {}}})",
            "sh: :env value of X must be",
        ),
        (
            "rt.sh('true', {['max-output'] = 65 * 1024 * 1024})",
            "sh: :max-output 68157440 is more than the pipeline's memory \
             limit of 64 MiB, which the result must fit in; lower it or \
             raise --memory-limit-mib",
        ),
        (
            "rt.sh({'echo', 'a\\0b'})",
            "sh: argument 2 of the command contains a NUL byte, which \
             commands cannot receive; remove it",
        ),
        (
            "rt.sh('echo a\\0b')",
            "sh: the command contains a NUL byte, which commands cannot \
             receive; remove it",
        ),
        (
            "rt.sh('true', {env = {X = 'a\\0b'}})",
            "sh: :env value of X contains a NUL byte, which commands cannot \
             receive; remove it",
        ),
    ];
    for (call, expected) in cases {
        let run = run(&pipeline(&format!(
            "ci.job('a', {{'quire/push'}}, function(rt)\n  {call}\nend)"
        )));
        let message = run.message("a");
        assert!(
            message.starts_with(&format!(".quire/ci.fnl:3: {expected}")),
            "{call}: {message}"
        );
    }
}

#[test]
fn jobs_of_non_input_names_both() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt) return {} end)
ci.job("b", {"quire/push"}, function(rt) return rt.jobs("a") end)"#,
    ));
    assert_eq!(
        run.message("b"),
        ".quire/ci.fnl:3: job \"b\" cannot read the outputs of \"a\": it is \
         not an input of \"b\", directly or through other jobs; add it to \
         the job's inputs"
    );
}

#[test]
fn jobs_of_misspelt_id_suggests() {
    let run = run(&pipeline(
        r#"ci.job("build", {"quire/push"}, function(rt) return {} end)
ci.job("test", {"build"}, function(rt) return rt.jobs("biuld") end)
ci.job("deploy", {"build"}, function(rt) return rt.jobs("nothing") end)"#,
    ));
    assert_eq!(
        run.message("test"),
        ".quire/ci.fnl:3: job \"test\" reads the outputs of \"biuld\", but \
         no job has that id; did you mean \"build\"?"
    );
    assert_eq!(
        run.message("deploy"),
        ".quire/ci.fnl:4: job \"deploy\" reads the outputs of \"nothing\", \
         but no job has that id"
    );
}

#[test]
fn rerun_into_same_out_dir_replaces_records() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws").canonicalize_or_create();
    let out = dir.path().join("out");
    let first = pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.log("first run")
  rt.sh("true")
  rt.sh("true")
  return {n = 1}
end)"#,
    );
    let second = pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.log("second run")
  rt.sh("true")
  error("broken now")
end)"#,
    );
    for code in [first, second] {
        let options = options(&workspace, &out);
        let runtime = Runtime::new(&workspace, 64).unwrap();
        let pipeline = runtime.load_pipeline_lua(&code).unwrap();
        run_loaded(&runtime, &pipeline, &options, registry()).unwrap();
    }
    let job_dir = out.join("jobs/a");
    let job_log = std::fs::read_to_string(job_dir.join("job.log")).unwrap();
    assert!(!job_log.contains("first run"), "{job_log}");
    assert!(job_log.contains("second run"), "{job_log}");
    assert!(job_dir.join("sh-1.log").exists());
    assert!(!job_dir.join("sh-2.log").exists());
    assert!(!job_dir.join("outputs.json").exists());
}

#[test]
fn transitive_input_readable() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt) return {v = "x"} end)
ci.job("b", {"a"}, function(rt) return {} end)
ci.job("c", {"b"}, function(rt) return {v = rt.jobs("a").v} end)"#,
    ));
    assert_eq!(run.outputs("c"), serde_json::json!({"v": "x"}));
}

#[test]
fn secrets_resolved_and_redacted() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  local t = rt.secret("token")
  rt.secret("token")
  rt.sh("echo using " .. t)
  rt.log("the token is", t)
  return {copy = t, ok = (t == "tok-3f9a8b7c6d5e")}
end)
ci.job("b", {"a"}, function(rt)
  local t = rt.secret("token")
  error("failed with " .. t)
end)
ci.job("c", {"quire/push"}, function(rt) rt.secret("nope") end)"#,
    ));
    let resolved: Vec<&EventKind> = run
        .events
        .iter()
        .filter(|e| matches!(e, EventKind::SecretResolved { .. }))
        .collect();
    assert_eq!(resolved.len(), 2, "{resolved:?}");
    assert!(matches!(resolved[0],
        EventKind::SecretResolved { job, name, cached: false, .. }
        if job == "a" && name == "token"));
    assert!(matches!(resolved[1],
        EventKind::SecretResolved { job, cached: true, .. } if job == "b"));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({"copy": "{{ token }}", "ok": true})
    );
    assert_eq!(run.stdout("a", 1), "using {{ token }}\n");
    let job_log =
        std::fs::read_to_string(run.out.join("jobs/a/job.log")).unwrap();
    assert!(job_log.ends_with(" stdout F the token is {{ token }}\n"));
    assert_eq!(
        run.message("b"),
        ".quire/ci.fnl:11: failed with {{ token }}"
    );
    assert_eq!(run.message("c"), ".quire/ci.fnl:13: unknown secret: nope");
    let events = std::fs::read_to_string(run.out.join("events.jsonl")).unwrap();
    assert!(events.contains("echo using {{ token }}"), "{events}");
    for entry in walk(&run.out) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(TOKEN), "{} leaks the token", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn calls_after_return_raise() {
    let run = run(&pipeline(
        r#"local kept
ci.job("a", {"quire/push"}, function(rt) kept = rt return {} end)
ci.job("b", {"a"}, function(rt) kept.sh("true") end)
ci.job("c", {"a"}, function(rt) kept.log("x") end)"#,
    ));
    assert_eq!(
        run.message("b"),
        ".quire/ci.fnl:4: sh was called after job \"a\" finished; call it \
         while the job's function runs"
    );
    assert!(run.message("c").contains("log was called after job \"a\""));
}

#[test]
fn invalid_return_values_fail() {
    let run = run(&pipeline(
        r#"ci.job("num", {"quire/push"}, function(rt) return 42 end)
ci.job("str", {"quire/push"}, function(rt) return "done" end)
ci.job("fun", {"quire/push"}, function(rt) return {f = rt.sh} end)"#,
    ));
    assert_eq!(
        run.message("num"),
        "the job's function returned the number 42; return a table of \
         outputs, or nil to skip the job"
    );
    assert!(run.message("str").contains("returned the string \"done\""));
    assert_eq!(
        run.message("fun"),
        "the job's function returned outputs that are not plain data: \
         outputs.f is a function; outputs are strings, numbers, booleans \
         and tables of those"
    );
}

#[test]
fn sandbox_escapes_fail() {
    let cases = [
        (
            "io.open('/etc/passwd')",
            "io is not available in a pipeline; use sh to read or write files",
        ),
        (
            "os.execute('true')",
            "os.execute is not available in a pipeline; os offers only time, \
             date and clock, and sh runs commands",
        ),
        (
            "os.getenv('HOME')",
            "os.getenv is not available in a pipeline",
        ),
        ("debug.getinfo(1)", "debug is not available in a pipeline"),
        (
            "load('return 1')",
            "load is not available in a pipeline; compile code into .quire/ \
             modules and require them",
        ),
        (
            "dofile('/etc/passwd')",
            "dofile is not available in a pipeline",
        ),
        (
            "loadfile('/etc/passwd')",
            "loadfile is not available in a pipeline",
        ),
        (
            "package.loadlib('x', 'y')",
            "package is not available in a pipeline",
        ),
        (
            "require('../../etc/passwd')",
            "module \"../../etc/passwd\" not found",
        ),
        (
            "print('hello')",
            "print is not available in a pipeline; use log inside a job",
        ),
        (
            "require('os')",
            "module \"os\" not found (no file .quire/os.fnl)",
        ),
    ];
    for (call, expected) in cases {
        let run = run(&pipeline(&format!(
            "ci.job('a', {{'quire/push'}}, function(rt)\n  {call}\nend)"
        )));
        assert_eq!(run.outcome("a"), JobOutcome::Failed, "{call}");
        let message = run.message("a");
        assert!(
            message.starts_with(&format!(".quire/ci.fnl:3: {expected}")),
            "{call}: {message}"
        );
    }
}

#[test]
fn os_keeps_time_date_clock() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  return {t = type(os.time()), d = os.date("!%Y", 0), c = type(os.clock())}
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({"t": "number", "d": "1970", "c": "number"})
    );
}

#[test]
fn stdlib_helpers() {
    let run = run(&pipeline(
        r#"local std = require("quire.stdlib")
ci.job("a", {"quire/push"}, function(rt)
  return {
    trim = std.trim("  x y \n"),
    split = std.split("a,b,,c", ","),
    lines = std.lines("one\ntwo\r\n"),
    starts = std["starts-with?"]("quire", "qu"),
    ends = std["ends-with?"]("quire", "qu"),
    keys = std.keys({b = 1, a = 2}),
    merged = std.merge({a = 1, b = 1}, {b = 2}),
    has = std["contains?"]({"x", "y"}, "y"),
    quoted = std["shell-quote"]("it's"),
    plain = std["shell-quote"]("a/b.c"),
  }
end)"#,
    ));
    assert_eq!(
        run.outputs("a"),
        serde_json::json!({
            "trim": "x y", "split": ["a", "b", "", "c"],
            "lines": ["one", "two"], "starts": true, "ends": false,
            "keys": ["a", "b"], "merged": {"a": 1, "b": 2}, "has": true,
            "quoted": "'it'\\''s'", "plain": "a/b.c"
        })
    );
}

#[test]
fn non_string_error_values_explained() {
    let run = run(&pipeline(
        r#"ci.job("table", {"quire/push"}, function(rt) error({code = 42}) end)
ci.job("nil", {"quire/push"}, function(rt) error(nil) end)
ci.job("string", {"quire/push"}, function(rt) error("nil") end)"#,
    ));
    let table = run.message("table");
    assert!(
        table.starts_with(
            "the job raised an error whose value is not a message (table: 0x"
        ),
        "{table}"
    );
    assert!(
        table.ends_with(
            "); raise a string instead, such as (error \"what failed\")"
        ),
        "{table}"
    );
    assert_eq!(
        run.message("nil"),
        "the job raised an error whose value is not a message (nil); raise \
         a string instead, such as (error \"what failed\")"
    );
    // A string that happens to read "nil" carries its position.
    assert_eq!(run.message("string"), ".quire/ci.fnl:4: nil");
}

#[test]
fn log_shows_tables_as_data() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  rt.log("values", nil, 1.5, true, {b = 2, a = "x"}, {1, 2})
  return {}
end)"#,
    ));
    let job_log =
        std::fs::read_to_string(run.out.join("jobs/a/job.log")).unwrap();
    let lines = cri::parse_log(&job_log).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].content,
        r#"values nil 1.5 true {:a "x" :b 2} [1 2]"#
    );
}

#[test]
fn stdlib_argument_errors_name_caller() {
    let run = run(&pipeline(
        r#"local std = require("quire.stdlib")
ci.job("split", {"quire/push"}, function(rt) return std.split(nil, ",") end)
ci.job("keys", {"quire/push"}, function(rt) return std.keys(nil) end)
ci.job("merge", {"quire/push"}, function(rt) return std.merge({}, "x") end)
ci.job("prefix", {"quire/push"}, function(rt)
  return {std["starts-with?"]("abc", 1)}
end)"#,
    ));
    assert_eq!(
        run.message("split"),
        ".quire/ci.fnl:3: split: argument 1 must be a string, got nil"
    );
    assert_eq!(
        run.message("keys"),
        ".quire/ci.fnl:4: keys: argument 1 must be a table, got nil"
    );
    assert_eq!(
        run.message("merge"),
        ".quire/ci.fnl:5: merge: argument 2 must be a table, got string"
    );
    assert_eq!(
        run.message("prefix"),
        ".quire/ci.fnl:7: starts-with?: argument 2 must be a string, got \
         number"
    );
}

#[test]
fn memory_limit_fails_job() {
    let run = run_with(
        &pipeline(
            r#"ci.job("hog", {"quire/push"}, function(rt)
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
end)
ci.job("fine", {"quire/push"}, function(rt) return {ok = true} end)"#,
        ),
        |o| o.memory_limit_mib = 32,
    );
    assert_eq!(run.outcome("hog"), JobOutcome::Failed);
    assert_eq!(
        run.message("hog"),
        "the pipeline's Lua state exceeded its memory limit of 32 MiB; use \
         less memory or raise --memory-limit-mib"
    );
    assert_eq!(run.outcome("fine"), JobOutcome::Complete);
}

#[test]
fn job_timeout_stops_lua_and_sh() {
    let run = run_with(
        &pipeline(
            r#"ci.job("spin", {"quire/push"}, function(rt) while true do end end)
ci.job("sleep", {"quire/push"}, function(rt) rt.sh("sleep 30") end)
ci.job("coroutine", {"quire/push"}, function(rt)
  coroutine.wrap(function() while true do end end)()
end)
ci.job("pcall-loop", {"quire/push"}, function(rt)
  for i = 1, 1e9 do pcall(function() while true do end end) end
end)
ci.job("resume-loop", {"quire/push"}, function(rt)
  while true do
    coroutine.resume(coroutine.create(function() while true do end end))
  end
end)
ci.job("sh-pcall-loop", {"quire/push"}, function(rt)
  while true do pcall(rt.sh, "sleep 30") end
end)
ci.job("resume-once", {"quire/push"}, function(rt)
  coroutine.resume(coroutine.create(function() while true do end end))
  return {}
end)
ci.job("quick", {"quire/push"}, function(rt) return {} end)"#,
        ),
        |o| o.job_timeout = Some(Duration::from_millis(300)),
    );
    let expected = |job: &str| {
        format!(
            "job {job:?} timed out after 0.3 s; make it faster or raise \
             --job-timeout"
        )
    };
    assert_eq!(run.outcome("spin"), JobOutcome::Failed);
    assert!(run.message("spin").ends_with(&expected("spin")));
    assert_eq!(run.outcome("sleep"), JobOutcome::Failed);
    assert!(run.message("sleep").ends_with(&expected("sleep")));
    assert_eq!(run.outcome("coroutine"), JobOutcome::Failed);
    assert!(run.message("coroutine").ends_with(&expected("coroutine")));
    // Catching the timeout error does not let a job run on.
    for job in ["pcall-loop", "resume-loop", "sh-pcall-loop", "resume-once"] {
        assert_eq!(run.outcome(job), JobOutcome::Failed, "{job}");
        assert!(run.message(job).ends_with(&expected(job)), "{job}");
    }
    assert_eq!(run.outcome("quick"), JobOutcome::Complete);
}

#[test]
fn registration_errors_exact() {
    let cases = [
        (
            "ci.job('a', {'quire/push'}, function() end)\nci.job('a', {'quire/push'}, function() end)",
            ".quire/ci.fnl:3: job \"a\" is registered twice (.quire/ci.fnl:2 \
             and .quire/ci.fnl:3); give each job a unique id",
        ),
        (
            "ci.job('a/b', {'quire/push'}, function() end)",
            ".quire/ci.fnl:2: job id \"a/b\" contains \"/\"; ids may not \
             contain \"/\" because it marks sources such as quire/push",
        ),
        (
            "ci.job('a', {}, function() end)",
            ".quire/ci.fnl:2: job \"a\" has no inputs; list at least one job \
             id or the source quire/push",
        ),
        (
            "ci.job(string.rep('x', 256), {'quire/push'}, function() end)",
            ".quire/ci.fnl:2: job id \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... \
             is 256 bytes long; ids are at most 255 bytes because each \
             names a log directory",
        ),
        (
            "ci.job('a', {'quire/push'}, function() end)\n\
             ci.job('b', {'a', 'quire/push', 'a'}, function() end)",
            ".quire/ci.fnl:3: job \"b\" lists the input \"a\" twice; list \
             each input once",
        ),
        (
            "ci.image('alpine')\nci.image('debian')",
            ".quire/ci.fnl:3: ci.image is called twice (\"alpine\", then \
             \"debian\"); a pipeline has one image, so keep one call",
        ),
        (
            "ci.job('a', {'quire/push'}, function() end)\nci.job('b', {'c'}, function() end)",
            "job \"b\" (.quire/ci.fnl:3) has an unknown input \"c\": an input \
             is the id of a job in this pipeline or the source quire/push",
        ),
        (
            "ci.job('a', {'quire/push', 'b'}, function() end)\nci.job('b', {'a'}, function() end)",
            "jobs form a cycle: a -> b -> a (each job lists the next as an \
             input; a is at .quire/ci.fnl:2, b at .quire/ci.fnl:3); remove \
             one of these inputs so the jobs can be ordered",
        ),
        (
            "ci.job('a', {'b'}, function() end)\nci.job('b', {'a'}, function() end)\nci.job('c', {'a'}, function() end)",
            "jobs form a cycle: a -> b -> a (each job lists the next as an \
             input; a is at .quire/ci.fnl:2, b at .quire/ci.fnl:3); remove \
             one of these inputs so the jobs can be ordered\n\
             job \"c\" (.quire/ci.fnl:4) never reaches a source: none of its \
             inputs leads to quire/push; add quire/push or a job that \
             depends on it to its inputs",
        ),
        (
            "ci.job('a', {'quire/push'}, 'not a function')",
            ".quire/ci.fnl:2: job \"a\": the third argument of ci.job must be \
             the job's function, got the string \"not a function\"",
        ),
        (
            "ci.job(7, {'quire/push'}, function() end)",
            ".quire/ci.fnl:2: ci.job expects a string or keyword id, got the \
             number 7",
        ),
        (
            "ci.job('a', 'quire/push', function() end)",
            ".quire/ci.fnl:2: job \"a\": inputs must be a sequence of job ids \
             and sources, such as [:quire/push], got the string \
             \"quire/push\"",
        ),
        (
            "local x = 1",
            "the pipeline registers no jobs; add at least one (ci.job ...) \
             call",
        ),
    ];
    for (body, expected) in cases {
        let error = load_error(&pipeline(body));
        let first = error.split("\n  ").next().unwrap();
        assert_eq!(first, expected, "{body}");
    }
}

#[test]
fn misspelt_ci_field_named() {
    assert_eq!(
        load_error(&pipeline("ci.jbo('a', {'quire/push'}, function() end)")),
        ".quire/ci.fnl:2: quire.ci has no field \"jbo\"; it offers job and \
         image, as in (ci.job id inputs run-fn)"
    );
}

#[test]
fn registering_inside_job_rejected() {
    let run = run(&pipeline(
        r#"ci.job("a", {"quire/push"}, function(rt)
  ci.job("late", {"quire/push"}, function() end)
end)"#,
    ));
    assert_eq!(
        run.message("a"),
        ".quire/ci.fnl:3: ci.job was called while jobs run; register jobs \
         and the image at the top level of the pipeline"
    );
}
