//! The Jira Service Management REST API (`/rest/servicedeskapi/…`), on the site host (Basic
//! auth with a classic token) and through the gateway (`/ex/jira/{cloudId}/rest/servicedeskapi`).
//!
//! Rules shared by every operation (Atlassian's JSM documentation, see docs/simulator.md):
//!
//! * **Order of checks**: authentication (401), the experimental opt-in (412), scopes (403), then
//!   the operation's own validation.
//! * **Experimental operations** (`x-experimental` in the JSM OpenAPI document; listed in
//!   [`EXPERIMENTAL`]) answer **412** unless the request carries `X-ExperimentalApi: opt-in`.
//! * **Paging**: `start`/`limit` with [`page`]; `limit` defaults to 50 and is capped per resource;
//!   `isLastPage` is exact, so a page is only short on the last page.
//! * **`X-AACCOUNTID`**: every response to an authenticated request carries the caller's
//!   account id.
//! * **Errors**: `{"errorMessage","i18nErrorMessage":{"i18nKey","parameters"}}`
//!   ([`ApiError::jsm`]).

pub mod approval;
pub mod attachment;
pub mod customer;
pub mod organization;
pub mod participant;
pub mod queue;
pub mod request;
pub mod servicedesk;
pub mod sla;
pub mod store;
pub mod transition;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::identity::User;
use crate::state::SimState;
use store::Customer;

/// Path prefix of the API.
pub const PREFIX: &str = "/rest/servicedeskapi";

/// Header carrying the caller's account id on every JSM response.
pub const ACCOUNT_ID_HEADER: &str = "x-aaccountid";

/// Operations served here that the JSM OpenAPI document marks `x-experimental`.
pub const EXPERIMENTAL: &[(&str, &str)] = &[
    ("GET", "/rest/servicedeskapi/requesttype"),
    (
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    (
        "DELETE",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    (
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}/attachment",
    ),
];

/// Message of the 412 for experimental operations called without the opt-in header.
pub const EXPERIMENTAL_MESSAGE: &str = "This API is experimental. Experimental APIs are not guaranteed to be stable within the preview period. You must set the header 'X-ExperimentalApi: opt-in' to opt into using this API.";

/// Every JSM route.
pub fn router(state: SimState) -> Router<SimState> {
    Router::new()
        .merge(servicedesk::router())
        .merge(customer::router())
        .merge(organization::router())
        .merge(request::router())
        .merge(transition::router())
        .merge(participant::router())
        .merge(sla::router())
        .merge(queue::router())
        .merge(approval::router())
        .merge(attachment::router())
        .layer(axum::middleware::from_fn_with_state(
            state,
            account_id_header,
        ))
}

/// Adds `X-AACCOUNTID` for authenticated callers (also on error responses, as Jira does).
async fn account_id_header(State(state): State<SimState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let account = crate::auth::authenticate(&state, &parts)
        .ok()
        .flatten()
        .map(|c| c.user.account_id);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(id) = account
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static(ACCOUNT_ID_HEADER), value);
    }
    response
}

/// Whether the request opted into experimental operations.
pub fn opted_in(headers: &HeaderMap) -> bool {
    headers
        .get("x-experimentalapi")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("opt-in"))
}

/// The 412 answer for an experimental operation without the opt-in header.
pub fn require_opt_in(headers: &HeaderMap) -> Result<(), ApiError> {
    if opted_in(headers) {
        Ok(())
    } else {
        Err(ApiError::jsm(
            StatusCode::PRECONDITION_FAILED,
            EXPERIMENTAL_MESSAGE,
            "sd.public.api.error.experimental.opt.in.required",
        ))
    }
}

/// An empty 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// 400 with a JSM body.
pub fn bad_request(message: &str) -> ApiError {
    ApiError::jsm(
        StatusCode::BAD_REQUEST,
        message,
        "sd.public.api.error.bad.request",
    )
}

/// 404 with a JSM body.
pub fn not_found(message: &str) -> ApiError {
    ApiError::jsm(
        StatusCode::NOT_FOUND,
        message,
        "sd.public.api.error.not.found",
    )
}

/// A `{"accountIds","usernames"}` body naming people to add or remove.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountIds {
    #[serde(default)]
    account_ids: Vec<String>,
    #[serde(default)]
    usernames: Vec<String>,
}

impl AccountIds {
    /// Every named account: the `accountIds`, then the `usernames`.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.account_ids.iter().chain(&self.usernames)
    }
}

/// 400 for accounts that do not exist.
pub fn unknown_accounts(unknown: &[&str]) -> ApiError {
    bad_request(&format!(
        "The following accounts do not exist: {}",
        unknown.join(", ")
    ))
}

/// Parses a JSON request body, answering 400 with a JSM body when it is not valid.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        bad_request(&format!(
            "The request body is not valid JSON for this operation: {e}"
        ))
    })
}

