//! `quire serve`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::ServeArgs;
use crate::paths::DataDir;
use crate::server::{ServeOptions, Server};

/// How often the config file is checked for edits.
const CONFIG_POLL: Duration = Duration::from_secs(1);

pub(super) fn serve(data: DataDir, args: ServeArgs) -> Result<(), String> {
    let quire_ci = match args.quire_ci {
        Some(path) => path,
        None => sibling_quire_ci()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let server = Server::start(ServeOptions {
            data,
            bind: args.bind,
            quire_ci,
            config_poll: CONFIG_POLL,
        })
        .await
        .map_err(|e| e.to_string())?;
        // Scripts and tests read the address from this line.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "quire listening on {}", server.url());
        let _ = out.flush();
        wait_for_signal().await;
        server.stop().await;
        Ok(())
    })
}

/// `quire-ci` in the directory of the running `quire`.
fn sibling_quire_ci() -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path: {e}"))?;
    let path = exe.with_file_name("quire-ci");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "quire-ci not found at {}; build it, or pass --quire-ci PATH \
             (or set QUIRE_CI_BIN)",
            path.display()
        ))
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
