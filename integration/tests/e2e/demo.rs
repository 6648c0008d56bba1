//! `quire demo`, run as a newcomer would: from a directory outside the
//! repository, with and without `--keep`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use integration::binaries::binaries;
use integration::http::get;

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

    // The data directory is printed, kept for exploring, and contains
    // the run. The server is stopped, so its socket is gone.
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

#[test]
fn demo_keep_leaves_server_running() {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = Command::new(&binaries().quire);
    command
        .args(["demo", "--keep"])
        .current_dir(cwd.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("QUIRE_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("quire demo starts");
    let guard = KillOnDrop(child.id() as i32);

    // Read until the demo prints that the server keeps running.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen: Vec<String> = Vec::new();
    let url = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            _ => panic!("quire demo --keep ended early:\n{}", seen.join("\n")),
        };
        if let Some(rest) = line.strip_prefix("the server keeps running at ") {
            break rest.split(';').next().unwrap().to_string();
        }
        seen.push(line);
    };
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .expect("an http URL")
        .parse()
        .expect("a socket address");
    let health = get(addr, "/healthz", None);
    assert_eq!(health.status, 200, "the kept server answers");

    // SAFETY: kill(2) sends SIGINT to the demo this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("quire demo exits");
    // The group is gone with the demo; its id may be reused.
    std::mem::forget(guard);
    assert!(status.success(), "quire demo --keep after Ctrl-C: {status}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the server stopped after Ctrl-C"
    );
    let data_dir = seen
        .iter()
        .find_map(|line| line.strip_prefix("data directory: "))
        .expect("the data directory is printed");
    let root = std::path::Path::new(data_dir).parent().unwrap();
    let _ = std::fs::remove_dir_all(root);
}

/// Kills a process group when dropped, so a failed test leaves no demo
/// server behind.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        integration::quire::kill_group(self.0, libc::SIGKILL);
    }
}
