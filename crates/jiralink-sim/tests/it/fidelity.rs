//! Fidelity: every operation the simulator serves is called at least once successfully and at
//! least once with an error, and every JSON body on the way in and out is validated.
//!
//! * Platform and JSM bodies are checked against Atlassian's OpenAPI documents, copied into
//!   `tests/fixtures/openapi` (see the README there): the request body against the operation's
//!   `requestBody` schema, the response against the schema of the answered status, or, where the
//!   document declares none for an error status, `ErrorCollection` (platform) / `ErrorResponse`
//!   (JSM).
//! * CSM, the OAuth 2.0 server, the gateway's own answers and the avatar files have no OpenAPI
//!   document here: `tests/fixtures/schemas/*.json` hold hand-written schemas of the shapes in
//!   `shared/reference/atlassian-api.md` (§3, §8) and docs/simulator.md.
//!
//! [`CATALOG`] lists every operation; `catalog_matches_the_router_source` keeps it equal to the
//! routes the router registers, so a new route without fidelity coverage fails the tests.
//! Responses that do not validate are collected rather than asserted one by one, and each area
//! test demands that they are exactly its [`KNOWN_DIVERGENCES`]: fixing a divergence makes the
//! test ask for its entry to be removed.

mod agile;
mod catalogues;
mod csm;
mod jsm;
mod jsm_requests;
pub(crate) mod links;
mod oauth;
mod platform;
mod tracking;
mod webhooks;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use jiralink_sim::SimHandle;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{alice_classic, basic, client, scoped_token};

/// Which API an operation belongs to, and so which schemas judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Area {
    /// Jira platform REST API v3 (`jira-platform-v3.openapi.json`).
    Platform,
    /// Jira Service Management (`jira-service-management.openapi.json`).
    Jsm,
    /// Customer Service Management (`schemas/csm.json`).
    Csm,
    /// Authorization server, `accessible-resources`, `/me`, `/_edge/tenant_info`, avatars and
    /// icons (`schemas/oauth.json`).
    OAuth,
    /// Jira Software `/rest/agile/1.0` (`schemas/agile.json`).
    Agile,
}

/// One served operation: method and path template. Platform and JSM templates are the OpenAPI
/// paths; CSM templates are the simulator's paths after the gateway prefix is stripped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    pub(crate) area: Area,
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    /// `false` for operations that only ever answer an error (the removed search family).
    pub(crate) can_succeed: bool,
    /// `false` for operations with no error answer (avatars accept any file name).
    pub(crate) can_fail: bool,
}

const fn op(area: Area, method: &'static str, path: &'static str) -> Op {
    Op {
        area,
        method,
        path,
        can_succeed: true,
        can_fail: true,
    }
}

const fn removed(method: &'static str, path: &'static str) -> Op {
    Op {
        area: Area::Platform,
        method,
        path,
        can_succeed: false,
        can_fail: true,
    }
}

const fn infallible(area: Area, method: &'static str, path: &'static str) -> Op {
    Op {
        area,
        method,
        path,
        can_succeed: true,
        can_fail: false,
    }
}

use Area::{Agile, Csm, Jsm, OAuth, Platform};

