//! Atlassian's OAuth 2.0 (3LO) authorization server: `/authorize`, the consent page,
//! `/oauth/token`, `/oauth/token/accessible-resources` and `/me`.
//!
//! Model: one **grant** per app × account (re-consenting adds the chosen site to the same grant
//! and restarts its 365-day lifetime). Every token belongs to a grant; revoking a grant (refresh
//! reuse after the leeway, or the control API) kills all of its access and refresh tokens.
//!
//! Refresh rotation: a refresh request with the *current* token returns a new access token and a
//! new refresh token and marks the used one rotated. Presenting a rotated token again:
//! * within the reuse leeway (10 minutes) is tolerated: the answer is 200 with a **new access
//!   token** and the family's **current** refresh token (no further rotation), so a client that
//!   lost a response recovers without forking the family;
//! * after the leeway revokes the whole grant and answers 403
//!   `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`.
//!
//! Refresh tokens also expire after 90 days unused and 365 days after consent. Codes are single
//! use and live 10 minutes. PKCE parameters are validated at `/authorize` but, as on Atlassian,
//! not enforced at the token endpoint. All times come from the simulator clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;

use axum::Form;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::errors::ApiError;
use crate::identity::{DEFAULT_SITE, constant_time_eq};
use crate::scopes::ScopeTable;
use crate::state::SimState;

/// Scopes that are not product scopes and so are not listed per site.
const NON_PRODUCT_SCOPES: &[&str] = &["offline_access", "read:me", "read:account"];

fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn to_time(d: std::time::Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingAuthorization {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: String,
    account_id: String,
    created: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuthCode {
    client_id: String,
    redirect_uri: String,
    grant_id: String,
    scopes: Vec<String>,
    expires_at: OffsetDateTime,
    used: bool,
}

/// A user's consent to an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Grant id.
    pub id: String,
    /// App.
    pub client_id: String,
    /// User.
    pub account_id: String,
    /// Consented scopes.
    pub scopes: Vec<String>,
    /// Cloud ids of the granted sites.
    pub sites: BTreeSet<Uuid>,
    /// Last consent (start of the 365-day lifetime).
    pub consented_at: OffsetDateTime,
    /// Revoked grants keep no working tokens.
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessToken {
    grant_id: String,
    scopes: Vec<String>,
    expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshToken {
    grant_id: String,
    issued_at: OffsetDateTime,
    rotated_at: Option<OffsetDateTime>,
    successor: Option<String>,
}

/// What a valid access token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessInfo {
    /// Grant id.
    pub grant_id: String,
    /// App.
    pub client_id: String,
    /// User.
    pub account_id: String,
    /// Scopes of the token.
    pub scopes: BTreeSet<String>,
    /// Granted sites.
    pub sites: BTreeSet<Uuid>,
}

/// Codes, grants and tokens. Tokens are map keys, so `Debug` prints only counts.
#[derive(Default, Serialize, Deserialize)]
pub struct OAuthStore {
    pending: HashMap<String, PendingAuthorization>,
    codes: HashMap<String, AuthCode>,
    grants: HashMap<String, Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    /// Values handed out instead of random ones, oldest first (see [`ChosenSecrets`]).
    #[serde(skip)]
    chosen: ChosenSecrets,
}

/// Values the authorization server issues next, in order, instead of random ones: a test
/// plants recognisable secrets (canaries) where jiralink receives them and searches for them
/// afterwards. Everything else about issuing (lifetimes, rotation, single use) is unchanged.
#[derive(Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenSecrets {
    /// Authorization codes.
    #[serde(default)]
    pub codes: VecDeque<String>,
    /// Access tokens.
    #[serde(default)]
    pub access_tokens: VecDeque<String>,
    /// Refresh tokens.
    #[serde(default)]
    pub refresh_tokens: VecDeque<String>,
}

impl fmt::Debug for ChosenSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChosenSecrets")
            .field("codes", &self.codes.len())
            .field("access_tokens", &self.access_tokens.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .finish()
    }
}

