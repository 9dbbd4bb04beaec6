//! The web crate's error type and the one JSON error shape of the REST API:
//! `{"error":{"code","message","retryable"}}` (plus `fields` for validation failures), with
//! the application's stable codes.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiralink_app::AppError;
use jiralink_domain::FieldError;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WebError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(
        "a valid API key is required: send `Authorization: Bearer <key>` (the key `jiralink \
         serve` printed on first start, JIRALINK_API_KEY, or a key created under Settings > \
         Users)"
    )]
    Unauthorized,
    #[error(
        "the request body is not valid: {0}; see /v1/openapi.json for the body this route takes"
    )]
    InvalidJson(String),
    #[error(
        "the request body has a field this route does not take: {0:?}; remove it (field names \
         are camelCase, see /v1/openapi.json)"
    )]
    UnknownField(String),
    #[error("the query string is not valid: {0}")]
    InvalidQuery(String),
    #[error("send the request body as JSON, with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("the request body is too large; bodies of this API are small JSON documents")]
    BodyTooLarge,
    #[error("no such route: {0}; see /v1/openapi.json for the routes")]
    NotFound(String),
    #[error("{method} is not allowed on {path}; see /v1/openapi.json for the methods it takes")]
    MethodNotAllowed { method: String, path: String },
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

/// The HTTP status of an application error (500 for a code outside HTTP's range).
pub(crate) fn app_status(error: &AppError) -> StatusCode {
    StatusCode::from_u16(error.error_code().http_status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
    retryable: bool,
    /// Each field's problem, when the input failed validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<&'a FieldError>>,
}

impl WebError {
    /// The stable code, HTTP status and whether retrying can help.
    pub fn parts(&self) -> (&'static str, StatusCode, bool) {
        match self {
            Self::App(e) => {
                let c = e.error_code();
                (c.code, app_status(e), c.retryable)
            }
            Self::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED, false),
            Self::InvalidJson(_) => ("invalid_json", StatusCode::BAD_REQUEST, false),
            Self::UnknownField(_) => ("unknown_field", StatusCode::BAD_REQUEST, false),
            Self::InvalidQuery(_) => ("invalid_query", StatusCode::BAD_REQUEST, false),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                false,
            ),
            Self::BodyTooLarge => ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE, false),
            Self::NotFound(_) => ("not_found", StatusCode::NOT_FOUND, false),
            Self::MethodNotAllowed { .. } => {
                ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED, false)
            }
            Self::ApiKeyFile { .. } | Self::ApiKeyTooShort { .. } | Self::AuthServerMismatch => {
                ("invalid_config", StatusCode::INTERNAL_SERVER_ERROR, false)
            }
            Self::Io(_) => ("io_error", StatusCode::INTERNAL_SERVER_ERROR, true),
        }
    }

    fn fields(&self) -> Option<Vec<&FieldError>> {
        match self {
            Self::App(AppError::Validation(errors)) => Some(errors.iter().collect()),
            _ => None,
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
                    fields: self.fields(),
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
