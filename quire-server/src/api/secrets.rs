//! `GET /api/runs/{run_id}/secrets/{name}`.
//!
//! The checks run in a fixed order, and each response is recorded in
//! `secret_accesses`:
//!
//! 1. The bearer token must match the run's stored hash and the run
//!    must be `active`. A missing, wrong or dead token and an unknown
//!    run all get the same 401 body, so run ids cannot be probed.
//! 2. The name must pass the secret name rule, or 400.
//! 3. The config must declare the name, or 404.
//! 4. The value is served as `text/plain` with `Cache-Control:
//!    no-store`. A source that cannot be read (a missing file or
//!    environment variable) gets a 500 with the code
//!    `secret_source_unavailable`, so the runner does not retry it.
//!    Its sentence names the secret, the file path or variable name and
//!    what to fix in config.fnl, because the pipeline author reads it in
//!    the job's error. It never carries a value.
//!
//! The config is the one already parsed; nothing is read from disk
//! per request except a file source's first use.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use quire_ci::secret::{SOURCE_UNAVAILABLE_CODE, SourceError};
use quire_proto::secret_api::validate_secret_name;

use super::{ApiState, error_response};
use crate::ci::token;
use crate::db::runs::RunState;
use crate::db::secret_access::AccessResult;

/// The one message for every authentication failure.
const UNAUTHORIZED: &str =
    "this request needs the bearer token of an active run";

pub async fn get_secret(
    State(api): State<Arc<ApiState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (run_id, name, result, response) = match path {
        Ok(Path((run_id, name))) => {
            let (result, response) = respond(&api, &run_id, &name, &headers);
            (run_id, name, result, response)
        }
        // A segment that does not decode to UTF-8: the name is invalid,
        // but the token is still checked first.
        Err(_) => {
            let (run_id, name) = raw_segments(uri.path());
            let (result, response) = if authorized(&api, &run_id, &headers) {
                (
                    AccessResult::InvalidName,
                    error_response(
                        StatusCode::BAD_REQUEST,
                        "invalid_name",
                        format!(
                            "invalid secret name {name:?}: use only ASCII \
                             letters, digits, `_`, `-` and `.`"
                        ),
                    ),
                )
            } else {
                unauthorized()
            };
            (run_id, name, result, response)
        }
    };
    if let Err(error) =
        api.db.record_secret_access(&run_id, None, &name, result)
    {
        tracing::error!(%error, run_id, "cannot record a secret access");
    }
    response
}

fn respond(
    api: &ApiState,
    run_id: &str,
    name: &str,
    headers: &HeaderMap,
) -> (AccessResult, Response) {
    if !authorized(api, run_id, headers) {
        return unauthorized();
    }
    if let Err(invalid) = validate_secret_name(name) {
        return (
            AccessResult::InvalidName,
            error_response(
                StatusCode::BAD_REQUEST,
                "invalid_name",
                invalid.to_string(),
            ),
        );
    }
    let config = api.config.get();
    let Some(source) = config.secrets.get(name) else {
        return (
            AccessResult::UnknownSecret,
            error_response(
                StatusCode::NOT_FOUND,
                "unknown_secret",
                format!("unknown secret: {name}"),
            ),
        );
    };
    match source.reveal(name) {
        Ok(value) => {
            let mut response = value.expose().to_vec().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            (AccessResult::Granted, response)
        }
        Err(error) => {
            tracing::error!(
                run_id,
                secret = name,
                %error,
                "cannot read a declared secret",
            );
            (
                AccessResult::SourceError,
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    SOURCE_UNAVAILABLE_CODE,
                    source_unavailable_message(name, &error),
                ),
            )
        }
    }
}

/// Formats the message a run gets for a declared secret whose source
/// cannot be read. It names the source and the fix, never a value.
fn source_unavailable_message(name: &str, error: &SourceError) -> String {
    let fix = match error {
        SourceError::ReadFile { .. } => {
            "fix the path in config.fnl or make the file readable by the \
             server"
        }
        SourceError::MissingEnv { .. } | SourceError::EnvNotUnicode { .. } => {
            "set the variable in the server's environment or fix the \
             source in config.fnl"
        }
    };
    format!(
        "secret {name} is declared but the server cannot read it: {}; {fix}",
        error.source_problem()
    )
}

fn unauthorized() -> (AccessResult, Response) {
    (
        AccessResult::Unauthorized,
        error_response(StatusCode::UNAUTHORIZED, "unauthorized", UNAUTHORIZED),
    )
}

/// Splits `/api/runs/{run_id}/secrets/{name}` without decoding, for a
/// path whose segments do not decode.
fn raw_segments(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').split('/').skip(2);
    let run_id = parts.next().unwrap_or_default().to_string();
    let name = parts.nth(1).unwrap_or_default().to_string();
    (run_id, name)
}

/// Checks the bearer token against the run's stored hash; only an
/// active run's token is accepted.
fn authorized(api: &ApiState, run_id: &str, headers: &HeaderMap) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let auth = match api.db.run_auth(run_id) {
        Ok(Some(auth)) => auth,
        Ok(None) => return false,
        Err(error) => {
            tracing::error!(%error, run_id, "cannot look up a run's token");
            return false;
        }
    };
    auth.state == RunState::Active
        && auth
            .token_hash
            .is_some_and(|hash| token::verify(presented.trim(), &hash))
}
