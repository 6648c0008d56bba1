//! Killing a command and every process it started, for its timeout.
//!
//! Commands stay in quire-ci's own process group, because the server
//! stops a run by killing that group and the commands must go with it.
//! A timeout therefore cannot kill the command's group; instead the
//! command's descendants are found through `/proc`. They are first
//! stopped with SIGSTOP, so none can fork or be re-parented between
//! the scan and the kill, then killed with SIGKILL. A process that
//! started its own session (a daemon) and left the tree is not found.

use std::collections::{HashMap, HashSet};

/// Scans of `/proc` while stopping the tree; a fork racing the first
/// scan is caught by a later one.
const STOP_ROUNDS: usize = 4;

/// Stops, then kills, `root` and every process descended from it.
pub fn kill_tree(root: u32) {
    let mut found: HashSet<u32> = HashSet::new();
    for _ in 0..STOP_ROUNDS {
        let tree = descendants(root);
        let new: Vec<u32> =
            tree.into_iter().filter(|pid| found.insert(*pid)).collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            signal(pid, libc::SIGSTOP);
        }
    }
    for pid in &found {
        signal(*pid, libc::SIGKILL);
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions. A pid that
    // has already exited makes it fail with ESRCH, which is harmless.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Lists `root` and its descendants, from the parent pids in `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(parent) = parent_pid(pid) {
                children.entry(parent).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        if let Some(kids) = children.get(&tree[i]) {
            tree.extend(kids);
        }
        i += 1;
    }
    tree
}

/// Reads the parent pid from `/proc/<pid>/stat`. The command name in
/// that file is in parentheses and may contain spaces, so the fields
/// are read after the last `)`.
fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let rest = &stat[stat.rfind(')').unwrap() + 1..];
                !matches!(rest.split_whitespace().next(), Some("Z" | "X"))
            })
            .unwrap_or(false)
    }

    #[test]
    fn kills_grandchildren() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        assert!(running(grandchild));
        assert!(descendants(child.id()).contains(&grandchild));

        kill_tree(child.id());
        child.wait().unwrap();
        let start = Instant::now();
        while running(grandchild) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!running(grandchild), "sleep {grandchild} survived");
    }
}