/// Every operation the simulator serves outside the control API (`/_sim/…`).
pub(crate) const CATALOG: &[Op] = &[
    // Platform: removed search family (CHANGE-2046).
    removed("GET", "/rest/api/3/search"),
    removed("POST", "/rest/api/3/search"),
    removed("POST", "/rest/api/3/search/id"),
    removed("POST", "/rest/api/3/expression/eval"),
    // Platform.
    op(Platform, "GET", "/rest/api/3/myself"),
    op(Platform, "GET", "/rest/api/3/serverInfo"),
    op(Platform, "GET", "/rest/api/3/search/jql"),
    op(Platform, "POST", "/rest/api/3/search/jql"),
    op(Platform, "POST", "/rest/api/3/search/approximate-count"),
    op(Platform, "GET", "/rest/api/3/project/search"),
    op(Platform, "GET", "/rest/api/3/project/{projectIdOrKey}"),
    op(Platform, "GET", "/rest/api/3/field"),
    op(Platform, "GET", "/rest/api/3/field/search"),
    op(Platform, "GET", "/rest/api/3/issuetype"),
    op(Platform, "GET", "/rest/api/3/status"),
    op(Platform, "GET", "/rest/api/3/user/search"),
    op(Platform, "GET", "/rest/api/3/users/search"),
    op(Platform, "POST", "/rest/api/3/issue"),
    op(Platform, "POST", "/rest/api/3/issue/bulk"),
    op(Platform, "POST", "/rest/api/3/issue/bulkfetch"),
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}"),
    op(Platform, "PUT", "/rest/api/3/issue/{issueIdOrKey}"),
    op(Platform, "DELETE", "/rest/api/3/issue/{issueIdOrKey}"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/transitions",
    ),
    op(
        Platform,
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/transitions",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/properties",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    ),
    op(
        Platform,
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    ),
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}/editmeta"),
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    op(Platform, "POST", "/rest/api/3/issue/{issueIdOrKey}/comment"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
    ),
    op(
        Platform,
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/comment/{id}",
    ),
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    op(Platform, "POST", "/rest/api/3/issue/{issueIdOrKey}/worklog"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/changelog",
    ),
    op(Platform, "POST", "/rest/api/3/changelog/bulkfetch"),
    // Platform: catalogues.
    op(Platform, "GET", "/rest/api/3/project"),
    op(Platform, "GET", "/rest/api/3/project/type"),
    op(Platform, "GET", "/rest/api/3/project/type/{projectTypeKey}"),
    op(Platform, "GET", "/rest/api/3/projectCategory"),
    op(Platform, "GET", "/rest/api/3/projectCategory/{id}"),
    op(Platform, "GET", "/rest/api/3/priority"),
    op(Platform, "GET", "/rest/api/3/priority/search"),
    op(Platform, "GET", "/rest/api/3/priority/{id}"),
    op(Platform, "GET", "/rest/api/3/resolution"),
    op(Platform, "GET", "/rest/api/3/resolution/search"),
    op(Platform, "GET", "/rest/api/3/resolution/{id}"),
    op(Platform, "GET", "/rest/api/3/statuscategory"),
    op(Platform, "GET", "/rest/api/3/statuscategory/{idOrKey}"),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/statuses",
    ),
    op(Platform, "GET", "/rest/api/3/role"),
    op(Platform, "GET", "/rest/api/3/project/{projectIdOrKey}/role"),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/role/{id}",
    ),
    op(Platform, "GET", "/rest/api/3/label"),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/versions",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/version",
    ),
    op(Platform, "POST", "/rest/api/3/version"),
    op(Platform, "GET", "/rest/api/3/version/{id}"),
    op(Platform, "PUT", "/rest/api/3/version/{id}"),
    op(Platform, "DELETE", "/rest/api/3/version/{id}"),
    op(Platform, "POST", "/rest/api/3/version/{id}/removeAndSwap"),
    op(
        Platform,
        "GET",
        "/rest/api/3/version/{id}/relatedIssueCounts",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/version/{id}/unresolvedIssueCount",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/components",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/project/{projectIdOrKey}/component",
    ),
    op(Platform, "GET", "/rest/api/3/component"),
    op(Platform, "POST", "/rest/api/3/component"),
    op(Platform, "GET", "/rest/api/3/component/{id}"),
    op(Platform, "PUT", "/rest/api/3/component/{id}"),
    op(Platform, "DELETE", "/rest/api/3/component/{id}"),
    op(
        Platform,
        "GET",
        "/rest/api/3/component/{id}/relatedIssueCounts",
    ),
    op(Platform, "GET", "/rest/api/3/user"),
    op(Platform, "GET", "/rest/api/3/user/bulk"),
    op(Platform, "GET", "/rest/api/3/user/groups"),
    op(Platform, "GET", "/rest/api/3/user/assignable/search"),
    op(
        Platform,
        "GET",
        "/rest/api/3/user/assignable/multiProjectSearch",
    ),
    op(Platform, "GET", "/rest/api/3/group"),
    op(Platform, "GET", "/rest/api/3/group/bulk"),
    op(Platform, "GET", "/rest/api/3/group/member"),
    op(Platform, "GET", "/rest/api/3/groups/picker"),
    // Platform: tracking
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}/watchers"),
    op(
        Platform,
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/watchers",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/watchers",
    ),
    op(Platform, "GET", "/rest/api/3/issue/{issueIdOrKey}/votes"),
    op(Platform, "POST", "/rest/api/3/issue/{issueIdOrKey}/votes"),
    op(Platform, "DELETE", "/rest/api/3/issue/{issueIdOrKey}/votes"),
    op(Platform, "PUT", "/rest/api/3/issue/{issueIdOrKey}/assignee"),
    op(Platform, "POST", "/rest/api/3/issue/{issueIdOrKey}/notify"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
    ),
    op(
        Platform,
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
    ),
    op(Platform, "POST", "/rest/api/3/comment/list"),
    op(Platform, "POST", "/rest/api/3/worklog/list"),
    op(Platform, "GET", "/rest/api/3/worklog/updated"),
    op(Platform, "GET", "/rest/api/3/worklog/deleted"),
    // Platform: links
    op(Platform, "GET", "/rest/api/3/issueLinkType"),
    op(Platform, "POST", "/rest/api/3/issueLinkType"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issueLinkType/{issueLinkTypeId}",
    ),
    op(
        Platform,
        "PUT",
        "/rest/api/3/issueLinkType/{issueLinkTypeId}",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issueLinkType/{issueLinkTypeId}",
    ),
    op(Platform, "POST", "/rest/api/3/issueLink"),
    op(Platform, "GET", "/rest/api/3/issueLink/{linkId}"),
    op(Platform, "DELETE", "/rest/api/3/issueLink/{linkId}"),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink",
    ),
    op(
        Platform,
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink",
    ),
    op(
        Platform,
        "GET",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink/{linkId}",
    ),
    op(
        Platform,
        "PUT",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink/{linkId}",
    ),
    op(
        Platform,
        "DELETE",
        "/rest/api/3/issue/{issueIdOrKey}/remotelink/{linkId}",
    ),
    op(
        Platform,
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/attachments",
    ),
    op(Platform, "GET", "/rest/api/3/attachment/meta"),
    op(Platform, "GET", "/rest/api/3/attachment/{id}"),
    op(Platform, "DELETE", "/rest/api/3/attachment/{id}"),
    op(Platform, "GET", "/rest/api/3/attachment/content/{id}"),
    op(Platform, "GET", "/rest/api/3/attachment/{id}/expand/human"),
    op(Platform, "GET", "/rest/api/3/attachment/{id}/expand/raw"),
    // Platform: dynamic webhooks (`src/webhooks/dynamic.rs`).
    op(Platform, "GET", "/rest/api/3/webhook"),
    op(Platform, "POST", "/rest/api/3/webhook"),
    op(Platform, "DELETE", "/rest/api/3/webhook"),
    op(Platform, "PUT", "/rest/api/3/webhook/refresh"),
    op(Platform, "GET", "/rest/api/3/webhook/failed"),
    // JSM.
    op(Jsm, "GET", "/rest/servicedeskapi/servicedesk"),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field",
    ),
    op(Jsm, "GET", "/rest/servicedeskapi/requesttype"),
    op(Jsm, "POST", "/rest/servicedeskapi/customer"),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    op(
        Jsm,
        "DELETE",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
    ),
    op(Jsm, "GET", "/rest/servicedeskapi/organization"),
    op(Jsm, "POST", "/rest/servicedeskapi/organization"),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/organization/{organizationId}",
    ),
    op(
        Jsm,
        "DELETE",
        "/rest/servicedeskapi/organization/{organizationId}",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    op(
        Jsm,
        "DELETE",
        "/rest/servicedeskapi/organization/{organizationId}/user",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    op(
        Jsm,
        "DELETE",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
    ),
    op(Jsm, "GET", "/rest/servicedeskapi/request"),
    op(Jsm, "POST", "/rest/servicedeskapi/request"),
    op(Jsm, "GET", "/rest/servicedeskapi/request/{issueIdOrKey}"),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/status",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}",
    ),
    // JSM: requests.
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/request/{issueIdOrKey}/transition",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    op(
        Jsm,
        "DELETE",
        "/rest/servicedeskapi/request/{issueIdOrKey}/participant",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/sla",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/sla/{slaMetricId}",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/queue/{queueId}/issue",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/request/{issueIdOrKey}/approval/{approvalId}",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/attachTemporaryFile",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    ),
    op(
        Jsm,
        "POST",
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    ),
    op(
        Jsm,
        "GET",
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}/attachment",
    ),
    // CSM.
    op(Csm, "GET", "/jsm/csm/api/v1/customer/details"),
    op(Csm, "POST", "/jsm/csm/api/v1/customer/details"),
    op(Csm, "PUT", "/jsm/csm/api/v1/customer/details/{fieldName}"),
    op(
        Csm,
        "DELETE",
        "/jsm/csm/api/v1/customer/details/{fieldName}",
    ),
    op(Csm, "GET", "/jsm/csm/api/v1/customer/{customerId}"),
    op(Csm, "PUT", "/jsm/csm/api/v1/customer/{customerId}/details"),
    op(
        Csm,
        "POST",
        "/jsm/csm/api/v1/customer/search-by-detail-field",
    ),
    op(Csm, "POST", "/jsm/csm/api/v1/customer"),
    op(Csm, "GET", "/jsm/csm/api/v1/customer/account/{customerId}"),
    op(Csm, "PUT", "/jsm/csm/api/v1/customer/account/{customerId}"),
    op(
        Csm,
        "DELETE",
        "/jsm/csm/api/v1/customer/account/{customerId}",
    ),
    op(Csm, "GET", "/jsm/csm/api/v1/customer/profile/{customerId}"),
    op(Csm, "POST", "/jsm/csm/api/v1/customer/profile/fetch"),
    op(
        Csm,
        "GET",
        "/jsm/csm/api/v1/customer/{customerId}/entitlement",
    ),
    op(
        Csm,
        "POST",
        "/jsm/csm/api/v1/customer/{customerId}/entitlement",
    ),
    op(Csm, "GET", "/jsm/csm/api/v1/organization/details"),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/details"),
    op(
        Csm,
        "PUT",
        "/jsm/csm/api/v1/organization/details/{fieldName}",
    ),
    op(
        Csm,
        "DELETE",
        "/jsm/csm/api/v1/organization/details/{fieldName}",
    ),
    op(Csm, "POST", "/jsm/csm/api/v1/organization"),
    op(Csm, "GET", "/jsm/csm/api/v1/organization/{organizationId}"),
    op(Csm, "PUT", "/jsm/csm/api/v1/organization/{organizationId}"),
    op(
        Csm,
        "DELETE",
        "/jsm/csm/api/v1/organization/{organizationId}",
    ),
    op(
        Csm,
        "PUT",
        "/jsm/csm/api/v1/organization/{organizationId}/details",
    ),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/fetch"),
    op(
        Csm,
        "GET",
        "/jsm/csm/api/v1/organization/profile/{organizationId}",
    ),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/profile/fetch"),
    op(
        Csm,
        "GET",
        "/jsm/csm/api/v1/organization/{organizationId}/entitlement",
    ),
    op(
        Csm,
        "POST",
        "/jsm/csm/api/v1/organization/{organizationId}/entitlement",
    ),
    op(Csm, "GET", "/jsm/csm/api/v1/product"),
    op(Csm, "POST", "/jsm/csm/api/v1/product"),
    op(Csm, "GET", "/jsm/csm/api/v1/product/{productId}"),
    op(Csm, "PUT", "/jsm/csm/api/v1/product/{productId}"),
    op(Csm, "DELETE", "/jsm/csm/api/v1/product/{productId}"),
    op(Csm, "GET", "/jsm/csm/api/v1/entitlements"),
    op(Csm, "GET", "/jsm/csm/api/v1/entitlement/{entitlementId}"),
    op(Csm, "DELETE", "/jsm/csm/api/v1/entitlement/{entitlementId}"),
    op(Csm, "POST", "/jsm/csm/api/v1/customer/bulk"),
    op(Csm, "POST", "/jsm/csm/api/v1/customer/details/bulk"),
    op(Csm, "POST", "/jsm/csm/api/v1/customer/profile/bulk"),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/bulk"),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/details/bulk"),
    op(Csm, "POST", "/jsm/csm/api/v1/organization/profile/bulk"),
    op(Csm, "GET", "/jsm/csm/api/v1/tasks/{taskId}"),
    // Authorization server and gateway root.
    op(OAuth, "GET", "/authorize"),
    op(OAuth, "POST", "/authorize/consent"),
    op(OAuth, "POST", "/oauth/token"),
    op(OAuth, "GET", "/oauth/token/accessible-resources"),
    op(OAuth, "GET", "/me"),
    infallible(OAuth, "GET", "/avatars/{file}"),
    infallible(OAuth, "GET", "/images/icons/{kind}/{file}"),
    // Site edge: the cloud id for Basic-auth clients.
    op(OAuth, "GET", "/_edge/tenant_info"),
    // Agile: Jira Software `/rest/agile/1.0`, and the platform's saved filters boards use.
    op(Platform, "GET", "/rest/api/3/filter/{id}"),
    op(Platform, "POST", "/rest/api/3/filter"),
    op(Agile, "GET", "/rest/agile/1.0/board"),
    op(Agile, "POST", "/rest/agile/1.0/board"),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}"),
    op(Agile, "DELETE", "/rest/agile/1.0/board/{boardId}"),
    op(
        Agile,
        "GET",
        "/rest/agile/1.0/board/{boardId}/configuration",
    ),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}/issue"),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}/backlog"),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}/epic"),
    op(
        Agile,
        "GET",
        "/rest/agile/1.0/board/{boardId}/epic/none/issue",
    ),
    op(
        Agile,
        "GET",
        "/rest/agile/1.0/board/{boardId}/epic/{epicId}/issue",
    ),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}/sprint"),
    op(
        Agile,
        "GET",
        "/rest/agile/1.0/board/{boardId}/sprint/{sprintId}/issue",
    ),
    op(Agile, "GET", "/rest/agile/1.0/board/{boardId}/project"),
    op(Agile, "POST", "/rest/agile/1.0/backlog/issue"),
    op(Agile, "GET", "/rest/agile/1.0/epic/none/issue"),
    op(Agile, "POST", "/rest/agile/1.0/epic/none/issue"),
    op(Agile, "GET", "/rest/agile/1.0/epic/{epicIdOrKey}"),
    op(Agile, "GET", "/rest/agile/1.0/epic/{epicIdOrKey}/issue"),
    op(Agile, "POST", "/rest/agile/1.0/epic/{epicIdOrKey}/issue"),
    op(Agile, "PUT", "/rest/agile/1.0/issue/rank"),
    op(Agile, "GET", "/rest/agile/1.0/issue/{issueIdOrKey}"),
    op(
        Agile,
        "GET",
        "/rest/agile/1.0/issue/{issueIdOrKey}/estimation",
    ),
    op(Agile, "POST", "/rest/agile/1.0/sprint"),
    op(Agile, "GET", "/rest/agile/1.0/sprint/{sprintId}"),
    op(Agile, "PUT", "/rest/agile/1.0/sprint/{sprintId}"),
    op(Agile, "POST", "/rest/agile/1.0/sprint/{sprintId}"),
    op(Agile, "DELETE", "/rest/agile/1.0/sprint/{sprintId}"),
    op(Agile, "GET", "/rest/agile/1.0/sprint/{sprintId}/issue"),
    op(Agile, "POST", "/rest/agile/1.0/sprint/{sprintId}/issue"),
];

