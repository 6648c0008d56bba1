//! `quire-ci validate`.

use super::{EXIT_USAGE, ValidateArgs};

/// Validates a pipeline; returns the exit code.
pub fn validate(_args: ValidateArgs) -> u8 {
    eprintln!("error: `quire-ci validate` is not implemented yet");
    EXIT_USAGE
}
