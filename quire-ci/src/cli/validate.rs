//! `quire-ci validate`: load the pipeline without running a job, and
//! print its image and jobs in execution order, or every error found.

use super::run::init_tracing;
use super::{EXIT_SUCCESS, EXIT_USAGE, ValidateArgs};
use crate::runtime::{PipelineLoadError, Runtime};

/// Memory limit of the Lua state that evaluates the pipeline, in MiB.
const MEMORY_LIMIT_MIB: usize = 256;

/// Validates a pipeline; returns the exit code.
pub fn validate(args: ValidateArgs) -> u8 {
    init_tracing(None);
    let workspace = match args.workspace.canonicalize() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!(
                "error: cannot use the workspace {}: {e}",
                args.workspace.display()
            );
            return EXIT_USAGE;
        }
    };
    let result = Runtime::new(&workspace, MEMORY_LIMIT_MIB)
        .and_then(|runtime| runtime.load_pipeline().map(|p| p.spec));
    match result {
        Ok(spec) => {
            print!("{spec}");
            EXIT_SUCCESS
        }
        Err(PipelineLoadError::Invalid(errors)) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}