/// Responses that do not match their schema, as `"METHOD template STATUS"`, each a simulator
/// divergence from the documents (see docs/simulator.md, "Fidelity"). Each area test asserts
/// that its failures are exactly these entries.
pub(crate) const KNOWN_DIVERGENCES: &[&str] = &[
    // The document's schema is one `RemoteIssueLink`; without `globalId` Jira answers an array
    // of them, as the document's own example shows.
    "GET /rest/api/3/issue/{issueIdOrKey}/remotelink 200",
    // The document's schema types `expirationDate` as epoch milliseconds; its own examples, and
    // Jira, send a date-time string (`2019-06-01T12:42:30.000+0000`).
    "GET /rest/api/3/webhook 200",
    "PUT /rest/api/3/webhook/refresh 200",
];

/// Answers the documents describe in prose only, that are not JSON: (operation, status, media
/// type prefix; empty for any). A JSON body for the same status is still judged as usual.
const NOT_JSON: &[(&str, u16, &str)] = &[
    // The file's own bytes and type.
    ("GET /rest/api/3/attachment/content/{id}", 200, ""),
    ("GET /rest/api/3/attachment/content/{id}", 206, ""),
    // Jira's XSRF filter answers before the resource, in plain text.
    (
        "POST /rest/api/3/issue/{issueIdOrKey}/attachments",
        403,
        "text/plain",
    ),
];

