//! The `quire` command line: `serve`, `repo new`, `hook post-receive`
//! and `ci run|list|show`.
//!
//! Each subcommand lives in its own file; this module contains the
//! argument definitions, logging setup and the exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::paths::{DEFAULT_DATA_DIR, DataDir};

mod ci;
mod demo;
mod hook;
mod repo;
mod serve;

/// Exit code for an error the user can fix (bad input, missing repo).
pub const EXIT_FAILURE: u8 = 1;

/// A self-hosted CI server.
#[derive(Debug, Parser)]
#[command(name = "quire", version, about)]
pub struct Cli {
    /// The data directory: config, database, repositories and runs.
    #[arg(
        long,
        global = true,
        env = "QUIRE_DATA_DIR",
        default_value = DEFAULT_DATA_DIR
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage repositories.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Entry points for git hooks.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Start and inspect runs.
    #[command(subcommand)]
    Ci(CiCommand),
    /// Start a throwaway server, push the example pipeline and show
    /// its run (ignores --data-dir).
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave the server running until Ctrl-C.
    #[arg(long)]
    pub keep: bool,
    /// The quire-ci program [default: the runner built into this
    /// binary].
    #[arg(long, env = "QUIRE_CI_BIN")]
    pub quire_ci: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on ADDR:PORT, or ADDR with the config's port
    /// [default: 127.0.0.1 and the config's port].
    #[arg(long)]
    pub bind: Option<String>,
    /// The quire-ci program [default: `quire-ci` next to this binary].
    #[arg(long, env = "QUIRE_CI_BIN")]
    pub quire_ci: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a bare repository whose pushes start runs.
    New {
        /// The repository's name, as in `repos/NAME.git`.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Read git's `old new ref` lines and tell the server.
    PostReceive {
        /// The repository's name [default: from the hook's directory].
        #[arg(long)]
        repo: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Start a run by hand.
    Run {
        /// The repository's name.
        repo: String,
        /// The branch or full ref [default: the repository's HEAD].
        #[arg(long = "ref")]
        ref_name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List runs, newest first.
    List {
        /// Only runs of this repository.
        repo: Option<String>,
        /// How many runs to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one run: jobs, commands, secret names accessed and logs.
    Show {
        /// The run's id, or a unique prefix of it.
        run: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the parsed command and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let data = DataDir::new(cli.data_dir);
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging("warn,quire_server=info");
            serve::serve(data, args)
        }
        Command::Repo(RepoCommand::New { name }) => {
            init_logging("warn");
            repo::new(&data, &name)
        }
        Command::Hook(HookCommand::PostReceive { repo }) => {
            init_logging("warn");
            hook::post_receive(&data, repo)
        }
        Command::Ci(command) => {
            init_logging("warn");
            ci::ci(&data, command)
        }
        Command::Demo(args) => {
            init_logging("warn");
            demo::demo(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Logs to stderr, filtered by `QUIRE_LOG`, else `RUST_LOG`, else
/// `default`.
fn init_logging(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("QUIRE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
