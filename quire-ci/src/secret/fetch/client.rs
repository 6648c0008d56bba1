//! One secret fetched over HTTP, with retries.
//!
//! `GET {server_url}/api/runs/{run_id}/secrets/{name}` with the run's
//! bearer token. 200 carries the value as the body; 404 means the name
//! is not declared; 401 and 403 mean the token was refused. Server
//! errors (5xx) and connection failures are retried with exponential
//! backoff, since a server restarting or under load recovers; any other
//! status is final. One server error is final too: a 5xx whose body
//! has the code [`SOURCE_UNAVAILABLE_CODE`] means that the server cannot
//! read the secret's source, which no retry fixes. Every error reports
//! the server's `error` sentence when the body is the API's JSON error.

use std::error::Error as _;
use std::time::Duration;

use quire_proto::{ApiError, secret_path};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use zeroize::Zeroizing;

use super::RetryPolicy;
use super::handle::FetchStartError;
use crate::secret::error::{SOURCE_UNAVAILABLE_CODE, SecretError};
use crate::secret::value::SecretValue;

/// The HTTP side of the actor: the client and the token header.
pub(super) struct HttpClient {
    /// Keeps connections alive between fetches.
    client: reqwest::Client,
    /// `Bearer <token>`, marked sensitive so `Debug` hides it.
    authorization: HeaderValue,
    /// The server URL without a trailing `/`, for error messages.
    server_url: String,
    /// The server URL, parsed once, so that each fetch only sets the
    /// path instead of parsing a whole URL again.
    base: reqwest::Url,
    /// The path of `base` without a trailing `/`, put before each
    /// request path.
    prefix: String,
    run_id: String,
    retry: RetryPolicy,
}

/// The result of one fetch, with what the trace reports about it.
pub(super) struct Fetched {
    pub result: Result<SecretValue, SecretError>,
    /// Status of the last response, when there was one.
    pub status: Option<u16>,
    /// Tries after the first.
    pub retries: u32,
}

/// The outcome of one try.
enum Try {
    Done(Result<SecretValue, SecretError>),
    Retry(String),
}