// ---------------------------------------------------------------------------------------------
// Fixtures and schema preparation.

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture as JSON.
pub(crate) fn fixture_json(relative: &str) -> Value {
    let file = fixtures().join(relative);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read fixture {} ({e})", file.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON ({e})", file.display()))
}

/// Properties Jira sends as `null` although the document types them without `nullable`:
/// (component schema, property, evidence). They accept `null` here and nothing else changes.
pub(crate) const RELAXATIONS: &[(&str, &str, &str)] = &[
    (
        "ChangeDetails",
        "from",
        "the document's own getChangeLogs example has \"from\":null",
    ),
    (
        "ChangeDetails",
        "to",
        "the document's own getChangeLogs example has \"to\":null",
    ),
    (
        "ChangeDetails",
        "fromString",
        "Jira sends null when the field was empty before (e.g. first assignment)",
    ),
    (
        "ChangeDetails",
        "toString",
        "Jira sends null when the field is emptied (e.g. unassigning)",
    ),
];

/// Properties Jira Cloud sends that the document leaves out of a closed schema:
/// (component schema, property, the property's schema, evidence). They are added to the schema
/// here and nothing else changes.
pub(crate) const ADDITIONS: &[(&str, &str, &str, &str)] = &[(
    "ServerInformation",
    "defaultLocale",
    r#"{"type":"object","properties":{"locale":{"type":"string"}},"additionalProperties":false}"#,
    "Jira Cloud's serverInfo answers carry \"defaultLocale\":{\"locale\":\"en_US\"}",
)];

/// An OpenAPI document from `tests/fixtures/openapi`, unchanged.
pub(crate) fn openapi(name: &str) -> Value {
    fixture_json(&format!("openapi/{name}"))
}

const PLATFORM_DOC: &str = "jira-platform-v3.openapi.json";
const JSM_DOC: &str = "jira-service-management.openapi.json";

/// A schema source: a document whose `components` (OpenAPI) or `definitions` (hand-written)
/// every `$ref` resolves against.
struct Doc {
    raw: Value,
    /// `components` or `definitions`, rewritten from OpenAPI 3.0 to JSON Schema.
    shared: (&'static str, Value),
}

impl Doc {
    fn openapi(name: &str) -> Self {
        let raw = openapi(name);
        let mut components = raw["components"].clone();
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            schemas.values_mut().for_each(to_json_schema);
            for (schema, property, _why) in RELAXATIONS {
                if let Some(p) = schemas
                    .get_mut(*schema)
                    .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
                {
                    p["nullable"] = Value::Bool(true);
                    to_json_schema(p);
                }
            }
            for (schema, property, addition, _why) in ADDITIONS {
                if let Some(props) = schemas
                    .get_mut(*schema)
                    .and_then(|s| s.get_mut("properties"))
                    .and_then(Value::as_object_mut)
                {
                    let value = serde_json::from_str(addition).expect("addition is JSON");
                    props.insert((*property).to_owned(), value);
                }
            }
        }
        Self {
            raw,
            shared: ("components", components),
        }
    }

    fn hand_written(name: &str) -> Self {
        let raw = fixture_json(&format!("schemas/{name}"));
        let definitions = raw["definitions"].clone();
        Self {
            raw,
            shared: ("definitions", definitions),
        }
    }
}

fn docs() -> &'static HashMap<Area, Doc> {
    static DOCS: OnceLock<HashMap<Area, Doc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        HashMap::from([
            (Area::Platform, Doc::openapi(PLATFORM_DOC)),
            (Area::Jsm, Doc::openapi(JSM_DOC)),
            (Area::Csm, Doc::hand_written("csm.json")),
            (Area::OAuth, Doc::hand_written("oauth.json")),
            (Area::Agile, Doc::hand_written("agile.json")),
        ])
    })
}

fn gateway_doc() -> &'static Doc {
    static DOC: OnceLock<Doc> = OnceLock::new();
    DOC.get_or_init(|| Doc::hand_written("gateway.json"))
}

/// Rewrites one OpenAPI 3.0 schema into JSON Schema draft 4: `nullable: true` becomes a type
/// union with `null` (or an `anyOf` with `{"type":"null"}` when the schema has no `type`), and
/// `null` joins a nullable `enum`. Walks only schema positions, so a property that happens to
/// be called `nullable` or `enum` is left alone.
pub(crate) fn to_json_schema(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    for key in ["properties", "patternProperties", "definitions"] {
        if let Some(children) = map.get_mut(key).and_then(Value::as_object_mut) {
            children.values_mut().for_each(to_json_schema);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            if child.is_object() {
                to_json_schema(child);
            } else if let Some(items) = child.as_array_mut() {
                items.iter_mut().for_each(to_json_schema);
            }
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(children) = map.get_mut(key).and_then(Value::as_array_mut) {
            children.iter_mut().for_each(to_json_schema);
        }
    }
    if map.remove("nullable") != Some(Value::Bool(true)) {
        return;
    }
    if let Some(values) = map.get_mut("enum").and_then(Value::as_array_mut)
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match map.get("type").cloned() {
        Some(Value::String(t)) => {
            map.insert("type".to_owned(), json!([t, "null"]));
        }
        Some(_) => {}
        None => {
            let inner = Value::Object(std::mem::take(map));
            map.insert("anyOf".to_owned(), json!([{"type": "null"}, inner]));
        }
    }
}

/// Jira's `date-time` values (`2026-01-05T09:30:00.000+0000`) lack the colon RFC 3339 puts in
/// the offset; Atlassian's own examples use that form, so both are accepted.
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    if rest == "Z" || rest == "z" {
        return true;
    }
    let Some(offset) = rest.strip_prefix(['+', '-']) else {
        return false;
    };
    let o = offset.as_bytes();
    match o.len() {
        4 => o.iter().all(u8::is_ascii_digit),
        5 => o[2] == b':' && o[..2].iter().chain(&o[3..]).all(u8::is_ascii_digit),
        _ => false,
    }
}

