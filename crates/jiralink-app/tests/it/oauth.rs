//! OAuth 2.0 (3LO) against the simulator: authorize, callback, refresh rotation,
//! single-flight, the lost-response window and disconnect. Both clocks are manual.

use std::sync::Arc;
use std::time::Duration;

use jiralink_app::{AppError, CallbackParams, ConnectionSecrets, OAuthClientSecrets, TestResult};
use jiralink_domain::{ConnectionDraft, ConnectionId, ConnectionState, OAuthClientDraft};
use jiralink_vault::ClientSecret;
use pretty_assertions::assert_eq;

use crate::actor;
use crate::connection_test::{Fixture, fixture};

const SCOPES: [&str; 3] = ["read:jira-work", "read:jira-user", "read:me"];

pub(crate) async fn oauth_fixture() -> Fixture {
    with_sim_client(fixture().await).await
}

/// `f` with the simulator's OAuth 2.0 app as the client "Sim app", approving by itself.
pub(crate) async fn with_sim_client(f: Fixture) -> Fixture {
    f.sim
        .control()
        .update_knobs(|k| k.auto_approve = true)
        .unwrap();
    let samples = f.sim.samples();
    f.app
        .create_oauth_client(
            &OAuthClientDraft {
                name: Some("Sim app".to_owned()),
                client_id: Some(samples.oauth_client_id.clone()),
                client_secret: jiralink_domain::SecretEntry::Missing,
            },
            OAuthClientSecrets {
                client_secret: Some(ClientSecret::new(samples.oauth_client_secret.clone())),
            },
            &actor(),
        )
        .await
        .unwrap();
    f
}

pub(crate) async fn add_oauth(f: &Fixture, name: &str, api_type: &str) -> ConnectionId {
    let draft = ConnectionDraft {
        name: Some(name.to_owned()),
        api_type: Some(api_type.to_owned()),
        subdomain: (api_type == "cloud-platform").then(|| "demo".to_owned()),
        auth_type: (api_type == "cloud-platform").then(|| "oauth2".to_owned()),
        oauth_client: Some("Sim app".to_owned()),
        scopes: if api_type == "cloud-platform" {
            SCOPES.iter().map(|s| (*s).to_owned()).collect()
        } else {
            vec!["read:customer:jira-service-management".to_owned()]
        },
        ..ConnectionDraft::default()
    };
    let view = f
        .app
        .create_connection(&draft, ConnectionSecrets::default(), &actor())
        .await
        .unwrap()
        .value;
    view.id.parse().unwrap()
}

/// Follows the authorize URL (the simulator auto-approves) and returns the callback query.
pub(crate) async fn browse(f: &Fixture, url: &url::Url, extra: &[(&str, &str)]) -> CallbackParams {
    let mut url = url.clone();
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    let res = f.app.http_client().get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302, "authorize should redirect");
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/connection/oauth2callback");
    CallbackParams::from_query(location.query().unwrap_or_default())
}

pub(crate) fn no_choice(_: &[jiralink_app::GrantedSite]) -> Option<usize> {
    None
}

pub(crate) async fn authorize(f: &Fixture, name: &str) {
    let start = f.app.begin_authorization(name).await.unwrap();
    let params = browse(f, &start.url, &[]).await;
    f.app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap();
}

/// The OAuth 2.0 fixture with the Cloud Platform connection "Cloud", authorized.
pub(crate) async fn authorized_cloud() -> (Fixture, ConnectionId) {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    authorize(&f, "cloud").await;
    (f, id)
}

pub(crate) fn token_requests(f: &Fixture) -> usize {
    f.sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .count()
}

pub(crate) fn advance_both(f: &Fixture, by: Duration) {
    f.clock.advance(by);
    f.sim.control().advance(by);
}

#[tokio::test]
async fn full_flow_from_authorize_url_to_an_api_call() {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    let q: Vec<(String, String)> = start.url.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("audience").as_deref(), Some("api.atlassian.com"));
    assert_eq!(
        get("client_id"),
        Some(f.sim.samples().oauth_client_id.clone())
    );
    let scope = get("scope").unwrap();
    assert!(scope.ends_with("offline_access"), "{scope}");
    for s in SCOPES {
        assert!(scope.split(' ').any(|x| x == s), "{scope}");
    }
    assert_eq!(
        get("redirect_uri").as_deref(),
        Some("http://127.0.0.1:8080/connection/oauth2callback")
    );
    assert_eq!(get("response_type").as_deref(), Some("code"));
    assert_eq!(get("prompt").as_deref(), Some("consent"));
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert!(get("state").unwrap().len() >= 22, "at least 128 bits");
    assert_eq!(
        start.state_expires_at,
        f.app.now() + time::Duration::minutes(10)
    );

    let params = browse(&f, &start.url, &[]).await;
    let outcome = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap();
    let demo = f.sim.control().site("demo").unwrap();
    assert_eq!(outcome.cloud_id, demo.cloud_id.to_string());
    assert_eq!(outcome.state, ConnectionState::Online);
    assert_eq!(outcome.missing_scopes, Vec::<String>::new());
    let view = f.app.get_connection("cloud").await.unwrap();
    assert_eq!(view.state, ConnectionState::Online);
    assert_eq!(view.cloud_id.as_deref(), Some(outcome.cloud_id.as_str()));

    // The test goes through the gateway with the bearer token and the cloud id.
    let test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(test.result, TestResult::Passed, "{}", test.summary());
    assert_eq!(
        test.account.unwrap().email.as_deref(),
        Some("alice@example.com")
    );
    assert!(f.sim.control().requests().iter().any(|r| {
        r.path
            .starts_with(&format!("/ex/jira/{}/rest/api/3/myself", demo.cloud_id))
    }));
    f.app.usable_connection(&id.to_string()).await.unwrap();
}

