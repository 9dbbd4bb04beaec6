//! When an OAuth 2.0 connection's tokens are refreshed, how often a refresh without an answer
//! is sent again, what a refused refresh leaves behind, and what disconnect removes; against
//! the simulator (and, for an unreadable answer, a relay in front of its token endpoint).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiralink_app::{AppError, TestResult};
use jiralink_atlassian::AtlassianError;
use jiralink_domain::ConnectionState;
use jiralink_sim::{Sim, SimConfig};
use jiralink_vault::AccessToken;
use pretty_assertions::assert_eq;

use crate::actor;
use crate::connection_test::fixture_with_auth_server;
use crate::oauth::{
    add_oauth, advance_both, authorize, authorized_cloud, browse, no_choice, set_client_secret,
    token_requests, with_sim_client,
};

/// Jira answers 401 to a valid-looking access token (the grant was revoked at Atlassian):
/// the 401 stands. No refresh is sent, neither for the call nor after it, and the request is
/// not sent again, because no other caller stored a newer token meanwhile.
#[tokio::test]
async fn a_rejected_access_token_sends_no_refresh() {
    let (f, id) = authorized_cloud().await;
    let client = f.app.jira_client("cloud").await.unwrap();
    client.myself().await.unwrap();
    f.sim.control().revoke_grants(None, None);
    f.sim.control().clear_requests();

    let err = client.myself().await.unwrap_err();
    assert!(matches!(err, AtlassianError::Unauthorized { .. }), "{err}");
    let paths: Vec<_> = f
        .sim
        .control()
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(paths.len(), 1, "one API request, nothing else: {paths:?}");
    assert_eq!(paths[0].1, Some(401), "{paths:?}");
    assert_eq!(token_requests(&f), 0);
    assert!(f.app.connection_has_tokens(id).await.unwrap());

    // What the client asks after a 401: whether another token is stored already. For the
    // stored token the answer is no; for an older one yes (another caller replaced it). The
    // question itself sends nothing.
    let source = f.app.token_source(id);
    let current = f.app.connection_access_token(id).await.unwrap();
    assert!(!source.rejected(&current).await.unwrap());
    assert!(
        source
            .rejected(&AccessToken::new("replaced-meanwhile"))
            .await
            .unwrap()
    );
    assert_eq!(token_requests(&f), 0);
    assert_eq!(f.sim.control().requests().len(), 1, "nothing more was sent");
}

/// `invalid_grant` on a refresh deletes the tokens; a refused client (`invalid_client`, the
/// simulator's answer to a wrong client secret) keeps them as they were.
#[tokio::test]
async fn invalid_grant_deletes_the_tokens_and_a_refused_client_keeps_them() {
    let (f, id) = authorized_cloud().await;
    let stored = f.app.store().read_tokens(id).await.unwrap();
    let sealed_refresh = stored.refresh_token.unwrap().sealed;

    set_client_secret(&f, "not-the-secret").await;
    advance_both(&f, Duration::from_secs(3600));
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(matches!(err, AppError::OAuthClientRejected { .. }), "{err}");
    assert!(f.app.connection_has_tokens(id).await.unwrap());
    let kept = f.app.store().read_tokens(id).await.unwrap();
    assert_eq!(
        kept.refresh_token.unwrap().sealed.to_text(),
        sealed_refresh.to_text(),
        "the refresh token is kept as it was"
    );
    assert!(kept.access_token.is_some());

    // The client fixed, but the grant revoked: Atlassian answers invalid_grant.
    f.clock.advance(Duration::from_secs(1));
    set_client_secret(&f, &f.sim.samples().oauth_client_secret.clone()).await;
    f.sim.control().revoke_grants(None, None);
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(
        matches!(err, AppError::ReauthorizationRequired { .. }),
        "{err}"
    );
    assert!(!f.app.connection_has_tokens(id).await.unwrap());
    let gone = f.app.store().read_tokens(id).await.unwrap();
    assert!(gone.refresh_token.is_none() && gone.access_token.is_none());
}

/// The access token is refreshed within 60 seconds of its expiry, by the injected clock:
/// at 61 seconds before it is handed out as it is, at 59 seconds it is refreshed.
#[tokio::test]
async fn the_access_token_is_refreshed_within_sixty_seconds_of_expiry_only() {
    let (f, id) = authorized_cloud().await;
    let record = f.app.store().read_tokens(id).await.unwrap();
    let expires = record.access_token_expires_at.unwrap();
    let before = token_requests(&f);

    f.clock.set(expires - time::Duration::seconds(61));
    let first = f.app.connection_access_token(id).await.unwrap();
    assert_eq!(token_requests(&f), before, "61 s before expiry: no refresh");

    f.clock.set(expires - time::Duration::seconds(59));
    let second = f.app.connection_access_token(id).await.unwrap();
    assert_eq!(
        token_requests(&f),
        before + 1,
        "59 s before expiry: refreshed"
    );
    assert!(!second.ct_eq(&first));
}

