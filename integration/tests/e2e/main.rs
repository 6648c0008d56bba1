//! End-to-end tests: the real `quire serve` and `quire-ci` binaries, a
//! temporary data directory, real git pushes over a bare repository's
//! hook, and checks through `quire ci show --json` and the files a run
//! leaves on disk.
//!
//! One test binary contains every case, so the tests share one build
//! and run in parallel. Each test has its own data directory and
//! server.

mod demo;
mod runs;
mod secrets;
mod tokens;
