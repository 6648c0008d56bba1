//! One debug-level log line per request: method, route, status, run id
//! and duration. The route is the matched pattern, such as
//! `/api/runs/{run_id}/secrets/{name}`; the request's own path, query
//! and headers (which carry the token) are never logged.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub(super) async fn log_request(request: Request, next: Next) -> Response {
    let target_on = tracing::enabled!(
        target: "quire_server::api::request",
        tracing::Level::DEBUG
    );
    if !target_on {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(request.uri().path());
    let run_id = run_id_of(request.uri().path());
    let response = next.run(request).await;
    tracing::debug!(
        target: "quire_server::api::request",
        %method,
        route,
        status = response.status().as_u16(),
        run_id,
        duration_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// Returns the route pattern a path matches. Computed here because the router's
/// own matched-path extension is behind an axum feature this workspace
/// does not enable.
fn route_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "healthz"] => "/healthz",
        ["", "api", "runs", _, "secrets", _] => {
            "/api/runs/{run_id}/secrets/{name}"
        }
        _ => "<unmatched>",
    }
}

/// Returns the run id segment of `/api/runs/{run_id}/...`, if it looks like a
/// run id; anything else is left out rather than echoed into logs.
fn run_id_of(path: &str) -> Option<String> {
    let id = path.strip_prefix("/api/runs/")?.split('/').next()?;
    let plausible = id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    plausible.then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::{route_of, run_id_of};

    #[test]
    fn routes_named() {
        assert_eq!(route_of("/healthz"), "/healthz");
        assert_eq!(
            route_of("/api/runs/r/secrets/n"),
            "/api/runs/{run_id}/secrets/{name}"
        );
        assert_eq!(route_of("/api/runs/r/secrets/n/x"), "<unmatched>");
    }

    #[test]
    fn run_id_extracted_or_dropped() {
        assert_eq!(
            run_id_of("/api/runs/0193a-bc/secrets/x").as_deref(),
            Some("0193a-bc")
        );
        assert_eq!(run_id_of("/healthz"), None);
        assert_eq!(run_id_of("/api/runs/not%20hex/secrets/x"), None);
    }
}
