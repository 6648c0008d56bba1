//! `quire-ci fennel compile` and `quire-ci fennel eval`.

use super::{EXIT_USAGE, FennelCommand};

/// Compiles or evaluates Fennel; returns the exit code.
pub fn fennel(_cmd: FennelCommand) -> u8 {
    eprintln!("error: `quire-ci fennel` is not implemented yet");
    EXIT_USAGE
}
