//! The user store contract: users, sessions, sign-in failures and API keys.

use jiralink_domain::{AuditAction, ResourceKind};
use jiralink_store::{
    ApiKeyRecord, SessionRecord, Store, StoreError, UserRecord, UserStore as _, username_key,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::audit;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) async fn run_all(store: &dyn Store) {
    users_are_unique_without_regard_to_case(store).await;
    the_first_user_is_created_once(store).await;
    the_last_administrator_cannot_be_deleted(store).await;
    sessions_belong_to_users(store).await;
    a_new_password_ends_sessions(store).await;
    login_failures_are_counted_per_name_and_address(store).await;
    api_keys_are_found_by_hash_and_revoked(store).await;
}

fn user(name: &str, is_admin: bool) -> UserRecord {
    UserRecord {
        id: Uuid::new_v4(),
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        is_admin,
        created_at: T0,
        updated_at: T0,
    }
}

fn create(u: &UserRecord) -> jiralink_domain::AuditEntry {
    audit(ResourceKind::User, u.id, AuditAction::Create, 0)
}

fn session(id: &str, user: Uuid) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        user_id: user,
        csrf_token: format!("csrf-{id}"),
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + Duration::days(7),
    }
}

async fn users_are_unique_without_regard_to_case(store: &dyn Store) {
    let alice = user("Alice", false);
    store.insert_user(&alice, &create(&alice)).await.unwrap();
    let again = user("alice", false);
    let err = store
        .insert_user(&again, &create(&again))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { kind: "user", .. }),
        "{err:?}"
    );
    let found = store.find_user_by_name("ALICE").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert_eq!(store.get_user(alice.id).await.unwrap(), alice);
    assert!(store.find_user_by_name("bob").await.unwrap().is_none());
    assert!(matches!(
        store.get_user(Uuid::new_v4()).await,
        Err(StoreError::NotFound { kind: "user" })
    ));
    let entries = store
        .list_audit(ResourceKind::User, alice.id)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert!(!format!("{alice:?}").contains("argon2id"));
}

