//! "Test connection": one authenticated read, classified into a report or a failure with a fix.
//!
//! | Connection | Requests |
//! |---|---|
//! | Cloud Platform, Basic, classic token | `GET {site}/rest/api/3/myself`, then `GET {site}/_edge/tenant_info` (no credentials) for the cloud id |
//! | Cloud Platform, Basic, scoped token | `GET {site}/_edge/tenant_info` when the cloud id is unknown, then `GET {gateway}/ex/jira/{cloudId}/rest/api/3/myself` |
//! | Cloud Platform, OAuth 2.0 | `GET {gateway}/oauth/token/accessible-resources` (site, cloud id, granted scopes), then the [`ProbeRequest`] the scopes allow below `…/ex/jira/{cloudId}` |
//! | Customer Service Management | accessible resources for OAuth 2.0, then the [`ProbeRequest`] the scopes allow below `{gateway}/jsm/csm/cloudid/{cloudId}` (or `…/ex/jira/{cloudId}`) |
//!
//! The authenticated read is chosen by [`choose_probe`] from the scopes the connection holds,
//! so it never needs a scope the connection was not given: a test tells whether the
//! credentials work, not whether they carry a scope the user never asked for.
//!
//! The probe is handed the connection's client, ready to send (credentials, concurrency limit,
//! retry policy, observer, clock: whoever owns the connection puts it together, the same way as
//! for its other requests), and only aims it at the bases it finds
//! ([`JiraClient::with_base`]). A test's client normally retries nothing
//! ([`RetryPolicy::none`](crate::RetryPolicy::none)): it reports a rate limit with its wait
//! instead of waiting. Failure messages and fixes never contain a credential (they are built from classified errors
//! whose text was masked) and never a stack trace.

use std::{
    fmt,
    time::{Duration, Instant},
};

pub use jiralink_domain::probe::{ProbeRequest, choose_probe};
use jiralink_domain::{
    ApiRoot, ApiType, AtlassianEndpoints, ConnectionAuth, ConnectionSettings, ProbeApi,
};
use url::Url;

use crate::{
    base::{ApiBase, AuthRoute},
    client::JiraClient,
    error::{AtlassianError, TransportKind},
    operation::{
        CSM_CUSTOMER_DETAILS, CSM_ENTITLEMENTS, CSM_ORGANIZATION_DETAILS, CSM_PRODUCTS, MYSELF,
        Operation, SERVER_INFO,
    },
    platform::{AccessibleResource, Myself},
};

/// Scopes that accessible-resources never lists, so they never count as missing.
const UNLISTED_SCOPES: &[&str] = &["offline_access", "read:me", "read:account"];

/// The operation `request` sends.
#[must_use]
pub const fn operation_of(request: ProbeRequest) -> &'static Operation {
    match request {
        ProbeRequest::Myself => &MYSELF,
        ProbeRequest::ServerInfo => &SERVER_INFO,
        ProbeRequest::CsmCustomerDetailFields => &CSM_CUSTOMER_DETAILS,
        ProbeRequest::CsmOrganizationDetailFields => &CSM_ORGANIZATION_DETAILS,
        ProbeRequest::CsmProducts => &CSM_PRODUCTS,
        ProbeRequest::CsmEntitlements => &CSM_ENTITLEMENTS,
    }
}

/// Sends `request`; the account when it names one.
async fn send(
    request: ProbeRequest,
    client: &JiraClient,
    ctx: &Context<'_>,
) -> Result<Option<ProbeAccount>, ProbeFailure> {
    let classified = |e: AtlassianError| classify(&e, ctx);
    match request {
        ProbeRequest::Myself => {
            let me = client.myself().await.map_err(classified)?;
            check_host(&me, client)?;
            return Ok(Some(ProbeAccount {
                display_name: me.display_name,
                email: me.email_address,
                account_id: me.account_id,
                time_zone: me.time_zone,
            }));
        }
        ProbeRequest::ServerInfo => {
            let info = client.server_info().await.map_err(classified)?;
            if info.base_url.is_none() {
                return Err(not_like_jira(ctx, "the server information has no baseUrl"));
            }
        }
        ProbeRequest::CsmCustomerDetailFields => {
            client
                .csm_customer_details_page()
                .await
                .map_err(classified)?;
        }
        ProbeRequest::CsmOrganizationDetailFields => {
            client
                .csm_organization_details_page()
                .await
                .map_err(classified)?;
        }
        ProbeRequest::CsmProducts => {
            client.csm_products_page().await.map_err(classified)?;
        }
        ProbeRequest::CsmEntitlements => {
            client.csm_entitlements_page().await.map_err(classified)?;
        }
    }
    Ok(None)
}

