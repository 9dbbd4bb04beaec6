//! Control of a running simulator: the Rust [`Control`] handle for tests and the JSON HTTP API
//! under `/_sim/` for `jiralink sim` users. Control routes bypass the knobs (no faults, no rate
//! limits) and are not written to the request log.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `GET /_sim/info` | | endpoints, sites, sample credentials |
//! | `GET /_sim/knobs` | | [`Knobs`] |
//! | `PUT /_sim/knobs` | full [`Knobs`] | new knobs (400 if invalid) |
//! | `PATCH /_sim/knobs` | any subset of [`Knobs`] fields | new knobs |
//! | `POST /_sim/fail-next` | `{"count":2,"status":503,"retry_after":5}` | pending faults |
//! | `POST /_sim/drop-next` | `{"count":1}` | pending faults |
//! | `POST /_sim/issue-next` | `{"codes"?:[…],"access_tokens"?:[…],"refresh_tokens"?:[…]}` | 204 |
//! | `POST /_sim/hold-next` | `{"count":1,"seconds":30,"methods"?,"path"?,"site"?,"skip"?,"stage":"before"\|"after"?}` | pending faults |
//! | `GET /_sim/held` / `DELETE /_sim/held` | | `{"held":n}`: requests being held now / 204, every hold ended now |
//! | `POST /_sim/lose-next` | `{"count":1,"methods":["POST","PUT"]?,"path":"/issue/bulk"?}` | pending faults |
//! | `DELETE /_sim/faults` | | pending faults (all zero) |
//! | `GET /_sim/faults/injected` | | faults injected so far by kind, `{"429":3,"reset":1,…}` |
//! | `GET /_sim/retries` / `DELETE /_sim/retries` | | [`RetryReport`] / 204 (also forgets the injected counts) |
//! | `GET /_sim/requests` / `DELETE /_sim/requests` | | request log / 204 |
//! | `GET /_sim/clock` | | `{"now":RFC 3339,"mode":"system"\|"manual"}` |
//! | `POST /_sim/clock/advance` | `{"seconds":3600}` | clock |
//! | `POST /_sim/clock/freeze` / `POST /_sim/clock/system` | | clock |
//! | `POST /_sim/clock/set` | `{"at":"2026-01-01T00:00:00Z"}` | clock |
//! | `GET /_sim/sites` | | sites |
//! | `POST /_sim/users` | `{"email","display_name","time_zone"?,"sites":["demo"],"active"?}` | user |
//! | `POST /_sim/api-tokens` | `{"email","kind":"classic"\|"scoped","scopes"?,"expires_in_secs"?,"label"?}` | `{"id","token"}` |
//! | `POST /_sim/oauth-apps` | `{"name"?,"callbacks":[…],"scopes"?}` | `{"client_id","client_secret","callbacks"}` |
//! | `GET /_sim/grants` | | grants |
//! | `POST /_sim/grants/revoke` | `{"client_id"?,"email"?}` | `{"revoked":n}` |
//! | `GET /_sim/webhooks` | | registered webhooks (dynamic and admin) |
//! | `GET /_sim/webhooks/deliveries` | | `{"pending":n,"attempts":[…]}` (delivery log) |
//! | `DELETE /_sim/webhooks/deliveries` | | 204 (empties the delivery log) |
//!
//! The webhook delivery knobs are `Knobs::webhooks` (`PATCH /_sim/knobs`
//! `{"webhooks":{"drop_share":0.5}}`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::SimClock;
use crate::errors::ApiError;
use crate::identity::{ApiTokenKind, ApiTokenRecord, OAuthApp, Site, User, account_id, derive};
use crate::knobs::{Knobs, WebhookKnobs};
use crate::oauth::Grant;
use crate::retry_watch::{RetryReport, RetryWatch};
use crate::state::{LoggedRequest, SimState};
use crate::webhooks::{DeliveryAttempt, WebhookInfo};

