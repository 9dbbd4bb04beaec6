//! The OAuth store: single-use pending authorizations and the cross-process refresh lease.

crate::on_both_backends! {
    pending_authorizations_are_single_use_and_expire:
        super::pending_authorizations_are_single_use_and_expire,
    authorization_tokens_and_forgetting_them: super::authorization_tokens_and_forgetting_them,
    the_refresh_lease_has_one_holder: super::the_refresh_lease_has_one_holder,
    a_lease_taken_over_stores_nothing: super::a_lease_taken_over_stores_nothing,
    a_revoked_grant_drops_the_tokens: super::a_revoked_grant_drops_the_tokens,
    a_callback_on_another_server_finds_the_state: super::a_callback_on_another_server_finds_the_state,
}

use jiralink_domain::{AuditAction, ConnectionState, ResourceKind};
use jiralink_store::{
    PendingAuthorization, RefreshLease, RefreshOutcome, SecretField, SecretOwner, Store,
};
use jiralink_vault::{Aad, MasterKey, seal};
use time::macros::datetime;

use crate::contract::{audit, client, create_client, create_connection, oauth, sealed};

async fn authorized(store: &dyn Store, key: &MasterKey) -> jiralink_domain::ConnectionId {
    let cl = client(&format!("C{}", uuid::Uuid::new_v4().simple()));
    create_client(store, &cl, &[]).await;
    let mut c = oauth(&format!("O{}", uuid::Uuid::new_v4().simple()), cl.id);
    c.state = ConnectionState::NeedsAuthorization;
    create_connection(store, &c, &[]).await;
    let owner = SecretOwner::Connection(c.id);
    store
        .save_authorization(
            c.id,
            &[
                sealed(key, owner, SecretField::AccessToken, "a1"),
                sealed(key, owner, SecretField::RefreshToken, "r1"),
            ],
            datetime!(2026-01-01 01:00 UTC),
            "cloud-1",
            datetime!(2026-01-01 00:00 UTC),
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Authorize, 1),
        )
        .await
        .unwrap();
    c.id
}

fn pending(c: jiralink_domain::ConnectionId, key: &MasterKey, hash: &str) -> PendingAuthorization {
    let aad = Aad::new("oauth_state", hash, "state");
    let t = datetime!(2026-01-01 00:00 UTC);
    PendingAuthorization {
        state_hash: hash.to_owned(),
        connection: c,
        redirect_uri: "http://127.0.0.1:8080/connection/oauth2callback".to_owned(),
        sealed_state: seal(key, b"s", &aad).unwrap(),
        sealed_verifier: seal(key, b"v", &aad).unwrap(),
        created_at: t,
        expires_at: t + time::Duration::minutes(10),
    }
}

