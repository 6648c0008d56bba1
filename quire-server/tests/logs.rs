//! With every log level on, a run and its secret requests leave no
//! token and no secret value in the server's logs, and each request
//! has a log line with its method, route, status, run id and duration.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::Harness;
use quire_proto::TransportMode;
use quire_server::config::{Config, DeclaredSecret};
use quire_server::db::runs::RunState;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_ids_not_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mut config = Config {
        transport: TransportMode::Api,
        ..Config::default()
    };
    config.secrets.insert(
        "deploy_key".into(),
        DeclaredSecret::literal(b"k3y-value-0123".to_vec()),
    );
    let h = Harness::start(config).await;
    h.set_mode("hang");
    let run = h.ci.run_ref("widgets", None).unwrap();
    h.wait_recorded(&run.id, "token").await;
    h.wait_state(&run.id, RunState::Active).await;
    let token = h.recorded(&run.id, "token");

    let client = reqwest::Client::new();
    let url = format!("{}/api/runs/{}/secrets/deploy_key", h.url, run.id);
    for bearer in [token.as_str(), "0123abcd"] {
        client
            .get(&url)
            .header("authorization", format!("Bearer {bearer}"))
            .send()
            .await
            .unwrap();
    }
    h.ci.kill_all();
    h.wait_idle().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.contains(&token), "token in logs:\n{logs}");
    assert!(!logs.contains("k3y-value-0123"), "value in logs:\n{logs}");
    assert!(
        !logs.contains("0123abcd"),
        "a presented token in logs:\n{logs}"
    );

    let requests: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("quire_server::api::request"))
        .collect();
    assert_eq!(requests.len(), 2, "{logs}");
    for line in &requests {
        assert!(line.contains("method=GET"), "{line}");
        assert!(
            line.contains("route=\"/api/runs/{run_id}/secrets/{name}\""),
            "{line}"
        );
        assert!(line.contains(&format!("run_id=\"{}\"", run.id)), "{line}");
        assert!(line.contains("duration_us="), "{line}");
    }
    assert!(requests[0].contains("status=200"), "{}", requests[0]);
    assert!(requests[1].contains("status=401"), "{}", requests[1]);
}
