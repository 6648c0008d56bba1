//! Throughput of `GET /api/runs/{run_id}/secrets/{name}` under
//! keep-alive load, beside `GET /healthz` from the same server in the
//! same run.
//!
//! The server is the real router over a real SQLite database on
//! 127.0.0.1; every secret request checks the token against the stored
//! hash and records an access row. The client is a minimal HTTP/1.1
//! loop over raw TCP connections (one request in flight per
//! connection), so the client's own cost stays small next to the
//! server's. Client and server share the machine's cores.
//!
//! Run: `cargo bench -p quire-server --bench secret_api`
//! Target: at least 20,000 secret requests per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quire_proto::{PushMeta, TransportMode};
use quire_server::api::{self, ApiState};
use quire_server::ci::token::RunToken;
use quire_server::config::{Config, ConfigHandle, DeclaredSecret};
use quire_server::db::Db;
use quire_server::db::runs::RunState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 16;
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
const TARGET: f64 = 20_000.0;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&tmp.path().join("quire.db")).unwrap());
    let token = RunToken::mint().unwrap();
    let run_id = uuid::Uuid::now_v7().to_string();
    let push = PushMeta::new(
        "0123456789abcdef0123456789abcdef01234567".into(),
        "refs/heads/main".into(),
        "2026-12-04T15:07:58Z".into(),
        None,
        "bench".into(),
    )
    .unwrap();
    db.insert_run(&run_id, &push, TransportMode::Api, &token.hash())
        .unwrap();
    db.transition(&run_id, RunState::Active, None).unwrap();

    let mut config = Config {
        transport: TransportMode::Api,
        ..Config::default()
    };
    for i in 0..50 {
        config.secrets.insert(
            format!("secret_{i}"),
            DeclaredSecret::literal(
                format!("value-{i}-0123456789").into_bytes(),
            ),
        );
    }
    let router = api::router(Arc::new(ApiState {
        db: Arc::clone(&db),
        config: ConfigHandle::new(config),
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let secret_request = format!(
        "GET /api/runs/{run_id}/secrets/secret_7 HTTP/1.1\r\n\
         Host: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        token.to_hex().as_str()
    );
    let health_request =
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");

    let health = load(addr, &health_request).await;
    let secret = load(addr, &secret_request).await;
    db.flush_secret_accesses().unwrap();
    let recorded: i64 = db
        .conn()
        .query_row("SELECT count(*) FROM secret_accesses", [], |r| r.get(0))
        .unwrap();

    println!("keep-alive load, {CONNECTIONS} connections, {MEASURE:?} each");
    println!("  GET /healthz (baseline)     {health:>10.0} req/s");
    println!("  GET secret (token + record) {secret:>10.0} req/s");
    println!("  ratio secret / baseline     {:>10.2}", secret / health);
    println!("  access rows recorded        {recorded:>10}");
    println!(
        "  target                      {TARGET:>10.0} req/s: {}",
        if secret >= TARGET { "met" } else { "NOT met" }
    );
}

/// Requests per second over `MEASURE`, after `WARMUP`.
async fn load(addr: std::net::SocketAddr, request: &str) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let request = request.as_bytes().to_vec();
        let (count, counting, stop) =
            (Arc::clone(&count), Arc::clone(&counting), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buffer = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                stream.write_all(&request).await.unwrap();
                let status = read_response(&mut stream, &mut buffer).await;
                assert_eq!(status, 200, "unexpected status");
                if counting.load(Ordering::Relaxed) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();

    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

/// Reads one response with a `content-length` body; returns its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).unwrap();
            let status: u16 = head[9..12].parse().unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed");
                buffer.extend_from_slice(&chunk[..n]);
            }
            return status;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
