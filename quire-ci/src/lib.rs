//! The quire pipeline runner.
//!
//! `quire-ci` compiles a repository's `.quire/ci.fnl` with its own
//! Fennel compiler, registers the pipeline's jobs, and runs them in
//! dependency order. Secret values reach jobs through a per-run
//! registry, and every byte the run records passes through a redactor.

pub mod cli;
pub mod events;
pub mod fennel;
pub mod pipeline;
pub mod run;
pub mod runtime;
pub mod secret;
pub mod sh;
