//! `quire-ci run`.

use super::{EXIT_USAGE, RunArgs};

/// Runs a pipeline; returns the exit code.
pub fn run(_args: RunArgs) -> u8 {
    eprintln!("error: `quire-ci run` is not implemented yet");
    EXIT_USAGE
}
