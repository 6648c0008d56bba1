//! The `quire` binary.

use clap::Parser;
use quire_server::cli::{Cli, main as run};

fn main() -> std::process::ExitCode {
    // `quire demo` starts runs through a link named `quire-ci` to this
    // binary when no quire-ci is built beside it.
    if quire_server::demo::invoked_as_quire_ci() {
        return quire_ci::cli::main(quire_ci::cli::Cli::parse());
    }
    run(Cli::parse())
}