pub use crate::knobs::{HoldSpec, HoldStage, PendingFaults};

/// Error of a control operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A referenced user or site does not exist.
    #[error("{0} not found")]
    NotFound(String),
}

/// A new user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// E-mail (unique).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// IANA zone; default `Etc/UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Subdomains of the sites the user joins.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Active; default true.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A new API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    /// Owner's e-mail.
    pub email: String,
    /// `classic` or `scoped`.
    pub kind: TokenKindInput,
    /// Scopes (scoped tokens only).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime from now, in seconds; none = no expiry.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
}

/// API token kind in control requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKindInput {
    /// Classic token.
    Classic,
    /// Scoped token.
    Scoped,
}

/// A created API token (the secret is shown once, as on Atlassian).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// Token id.
    pub id: String,
    /// Token value.
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A new OAuth app.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewOAuthApp {
    /// Name on the consent page.
    #[serde(default)]
    pub name: Option<String>,
    /// Callback URLs.
    pub callbacks: Vec<String>,
    /// Scopes added to the app; none = all known scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A created OAuth app's credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApp {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Callback URLs.
    pub callbacks: Vec<String>,
}

impl std::fmt::Debug for CreatedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApp")
            .field("client_id", &self.client_id)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

/// Rust handle to a running simulator. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    state: SimState,
}

