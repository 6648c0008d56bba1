//! The two ends of the secret-fetch thread: [`FetchHandle`], which a
//! job's thread uses to ask for a value, and [`SecretFetcher`], which
//! owns the thread and joins it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use quire_proto::secret_api::validate_secret_name;
use tokio::sync::Notify;

use super::FetchConfig;
use super::actor::{self, FetchRequest};
use super::client::HttpClient;
use super::reply::{ReplyError, reply_channel};
use crate::secret::error::SecretError;
use crate::secret::value::SecretValue;

/// Wakes the actor when a request arrives or a sender goes away.
///
/// `Notify::notify_one` is a plain synchronisation call: a caller uses
/// it without a runtime context and without entering the runtime, and
/// a notification sent while the actor is busy is kept as a permit, so
/// none is lost.
pub(super) struct Doorbell {
    pub notify: Notify,
    /// Set by [`SecretFetcher::shutdown`]; the actor then stops.
    pub stopping: AtomicBool,
}

/// Sends secret requests to the fetch thread and waits for replies.
///
/// Cloning is cheap, and every clone feeds the same actor. The handle
/// contains no token and no async state.
#[derive(Clone)]
pub struct FetchHandle {
    sender: Arc<RequestSender>,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
}

/// A request sender that rings the doorbell when it is dropped, so the
/// actor notices when the last one is gone.
struct RequestSender {
    requests: Option<Sender<FetchRequest>>,
    doorbell: Arc<Doorbell>,
}

impl Drop for RequestSender {
    fn drop(&mut self) {
        self.requests = None;
        self.doorbell.notify.notify_one();
    }
}

impl FetchHandle {
    /// Asks the server for `name` on behalf of `job` and waits for the
    /// reply, at most the configured timeout.
    pub fn fetch(
        &self,
        name: &str,
        job: &str,
    ) -> Result<SecretValue, SecretError> {
        validate_secret_name(name).map_err(SecretError::InvalidName)?;
        let (reply, replies) = reply_channel();
        let request = FetchRequest {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            job: job.to_string(),
            sent_at: Instant::now(),
            reply,
        };
        let stopped = || SecretError::Stopped {
            name: name.to_string(),
        };
        let requests = self.sender.requests.as_ref().ok_or_else(stopped)?;
        requests.send(request).map_err(|_| stopped())?;
        self.sender.doorbell.notify.notify_one();
        match replies.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(ReplyError::Timeout) => Err(SecretError::Timeout {
                name: name.to_string(),
                waited: self.timeout,
            }),
            Err(ReplyError::Disconnected) => Err(stopped()),
        }
    }

    /// Time a call to [`fetch`](Self::fetch) waits at most.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// An error that kept the secret-fetch thread from starting.
#[derive(Debug, thiserror::Error)]
pub enum FetchStartError {
    /// The server URL is not a plain `http://` URL. A password in it is
    /// not shown.
    #[error(
        "invalid server URL {url:?}: {reason}; pass --server-url as \
         http://HOST:PORT"
    )]
    InvalidServerUrl { url: String, reason: String },
    /// The run id cannot be put in a URL path as it is.
    #[error(
        "invalid run id {0:?}: use only ASCII letters, digits, `-` and `_`"
    )]
    InvalidRunId(String),
    /// The token is empty or not a valid header value.
    #[error("invalid run token: {0}")]
    InvalidToken(String),
    /// The timeout is zero, negative or not a number.
    #[error("invalid secret timeout: it must be a positive number of seconds")]
    InvalidTimeout,
    /// The thread or its HTTP client could not be created.
    #[error("cannot start the secret-fetch thread: {0}")]
    Thread(String),
}

/// Owns the secret-fetch thread; stops and joins it on
/// [`shutdown`](Self::shutdown) or drop.
pub struct SecretFetcher {
    /// Kept so [`handle`](Self::handle) can make new handles.
    requests: Option<Sender<FetchRequest>>,
    next_id: Arc<AtomicU64>,
    timeout: Duration,
    doorbell: Arc<Doorbell>,
    thread: Option<JoinHandle<()>>,
    runtime_threads: Arc<Mutex<Vec<ThreadId>>>,
}