/// Another jiralink (another data directory) on the same simulator, with an OAuth 2.0
/// connection named `name` to authorize.
async fn other_installation(f: &Fixture, name: &str) -> (tempfile::TempDir, jiralink_app::App) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        f.app.data_dir().join("jiralink.toml"),
        dir.path().join("jiralink.toml"),
    )
    .unwrap();
    let app = jiralink_app::App::open(jiralink_app::OpenOptions {
        data_dir: dir.path().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(f.clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    let samples = f.sim.samples();
    app.create_oauth_client(
        &OAuthClientDraft {
            name: Some("Sim app".to_owned()),
            client_id: Some(samples.oauth_client_id.clone()),
            client_secret: jiralink_domain::SecretEntry::Missing,
        },
        OAuthClientSecrets {
            client_secret: Some(ClientSecret::new(samples.oauth_client_secret.clone())),
        },
        &actor(),
    )
    .await
    .unwrap();
    let draft = ConnectionDraft {
        name: Some(name.to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("oauth2".to_owned()),
        oauth_client: Some("Sim app".to_owned()),
        scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        ..ConnectionDraft::default()
    };
    app.create_connection(&draft, ConnectionSecrets::default(), &actor())
        .await
        .unwrap();
    (dir, app)
}

/// `state` is required, single-use, bound to this installation's pending authorization and
/// short-lived: anything else is refused before the code is sent anywhere (no token request)
/// and stores nothing.
#[tokio::test]
async fn wrong_replayed_and_expired_state_are_refused() {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    let params = browse(&f, &start.url, &[]).await;
    let tokens_before = token_requests(&f);
    let refused = async |p: &CallbackParams, what: &str| {
        let err = f
            .app
            .complete_authorization(p, &no_choice, &actor())
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::OAuthStateInvalid), "{what}: {err}");
        assert_eq!(err.code(), "oauth_state_invalid");
        assert!(!f.app.connection_has_tokens(id).await.unwrap(), "{what}");
    };

    let mut wrong = params.clone();
    wrong.state = Some("not-the-state".to_owned());
    refused(&wrong, "unknown").await;
    let mut missing = params.clone();
    missing.state = None;
    refused(&missing, "missing").await;
    let mut empty = params.clone();
    empty.state = Some(String::new());
    refused(&empty, "empty").await;
    // A state another jiralink issued (its own pending authorization, at the same Atlassian
    // app): unknown here.
    let (_other_dir, other) = other_installation(&f, "Cloud").await;
    let foreign = other.begin_authorization("cloud").await.unwrap();
    let foreign_params = browse(&f, &foreign.url, &[]).await;
    refused(&foreign_params, "another installation's").await;
    let mut mixed = params.clone();
    mixed.state = foreign_params.state.clone();
    refused(&mixed, "another installation's, with this code").await;
    assert_eq!(token_requests(&f), tokens_before, "no code was exchanged");
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );

    f.app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap();
    assert_eq!(token_requests(&f), tokens_before + 1);
    let replay = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(matches!(replay, AppError::OAuthStateInvalid), "{replay}");
    assert_eq!(
        token_requests(&f),
        tokens_before + 1,
        "replayed: no exchange"
    );

    let start = f.app.begin_authorization("cloud").await.unwrap();
    let params = browse(&f, &start.url, &[]).await;
    f.clock.advance(Duration::from_secs(10 * 60 + 1));
    let expired = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(matches!(expired, AppError::OAuthStateInvalid), "{expired}");
    assert_eq!(
        token_requests(&f),
        tokens_before + 1,
        "expired: no exchange"
    );
}

/// The sealed token rows of connection `id`.
async fn stored_tokens(f: &Fixture, id: ConnectionId) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for field in [
        jiralink_store::SecretField::AccessToken,
        jiralink_store::SecretField::RefreshToken,
    ] {
        out.push(
            f.app
                .store()
                .get_secret(jiralink_store::SecretOwner::Connection(id), field)
                .await
                .unwrap()
                .map(|s| s.sealed.to_text()),
        );
    }
    out
}

