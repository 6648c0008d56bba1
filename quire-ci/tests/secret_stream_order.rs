//! Command output in a run that has read a secret: each line reaches
//! `sh-<n>.log` when its stream writes it, in the order the two streams
//! wrote, and only text that could begin the value waits for more.

use std::path::Path;
use std::process::{Command, Stdio};

use quire_proto::LogStream;
use quire_proto::cri::{self, LogLine};

const BIN: &str = env!("CARGO_BIN_EXE_quire-ci");

/// Runs `pipeline` with the secret `tok` available and returns the log
/// of the job's commands, one entry per `sh` call.
fn run_with_secret(dir: &Path, pipeline: &str, commands: u32) -> Vec<String> {
    let workspace = dir.join("ws");
    std::fs::create_dir_all(workspace.join(".quire")).unwrap();
    std::fs::write(workspace.join(".quire/ci.fnl"), pipeline).unwrap();
    let secrets = dir.join("secrets.fnl");
    std::fs::write(&secrets, "{:tok \"0123456789abcdef\"}\n").unwrap();
    let out = dir.join("out");
    let output = Command::new(BIN)
        .arg("run")
        .arg("--workspace")
        .arg(&workspace)
        .arg("--out-dir")
        .arg(&out)
        .arg("--events")
        .arg(out.join("events.jsonl"))
        .arg("--secrets")
        .arg(&secrets)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (1..=commands)
        .map(|n| {
            std::fs::read_to_string(out.join(format!("jobs/show/sh-{n}.log")))
                .unwrap()
        })
        .collect()
}

fn pipeline(commands: &[&str]) -> String {
    let calls: String = commands
        .iter()
        .map(|c| format!("    (sh {c:?})\n"))
        .collect();
    format!(
        "(local ci (require :quire.ci))\n\
         (ci.job :show [:quire/push]\n  \
         (fn [{{: sh : secret}}]\n    \
         (secret :tok)\n{calls}    {{}}))\n"
    )
}

/// Returns each line as (stream, partial, content).
fn entries(lines: &[LogLine]) -> Vec<(LogStream, bool, &str)> {
    lines
        .iter()
        .map(|l| (l.stream, l.partial, l.content.as_str()))
        .collect()
}

#[test]
fn short_lines_keep_stream_order() {
    let dir = tempfile::tempdir().unwrap();
    let logs = run_with_secret(
        dir.path(),
        &pipeline(&[
            "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three",
        ]),
        1,
    );
    let lines = cri::parse_log(&logs[0]).unwrap();
    assert_eq!(
        entries(&lines),
        [
            (LogStream::Stdout, false, "one"),
            (LogStream::Stderr, false, "two"),
            (LogStream::Stdout, false, "three"),
        ]
    );
    // Each line is stamped when it was read, not when a later one
    // pushed it out; the sleeps keep the three times apart.
    assert!(lines[0].timestamp < lines[1].timestamp, "{}", logs[0]);
    assert!(lines[1].timestamp < lines[2].timestamp, "{}", logs[0]);
}

#[test]
fn only_possible_value_start_waits() {
    let dir = tempfile::tempdir().unwrap();
    let logs = run_with_secret(
        dir.path(),
        &pipeline(&[
            // `0123` could begin the value, so only it waits for the
            // rest of the line; `id ` goes out before stderr's line.
            "printf 'id 0123'; sleep 0.1; echo two >&2; sleep 0.1; \
             echo '45-not'",
            // The value itself, written in two pieces, is replaced.
            "printf 'key 01234567'; sleep 0.1; echo two >&2; sleep 0.1; \
             echo '89abcdef end'",
        ]),
        2,
    );
    let first = cri::parse_log(&logs[0]).unwrap();
    assert_eq!(
        entries(&first),
        [
            (LogStream::Stdout, true, "id "),
            (LogStream::Stderr, false, "two"),
            (LogStream::Stdout, false, "012345-not"),
        ]
    );
    let second = cri::parse_log(&logs[1]).unwrap();
    assert_eq!(
        entries(&second),
        [
            (LogStream::Stdout, true, "key "),
            (LogStream::Stderr, false, "two"),
            (LogStream::Stdout, false, "{{ tok }} end"),
        ]
    );
    assert!(!logs[1].contains("0123"), "{}", logs[1]);
}