impl SecretFetcher {
    /// Checks the config, then starts the thread with its runtime,
    /// client and actor.
    pub fn start(config: FetchConfig) -> Result<Self, FetchStartError> {
        check_server_url(&config.server_url)?;
        check_run_id(&config.run_id)?;
        if config.token.is_empty() {
            return Err(FetchStartError::InvalidToken("it is empty".into()));
        }
        if config.timeout.is_zero() {
            return Err(FetchStartError::InvalidTimeout);
        }
        let client = HttpClient::new(
            &config.server_url,
            &config.run_id,
            &config.token,
            config.timeout,
            config.retry,
        )?;

        let (requests, incoming) = crossbeam_channel::unbounded();
        let doorbell = Arc::new(Doorbell {
            notify: Notify::new(),
            stopping: AtomicBool::new(false),
        });
        let bell = Arc::clone(&doorbell);
        let runtime_threads = Arc::new(Mutex::new(Vec::new()));
        let threads = Arc::clone(&runtime_threads);
        let thread = std::thread::Builder::new()
            .name("secret-fetch".into())
            .spawn(move || run_thread(client, incoming, bell, threads))
            .map_err(|e| FetchStartError::Thread(e.to_string()))?;

        Ok(Self {
            requests: Some(requests),
            next_id: Arc::new(AtomicU64::new(1)),
            timeout: config.timeout,
            doorbell,
            thread: Some(thread),
            runtime_threads,
        })
    }

    /// Returns a new handle for a thread that resolves secrets.
    pub fn handle(&self) -> FetchHandle {
        FetchHandle {
            sender: Arc::new(RequestSender {
                requests: self.requests.clone(),
                doorbell: Arc::clone(&self.doorbell),
            }),
            next_id: Arc::clone(&self.next_id),
            timeout: self.timeout,
        }
    }

    /// Returns the threads that ran the fetch thread's tokio runtime:
    /// the fetch thread and any blocking-pool threads.
    pub fn runtime_threads(&self) -> Vec<ThreadId> {
        self.runtime_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the actor and joins the thread. Fetches still running are
    /// abandoned, and their callers get `SecretError::Stopped`.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.requests = None;
        self.doorbell.stopping.store(true, Ordering::Release);
        self.doorbell.notify.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(
                target: "quire_ci::secret",
                "the secret-fetch thread panicked"
            );
        }
    }
}

impl Drop for SecretFetcher {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Runs the secret-fetch thread: builds its runtime and drives the
/// actor to the end.
fn run_thread(
    client: HttpClient,
    incoming: Receiver<FetchRequest>,
    doorbell: Arc<Doorbell>,
    threads: Arc<Mutex<Vec<ThreadId>>>,
) {
    let record = {
        let threads = Arc::clone(&threads);
        move || {
            threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(std::thread::current().id());
        }
    };
    record();
    // The client needs sockets and timers only; `enable_all` would also
    // start the signal and child-process drivers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .on_thread_start(record)
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            // Dropping `incoming` makes every request fail as stopped.
            tracing::error!(
                target: "quire_ci::secret",
                error = %err,
                "cannot start the secret-fetch runtime"
            );
            return;
        }
    };
    // The actor runs as a spawned task, not as the `block_on` future.
    // Waking that future always writes to the runtime's wake-up file
    // descriptor, even from the runtime's own thread. That costs a
    // system call and a second turn of the event loop per fetch,
    // whereas a spawned task woken from its own thread is queued
    // locally.
    let actor = runtime.spawn(actor::run(client, incoming, doorbell));
    if let Err(err) = runtime.block_on(actor) {
        tracing::error!(
            target: "quire_ci::secret",
            error = %err,
            "the secret-fetch actor failed"
        );
    }
    tracing::debug!(target: "quire_ci::secret", "secret-fetch thread ended");
}

fn check_server_url(url: &str) -> Result<(), FetchStartError> {
    let parsed = reqwest::Url::parse(url);
    // The message shows the URL, less any password it carries.
    let shown = match &parsed {
        Ok(parsed) if parsed.password().is_some() => {
            let mut masked = parsed.clone();
            let _ = masked.set_password(Some("<redacted>"));
            masked.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) if !url.contains('@') => url.to_string(),
        Err(_) => "<a URL with credentials>".to_string(),
    };
    let invalid = |reason: &str| FetchStartError::InvalidServerUrl {
        url: shown.clone(),
        reason: reason.to_string(),
    };
    let parsed = parsed.map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "http" {
        return Err(invalid(
            "only plain http:// is supported, because this build of \
             quire-ci has no TLS",
        ));
    }
    if parsed.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("the URL may not carry a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("the URL may not carry credentials"));
    }
    Ok(())
}

fn check_run_id(run_id: &str) -> Result<(), FetchStartError> {
    let valid = !run_id.is_empty()
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(FetchStartError::InvalidRunId(run_id.to_string()))
    }
}