impl HttpClient {
    pub(super) fn new(
        server_url: &str,
        run_id: &str,
        token: &SecretValue,
        attempt_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, FetchStartError> {
        // Requests go straight to the server: a proxy from the
        // environment would see the token.
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(attempt_timeout)
            .build()
            .map_err(|e| FetchStartError::Thread(describe(&e)))?;
        let mut bearer = Zeroizing::new(b"Bearer ".to_vec());
        bearer.extend_from_slice(token.expose());
        let mut authorization =
            HeaderValue::from_bytes(&bearer).map_err(|_| {
                FetchStartError::InvalidToken(
                    "it contains bytes not allowed in an HTTP header".into(),
                )
            })?;
        authorization.set_sensitive(true);
        let server_url = server_url.trim_end_matches('/').to_string();
        let base = reqwest::Url::parse(&server_url).map_err(|e| {
            FetchStartError::InvalidServerUrl {
                url: server_url.clone(),
                reason: e.to_string(),
            }
        })?;
        let prefix = base.path().trim_end_matches('/').to_string();
        Ok(Self {
            client,
            authorization,
            server_url,
            base,
            prefix,
            run_id: run_id.to_string(),
            retry,
        })
    }

    /// Opens the keep-alive connection before the first secret is
    /// requested, with `GET /healthz`, so that the first fetch does not
    /// wait for a TCP handshake. Gives up after `limit`. A failure is
    /// only traced: the first fetch then connects and reports its own
    /// error.
    pub(super) async fn connect_early(&self, limit: Duration) {
        let url = self.url("/healthz");
        let started = std::time::Instant::now();
        let request = self.client.get(url).timeout(limit);
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Reading the body to its end returns the connection to
                // the pool.
                let _ = response.bytes().await;
                format!("HTTP {status}")
            }
            Err(err) => describe(&err),
        };
        tracing::debug!(
            target: "quire_ci::secret",
            outcome = %outcome,
            took_us = started.elapsed().as_micros() as u64,
            "connected to the server early"
        );
    }

    /// Fetches `name`, retrying server errors and connection failures.
    pub(super) async fn fetch(&self, name: &str) -> Fetched {
        let path = match secret_path(&self.run_id, name) {
            Ok(path) => path,
            Err(err) => {
                return Fetched {
                    result: Err(SecretError::InvalidName(err)),
                    status: None,
                    retries: 0,
                };
            }
        };
        let url = self.url(&path);
        let mut status = None;
        let mut last = String::new();
        for attempt in 0..self.retry.attempts {
            // A zero sleep still waits for the timer's next 1 ms tick.
            if attempt > 0 {
                tokio::time::sleep(self.retry.backoff(attempt)).await;
            }
            let outcome = self.try_once(&url, name, &mut status).await;
            match outcome {
                Try::Done(result) => {
                    return Fetched {
                        result,
                        status,
                        retries: attempt,
                    };
                }
                Try::Retry(failure) => {
                    tracing::debug!(
                        target: "quire_ci::secret",
                        secret = name,
                        attempt = attempt + 1,
                        failure = %failure,
                        "secret fetch try failed"
                    );
                    last = failure;
                }
            }
        }
        Fetched {
            result: Err(SecretError::Unavailable {
                name: name.to_string(),
                server_url: self.server_url.clone(),
                attempts: self.retry.attempts,
                last,
            }),
            status,
            retries: self.retry.attempts.saturating_sub(1),
        }
    }

    /// Returns the URL of `path` on the server.
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        if self.prefix.is_empty() {
            url.set_path(path);
        } else {
            url.set_path(&format!("{}{path}", self.prefix));
        }
        url
    }

    async fn try_once(
        &self,
        url: &reqwest::Url,
        name: &str,
        status_seen: &mut Option<u16>,
    ) -> Try {
        let response = match self
            .client
            .get(url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) => {
                *status_seen = None;
                return Try::Retry(describe(&err));
            }
        };
        let status = response.status();
        *status_seen = Some(status.as_u16());

        if status == StatusCode::OK {
            return match read_body(response).await {
                Ok(value) => Try::Done(Ok(value)),
                Err(err) => Try::Retry(describe(&err)),
            };
        }
        if status.is_server_error() {
            let body = api_error(response).await;
            if let Some(body) = &body
                && body.code == SOURCE_UNAVAILABLE_CODE
            {
                return Try::Done(Err(SecretError::SourceUnavailable {
                    name: name.to_string(),
                    message: body.error.clone(),
                }));
            }
            return Try::Retry(match body {
                Some(body) => {
                    format!("HTTP {}: {}", status.as_u16(), body.error)
                }
                None => format!("HTTP {}", status.as_u16()),
            });
        }
        let name = name.to_string();
        Try::Done(Err(match status {
            StatusCode::NOT_FOUND => SecretError::Unknown(name),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                SecretError::Refused {
                    name,
                    status: status.as_u16(),
                }
            }
            _ => SecretError::Rejected {
                name,
                status: status.as_u16(),
                message: api_error(response).await.map_or_else(
                    || "the response carried no API error message".to_string(),
                    |body| body.error,
                ),
            },
        }))
    }
}

/// Reads a 200 body into a buffer that is zeroed on drop.
async fn read_body(
    mut response: reqwest::Response,
) -> Result<SecretValue, reqwest::Error> {
    // Reserving the declared length up front avoids reallocations,
    // which would leave unzeroed copies of partial values behind.
    let capacity = response.content_length().unwrap_or(0).min(1 << 20);
    let mut body = Zeroizing::new(Vec::with_capacity(capacity as usize));
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(SecretValue::new(std::mem::take(&mut *body)))
}

/// Reads an error response's body as the API's JSON error; `None` when
/// it cannot be read or is something else, such as a proxy's page.
async fn api_error(response: reqwest::Response) -> Option<ApiError> {
    let body = response.bytes().await.ok()?;
    serde_json::from_slice::<ApiError>(&body).ok()
}

/// Formats a transport error with its causes, such as "connection
/// refused".
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
