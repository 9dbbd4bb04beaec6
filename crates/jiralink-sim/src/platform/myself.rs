//! `GET /rest/api/{2,3}/myself` and `GET /rest/api/{2,3}/serverInfo`.
//!
//! Shapes follow the OpenAPI `User` and `ServerInformation` schemas (checked by the integration
//! tests). Without `expand`, `groups` and `applicationRoles` carry their `size` and empty `items`,
//! as Jira Cloud sends them.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::errors::ApiError;
use crate::identity::User;
use crate::platform::zone::Zone;
use crate::platform::{ApiVersion, versioned};
use crate::state::{SimState, SiteContext};

/// Version string reported by `serverInfo`.
pub const JIRA_VERSION: &str = "1001.0.0-SNAPSHOT";
/// Build number reported by `serverInfo`.
pub const BUILD_NUMBER: i64 = 100_287;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    let r = versioned(Router::new(), "/myself", &get(get_myself));
    versioned(r, "/serverInfo", &get(server_info))
}

#[derive(Debug, Deserialize)]
struct MyselfQuery {
    expand: Option<String>,
}

/// Avatar URLs of a user (served by the simulator itself so nothing leaves the machine).
pub fn avatar_urls(base_url: &str, account_id: &str) -> Value {
    let url = |size: u32| format!("{base_url}/avatars/{account_id}-{size}.svg");
    json!({ "48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32) })
}

/// The `User` representation of `user`, with `groups`/`applicationRoles` expanded on request.
pub fn user_json(
    state: &SimState,
    base: &str,
    version: ApiVersion,
    user: &User,
    expand: &[&str],
) -> Value {
    let v = version.segment();
    let group_items: Vec<Value> = user
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g,
                "groupId": crate::identity::cloud_id(state.config().seed, &format!("group:{g}")).to_string(),
                "self": format!("{base}/rest/api/{v}/group?groupname={g}"),
            })
        })
        .collect();
    let roles = [("jira-software", "Jira")];
    let role_items: Vec<Value> = roles
        .iter()
        .map(|(key, name)| {
            json!({
                "key": key,
                "name": name,
                "groups": user.groups,
                "defaultGroups": ["jira-software-users"],
                "selectedByDefault": false,
                "defined": true,
                "numberOfSeats": 35_000,
                "remainingSeats": 34_997,
                "userCount": 3,
                "userCountDescription": "users",
                "hasUnlimitedSeats": false,
                "platform": false,
            })
        })
        .collect();
    let groups_size = group_items.len();
    let roles_size = role_items.len();
    let expanded = |name: &str| expand.contains(&name);
    json!({
        "self": format!("{base}/rest/api/{v}/user?accountId={}", user.account_id),
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": avatar_urls(state.base_url(), &user.account_id),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone,
        "locale": user.locale,
        "groups": { "size": groups_size, "items": if expanded("groups") { group_items } else { Vec::new() } },
        "applicationRoles": {
            "size": roles_size,
            "items": if expanded("applicationRoles") { role_items } else { Vec::new() }
        },
        "expand": "groups,applicationRoles",
    })
}

async fn get_myself(
    State(state): State<SimState>,
    version: ApiVersion,
    caller: Caller,
    Query(q): Query<MyselfQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require("getCurrentUser")?;
    let expand: Vec<&str> = q
        .expand
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    // Groups come from the site, so they agree with `/group/member` and `membersOf()`.
    let mut user = caller.user.clone();
    let entry = crate::data::site(&state, &caller.site);
    let site_groups: Vec<String> = entry
        .read()
        .groups_of(&user.account_id)
        .into_iter()
        .map(|g| g.name)
        .collect();
    if !site_groups.is_empty() {
        user.groups = site_groups;
    }
    Ok(Json(user_json(
        &state,
        &caller.base,
        version,
        &user,
        &expand,
    )))
}

/// Now, in the calling account's zone as Jira Cloud answers it (UTC for an anonymous call).
fn server_time(now: time::OffsetDateTime, caller: Option<&Caller>) -> String {
    let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    caller
        .map_or_else(Zone::utc, |c| Zone::named(&c.user.time_zone))
        .datetime(ms)
}

async fn server_info(
    State(state): State<SimState>,
    Extension(ctx): Extension<SiteContext>,
    caller: Option<Caller>,
) -> Result<Json<Value>, ApiError> {
    if let Some(caller) = &caller {
        caller.require("getServerInfo")?;
    }
    let site_url = state.site_url(&ctx.site);
    Ok(Json(json!({
        "baseUrl": site_url,
        "displayUrl": site_url,
        "version": JIRA_VERSION,
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": BUILD_NUMBER,
        "buildDate": "2026-01-01T00:00:00.000+0000",
        "serverTime": server_time(state.now(), caller.as_ref()),
        "scmInfo": "8c710b801bcc44429c4fb8a9d1b3f6ad0a6c5e21",
        "serverTitle": ctx.site.name,
        "serverTimeZone": "Etc/UTC",
        "defaultLocale": { "locale": "en_US" },
    })))
}
