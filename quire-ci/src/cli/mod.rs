//! The `quire-ci` command line: `run`, `validate` and `fennel`.
//!
//! Each subcommand lives in its own file; this module holds only the
//! argument definitions and the exit codes they share.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use quire_proto::TransportMode;

pub mod fennel;
pub mod run;
pub mod validate;

/// Exit code of a run in which every job completed or was skipped.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code of a run in which a job failed.
pub const EXIT_JOB_FAILED: u8 = 1;
/// Exit code for a usage, configuration or compile error.
pub const EXIT_USAGE: u8 = 2;

/// Runs quire pipelines and compiles Fennel.
#[derive(Debug, Parser)]
#[command(name = "quire-ci", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline in a workspace.
    Run(RunArgs),
    /// Check a pipeline and print its jobs in execution order.
    Validate(ValidateArgs),
    /// Compile or evaluate Fennel source.
    #[command(subcommand)]
    Fennel(FennelCommand),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Directory that contains `.quire/ci.fnl`.
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
    /// Directory for the run's logs; a temporary one when omitted.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Event destination: `null`, `stdout` or a file path.
    #[arg(long, default_value = "null")]
    pub events: String,
    /// Fennel file with a table of secret name to value, for local runs.
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// Bootstrap file written by the server; read, then deleted.
    #[arg(long)]
    pub bootstrap: Option<PathBuf>,
    /// Secret transport: `filesystem` or `api`.
    #[arg(long, default_value = "filesystem")]
    pub transport: TransportMode,
    /// The run's id on the server (required with `--transport api`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Base URL of the server (required with `--transport api`).
    #[arg(long)]
    pub server_url: Option<String>,
    /// Seconds a job waits for one secret from the server.
    #[arg(long, default_value_t = 30.0)]
    pub secret_timeout: f64,
    /// Memory limit of the pipeline's Lua state, in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory_limit_mib: usize,
    /// Seconds a job may run before it fails; no limit when omitted.
    #[arg(long)]
    pub job_timeout: Option<f64>,
    /// Print each command's output prefixed with its job: `auto` (when
    /// the output is a terminal), `always` or `never`.
    #[arg(long, value_enum, default_value = "auto")]
    pub echo: crate::run::terminal::EchoMode,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Directory that contains `.quire/ci.fnl`.
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum FennelCommand {
    /// Print the Lua that a Fennel file compiles to.
    Compile {
        /// A Fennel file, or `-` for standard input.
        file: String,
    },
    /// Run a Fennel file and print the values it returns.
    Eval {
        /// A Fennel file, or `-` for standard input.
        file: String,
    },
}

/// Runs the parsed command and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => validate::validate(args),
        Command::Fennel(cmd) => fennel::fennel(cmd),
    };
    ExitCode::from(code)
}
