//! The Customer Service Management REST API (`/jsm/csm/cloudid/{cloudId}/api/v1/…`), served
//! through the gateway only (the site host answers 404 for these paths).
//!
//! There is no CSM OpenAPI document in `shared/specs`; the shapes follow Atlassian's reference
//! pages as summarised in docs/simulator.md, which marks every inferred shape.
//!
//! Shared rules:
//!
//! * **Order of checks**: authentication (401), experimental opt-in (412), scopes (403), then the
//!   operation.
//! * **Experimental operations** (customer and organization accounts and profiles, bulk
//!   operations, tasks) need `X-ExperimentalApi: opt-in`, else **412**.
//! * **Cursor paging**: `limit` (1–[`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and an opaque
//!   `cursor`; answers `{"results":[…],"nextPageCursor":"…"}`, without `nextPageCursor` on the
//!   last page.
//! * **Errors**: `RestError` bodies ([`ApiError::csm`]).

pub mod bulk;
pub mod customer;
pub mod details;
pub mod organization;
pub mod product;
pub mod store;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::state::{SimState, SiteContext, Via};

/// Path prefix after the routing stage strips `/jsm/csm/cloudid/{cloudId}`.
pub const PREFIX: &str = "/jsm/csm/api/v1";

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
pub const MAX_LIMIT: usize = 100;

/// Every CSM route.
pub fn router() -> Router<SimState> {
    Router::new()
        .merge(customer::router())
        .merge(organization::router())
        .merge(product::router())
        .merge(bulk::router())
        .layer(axum::middleware::from_fn(gateway_only))
}

/// CSM exists only on `api.atlassian.com`: the same path on a site host is unknown.
async fn gateway_only(req: Request, next: Next) -> Response {
    let via = req.extensions().get::<SiteContext>().map(|c| c.via);
    if via == Some(Via::Gateway) {
        next.run(req).await
    } else {
        ApiError::gateway(StatusCode::NOT_FOUND, "Not Found").into_response()
    }
}

/// A `RestError` with the status's default code.
pub fn error(status: StatusCode, detail: &str) -> ApiError {
    let code = match status {
        StatusCode::BAD_REQUEST => "BAD_REQUEST",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::CONFLICT => "CONFLICT",
        StatusCode::PRECONDITION_FAILED => "PRECONDITION_FAILED",
        _ => "ERROR",
    };
    ApiError::csm(status, code, detail)
}

/// 400.
pub fn bad_request(detail: &str) -> ApiError {
    error(StatusCode::BAD_REQUEST, detail)
}

/// 404.
pub fn not_found(detail: &str) -> ApiError {
    error(StatusCode::NOT_FOUND, detail)
}

/// 412 unless the request opted into experimental operations.
pub fn require_opt_in(headers: &HeaderMap) -> Result<(), ApiError> {
    if crate::jsm::opted_in(headers) {
        Ok(())
    } else {
        Err(error(
            StatusCode::PRECONDITION_FAILED,
            crate::jsm::EXPERIMENTAL_MESSAGE,
        ))
    }
}

/// Parses a JSON body, answering 400 with a `RestError` when it does not fit.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| bad_request(&format!("The request body is not valid: {e}")))
}

/// Encodes a result offset as an opaque cursor.
pub fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// Decodes a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// One page of `items` for `limit` and `cursor` query values.
pub fn cursor_page(
    items: Vec<Value>,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<Value, ApiError> {
    let limit = match limit.map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad_request(&format!("The limit must be between 1 and {MAX_LIMIT}.")))?,
    };
    let offset = match cursor.map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| bad_request("The cursor is not valid."))?,
    };
    let total = items.len();
    let results: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut page = json!({ "results": results });
    let next = offset.saturating_add(limit);
    if next < total {
        page["nextPageCursor"] = Value::from(encode_cursor(next));
    }
    Ok(page)
}

/// Query parameters `limit` and `cursor`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CursorQuery {
    /// Page size.
    pub limit: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// `[{"name","values"}]` for stored detail values, in field-definition order.
pub fn details_json(
    fields: &[store::DetailField],
    values: &std::collections::BTreeMap<String, Vec<String>>,
) -> Value {
    let mut fields: Vec<&store::DetailField> = fields.iter().collect();
    fields.sort_by_key(|f| f.position);
    Value::Array(
        fields
            .into_iter()
            .filter_map(|f| {
                values
                    .get(&f.name)
                    .map(|v| json!({ "name": f.name, "values": v }))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn cursor_pages_cover_every_item_once() {
        let items: Vec<Value> = (0..7).map(Value::from).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = cursor_page(items.clone(), Some("3"), cursor.as_deref()).expect("page");
            seen.extend(page["results"].as_array().expect("results").iter().cloned());
            match page.get("nextPageCursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(cursor_page(items.clone(), Some("0"), None).is_err());
        assert!(cursor_page(items, Some("101"), None).is_err());
    }
}
