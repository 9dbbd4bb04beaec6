//! Authentication of Jira API requests and per-operation scope enforcement.
//!
//! Handlers take a [`Caller`] (authentication required) or `Option<Caller>` (anonymous allowed,
//! bad credentials still rejected) and then call [`Caller::require`] with the operation's
//! `operationId`:
//!
//! ```ignore
//! async fn get_issue(caller: Caller, ...) -> Result<Json<Value>, ApiError> {
//!     caller.require("getIssue")?;
//!     ...
//! }
//! ```
//!
//! Rules (Jira Cloud behaviour, see docs/simulator.md for the exact bodies):
//!
//! | Credentials | Site host (`/site/{sub}`, `{sub}.localhost`, `/`) | Gateway (`/ex/jira/{cloudId}`) |
//! |---|---|---|
//! | none or unknown | 401 plain text `Client must be authenticated…` + `WWW-Authenticate` | 401 `{"code":401,"message":"Unauthorized"}` |
//! | Basic, classic token | ok, no scope limits | ok, no scope limits |
//! | Basic, scoped token | 401 `{"code":401,"message":"Unauthorized; scope does not match"}` | ok, limited to its scopes |
//! | Basic, expired token | 401 | 401 |
//! | Bearer (3LO) | 401 (3LO only works through the gateway) | ok if the grant includes the site, limited to its scopes |
//!
//! A scope-limited caller without one of the operation's scope sets gets **403** naming the
//! accepted sets, in the API's error shape: `ErrorCollection` (platform), `ErrorResponse` (JSM),
//! `RestError` (CSM).

use std::collections::BTreeSet;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use base64::Engine as _;

use crate::errors::ApiError;
use crate::identity::{ApiTokenKind, Site, User};
use crate::scopes::{Api, OperationScopes, ScopeTable};
use crate::state::{SimState, SiteContext, Via};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// Basic auth with a classic API token.
    BasicClassic,
    /// Basic auth with a scoped API token.
    BasicScoped,
    /// OAuth 2.0 (3LO) bearer token.
    OAuth {
        /// The app's client id.
        client_id: String,
        /// The grant the token belongs to.
        grant_id: String,
    },
}

/// An authenticated caller of a site's API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The addressed site.
    pub site: Site,
    /// The user.
    pub user: User,
    /// How they authenticated.
    pub auth: AuthKind,
    /// Site host or gateway.
    pub via: Via,
    /// URL prefix the caller used (for `self` links).
    pub base: String,
    /// Scopes held; `None` for classic tokens, which are not scope-limited.
    pub scopes: Option<BTreeSet<String>>,
}

impl Caller {
    /// Checks the scopes of a platform operation by `operationId`.
    pub fn require(&self, operation_id: &str) -> Result<(), ApiError> {
        let op = ScopeTable::get().platform(operation_id);
        self.require_op(op)
    }

    /// Checks the scopes of an operation by method and spec path template (JSM operations,
    /// whose ids repeat).
    pub fn require_route(&self, method: &Method, path_template: &str) -> Result<(), ApiError> {
        let op = ScopeTable::get().route(method.as_str(), path_template);
        if op.is_some_and(|op| op.api == Api::Jsm) {
            return self
                .missing_scopes(op)
                .map_or(Ok(()), |alts| Err(ApiError::insufficient_scope_jsm(&alts)));
        }
        self.require_op(op)
    }

