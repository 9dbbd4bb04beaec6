//! The Jira Cloud platform REST API (`/rest/api/{2,3,latest}/…`).
//!
//! Routes are written once without a site prefix: the routing stage in [`crate::server`] strips
//! `/site/{sub}` or `/ex/jira/{cloudId}` and inserts the [`crate::state::SiteContext`]. Register a
//! route for every API version with [`versioned`] and read the version with [`ApiVersion`] where
//! v2 and v3 differ (v3 uses ADF for rich text, v2 plain strings).
//!
//! Also served here: the 410 answers for the removed `/search` family (CHANGE-2046).
//!
//! | Module | Endpoints |
//! |---|---|
//! | [`myself`] | `/myself`, `/serverInfo` |
//! | [`search`] | `/search/jql`, `/search/approximate-count` |
//! | [`issues`] | `/issue`, `/issue/bulk`, `/issue/bulkfetch`, `/issue/{k}`, transitions, properties, createmeta, editmeta |
//! | [`comments`] | comments, worklogs, changelogs, `/changelog/bulkfetch` |
//! | [`links`] | `/issueLinkType`, `/issueLink`, `/issue/{k}/remotelink`, `/issue/{k}/attachments`, `/attachment/…` |
//! | [`catalogues`] | `/project` (full list), `/project/type`, `/projectCategory`, `/priority`, `/priority/search`, `/resolution`, `/resolution/search`, `/statuscategory`, `/project/{k}/statuses`, `/role`, `/project/{k}/role`, `/label` |
//! | [`people`] | `/user`, `/user/bulk`, `/user/groups`, `/user/assignable/search`, `/user/assignable/multiProjectSearch`, `/group`, `/group/bulk`, `/group/member`, `/groups/picker` |
//! | [`parts`] | `/project/{k}/versions`, `/project/{k}/version`, `/version`, `/version/{id}` (+ counts), `/project/{k}/components`, `/project/{k}/component`, `/component`, `/component/{id}` (+ counts) |
//! | [`tracking`] | `/issue/{k}/watchers`, `/issue/{k}/votes`, `/issue/{k}/assignee`, `/issue/{k}/notify`, `/issue/{k}/worklog/{id}`, `/comment/list`, `/worklog/updated`, `/worklog/deleted`, `/worklog/list` |
//! | [`catalog`] | `/project/search`, `/project/{k}`, `/field`, `/field/search`, `/issuetype`, `/status`, `/user/search`, `/users/search` |
//! | [`crate::agile::filter`] | `/filter`, `/filter/{id}` (the saved filters Jira Software boards are built on) |
//! | [`zone`] | (no endpoints) date-times in the caller's time zone, used by [`render`] and `/serverInfo` |
//!
//! Issue data comes from [`crate::data`]; [`render`] writes it in Jira's shapes, with date-times
//! in the calling account's time zone ([`zone`]).

pub mod catalog;
pub mod catalogues;
pub mod comments;
pub mod fields;
pub mod issues;
pub mod json;
pub mod links;
pub mod myself;
pub mod params;
pub mod parts;
pub mod people;
pub mod render;
pub mod search;
pub mod tracking;
pub mod zone;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{MethodRouter, get, post};

use crate::errors::ApiError;
use crate::state::SimState;

/// Version segments Jira Cloud accepts after `/rest/api/`.
pub const VERSIONS: [&str; 3] = ["2", "3", "latest"];

/// Registers `route` at `/rest/api/{2,3,latest}{suffix}`.
pub fn versioned(
    mut router: Router<SimState>,
    suffix: &str,
    route: &MethodRouter<SimState>,
) -> Router<SimState> {
    for v in VERSIONS {
        router = router.route(&format!("/rest/api/{v}{suffix}"), route.clone());
    }
    router
}

/// Platform API version of the request. `latest` answers like version 2, as on Jira Cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/rest/api/2` and `/rest/api/latest`.
    V2,
    /// `/rest/api/3`.
    V3,
}

impl ApiVersion {
    /// Reads the version from a request path (after prefix stripping).
    pub fn from_path(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/rest/api/")?;
        match rest.split('/').next()? {
            "3" => Some(Self::V3),
            "2" | "latest" => Some(Self::V2),
            _ => None,
        }
    }

    /// The path segment to use in `self` links.
    pub fn segment(self) -> &'static str {
        match self {
            Self::V2 => "2",
            Self::V3 => "3",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_path(parts.uri.path())
            .ok_or_else(|| ApiError::platform_not_found("The API version"))
    }
}

/// Jira's timestamp format in UTC (`2026-01-05T09:30:00.000+0000`), written with the `time`
/// crate: the reference the hand-written [`render::datetime`] is tested against. Responses use
/// [`render::Render::datetime`] (the caller's zone).
#[cfg(test)]
pub(crate) fn jira_datetime(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

async fn search_removed() -> ApiError {
    ApiError::search_removed()
}

/// Every platform route.
pub fn router() -> Router<SimState> {
    let mut r = Router::new();
    r = versioned(r, "/search", &get(search_removed).post(search_removed));
    r = versioned(r, "/search/id", &post(search_removed));
    r = versioned(r, "/expression/eval", &post(search_removed));
    r.merge(myself::router())
        .merge(search::router())
        .merge(issues::router())
        .merge(comments::router())
        .merge(catalog::router())
        .merge(links::router())
        .merge(catalogues::router())
        .merge(people::router())
        .merge(parts::router())
        .merge(tracking::router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_path() {
        assert_eq!(
            ApiVersion::from_path("/rest/api/3/myself"),
            Some(ApiVersion::V3)
        );
        assert_eq!(
            ApiVersion::from_path("/rest/api/latest/myself"),
            Some(ApiVersion::V2)
        );
        assert_eq!(ApiVersion::from_path("/rest/api/4/myself"), None);
    }

    #[test]
    fn jira_datetime_format() {
        let t = time::macros::datetime!(2026-01-05 09:30:01.250 UTC);
        assert_eq!(jira_datetime(t), "2026-01-05T09:30:01.250+0000");
    }
}
