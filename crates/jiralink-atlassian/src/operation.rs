//! The catalogue of operations the client performs.
//!
//! Each entry names the operation as Atlassian's OpenAPI documents do (`operationId`), the API
//! it belongs to, its method and path template, every query parameter the client may send, and
//! whether it may be repeated ([`Replay`]). Tests check each entry against the OpenAPI
//! documents, and every request the client sends against its entry.

use reqwest::Method;

use crate::retry::Replay;

/// Which API an operation belongs to (and so which base URL it uses).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    /// Jira platform REST API v3, paths below `/rest/api/3`.
    Platform,
    /// Jira Service Management, paths below `/rest/servicedeskapi`.
    ServiceDesk,
    /// Customer Service Management, paths below `/api/v1`.
    Csm,
    /// The API gateway itself (`/oauth/token/accessible-resources`).
    Gateway,
    /// The site host outside the REST API (`/_edge/tenant_info`).
    Site,
}

/// One operation of an Atlassian API.
#[derive(Debug, PartialEq, Eq)]
pub struct Operation {
    /// The OpenAPI `operationId` (or a descriptive id where there is no document).
    pub id: &'static str,
    /// The API.
    pub api: Api,
    /// The HTTP method.
    pub method: Method,
    /// The path template relative to the API's base, as in the OpenAPI document.
    pub path: &'static str,
    /// Query parameters the client may send.
    pub query: &'static [&'static str],
    /// Whether it may be repeated after an unknown outcome.
    pub replay: Replay,
}

macro_rules! op {
    ($name:ident, $id:literal, $api:ident, $method:ident, $path:literal, [$($q:literal),*], $replay:ident) => {
        #[doc = concat!("`", stringify!($method), " ", $path, "` (", $id, ").")]
        pub const $name: Operation = Operation {
            id: $id,
            api: Api::$api,
            method: Method::$method,
            path: $path,
            query: &[$($q),*],
            replay: Replay::$replay,
        };
    };
}