/// What to test.
#[derive(Clone, Copy, Debug)]
pub struct ProbeTarget<'a> {
    /// The connection's settings.
    pub settings: &'a ConnectionSettings,
    /// Atlassian's hosts (or the simulator's).
    pub endpoints: &'a AtlassianEndpoints,
    /// How the credentials route.
    pub route: AuthRoute,
    /// The cloud id, when known.
    pub cloud_id: Option<&'a str>,
}

/// The account a successful test signed in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeAccount {
    /// Name shown in Jira.
    pub display_name: Option<String>,
    /// E-mail, when visible.
    pub email: Option<String>,
    /// Atlassian account id.
    pub account_id: String,
    /// Time zone (JQL dates without a zone use it).
    pub time_zone: Option<String>,
}

/// A successful test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    /// Always true in a report; failures are [`ProbeFailure`]s.
    pub reachable: bool,
    /// The account, for Cloud Platform connections.
    pub account: Option<ProbeAccount>,
    /// The site, when known.
    pub site_url: Option<Url>,
    /// The cloud id, when found.
    pub cloud_id: Option<String>,
    /// Scopes granted for the site (OAuth 2.0).
    pub granted_scopes: Vec<String>,
    /// Scopes the connection asks for (OAuth 2.0).
    pub requested_scopes: Vec<String>,
    /// Requested but not granted.
    pub missing_scopes: Vec<String>,
    /// The authenticated read that was sent.
    pub request: ProbeRequest,
    /// How long the authenticated read took.
    pub latency: Duration,
}

/// The class of a failed test.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeFailureKind {
    /// No Jira site answers for the subdomain (DNS failure or Atlassian's 404 page).
    UnknownSite,
    /// The e-mail or API token is wrong (or the token expired, which Jira does not tell apart).
    WrongCredentials,
    /// The token has expired, and the answer said so; or OAuth 2.0 needs authorizing again.
    ExpiredCredentials,
    /// A scoped API token was sent to the site host, where only classic tokens work.
    ScopedTokenOnSite,
    /// A scope the request needs was not granted.
    MissingScope,
    /// Authenticated, but not allowed.
    Forbidden,
    /// The connection is not authorized for a site yet (no cloud id).
    NotAuthorized,
    /// Rate limited; `retry_after` says how long to wait.
    RateLimited,
    /// The TLS certificate was not trusted.
    Tls,
    /// No connection, a timeout, or a dropped connection.
    Network,
    /// Something that is not Jira answered: a redirect, HTML, a wrong host, an odd shape.
    Misconfigured,
    /// Jira answered with a 5xx.
    ServerError,
    /// Anything else.
    Unexpected,
}

/// A failed test: what happened and what the user can do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFailure {
    /// The class.
    pub kind: ProbeFailureKind,
    /// What happened.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// How long to wait (rate limits).
    pub retry_after: Option<Duration>,
    /// The missing scope, when named.
    pub missing_scope: Option<String>,
    /// The authenticated read that failed; `None` when the test failed before sending it.
    pub request: Option<ProbeRequest>,
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.message, self.fix)
    }
}

impl std::error::Error for ProbeFailure {}

/// Where a request of the test went, for messages.
struct Context<'a> {
    target: &'a ProbeTarget<'a>,
    site: Option<Url>,
    via_gateway: bool,
}