fn random_secret(prefix: &str) -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Control {
    /// Wraps the shared state.
    pub fn new(state: SimState) -> Self {
        Self { state }
    }

    /// The shared state (for modules that extend the simulator).
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Current knobs.
    pub fn knobs(&self) -> Knobs {
        self.state.knobs()
    }

    /// Replaces the knobs after validating them.
    pub fn set_knobs(&self, knobs: Knobs) -> Result<(), ControlError> {
        knobs.validate().map_err(ControlError::Invalid)?;
        self.state.set_knobs(knobs);
        Ok(())
    }

    /// Changes knobs in place.
    pub fn update_knobs(&self, f: impl FnOnce(&mut Knobs)) -> Result<(), ControlError> {
        let mut knobs = self.knobs();
        f(&mut knobs);
        self.set_knobs(knobs)
    }

    /// The authorization server issues these codes, access and refresh tokens next, in order,
    /// instead of random ones.
    pub fn issue_next(&self, next: crate::oauth::ChosenSecrets) {
        self.state.oauth().choose_next(next);
    }

    /// The next `n` requests answer `status` (with `Retry-After` when given).
    pub fn fail_next(&self, n: u32, status: u16, retry_after: Option<u64>) {
        self.state.faults().fail_next(n, status, retry_after);
    }

    /// The next `n` requests get their connection closed without a response.
    pub fn drop_next(&self, n: u32) {
        self.state.faults().drop_next(n);
    }

    /// The next `n` requests are held for `hold` of simulated time, then answered 504.
    pub fn hold_next(&self, n: u32, hold: Duration) {
        self.state.faults().hold_next(n, hold);
    }

    /// Holds `n` requests that `spec` matches (method, path suffix, site), each after letting
    /// `spec.skip` matching requests through: before their handler (then 504, as
    /// [`Control::hold_next`]) or after it (the write applied, the answer sent late). Other
    /// requests pass and leave the holds queued.
    pub fn hold_matching(&self, n: u32, spec: &HoldSpec) {
        self.state.faults().hold_matching(n, spec);
    }

    /// Requests being held right now (by `hold_next` or `hold_matching`), so a test can wait
    /// until the request it aimed at has reached the simulator.
    pub fn held(&self) -> usize {
        self.state.faults().held()
    }

    /// Ends every hold under way now, as if its time were up: a request held before its
    /// handler is answered 504, a held answer is sent (to a client that may be gone).
    pub fn release_held(&self) {
        self.state.faults().release_held();
    }

    /// The next `n` requests are handled (their writes are applied), then their connection is
    /// closed without the answer: the client sees a reset, not a response.
    pub fn lose_next(&self, n: u32) {
        self.state.faults().lose_next(n, &[]);
    }

    /// Like [`Control::lose_next`], but only requests with one of `methods` consume the `n`
    /// losses (an empty slice: any method); other requests pass untouched.
    pub fn lose_next_for(&self, n: u32, methods: &[Method]) {
        self.state.faults().lose_next(n, methods);
    }

    /// Like [`Control::lose_next_for`], for requests whose path also ends with `path_suffix`
    /// (e.g. `/issue/bulk`): the answer of exactly that kind of write is lost.
    pub fn lose_next_matching(&self, n: u32, methods: &[Method], path_suffix: Option<&str>) {
        self.state
            .faults()
            .lose_next_matching(n, methods, path_suffix);
    }

    /// Clears queued one-shot faults.
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    /// Queued one-shot faults.
    pub fn pending_faults(&self) -> PendingFaults {
        self.state.faults().pending()
    }

    /// Faults injected so far, by kind (see [`crate::knobs::Faults::injected`]).
    pub fn injected_faults(&self) -> BTreeMap<String, u64> {
        self.state.faults().injected()
    }

    /// What clients did after failed attempts: early retries after `Retry-After`, attempts per
    /// request (see [`crate::retry_watch`]).
    pub fn retry_report(&self) -> RetryReport {
        self.state.shared(RetryWatch::default).report()
    }

    /// Forgets the injected-fault counts and the retry report, to measure afresh.
    pub fn clear_fault_records(&self) {
        self.state.faults().clear_injected();
        self.state.shared(RetryWatch::default).clear();
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.request_log().entries()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.state.request_log().clear();
    }

    /// The simulator clock.
    pub fn clock(&self) -> &SimClock {
        self.state.clock()
    }

    /// Current simulated time.
    pub fn now(&self) -> OffsetDateTime {
        self.state.now()
    }

    /// Moves simulated time forward.
    pub fn advance(&self, by: Duration) {
        self.state.clock().advance(by);
    }

    /// Every site: the default site (`demo`) first, then by subdomain.
    pub fn sites(&self) -> Vec<Site> {
        let mut sites: Vec<Site> = self.state.directory().sites.values().cloned().collect();
        // The default site first (the one the banner and `serve --demo` tell users to use), then
        // by subdomain, so the listing is the same on every run.
        sites.sort_by(|a, b| {
            (a.subdomain != crate::identity::DEFAULT_SITE, &a.subdomain)
                .cmp(&(b.subdomain != crate::identity::DEFAULT_SITE, &b.subdomain))
        });
        sites
    }

    /// A site by subdomain.
    pub fn site(&self, subdomain: &str) -> Option<Site> {
        self.state.directory().sites.get(subdomain).cloned()
    }

    /// Adds a user and joins the named sites.
    pub fn add_user(&self, new: NewUser) -> Result<User, ControlError> {
        if !new.email.contains('@') {
            return Err(ControlError::Invalid("email must contain '@'".to_owned()));
        }
        let mut dir = self.state.directory();
        if dir.user_by_email(&new.email).is_some() {
            return Err(ControlError::Invalid(format!(
                "a user with e-mail {} exists",
                new.email
            )));
        }
        if let Some(missing) = new.sites.iter().find(|s| !dir.sites.contains_key(*s)) {
            return Err(ControlError::NotFound(format!("site {missing}")));
        }
        let user = User {
            account_id: account_id(self.state.config().seed, &new.email),
            email: new.email,
            display_name: new.display_name,
            time_zone: new.time_zone.unwrap_or_else(|| "Etc/UTC".to_owned()),
            locale: "en_US".to_owned(),
            active: new.active.unwrap_or(true),
            groups: vec!["jira-software-users".to_owned()],
        };
        for sub in &new.sites {
            if let Some(site) = dir.sites.get_mut(sub) {
                site.members.insert(user.account_id.clone());
            }
        }
        dir.add_user(user.clone());
        Ok(user)
    }

    /// Creates an API token.
    pub fn add_api_token(&self, new: NewApiToken) -> Result<CreatedToken, ControlError> {
        let now = self.state.now();
        let mut dir = self.state.directory();
        let owner = dir
            .user_by_email(&new.email)
            .map(|u| u.account_id.clone())
            .ok_or_else(|| ControlError::NotFound(format!("user {}", new.email)))?;
        let kind = match new.kind {
            TokenKindInput::Classic if new.scopes.is_empty() => ApiTokenKind::Classic,
            TokenKindInput::Classic => {
                return Err(ControlError::Invalid(
                    "classic tokens have no scopes".to_owned(),
                ));
            }
            TokenKindInput::Scoped if new.scopes.is_empty() => {
                return Err(ControlError::Invalid(
                    "a scoped token needs at least one scope".to_owned(),
                ));
            }
            TokenKindInput::Scoped => {
                let known = crate::scopes::ScopeTable::get().known_scopes();
                if let Some(bad) = new.scopes.iter().find(|s| !known.contains(*s)) {
                    return Err(ControlError::Invalid(format!("unknown scope {bad}")));
                }
                ApiTokenKind::Scoped {
                    scopes: new.scopes.iter().cloned().collect::<BTreeSet<_>>(),
                }
            }
        };
        let id = format!("tok-{}", uuid::Uuid::new_v4());
        let secret = random_secret("ATATT3x");
        let expires_at = new
            .expires_in_secs
            .map(|s| now + time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2)));
        dir.tokens.insert(
            id.clone(),
            ApiTokenRecord {
                id: id.clone(),
                account_id: owner,
                secret: secret.clone(),
                kind,
                expires_at,
                label: new.label.unwrap_or_default(),
            },
        );
        Ok(CreatedToken { id, token: secret })
    }

    /// Registers an OAuth app.
    pub fn add_oauth_app(&self, new: NewOAuthApp) -> Result<CreatedApp, ControlError> {
        if new.callbacks.is_empty() {
            return Err(ControlError::Invalid(
                "an app needs at least one callback URL".to_owned(),
            ));
        }
        if let Some(bad) = new.callbacks.iter().find(|c| url::Url::parse(c).is_err()) {
            return Err(ControlError::Invalid(format!(
                "callback {bad} is not a URL"
            )));
        }
        let client_id: String = derive(rand::random(), "client")[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let client_secret = random_secret("ATOA");
        let app = OAuthApp {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            name: new.name.unwrap_or_else(|| "Test app".to_owned()),
            callbacks: new.callbacks.clone(),
            scopes: new.scopes.map(|s| s.into_iter().collect()),
        };
        self.state.directory().apps.insert(client_id.clone(), app);
        Ok(CreatedApp {
            client_id,
            client_secret,
            callbacks: new.callbacks,
        })
    }

    /// All grants.
    pub fn grants(&self) -> Vec<Grant> {
        self.state.oauth().grants()
    }

    /// Revokes the grants matching both filters (none = all) with all their tokens.
    pub fn revoke_grants(&self, client_id: Option<&str>, email: Option<&str>) -> usize {
        let account = email.map(|e| {
            self.state
                .directory()
                .user_by_email(e)
                .map(|u| u.account_id.clone())
                .unwrap_or_default()
        });
        self.state
            .oauth()
            .revoke_grants(client_id, account.as_deref())
    }

    /// Every registered webhook (dynamic first, then admin), with whether it still delivers.
    pub fn webhooks(&self) -> Vec<WebhookInfo> {
        let now_ms = crate::data::now_ms(&self.state);
        crate::webhooks::hub(&self.state).registry().infos(now_ms)
    }

    /// The webhook delivery log (every attempt, oldest first; the last 10,000).
    pub fn webhook_deliveries(&self) -> Vec<DeliveryAttempt> {
        crate::webhooks::hub(&self.state).attempts()
    }

    /// Empties the webhook delivery log.
    pub fn clear_webhook_deliveries(&self) {
        crate::webhooks::hub(&self.state).clear_attempts();
    }

    /// Webhook deliveries the `reorder_share` knob sent after a later delivery of their
    /// webhook.
    pub fn webhook_reordered(&self) -> u64 {
        crate::webhooks::hub(&self.state).reordered()
    }

    /// Webhook deliveries queued, held back or being retried.
    pub fn pending_deliveries(&self) -> usize {
        crate::webhooks::hub(&self.state).pending()
    }

    /// Waits until no webhook delivery is outstanding: every event of the writes made so far
    /// was delivered, retried to the end, or lost by a knob.
    pub async fn deliveries_settled(&self) {
        let hub = crate::webhooks::hub(&self.state);
        hub.settled().await;
    }

    /// Replaces the webhook delivery knobs after validating them.
    pub fn set_webhook_knobs(&self, webhooks: WebhookKnobs) -> Result<(), ControlError> {
        self.update_knobs(|k| k.webhooks = webhooks)
    }

    /// JSON summary served at `/_sim/info`.
    pub fn info(&self) -> Value {
        let s = self.state.samples();
        let base = self.state.base_url();
        json!({
            "base_url": base,
            "site_url_template": format!("{base}/site/{{subdomain}}"),
            "api_gateway": base,
            "auth_server": base,
            "sites": self.sites().iter().map(|site| json!({
                "subdomain": site.subdomain,
                "cloud_id": site.cloud_id,
                "name": site.name,
                "url": self.state.site_url(site),
            })).collect::<Vec<_>>(),
            "sample": {
                "email": s.email,
                "api_token": s.api_token,
                "scoped_api_token": s.scoped_api_token,
                "scoped_token_scopes": s.scoped_token_scopes,
                "oauth_client_id": s.oauth_client_id,
                "oauth_client_secret": s.oauth_client_secret,
                "oauth_callbacks": s.oauth_callbacks,
            },
        })
    }
}