/// An authorization code used once is refused by Atlassian the second time (with a fresh,
/// valid `state`): jiralink reports it and stores nothing, whether the code was first used
/// by jiralink itself or by someone who intercepted it.
#[tokio::test]
async fn a_replayed_authorization_code_is_refused_and_nothing_is_stored() {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    let first = browse(
        &f,
        &f.app.begin_authorization("cloud").await.unwrap().url,
        &[],
    )
    .await;
    let second = f.app.begin_authorization("cloud").await.unwrap();
    f.app
        .complete_authorization(&first, &no_choice, &actor())
        .await
        .unwrap();
    let tokens = stored_tokens(&f, id).await;
    assert!(tokens.iter().all(Option::is_some));
    let state = second
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let replay = CallbackParams {
        state: Some(state),
        ..first.clone()
    };
    let before = token_requests(&f);
    let err = f
        .app
        .complete_authorization(&replay, &no_choice, &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_failed", "{err}");
    assert!(err.to_string().contains("already used"), "{err}");
    assert_eq!(token_requests(&f), before + 1, "one refused exchange");
    assert_eq!(stored_tokens(&f, id).await, tokens, "the first tokens stay");
    let test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(test.result, TestResult::Passed, "{}", test.summary());

    // Used first by someone else, at Atlassian's token endpoint: jiralink's exchange fails and
    // the connection stays unauthorized.
    let other = add_oauth(&f, "Cloud two", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud two").await.unwrap();
    let params = browse(&f, &start.url, &[]).await;
    let samples = f.sim.samples();
    let stolen = f
        .app
        .http_client()
        .post(format!(
            "{}/oauth/token",
            f.sim.auth_server().as_str().trim_end_matches('/')
        ))
        .json(&serde_json::json!({
            "grant_type": "authorization_code",
            "client_id": samples.oauth_client_id,
            "client_secret": samples.oauth_client_secret,
            "code": params.code,
            "redirect_uri": "http://127.0.0.1:8080/connection/oauth2callback",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status().as_u16(), 200);
    let err = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "oauth_failed", "{err}");
    assert!(err.to_string().contains("already used"), "{err}");
    assert_eq!(stored_tokens(&f, other).await, vec![None, None]);
    assert_eq!(
        f.app.get_connection("cloud two").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );
}

#[tokio::test]
async fn provider_errors_and_expired_codes_are_reported_plainly() {
    let f = oauth_fixture().await;
    add_oauth(&f, "Cloud", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    let state = start
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = CallbackParams {
        state: Some(state),
        error: Some("access_denied".to_owned()),
        error_description: Some("User did not authorize the request".to_owned()),
        ..CallbackParams::default()
    };
    let err = f
        .app
        .complete_authorization(&denied, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("access_denied"), "{err}");
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );

    let start = f.app.begin_authorization("cloud").await.unwrap();
    let params = browse(&f, &start.url, &[]).await;
    // The code expires on Atlassian's clock after ten minutes; the state is still fresh.
    f.sim.control().advance(Duration::from_secs(11 * 60));
    let err = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(err.code(), "oauth_failed");
}

#[tokio::test]
async fn a_site_the_user_did_not_grant_is_named() {
    let f = oauth_fixture().await;
    add_oauth(&f, "Cloud", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    let params = browse(&f, &start.url, &[("sim_site", "acme")]).await;
    let err = f
        .app
        .complete_authorization(&params, &no_choice, &actor())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::SiteNotGranted { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(f.sim.site_url("demo").as_str().trim_end_matches('/')),
        "{text}"
    );
    assert!(text.contains("acme"), "{text}");
}

#[tokio::test]
async fn customer_service_management_lets_the_user_choose_among_sites() {
    let f = oauth_fixture().await;
    add_oauth(&f, "Csm", "csm").await;
    for site in ["demo", "acme"] {
        let start = f.app.begin_authorization("csm").await.unwrap();
        let params = browse(&f, &start.url, &[("sim_site", site)]).await;
        let result = f
            .app
            .complete_authorization(&params, &no_choice, &actor())
            .await;
        if site == "acme" {
            // Both sites are now granted and nobody chose.
            let err = result.unwrap_err();
            assert!(matches!(err, AppError::SiteChoiceNeeded { .. }), "{err}");
        }
    }
    let start = f.app.begin_authorization("csm").await.unwrap();
    let params = browse(&f, &start.url, &[("sim_site", "acme")]).await;
    let pick_acme = |sites: &[jiralink_app::GrantedSite]| {
        sites.iter().position(|s| s.url.ends_with("/site/acme"))
    };
    let outcome = f
        .app
        .complete_authorization(&params, &pick_acme, &actor())
        .await
        .unwrap();
    assert_eq!(
        outcome.cloud_id,
        f.sim.control().site("acme").unwrap().cloud_id.to_string()
    );
}

#[tokio::test]
async fn refresh_rotates_over_many_refreshes_before_expiry() {
    let (f, id) = authorized_cloud().await;
    let before = token_requests(&f);
    let first = f.app.connection_access_token(id).await.unwrap();
    assert_eq!(token_requests(&f), before, "a fresh token is not refreshed");

    let mut previous = first;
    for _ in 0..25 {
        // Within the refresh margin of the one-hour lifetime, not after it.
        advance_both(&f, Duration::from_secs(3600 - 30));
        let next = f.app.connection_access_token(id).await.unwrap();
        assert!(!next.ct_eq(&previous));
        previous = next;
    }
    assert_eq!(token_requests(&f), before + 25);
    let test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(test.result, TestResult::Passed, "{}", test.summary());
}

#[tokio::test]
async fn fifty_concurrent_calls_with_an_expired_token_make_one_token_request() {
    let f = oauth_fixture().await;
    add_oauth(&f, "Cloud", "cloud-platform").await;
    authorize(&f, "cloud").await;
    advance_both(&f, Duration::from_secs(2 * 3600));
    let before = token_requests(&f);
    let client = f.app.jira_client("cloud").await.unwrap();
    let calls = (0..50).map(|_| client.myself());
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(token_requests(&f), before + 1);
}

#[tokio::test]
async fn a_revoked_grant_takes_the_connection_offline_without_retrying() {
    let (f, id) = authorized_cloud().await;
    f.sim.control().revoke_grants(None, None);
    advance_both(&f, Duration::from_secs(3600));
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(
        matches!(err, AppError::ReauthorizationRequired { .. }),
        "{err}"
    );
    let view = f.app.get_connection("cloud").await.unwrap();
    assert_eq!(
        view.state,
        ConnectionState::Offline {
            reason: jiralink_app::REAUTHORIZATION_REQUIRED.to_owned()
        }
    );
    let before = token_requests(&f);
    assert!(f.app.connection_access_token(id).await.is_err());
    assert_eq!(token_requests(&f), before, "invalid_grant is never retried");
    assert!(f.app.usable_connection("cloud").await.is_err());
    // Authorizing again brings it back.
    authorize(&f, "cloud").await;
    f.app.connection_access_token(id).await.unwrap();
}

/// Makes the next save of a refresh token fail, as a crash between the token response and
/// the commit would, with a trigger on the secrets table.
async fn break_token_saves(f: &Fixture, broken: bool) {
    let path = f.app.data_dir().join("jiralink.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts)
        .await
        .unwrap();
    let sql = if broken {
        "CREATE TRIGGER lose_refresh BEFORE UPDATE ON secrets WHEN NEW.field = 'refresh_token' \
         BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
    } else {
        "DROP TRIGGER lose_refresh"
    };
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_lost_token_response_is_recovered_within_the_leeway_only() {
    for (wait, recovers) in [
        (Duration::from_secs(9 * 60), true),
        (Duration::from_secs(11 * 60), false),
    ] {
        let (f, id) = authorized_cloud().await;
        advance_both(&f, Duration::from_secs(3600));
        break_token_saves(&f, true).await;
        let before = token_requests(&f);
        assert!(f.app.connection_access_token(id).await.is_err());
        assert_eq!(
            token_requests(&f),
            before + 1,
            "Atlassian rotated the token"
        );
        break_token_saves(&f, false).await;

        f.sim.control().advance(wait);
        let result = f.app.connection_access_token(id).await;
        let state = f.app.get_connection("cloud").await.unwrap().state;
        if recovers {
            result.unwrap();
            assert_eq!(state, ConnectionState::Online);
            // And the family keeps rotating afterwards.
            advance_both(&f, Duration::from_secs(3600));
            f.app.connection_access_token(id).await.unwrap();
        } else {
            assert!(matches!(
                result,
                Err(AppError::ReauthorizationRequired { .. })
            ));
            assert_eq!(
                state,
                ConnectionState::Offline {
                    reason: jiralink_app::REAUTHORIZATION_REQUIRED.to_owned()
                }
            );
        }
    }
}

#[tokio::test]
async fn moving_an_authorized_connection_to_another_site_needs_authorization_again() {
    let (f, id) = authorized_cloud().await;
    assert!(f.app.connection_has_tokens(id).await.unwrap());

    // Renaming keeps the grant: the tokens are not about the name.
    let (current, mut draft) = f.app.connection_draft("cloud").await.unwrap();
    draft.name = Some("Cloud renamed".to_owned());
    let saved = f
        .app
        .update_connection(
            "cloud",
            current.version,
            &draft,
            ConnectionSecrets::default(),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(saved.value.state, ConnectionState::Online);
    assert!(f.app.connection_has_tokens(id).await.unwrap());

    // Another site is another grant.
    draft.subdomain = Some("other".to_owned());
    let saved = f
        .app
        .update_connection(
            "cloud renamed",
            saved.value.version,
            &draft,
            ConnectionSecrets::default(),
            &actor(),
        )
        .await
        .unwrap();
    assert_eq!(saved.value.state, ConnectionState::NeedsAuthorization);
    assert!(
        saved
            .notices
            .iter()
            .any(|n| n.contains("authorize the connection again")),
        "{:?}",
        saved.notices
    );
    assert!(!f.app.connection_has_tokens(id).await.unwrap());
}

#[tokio::test]
async fn disconnect_forgets_the_tokens() {
    let (f, id) = authorized_cloud().await;
    assert!(f.app.connection_has_tokens(id).await.unwrap());
    assert!(
        f.app
            .disconnect_connection("cloud", &actor())
            .await
            .unwrap()
    );
    assert!(!f.app.connection_has_tokens(id).await.unwrap());
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );
    let test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(test.result, TestResult::NeedsAuthorization);
    assert!(
        !f.app
            .disconnect_connection("cloud", &actor())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn tokens_and_client_secret_never_reach_the_database_or_errors() {
    let (f, id) = authorized_cloud().await;
    let access = f.app.connection_access_token(id).await.unwrap();
    let secret = f.sim.samples().oauth_client_secret.clone();
    f.sim.control().revoke_grants(None, None);
    advance_both(&f, Duration::from_secs(3600));
    let err = f.app.connection_access_token(id).await.unwrap_err();
    let texts = [
        err.to_string(),
        format!("{err:?}"),
        format!("{:?}", f.app.get_connection("cloud").await.unwrap()),
        format!("{access:?}"),
    ];
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(f.app.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            raw.extend(std::fs::read(path).unwrap());
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    for needle in [access.expose(), secret.as_str()] {
        assert!(!raw.contains(needle), "a secret is in the data directory");
        for t in &texts {
            assert!(!t.contains(needle), "{t}");
        }
    }
}

#[tokio::test]
async fn a_refresh_that_fails_on_the_way_leaves_the_connection_online() {
    let (f, id) = authorized_cloud().await;
    advance_both(&f, Duration::from_secs(2 * 3600));
    let before = token_requests(&f);
    f.sim.control().fail_next(1, 503, None);
    let test = f.app.test_connection("cloud").await.unwrap();
    assert!(token_requests(&f) > before, "the test refreshed the token");
    if let Some(failure) = &test.failure {
        assert!(!failure.takes_offline, "{failure:?}");
        assert_ne!(failure.kind, "not_authorized", "{failure:?}");
    }
    assert_eq!(test.state, Some(ConnectionState::Online));
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::Online
    );
    f.app.usable_connection("cloud").await.unwrap();

    // Straight from the application, the same failure keeps its server-error kind once the
    // attempts under the lock are used up.
    f.sim.control().fail_next(4, 503, None);
    advance_both(&f, Duration::from_secs(2 * 3600));
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AppError::TokenRefresh(jiralink_atlassian::AtlassianError::Server { status: 503, .. })
        ),
        "{err}"
    );
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::Online
    );
    f.app.connection_access_token(id).await.unwrap();
}

#[tokio::test]
async fn a_never_authorized_or_disconnected_connection_needs_authorization() {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(
        matches!(err, AppError::ConnectionNeedsAuthorization { .. }),
        "{err}"
    );
    assert_eq!(err.code(), "connection_needs_authorization");
    let err = f.app.jira_client("cloud").await.unwrap_err();
    assert_eq!(err.code(), "connection_needs_authorization", "{err}");

    authorize(&f, "cloud").await;
    f.app
        .disconnect_connection("cloud", &actor())
        .await
        .unwrap();
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert_eq!(err.code(), "connection_needs_authorization", "{err}");
    let err = f.app.jira_client("cloud").await.unwrap_err();
    assert_eq!(err.code(), "connection_needs_authorization", "{err}");
}

fn callback_with_error(state: &str, error: &str) -> CallbackParams {
    CallbackParams {
        state: Some(state.to_owned()),
        error: Some(error.to_owned()),
        error_description: Some("described".to_owned()),
        ..CallbackParams::default()
    }
}

#[tokio::test]
async fn only_access_denied_at_the_callback_means_the_user_declined() {
    let f = oauth_fixture().await;
    add_oauth(&f, "Cloud", "cloud-platform").await;
    for (error, code, retryable) in [
        ("access_denied", "oauth_access_denied", false),
        ("server_error", "oauth_provider_unavailable", true),
        (
            "temporarily_unavailable",
            "oauth_provider_unavailable",
            true,
        ),
        ("invalid_scope", "oauth_failed", false),
        ("MARKER-made-up-code", "oauth_failed", false),
    ] {
        let start = f.app.begin_authorization("cloud").await.unwrap();
        let state = start
            .url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let err = f
            .app
            .complete_authorization(&callback_with_error(&state, error), &no_choice, &actor())
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{error}: {err}");
        assert_eq!(err.error_code().retryable, retryable, "{error}");
        let text = err.to_string();
        // Only RFC 6749's codes are repeated: the callback's query is the browser's to set.
        assert_eq!(text.contains(error), !error.starts_with("MARKER"), "{text}");
        assert!(!text.contains("described"), "{text}");
        assert_eq!(
            text.contains("in a few minutes"),
            code == "oauth_provider_unavailable",
            "{text}"
        );
        assert_eq!(
            f.app.get_connection("cloud").await.unwrap().state,
            ConnectionState::NeedsAuthorization
        );
    }
}

#[tokio::test]
async fn a_refresh_without_an_answer_is_sent_again_under_the_lock() {
    let (f, id) = authorized_cloud().await;
    // The waits slept on the application's clock from here on.
    let mark = f.clock.waits().len();
    let waited = || f.clock.waits().split_off(mark);
    advance_both(&f, Duration::from_secs(3600));
    let before = token_requests(&f);
    f.sim.control().fail_next(2, 503, None);
    f.app.connection_access_token(id).await.unwrap();
    assert_eq!(token_requests(&f), before + 3, "two 503s, then the answer");
    assert_eq!(waited(), jiralink_app::REFRESH_RETRY_WAITS[..2].to_vec());
    assert_eq!(
        f.app
            .store()
            .read_tokens(id)
            .await
            .unwrap()
            .refresh_pending_since,
        None
    );
    // A refused grant is still never sent again.
    f.sim.control().revoke_grants(None, None);
    advance_both(&f, Duration::from_secs(3600));
    let before = token_requests(&f);
    assert!(matches!(
        f.app.connection_access_token(id).await,
        Err(AppError::ReauthorizationRequired { .. })
    ));
    assert_eq!(token_requests(&f), before + 1);
    assert_eq!(waited().len(), 2);
}

/// The same data directory opened by another process with the same clock.
pub(crate) async fn reopen(f: &Fixture) -> jiralink_app::App {
    jiralink_app::App::open(jiralink_app::OpenOptions {
        data_dir: f.app.data_dir().to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(f.clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value
}

/// Runs the background jobs of `app` for `rounds` rounds and returns how long after each of
/// its runs the keep-alive job was due again.
async fn run_loop(
    app: &jiralink_app::App,
    clock: &jiralink_domain::ManualClock,
    rounds: usize,
) -> Vec<Duration> {
    let mut waits = Vec::new();
    app.ensure_recurring_jobs().await.unwrap();
    for _ in 0..rounds {
        crate::job_rounds(app, clock, 1).await;
        let keep_alive = crate::job_intervals(app)
            .await
            .into_iter()
            .find(|(k, _)| k == jiralink_app::TOKEN_KEEP_ALIVE_JOB)
            .unwrap();
        waits.push(keep_alive.1);
    }
    waits
}

#[tokio::test]
async fn an_unanswered_refresh_is_marked_and_finished_by_the_retest_loop_after_a_restart() {
    let (f, id) = authorized_cloud().await;
    advance_both(&f, Duration::from_secs(3600));
    let before = token_requests(&f);
    f.sim.control().fail_next(4, 503, None);
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(matches!(err, AppError::TokenRefresh(_)), "{err}");
    assert_eq!(
        token_requests(&f),
        before + 4,
        "one request and three retries"
    );
    let marked = f.app.now();
    assert_eq!(
        f.app
            .store()
            .read_tokens(id)
            .await
            .unwrap()
            .refresh_pending_since,
        Some(marked)
    );
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::Online
    );

    // Another failure keeps the first mark: the leeway counts from then.
    f.sim.control().fail_next(4, 503, None);
    f.clock.advance(Duration::from_secs(5));
    assert!(f.app.connection_access_token(id).await.is_err());
    assert_eq!(
        f.app
            .store()
            .read_tokens(id)
            .await
            .unwrap()
            .refresh_pending_since,
        Some(marked)
    );

    // A restart: a new process on the same data, whose loop waits at most a minute while a
    // refresh is pending and finishes it in its first round.
    let restarted = reopen(&f).await;
    // The waits slept on the (shared) clock from here on.
    let mark = f.clock.waits().len();
    f.sim.control().fail_next(1, 503, None);
    let before = token_requests(&f);
    let waits = run_loop(&restarted, &f.clock, 2).await;
    assert_eq!(
        token_requests(&f),
        before + 2,
        "the 503, then the finished refresh"
    );
    assert_eq!(
        f.clock.waits().split_off(mark),
        vec![Duration::from_millis(250)],
        "the retry under the lock"
    );
    assert_eq!(
        restarted
            .store()
            .read_tokens(id)
            .await
            .unwrap()
            .refresh_pending_since,
        None
    );
    assert_eq!(
        waits,
        vec![restarted.config().connections.retest_interval.get(); 2],
        "nothing pending any more"
    );
    restarted.connection_access_token(id).await.unwrap();
    assert_eq!(
        token_requests(&f),
        before + 2,
        "the new token is used as it is"
    );
}

#[tokio::test]
async fn the_retest_loop_waits_at_most_a_minute_while_a_refresh_is_pending() {
    let (f, id) = authorized_cloud().await;
    advance_both(&f, Duration::from_secs(3600));
    // The connection's use and the loop's first round get no answer; the second finishes.
    f.sim.control().fail_next(8, 503, None);
    assert!(f.app.connection_access_token(id).await.is_err());
    let before = token_requests(&f);
    let waits = run_loop(&f.app, &f.clock, 2).await;
    assert_eq!(token_requests(&f), before + 5);
    let interval = f.app.config().connections.retest_interval.get();
    assert_eq!(
        waits,
        vec![jiralink_app::PENDING_REFRESH_RECHECK, interval],
        "a minute while the refresh is pending, then the interval"
    );
    assert!(
        f.app
            .store()
            .read_tokens(id)
            .await
            .unwrap()
            .refresh_pending_since
            .is_none()
    );
}

#[tokio::test]
async fn idle_connections_are_kept_alive_past_atlassians_ninety_days() {
    let (f, id) = authorized_cloud().await;
    let idle_after = f.app.config().connections.refresh_idle_after.get();
    assert_eq!(idle_after, Duration::from_secs(30 * 86_400));
    let day = Duration::from_secs(86_400);

    // Younger than the configured age: nothing is sent.
    advance_both(&f, 29 * day);
    let before = token_requests(&f);
    assert_eq!(f.app.keep_grants_alive().await.unwrap(), 0);
    assert_eq!(token_requests(&f), before);

    // Four months without a single use: the keep-alive job refreshes once a month or so.
    for _ in 0..4 {
        advance_both(&f, 2 * day);
        let before = token_requests(&f);
        assert_eq!(f.app.keep_grants_alive().await.unwrap(), 1);
        assert_eq!(token_requests(&f), before + 1);
        assert_eq!(f.app.keep_grants_alive().await.unwrap(), 0);
        assert_eq!(token_requests(&f), before + 1, "refreshed once per age");
        advance_both(&f, 29 * day);
    }
    f.app.connection_access_token(id).await.unwrap();
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::Online
    );
    let client = f.app.jira_client("cloud").await.unwrap();
    client.myself().await.unwrap();
}

#[tokio::test]
async fn without_the_keep_alive_an_idle_grant_expires() {
    let (f, id) = authorized_cloud().await;
    advance_both(&f, Duration::from_secs(91 * 86_400));
    assert!(matches!(
        f.app.connection_access_token(id).await,
        Err(AppError::ReauthorizationRequired { .. })
    ));
}

/// Re-enters the client's secret: Atlassian answers a wrong one with 401 `access_denied`
/// (`invalid_client` is for an unknown client ID, whose change forgets the tokens anyway).
pub(crate) async fn set_client_secret(f: &Fixture, secret: &str) {
    let version = f.app.get_oauth_client("Sim app").await.unwrap().version;
    f.app
        .update_oauth_client(
            "Sim app",
            version,
            &OAuthClientDraft {
                name: Some("Sim app".to_owned()),
                client_id: Some(f.sim.samples().oauth_client_id.clone()),
                client_secret: jiralink_domain::SecretEntry::Missing,
            },
            OAuthClientSecrets {
                client_secret: Some(ClientSecret::new(secret)),
            },
            &actor(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_client_takes_the_connection_offline_until_the_client_is_edited() {
    let (f, id) = authorized_cloud().await;
    set_client_secret(&f, "not-the-secret").await;
    advance_both(&f, Duration::from_secs(3600));
    let before = token_requests(&f);
    let err = f.app.connection_access_token(id).await.unwrap_err();
    assert!(matches!(err, AppError::OAuthClientRejected { .. }), "{err}");
    assert_eq!(err.code(), "oauth_client_rejected");
    assert_eq!(
        token_requests(&f),
        before + 1,
        "invalid_client is not retried"
    );
    let offline = ConnectionState::Offline {
        reason: jiralink_app::CLIENT_CREDENTIALS_WRONG.to_owned(),
    };
    assert_eq!(f.app.get_connection("cloud").await.unwrap().state, offline);

    // Neither another use nor the re-test sends a refresh, and the reason stays.
    f.clock.advance(Duration::from_secs(60));
    assert!(f.app.connection_access_token(id).await.is_err());
    let outcomes = f.app.retest_offline_connections().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].state, Some(offline.clone()));
    assert!(
        outcomes[0].summary().contains("ID or secret is wrong"),
        "{}",
        outcomes[0].summary()
    );
    assert_eq!(token_requests(&f), before + 1);
    assert_eq!(f.app.get_connection("cloud").await.unwrap().state, offline);

    // Editing the client lets the next re-test refresh, and the connection is back.
    set_client_secret(&f, &f.sim.samples().oauth_client_secret.clone()).await;
    f.clock.advance(Duration::from_secs(60));
    let outcomes = f.app.retest_offline_connections().await.unwrap();
    assert_eq!(outcomes[0].result, TestResult::Passed, "{:?}", outcomes[0]);
    assert_eq!(token_requests(&f), before + 2);
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::Online
    );
}

/// The edit form's draft of the saved connection `name`, as the form would prefill it.
async fn draft_of(f: &Fixture, name: &str) -> (ConnectionId, ConnectionDraft) {
    let (connection, draft) = f.app.connection_draft(name).await.unwrap();
    (connection.id, draft)
}

#[tokio::test]
async fn an_unchanged_oauth_draft_of_an_authorized_connection_is_tested_with_its_grant() {
    let (f, id) = authorized_cloud().await;
    // A state a recorded pass would change: the draft's test must leave it as it is.
    let unauthorized = jiralink_atlassian::AtlassianError::Unauthorized { hint: None };
    assert!(f.app.note_request_failure(id, &unauthorized).await.unwrap());
    // The access token has expired: the test refreshes it as any use would.
    advance_both(&f, Duration::from_secs(3600));
    f.app.start_debug("cloud", 15).await.unwrap();
    let before = f.app.get_connection("cloud").await.unwrap().connection;
    let tokens_before = token_requests(&f);

    let (_, mut draft) = draft_of(&f, "cloud").await;
    // Neither the name nor the concurrency level concerns the grant.
    draft.name = Some("Cloud renamed".to_owned());
    draft.concurrency_level = Some("7".to_owned());
    let outcome = f
        .app
        .test_draft(&draft, &ConnectionSecrets::default(), Some(id))
        .await
        .unwrap();
    assert_eq!(outcome.result, TestResult::Passed, "{outcome:?}");
    assert_eq!(outcome.connection, "Cloud renamed");
    assert_eq!(outcome.state, None, "a draft's outcome is not recorded");
    assert!(outcome.account.is_some(), "{outcome:?}");
    assert_eq!(
        token_requests(&f),
        tokens_before + 1,
        "the token was refreshed"
    );

    let after = f.app.get_connection("cloud").await.unwrap().connection;
    assert_eq!(after.state, before.state);
    assert_eq!(after.state_changed_at, before.state_changed_at);
    assert_eq!(after.last_tested_at, before.last_tested_at);
    assert_eq!(after.settings, before.settings);
    assert!(matches!(after.state, ConnectionState::Offline { .. }));

    // The debugger sees the test as a use of the connection.
    let log = f.app.debug_log("cloud").await.unwrap();
    assert!(
        log.lines
            .iter()
            .any(|l| l.method == "GET" && l.url.ends_with("/rest/api/3/myself")),
        "{:?}",
        log.lines
    );
}

#[tokio::test]
async fn an_oauth_draft_with_other_scopes_needs_authorization_after_saving() {
    let (f, id) = authorized_cloud().await;
    let requests = f.sim.control().requests().len();
    let (_, mut draft) = draft_of(&f, "cloud").await;
    draft.scopes.push("write:jira-work".to_owned());
    let outcome = f
        .app
        .test_draft(&draft, &ConnectionSecrets::default(), Some(id))
        .await
        .unwrap();
    assert_eq!(outcome.result, TestResult::NeedsAuthorization);
    let failure = outcome.failure.unwrap();
    assert_eq!(failure.kind, "needs_authorization");
    assert!(
        failure.message.contains("scopes changed"),
        "{}",
        failure.message
    );
    assert!(
        failure.fix.contains("authorize it again"),
        "{}",
        failure.fix
    );
    assert_eq!(
        f.sim.control().requests().len(),
        requests,
        "nothing is sent"
    );
}

#[tokio::test]
async fn an_oauth_draft_of_a_connection_not_authorized_needs_authorization_after_saving() {
    let f = oauth_fixture().await;
    let id = add_oauth(&f, "Cloud", "cloud-platform").await;
    let (_, draft) = draft_of(&f, "cloud").await;
    let outcome = f
        .app
        .test_draft(&draft, &ConnectionSecrets::default(), Some(id))
        .await
        .unwrap();
    assert_eq!(outcome.result, TestResult::NeedsAuthorization);
    let failure = outcome.failure.unwrap();
    assert!(
        failure.message.contains("not authorized yet"),
        "{}",
        failure.message
    );
    assert!(
        failure.fix.starts_with("save the connection"),
        "{}",
        failure.fix
    );
    assert!(f.sim.control().requests().is_empty(), "nothing is sent");
    assert_eq!(
        f.app.get_connection("cloud").await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );
}

#[tokio::test]
async fn an_oauth_draft_of_a_revoked_grant_fails_with_the_fix() {
    let (f, id) = authorized_cloud().await;
    f.sim.control().revoke_grants(None, None);
    advance_both(&f, Duration::from_secs(3600));
    let (_, draft) = draft_of(&f, "cloud").await;
    let outcome = f
        .app
        .test_draft(&draft, &ConnectionSecrets::default(), Some(id))
        .await
        .unwrap();
    assert_eq!(outcome.result, TestResult::Failed, "{outcome:?}");
    let failure = outcome.failure.unwrap();
    assert_eq!(failure.kind, "not_authorized");
    assert_eq!(failure.message, jiralink_app::REAUTHORIZATION_REQUIRED);
    assert_eq!(failure.fix, "authorize the connection again");
}