/// Tests a connection through `client`, its ready client (see the module docs); the bases it
/// was built with do not matter, the probe finds the ones to use.
///
/// # Errors
/// A [`ProbeFailure`] with a message and a fix.
pub async fn probe(
    client: &JiraClient,
    target: &ProbeTarget<'_>,
) -> Result<ProbeReport, ProbeFailure> {
    let settings = target.settings;
    let site = settings
        .subdomain
        .as_ref()
        .map(|s| target.endpoints.site_url(s));
    let requested_scopes = match &settings.auth {
        ConnectionAuth::OAuth2 { scopes, .. } => scopes.requested(),
        ConnectionAuth::Basic { .. } => Vec::new(),
    };
    let client = client.with_base(ApiBase::bootstrap(
        target.endpoints,
        settings.subdomain.as_ref(),
    ));
    let mut ctx = Context {
        target,
        site: site.clone(),
        via_gateway: ApiRoot::of(settings.api_type, target.route).via_gateway(),
    };

    let mut cloud_id = target.cloud_id.map(str::to_owned);
    let mut granted_scopes = Vec::new();
    if target.route == AuthRoute::OAuth2 {
        let resources = client
            .accessible_resources()
            .await
            .map_err(|e| classify(&e, &ctx))?;
        let resource = choose_resource(
            &resources,
            cloud_id.as_deref(),
            site.as_ref(),
            settings.api_type,
        )
        .ok_or_else(|| not_authorized_for_site(site.as_ref(), cloud_id.as_deref()))?;
        cloud_id = Some(resource.id.clone());
        granted_scopes = resource.scopes.clone();
        if ctx.site.is_none() {
            ctx.site = Url::parse(&resource.url).ok();
        }
    } else if ctx.via_gateway && cloud_id.is_none() && site.is_some() {
        cloud_id = client.tenant_info().await.ok().map(|t| t.cloud_id);
    }

    let held = held_scopes(target, &requested_scopes, &granted_scopes);
    let request = choose_probe(settings.api_type, held.as_deref());

    let mut base = ApiBase::resolve(
        target.endpoints,
        settings.api_type,
        target.route,
        settings.subdomain.as_ref(),
        cloud_id.as_deref(),
    )
    .map_err(|e| classify(&e, &ctx))?;
    if request.api() == ProbeApi::Platform && base.platform.is_none() {
        // A Customer Service Management site is a Jira site: its platform API answers through
        // the gateway too, for the requests that need no scope.
        base.platform = ApiBase::platform_below(
            target.endpoints,
            ApiRoot::for_probe(settings.api_type, target.route, request.api()),
            settings.subdomain.as_ref(),
            base.cloud_id.as_deref(),
        );
    }
    let client = client.with_base(base);

    let started = Instant::now();
    let account = send(request, &client, &ctx)
        .await
        .map_err(|f| ProbeFailure {
            request: Some(request),
            ..f
        })?;
    let latency = started.elapsed();

    if cloud_id.is_none() && site.is_some() {
        // Best effort: the site works without it, and the endpoint is undocumented.
        cloud_id = client.tenant_info().await.ok().map(|t| t.cloud_id);
    }

    let missing_scopes = if target.route == AuthRoute::OAuth2 {
        requested_scopes
            .iter()
            .filter(|s| !UNLISTED_SCOPES.contains(&s.as_str()) && !granted_scopes.contains(s))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Ok(ProbeReport {
        reachable: true,
        account,
        site_url: ctx.site,
        cloud_id,
        granted_scopes,
        requested_scopes,
        missing_scopes,
        request,
        latency,
    })
}

/// The OAuth 2.0 scopes an OAuth 2.0 connection's token holds for the site: those it asked
/// for that accessible-resources lists as granted, and those it never lists. `None` for Basic
/// credentials, which OAuth 2.0 scopes do not limit.
fn held_scopes<'r>(
    target: &ProbeTarget<'_>,
    requested: &'r [String],
    granted: &[String],
) -> Option<Vec<&'r str>> {
    if target.route != AuthRoute::OAuth2 {
        return None;
    }
    Some(
        requested
            .iter()
            .filter(|s| UNLISTED_SCOPES.contains(&s.as_str()) || granted.contains(s))
            .map(String::as_str)
            .collect(),
    )
}