impl OAuthStore {
    /// Queues `next` behind the values already chosen.
    pub fn choose_next(&mut self, next: ChosenSecrets) {
        self.chosen.codes.extend(next.codes);
        self.chosen.access_tokens.extend(next.access_tokens);
        self.chosen.refresh_tokens.extend(next.refresh_tokens);
    }
}

impl fmt::Debug for OAuthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthStore")
            .field("pending", &self.pending.len())
            .field("codes", &self.codes.len())
            .field("grants", &self.grants.len())
            .field("access_tokens", &self.access.len())
            .field("refresh_tokens", &self.refresh.len())
            .finish()
    }
}

/// A token response body.
#[derive(Debug)]
struct Issued {
    access_token: String,
    refresh_token: Option<String>,
    scopes: Vec<String>,
    expires_in: u64,
}

impl Issued {
    fn into_response(self) -> Response {
        let mut body = json!({
            "access_token": self.access_token,
            "expires_in": self.expires_in,
            "scope": self.scopes.join(" "),
            "token_type": "Bearer",
        });
        if let Some(rt) = self.refresh_token {
            body["refresh_token"] = Value::from(rt);
        }
        (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(body),
        )
            .into_response()
    }
}

impl OAuthStore {
    /// Checks an access token; `None` when unknown, expired or revoked.
    pub fn validate_access(&self, token: &str, now: OffsetDateTime) -> Option<AccessInfo> {
        let at = self.access.get(token)?;
        if at.expires_at <= now {
            return None;
        }
        let grant = self.grants.get(&at.grant_id).filter(|g| !g.revoked)?;
        Some(AccessInfo {
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            account_id: grant.account_id.clone(),
            scopes: at.scopes.iter().cloned().collect(),
            sites: grant.sites.clone(),
        })
    }

    /// All grants (for the control API).
    pub fn grants(&self) -> Vec<Grant> {
        let mut grants: Vec<Grant> = self.grants.values().cloned().collect();
        grants.sort_by(|a, b| a.id.cmp(&b.id));
        grants
    }

    /// Revokes matching grants and every token they issued; returns how many were revoked.
    pub fn revoke_grants(&mut self, client_id: Option<&str>, account_id: Option<&str>) -> usize {
        let ids: Vec<String> = self
            .grants
            .values()
            .filter(|g| !g.revoked)
            .filter(|g| client_id.is_none_or(|c| g.client_id == c))
            .filter(|g| account_id.is_none_or(|a| g.account_id == a))
            .map(|g| g.id.clone())
            .collect();
        for id in &ids {
            self.revoke_grant(id);
        }
        ids.len()
    }

    fn revoke_grant(&mut self, grant_id: &str) {
        if let Some(g) = self.grants.get_mut(grant_id) {
            g.revoked = true;
        }
        self.access.retain(|_, t| t.grant_id != grant_id);
        self.refresh.retain(|_, t| t.grant_id != grant_id);
    }

    fn consent(
        &mut self,
        client_id: &str,
        account_id: &str,
        scopes: &[String],
        site: Uuid,
        now: OffsetDateTime,
    ) -> String {
        let existing = self
            .grants
            .values_mut()
            .find(|g| !g.revoked && g.client_id == client_id && g.account_id == account_id);
        match existing {
            Some(g) => {
                g.sites.insert(site);
                g.scopes = scopes.to_vec();
                g.consented_at = now;
                g.id.clone()
            }
            None => {
                let id = Uuid::new_v4().to_string();
                self.grants.insert(
                    id.clone(),
                    Grant {
                        id: id.clone(),
                        client_id: client_id.to_owned(),
                        account_id: account_id.to_owned(),
                        scopes: scopes.to_vec(),
                        sites: BTreeSet::from([site]),
                        consented_at: now,
                        revoked: false,
                    },
                );
                id
            }
        }
    }

    fn issue_code(
        &mut self,
        pending: &PendingAuthorization,
        grant_id: String,
        now: OffsetDateTime,
        ttl: std::time::Duration,
    ) -> String {
        let code = self
            .chosen
            .codes
            .pop_front()
            .unwrap_or_else(|| new_secret(""));
        self.codes.insert(
            code.clone(),
            AuthCode {
                client_id: pending.client_id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                grant_id,
                scopes: pending.scopes.clone(),
                expires_at: now + to_time(ttl),
                used: false,
            },
        );
        code
    }