pub(crate) async fn pending_authorizations_are_single_use_and_expire(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    store
        .insert_pending_authorization(&pending(c, &key, "h1"))
        .await
        .unwrap();
    store
        .insert_pending_authorization(&pending(c, &key, "h2"))
        .await
        .unwrap();
    let t = datetime!(2026-01-01 00:05 UTC);
    let got = store
        .take_pending_authorization("h1", t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.connection, c);
    assert!(
        store
            .take_pending_authorization("h1", t)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_pending_authorization("nope", t)
            .await
            .unwrap()
            .is_none()
    );
    let late = datetime!(2026-01-01 00:10 UTC);
    assert!(
        store
            .take_pending_authorization("h2", late)
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn authorization_tokens_and_forgetting_them(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    let conn = store.get_connection(c).await.unwrap();
    assert_eq!(conn.state, ConnectionState::Online);
    assert_eq!(conn.cloud_id.as_deref(), Some("cloud-1"));
    let tokens = store.read_tokens(c).await.unwrap();
    assert!(tokens.access_token.is_some() && tokens.refresh_token.is_some());
    assert_eq!(
        tokens.access_token_expires_at,
        Some(datetime!(2026-01-01 01:00 UTC))
    );
    let at = datetime!(2026-01-01 02:00 UTC);
    let entry = audit(ResourceKind::Connection, c.0, AuditAction::Update, 2);
    assert!(
        store
            .forget_tokens(c, &ConnectionState::NeedsAuthorization, at, &entry)
            .await
            .unwrap()
    );
    let tokens = store.read_tokens(c).await.unwrap();
    assert!(tokens.access_token.is_none() && tokens.refresh_token.is_none());
    assert_eq!(tokens.access_token_expires_at, None);
    assert_eq!(
        store.get_connection(c).await.unwrap().state,
        ConnectionState::NeedsAuthorization
    );
}

const T1: time::OffsetDateTime = datetime!(2026-01-01 00:30 UTC);

fn lease_tokens(lease: RefreshLease) -> jiralink_store::TokenRecord {
    match lease {
        RefreshLease::Acquired(tokens) => tokens,
        RefreshLease::Held { holder, .. } => panic!("the lease is held by {holder}"),
    }
}

pub(crate) async fn the_refresh_lease_has_one_holder(db: &crate::TestDb) {
    let store = db.store();
    let other = db.another().await;
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    let owner = SecretOwner::Connection(c);
    let until = T1 + time::Duration::seconds(60);
    let tokens = lease_tokens(store.lease_refresh(c, "server-a", T1, until).await.unwrap());
    assert!(tokens.refresh_token.is_some());
    // Another server sees who holds it, and until when; no transaction is open meanwhile, so
    // its other writes go through.
    match other.lease_refresh(c, "server-b", T1, until).await.unwrap() {
        RefreshLease::Held { holder, until: u } => {
            assert_eq!((holder.as_str(), u), ("server-a", until))
        }
        RefreshLease::Acquired(_) => panic!("two holders"),
    }
    other.set_debug_until(c, Some(T1)).await.unwrap();
    let later = datetime!(2026-01-01 02:00 UTC);
    assert!(
        store
            .finish_refresh(
                c,
                "server-a",
                RefreshOutcome::Tokens {
                    tokens: &[
                        sealed(&key, owner, SecretField::AccessToken, "a2"),
                        sealed(&key, owner, SecretField::RefreshToken, "r2"),
                    ],
                    access_token_expires_at: later,
                },
                T1,
            )
            .await
            .unwrap()
    );
    assert_eq!(
        other.read_tokens(c).await.unwrap().access_token_expires_at,
        Some(later)
    );
    // Given back: the next refresh may start at once.
    lease_tokens(other.lease_refresh(c, "server-b", T1, until).await.unwrap());
    assert!(
        other
            .finish_refresh(c, "server-b", RefreshOutcome::Released, T1)
            .await
            .unwrap()
    );

    // Many servers asking at once: one holder.
    let askers = (0..12).map(|i| async move {
        let store = db.another().await;
        store
            .lease_refresh(c, &format!("server-{i}"), T1, until)
            .await
            .unwrap()
    });
    let results = futures::future::join_all(askers).await;
    let acquired = results
        .iter()
        .filter(|r| matches!(r, RefreshLease::Acquired(_)))
        .count();
    assert_eq!(acquired, 1, "{results:?}");
}

pub(crate) async fn a_lease_taken_over_stores_nothing(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    let owner = SecretOwner::Connection(c);
    let until = T1 + time::Duration::seconds(30);
    lease_tokens(store.lease_refresh(c, "dead", T1, until).await.unwrap());
    // The holder died: once its lease runs out, another takes it.
    let after = until + time::Duration::seconds(1);
    lease_tokens(
        store
            .lease_refresh(c, "alive", after, after + time::Duration::seconds(30))
            .await
            .unwrap(),
    );
    // The first holder wakes up with an answer: it is no longer the holder and stores nothing.
    assert!(
        !store
            .finish_refresh(
                c,
                "dead",
                RefreshOutcome::Tokens {
                    tokens: &[sealed(&key, owner, SecretField::AccessToken, "stale")],
                    access_token_expires_at: after,
                },
                after,
            )
            .await
            .unwrap()
    );
    let tokens = store.read_tokens(c).await.unwrap();
    assert_eq!(
        tokens.access_token_expires_at,
        Some(datetime!(2026-01-01 01:00 UTC))
    );
    // A refresh without an answer keeps the tokens and marks them.
    assert!(
        store
            .finish_refresh(c, "alive", RefreshOutcome::Pending { since: after }, after)
            .await
            .unwrap()
    );
    assert_eq!(
        store.read_tokens(c).await.unwrap().refresh_pending_since,
        Some(after)
    );
}

pub(crate) async fn a_revoked_grant_drops_the_tokens(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    lease_tokens(
        store
            .lease_refresh(c, "a", T1, T1 + time::Duration::seconds(30))
            .await
            .unwrap(),
    );
    let offline = ConnectionState::Offline {
        reason: "re-authorization required".to_owned(),
    };
    assert!(
        store
            .finish_refresh(
                c,
                "a",
                RefreshOutcome::Revoked { state: &offline },
                datetime!(2026-01-01 03:00 UTC)
            )
            .await
            .unwrap()
    );
    assert_eq!(store.get_connection(c).await.unwrap().state, offline);
    assert!(store.read_tokens(c).await.unwrap().refresh_token.is_none());
    // The lease was given back with it.
    lease_tokens(
        store
            .lease_refresh(c, "b", T1, T1 + time::Duration::seconds(30))
            .await
            .unwrap(),
    );
}

pub(crate) async fn a_callback_on_another_server_finds_the_state(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = authorized(store, &key).await;
    store
        .insert_pending_authorization(&pending(c, &key, "h-shared"))
        .await
        .unwrap();
    let other = db.another().await;
    let t = datetime!(2026-01-01 00:05 UTC);
    assert!(
        other
            .take_pending_authorization("h-shared", t)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .take_pending_authorization("h-shared", t)
            .await
            .unwrap()
            .is_none()
    );
}
