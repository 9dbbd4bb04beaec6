//! The user store contract: users, sessions, sign-in failures and API keys.

use jiralink_domain::{AuditAction, ResourceKind};
use jiralink_store::{
    ApiKeyRecord, SessionRecord, SignInAttempt, StoreError, UserRecord, username_key,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::audit;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

crate::on_both_backends! {
    users_are_unique_without_regard_to_case: super::users_are_unique_without_regard_to_case,
    the_first_user_is_created_once: super::the_first_user_is_created_once,
    the_last_administrator_cannot_be_deleted: super::the_last_administrator_cannot_be_deleted,
    sessions_belong_to_users: super::sessions_belong_to_users,
    a_new_password_ends_sessions: super::a_new_password_ends_sessions,
    sign_ins_are_counted_per_name_and_address: super::sign_ins_are_counted_per_name_and_address,
    concurrent_sign_ins_cannot_pass_the_limit: super::concurrent_sign_ins_cannot_pass_the_limit,
    api_keys_are_found_by_hash_and_revoked: super::api_keys_are_found_by_hash_and_revoked,
    the_first_user_of_an_empty_store: super::the_first_user_of_an_empty_store,
    concurrent_deletions_keep_an_administrator: super::concurrent_deletions_keep_an_administrator,
}

fn user(name: &str, is_admin: bool) -> UserRecord {
    UserRecord {
        id: Uuid::new_v4(),
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        is_admin,
        created_at: T0,
        updated_at: T0,
        version: 1,
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

pub(crate) async fn users_are_unique_without_regard_to_case(db: &crate::TestDb) {
    let store = db.store();
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

pub(crate) async fn the_first_user_is_created_once(db: &crate::TestDb) {
    let store = db.store();
    let alice = user("Alice", false);
    store.insert_user(&alice, &create(&alice)).await.unwrap();
    // A user exists already: nothing is inserted.
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

pub(crate) async fn the_last_administrator_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let root = user("root", true);
    let ops = user("ops", true);
    let alice = user("Alice", false);
    store.insert_user(&alice, &create(&alice)).await.unwrap();
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

pub(crate) async fn sessions_belong_to_users(db: &crate::TestDb) {
    let store = db.store();
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

pub(crate) async fn a_new_password_ends_sessions(db: &crate::TestDb) {
    let store = db.store();
    let dave = user("dave", false);
    store.insert_user(&dave, &create(&dave)).await.unwrap();
    store.insert_session(&session("d1", dave.id)).await.unwrap();
    store.insert_session(&session("d2", dave.id)).await.unwrap();
    let later = T0 + Duration::hours(2);
    let version = store
        .set_password(
            dave.id,
            "$argon2id$new",
            later,
            Some(1),
            &audit(ResourceKind::User, dave.id, AuditAction::Update, 5),
        )
        .await
        .unwrap();
    assert_eq!(version, 2);
    // A change made from the version before is refused.
    assert!(matches!(
        store
            .set_password(
                dave.id,
                "$argon2id$stale",
                later,
                Some(1),
                &audit(ResourceKind::User, dave.id, AuditAction::Update, 5),
            )
            .await,
        Err(StoreError::Changed { kind: "user" })
    ));
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
                None,
                &audit(ResourceKind::User, dave.id, AuditAction::Update, 6)
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn sign_ins_are_counted_per_name_and_address(db: &crate::TestDb) {
    let store = db.store();
    let key = username_key(" Eve ");
    assert_eq!(key, "eve");
    let attempt = |address: &'static str, at: OffsetDateTime, since: OffsetDateTime| {
        store.begin_sign_in(&key, address, at, since, 3)
    };
    for minute in 0..3 {
        let at = T0 + Duration::minutes(minute);
        assert_eq!(
            attempt("10.0.0.1", at, T0).await.unwrap(),
            SignInAttempt::Counted
        );
    }
    // The limit is per name and address.
    assert_eq!(
        attempt("10.0.0.2", T0, T0).await.unwrap(),
        SignInAttempt::Counted
    );
    let fourth = attempt("10.0.0.1", T0 + Duration::minutes(3), T0)
        .await
        .unwrap();
    assert_eq!(
        fourth,
        SignInAttempt::Throttled {
            recent: vec![T0, T0 + Duration::minutes(1), T0 + Duration::minutes(2)]
        }
    );
    assert_eq!(
        store
            .login_failures(&key, "10.0.0.1", T0)
            .await
            .unwrap()
            .len(),
        3,
        "a refused attempt is not counted"
    );
    // Attempts older than the window are forgotten.
    let later = T0 + Duration::hours(1);
    assert_eq!(
        attempt("10.0.0.1", later, T0 + Duration::minutes(30))
            .await
            .unwrap(),
        SignInAttempt::Counted
    );
    assert_eq!(
        store.login_failures(&key, "10.0.0.1", T0).await.unwrap(),
        [later]
    );
    store.clear_login_failures(&key, "10.0.0.1").await.unwrap();
    assert!(
        store
            .login_failures(&key, "10.0.0.1", T0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .login_failures(&key, "10.0.0.2", T0)
            .await
            .unwrap()
            .is_empty(),
        "older than the window of the last attempt, whoever made it"
    );
}

pub(crate) async fn concurrent_sign_ins_cannot_pass_the_limit(db: &crate::TestDb) {
    // Sixty attempts at once, over several pools (servers): five are let through.
    let attempts = (0..60).map(|i| async move {
        let store = db.another().await;
        let at = T0 + Duration::milliseconds(i);
        store
            .begin_sign_in("mallory", "192.0.2.7", at, T0, 5)
            .await
            .unwrap()
    });
    let results = futures::future::join_all(attempts).await;
    let counted = results
        .iter()
        .filter(|r| **r == SignInAttempt::Counted)
        .count();
    assert_eq!(counted, 5, "{results:?}");
}

pub(crate) async fn api_keys_are_found_by_hash_and_revoked(db: &crate::TestDb) {
    let store = db.store();
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

pub(crate) async fn the_first_user_of_an_empty_store(db: &crate::TestDb) {
    let store = db.store();
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

pub(crate) async fn concurrent_deletions_keep_an_administrator(db: &crate::TestDb) {
    let store = db.store();
    let admins: Vec<UserRecord> = (0..4).map(|i| user(&format!("root{i}"), true)).collect();
    for a in &admins {
        store.insert_user(a, &create(a)).await.unwrap();
    }
    let deletions = admins.iter().map(|a| async move {
        let store = db.another().await;
        store
            .delete_user(
                a.id,
                &audit(ResourceKind::User, a.id, AuditAction::Delete, 1),
            )
            .await
    });
    let results = futures::future::join_all(deletions).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert_eq!(
        store
            .list_users()
            .await
            .unwrap()
            .iter()
            .filter(|u| u.is_admin)
            .count(),
        1
    );
}