fn bad(e: &ControlError) -> Response {
    let status = match e {
        ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

fn control(state: &SimState) -> Control {
    Control::new(state.clone())
}

fn clock_json(state: &SimState) -> Value {
    let now = state
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mode = match state.clock().mode() {
        crate::clock::ClockMode::System => "system",
        crate::clock::ClockMode::Manual(_) => "manual",
    };
    json!({ "now": now, "mode": mode })
}

#[derive(Debug, Deserialize)]
struct FailNext {
    #[serde(default = "one")]
    count: u32,
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct CountOnly {
    #[serde(default = "one")]
    count: u32,
}

#[derive(Debug, Deserialize)]
struct LoseNext {
    #[serde(default = "one")]
    count: u32,
    #[serde(default)]
    methods: Vec<String>,
    /// Only requests whose path ends with this.
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HoldNext {
    #[serde(default = "one")]
    count: u32,
    seconds: u64,
    #[serde(default)]
    methods: Vec<String>,
    /// Only requests whose path ends with this.
    #[serde(default)]
    path: Option<String>,
    /// Only requests to this site (subdomain).
    #[serde(default)]
    site: Option<String>,
    /// Matching requests to let through first.
    #[serde(default)]
    skip: u32,
    #[serde(default)]
    stage: HoldStage,
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: u64,
}

#[derive(Debug, Deserialize)]
struct SetClock {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

#[derive(Debug, Deserialize)]
struct Revoke {
    client_id: Option<String>,
    email: Option<String>,
}

fn one() -> u32 {
    1
}

/// The `/_sim/` routes.
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/_sim/info", get(|State(s): State<SimState>| async move { Json(control(&s).info()) }))
        .route(
            "/_sim/knobs",
            get(|State(s): State<SimState>| async move { Json(s.knobs()) })
                .put(put_knobs)
                .patch(patch_knobs),
        )
        .route("/_sim/fail-next", post(|State(s): State<SimState>, Json(b): Json<FailNext>| async move {
            if StatusCode::from_u16(b.status).is_err() || b.status < 200 {
                return bad(&ControlError::Invalid(format!("{} is not an HTTP status", b.status)));
            }
            let c = control(&s);
            c.fail_next(b.count, b.status, b.retry_after);
            Json(c.pending_faults()).into_response()
        }))
        .route("/_sim/issue-next", post(|State(s): State<SimState>, Json(b): Json<crate::oauth::ChosenSecrets>| async move {
            control(&s).issue_next(b);
            StatusCode::NO_CONTENT
        }))
        .route("/_sim/drop-next", post(|State(s): State<SimState>, Json(b): Json<CountOnly>| async move {
            let c = control(&s);
            c.drop_next(b.count);
            Json(c.pending_faults())
        }))
        .route("/_sim/lose-next", post(lose_next))
        .route("/_sim/hold-next", post(hold_next))
        .route(
            "/_sim/held",
            get(|State(s): State<SimState>| async move { Json(json!({ "held": control(&s).held() })) })
                .delete(|State(s): State<SimState>| async move {
                    control(&s).release_held();
                    StatusCode::NO_CONTENT
                }),
        )
        .route("/_sim/faults", delete(|State(s): State<SimState>| async move {
            let c = control(&s);
            c.clear_faults();
            Json(c.pending_faults())
        }))
        .route("/_sim/faults/injected", get(|State(s): State<SimState>| async move {
            Json(control(&s).injected_faults())
        }))
        .route(
            "/_sim/retries",
            get(|State(s): State<SimState>| async move { Json(control(&s).retry_report()) }).delete(
                |State(s): State<SimState>| async move {
                    control(&s).clear_fault_records();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route(
            "/_sim/requests",
            get(|State(s): State<SimState>| async move { Json(control(&s).requests()) }).delete(
                |State(s): State<SimState>| async move {
                    control(&s).clear_requests();
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .route("/_sim/clock", get(|State(s): State<SimState>| async move { Json(clock_json(&s)) }))
        .route("/_sim/clock/advance", post(|State(s): State<SimState>, Json(b): Json<Advance>| async move {
            s.clock().advance(Duration::from_secs(b.seconds));
            Json(clock_json(&s))
        }))
        .route("/_sim/clock/freeze", post(|State(s): State<SimState>| async move {
            s.clock().freeze();
            Json(clock_json(&s))
        }))
        .route("/_sim/clock/system", post(|State(s): State<SimState>| async move {
            s.clock().resume_system();
            Json(clock_json(&s))
        }))
        .route("/_sim/clock/set", post(|State(s): State<SimState>, Json(b): Json<SetClock>| async move {
            s.clock().set(b.at);
            Json(clock_json(&s))
        }))
        .route("/_sim/sites", get(|State(s): State<SimState>| async move { Json(control(&s).sites()) }))
        .route("/_sim/users", post(|State(s): State<SimState>, Json(b): Json<NewUser>| async move {
            match control(&s).add_user(b) {
                Ok(u) => (StatusCode::CREATED, Json(u)).into_response(),
                Err(e) => bad(&e),
            }
        }))
        .route("/_sim/api-tokens", post(|State(s): State<SimState>, Json(b): Json<NewApiToken>| async move {
            match control(&s).add_api_token(b) {
                Ok(t) => (StatusCode::CREATED, Json(t)).into_response(),
                Err(e) => bad(&e),
            }
        }))
        .route("/_sim/oauth-apps", post(|State(s): State<SimState>, Json(b): Json<NewOAuthApp>| async move {
            match control(&s).add_oauth_app(b) {
                Ok(a) => (StatusCode::CREATED, Json(a)).into_response(),
                Err(e) => bad(&e),
            }
        }))
        .route("/_sim/grants", get(|State(s): State<SimState>| async move {
            let grants: Vec<Value> = control(&s).grants().into_iter().map(|g| json!({
                "id": g.id,
                "client_id": g.client_id,
                "account_id": g.account_id,
                "scopes": g.scopes,
                "sites": g.sites,
                "consented_at": g.consented_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "revoked": g.revoked,
            })).collect();
            Json(grants)
        }))
        .route("/_sim/grants/revoke", post(|State(s): State<SimState>, Json(b): Json<Revoke>| async move {
            let n = control(&s).revoke_grants(b.client_id.as_deref(), b.email.as_deref());
            Json(json!({ "revoked": n }))
        }))
        .route("/_sim/webhooks", get(|State(s): State<SimState>| async move { Json(control(&s).webhooks()) }))
        .route(
            "/_sim/webhooks/deliveries",
            get(|State(s): State<SimState>| async move {
                let c = control(&s);
                Json(json!({ "pending": c.pending_deliveries(), "attempts": c.webhook_deliveries() }))
            })
            .delete(|State(s): State<SimState>| async move {
                control(&s).clear_webhook_deliveries();
                StatusCode::NO_CONTENT
            }),
        )
        .merge(crate::data::dump::router())
}

/// HTTP methods by name (case-insensitive).
fn methods(names: &[String]) -> Result<Vec<Method>, ControlError> {
    names
        .iter()
        .map(|name| {
            Method::from_bytes(name.to_ascii_uppercase().as_bytes())
                .map_err(|_| ControlError::Invalid(format!("{name} is not an HTTP method")))
        })
        .collect()
}

async fn hold_next(State(s): State<SimState>, Json(b): Json<HoldNext>) -> Response {
    let methods = match methods(&b.methods) {
        Ok(m) => m,
        Err(e) => return bad(&e),
    };
    let c = control(&s);
    c.hold_matching(
        b.count,
        &HoldSpec {
            methods,
            path_suffix: b.path,
            site: b.site,
            skip: b.skip,
            hold: Duration::from_secs(b.seconds),
            stage: b.stage,
        },
    );
    Json(c.pending_faults()).into_response()
}

async fn lose_next(State(s): State<SimState>, Json(b): Json<LoseNext>) -> Response {
    let methods = match methods(&b.methods) {
        Ok(m) => m,
        Err(e) => return bad(&e),
    };
    let c = control(&s);
    c.lose_next_matching(b.count, &methods, b.path.as_deref());
    Json(c.pending_faults()).into_response()
}

async fn put_knobs(State(s): State<SimState>, Json(knobs): Json<Knobs>) -> Response {
    match control(&s).set_knobs(knobs) {
        Ok(()) => Json(s.knobs()).into_response(),
        Err(e) => bad(&e),
    }
}

async fn patch_knobs(State(s): State<SimState>, Json(patch): Json<Value>) -> Response {
    let mut current = serde_json::to_value(s.knobs()).unwrap_or(Value::Null);
    merge(&mut current, patch);
    let knobs: Knobs = match serde_json::from_value(current) {
        Ok(k) => k,
        Err(e) => return bad(&ControlError::Invalid(format!("invalid knobs: {e}"))),
    };
    put_knobs(State(s), Json(knobs)).await
}

/// JSON merge patch (RFC 7386) without deletion: objects merge, other values replace.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// Converts a control error for callers that want the platform error shape.
impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError::platform(StatusCode::BAD_REQUEST, &[&e.to_string()], &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_nested_objects() {
        let mut v = json!({"burst":{"enabled":true,"get":100},"latency_ms":0});
        merge(&mut v, json!({"burst":{"get":5},"latency_ms":10}));
        assert_eq!(v, json!({"burst":{"enabled":true,"get":5},"latency_ms":10}));
    }
}