    fn issue_tokens(
        &mut self,
        grant_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
        ttl: std::time::Duration,
        refresh: Option<String>,
    ) -> Issued {
        let access_token = self
            .chosen
            .access_tokens
            .pop_front()
            .unwrap_or_else(|| new_secret(""));
        self.access.insert(
            access_token.clone(),
            AccessToken {
                grant_id: grant_id.to_owned(),
                scopes: scopes.to_vec(),
                expires_at: now + to_time(ttl),
            },
        );
        Issued {
            access_token,
            refresh_token: refresh,
            scopes: scopes.to_vec(),
            expires_in: ttl.as_secs(),
        }
    }

    fn new_refresh(&mut self, grant_id: &str, now: OffsetDateTime) -> String {
        let token = self
            .chosen
            .refresh_tokens
            .pop_front()
            .unwrap_or_else(|| new_secret(""));
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                grant_id: grant_id.to_owned(),
                issued_at: now,
                rotated_at: None,
                successor: None,
            },
        );
        token
    }
}

/// Routes of the authorization server (served at the root).
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/authorize/consent", post(consent))
        .route("/oauth/token", post(token))
        .route(
            "/oauth/token/accessible-resources",
            get(accessible_resources),
        )
        .route("/me", get(me))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{d}</p></body></html>",
        t = html_escape(title),
        d = html_escape(detail)
    );
    (
        status,
        [(header::REFERRER_POLICY, "no-referrer")],
        Html(body),
    )
        .into_response()
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            (StatusCode::FOUND, [(header::LOCATION, url.as_str())]).into_response()
        }
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect_uri",
            "The callback URL is not a valid URL.",
        ),
    }
}

fn redirect_error(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_with(redirect_uri, &params)
}

