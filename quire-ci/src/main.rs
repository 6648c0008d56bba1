use std::process::ExitCode;

use clap::Parser;
use quire_ci::cli::{self, Cli};

fn main() -> ExitCode {
    cli::main(Cli::parse())
}
