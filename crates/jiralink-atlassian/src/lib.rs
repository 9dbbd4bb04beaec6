//! jiralink's one client for Atlassian: Jira platform REST API v3, Jira Service Management,
//! Customer Service Management and the OAuth 2.0 gateway.
//!
//! - [`http`]: the only place an HTTP client is built (rustls with ring, timeouts, no redirects,
//!   a jiralink user agent, an extra CA for the simulator or a proxy).
//! - [`base`]: a connection's API base URLs, below the domain's table of where requests go.
//! - [`auth`]: Basic and bearer credentials; bearer tokens come from a [`TokenSource`].
//! - [`client`]: [`JiraClient`], which adds credentials, the concurrency limit, retries and the
//!   observer to every request. Typed operations live in [`platform`], [`writes`] (what an
//!   import needs: bulk create, metadata, transitions, comments, worklogs, links, properties,
//!   attachments, user look-up), [`jsm`] and [`csm`];
//!   lists are `Stream`s over Jira's paging (`nextPageToken`, `start`/`limit`, cursors);
//!   [`records`] reads lists page by page as raw JSON for exports.
//! - [`webhook_api`]: dynamic webhooks (register, list, delete, refresh, failed deliveries).
//! - [`webhooks`]: what a webhook receiver checks and reads, with no I/O: the JWT of a
//!   dynamic webhook, the `X-Hub-Signature` of an admin webhook, the event in the body.
//! - [`retry`]: what is retried and how long to wait ([`RetryPolicy`]); waits go through the
//!   client's injected [`Clock`](jiralink_domain::Clock), so tests never sleep.
//! - [`clock`]: [`SystemClock`], the real time and tokio's timer.
//! - [`limit`]: the per-connection concurrency limit shared process-wide.
//! - [`meter`]: per-run counts of requests, retries and rate-limit waits.
//! - [`observe`]: the masked record of every exchange for the connection debugger.
//! - [`oauth`]: the authorize URL, the code exchange and refresh-token rotation.
//! - [`probe`](mod@probe): "Test connection".
//! - [`error`]: the one error type, [`AtlassianError`].
//!
//! Invariants: no credential appears in `Debug`, `Display`, logs or observed exchanges; a
//! request that may create something is never sent twice after an unknown outcome; every wait
//! goes through the client's clock.

pub mod auth;
pub mod base;
pub mod client;
pub mod clock;
pub mod csm;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod jsm;
pub mod limit;
pub mod meter;
pub mod oauth;
pub mod observe;
pub mod operation;
pub mod platform;
pub mod probe;
pub mod records;
pub mod retry;
pub mod service;
pub mod webhook_api;
pub mod webhooks;
pub mod writes;

pub use auth::{Credentials, StaticToken, TokenSource};
pub use base::{ApiBase, AuthRoute};
pub use client::{JiraClient, JiraClientBuilder};
pub use clock::SystemClock;
pub use csm::{DetailField, Product};
pub use error::{AmbiguousCause, AtlassianError, TransportKind, parse_retry_after};
pub use http::{
    HttpConfig, MAX_RESPONSE_BYTES, MAX_TOKEN_RESPONSE_BYTES, USER_AGENT, build_client, read_body,
};
pub use jsm::{CustomerRequest, Organization, RequestFilter, ServiceDesk};
pub use limit::{
    ConcurrencyRegistry, LimitPermit, Limiter, SharedSlots, SharedSlotsFactory, SlotGuard,
};
pub use meter::{RequestCounts, RequestMeter};
pub use observe::{
    Exchange, ExchangeOutcome, MASK, Masker, NoObserver, Observer, RecordingObserver, mask_body,
    mask_headers, mask_url,
};
pub use operation::{Api, Operation};
pub use platform::{
    AccessibleResource, BulkFetchRequest, BulkFetchResult, ChangelogRequest, CreatedIssue,
    EditOptions, Issue, IssueChangelog, IssueInput, Myself, RawSearchPage, SearchRequest,
    ServerInfo, TenantInfo, search_continuation,
};
pub use probe::{
    ProbeAccount, ProbeFailure, ProbeFailureKind, ProbeReport, ProbeRequest, ProbeTarget,
    choose_probe, probe,
};
pub use records::{
    PageAt, RawRecord, RecordList, RecordPage, WorklogChange, WorklogChangeKind, WorklogChanges,
};
pub use retry::{Jitter, Replay, RetryPolicy};
pub use service::{
    CreatedRequest, CsmTask, JsmOrganization, JsmUser, MAX_PROFILE_BULK, NewCustomerRequest,
    RequestType, RequestTypeField, RequestTypeFields, SubmittedTask, TaskFailure,
};
pub use webhook_api::{
    FailedDeliveries, FailedDelivery, RegisteredWebhook, WebhookRegistration, WebhookSpec,
};
pub use webhooks::{
    JwtClaims, MAX_TOKEN_LEN, WebhookAuthError, WebhookEvent, WebhookEventKind,
    WebhookPayloadError, verify_hub_signature, verify_jwt,
};
pub use writes::{
    BulkElement, CreateMetaIssueType, ElementError, FieldMeta, FieldSchema, MAX_BULK_CREATE,
    Transition, TransitionInput, TransitionTarget, User, WorklogInput,
};
