//! A connection's rate-limit handling decides how its Jira client meets 429 and 503 answers.

use std::time::Duration;

use jiralink_app::ConnectionSecrets;
use jiralink_atlassian::AtlassianError;
use jiralink_domain::ConnectionDraft;
use jiralink_vault::ApiToken;
use pretty_assertions::assert_eq;

use crate::connection_test::{Fixture, fixture};
use crate::{actor, basic_draft};

async fn save(f: &Fixture, name: &str, auto_recover: &str, max_retries: &str) -> String {
    let draft = ConnectionDraft {
        username: Some(f.sim.samples().email.clone()),
        rate_limit_auto_recover: Some(auto_recover.to_owned()),
        rate_limit_max_retries: Some(max_retries.to_owned()),
        ..basic_draft(name)
    };
    let secrets = ConnectionSecrets {
        api_token: Some(ApiToken::new(&f.sim.samples().api_token)),
    };
    f.app
        .create_connection(&draft, secrets, &actor())
        .await
        .unwrap()
        .value
        .id
}

#[tokio::test]
async fn auto_recover_waits_out_rate_limits_up_to_max_retries() {
    let f = fixture().await;
    // The waits slept on the application's clock from here on.
    let mark = f.clock.waits().len();
    let waited = || f.clock.waits().split_off(mark);
    let id = save(&f, "Jira", "on", "2").await;
    let view = f.app.get_connection(&id).await.unwrap();
    assert_eq!(
        (view.rate_limit_auto_recover, view.rate_limit_max_retries),
        (true, 2)
    );
    let client = f.app.jira_client(&id).await.unwrap();

    // Two refusals are waited out (at least Retry-After each) and the third attempt passes.
    f.sim.control().fail_next(2, 429, Some(3));
    client.myself().await.unwrap();
    let waits = waited();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits.iter().all(|w| *w >= Duration::from_secs(3)),
        "{waits:?}"
    );

    // A third refusal is past the cap: the caller gets it.
    f.sim.control().fail_next(3, 503, Some(1));
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(err, AtlassianError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(waited().len(), 4);
}

#[tokio::test]
async fn without_auto_recover_the_rate_limit_reaches_the_caller_at_once() {
    let f = fixture().await;
    // The waits slept on the application's clock from here on.
    let mark = f.clock.waits().len();
    let waited = || f.clock.waits().split_off(mark);
    let id = save(&f, "Jira", "off", "10").await;
    let client = f.app.jira_client(&id).await.unwrap();

    f.sim.control().fail_next(1, 429, Some(3));
    let err = client.myself().await.unwrap_err();
    assert!(matches!(err, AtlassianError::RateLimited { .. }), "{err:?}");
    f.sim.control().fail_next(1, 503, None);
    let err = client.myself().await.unwrap_err();
    assert!(
        matches!(err, AtlassianError::Server { status: 503, .. }),
        "{err:?}"
    );
    assert!(waited().is_empty(), "{:?}", waited());
    // The refusals were the only ones: the next request goes through.
    client.myself().await.unwrap();
}
