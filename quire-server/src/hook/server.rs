//! The server side of `server.sock`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{CreatedRun, MAX_REQUEST_LEN, SocketReply, SocketRequest};
use crate::ci::Ci;

/// Binds `path`. A socket file left by a server that is gone is
/// replaced. A socket that still accepts connections means another
/// server runs here.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "another quire server is listening on {}; stop it first",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    // Only the server's user may send pushes; connecting needs write
    // permission on the socket file.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: UnixListener, ci: Ci) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let ci = ci.clone();
                tokio::spawn(async move {
                    if let Err(error) = handle(stream, ci).await {
                        tracing::warn!(%error, "hook connection failed");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "cannot accept a hook connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(stream: UnixStream, ci: Ci) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_LEN as u64));
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let reply = match serde_json::from_str::<SocketRequest>(&line) {
        Ok(request) => {
            tokio::task::spawn_blocking(move || answer(&ci, request))
                .await
                .unwrap_or_else(|e| SocketReply {
                    runs: Vec::new(),
                    error: Some(format!("request handler failed: {e}")),
                })
        }
        Err(e) => SocketReply {
            runs: Vec::new(),
            error: Some(format!("malformed request: {e}")),
        },
    };
    let mut text = serde_json::to_string(&reply).expect("a reply serialises");
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

fn answer(ci: &Ci, request: SocketRequest) -> SocketReply {
    let created = match request {
        SocketRequest::Push { repo, updates } => ci.push(&repo, &updates),
        SocketRequest::Run { repo, ref_name } => {
            ci.run_ref(&repo, ref_name.as_deref()).map(|run| vec![run])
        }
    };
    match created {
        Ok(runs) => SocketReply {
            runs: runs
                .into_iter()
                .map(|run| CreatedRun {
                    id: run.id,
                    repo: run.repo,
                    ref_name: run.ref_name,
                    sha: run.sha,
                })
                .collect(),
            error: None,
        },
        Err(error) => {
            tracing::warn!(%error, "hook request failed");
            SocketReply {
                runs: Vec::new(),
                error: Some(error.to_string()),
            }
        }
    }
}