fn compile(doc: &Doc, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    to_json_schema(&mut root);
    let Some(map) = root.as_object_mut() else {
        panic!("schema is not an object: {schema}");
    };
    map.insert(doc.shared.0.to_owned(), doc.shared.1.clone());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .with_format("date-time", is_date_time)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema compiles ({e}): {schema}"))
}

type Cache = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;

/// The validator of the schema at `pointer` in the area's document (cached: compiling against
/// the whole platform document is slow).
fn validator(area: Area, pointer: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = format!("{area:?}{pointer}");
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(v) = cache.lock().expect("cache").get(&key) {
        return v.clone();
    }
    let doc = if pointer.starts_with("gateway:") {
        gateway_doc()
    } else {
        &docs()[&area]
    };
    let at = pointer.trim_start_matches("gateway:");
    let schema = doc
        .raw
        .pointer(at)
        .unwrap_or_else(|| panic!("no schema at {at} in the {area:?} document"));
    let v = Arc::new(compile(doc, schema));
    cache.lock().expect("cache").insert(key, v.clone());
    v
}

/// Validates `instance`; the errors, empty when it matches.
fn violations(area: Area, pointer: &str, instance: &Value) -> Vec<String> {
    validator(area, pointer)
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn operation_pointer(op: &Op) -> String {
    match op.area {
        Area::Platform | Area::Jsm => format!(
            "/paths/{}/{}",
            escape(op.path),
            op.method.to_ascii_lowercase()
        ),
        Area::Csm | Area::OAuth | Area::Agile => {
            format!("/operations/{}", escape(&op_key(op)))
        }
    }
}

fn op_key(op: &Op) -> String {
    format!("{} {}", op.method, op.path)
}

/// Where the request schema of `op` is, if it declares one.
fn request_pointer(op: &Op) -> Option<String> {
    let base = operation_pointer(op);
    let doc = &docs()[&op.area];
    let ptr = match op.area {
        Area::Platform | Area::Jsm => {
            format!("{base}/requestBody/content/application~1json/schema")
        }
        Area::Csm | Area::OAuth | Area::Agile => format!("{base}/request"),
    };
    doc.raw.pointer(&ptr).map(|_| ptr)
}

/// What a response is checked against.
#[derive(Debug)]
enum Expect {
    /// A JSON schema at this pointer (prefixed `gateway:` for the gateway document).
    Schema(String),
    /// No body.
    Empty,
    /// A non-JSON body of this media type (checked further by the scenario).
    Media(String),
    /// A redirect (the scenario checks `Location`).
    Redirect,
}

fn expectation(op: &Op, status: StatusCode, json_body: bool) -> Result<Expect, String> {
    let code = status.as_u16().to_string();
    // 401s come from Atlassian's edge, before the operation runs: the gateway answers
    // `{"code":401,"message":…}` and the site host a plain-text page, whatever the document
    // says for the operation.
    if status == StatusCode::UNAUTHORIZED && op.area != Area::OAuth {
        return Ok(if json_body {
            Expect::Schema("gateway:/definitions/GatewayError".to_owned())
        } else {
            Expect::Media("text/plain".to_owned())
        });
    }
    if !json_body
        && let Some((_, _, media)) = NOT_JSON
            .iter()
            .find(|(key, code, _)| *key == op_key(op) && *code == status.as_u16())
    {
        return Ok(Expect::Media((*media).to_owned()));
    }
    let doc = &docs()[&op.area];
    let base = operation_pointer(op);
    match op.area {
        Area::Platform | Area::Jsm => {
            let response = format!("{base}/responses/{code}");
            let schema = format!("{response}/content/application~1json/schema");
            match doc.raw.pointer(&schema) {
                // `schema: {}` (any value) is how the document writes "no particular body"
                // for 204s and property writes; Jira sends none.
                Some(Value::Object(any)) if any.is_empty() && !json_body => {
                    return Ok(Expect::Empty);
                }
                Some(_) => return Ok(Expect::Schema(schema)),
                // A JSON body documented by an example only (`attachTemporaryFile`): the media
                // type is checked here, the body's fields by the scenario.
                None if json_body
                    && doc
                        .raw
                        .pointer(&format!("{response}/content/application~1json/example"))
                        .is_some() =>
                {
                    return Ok(Expect::Media("application/json".to_owned()));
                }
                None => {}
            }
            if status.is_client_error() || status.is_server_error() {
                let fallback = if op.area == Area::Platform {
                    "/components/schemas/ErrorCollection"
                } else {
                    "/components/schemas/ErrorResponse"
                };
                return Ok(Expect::Schema(fallback.to_owned()));
            }
            if doc.raw.pointer(&response).is_some() {
                return Ok(Expect::Empty);
            }
            Err(format!("status {code} is not declared by the document"))
        }
        Area::Csm | Area::OAuth | Area::Agile => {
            let response = format!("{base}/responses/{code}");
            let Some(declared) = doc.raw.pointer(&response) else {
                if op.area == Area::Csm && (status.is_client_error() || status.is_server_error()) {
                    return Ok(Expect::Schema("/definitions/RestError".to_owned()));
                }
                if op.area == Area::Agile && (status.is_client_error() || status.is_server_error())
                {
                    return Ok(Expect::Schema("/definitions/ErrorCollection".to_owned()));
                }
                return Err(format!(
                    "status {code} is not declared in the schema fixture"
                ));
            };
            if let Some(media) = declared.get("x-media-type").and_then(Value::as_str) {
                return Ok(Expect::Media(media.to_owned()));
            }
            if declared.get("x-redirect").is_some() {
                return Ok(Expect::Redirect);
            }
            if declared.get("x-empty").is_some() {
                return Ok(Expect::Empty);
            }
            Ok(Expect::Schema(response))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Calls, replies and the coverage record.

/// A response as the scenarios see it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    /// Parsed JSON, the text as a string for other media, `Null` when empty.
    pub(crate) body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub(crate) fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        &self.body
    }

    /// A string field of the body.
    #[track_caller]
    pub(crate) fn str(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {:#}", self.body))
            .to_owned()
    }
}

#[derive(Debug, Default)]
struct Coverage {
    ok: usize,
    err: usize,
}

#[derive(Debug, Default)]
struct Record {
    coverage: BTreeMap<String, Coverage>,
    /// `"METHOD template STATUS"` → violations.
    failures: BTreeMap<String, Vec<String>>,
    validated: usize,
}

/// A simulator under test plus the record of what was called and validated.
pub(crate) struct Fidelity {
    pub(crate) sim: SimHandle,
    record: Mutex<Record>,
}

/// How a call authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    None,
    Header(String),
}

/// A request being built.
pub(crate) struct Call<'a> {
    fid: &'a Fidelity,
    method: Method,
    url: String,
    auth: Auth,
    json: Option<Value>,
    form: Option<Vec<(String, String)>>,
    headers: Vec<(String, String)>,
    /// A body that is not JSON (multipart uploads): content type and bytes.
    raw: Option<(String, Vec<u8>)>,
    /// The body is deliberately invalid, so it is not checked against the request schema.
    invalid_body: bool,
}

impl Call<'_> {
    pub(crate) fn auth(mut self, auth: &str) -> Self {
        self.auth = Auth::Header(auth.to_owned());
        self
    }

    pub(crate) fn anonymous(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.json = Some(body);
        self
    }

    /// A body the request schema rejects on purpose (to provoke a 400).
    pub(crate) fn invalid_json(mut self, body: Value) -> Self {
        self.json = Some(body);
        self.invalid_body = true;
        self
    }

    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut url = url::Url::parse(&self.url).expect("absolute URL");
        url.query_pairs_mut().extend_pairs(pairs);
        self.url = url.to_string();
        self
    }

    pub(crate) fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.form = Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    /// A non-JSON body (not checked against the request schema).
    pub(crate) fn raw_body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.raw = Some((content_type.to_owned(), bytes));
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `X-ExperimentalApi: opt-in`.
    pub(crate) fn opt_in(self) -> Self {
        self.header("x-experimentalapi", "opt-in")
    }

    pub(crate) async fn send(self) -> Reply {
        let fid = self.fid;
        let url = url::Url::parse(&self.url).expect("absolute URL");
        let (op, _) = resolve(self.method.as_str(), url.path())
            .unwrap_or_else(|| panic!("{} {} is not in the catalog", self.method, url.path()));
        if let (Some(body), false) = (&self.json, self.invalid_body) {
            let pointer = request_pointer(op);
            if let Some(pointer) = pointer {
                let errors = violations(op.area, &pointer, body);
                assert!(
                    errors.is_empty(),
                    "request body of {} violates its schema: {errors:#?}\n{body:#}",
                    op_key(op)
                );
            }
        }
        let mut req = client().request(self.method.clone(), url.clone());
        if let Auth::Header(value) = &self.auth {
            req = req.header("authorization", value);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &self.json {
            req = req.json(body);
        }
        if let Some(form) = &self.form {
            req = req.form(form);
        }
        if let Some((content_type, bytes)) = &self.raw {
            req = req
                .header("content-type", content_type.as_str())
                .body(bytes.clone());
        }
        let res = req.send().await.expect("request completes");
        let status = res.status();
        let headers = res.headers().clone();
        let media = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.expect("body");
        let is_json = media.starts_with("application/json");
        let body = if text.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} answered invalid JSON ({e}): {text}", op_key(op)))
        } else {
            Value::String(text.clone())
        };
        fid.judge(op, status, &media, &body, text.is_empty());
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// The catalog operation serving `method path` (a URL path as sent), and whether the path went
/// through the gateway. Literal segments win over parameters, as in the router.
pub(crate) fn resolve(method: &str, path: &str) -> Option<(&'static Op, bool)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (rest, gateway): (Vec<&str>, bool) = match segs.as_slice() {
        ["site", _, rest @ ..] => (rest.to_vec(), false),
        ["ex", "jira", _, rest @ ..] => (rest.to_vec(), true),
        ["jsm", "csm", "cloudid", _, rest @ ..] => {
            let mut v = vec!["jsm", "csm"];
            v.extend_from_slice(rest);
            (v, true)
        }
        _ => (segs.clone(), false),
    };
    let mut rest = rest;
    if rest.len() > 2 && rest[0] == "rest" && rest[1] == "api" {
        rest[2] = "3";
    }
    CATALOG
        .iter()
        .filter(|op| op.method == method)
        .filter_map(|op| {
            let tpl: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
            if tpl.len() != rest.len() {
                return None;
            }
            let mut literal = 0;
            for (t, s) in tpl.iter().zip(&rest) {
                if t.starts_with('{') {
                    continue;
                }
                if t != s {
                    return None;
                }
                literal += 1;
            }
            Some((literal, op))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, op)| (op, gateway))
}

