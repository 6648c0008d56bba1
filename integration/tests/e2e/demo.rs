//! `quire demo`, run as a newcomer would: from a directory outside the
//! repository, without `--keep`.

use std::process::Command;

use integration::binaries::binaries;

#[test]
fn demo_shows_redacted_run() {
    let cwd = tempfile::tempdir().unwrap();
    let output = Command::new(&binaries().quire)
        .arg("demo")
        .current_dir(cwd.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("QUIRE_DATA_DIR")
        .env_remove("QUIRE_LOG")
        .env_remove("RUST_LOG")
        .output()
        .expect("quire demo starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quire demo failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("complete"), "{stdout}");
    assert!(stdout.contains("{{ registry-token }}"), "{stdout}");
    assert!(stdout.contains("{{ deploy-key }}"), "{stdout}");
    assert!(stdout.contains("skipped"), "{stdout}");

    // The data directory is printed, kept for exploring, and holds the
    // run; the server is stopped, so its socket is gone.
    let data_dir = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("data directory: "))
        .unwrap_or_else(|| panic!("no data directory line:\n{stdout}"));
    let data_dir = std::path::Path::new(data_dir.trim());
    assert!(
        data_dir.join("quire.db").is_file(),
        "{}",
        data_dir.display()
    );
    assert!(!data_dir.join("server.sock").exists(), "the server stopped");
    let _ = std::fs::remove_dir_all(data_dir.parent().unwrap_or(data_dir));
}