op!(
    MYSELF,
    "getCurrentUser",
    Platform,
    GET,
    "/myself",
    ["expand"],
    Safe
);
op!(
    SERVER_INFO,
    "getServerInfo",
    Platform,
    GET,
    "/serverInfo",
    [],
    Safe
);
op!(
    SEARCH_JQL,
    "searchAndReconsileIssuesUsingJqlPost",
    Platform,
    POST,
    "/search/jql",
    [],
    Safe
);
op!(
    APPROXIMATE_COUNT,
    "countIssues",
    Platform,
    POST,
    "/search/approximate-count",
    [],
    Safe
);
op!(
    ISSUE_GET,
    "getIssue",
    Platform,
    GET,
    "/issue/{issueIdOrKey}",
    [
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "updateHistory"
    ],
    Safe
);
op!(
    ISSUE_CREATE,
    "createIssue",
    Platform,
    POST,
    "/issue",
    ["updateHistory"],
    Unsafe
);
// Deleting an issue twice leaves it deleted: the second answer is a 404.
op!(
    ISSUE_DELETE,
    "deleteIssue",
    Platform,
    DELETE,
    "/issue/{issueIdOrKey}",
    ["deleteSubtasks"],
    Safe
);
op!(
    ISSUE_EDIT,
    "editIssue",
    Platform,
    PUT,
    "/issue/{issueIdOrKey}",
    [
        "notifyUsers",
        "returnIssue",
        "overrideScreenSecurity",
        "overrideEditableFlag"
    ],
    Unsafe
);
op!(
    ISSUE_BULK_CREATE,
    "createIssues",
    Platform,
    POST,
    "/issue/bulk",
    [],
    Unsafe
);
op!(
    CREATEMETA_ISSUE_TYPES,
    "getCreateIssueMetaIssueTypes",
    Platform,
    GET,
    "/issue/createmeta/{projectIdOrKey}/issuetypes",
    ["startAt", "maxResults"],
    Safe
);
op!(
    CREATEMETA_FIELDS,
    "getCreateIssueMetaIssueTypeId",
    Platform,
    GET,
    "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    ["startAt", "maxResults"],
    Safe
);
op!(
    ISSUE_EDITMETA,
    "getEditIssueMeta",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/editmeta",
    [],
    Safe
);
op!(
    ISSUE_TRANSITIONS,
    "getTransitions",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/transitions",
    ["expand"],
    Safe
);
op!(
    ISSUE_TRANSITION,
    "doTransition",
    Platform,
    POST,
    "/issue/{issueIdOrKey}/transitions",
    [],
    Unsafe
);
op!(
    COMMENT_ADD,
    "addComment",
    Platform,
    POST,
    "/issue/{issueIdOrKey}/comment",
    [],
    Unsafe
);
op!(
    COMMENT_UPDATE,
    "updateComment",
    Platform,
    PUT,
    "/issue/{issueIdOrKey}/comment/{id}",
    [],
    Unsafe
);
op!(
    WORKLOG_ADD,
    "addWorklog",
    Platform,
    POST,
    "/issue/{issueIdOrKey}/worklog",
    [],
    Unsafe
);
op!(
    ISSUE_LINK_CREATE,
    "linkIssues",
    Platform,
    POST,
    "/issueLink",
    [],
    Unsafe
);
op!(
    ISSUE_PROPERTY_SET,
    "setIssueProperty",
    Platform,
    PUT,
    "/issue/{issueIdOrKey}/properties/{propertyKey}",
    [],
    Unsafe
);
op!(
    ISSUE_PROPERTY_GET,
    "getIssueProperty",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/properties/{propertyKey}",
    [],
    Safe
);
op!(
    ATTACHMENT_ADD,
    "addAttachment",
    Platform,
    POST,
    "/issue/{issueIdOrKey}/attachments",
    [],
    Unsafe
);
op!(
    USERS_FIND,
    "findUsers",
    Platform,
    GET,
    "/user/search",
    ["query"],
    Safe
);
op!(
    ISSUE_BULKFETCH,
    "bulkFetchIssues",
    Platform,
    POST,
    "/issue/bulkfetch",
    [],
    Safe
);
op!(
    CHANGELOG_BULKFETCH,
    "getBulkChangelogs",
    Platform,
    POST,
    "/changelog/bulkfetch",
    [],
    Safe
);
op!(FIELDS, "getFields", Platform, GET, "/field", [], Safe);
op!(
    ISSUE_COMMENTS,
    "getComments",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/comment",
    ["startAt", "maxResults", "orderBy", "expand"],
    Safe
);
op!(
    ISSUE_WORKLOGS,
    "getIssueWorklog",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/worklog",
    [
        "startAt",
        "maxResults",
        "startedAfter",
        "startedBefore",
        "expand"
    ],
    Safe
);
op!(
    ISSUE_CHANGELOG,
    "getChangeLogs",
    Platform,
    GET,
    "/issue/{issueIdOrKey}/changelog",
    ["startAt", "maxResults"],
    Safe
);
op!(
    WORKLOGS_UPDATED,
    "getIdsOfWorklogsModifiedSince",
    Platform,
    GET,
    "/worklog/updated",
    ["since", "expand"],
    Safe
);
op!(
    WORKLOGS_DELETED,
    "getIdsOfWorklogsDeletedSince",
    Platform,
    GET,
    "/worklog/deleted",
    ["since"],
    Safe
);
op!(
    WORKLOG_LIST,
    "getWorklogsForIds",
    Platform,
    POST,
    "/worklog/list",
    ["expand"],
    Safe
);
op!(
    PROJECT_SEARCH,
    "searchProjects",
    Platform,
    GET,
    "/project/search",
    ["startAt", "maxResults", "orderBy", "expand"],
    Safe
);
op!(
    USERS_ALL,
    "getAllUsers",
    Platform,
    GET,
    "/users/search",
    ["startAt", "maxResults"],
    Safe
);
op!(STATUSES, "getStatuses", Platform, GET, "/status", [], Safe);
op!(
    ISSUE_TYPES,
    "getIssueAllTypes",
    Platform,
    GET,
    "/issuetype",
    [],
    Safe
);
op!(
    PRIORITY_SEARCH,
    "searchPriorities",
    Platform,
    GET,
    "/priority/search",
    ["startAt", "maxResults"],
    Safe
);
op!(
    RESOLUTION_SEARCH,
    "searchResolutions",
    Platform,
    GET,
    "/resolution/search",
    ["startAt", "maxResults"],
    Safe
);
op!(
    WEBHOOKS_REGISTER,
    "registerDynamicWebhooks",
    Platform,
    POST,
    "/webhook",
    [],
    Unsafe
);
op!(
    WEBHOOKS_LIST,
    "getDynamicWebhooksForApp",
    Platform,
    GET,
    "/webhook",
    ["startAt", "maxResults"],
    Safe
);
// Deleting the same webhooks twice leaves the same state as once.
op!(
    WEBHOOKS_DELETE,
    "deleteWebhookById",
    Platform,
    DELETE,
    "/webhook",
    [],
    Safe
);
// Refreshing twice sets the same expiry (30 days from now) as once.
op!(
    WEBHOOKS_REFRESH,
    "refreshWebhooks",
    Platform,
    PUT,
    "/webhook/refresh",
    [],
    Safe
);
op!(
    WEBHOOKS_FAILED,
    "getFailedWebhooks",
    Platform,
    GET,
    "/webhook/failed",
    ["after"],
    Safe
);
op!(
    SERVICE_DESKS,
    "getServiceDesks",
    ServiceDesk,
    GET,
    "/servicedesk",
    ["start", "limit"],
    Safe
);
op!(
    CUSTOMER_REQUESTS,
    "getCustomerRequests",
    ServiceDesk,
    GET,
    "/request",
    ["start", "limit", "serviceDeskId", "requestStatus", "expand"],
    Safe
);
op!(
    CUSTOMER_REQUEST,
    "getCustomerRequestByIdOrKey",
    ServiceDesk,
    GET,
    "/request/{issueIdOrKey}",
    ["expand"],
    Safe
);
op!(
    ORGANIZATIONS,
    "getOrganizations",
    ServiceDesk,
    GET,
    "/organization",
    ["start", "limit", "accountId"],
    Safe
);
op!(
    REQUEST_TYPES,
    "getRequestTypes",
    ServiceDesk,
    GET,
    "/servicedesk/{serviceDeskId}/requesttype",
    ["start", "limit"],
    Safe
);
op!(
    DESK_CUSTOMERS,
    "getCustomers",
    ServiceDesk,
    GET,
    "/servicedesk/{serviceDeskId}/customer",
    ["start", "limit"],
    Safe
);
// JSM's document gives this operation the id of `GET /organization` as well.
op!(
    DESK_ORGANIZATIONS,
    "getOrganizations",
    ServiceDesk,
    GET,
    "/servicedesk/{serviceDeskId}/organization",
    ["start", "limit"],
    Safe
);
op!(
    CSM_CUSTOMER_DETAILS,
    "getCustomerDetailFields",
    Csm,
    GET,
    "/customer/details",
    ["limit", "cursor"],
    Safe
);
op!(
    CSM_ORGANIZATION_DETAILS,
    "getOrganizationDetailFields",
    Csm,
    GET,
    "/organization/details",
    ["limit", "cursor"],
    Safe
);
op!(
    CSM_PRODUCTS,
    "getProducts",
    Csm,
    GET,
    "/product",
    ["limit", "cursor"],
    Safe
);
op!(
    CSM_ENTITLEMENTS,
    "getEntitlements",
    Csm,
    GET,
    "/entitlements",
    ["limit", "cursor"],
    Safe
);
op!(
    CSM_CUSTOMER_PROFILES,
    "fetchCustomerProfiles",
    Csm,
    POST,
    "/customer/profile/fetch",
    [],
    Safe
);
op!(
    CSM_ORGANIZATION_PROFILES,
    "fetchOrganizationProfiles",
    Csm,
    POST,
    "/organization/profile/fetch",
    [],
    Safe
);
op!(
    REQUEST_TYPE_FIELDS,
    "getRequestTypeFields",
    ServiceDesk,
    GET,
    "/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field",
    ["expand"],
    Safe
);
op!(
    REQUEST_CREATE,
    "createCustomerRequest",
    ServiceDesk,
    POST,
    "/request",
    [],
    Unsafe
);
op!(
    CUSTOMER_CREATE,
    "createCustomer",
    ServiceDesk,
    POST,
    "/customer",
    ["strictConflictStatusCode"],
    Unsafe
);
op!(
    DESK_CUSTOMERS_ADD,
    "addCustomers",
    ServiceDesk,
    POST,
    "/servicedesk/{serviceDeskId}/customer",
    [],
    Unsafe
);
op!(
    ORGANIZATION_CREATE,
    "createOrganization",
    ServiceDesk,
    POST,
    "/organization",
    [],
    Unsafe
);
op!(
    DESK_ORGANIZATION_ADD,
    "addOrganization",
    ServiceDesk,
    POST,
    "/servicedesk/{serviceDeskId}/organization",
    [],
    Unsafe
);
// CSM has no OpenAPI document here: these ids describe the operations.
op!(
    CSM_CUSTOMER_PROFILES_BULK,
    "bulkUpsertCustomerProfiles",
    Csm,
    POST,
    "/customer/profile/bulk",
    [],
    Unsafe
);
op!(
    CSM_ORGANIZATION_PROFILES_BULK,
    "bulkUpsertOrganizationProfiles",
    Csm,
    POST,
    "/organization/profile/bulk",
    [],
    Unsafe
);
op!(
    CSM_TASK,
    "getTaskStatus",
    Csm,
    GET,
    "/tasks/{taskId}",
    [],
    Safe
);
op!(
    ACCESSIBLE_RESOURCES,
    "getAccessibleResources",
    Gateway,
    GET,
    "/oauth/token/accessible-resources",
    [],
    Safe
);
op!(
    TENANT_INFO,
    "getTenantInfo",
    Site,
    GET,
    "/_edge/tenant_info",
    [],
    Safe
);