/// The resource of the connection's site: by cloud id, else by site URL, else the only one
/// (Customer Service Management connections have no subdomain).
fn choose_resource<'r>(
    resources: &'r [AccessibleResource],
    cloud_id: Option<&str>,
    site: Option<&Url>,
    api_type: ApiType,
) -> Option<&'r AccessibleResource> {
    if let Some(id) = cloud_id {
        return resources.iter().find(|r| r.id == id);
    }
    if let Some(site) = site {
        let wanted = site.as_str().trim_end_matches('/');
        return resources
            .iter()
            .find(|r| r.url.trim_end_matches('/').eq_ignore_ascii_case(wanted));
    }
    match (api_type, resources) {
        (ApiType::CustomerServiceManagement, [only]) => Some(only),
        _ => None,
    }
}

fn not_authorized_for_site(site: Option<&Url>, cloud_id: Option<&str>) -> ProbeFailure {
    let which = match (site, cloud_id) {
        (_, Some(id)) => format!("the site with cloud id {id}"),
        (Some(site), None) => site.as_str().trim_end_matches('/').to_owned(),
        (None, None) => "a site".to_owned(),
    };
    failure(
        ProbeFailureKind::NotAuthorized,
        format!("the authorization does not include {which}"),
        "authorize the connection again and choose this site on the consent page".to_owned(),
        None,
    )
}

/// A `self` link on another host means something other than the addressed Jira answered.
fn check_host(me: &Myself, client: &JiraClient) -> Result<(), ProbeFailure> {
    let Some(self_url) = me.extra.get("self").and_then(|v| v.as_str()) else {
        return Ok(());
    };
    let (Ok(answered), Some(asked)) = (Url::parse(self_url), client.base().platform.as_ref())
    else {
        return Ok(());
    };
    if answered.host_str() != asked.host_str()
        || answered.port_or_known_default() != asked.port_or_known_default()
    {
        return Err(failure(
            ProbeFailureKind::Misconfigured,
            format!(
                "the answer came from another host ({}) than the one asked ({})",
                answered.host_str().unwrap_or("unknown"),
                asked.host_str().unwrap_or("unknown")
            ),
            "a proxy or a wrong site URL setting sends requests elsewhere: check the subdomain, \
             the site URL template and any proxy"
                .to_owned(),
            None,
        ));
    }
    Ok(())
}

/// An answer that is not shaped the way Jira answers.
fn not_like_jira(ctx: &Context<'_>, what: &str) -> ProbeFailure {
    let where_ = if ctx.via_gateway {
        host_of(Some(&ctx.target.endpoints.api_gateway))
    } else {
        host_of(ctx.site.as_ref())
    };
    failure(
        ProbeFailureKind::Misconfigured,
        format!("{where_} answered, but not the way Jira does ({what})"),
        "check that the URLs point at Jira Cloud (or the jiralink simulator)".to_owned(),
        None,
    )
}

fn failure(
    kind: ProbeFailureKind,
    message: String,
    fix: String,
    status: Option<u16>,
) -> ProbeFailure {
    ProbeFailure {
        kind,
        message,
        fix,
        status,
        retry_after: None,
        missing_scope: None,
        request: None,
    }
}

fn host_of(url: Option<&Url>) -> String {
    url.and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the server".to_owned())
}

const SUBDOMAIN_FIX: &str =
    "check the subdomain: for https://demo.atlassian.net enter demo, and make sure the site exists";
const NEW_TOKEN: &str = "create a new API token (Atlassian account settings > Security > API \
                         tokens) and enter it in the connection";