/// The raw query parameters, in order, with repeated names kept (`serviceDeskId=1&serviceDeskId=2`).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Params {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, with comma-separated lists split (`expand=a,b&expand=c`).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// An integer parameter; 400 when it is not a number.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad_request(&format!("The parameter '{name}' must be a number."))),
        }
    }

    /// A boolean parameter; 400 when it is neither `true` nor `false`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(bad_request(&format!(
                "The parameter '{name}' must be true or false."
            ))),
        }
    }

    /// `start` and `limit`: defaults 0 and 50, `limit` capped at `cap`; a non-positive `limit`
    /// means the default and a negative `start` means 0.
    pub fn paging(&self, cap: usize) -> Result<Paging, ApiError> {
        let start = usize::try_from(self.int("start")?.unwrap_or(0).max(0)).unwrap_or(0);
        let limit = match self.int("limit")? {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => DEFAULT_LIMIT,
        };
        Ok(Paging {
            start,
            limit: limit.min(cap),
        })
    }
}

/// Default page size.
pub const DEFAULT_LIMIT: usize = 50;

/// One page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Index of the first item.
    pub start: usize,
    /// Effective page size.
    pub limit: usize,
}

/// Builds a `PagedDTO` for `values` (all matching items, in order).
///
/// `api_base` is `{caller base}/rest/servicedeskapi`, `path` the resource path below it; the
/// `self`/`next`/`prev` links keep every other query parameter of the request.
pub fn page(
    values: Vec<Value>,
    paging: Paging,
    api_base: &str,
    path: &str,
    params: &Params,
    expands: &[&str],
) -> Value {
    let total = values.len();
    let items: Vec<Value> = values
        .into_iter()
        .skip(paging.start)
        .take(paging.limit)
        .collect();
    page_window(total, items, paging, api_base, path, params, expands)
}

/// Builds a `PagedDTO` from the items of one page (`items`, already cut at `paging`) out of
/// `total` matches, for lists whose items are costly to render.
pub fn page_window(
    total: usize,
    items: Vec<Value>,
    paging: Paging,
    api_base: &str,
    path: &str,
    params: &Params,
    expands: &[&str],
) -> Value {
    let size = items.len();
    let is_last = paging.start.saturating_add(size) >= total;
    let link = |start: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params.0 {
            if k != "start" && k != "limit" {
                q.append_pair(k, v);
            }
        }
        q.append_pair("start", &start.to_string());
        q.append_pair("limit", &paging.limit.to_string());
        format!("{api_base}{path}?{}", q.finish())
    };
    let mut links = json!({ "base": api_base, "context": "", "self": link(paging.start) });
    if !is_last {
        links["next"] = Value::from(link(paging.start + paging.limit));
    }
    if paging.start > 0 {
        links["prev"] = Value::from(link(paging.start.saturating_sub(paging.limit)));
    }
    let mut paged = json!({
        "_expands": expands,
        "size": size,
        "start": paging.start,
        "limit": paging.limit,
        "isLastPage": is_last,
        "_links": links,
    });
    paged["values"] = Value::Array(items);
    paged
}

/// `DateDTO`: the instant in the viewer's time zone, as Jira Service Management renders it.
pub fn date_dto(t: OffsetDateTime, now: OffsetDateTime, time_zone: &str) -> Value {
    let millis = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let zone = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(ts) = jiff::Timestamp::from_millisecond(millis) else {
        return json!({ "epochMillis": millis });
    };
    let local = ts.to_zoned(zone.clone());
    let offset = local.strftime("%z").to_string();
    let iso = format!("{}{offset}", local.strftime("%Y-%m-%dT%H:%M:%S"));
    let jira = format!("{}{offset}", local.strftime("%Y-%m-%dT%H:%M:%S%.3f"));
    let today = jiff::Timestamp::from_millisecond(
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
    )
    .map(|n| n.to_zoned(zone).date())
    .ok();
    let day = local.date();
    let clock = local.strftime("%H:%M %p").to_string();
    let friendly = match today {
        Some(d) if d == day => format!("Today {clock}"),
        Some(d) if d.yesterday().ok() == Some(day) => format!("Yesterday {clock}"),
        Some(d) if day < d && (d - day).get_days() < 7 => {
            format!("{} {clock}", local.strftime("%A"))
        }
        _ => local.strftime("%d/%b/%y %-I:%M %p").to_string(),
    };
    json!({ "epochMillis": millis, "friendly": friendly, "iso8601": iso, "jira": jira })
}

/// `UserDTO` of a site user (agent or admin).
pub fn user_dto(base: &str, state: &SimState, user: &User) -> Value {
    user_json(
        base,
        state,
        &user.account_id,
        &user.email,
        &user.display_name,
        user.active,
        &user.time_zone,
    )
}

/// `UserDTO` of a portal customer.
pub fn customer_dto(base: &str, state: &SimState, c: &Customer) -> Value {
    user_json(
        base,
        state,
        &c.account_id,
        &c.email,
        &c.display_name,
        c.active,
        &c.time_zone,
    )
}

/// `UserDTO` of a user known only to the site's issues (generated people).
pub fn site_user_dto(base: &str, state: &SimState, u: &crate::data::SiteUser) -> Value {
    user_json(
        base,
        state,
        &u.account_id,
        &u.email,
        &u.display_name,
        u.active,
        &u.time_zone,
    )
}

