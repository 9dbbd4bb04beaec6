//! The web crate's error type and the one JSON error shape of the REST API:
//! `{"error":{"code","message","retryable"}}` (plus `fields` for validation failures), with
//! the application's stable codes.
//!
//! Messages never repeat what the caller sent (path, method, query, field names or values):
//! they name the part of the request and the rule. Internal failures are logged and answered
//! without details.

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
    /// The fields the route takes, e.g. `name, clientId, clientSecret` (never the field sent).
    #[error(
        "the request body has a field this route does not take; the fields it takes are: {0} \
         (see /v1/openapi.json)"
    )]
    UnknownField(String),
    #[error("the query string is not valid: {0}")]
    InvalidQuery(String),
    #[error(
        "a path segment could not be read (after percent-decoding it must be valid UTF-8); see \
         /v1/openapi.json for the routes"
    )]
    InvalidPath,
    /// Any other request the server could not read, with the status it was answered with.
    #[error("the request could not be read; see /v1/openapi.json for what this route takes")]
    InvalidRequest(StatusCode),
    #[error("send the request body as JSON, with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error(
        "the request body is larger than {} KiB; bodies of this API are small JSON documents",
        crate::MAX_BODY_BYTES / 1024
    )]
    BodyTooLarge,
    #[error(
        "the records are larger than {} MiB; split them into several runs, or put the file in \
         the server's import files directory, name it in the import's spec.input and run the \
         import without a body",
        crate::MAX_RECORDS_BYTES / (1024 * 1024)
    )]
    RecordsTooLarge,
    #[error(
        "send the records with Content-Type text/csv, application/x-ndjson or \
         application/json, or send no body to run the import's own input file"
    )]
    UnsupportedRecordsType,
    #[error("no such route; see /v1/openapi.json for the routes")]
    NotFound,
    #[error("GET /metrics: this server was started without a metrics recorder")]
    NoMetrics,
    #[error("the route does not take this method; see /v1/openapi.json for the methods it takes")]
    MethodNotAllowed,
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
    /// The key's user may not do this (e.g. change the notification channels).
    #[error("{0}")]
    Forbidden(String),
    /// A failure inside the server; the details are in the log only.
    #[error("internal error")]
    Internal,
}

/// What the caller is told about a failure inside the server.
const INTERNAL_MESSAGE: &str = "jiralink could not complete the request because of an internal \
                                error; try again, and if it keeps failing, ask the administrator \
                                to check the server log";

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
            Self::InvalidPath => ("invalid_path", StatusCode::BAD_REQUEST, false),
            Self::InvalidRequest(status) => ("invalid_request", *status, false),
            Self::UnsupportedMediaType | Self::UnsupportedRecordsType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                false,
            ),
            Self::BodyTooLarge | Self::RecordsTooLarge => {
                ("body_too_large", StatusCode::PAYLOAD_TOO_LARGE, false)
            }
            Self::NotFound | Self::NoMetrics => ("not_found", StatusCode::NOT_FOUND, false),
            Self::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED, false),
            Self::ApiKeyFile { .. } | Self::ApiKeyTooShort { .. } | Self::AuthServerMismatch => {
                ("invalid_config", StatusCode::INTERNAL_SERVER_ERROR, false)
            }
            Self::Io(_) => ("io_error", StatusCode::INTERNAL_SERVER_ERROR, true),
            Self::Forbidden(_) => ("forbidden", StatusCode::FORBIDDEN, false),
            Self::Internal => ("internal", StatusCode::INTERNAL_SERVER_ERROR, false),
        }
    }

    /// The error for a response some layer or extractor answered outside this shape, by its
    /// status.
    pub(crate) fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            s if s.is_client_error() => Self::InvalidRequest(s),
            _ => Self::Internal,
        }
    }

    /// What the caller reads: the error's text, except for internal failures.
    fn message(&self) -> String {
        if self.parts().0 == "internal" {
            INTERNAL_MESSAGE.to_owned()
        } else {
            self.to_string()
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
                    message: self.message(),
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