async fn the_first_user_is_created_once(store: &dyn Store) {
    // Users exist already (from the test before): nothing is inserted.
    let admin = user("admin", true);
    assert!(
        !store
            .insert_first_user(&admin, &create(&admin))
            .await
            .unwrap()
    );
    assert!(store.find_user_by_name("admin").await.unwrap().is_none());
    assert!(
        store
            .list_audit(ResourceKind::User, admin.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_last_administrator_cannot_be_deleted(store: &dyn Store) {
    let root = user("root", true);
    let ops = user("ops", true);
    store.insert_user(&root, &create(&root)).await.unwrap();
    store.insert_user(&ops, &create(&ops)).await.unwrap();
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Alice", "ops", "root"]);
    store
        .delete_user(
            ops.id,
            &audit(ResourceKind::User, ops.id, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    let err = store
        .delete_user(
            root.id,
            &audit(ResourceKind::User, root.id, AuditAction::Delete, 2),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    assert!(store.get_user(root.id).await.is_ok());
    // The refused deletion wrote no audit entry.
    assert_eq!(
        store
            .list_audit(ResourceKind::User, root.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let err = store
        .delete_user(
            ops.id,
            &audit(ResourceKind::User, ops.id, AuditAction::Delete, 3),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "user" }),
        "{err:?}"
    );
}

async fn sessions_belong_to_users(store: &dyn Store) {
    let carol = user("carol", false);
    store.insert_user(&carol, &create(&carol)).await.unwrap();
    store
        .insert_session(&session("s1", carol.id))
        .await
        .unwrap();
    store
        .insert_session(&session("s2", carol.id))
        .await
        .unwrap();
    let (s, u) = store.get_session("s1").await.unwrap().unwrap();
    assert_eq!(s, session("s1", carol.id));
    assert_eq!(u.username, "carol");
    store
        .touch_session("s1", T0 + Duration::hours(1))
        .await
        .unwrap();
    let (s, _) = store.get_session("s1").await.unwrap().unwrap();
    assert_eq!(s.last_seen_at, T0 + Duration::hours(1));
    assert!(store.delete_session("s1").await.unwrap());
    assert!(!store.delete_session("s1").await.unwrap());
    assert!(store.get_session("s1").await.unwrap().is_none());
    // A session of an unknown user is refused.
    assert!(matches!(
        store.insert_session(&session("s3", Uuid::new_v4())).await,
        Err(StoreError::NotFound { kind: "user" })
    ));
    // Sessions past their end are dropped when the next one is stored.
    let mut late = session("s4", carol.id);
    late.created_at = T0 + Duration::days(8);
    late.last_seen_at = late.created_at;
    late.expires_at = late.created_at + Duration::days(7);
    store.insert_session(&late).await.unwrap();
    assert!(store.get_session("s2").await.unwrap().is_none());
    // Deleting the user deletes its sessions.
    store
        .delete_user(
            carol.id,
            &audit(ResourceKind::User, carol.id, AuditAction::Delete, 4),
        )
        .await
        .unwrap();
    assert!(store.get_session("s4").await.unwrap().is_none());
}

async fn a_new_password_ends_sessions(store: &dyn Store) {
    let dave = user("dave", false);
    store.insert_user(&dave, &create(&dave)).await.unwrap();
    store.insert_session(&session("d1", dave.id)).await.unwrap();
    store.insert_session(&session("d2", dave.id)).await.unwrap();
    let later = T0 + Duration::hours(2);
    store
        .set_password(
            dave.id,
            "$argon2id$new",
            later,
            &audit(ResourceKind::User, dave.id, AuditAction::Update, 5),
        )
        .await
        .unwrap();
    let again = store.get_user(dave.id).await.unwrap();
    assert_eq!(
        (again.password_hash.as_str(), again.updated_at),
        ("$argon2id$new", later)
    );
    assert!(store.get_session("d1").await.unwrap().is_none());
    assert!(store.get_session("d2").await.unwrap().is_none());
    store.insert_session(&session("d3", dave.id)).await.unwrap();
    assert_eq!(store.delete_user_sessions(dave.id).await.unwrap(), 1);
    assert!(matches!(
        store
            .set_password(
                Uuid::new_v4(),
                "x",
                later,
                &audit(ResourceKind::User, dave.id, AuditAction::Update, 6)
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn login_failures_are_counted_per_name_and_address(store: &dyn Store) {
    let key = username_key(" Eve ");
    assert_eq!(key, "eve");
    for minute in 0..3 {
        store
            .record_login_failure(&key, "10.0.0.1", T0 + Duration::minutes(minute), T0)
            .await
            .unwrap();
    }
    store
        .record_login_failure(&key, "10.0.0.2", T0, T0)
        .await
        .unwrap();
    let since_start = store.login_failures(&key, "10.0.0.1", T0).await.unwrap();
    assert_eq!(
        since_start,
        [T0, T0 + Duration::minutes(1), T0 + Duration::minutes(2)]
    );
    let recent = store
        .login_failures(&key, "10.0.0.1", T0 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(recent.len(), 2);
    // Old failures are forgotten when a new one is recorded.
    store
        .record_login_failure(
            &key,
            "10.0.0.1",
            T0 + Duration::hours(1),
            T0 + Duration::minutes(30),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .login_failures(&key, "10.0.0.1", T0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .login_failures(&key, "10.0.0.2", T0)
            .await
            .unwrap()
            .is_empty()
    );
    store.clear_login_failures(&key, "10.0.0.1").await.unwrap();
    assert!(
        store
            .login_failures(&key, "10.0.0.1", T0)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn api_keys_are_found_by_hash_and_revoked(store: &dyn Store) {
    let frank = user("frank", false);
    store.insert_user(&frank, &create(&frank)).await.unwrap();
    let key = ApiKeyRecord {
        id: Uuid::new_v4(),
        user_id: frank.id,
        name: "nightly export".to_owned(),
        prefix: "jlk_0123".to_owned(),
        key_hash: "ab".repeat(32),
        created_at: T0,
        last_used_at: None,
    };
    store
        .insert_api_key(
            &key,
            &audit(ResourceKind::ApiKey, key.id, AuditAction::Create, 0),
        )
        .await
        .unwrap();
    let (found, owner) = store.find_api_key(&"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!(
        (found.clone(), owner.username.as_str()),
        (key.clone(), "frank")
    );
    assert!(!format!("{found:?}").contains(&"ab".repeat(32)));
    assert!(
        store
            .find_api_key(&"cd".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
    store
        .touch_api_key(key.id, T0 + Duration::minutes(5))
        .await
        .unwrap();
    let listed = store.list_api_keys(Some(frank.id)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.last_used_at, Some(T0 + Duration::minutes(5)));
    assert_eq!(listed[0].1, "frank");
    assert!(
        store
            .list_api_keys(Some(Uuid::new_v4()))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_api_keys(None).await.unwrap().len(), 1);
    store
        .delete_api_key(
            key.id,
            &audit(ResourceKind::ApiKey, key.id, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    assert!(
        store
            .find_api_key(&"ab".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .delete_api_key(
                key.id,
                &audit(ResourceKind::ApiKey, key.id, AuditAction::Delete, 2)
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .list_audit(ResourceKind::ApiKey, key.id)
            .await
            .unwrap()
            .len(),
        2
    );
    // A key of a deleted user goes with it.
    let again = ApiKeyRecord {
        id: Uuid::new_v4(),
        key_hash: "ef".repeat(32),
        ..key
    };
    store
        .insert_api_key(
            &again,
            &audit(ResourceKind::ApiKey, again.id, AuditAction::Create, 3),
        )
        .await
        .unwrap();
    store
        .delete_user(
            frank.id,
            &audit(ResourceKind::User, frank.id, AuditAction::Delete, 4),
        )
        .await
        .unwrap();
    assert!(
        store
            .find_api_key(&"ef".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_first_user_of_an_empty_store() {
    let (_dir, store) = crate::sqlite().await;
    let admin = user("admin", true);
    assert!(
        store
            .insert_first_user(&admin, &create(&admin))
            .await
            .unwrap()
    );
    let second = user("other", true);
    assert!(
        !store
            .insert_first_user(&second, &create(&second))
            .await
            .unwrap()
    );
    assert_eq!(store.list_users().await.unwrap(), [admin]);
}

#[tokio::test]
async fn sqlite_users_contract() {
    let (_dir, store) = crate::sqlite().await;
    run_all(&store).await;
}
