//! `quire demo`: starts a throwaway server, pushes the example
//! pipeline, prints the run with every job's log, and stops.
//!
//! The output is the point of the command, so it prints the run the
//! way `quire ci show` does, with each secret shown as `{{ name }}`,
//! and ends with the data directory and the commands to explore it.
//!
//! Runs use the runner built into this binary unless `--quire-ci`
//! names a program. A `quire-ci` found beside `quire` is not used,
//! because `cargo run --bin quire` rebuilds only `quire`, and an older
//! `quire-ci` left in the target directory would run the demo.

use super::{CiCommand, DemoArgs};
use crate::db::runs::RunState;
use crate::demo::{Demo, PIPELINE_FILES, RUN_TIMEOUT};
use crate::paths::DataDir;

pub(super) fn demo(args: DemoArgs) -> Result<(), String> {
    let quire = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let demo = Demo::start(quire, args.quire_ci).map_err(|e| e.to_string())?;
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
        let signals = demo.catch_stop_signals().map_err(|e| e.to_string())?;
        println!(
            "the server keeps running at {}; press Ctrl-C to stop it",
            demo.url()
        );
        demo.wait_for(signals);
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
    if run.state == RunState::Complete {
        return Ok(());
    }
    let runner_log = data.run_dir(&run.repo, &run.id).runner_log();
    eprintln!("\nquire-ci's output ({}):", runner_log.display());
    eprint!(
        "{}",
        std::fs::read_to_string(&runner_log).unwrap_or_default()
    );
    Err(format!("the demo run ended {}", run.state))
}