/// A refresh that gets no answer is sent again three times, 250 ms, 500 ms and 1 s apart on
/// the injected clock, and then left pending; never a fifth time.
#[tokio::test]
async fn an_unanswered_refresh_is_sent_again_after_250_ms_500_ms_and_1_s() {
    let (f, id) = authorized_cloud().await;
    let mark = f.clock.waits().len();
    advance_both(&f, Duration::from_secs(3600));
    let before = token_requests(&f);
    f.sim.control().fail_next(5, 503, None);

    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(matches!(err, AppError::TokenRefresh(_)), "{err}");
    assert_eq!(
        token_requests(&f),
        before + 4,
        "the first request and three more"
    );
    assert_eq!(
        f.clock.waits().split_off(mark),
        vec![
            Duration::from_millis(250),
            Duration::from_millis(500),
            Duration::from_secs(1),
        ]
    );
    let record = f.app.store().read_tokens(id).await.unwrap();
    assert!(record.refresh_pending_since.is_some());
    assert!(f.app.connection_has_tokens(id).await.unwrap());
    f.sim.control().clear_faults();
}

/// `connection disconnect` deletes an authorization begun and not finished: its callback is
/// refused afterwards and its code is never exchanged.
#[tokio::test]
async fn disconnect_deletes_a_pending_authorization() {
    let (f, id) = authorized_cloud().await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    assert!(
        f.app
            .disconnect_connection("cloud", &actor())
            .await
            .unwrap()
    );
    let params = browse(&f, &start.url, &[]).await;
    let before = token_requests(&f);
    let err = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::OAuthStateInvalid), "{err}");
    assert_eq!(token_requests(&f), before, "the code is never exchanged");
    assert!(!f.app.connection_has_tokens(id).await.unwrap());
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );
}

/// Stands between the application and the simulator's authorization server: passes every
/// request on and, when told to, replaces the answer of the next refresh (which the simulator
/// did carry out) with half of its body.
#[derive(Clone)]
struct Relay {
    upstream: String,
    http: reqwest::Client,
    cut_next_refresh: Arc<AtomicBool>,
    /// The refresh token of every refresh request, in order.
    refresh_tokens: Arc<Mutex<Vec<String>>>,
}

async fn relay(
    State(relay): State<Relay>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = format!(
        "{}{}",
        relay.upstream,
        uri.path_and_query().map_or("/", |pq| pq.as_str())
    );
    let mut request = relay
        .http
        .request(
            reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
            target,
        )
        .body(body.to_vec());
    for name in [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name.as_str(), value.to_str().unwrap());
        }
    }
    let answer = request.send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut out = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::LOCATION] {
        if let Some(value) = answer.headers().get(name.as_str()) {
            out.insert(name, value.to_str().unwrap().parse().unwrap());
        }
    }
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    let refresh = (uri.path() == "/oauth/token")
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten()
        .filter(|b| b["grant_type"] == "refresh_token");
    if let Some(request) = refresh {
        let token = request["refresh_token"].as_str().unwrap().to_owned();
        relay.refresh_tokens.lock().unwrap().push(token);
        if relay.cut_next_refresh.swap(false, Ordering::SeqCst) {
            assert_eq!(status, StatusCode::OK, "the simulator refreshed");
            bytes.truncate(bytes.len() / 2);
        }
    }
    (status, out, bytes).into_response()
}

/// A refresh answered with an unreadable body (Atlassian did rotate the token) is a lost
/// answer: the same refresh token is sent again, within Atlassian's reuse leeway, and the
/// connection goes on with the family's current tokens.
#[tokio::test]
async fn a_refresh_answered_with_an_unreadable_body_is_sent_again_with_the_same_token() {
    let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
    let upstream = sim.auth_server().trim_end_matches('/').to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url = format!("http://{}", listener.local_addr().unwrap());
    let f = with_sim_client(fixture_with_auth_server(sim, &relay_url).await).await;
    let state = Relay {
        upstream,
        // The application's own client: it follows no redirect, so the consent's redirect
        // reaches the caller as it was sent.
        http: f.app.http_client().clone(),
        cut_next_refresh: Arc::new(AtomicBool::new(false)),
        refresh_tokens: Arc::new(Mutex::new(Vec::new())),
    };
    let router = axum::Router::new()
        .fallback(relay)
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    authorize(&f, "cloud").await;
    let mark = f.clock.waits().len();
    advance_both(&f, Duration::from_secs(3600));
    state.cut_next_refresh.store(true, Ordering::SeqCst);
    let before = token_requests(&f);

    f.app.connection_access_token(id).await.unwrap();
    assert!(!state.cut_next_refresh.load(Ordering::SeqCst), "cut once");
    assert_eq!(token_requests(&f), before + 2);
    let sent = state.refresh_tokens.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "sent again with the same refresh token");
    assert_eq!(
        f.clock.waits().split_off(mark),
        vec![Duration::from_millis(250)]
    );
    let record = f.app.store().read_tokens(id).await.unwrap();
    assert_eq!(record.refresh_pending_since, None);

    // What was stored is the family's current refresh token: the next refresh works and
    // presents a token other than the one sent twice.
    advance_both(&f, Duration::from_secs(3600));
    f.app.connection_access_token(id).await.unwrap();
    let sent = state.refresh_tokens.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    assert_ne!(sent[2], sent[0]);
    let test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(test.result, TestResult::Passed, "{}", test.summary());
}
