//! The web crate's error type and the one JSON error shape of the REST API:
//! `{"error":{"code","message","retryable"}}`, with the application's stable codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiralink_app::AppError;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WebError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(
        "a valid API key is required: send `Authorization: Bearer <key>` (the key `jiralink \
         serve` printed on first start, or JIRALINK_API_KEY)"
    )]
    Unauthorized,
    #[error("the request body is not valid: {0}")]
    BadRequest(String),
    #[error("no such route: {0}")]
    NotFound(String),
    #[error("the API key file {path} cannot be used: {reason}")]
    ApiKeyFile { path: String, reason: String },
    #[error(
        "JIRALINK_API_KEY is too short: use at least {min} characters (for example the output \
         of `openssl rand -hex 32`)"
    )]
    ApiKeyTooShort { min: usize },
    #[error(
        "the authorize URL does not point at the configured Atlassian authorization server \
         (atlassian.auth_server); check the configuration"
    )]
    AuthServerMismatch,
    #[error("{0}")]
    Io(String),
}

pub type WebResult<T> = Result<T, WebError>;

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    retryable: bool,
}

impl WebError {
    /// The stable code, HTTP status and whether retrying can help.
    pub fn parts(&self) -> (&'static str, StatusCode, bool) {
        match self {
            Self::App(e) => {
                let c = e.error_code();
                let status = StatusCode::from_u16(c.http_status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (c.code, status, c.retryable)
            }
            Self::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED, false),
            Self::BadRequest(_) => ("validation_failed", StatusCode::BAD_REQUEST, false),
            Self::NotFound(_) => ("not_found", StatusCode::NOT_FOUND, false),
            Self::ApiKeyFile { .. } | Self::ApiKeyTooShort { .. } | Self::AuthServerMismatch => {
                ("invalid_config", StatusCode::INTERNAL_SERVER_ERROR, false)
            }
            Self::Io(_) => ("io_error", StatusCode::INTERNAL_SERVER_ERROR, true),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (code, status, retryable) = self.parts();
        if status.is_server_error() {
            tracing::error!(code, error = %self, "request failed");
        }
        let mut res = (
            status,
            Json(Body {
                error: ErrorBody {
                    code,
                    message: self.to_string(),
                    retryable,
                },
            }),
        )
            .into_response();
        if matches!(self, Self::Unauthorized) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"jiralink\""),
            );
        }
        res
    }
}
