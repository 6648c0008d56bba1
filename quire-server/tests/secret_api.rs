//! The secret endpoint over real HTTP on 127.0.0.1: every status code,
//! the shared 401, token expiry at a terminal state, and the access
//! records.

mod common;

use common::Harness;
use quire_proto::{ApiError, TransportMode};
use quire_server::config::{Config, DeclaredSecret};
use quire_server::db::runs::{Run, RunState};

async fn harness() -> Harness {
    let mut config = Config {
        transport: TransportMode::Api,
        max_concurrent_runs: 4,
        ..Config::default()
    };
    config.secrets.insert(
        "deploy_key".into(),
        DeclaredSecret::literal(b"k3y-value-0123".to_vec()),
    );
    config.secrets.insert(
        "broken".into(),
        DeclaredSecret::file("/nonexistent/quire-test-secret"),
    );
    config.secrets.insert(
        "unset_env".into(),
        DeclaredSecret::env("QUIRE_TEST_SECRET_API_UNSET_VARIABLE"),
    );
    let h = Harness::start(config).await;
    h.set_mode("hang");
    h
}

/// Starts a run on `branch` that stays active; returns it and its token.
async fn active_run(h: &Harness, branch: &str) -> (Run, String) {
    if branch != "main" {
        h.commit("widgets", &format!("refs/heads/{branch}"), branch);
    }
    let run = h.ci.run_ref("widgets", Some(branch)).unwrap();
    h.wait_recorded(&run.id, "token").await;
    let run = h.wait_state(&run.id, RunState::Active).await;
    let token = h.recorded(&run.id, "token");
    (run, token)
}