/// Turns an error into a failure with a fix.
fn classify(error: &AtlassianError, ctx: &Context<'_>) -> ProbeFailure {
    let oauth = ctx.target.route == AuthRoute::OAuth2;
    let status = error.status();
    let where_ = if ctx.via_gateway {
        host_of(Some(&ctx.target.endpoints.api_gateway))
    } else {
        host_of(ctx.site.as_ref())
    };
    let site_text = ctx.site.as_ref().map_or_else(
        || where_.clone(),
        |s| s.as_str().trim_end_matches('/').to_owned(),
    );
    match error {
        AtlassianError::Transport { kind, .. } => match kind {
            TransportKind::Dns if !ctx.via_gateway => failure(
                ProbeFailureKind::UnknownSite,
                format!("the site host {where_} does not resolve"),
                SUBDOMAIN_FIX.to_owned(),
                None,
            ),
            TransportKind::Tls => failure(
                ProbeFailureKind::Tls,
                format!("the TLS certificate of {where_} is not trusted"),
                "if a proxy or the simulator uses its own certificate authority, add its CA file \
                 to jiralink's trusted CAs; otherwise check the system clock and that the URL \
                 points at Atlassian"
                    .to_owned(),
                None,
            ),
            TransportKind::Dns
            | TransportKind::Connect
            | TransportKind::Timeout
            | TransportKind::Reset
            | TransportKind::Other => failure(
                ProbeFailureKind::Network,
                format!("could not reach {where_}: {kind}"),
                "check the network connection, proxy and firewall; for the simulator, check that \
                 it is running and the port in the site URL template is right"
                    .to_owned(),
                None,
            ),
        },
        AtlassianError::NotFound { html: true, .. } => failure(
            ProbeFailureKind::UnknownSite,
            format!("there is no Jira site at {site_text}"),
            SUBDOMAIN_FIX.to_owned(),
            status,
        ),
        AtlassianError::NotFound { html: false, .. } if ctx.via_gateway => failure(
            ProbeFailureKind::UnknownSite,
            format!(
                "the API gateway does not know the site (cloud id {})",
                ctx.target.cloud_id.unwrap_or("unknown")
            ),
            "authorize the connection again so jiralink learns the site's current cloud id"
                .to_owned(),
            status,
        ),
        AtlassianError::NotFound { html: false, .. } => failure(
            ProbeFailureKind::Misconfigured,
            format!("{site_text} answered, but has no Jira REST API there"),
            "check the subdomain and the site URL template; a proxy may be in the way".to_owned(),
            status,
        ),
        AtlassianError::Unauthorized { hint } => {
            let hint_text = hint.as_deref().unwrap_or_default().to_ascii_lowercase();
            if hint_text.contains("scope does not match")
                && ctx.target.route == AuthRoute::BasicClassic
            {
                failure(
                    ProbeFailureKind::ScopedTokenOnSite,
                    "the API token is a scoped token, which works only through Atlassian's API \
                     gateway, not on the site"
                        .to_owned(),
                    "create a classic API token (Atlassian account settings > Security > \
                     Create API token, without scopes) and enter it in the connection, or use \
                     OAuth 2.0"
                        .to_owned(),
                    status,
                )
            } else if hint_text.contains("expired") {
                failure(
                    ProbeFailureKind::ExpiredCredentials,
                    "the credentials have expired".to_owned(),
                    if oauth {
                        "authorize the connection again".to_owned()
                    } else {
                        NEW_TOKEN.to_owned()
                    },
                    status,
                )
            } else if oauth {
                failure(
                    ProbeFailureKind::ExpiredCredentials,
                    "the access token was rejected and could not be refreshed (expired or \
                     revoked)"
                        .to_owned(),
                    "authorize the connection again".to_owned(),
                    status,
                )
            } else {
                failure(
                    ProbeFailureKind::WrongCredentials,
                    "Jira rejected the e-mail and API token: one of them is wrong, or the token \
                     has expired or been revoked"
                        .to_owned(),
                    format!(
                        "check that the username is the e-mail of your Atlassian account, then \
                         {NEW_TOKEN}"
                    ),
                    status,
                )
            }
        }
        AtlassianError::Forbidden {
            missing_scope,
            message,
        } => match missing_scope {
            Some(scope) => ProbeFailure {
                missing_scope: Some(scope.clone()),
                ..failure(
                    ProbeFailureKind::MissingScope,
                    format!("the token lacks a scope this request needs ({message})"),
                    if oauth {
                        format!(
                            "add the scope {scope} to the connection (and to the app in the \
                             Atlassian developer console), then authorize again"
                        )
                    } else {
                        format!(
                            "create an API token whose scopes include {scope}, or a classic \
                             token without scopes, and enter it in the connection"
                        )
                    },
                    status,
                )
            },
            None => failure(
                ProbeFailureKind::Forbidden,
                format!("the account may not use this API ({message})"),
                "ask a Jira administrator to give the account access to Jira (product access and \
                 the Browse users and groups permission)"
                    .to_owned(),
                status,
            ),
        },
        // Test connection sends no webhook operation; a caller classifying one gets the same
        // advice as for any missing scope.
        AtlassianError::WebhooksNotAllowed { message } => ProbeFailure {
            missing_scope: Some("manage:jira-webhook".to_owned()),
            ..failure(
                ProbeFailureKind::MissingScope,
                format!("jira refused to manage webhooks ({message})"),
                "use an OAuth 2.0 connection granted the scope manage:jira-webhook, then \
                 authorize again"
                    .to_owned(),
                status,
            )
        },
        AtlassianError::RateLimited {
            retry_after,
            reason,
            ..
        } => {
            let wait = retry_after.map_or_else(
                || "wait a minute".to_owned(),
                |d| format!("wait {} seconds", d.as_secs().max(1)),
            );
            ProbeFailure {
                retry_after: *retry_after,
                ..failure(
                    ProbeFailureKind::RateLimited,
                    format!(
                        "Jira is rate limiting this account{}",
                        reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                    format!(
                        "{wait} and test again; other jobs using this connection add to the limit"
                    ),
                    status,
                )
            }
        }
        AtlassianError::Redirect { location, .. } => failure(
            ProbeFailureKind::Misconfigured,
            format!(
                "{where_} redirected the request{}; Jira's APIs never redirect",
                location
                    .as_deref()
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default()
            ),
            "a proxy, a login page or a wrong URL is in the way: check the subdomain, the site \
             URL template and the API gateway setting"
                .to_owned(),
            status,
        ),
        AtlassianError::UnexpectedContent { content_type, .. } => failure(
            ProbeFailureKind::Misconfigured,
            format!("{where_} answered with {content_type} where Jira sends JSON"),
            "something other than Jira answered (a proxy, a captive portal or a wrong URL): check \
             the subdomain, the site URL template and the API gateway setting"
                .to_owned(),
            status,
        ),
        AtlassianError::ResponseTooLarge { .. } => failure(
            ProbeFailureKind::Misconfigured,
            format!("{where_} sent an answer larger than any Jira sends ({error})"),
            "something other than Jira answered: check the subdomain, the site URL template and \
             the API gateway setting"
                .to_owned(),
            status,
        ),
        AtlassianError::Decode { .. } => failure(
            ProbeFailureKind::Misconfigured,
            format!("{where_} answered, but not the way Jira does ({error})"),
            "check that the URLs point at Jira Cloud (or the jiralink simulator)".to_owned(),
            status,
        ),
        AtlassianError::Server { status: code, .. } => failure(
            ProbeFailureKind::ServerError,
            format!("Jira answered with a server error ({code})"),
            "Atlassian may be having problems: check https://status.atlassian.com and test again \
             later"
                .to_owned(),
            status,
        ),
        AtlassianError::NotAvailable { fix, .. } => failure(
            ProbeFailureKind::NotAuthorized,
            error.to_string(),
            (*fix).to_owned(),
            None,
        ),
        AtlassianError::Credentials { .. } => failure(
            ProbeFailureKind::NotAuthorized,
            error.to_string(),
            "authorize the connection again".to_owned(),
            None,
        ),
        AtlassianError::TokenUnavailable { .. } => failure(
            ProbeFailureKind::Unexpected,
            error.to_string(),
            "test again once the cause is fixed; the connection's authorization was not \
             touched"
                .to_owned(),
            None,
        ),
        AtlassianError::Client { .. } => failure(
            ProbeFailureKind::Tls,
            error.to_string(),
            "check the CA file given to jiralink".to_owned(),
            None,
        ),
        AtlassianError::BadRequest { .. }
        | AtlassianError::Conflict { .. }
        | AtlassianError::Gone { .. }
        | AtlassianError::UnexpectedStatus { .. }
        | AtlassianError::OAuth { .. }
        | AtlassianError::Ambiguous { .. } => failure(
            ProbeFailureKind::Unexpected,
            format!("the test request failed: {error}"),
            "open the connection debugger to see the exchange".to_owned(),
            status,
        ),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn resource(id: &str, url: &str) -> AccessibleResource {
        AccessibleResource {
            id: id.into(),
            name: id.into(),
            url: url.into(),
            scopes: vec![],
            avatar_url: None,
        }
    }

    #[test]
    fn resources_are_chosen_by_id_then_url_never_by_position() {
        let list = [
            resource("b", "https://other.atlassian.net"),
            resource("a", "https://demo.atlassian.net"),
        ];
        let site = Url::parse("https://demo.atlassian.net/").unwrap();
        let by_url = choose_resource(&list, None, Some(&site), ApiType::CloudPlatform).unwrap();
        assert_eq!(by_url.id, "a");
        assert_eq!(
            choose_resource(&list, Some("b"), Some(&site), ApiType::CloudPlatform)
                .unwrap()
                .id,
            "b"
        );
        assert!(choose_resource(&list, Some("zz"), None, ApiType::CloudPlatform).is_none());
        assert!(choose_resource(&list, None, None, ApiType::CustomerServiceManagement).is_none());
        assert_eq!(
            choose_resource(&list[..1], None, None, ApiType::CustomerServiceManagement)
                .unwrap()
                .id,
            "b"
        );
    }

    #[test]
    fn dns_failures_name_the_subdomain_on_the_site_and_the_network_on_the_gateway() {
        use jiralink_domain::{ConcurrencyLevel, ConnectionName, Email, Subdomain};
        let demo = Subdomain::from_label("demo").unwrap();
        let settings = ConnectionSettings {
            name: ConnectionName::parse("Jira").unwrap(),
            api_type: ApiType::CloudPlatform,
            subdomain: Some(demo.clone()),
            auth: ConnectionAuth::Basic {
                username: Email::parse("a@example.com").unwrap(),
            },
            concurrency_level: ConcurrencyLevel::default(),
            rate_limit: jiralink_domain::RateLimitHandling::default(),
        };
        let endpoints = AtlassianEndpoints::default();
        let target = ProbeTarget {
            settings: &settings,
            endpoints: &endpoints,
            route: AuthRoute::BasicClassic,
            cloud_id: None,
        };
        let dns = AtlassianError::Transport {
            kind: TransportKind::Dns,
            detail: "dns error".into(),
            request_sent: false,
        };
        let site = Context {
            target: &target,
            site: Some(endpoints.site_url(&demo)),
            via_gateway: false,
        };
        let f = classify(&dns, &site);
        assert_eq!(f.kind, ProbeFailureKind::UnknownSite);
        assert!(f.message.contains("demo.atlassian.net"), "{f}");
        let gateway = Context {
            via_gateway: true,
            ..site
        };
        let f = classify(&dns, &gateway);
        assert_eq!(f.kind, ProbeFailureKind::Network);
        assert!(f.message.contains("api.atlassian.com"), "{f}");
    }

    #[test]
    fn failures_display_message_and_fix() {
        let f = failure(ProbeFailureKind::Network, "m".into(), "f".into(), None);
        assert_eq!(f.to_string(), "m; f");
    }

    #[test]
    fn every_request_is_the_operation_it_names() {
        for request in ProbeRequest::ALL {
            let op = operation_of(request);
            let prefix = match (op.api, request.api()) {
                (crate::Api::Platform, jiralink_domain::ProbeApi::Platform) => "/rest/api/3",
                (crate::Api::Csm, jiralink_domain::ProbeApi::Csm) => "/api/v1",
                other => panic!("{request}: {other:?}"),
            };
            assert_eq!(
                request.label(),
                format!("{} {prefix}{}", op.method, op.path),
                "{request:?}"
            );
        }
    }
}
