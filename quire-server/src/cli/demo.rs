//! `quire demo`: starts a throwaway server, pushes the example
//! pipeline, prints the run with every job's log, and stops.
//!
//! The output is the point of the command, so it prints the run the
//! way `quire ci show` does, with each secret shown as `{{ name }}`,
//! and ends with the data directory and the commands to explore it.

use std::path::PathBuf;

use super::{CiCommand, DemoArgs};
use crate::db::runs::RunState;
use crate::demo::{Demo, PIPELINE_FILES, RUN_TIMEOUT};
use crate::paths::DataDir;

pub(super) fn demo(args: DemoArgs) -> Result<(), String> {
    let quire = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let quire_ci = args.quire_ci.or_else(|| sibling_quire_ci(&quire));

    let demo = Demo::start(quire, quire_ci).map_err(|e| e.to_string())?;
    let data = demo.paths().data_dir();
    println!("quire listening on {}", demo.url());
    println!("data directory: {}", data.root().display());

    let result = push_and_show(&demo, &data);
    println!();
    println!("data directory: {}", data.root().display());
    println!(
        "explore it:     quire --data-dir {} ci list",
        data.root().display()
    );
    if args.keep {
        println!(
            "the server keeps running at {}; press Ctrl-C to stop it",
            demo.url()
        );
        demo.wait_for_signal();
    }
    demo.stop();
    result
}

/// Pushes the example, waits for its run and prints it; fails unless
/// the run completed.
fn push_and_show(demo: &Demo, data: &DataDir) -> Result<(), String> {
    let run = demo.push(PIPELINE_FILES).map_err(|e| e.to_string())?;
    println!("pushed the example pipeline; run {} started", run.id);
    let run = demo.wait(&run.id, RUN_TIMEOUT).map_err(|e| e.to_string())?;
    println!();
    super::ci::ci(
        data,
        CiCommand::Show {
            run: run.id.clone(),
            json: false,
        },
    )?;
    print_job_logs(data, &run.repo, &run.id);
    if run.state == RunState::Complete {
        Ok(())
    } else {
        Err(format!(
            "the demo run ended {}; its quire-ci log is {}",
            run.state,
            data.run_dir(&run.repo, &run.id).runner_log().display()
        ))
    }
}

/// Prints the lines jobs wrote with `(log ...)`, which `ci show` does
/// not include.
fn print_job_logs(data: &DataDir, repo: &str, run_id: &str) {
    let jobs = data.run_dir(repo, run_id).root().join("jobs");
    let Ok(entries) = std::fs::read_dir(&jobs) else {
        return;
    };
    let mut logs: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path().join("job.log"))
        .filter(|path| path.is_file())
        .collect();
    logs.sort();
    for path in logs {
        let job = path
            .parent()
            .and_then(|dir| dir.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("\n(log ...) lines of job {job}");
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            println!("  | {line}");
        }
    }
}

/// `quire-ci` in the directory of the running `quire`, if it is built.
fn sibling_quire_ci(quire: &std::path::Path) -> Option<PathBuf> {
    let path = quire.with_file_name("quire-ci");
    path.is_file().then_some(path)
}
