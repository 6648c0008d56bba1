//! Finding the `quire` and `quire-ci` binaries the tests drive.
//!
//! They are taken from the target directory the running test binary
//! was built into (`<target>/<profile>/deps/<test>`), so a test always
//! runs the binaries of the same build. `cargo test --workspace` builds
//! them, because the server's and the runner's own tests need them.
//! When either is missing, as after `cargo test -p integration` on a
//! fresh target directory, they are built once with `cargo build`.
//!
//! NOTE: binaries that exist are used as they are, so after changing
//! the server or the runner, run the whole workspace's tests (or
//! `cargo build --bins`) to rebuild them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The paths of the two programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub quire: PathBuf,
    pub quire_ci: PathBuf,
}

/// Returns the binaries next to the running test, building them first
/// when either is missing.
pub fn binaries() -> &'static Binaries {
    static FOUND: OnceLock<Binaries> = OnceLock::new();
    FOUND.get_or_init(|| {
        let profile_dir = profile_dir();
        let found = Binaries {
            quire: profile_dir.join("quire"),
            quire_ci: profile_dir.join("quire-ci"),
        };
        if !found.quire.is_file() || !found.quire_ci.is_file() {
            build(&profile_dir);
        }
        for path in [&found.quire, &found.quire_ci] {
            assert!(
                path.is_file(),
                "{} is missing after `cargo build --bins`",
                path.display()
            );
        }
        found
    })
}

/// `<target>/<profile>`, from the test binary's own path.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("the test binary is in a directory");
    let dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("deps/ has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// Builds both binaries into the target directory holding
/// `profile_dir`, with the same profile.
fn build(profile_dir: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the integration crate sits in the workspace");
    let target = profile_dir
        .parent()
        .expect("the profile directory is inside the target directory");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target)
        .args(["build", "--bins", "-p", "quire-server", "-p", "quire-ci"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    eprintln!("building quire and quire-ci into {}", target.display());
    let status = command.status().expect("cargo starts");
    assert!(status.success(), "cargo build --bins failed: {status}");
}
