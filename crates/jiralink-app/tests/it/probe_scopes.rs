//! "Test connection" of OAuth 2.0 connections for the scope sets a user can pick, through the
//! whole service: create, authorize against the simulator (auto-approved), test. A test never
//! fails for a scope the connection was not given, so every one stays online; a revoked grant
//! still takes the connection offline, and a 403 never does.

use std::time::Instant;

use jiralink_app::{ConnectionSecrets, TestOutcome, TestResult};
use jiralink_domain::{ApiType, ConnectionDraft, ConnectionState, scope::catalogue};
use pretty_assertions::assert_eq;

use crate::actor;
use crate::connection_test::Fixture;
use crate::oauth::{authorize, oauth_fixture};

/// The OAuth 2.0 fixture with a simulator that never rate limits.
async fn open() -> Fixture {
    let f = oauth_fixture().await;
    f.sim
        .control()
        .update_knobs(|k| {
            k.burst.enabled = false;
            k.quota_points_per_hour = None;
        })
        .unwrap();
    f
}

/// Creates the connection `name` with `scopes`, authorizes it and tests it.
async fn authorized_and_tested(
    f: &Fixture,
    name: &str,
    api_type: ApiType,
    scopes: &[&str],
) -> TestOutcome {
    let cloud = api_type == ApiType::CloudPlatform;
    let draft = ConnectionDraft {
        name: Some(name.to_owned()),
        api_type: Some(if cloud { "cloud-platform" } else { "csm" }.to_owned()),
        subdomain: cloud.then(|| "demo".to_owned()),
        auth_type: cloud.then(|| "oauth2".to_owned()),
        oauth_client: Some("Sim app".to_owned()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..ConnectionDraft::default()
    };
    f.app
        .create_connection(&draft, ConnectionSecrets::default(), &actor())
        .await
        .unwrap();
    authorize(f, name).await;
    f.app.test_connection(name).await.unwrap()
}

fn assert_online(outcome: &TestOutcome, scopes: &[&str]) {
    assert_eq!(
        outcome.result,
        TestResult::Passed,
        "{scopes:?}: {}",
        outcome.summary()
    );
    assert_eq!(outcome.state, Some(ConnectionState::Online), "{scopes:?}");
    assert!(outcome.missing_scopes.is_empty(), "{scopes:?}");
}

/// Every single scope and pair of scopes of the API type's catalogue.
async fn every_scope_and_pair(f: &Fixture, api_type: ApiType) -> usize {
    let all: Vec<&str> = catalogue(api_type).iter().map(|i| i.name).collect();
    let mut tested = 0;
    for (i, a) in all.iter().enumerate() {
        let mut sets = vec![vec![*a]];
        sets.extend(all[i + 1..].iter().map(|b| vec![*a, *b]));
        for scopes in sets {
            tested += 1;
            let outcome =
                authorized_and_tested(f, &format!("{api_type:?} {tested}"), api_type, &scopes)
                    .await;
            assert_online(&outcome, &scopes);
            let who = scopes.contains(&"read:jira-user");
            assert_eq!(outcome.account.is_some(), who, "{scopes:?}");
            if who {
                assert_eq!(outcome.probe, Some("GET /rest/api/3/myself"));
            }
        }
    }
    assert_eq!(tested, all.len() * (all.len() + 1) / 2);
    tested
}

#[tokio::test]
async fn every_scope_and_pair_of_scopes_keeps_the_connection_online() {
    let f = open().await;
    let started = Instant::now();
    let cloud = every_scope_and_pair(&f, ApiType::CloudPlatform).await;
    let csm = every_scope_and_pair(&f, ApiType::CustomerServiceManagement).await;
    assert_eq!((cloud, csm), (91, 300));
    eprintln!(
        "{} connections created, authorized and tested in {:?}",
        cloud + csm,
        started.elapsed()
    );
}

#[tokio::test]
async fn the_quickstart_scopes_pass_without_read_jira_user() {
    let f = open().await;
    let scopes = ["read:jira-work", "write:jira-work"];
    let outcome = authorized_and_tested(&f, "Jira OAuth", ApiType::CloudPlatform, &scopes).await;
    assert_online(&outcome, &scopes);
    assert_eq!(outcome.probe, Some("GET /rest/api/3/serverInfo"));
    assert_eq!(outcome.account, None);
    assert_eq!(
        outcome.summary(),
        "the connection works: authenticated",
        "{outcome:?}"
    );
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["probe"], "GET /rest/api/3/serverInfo");

    let scopes = [
        "read:customer:jira-service-management",
        "read:organization:jira-service-management",
    ];
    let outcome =
        authorized_and_tested(&f, "Customers", ApiType::CustomerServiceManagement, &scopes).await;
    assert_online(&outcome, &scopes);
    assert_eq!(outcome.probe, Some("GET /rest/api/3/serverInfo"));
}

#[tokio::test]
async fn a_revoked_grant_takes_the_connection_offline_and_a_403_does_not() {
    let f = open().await;
    for (name, api_type, scopes) in [
        (
            "Quickstart",
            ApiType::CloudPlatform,
            &["read:jira-work", "write:jira-work"][..],
        ),
        ("Who", ApiType::CloudPlatform, &["read:jira-user"][..]),
        (
            "Customers",
            ApiType::CustomerServiceManagement,
            &["read:customer:jira-service-management"][..],
        ),
        (
            "Products",
            ApiType::CustomerServiceManagement,
            &["read:product:jira-service-management"][..],
        ),
    ] {
        let outcome = authorized_and_tested(&f, name, api_type, scopes).await;
        assert_online(&outcome, scopes);

        // A 403, however unlikely (the simulator sends it for the test's first request): it
        // is reported, and the connection stays online.
        f.sim.control().fail_next(1, 403, None);
        let refused = f.app.test_connection(name).await.unwrap();
        assert_eq!(refused.result, TestResult::Failed, "{name}");
        let failure = refused.failure.clone().unwrap();
        assert_eq!(failure.http_status, Some(403), "{name}");
        assert!(!failure.takes_offline, "{name}");
        assert_eq!(refused.state, Some(ConnectionState::Online), "{name}");

        // The grant is revoked: authentication fails, and the connection goes offline.
        assert_eq!(f.sim.control().revoke_grants(None, None), 1, "{name}");
        let revoked = f.app.test_connection(name).await.unwrap();
        assert_eq!(revoked.result, TestResult::Failed, "{name}");
        let failure = revoked.failure.clone().unwrap();
        assert!(failure.takes_offline, "{name}: {failure:?}");
        assert!(
            matches!(revoked.state, Some(ConnectionState::Offline { .. })),
            "{name}: {:?}",
            revoked.state
        );
        let err = f.app.usable_connection(name).await.unwrap_err();
        assert_eq!(err.code(), "connection_offline", "{name}");
    }
}