    /// Checks explicit alternatives (for CSM, which has no spec here); answers a CSM `RestError`.
    pub fn require_any(&self, alternatives: &[&[&str]]) -> Result<(), ApiError> {
        let Some(held) = &self.scopes else {
            return Ok(());
        };
        if alternatives
            .iter()
            .any(|set| set.iter().all(|s| held.contains(*s)))
        {
            return Ok(());
        }
        let alts: Vec<Vec<String>> = alternatives
            .iter()
            .map(|set| set.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        Err(ApiError::insufficient_scope_csm(&alts))
    }

    fn require_op(&self, op: Option<&OperationScopes>) -> Result<(), ApiError> {
        self.missing_scopes(op)
            .map_or(Ok(()), |alts| Err(ApiError::insufficient_scope(&alts)))
    }

    /// The accepted scope sets when the caller holds none of them.
    fn missing_scopes(&self, op: Option<&OperationScopes>) -> Option<Vec<Vec<String>>> {
        let held = self.scopes.as_ref()?;
        match op {
            Some(op) if op.allows(held) => None,
            Some(op) => Some(op.alternatives.clone().unwrap_or_default()),
            None => Some(Vec::new()),
        }
    }

    /// `self` link for an API path (`/rest/api/3/...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Whether the caller uses OAuth 2.0.
    pub fn is_oauth(&self) -> bool {
        matches!(self.auth, AuthKind::OAuth { .. })
    }
}

fn unauthenticated(ctx: &SiteContext) -> ApiError {
    match ctx.via {
        Via::SiteHost => ApiError::not_authenticated(&ctx.base),
        Via::Gateway => ApiError::gateway(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
}

/// Authenticates the request in `parts` against the site in its [`SiteContext`].
///
/// Returns `Ok(None)` only when there is no `Authorization` header at all.
pub fn authenticate(state: &SimState, parts: &Parts) -> Result<Option<Caller>, ApiError> {
    let Some(ctx) = parts.extensions.get::<SiteContext>().cloned() else {
        return Err(ApiError::platform_not_found("The site"));
    };
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| unauthenticated(&ctx))?;
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    let now = state.now();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unauthenticated(&ctx))?;
        let (email, secret) = decoded
            .split_once(':')
            .ok_or_else(|| unauthenticated(&ctx))?;
        let dir = state.directory();
        let (user, token) = dir
            .token_for(email, secret)
            .ok_or_else(|| unauthenticated(&ctx))?;
        if token.expires_at.is_some_and(|at| at <= now)
            || !user.active
            || !ctx.site.members.contains(&user.account_id)
        {
            return Err(unauthenticated(&ctx));
        }
        let (auth, scopes) = match &token.kind {
            ApiTokenKind::Classic => (AuthKind::BasicClassic, None),
            ApiTokenKind::Scoped { scopes } => {
                if ctx.via == Via::SiteHost {
                    return Err(ApiError::scope_mismatch());
                }
                (AuthKind::BasicScoped, Some(scopes.clone()))
            }
        };
        return Ok(Some(Caller {
            site: ctx.site.clone(),
            user: user.clone(),
            auth,
            via: ctx.via,
            base: ctx.base.clone(),
            scopes,
        }));
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        if ctx.via == Via::SiteHost {
            return Err(unauthenticated(&ctx));
        }
        let access = state
            .oauth()
            .validate_access(credentials, now)
            .ok_or_else(|| unauthenticated(&ctx))?;
        if !access.sites.contains(&ctx.site.cloud_id) {
            return Err(unauthenticated(&ctx));
        }
        let dir = state.directory();
        let user = dir
            .users
            .get(&access.account_id)
            .filter(|u| u.active && ctx.site.members.contains(&u.account_id))
            .ok_or_else(|| unauthenticated(&ctx))?;
        return Ok(Some(Caller {
            site: ctx.site.clone(),
            user: user.clone(),
            auth: AuthKind::OAuth {
                client_id: access.client_id,
                grant_id: access.grant_id,
            },
            via: ctx.via,
            base: ctx.base.clone(),
            scopes: Some(access.scopes),
        }));
    }
    Err(unauthenticated(&ctx))
}

impl<S> FromRequestParts<S> for Caller
where
    SimState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = SimState::from_ref(state);
        match authenticate(&state, parts)? {
            Some(caller) => Ok(caller),
            None => {
                let ctx = parts.extensions.get::<SiteContext>();
                Err(ctx.map_or_else(|| ApiError::platform_not_found("The site"), unauthenticated))
            }
        }
    }
}

impl<S> OptionalFromRequestParts<S> for Caller
where
    SimState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let state = SimState::from_ref(state);
        authenticate(&state, parts)
    }
}
