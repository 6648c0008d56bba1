//! The HTTP API that runners call, served by axum.
//!
//! - `GET /api/runs/{run_id}/secrets/{name}`: one secret value, behind
//!   the run's bearer token (see [`secrets`]).
//! - `GET /healthz`: 200 while the server runs.
//!
//! Every error body is quire-proto's `ApiError` JSON. Request logs go
//! to the `quire_server::api::request` target at debug level, so the
//! hot path stays quiet unless asked (`QUIRE_LOG=quire_server::api=debug`).

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use quire_proto::ApiError;

use crate::config::ConfigHandle;
use crate::db::Db;

mod request_log;
pub mod secrets;

/// The state the handlers share.
pub struct ApiState {
    pub db: Arc<Db>,
    pub config: ConfigHandle,
}

/// Builds the router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(
            "/api/runs/{run_id}/secrets/{name}",
            get(secrets::get_secret),
        )
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Builds an `ApiError` JSON response.
pub(crate) fn error_response(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> Response {
    (status, axum::Json(ApiError::new(code, message))).into_response()
}
