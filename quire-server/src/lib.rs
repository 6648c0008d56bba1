//! The quire server: configuration, runs, the runner API and push
//! hooks.
//!
//! `quire serve` owns the data directory ([`paths`]). It loads
//! `config.fnl` ([`config`]), records runs in SQLite ([`db`]), turns
//! pushes that arrive over a Unix socket ([`hook`]) into runs, hands
//! each run to a `quire-ci` process ([`ci`]), and serves secret values
//! to the runs it started ([`api`]).

pub mod api;
pub mod ci;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod hook;
pub mod lock;
pub mod paths;
pub mod server;
