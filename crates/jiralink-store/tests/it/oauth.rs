//! The OAuth store: single-use pending authorizations and the cross-process refresh lock.

use jiralink_domain::{AuditAction, ConnectionState, ResourceKind};
use jiralink_store::{
    ConnectionStore, OAuthStore, PendingAuthorization, SecretField, SecretOwner, SqliteStore, Store,
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

#[tokio::test]
async fn pending_authorizations_are_single_use_and_expire() {
    let (_dir, store) = crate::sqlite().await;
    let key = MasterKey::generate();
    let c = authorized(&store, &key).await;
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

#[tokio::test]
async fn authorization_tokens_and_forgetting_them() {
    let (_dir, store) = crate::sqlite().await;
    let key = MasterKey::generate();
    let c = authorized(&store, &key).await;
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

#[tokio::test]
async fn a_second_process_waits_for_the_refresh_and_sees_its_tokens() {
    let (dir, first) = crate::sqlite().await;
    let second = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .unwrap();
    let key = MasterKey::generate();
    let c = authorized(&first, &key).await;
    let owner = SecretOwner::Connection(c);

    let lock = first.lock_tokens(c).await.unwrap();
    let waiter = tokio::spawn(async move {
        let lock = second.lock_tokens(c).await.unwrap();
        lock.tokens().access_token_expires_at
    });
    // The waiter cannot get the lock while the first holds it: give it the chance to try.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished());
    let later = datetime!(2026-01-01 02:00 UTC);
    lock.commit_tokens(
        &[
            sealed(&key, owner, SecretField::AccessToken, "a2"),
            sealed(&key, owner, SecretField::RefreshToken, "r2"),
        ],
        later,
        datetime!(2026-01-01 01:00 UTC),
    )
    .await
    .unwrap();
    assert_eq!(waiter.await.unwrap(), Some(later));
}

#[tokio::test]
async fn a_revoked_grant_drops_the_tokens_under_the_lock() {
    let (_dir, store) = crate::sqlite().await;
    let key = MasterKey::generate();
    let c = authorized(&store, &key).await;
    let lock = store.lock_tokens(c).await.unwrap();
    let offline = ConnectionState::Offline {
        reason: "re-authorization required".to_owned(),
    };
    lock.commit_revoked(&offline, datetime!(2026-01-01 03:00 UTC))
        .await
        .unwrap();
    assert_eq!(store.get_connection(c).await.unwrap().state, offline);
    assert!(store.read_tokens(c).await.unwrap().refresh_token.is_none());
    // Dropping a lock without committing rolls back and frees it.
    drop(store.lock_tokens(c).await.unwrap());
    drop(store.lock_tokens(c).await.unwrap());
}
