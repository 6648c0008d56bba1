//! The `quire` binary.

use clap::Parser;
use quire_server::cli::{Cli, main as run};

fn main() -> std::process::ExitCode {
    run(Cli::parse())
}
