//! A real HTTP server on 127.0.0.1 that serves the secret API the way
//! the quire server does, for tests of the API transport.
//!
//! Each name picks a behaviour, so one server covers every case:
//! - a name in `values`: 200 with the value as `text/plain`;
//! - `slow-MS-...`: waits MS milliseconds, then 200 with `slow-value!`;
//! - `flaky-...`: 500 on the first request, then 200 with `flaky-value!`;
//! - `broken-...`: always 500;
//! - `unreadable-...`: 500 with the code the quire server sends for a
//!   declared secret whose file or variable it cannot read;
//! - `forbidden-...`: 403;
//! - anything else: 404 with the API's JSON error body.
//!
//! A wrong bearer token or another run's id gets 401. `GET /healthz`
//! returns 200, as the quire server's does, and is counted under the
//! name `/healthz`, which no secret can have. The server also records
//! the client port of every request, so a test can count the
//! connections the client opened.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use quire_proto::ApiError;

pub const RUN_ID: &str = "run-0193";
pub const TOKEN: &str = "run-token-5f0e1d2c3b4a";

struct ServerState {
    values: HashMap<String, String>,
    /// Requests per name, counted before any delay.
    hits: Mutex<HashMap<String, usize>>,
    /// Client ports seen, one per connection.
    client_ports: Mutex<HashSet<u16>>,
}

/// A running server; stopped and joined on drop.
pub struct SecretServer {
    pub url: String,
    state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SecretServer {
    /// Starts a server on a free loopback port.
    pub fn start(values: &[(&str, &str)]) -> Self {
        let state = Arc::new(ServerState {
            values: values
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            hits: Mutex::default(),
            client_ports: Mutex::default(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/api/runs/{run_id}/secrets/{name}", get(secret))
            .route("/healthz", get(healthz))
            .with_state(Arc::clone(&state));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).unwrap();
                let app =
                    app.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
            runtime.shutdown_timeout(Duration::from_millis(100));
        });
        Self {
            url,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Requests received for `name`.
    pub fn hits(&self, name: &str) -> usize {
        *self.state.hits.lock().unwrap().get(name).unwrap_or(&0)
    }

    /// Connections that carried at least one request.
    pub fn connections(&self) -> usize {
        self.state.client_ports.lock().unwrap().len()
    }

    /// Secret requests received in all.
    pub fn total_hits(&self) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.as_str() != "/healthz")
            .map(|(_, count)| count)
            .sum()
    }
}

impl Drop for SecretServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Returns the URL of a loopback port on which nothing listens.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn healthz(
    State(state): State<Arc<ServerState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> &'static str {
    state.client_ports.lock().unwrap().insert(client.port());
    *state
        .hits
        .lock()
        .unwrap()
        .entry("/healthz".into())
        .or_default() += 1;
    "ok"
}

async fn secret(
    State(state): State<Arc<ServerState>>,
    Path((run_id, name)): Path<(String, String)>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    state.client_ports.lock().unwrap().insert(client.port());
    let count = {
        let mut hits = state.hits.lock().unwrap();
        let count = hits.entry(name.clone()).or_default();
        *count += 1;
        *count
    };
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized || run_id != RUN_ID {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "unauthorized");
    }
    if let Some(value) = state.values.get(&name) {
        return value_response(value.clone());
    }
    if let Some(rest) = name.strip_prefix("slow-") {
        let ms: u64 = rest.split('-').next().unwrap().parse().unwrap();
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return value_response("slow-value!".into());
    }
    if name.starts_with("flaky-") {
        if count == 1 {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "boom",
            );
        }
        return value_response("flaky-value!".into());
    }
    if name.starts_with("broken-") {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "boom");
    }
    if name.starts_with("unreadable-") {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            quire_ci::secret::SOURCE_UNAVAILABLE_CODE,
            &unreadable_message(&name),
        );
    }
    if name.starts_with("forbidden-") {
        return error(StatusCode::FORBIDDEN, "forbidden", "forbidden");
    }
    error(
        StatusCode::NOT_FOUND,
        "unknown_secret",
        &format!("unknown secret: {name}"),
    )
}

/// Formats the message sent for an `unreadable-...` name, shaped like
/// the quire server's.
pub fn unreadable_message(name: &str) -> String {
    format!(
        "secret {name} is declared but the server cannot read it: file \
         /etc/quire/{name}: No such file or directory; fix the path in \
         config.fnl or make the file readable by the server"
    )
}

fn value_response(value: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value,
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(ApiError::new(code, message))).into_response()
}