impl Fidelity {
    pub(crate) async fn start() -> Self {
        Self {
            sim: crate::start().await,
            record: Mutex::default(),
        }
    }

    /// A call on the `demo` site host with alice's classic token.
    pub(crate) fn site(&self, method: Method, path: &str) -> Call<'_> {
        self.call(method, format!("{}{path}", self.sim.site_url("demo")))
            .auth(&alice_classic(&self.sim))
    }

    /// A call through the gateway (`/ex/jira/{cloudId}{path}`), without credentials.
    pub(crate) fn gateway(&self, method: Method, path: &str) -> Call<'_> {
        self.call(
            method,
            format!("{}{path}", crate::gateway(&self.sim, "demo")),
        )
    }

    /// A CSM call (`/jsm/csm/cloudid/{cloudId}/api/v1{path}`) with alice's classic token.
    pub(crate) fn csm(&self, method: Method, path: &str) -> Call<'_> {
        let cloud = self.sim.control().site("demo").expect("site").cloud_id;
        self.call(
            method,
            format!(
                "{}/jsm/csm/cloudid/{cloud}/api/v1{path}",
                self.sim.api_gateway()
            ),
        )
        .auth(&alice_classic(&self.sim))
    }

    /// A call at the root (authorization server, gateway root).
    pub(crate) fn root(&self, method: Method, path: &str) -> Call<'_> {
        self.call(method, format!("{}{path}", self.sim.base_url()))
    }

    fn call(&self, method: Method, url: String) -> Call<'_> {
        Call {
            fid: self,
            method,
            url,
            auth: Auth::None,
            json: None,
            form: None,
            headers: Vec::new(),
            raw: None,
            invalid_body: false,
        }
    }

    /// Basic credentials of a scoped API token of alice holding exactly `scopes`.
    pub(crate) fn scoped(&self, scopes: &[&str]) -> String {
        basic("alice@example.com", &scoped_token(&self.sim, scopes))
    }

    fn judge(&self, op: &Op, status: StatusCode, media: &str, body: &Value, empty: bool) {
        let key = op_key(op);
        let is_json = media.starts_with("application/json");
        let outcome = expectation(op, status, is_json && !empty).and_then(|expect| match expect {
            Expect::Schema(pointer) if is_json && !empty => {
                let errors = violations(op.area, &pointer, body);
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors.join("\n"))
                }
            }
            Expect::Schema(pointer) => Err(format!(
                "expected a JSON body for {pointer}, got {media:?} {body}"
            )),
            Expect::Empty if empty => Ok(()),
            Expect::Empty => Err(format!("expected no body, got {media:?} {body}")),
            Expect::Media(want) if media.starts_with(&want) => Ok(()),
            Expect::Media(want) => Err(format!("expected {want}, got {media:?}")),
            Expect::Redirect if status.is_redirection() => Ok(()),
            Expect::Redirect => Err("expected a redirect".to_owned()),
        });
        let mut record = self.record.lock().expect("record");
        record.validated += 1;
        let cov = record.coverage.entry(key.clone()).or_default();
        if status.is_success() || status.is_redirection() && op.area == Area::OAuth {
            cov.ok += 1;
        } else {
            cov.err += 1;
        }
        if let Err(e) = outcome {
            record
                .failures
                .entry(format!("{key} {}", status.as_u16()))
                .or_default()
                .push(e);
        }
    }

    /// Asserts that every catalog operation of `area` was answered successfully and with an
    /// error, and that the responses that failed validation are exactly the area's known
    /// divergences. Returns (operations, validated responses).
    pub(crate) fn finish(&self, area: Area) -> (usize, usize) {
        let record = self.record.lock().expect("record");
        let ops: Vec<&Op> = CATALOG.iter().filter(|op| op.area == area).collect();
        let mut missing = Vec::new();
        for op in &ops {
            let cov = record.coverage.get(&op_key(op));
            let ok = cov.map_or(0, |c| c.ok);
            let err = cov.map_or(0, |c| c.err);
            if op.can_succeed && ok == 0 {
                missing.push(format!("{} (no success)", op_key(op)));
            }
            if op.can_fail && err == 0 {
                missing.push(format!("{} (no error)", op_key(op)));
            }
        }
        assert!(missing.is_empty(), "not covered: {missing:#?}");
        let failed: BTreeSet<&str> = record.failures.keys().map(String::as_str).collect();
        let prefixes: Vec<String> = ops.iter().map(|op| format!("{} ", op_key(op))).collect();
        let known: BTreeSet<&str> = KNOWN_DIVERGENCES
            .iter()
            .copied()
            .filter(|k| prefixes.iter().any(|p| k.starts_with(p.as_str())))
            .collect();
        let unexpected: BTreeMap<&String, &Vec<String>> = record
            .failures
            .iter()
            .filter(|(k, _)| !known.contains(k.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "responses that violate their schema: {unexpected:#?}"
        );
        let fixed: Vec<&&str> = known.iter().filter(|k| !failed.contains(**k)).collect();
        assert!(
            fixed.is_empty(),
            "these now validate; remove them from KNOWN_DIVERGENCES: {fixed:#?}"
        );
        (ops.len(), record.validated)
    }
}