async fn get(
    h: &Harness,
    run_id: &str,
    name: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let url = format!("{}/api/runs/{run_id}/secrets/{name}", h.url);
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

async fn error_body(response: reqwest::Response) -> ApiError {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code() {
    let h = harness().await;
    let (run, token) = active_run(&h, "main").await;

    let ok = get(&h, &run.id, "deploy_key", Some(&token)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(ok.headers()["cache-control"], "no-store");
    assert_eq!(ok.text().await.unwrap(), "k3y-value-0123");

    let missing = get(&h, &run.id, "nope", Some(&token)).await;
    assert_eq!(missing.status(), 404);
    let body = error_body(missing).await;
    assert_eq!(body.code, "unknown_secret");
    assert_eq!(body.error, "unknown secret: nope");

    let invalid = get(&h, &run.id, "bad%20name", Some(&token)).await;
    assert_eq!(invalid.status(), 400);
    let body = error_body(invalid).await;
    assert_eq!(body.code, "invalid_name");
    assert!(
        body.error.starts_with("invalid secret name \"bad name\""),
        "{}",
        body.error
    );

    let undecodable = get(&h, &run.id, "bad%FFname", Some(&token)).await;
    assert_eq!(undecodable.status(), 400);
    assert_eq!(error_body(undecodable).await.code, "invalid_name");
    let undecodable = get(&h, &run.id, "bad%FFname", None).await;
    assert_eq!(undecodable.status(), 401);

    let broken = get(&h, &run.id, "broken", Some(&token)).await;
    assert_eq!(broken.status(), 500);
    let body = error_body(broken).await;
    assert_eq!(body.code, "secret_source_unavailable");
    assert_eq!(
        body.error,
        "secret broken is declared but the server cannot read it: file \
         /nonexistent/quire-test-secret: No such file or directory; fix the \
         path in config.fnl or make the file readable by the server"
    );

    let unset = get(&h, &run.id, "unset_env", Some(&token)).await;
    assert_eq!(unset.status(), 500);
    let body = error_body(unset).await;
    assert_eq!(body.code, "secret_source_unavailable");
    assert_eq!(
        body.error,
        "secret unset_env is declared but the server cannot read it: \
         environment variable QUIRE_TEST_SECRET_API_UNSET_VARIABLE is not \
         set; set the variable in the server's environment or fix the \
         source in config.fnl"
    );

    let health = reqwest::get(format!("{}/healthz", h.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    let nowhere = reqwest::get(format!("{}/api/nowhere", h.url))
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);

    let results: Vec<String> =
        h.db.secret_accesses(&run.id)
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.name, a.result))
            .collect();
    assert_eq!(
        results,
        [
            "deploy_key granted",
            "nope unknown_secret",
            "bad name invalid_name",
            "bad%FFname invalid_name",
            "bad%FFname unauthorized",
            "broken source_error",
            "unset_env source_error"
        ]
    );
    h.ci.kill_all();
    h.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_401_for_every_refusal() {
    let h = harness().await;
    let (a, token_a) = active_run(&h, "main").await;
    let (b, token_b) = active_run(&h, "other").await;
    assert_ne!(token_a, token_b);

    let unknown_run = uuid::Uuid::now_v7().to_string();
    let wrong = "0".repeat(64);
    let cases: Vec<(&str, &str, Option<&str>)> = vec![
        ("no token", &a.id, None),
        ("wrong token", &a.id, Some(&wrong)),
        ("malformed token", &a.id, Some("not-hex")),
        ("run A's token on run B", &b.id, Some(&token_a)),
        ("run B's token on run A", &a.id, Some(&token_b)),
        ("unknown run", &unknown_run, Some(&token_a)),
        ("garbage run id", "..%2F..", Some(&token_a)),
    ];
    let mut bodies = Vec::new();
    for (case, run_id, token) in cases {
        let response = get(&h, run_id, "deploy_key", token).await;
        assert_eq!(response.status(), 401, "{case}");
        bodies.push((case, response.text().await.unwrap()));
    }
    for (case, body) in &bodies {
        assert_eq!(body, &bodies[0].1, "{case} has a different body");
    }
    let body: ApiError = serde_json::from_str(&bodies[0].1).unwrap();
    assert_eq!(body.code, "unauthorized");
    // A 401 wins over a bad name, so names cannot be probed either.
    let response = get(&h, &a.id, "bad%20name", None).await;
    assert_eq!(response.status(), 401);

    let refused =
        h.db.secret_accesses(&a.id)
            .unwrap()
            .into_iter()
            .filter(|a| a.result == "unauthorized")
            .count();
    assert_eq!(refused, 5);
    assert_eq!(
        h.db.secret_accesses(&unknown_run).unwrap()[0].result,
        "unauthorized"
    );
    h.ci.kill_all();
    h.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_dies_at_terminal_state() {
    let h = harness().await;
    let (run, token) = active_run(&h, "main").await;
    assert_eq!(
        get(&h, &run.id, "deploy_key", Some(&token)).await.status(),
        200
    );

    // A newer push supersedes the run: the token stops working at once.
    h.set_mode("finish");
    let newer = h.ci.run_ref("widgets", Some("main")).unwrap();
    assert_eq!(
        h.db.run(&run.id).unwrap().unwrap().state,
        RunState::Superseded
    );
    assert_eq!(
        get(&h, &run.id, "deploy_key", Some(&token)).await.status(),
        401
    );

    // A completed run's token is dead too.
    h.wait_state(&newer.id, RunState::Complete).await;
    let newer_token = h.recorded(&newer.id, "token");
    let response = get(&h, &newer.id, "deploy_key", Some(&newer_token)).await;
    assert_eq!(response.status(), 401);
    h.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_swap_seen_by_next_request() {
    let h = harness().await;
    let (run, token) = active_run(&h, "main").await;
    assert_eq!(get(&h, &run.id, "fresh", Some(&token)).await.status(), 404);
    let mut config = Config {
        transport: TransportMode::Api,
        ..Config::default()
    };
    config.secrets.insert(
        "fresh".into(),
        DeclaredSecret::literal(b"fresh-value-1".to_vec()),
    );
    h.config.set(config);
    let response = get(&h, &run.id, "fresh", Some(&token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "fresh-value-1");
    assert_eq!(
        get(&h, &run.id, "deploy_key", Some(&token)).await.status(),
        404
    );
    h.ci.kill_all();
    h.wait_idle().await;
}
