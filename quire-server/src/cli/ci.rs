//! `quire ci run|list|show`.
//!
//! `run` sends a request over the server's socket, since only the server starts
//! runs. `list` and `show` read the database directly; WAL mode lets
//! them read while the server writes.

use std::fmt::Write as _;

use serde::Serialize;

use super::CiCommand;
use crate::db::Db;
use crate::db::jobs::{JobRow, ShRow};
use crate::db::runs::Run;
use crate::db::secret_access::AccessRow;
use crate::hook::SocketRequest;
use crate::hook::client::send;
use crate::paths::{DataDir, validate_repo_name};

pub(super) fn ci(data: &DataDir, command: CiCommand) -> Result<(), String> {
    match command {
        CiCommand::Run {
            repo,
            ref_name,
            json,
        } => run(data, repo, ref_name, json),
        CiCommand::List { repo, limit, json } => {
            let runs = open(data)?
                .list_runs(repo.as_deref(), limit)
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&runs);
            } else {
                print!("{}", list_text(&runs));
            }
            Ok(())
        }
        CiCommand::Show { run, json } => {
            let db = open(data)?;
            let report = report(&db, data, &run)?;
            if json {
                print_json(&report);
            } else {
                print!("{}", show_text(&report));
            }
            Ok(())
        }
    }
}

fn run(
    data: &DataDir,
    repo: String,
    ref_name: Option<String>,
    json: bool,
) -> Result<(), String> {
    validate_repo_name(&repo)?;
    let reply = send(&data.socket(), &SocketRequest::Run { repo, ref_name })
        .map_err(|e| e.to_string())?;
    if let Some(error) = reply.error {
        return Err(error);
    }
    for run in &reply.runs {
        if json {
            print_json(run);
        } else {
            println!("{}", run.id);
        }
    }
    Ok(())
}

fn open(data: &DataDir) -> Result<Db, String> {
    let path = data.database();
    if !path.exists() {
        return Err(format!(
            "no database at {}; start `quire serve` with this data \
             directory first",
            path.display()
        ));
    }
    Db::open(&path).map_err(|e| e.to_string())
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("records serialise")
    );
}

/// Everything `show` prints about one run.
#[derive(Debug, Serialize)]
struct Report {
    run: Run,
    jobs: Vec<JobReport>,
    /// Distinct secret names that were served or read, in first-use
    /// order.
    secrets_accessed: Vec<String>,
    secret_accesses: Vec<AccessRow>,
    /// Path of quire-ci's own output.
    runner_log: String,
    /// quire-ci's own output, such as a pipeline's compile error.
    runner_output: String,
}

#[derive(Debug, Serialize)]
struct JobReport {
    #[serde(flatten)]
    job: JobRow,
    /// The lines the job wrote with `(log ...)`.
    log: String,
    commands: Vec<CommandReport>,
}

#[derive(Debug, Serialize)]
struct CommandReport {
    #[serde(flatten)]
    sh: ShRow,
    /// The command's output in arrival order, both streams merged.
    log: String,
}

fn find_run(db: &Db, id: &str) -> Result<Run, String> {
    if id.trim().is_empty() {
        return Err("missing run id: give a run's id or a unique prefix \
                    of it, as `quire ci list` shows them"
            .into());
    }
    if let Some(run) = db.run(id).map_err(|e| e.to_string())? {
        return Ok(run);
    }
    let mut found = db.runs_with_prefix(id).map_err(|e| e.to_string())?;
    match found.len() {
        0 => Err(format!("run {id} not found; `quire ci list` shows runs")),
        1 => Ok(found.remove(0)),
        _ => Err(format!(
            "run id prefix {id} is ambiguous; give more characters"
        )),
    }
}