// ---------------------------------------------------------------------------------------------
// The catalog against the router, and the fixtures against their sources.

/// Routes registered in the router source: `versioned(r, "/suffix", &get(…).post(…))` and
/// `.route("/path", …)` / `.route(&format!("{PREFIX}/path"), …)`, as `"METHOD template"` with
/// parameters written `{}`.
fn routes_in_source() -> BTreeSet<String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    // The admin webhook API (`webhooks/admin.rs`) has no document; `tests/it/webhooks` covers it.
    let mut files = vec![
        src.join("oauth.rs"),
        src.join("server.rs"),
        src.join("webhooks/dynamic.rs"),
    ];
    for dir in ["platform", "jsm", "csm", "agile"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(src.join(dir))
            .expect("source directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        entries.sort();
        files.extend(entries);
    }
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        let prefix = if file.parent().is_some_and(|p| p.ends_with("jsm")) {
            jiralink_sim::jsm::PREFIX
        } else if file.parent().is_some_and(|p| p.ends_with("csm")) {
            jiralink_sim::csm::PREFIX
        } else if file.parent().is_some_and(|p| p.ends_with("agile")) {
            jiralink_sim::agile::PREFIX
        } else {
            ""
        };
        routes.extend(routes_in(&text, prefix));
    }
    routes
}

fn routes_in(text: &str, prefix: &str) -> Vec<String> {
    let mut starts: Vec<(usize, bool)> = text
        .match_indices("versioned(")
        .filter(|(i, _)| !text[..*i].ends_with("fn "))
        .map(|(i, m)| (i + m.len(), true))
        .chain(
            text.match_indices(".route(")
                .map(|(i, m)| (i + m.len(), false)),
        )
        .collect();
    starts.sort_unstable();
    let mut out = Vec::new();
    for (n, (start, versioned)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(text.len(), |(next, _)| *next);
        let chunk = &text[*start..end];
        let chunk = &chunk[..chunk.find("\n}").unwrap_or(chunk.len())];
        let rest = chunk.trim_start();
        let literal_at = if *versioned {
            // `versioned(r, "…"` or `versioned(Router::new(), "…"`.
            rest.find(", \"")
                .or_else(|| rest.find(",\n"))
                .map(|i| i + 1)
        } else if rest.starts_with('"') || rest.starts_with("&format!(\"") {
            Some(0)
        } else {
            None
        };
        let Some(at) = literal_at else { continue };
        let rest = &rest[at..];
        let Some(open) = rest.find('"') else { continue };
        let Some(len) = rest[open + 1..].find('"') else {
            continue;
        };
        let literal = &rest[open + 1..open + 1 + len];
        if literal.contains("{v}") {
            continue;
        }
        let path = literal
            .replace("{PREFIX}", prefix)
            .replace("{{", "{")
            .replace("}}", "}");
        let path = if *versioned {
            format!("/rest/api/3{path}")
        } else {
            path
        };
        if !path.starts_with('/') {
            continue;
        }
        let handlers = &rest[open + 1 + len..];
        let bytes = handlers.as_bytes();
        for method in ["get", "post", "put", "delete", "patch"] {
            let found = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
            });
            if found {
                out.push(format!(
                    "{} {}",
                    method.to_ascii_uppercase(),
                    normalise(&path)
                ));
            }
        }
    }
    out
}

