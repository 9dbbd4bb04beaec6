//! `POST /hooks/jira/{token}`: where Jira delivers a listener's events.
//!
//! Public (Jira has no session or API key), so it trusts nothing before the application has
//! verified the delivery (a JWT or an `X-Hub-Signature`), and answers an unknown listener and
//! a bad signature alike. A delivery is acknowledged (`202`) only once it is stored; a failure
//! to store it is a `503`, so Jira delivers it again.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use jiralink_app::{AppError, Delivery, DeliveryOutcome, MAX_DELIVERY_BYTES};

use crate::AppState;
use crate::error::WebError;

pub(crate) fn handler() -> MethodRouter<AppState> {
    // The body is read below, with its own limit and the API's error shape.
    post(receive).layer(DefaultBodyLimit::disable())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_DELIVERY_BYTES).await else {
        return WebError::App(AppError::DeliveryTooLarge {
            limit: MAX_DELIVERY_BYTES,
        })
        .into_response();
    };
    let delivery = Delivery {
        token: &token,
        authorization: header(&headers, "authorization"),
        hub_signature: header(&headers, "x-hub-signature"),
        identifier: header(&headers, "x-atlassian-webhook-identifier"),
        body: &body,
    };
    match state.app().receive_delivery(delivery).await {
        Ok(outcome) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "accepted": true,
                "duplicate": outcome == DeliveryOutcome::Duplicate,
            })),
        )
            .into_response(),
        // Jira delivers again on any 5xx: a database that is briefly away loses nothing.
        Err(AppError::Store(e)) => {
            tracing::error!(error = %e, "a delivery could not be stored");
            let mut res = WebError::App(AppError::Io(
                "the delivery could not be stored; deliver it again".to_owned(),
            ))
            .into_response();
            *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            res
        }
        Err(e) => WebError::App(e).into_response(),
    }
}