fn report(db: &Db, data: &DataDir, id: &str) -> Result<Report, String> {
    let run = find_run(db, id)?;
    let jobs = db.jobs(&run.id).map_err(|e| e.to_string())?;
    let commands = db.sh_commands(&run.id).map_err(|e| e.to_string())?;
    let accesses = db.secret_accesses(&run.id).map_err(|e| e.to_string())?;

    let dir = data.run_dir(&run.repo, &run.id);
    let mut job_reports: Vec<JobReport> = jobs
        .into_iter()
        .map(|job| JobReport {
            log: read_log(&dir.job_log(&job.name).display().to_string()),
            job,
            commands: Vec::new(),
        })
        .collect();
    for sh in commands {
        let log = read_log(&sh.log_path);
        let command = CommandReport { sh, log };
        match job_reports
            .iter_mut()
            .find(|j| j.job.name == command.sh.job)
        {
            Some(job) => job.commands.push(command),
            None => job_reports.push(JobReport {
                log: String::new(),
                job: JobRow {
                    name: command.sh.job.clone(),
                    outcome: None,
                    message: None,
                    started_at: None,
                    finished_at: None,
                },
                commands: vec![command],
            }),
        }
    }
    let mut names: Vec<String> = Vec::new();
    for access in &accesses {
        let used = access.result == "granted" || access.result == "bootstrap";
        if used && !names.contains(&access.name) {
            names.push(access.name.clone());
        }
    }
    let runner_log = dir.runner_log().display().to_string();
    let runner_output = std::fs::read(&runner_log)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Ok(Report {
        run,
        jobs: job_reports,
        secrets_accessed: names,
        secret_accesses: accesses,
        runner_log,
        runner_output,
    })
}

/// Reads a command log's content, merged in arrival order, or the raw
/// text if it is not in the log format.
fn read_log(path: &str) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    match quire_proto::cri::parse_log(&text) {
        Ok(lines) => {
            let mut out = String::new();
            for line in lines {
                out.push_str(&line.content);
                if !line.partial {
                    out.push('\n');
                }
            }
            out
        }
        Err(_) => text.into_owned(),
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

fn list_text(runs: &[Run]) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        out.push_str("no runs\n");
        return out;
    }
    for run in runs {
        let _ = writeln!(
            out,
            "{}  {:<10}  {:<16} {:<24} {}  {}",
            run.id,
            run.state.as_str(),
            run.repo,
            run.ref_name,
            short(&run.sha),
            run.created_at
        );
    }
    out
}

fn show_text(report: &Report) -> String {
    let run = &report.run;
    let mut out = String::new();
    let _ = writeln!(out, "run {}  {}", run.id, run.state);
    let _ = writeln!(out, "  repo       {}", run.repo);
    let _ = writeln!(out, "  ref        {} at {}", run.ref_name, run.sha);
    let _ = writeln!(out, "  pushed     {}", run.pushed_at);
    if let Some(at) = &run.started_at {
        let _ = writeln!(out, "  started    {at}");
    }
    if let Some(at) = &run.finished_at {
        let _ = writeln!(out, "  finished   {at}");
    }
    let _ = writeln!(out, "  transport  {}", run.transport);
    if let Some(reason) = &run.failure_reason {
        let _ = writeln!(out, "  reason     {reason}");
    }
    let names = if report.secrets_accessed.is_empty() {
        "none".to_string()
    } else {
        report.secrets_accessed.join(", ")
    };
    let _ = writeln!(out, "  secrets    {names}");
    let _ = writeln!(out, "  quire-ci   {}", report.runner_log);
    if run.state == crate::db::runs::RunState::Failed
        && !report.runner_output.trim().is_empty()
    {
        let _ = writeln!(out, "\nquire-ci output:");
        for line in report.runner_output.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    for job in &report.jobs {
        let outcome = job.job.outcome.as_deref().unwrap_or("unfinished");
        let _ = writeln!(out, "\njob {}  {outcome}", job.job.name);
        if let Some(message) = &job.job.message {
            let _ = writeln!(out, "  {message}");
        }
        for line in job.log.lines() {
            let _ = writeln!(out, "  log: {line}");
        }
        for command in &job.commands {
            let exit = match (command.sh.exit_code, command.sh.timed_out) {
                (_, true) => "timed out".to_string(),
                (Some(code), _) => format!("exit {code}"),
                (None, _) => "no exit code".to_string(),
            };
            let _ = writeln!(out, "  $ {}  ({exit})", command.sh.cmd);
            for line in command.log.lines() {
                let _ = writeln!(out, "  | {line}");
            }
        }
    }
    out
}
