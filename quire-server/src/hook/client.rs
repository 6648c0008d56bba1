//! The client side of `server.sock`, used by `quire hook post-receive`
//! and `quire ci run`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{SocketReply, SocketRequest};
use crate::ci::RefUpdate;

/// How long a client waits for the server's reply.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A failed request over the socket.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the quire server at {path}: {source}; \
         is `quire serve` running?"
    )]
    Connect { path: String, source: io::Error },
    #[error("talking to the quire server at {path} failed: {source}")]
    Io { path: String, source: io::Error },
    #[error("the quire server sent a malformed reply: {0}")]
    Reply(String),
}

/// Sends one request and returns the server's reply.
pub fn send(
    socket: &Path,
    request: &SocketRequest,
) -> Result<SocketReply, ClientError> {
    let path = socket.display().to_string();
    let io_err = |source| ClientError::Io {
        path: path.clone(),
        source,
    };
    let mut stream =
        UnixStream::connect(socket).map_err(|source| ClientError::Connect {
            path: path.clone(),
            source,
        })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
    let mut line =
        serde_json::to_string(request).expect("a request serialises");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io_err)?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(io_err)?;
    serde_json::from_str(&reply).map_err(|e| ClientError::Reply(e.to_string()))
}

/// Parses git's post-receive input: one `old new ref` line per
/// updated ref. Returns the updates and the lines it could not read.
pub fn parse_updates(input: &str) -> (Vec<RefUpdate>, Vec<String>) {
    let mut updates = Vec::new();
    let mut bad = Vec::new();
    for line in input.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [old, new, ref_name] => updates.push(RefUpdate {
                old: (*old).into(),
                new: (*new).into(),
                ref_name: (*ref_name).into(),
            }),
            _ => bad.push(line.to_string()),
        }
    }
    (updates, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_receive_lines_parsed() {
        let input =
            "aaa bbb refs/heads/main\n\nccc ddd refs/tags/v1\nbroken line\n";
        let (updates, bad) = parse_updates(input);
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].old, "aaa");
        assert_eq!(updates[0].new, "bbb");
        assert_eq!(updates[1].ref_name, "refs/tags/v1");
        assert_eq!(bad, ["broken line"]);
    }

    #[test]
    fn no_server_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let request = SocketRequest::Run {
            repo: "w".into(),
            ref_name: None,
        };
        let err = send(&dir.path().join("server.sock"), &request).unwrap_err();
        assert!(matches!(err, ClientError::Connect { .. }));
        assert!(
            err.to_string().contains("is `quire serve` running?"),
            "{err}"
        );
    }
}