async fn authorize(
    State(state): State<SimState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // Client and redirect URI first: with either wrong, never redirect anywhere.
    let Some(client_id) = param("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The client_id parameter is missing.",
        );
    };
    let app = state.directory().apps.get(client_id).cloned();
    let Some(app) = app else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The app (client_id) is not registered.",
        );
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The redirect_uri parameter is missing.",
        );
    };
    if !app.callbacks.iter().any(|c| c == redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "The redirect_uri does not match a callback URL registered for this app.",
        );
    }
    let req_state = param("state");
    let fail = |error: &str, description: &str| {
        redirect_error(redirect_uri, error, description, req_state)
    };
    if param("response_type") != Some("code") {
        return fail("unsupported_response_type", "response_type must be 'code'.");
    }
    if param("audience") != Some("api.atlassian.com") {
        return fail("invalid_request", "audience must be 'api.atlassian.com'.");
    }
    let Some(req_state) = req_state else {
        return fail("invalid_request", "The state parameter is required.");
    };
    if let Some(prompt) = param("prompt")
        && prompt != "consent"
    {
        return fail("invalid_request", "prompt must be 'consent'.");
    }
    match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => {}
        (Some(challenge), Some("S256")) => {
            let ok_len = (43..=128).contains(&challenge.len());
            let ok_chars = challenge
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            if !(ok_len && ok_chars) {
                return fail("invalid_request", "code_challenge is malformed.");
            }
        }
        _ => {
            return fail(
                "invalid_request",
                "code_challenge_method must be 'S256' with a code_challenge.",
            );
        }
    }
    let Some(scope) = param("scope") else {
        return fail("invalid_request", "The scope parameter is required.");
    };
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    let known = ScopeTable::get().known_scopes();
    let allowed =
        |s: &String| known.contains(s) && app.scopes.as_ref().is_none_or(|a| a.contains(s));
    if scopes.is_empty() || !scopes.iter().all(allowed) {
        return fail(
            "invalid_scope",
            "One or more scopes are unknown or not added to the app.",
        );
    }

    // The simulator has no login: `sim_user` (an e-mail) picks the signed-in user, else alice.
    let dir = state.directory().clone();
    let user = match param("sim_user") {
        Some(email) => dir.user_by_email(email),
        None => dir.user_by_email(&state.samples().email),
    };
    let Some(user) = user.filter(|u| u.active).cloned() else {
        return fail(
            "access_denied",
            "The signed-in user is unknown or inactive.",
        );
    };
    let mut user_sites: Vec<_> = dir
        .sites
        .values()
        .filter(|s| s.members.contains(&user.account_id))
        .cloned()
        .collect();
    // The default site is the one `serve --demo` tells people to use, so it is preselected.
    user_sites.sort_by_key(|s| s.subdomain != DEFAULT_SITE);
    if user_sites.is_empty() {
        return fail("access_denied", "The user has no site to grant.");
    }
    let now = state.now();
    let pending = PendingAuthorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes: scopes.clone(),
        state: req_state.to_owned(),
        account_id: user.account_id.clone(),
        created: now,
    };

    if state.knobs().auto_approve {
        let wanted = param("sim_site").unwrap_or(DEFAULT_SITE);
        let site = user_sites
            .iter()
            .find(|s| s.subdomain == wanted)
            .unwrap_or(&user_sites[0]);
        let ttl = state.config().code_ttl;
        let mut store = state.oauth();
        let grant_id = store.consent(client_id, &user.account_id, &scopes, site.cloud_id, now);
        let code = store.issue_code(&pending, grant_id, now, ttl);
        drop(store);
        return redirect_with(redirect_uri, &[("code", &code), ("state", req_state)]);
    }

    let request_id = new_secret("req-");
    state.oauth().pending.insert(request_id.clone(), pending);
    let scope_items: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
        .collect();
    let site_options: String = user_sites
        .iter()
        .map(|s| {
            format!(
                "<option value=\"{id}\">{name} ({url})</option>",
                id = s.cloud_id,
                name = html_escape(&s.name),
                url = html_escape(&state.site_url(s))
            )
        })
        .collect();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Authorize {app}</title></head><body>\
         <h1>{app} is requesting access to your Atlassian account</h1>\
         <p>Signed in as {user} ({email})</p>\
         <form method=\"post\" action=\"/authorize/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{req}\">\
         <label for=\"site\">Use app on</label> <select id=\"site\" name=\"site\">{sites}</select>\
         <p>It would like to:</p><ul id=\"scopes\">{scopes}</ul>\
         <button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button>\
         </form></body></html>",
        app = html_escape(&app.name),
        user = html_escape(&user.display_name),
        email = html_escape(&user.email),
        req = html_escape(&request_id),
        sites = site_options,
        scopes = scope_items,
    );
    (
        StatusCode::OK,
        [
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(body),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    request: String,
    decision: String,
    site: Option<String>,
}

async fn consent(State(state): State<SimState>, Form(form): Form<ConsentForm>) -> Response {
    let now = state.now();
    let ttl = state.config().code_ttl;
    let pending = state.oauth().pending.remove(&form.request);
    let Some(pending) = pending.filter(|p| now - p.created < to_time(ttl)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Something went wrong",
            "This authorization request is unknown or has expired. Start again from the app.",
        );
    };
    if form.decision != "accept" {
        return redirect_error(
            &pending.redirect_uri,
            "access_denied",
            "The user denied access to the app.",
            Some(&pending.state),
        );
    }
    let site = {
        let dir = state.directory();
        form.site
            .as_deref()
            .and_then(|id| dir.site_by_cloud_id(id))
            .filter(|s| s.members.contains(&pending.account_id))
            .cloned()
    };
    let Some(site) = site else {
        return redirect_error(
            &pending.redirect_uri,
            "access_denied",
            "The chosen site is unknown or the user is not a member.",
            Some(&pending.state),
        );
    };
    let mut store = state.oauth();
    let grant_id = store.consent(
        &pending.client_id,
        &pending.account_id,
        &pending.scopes,
        site.cloud_id,
        now,
    );
    let code = store.issue_code(&pending, grant_id, now, ttl);
    drop(store);
    redirect_with(
        &pending.redirect_uri,
        &[("code", &code), ("state", &pending.state)],
    )
}