/// Every operation, for the checks against the OpenAPI documents.
pub const ALL: &[&Operation] = &[
    &MYSELF,
    &SERVER_INFO,
    &SEARCH_JQL,
    &APPROXIMATE_COUNT,
    &ISSUE_GET,
    &ISSUE_CREATE,
    &ISSUE_EDIT,
    &ISSUE_DELETE,
    &ISSUE_BULK_CREATE,
    &CREATEMETA_ISSUE_TYPES,
    &CREATEMETA_FIELDS,
    &ISSUE_EDITMETA,
    &ISSUE_TRANSITIONS,
    &ISSUE_TRANSITION,
    &COMMENT_ADD,
    &COMMENT_UPDATE,
    &WORKLOG_ADD,
    &ISSUE_LINK_CREATE,
    &ISSUE_PROPERTY_SET,
    &ISSUE_PROPERTY_GET,
    &ATTACHMENT_ADD,
    &USERS_FIND,
    &ISSUE_BULKFETCH,
    &CHANGELOG_BULKFETCH,
    &FIELDS,
    &ISSUE_COMMENTS,
    &ISSUE_WORKLOGS,
    &ISSUE_CHANGELOG,
    &WORKLOGS_UPDATED,
    &WORKLOGS_DELETED,
    &WORKLOG_LIST,
    &PROJECT_SEARCH,
    &USERS_ALL,
    &STATUSES,
    &ISSUE_TYPES,
    &PRIORITY_SEARCH,
    &RESOLUTION_SEARCH,
    &WEBHOOKS_REGISTER,
    &WEBHOOKS_LIST,
    &WEBHOOKS_DELETE,
    &WEBHOOKS_REFRESH,
    &WEBHOOKS_FAILED,
    &SERVICE_DESKS,
    &CUSTOMER_REQUESTS,
    &CUSTOMER_REQUEST,
    &ORGANIZATIONS,
    &REQUEST_TYPES,
    &DESK_CUSTOMERS,
    &DESK_ORGANIZATIONS,
    &CSM_CUSTOMER_DETAILS,
    &CSM_ORGANIZATION_DETAILS,
    &CSM_PRODUCTS,
    &CSM_ENTITLEMENTS,
    &CSM_CUSTOMER_PROFILES,
    &CSM_ORGANIZATION_PROFILES,
    &REQUEST_TYPE_FIELDS,
    &REQUEST_CREATE,
    &CUSTOMER_CREATE,
    &DESK_CUSTOMERS_ADD,
    &ORGANIZATION_CREATE,
    &DESK_ORGANIZATION_ADD,
    &CSM_CUSTOMER_PROFILES_BULK,
    &CSM_ORGANIZATION_PROFILES_BULK,
    &CSM_TASK,
    &ACCESSIBLE_RESOURCES,
    &TENANT_INFO,
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_only_reads_and_idempotent_writes_are_replayable() {
        // JSM repeats operation ids across paths, so an operation is its id and path.
        let ids: HashSet<_> = ALL.iter().map(|o| (o.id, o.path)).collect();
        assert_eq!(ids.len(), ALL.len());
        for op in ALL {
            let search_post = matches!(
                op.path,
                "/search/jql"
                    | "/search/approximate-count"
                    | "/issue/bulkfetch"
                    | "/changelog/bulkfetch"
                    | "/worklog/list"
                    | "/customer/profile/fetch"
                    | "/organization/profile/fetch"
            );
            // Deleting or refreshing webhooks, or deleting an issue, twice ends where doing it
            // once does.
            let idempotent = (matches!(op.path, "/webhook" | "/webhook/refresh")
                && matches!(op.method, Method::DELETE | Method::PUT))
                || (op.path == "/issue/{issueIdOrKey}" && op.method == Method::DELETE);
            let expected = if op.method == Method::GET || search_post || idempotent {
                Replay::Safe
            } else {
                Replay::Unsafe
            };
            assert_eq!(op.replay, expected, "{}", op.id);
        }
    }
}