fn user_json(
    base: &str,
    state: &SimState,
    account_id: &str,
    email: &str,
    name: &str,
    active: bool,
    tz: &str,
) -> Value {
    let rest = format!("{base}/rest/api/2/user?accountId={account_id}");
    json!({
        "accountId": account_id,
        "emailAddress": email,
        "displayName": name,
        "active": active,
        "timeZone": tz,
        "_links": {
            "jiraRest": rest,
            "avatarUrls": crate::platform::myself::avatar_urls(state.base_url(), account_id),
            "self": rest,
        },
    })
}

/// A person JSM can refer to: a site user or a portal customer.
#[derive(Debug, Clone)]
pub enum Person {
    /// Licensed site user.
    User(User),
    /// Portal customer.
    Customer(Customer),
}

impl Person {
    /// The `UserDTO`.
    pub fn dto(&self, base: &str, state: &SimState) -> Value {
        match self {
            Self::User(u) => user_dto(base, state, u),
            Self::Customer(c) => customer_dto(base, state, c),
        }
    }

    /// Account id.
    pub fn account_id(&self) -> &str {
        match self {
            Self::User(u) => &u.account_id,
            Self::Customer(c) => &c.account_id,
        }
    }

    /// Display name, e-mail address and account id, for `query` filters.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.to_lowercase();
        let (name, email) = match self {
            Self::User(u) => (&u.display_name, &u.email),
            Self::Customer(c) => (&c.display_name, &c.email),
        };
        name.to_lowercase().contains(&q) || email.to_lowercase().contains(&q)
    }
}

/// Finds a person by account id among the site's members and the portal customers.
pub fn find_person(
    state: &SimState,
    site: &crate::identity::Site,
    customers: &std::collections::BTreeMap<String, Customer>,
    account_id: &str,
) -> Option<Person> {
    if let Some(c) = customers.get(account_id) {
        return Some(Person::Customer(c.clone()));
    }
    if !site.members.contains(account_id) {
        return None;
    }
    state
        .directory()
        .users
        .get(account_id)
        .cloned()
        .map(Person::User)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_dto_renders_in_the_viewer_zone() {
        let t = datetime!(2026-01-05 09:30:00.250 UTC);
        let d = date_dto(t, t, "Australia/Sydney");
        assert_eq!(d["epochMillis"], 1_767_605_400_250_i64);
        assert_eq!(d["iso8601"], "2026-01-05T20:30:00+1100");
        assert_eq!(d["jira"], "2026-01-05T20:30:00.250+1100");
        assert_eq!(d["friendly"], "Today 20:30 PM");
        let later = datetime!(2026-01-06 10:00 UTC);
        assert_eq!(date_dto(t, later, "UTC")["friendly"], "Yesterday 09:30 AM");
        let much_later = datetime!(2026-03-06 10:00 UTC);
        assert_eq!(
            date_dto(t, much_later, "UTC")["friendly"],
            "05/Jan/26 9:30 AM"
        );
    }

    fn params(q: &str) -> Params {
        Params(
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    #[test]
    fn paging_defaults_and_caps() {
        assert_eq!(
            params("").paging(100).expect("ok"),
            Paging {
                start: 0,
                limit: 50
            }
        );
        assert_eq!(
            params("start=5&limit=500").paging(100).expect("ok"),
            Paging {
                start: 5,
                limit: 100
            }
        );
        assert_eq!(
            params("start=-3&limit=0").paging(100).expect("ok"),
            Paging {
                start: 0,
                limit: 50
            }
        );
        assert!(params("limit=ten").paging(100).is_err());
    }

    #[test]
    fn page_links_keep_filters_and_mark_the_last_page() {
        let values: Vec<Value> = (0..7).map(Value::from).collect();
        let p = params("query=x&start=3&limit=3");
        let page1 = page(
            values.clone(),
            p.paging(50).expect("ok"),
            "http://h/rest/servicedeskapi",
            "/organization",
            &p,
            &[],
        );
        assert_eq!(page1["size"], 3);
        assert_eq!(page1["isLastPage"], false);
        assert_eq!(
            page1["_links"]["next"],
            "http://h/rest/servicedeskapi/organization?query=x&start=6&limit=3"
        );
        assert_eq!(
            page1["_links"]["prev"],
            "http://h/rest/servicedeskapi/organization?query=x&start=0&limit=3"
        );
        let p = params("start=6&limit=3");
        let last = page(values, p.paging(50).expect("ok"), "b", "/o", &p, &[]);
        assert_eq!(last["size"], 1);
        assert_eq!(last["isLastPage"], true);
        assert!(last["_links"].get("next").is_none());
    }

    #[test]
    fn all_splits_repeated_and_comma_lists() {
        let p = params("expand=a,b&expand=c&other=1");
        assert_eq!(p.all("expand"), vec!["a", "b", "c"]);
        assert_eq!(p.get("other"), Some("1"));
        assert_eq!(p.bool("other").ok(), None);
    }
}