/// Reads a token request body: JSON (as Atlassian documents) or form-urlencoded.
fn token_params(headers: &HeaderMap, body: &Bytes) -> Option<HashMap<String, String>> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Some(url::form_urlencoded::parse(body).into_owned().collect());
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let obj = value.as_object()?;
    Some(
        obj.iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                _ => None,
            })
            .collect(),
    )
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::FORBIDDEN, "invalid_grant", description)
}

/// Message of the 403 for every refresh-token failure.
pub const INVALID_REFRESH: &str = "Unknown or invalid refresh token.";

async fn token(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    match token_inner(&state, &headers, &body) {
        Ok(issued) => issued.into_response(),
        Err(e) => e.into_response(),
    }
}

fn token_inner(state: &SimState, headers: &HeaderMap, body: &Bytes) -> Result<Issued, ApiError> {
    let bad_request = |d: &str| ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", d);
    let params = token_params(headers, body)
        .ok_or_else(|| bad_request("The request body is not valid JSON or form data."))?;
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let grant_type = get("grant_type").ok_or_else(|| bad_request("grant_type is required."))?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token.",
        ));
    }
    let client_id = get("client_id").ok_or_else(|| bad_request("client_id is required."))?;
    let app = state
        .directory()
        .apps
        .get(client_id)
        .cloned()
        .ok_or_else(|| {
            ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Unknown client.",
            )
        })?;
    let unauthorized =
        || ApiError::oauth(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    let secret = get("client_secret").ok_or_else(unauthorized)?;
    if !constant_time_eq(secret, &app.client_secret) {
        return Err(unauthorized());
    }
    let now = state.now();
    let cfg = state.config();
    let ttl = cfg.access_token_ttl;
    let mut store = state.oauth();
    if grant_type == "authorization_code" {
        let code = get("code").ok_or_else(|| bad_request("code is required."))?;
        let redirect_uri =
            get("redirect_uri").ok_or_else(|| bad_request("redirect_uri is required."))?;
        let entry = store
            .codes
            .get(code)
            .cloned()
            .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
        if entry.used || entry.expires_at <= now || entry.client_id != client_id {
            return Err(invalid_grant("Invalid authorization code"));
        }
        if entry.redirect_uri != redirect_uri {
            return Err(invalid_grant("Invalid redirect_uri"));
        }
        let grant_live = store
            .grants
            .get(&entry.grant_id)
            .is_some_and(|g| !g.revoked);
        if !grant_live {
            return Err(invalid_grant("Invalid authorization code"));
        }
        if let Some(c) = store.codes.get_mut(code) {
            c.used = true;
        }
        let refresh = entry
            .scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(|| store.new_refresh(&entry.grant_id, now));
        return Ok(store.issue_tokens(&entry.grant_id, &entry.scopes, now, ttl, refresh));
    }

    let presented =
        get("refresh_token").ok_or_else(|| bad_request("refresh_token is required."))?;
    let rt = store
        .refresh
        .get(presented)
        .cloned()
        .ok_or_else(|| invalid_grant(INVALID_REFRESH))?;
    let grant = store
        .grants
        .get(&rt.grant_id)
        .filter(|g| !g.revoked && g.client_id == client_id)
        .cloned()
        .ok_or_else(|| invalid_grant(INVALID_REFRESH))?;
    if now >= grant.consented_at + to_time(cfg.refresh_absolute_expiry) {
        store.revoke_grant(&grant.id);
        return Err(invalid_grant(INVALID_REFRESH));
    }
    match rt.rotated_at {
        None => {
            if now >= rt.issued_at + to_time(cfg.refresh_idle_expiry) {
                store.refresh.remove(presented);
                return Err(invalid_grant(INVALID_REFRESH));
            }
            let next = store.new_refresh(&grant.id, now);
            if let Some(old) = store.refresh.get_mut(presented) {
                old.rotated_at = Some(now);
                old.successor = Some(next.clone());
            }
            Ok(store.issue_tokens(&grant.id, &grant.scopes, now, ttl, Some(next)))
        }
        Some(rotated_at) if now - rotated_at <= to_time(cfg.refresh_reuse_leeway) => {
            // Follow the chain to the family's live token and hand it back unchanged.
            let mut current = rt.successor.clone();
            while let Some(tok) = current.clone() {
                match store.refresh.get(&tok).and_then(|r| r.successor.clone()) {
                    Some(next) => current = Some(next),
                    None => break,
                }
            }
            let live = current
                .filter(|t| store.refresh.contains_key(t))
                .ok_or_else(|| invalid_grant(INVALID_REFRESH))?;
            Ok(store.issue_tokens(&grant.id, &grant.scopes, now, ttl, Some(live)))
        }
        Some(_) => {
            store.revoke_grant(&grant.id);
            Err(invalid_grant(INVALID_REFRESH))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn gateway_unauthorized() -> ApiError {
    ApiError::gateway(StatusCode::UNAUTHORIZED, "Unauthorized")
}

async fn accessible_resources(
    State(state): State<SimState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = bearer(&headers).ok_or_else(gateway_unauthorized)?;
    let access = state
        .oauth()
        .validate_access(token, state.now())
        .ok_or_else(gateway_unauthorized)?;
    let product_scopes: Vec<&String> = access
        .scopes
        .iter()
        .filter(|s| !NON_PRODUCT_SCOPES.contains(&s.as_str()))
        .collect();
    let dir = state.directory();
    let sites: Vec<Value> = dir
        .sites
        .values()
        .filter(|s| access.sites.contains(&s.cloud_id))
        .map(|s| {
            json!({
                "id": s.cloud_id.to_string(),
                "name": s.name,
                "url": state.site_url(s),
                "scopes": product_scopes,
                "avatarUrl": format!("{}/avatars/site-{}.svg", state.base_url(), s.subdomain),
            })
        })
        .collect();
    Ok(Json(Value::Array(sites)))
}

async fn me(State(state): State<SimState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let token = bearer(&headers).ok_or_else(gateway_unauthorized)?;
    let access = state
        .oauth()
        .validate_access(token, state.now())
        .ok_or_else(gateway_unauthorized)?;
    if !access.scopes.contains("read:me") {
        return Err(ApiError::gateway(StatusCode::FORBIDDEN, "Forbidden"));
    }
    let dir = state.directory();
    let user = dir
        .users
        .get(&access.account_id)
        .ok_or_else(gateway_unauthorized)?;
    let nickname = user
        .display_name
        .split_whitespace()
        .next()
        .unwrap_or_default();
    Ok(Json(json!({
        "account_type": "atlassian",
        "account_id": user.account_id,
        "email": user.email,
        "email_verified": true,
        "name": user.display_name,
        "picture": format!("{}/avatars/{}-48.svg", state.base_url(), user.account_id),
        "account_status": if user.active { "active" } else { "inactive" },
        "nickname": nickname,
        "zoneinfo": user.time_zone,
        "locale": user.locale.replace('_', "-"),
        "extended_profile": {},
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_debug_shows_counts_only() {
        let mut store = OAuthStore::default();
        let token = store.new_refresh("g", time::macros::datetime!(2026-01-01 00:00 UTC));
        let debug = format!("{store:?}");
        assert!(!debug.contains(&token));
        assert!(debug.contains("refresh_tokens: 1"));
    }

    #[test]
    fn revoking_a_grant_kills_its_tokens() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut store = OAuthStore::default();
        let grant = store.consent("c", "a", &["read:jira-work".to_owned()], Uuid::nil(), now);
        let issued = store.issue_tokens(
            &grant,
            &["read:jira-work".to_owned()],
            now,
            std::time::Duration::from_secs(60),
            None,
        );
        assert!(store.validate_access(&issued.access_token, now).is_some());
        assert_eq!(store.revoke_grants(Some("c"), None), 1);
        assert!(store.validate_access(&issued.access_token, now).is_none());
    }

    #[test]
    fn consent_joins_sites_into_one_grant() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut store = OAuthStore::default();
        let a = store.consent("c", "acct", &[], Uuid::from_u128(1), now);
        let b = store.consent("c", "acct", &[], Uuid::from_u128(2), now);
        assert_eq!(a, b);
        assert_eq!(store.grants()[0].sites.len(), 2);
    }
}
