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
        // Signal handlers go in before the address is printed, so a
        // caller that stops the server as soon as it reads the address
        // still gets a clean shutdown.
        let mut signals = Signals::install()?;
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
        signals.wait().await;
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

/// SIGINT and SIGTERM, either of which stops the server.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| {
            signal(kind)
                .map_err(|e| format!("cannot install a signal handler: {e}"))
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