fn normalise(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn catalog_matches_the_router_source() {
    let served = routes_in_source();
    let listed: BTreeSet<String> = CATALOG
        .iter()
        .map(|op| format!("{} {}", op.method, normalise(op.path)))
        .collect();
    assert_eq!(
        listed.len(),
        CATALOG.len(),
        "the catalog lists an operation twice"
    );
    let unlisted: Vec<&String> = served.difference(&listed).collect();
    let unserved: Vec<&String> = listed.difference(&served).collect();
    assert!(
        unlisted.is_empty() && unserved.is_empty(),
        "served but not in the catalog: {unlisted:#?}\nin the catalog but not served: {unserved:#?}"
    );
}

/// Operations the simulator serves that Atlassian's current document no longer lists.
const NOT_IN_DOCUMENTS: &[&str] = &["POST /rest/api/3/search/id"];

#[test]
fn every_platform_and_jsm_operation_is_in_its_document() {
    let mut missing = Vec::new();
    for op in CATALOG {
        let doc = match op.area {
            Area::Platform => PLATFORM_DOC,
            Area::Jsm => JSM_DOC,
            Area::Csm | Area::OAuth | Area::Agile => continue,
        };
        let key = op_key(op);
        let found = docs()[&op.area]
            .raw
            .pointer(&operation_pointer(op))
            .is_some();
        if found == NOT_IN_DOCUMENTS.contains(&key.as_str()) {
            missing.push(format!("{key} ({doc}: found = {found})"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn hand_written_schemas_cover_their_operations_and_compile() {
    for op in CATALOG {
        if !matches!(op.area, Area::Csm | Area::OAuth | Area::Agile) {
            continue;
        }
        let pointer = operation_pointer(op);
        let declared = docs()[&op.area]
            .raw
            .pointer(&format!("{pointer}/responses"))
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("{} has no responses in its fixture", op_key(op)));
        for (status, response) in declared {
            if response.get("x-media-type").is_none()
                && response.get("x-redirect").is_none()
                && response.get("x-empty").is_none()
            {
                validator(op.area, &format!("{pointer}/responses/{status}"));
            }
        }
    }
    let names: BTreeSet<&str> = CATALOG
        .iter()
        .filter(|op| matches!(op.area, Area::Csm | Area::OAuth | Area::Agile))
        .map(|op| op.path)
        .collect();
    for area in [Area::Csm, Area::OAuth, Area::Agile] {
        for key in docs()[&area].raw["operations"]
            .as_object()
            .expect("operations")
            .keys()
        {
            let path = key.split_once(' ').map_or("", |(_, p)| p);
            assert!(names.contains(path), "{key} is not a catalog operation");
        }
    }
}

#[test]
fn validation_rejects_wrong_shapes() {
    let error_collection = "/components/schemas/ErrorCollection";
    assert!(
        violations(
            Area::Platform,
            error_collection,
            &json!({"errorMessages": [], "errors": {}})
        )
        .is_empty()
    );
    assert!(
        !violations(
            Area::Platform,
            error_collection,
            &json!({"errorMessages": "x"})
        )
        .is_empty()
    );
    assert!(
        !violations(
            Area::Platform,
            error_collection,
            &json!({"code": 401, "message": "Unauthorized"})
        )
        .is_empty()
    );
    let issue = "/components/schemas/IssueBean";
    assert!(!violations(Area::Platform, issue, &json!({"id": 10000})).is_empty());
    let date_time = "/components/schemas/Comment";
    assert!(
        violations(
            Area::Platform,
            date_time,
            &json!({"created": "2026-01-05T09:30:00.000+0000"})
        )
        .is_empty()
    );
    assert!(!violations(Area::Platform, date_time, &json!({"created": "5 January"})).is_empty());
    let created =
        "/paths/~1rest~1api~13~1issue/post/responses/201/content/application~1json/schema";
    assert!(
        violations(
            Area::Platform,
            created,
            &json!({"id": "1", "key": "A-1", "self": "http://x/1"})
        )
        .is_empty()
    );
    assert!(!violations(Area::Platform, created, &json!({"id": 1})).is_empty());
    let jsm = "/components/schemas/ErrorResponse";
    assert!(
        !violations(
            Area::Jsm,
            jsm,
            &json!({"errorMessages": ["x"], "errors": {}})
        )
        .is_empty()
    );
    let task = "/definitions/Task";
    assert!(
        !violations(
            Area::Csm,
            task,
            &json!({"id": "1", "type": "X", "status": "DONE"})
        )
        .is_empty()
    );
}

#[test]
fn nullable_becomes_a_type_union() {
    let mut schema = json!({"type": "object", "properties": {
        "a": {"type": "string", "nullable": true},
        "b": {"allOf": [{"$ref": "#/x"}], "nullable": true},
        "c": {"type": "string", "enum": ["x"], "nullable": true},
        "nullable": {"type": "boolean"}
    }});
    to_json_schema(&mut schema);
    assert_eq!(schema["properties"]["a"]["type"], json!(["string", "null"]));
    assert_eq!(
        schema["properties"]["b"],
        json!({"anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}]}]})
    );
    assert_eq!(schema["properties"]["c"]["enum"], json!(["x", null]));
    assert_eq!(schema["properties"]["nullable"], json!({"type": "boolean"}));
}

#[test]
fn jira_date_times_are_accepted_and_garbage_is_not() {
    for ok in [
        "2026-01-05T09:30:00.000+0000",
        "2026-01-05T09:30:00Z",
        "2026-01-05T20:30:00+1100",
        "2026-01-05T09:30:00.5+01:00",
    ] {
        assert!(is_date_time(ok), "{ok}");
    }
    for bad in [
        "2026-01-05",
        "2026-01-05 09:30:00Z",
        "2026-01-05T09:30:00",
        "2026-01-05T09:30:00+1",
        "yesterday",
    ] {
        assert!(!is_date_time(bad), "{bad}");
    }
}

#[test]
fn fixtures_are_the_documented_copies() {
    use sha2::Digest as _;
    let readme = std::fs::read_to_string(fixtures().join("README.md")).expect("README");
    for name in [PLATFORM_DOC, JSM_DOC] {
        let bytes = std::fs::read(fixtures().join("openapi").join(name)).expect("fixture");
        let digest = sha2::Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            readme.contains(&format!("{hex}  {name}")),
            "README.md does not record sha256 {hex} for {name}"
        );
    }
}

#[test]
fn resolve_prefers_literal_segments() {
    let (op, gateway) =
        resolve("POST", "/jsm/csm/cloudid/abc/api/v1/customer/profile/fetch").expect("resolves");
    assert_eq!(op.path, "/jsm/csm/api/v1/customer/profile/fetch");
    assert!(gateway);
    let (op, _) = resolve("GET", "/site/demo/rest/api/2/issue/DEMO-1").expect("resolves");
    assert_eq!(op.path, "/rest/api/3/issue/{issueIdOrKey}");
    assert!(resolve("PATCH", "/rest/api/3/issue/DEMO-1").is_none());
}

/// Statuses and bodies every area shares: the error sweep. For each operation, a request with
/// no credentials through the gateway (401) and one with a scoped token holding an unrelated
/// scope (403) are validated too.
pub(crate) async fn error_sweep(fid: &Fidelity, area: Area, calls: &[(Method, String)]) {
    let unrelated = fid.scoped(&["read:me"]);
    for (method, path) in calls {
        let anonymous = match area {
            Area::Csm => fid.csm(method.clone(), path).anonymous(),
            _ => fid.gateway(method.clone(), path),
        };
        let reply = anonymous.send().await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let scoped = match area {
            Area::Csm => fid.csm(method.clone(), path).auth(&unrelated).opt_in(),
            _ => fid.gateway(method.clone(), path).auth(&unrelated).opt_in(),
        };
        let reply = scoped.send().await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
}
