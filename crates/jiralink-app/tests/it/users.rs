//! Users, sign-in, sessions and API keys through the application.

use std::sync::Arc;

use jiralink_app::{
    Actor, App, AppError, OpenOptions, SESSION_IDLE_TIMEOUT, SIGN_IN_MAX_FAILURES, SIGN_IN_WINDOW,
};
use jiralink_domain::{AuditAction, ManualClock, ResourceKind};
use jiralink_vault::{Password, SessionToken};
use sqlx::Connection as _;
use time::Duration;

use crate::actor;

const PASSWORD: &str = "CANARY-pw-3f1c9a7e-long-enough";

async fn open_with_clock(dir: &std::path::Path) -> (App, ManualClock) {
    let clock = ManualClock::new(time::macros::datetime!(2026-01-02 03:04:05 UTC));
    let app = App::open(OpenOptions {
        data_dir: dir.to_path_buf(),
        config_file: None,
        database: None,
        clock: Arc::new(clock.clone()),
        env: Box::new(|_| None),
    })
    .await
    .unwrap()
    .value;
    (app, clock)
}

fn pw(s: &str) -> Password {
    Password::new(s)
}

/// Every byte of the database files, to check no secret is kept in plaintext.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("jiralink.db"))
        {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_first_start_creates_one_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    let generated = app.ensure_admin(None).await.unwrap().unwrap();
    assert!(generated.expose().chars().count() >= 12);
    let users = app.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].is_admin),
        ("admin", true)
    );
    // The generated password signs in.
    let session = app
        .sign_in("admin", &pw(generated.expose()), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.user.username, "admin");
    // Later starts change nothing, whatever the environment says.
    assert!(
        app.ensure_admin(Some(pw(PASSWORD)))
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.ensure_admin(None).await.unwrap().is_none());
    assert_eq!(app.list_users().await.unwrap().len(), 1);
    let audit = app
        .store()
        .list_audit(ResourceKind::User, users[0].id)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "jiralink");
}

#[tokio::test]
async fn a_given_admin_password_is_used_and_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    assert!(
        app.ensure_admin(Some(pw(PASSWORD)))
            .await
            .unwrap()
            .is_none()
    );
    app.sign_in("ADMIN", &pw(PASSWORD), "::1").await.unwrap();
    // A too short password from the environment is refused with the rule.
    let dir2 = tempfile::tempdir().unwrap();
    let (other, _) = open_with_clock(dir2.path()).await;
    let err = other.ensure_admin(Some(pw("short"))).await.unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    assert!(other.list_users().await.unwrap().is_empty());
}

#[tokio::test]
async fn users_are_created_listed_and_deleted_but_not_the_last_admin() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    let alice = app
        .create_user("alice", &pw(PASSWORD), false, &actor())
        .await
        .unwrap();
    let err = app
        .create_user("Alice", &pw(PASSWORD), false, &actor())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::UsernameTaken { .. }), "{err:?}");
    assert_eq!(err.code(), "username_taken");
    let err = app
        .create_user("bob", &pw("too short"), false, &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let err = app
        .create_user("bad name", &pw(PASSWORD), false, &actor())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "validation_failed");
    let names: Vec<String> = app
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["admin", "alice"]);
    let err = app.delete_user("admin", &actor()).await.unwrap_err();
    assert_eq!(err.code(), "last_admin");
    assert!(err.to_string().contains("last administrator"), "{err}");
    app.delete_user(&alice.id.to_string(), &actor())
        .await
        .unwrap();
    assert_eq!(
        app.delete_user("alice", &actor()).await.unwrap_err().code(),
        "user_not_found"
    );
    let audit = app
        .store()
        .list_audit(ResourceKind::User, alice.id)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = audit.iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::Create, AuditAction::Delete]);
    assert_eq!(audit[0].actor, "tester");
    assert!(
        audit[0]
            .changes
            .iter()
            .any(|c| c.field == "password" && c.secret)
    );
    // Neither the password nor its hash is in the database in plaintext.
    drop(app);
    let bytes = database_bytes(dir.path());
    assert!(!contains(&bytes, PASSWORD));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_get_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    let wrong = app
        .sign_in("admin", &pw("not the password!"), "10.0.0.1")
        .await
        .unwrap_err();
    let unknown = app
        .sign_in("nobody", &pw(PASSWORD), "10.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), "invalid_credentials");
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(wrong.error_code(), unknown.error_code());
    assert!(!wrong.to_string().contains("not the password"));
}

#[tokio::test]
async fn failed_sign_ins_lock_the_name_at_that_address_for_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    for _ in 0..SIGN_IN_MAX_FAILURES {
        let err = app
            .sign_in("admin", &pw("wrong password!"), "10.0.0.1")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_credentials");
        clock.advance(Duration::minutes(1));
    }
    // Locked: even the right password is refused, and the answer says for how long.
    let err = app
        .sign_in("admin", &pw(PASSWORD), "10.0.0.1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::SignInThrottled { minutes: 10 }),
        "{err:?}"
    );
    assert_eq!(err.error_code().http_status, 429);
    // Another address is not locked; the same name in other case is.
    app.sign_in("admin", &pw(PASSWORD), "10.0.0.2")
        .await
        .unwrap();
    assert_eq!(
        app.sign_in("Admin", &pw(PASSWORD), "10.0.0.1")
            .await
            .unwrap_err()
            .code(),
        "sign_in_throttled"
    );
    // Once the first failure leaves the window, one attempt is allowed again.
    clock.advance(SIGN_IN_WINDOW - Duration::minutes(5));
    let session = app
        .sign_in("admin", &pw(PASSWORD), "10.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.user.username, "admin");
    // Success forgets the failures.
    for _ in 0..SIGN_IN_MAX_FAILURES - 1 {
        app.sign_in("admin", &pw("wrong password!"), "10.0.0.1")
            .await
            .unwrap_err();
    }
    app.sign_in("admin", &pw(PASSWORD), "10.0.0.1")
        .await
        .unwrap();
}

/// Sixty wrong passwords sent at once from one address: five are checked, the others are
/// refused before their password is looked at, and the right password is refused after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_are_counted_before_the_password_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _clock) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    let attempts = (0..60).map(|i| {
        let app = app.clone();
        tokio::spawn(async move {
            app.sign_in("admin", &pw(&format!("wrong password {i}")), "192.0.2.9")
                .await
                .unwrap_err()
                .code()
        })
    });
    let mut codes = Vec::new();
    for attempt in attempts {
        codes.push(attempt.await.unwrap());
    }
    let checked = codes
        .iter()
        .filter(|c| **c == "invalid_credentials")
        .count();
    let throttled = codes.iter().filter(|c| **c == "sign_in_throttled").count();
    assert_eq!(
        (checked, throttled),
        (SIGN_IN_MAX_FAILURES, 60 - SIGN_IN_MAX_FAILURES)
    );
    assert_eq!(
        app.sign_in("admin", &pw(PASSWORD), "192.0.2.9")
            .await
            .unwrap_err()
            .code(),
        "sign_in_throttled"
    );
}

#[tokio::test]
async fn sessions_end_when_idle_old_signed_out_or_the_password_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    assert_eq!(s.token.expose().len(), 64);
    assert_eq!(s.csrf_token.len(), 64);
    let info = app.session(&s.token).await.unwrap().unwrap();
    assert_eq!(info.csrf_token, s.csrf_token);
    assert!(
        app.session(&SessionToken::new("forged"))
            .await
            .unwrap()
            .is_none()
    );
    // Activity keeps it alive past the idle timeout...
    for _ in 0..3 {
        clock.advance(SESSION_IDLE_TIMEOUT - Duration::minutes(1));
        assert!(app.session(&s.token).await.unwrap().is_some());
    }
    // ...but not past idleness.
    clock.advance(SESSION_IDLE_TIMEOUT);
    assert!(app.session(&s.token).await.unwrap().is_none());

    // Absolute lifetime: active every 11 hours for 7 days, still ended.
    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    let mut alive_for = Duration::ZERO;
    while app.session(&s.token).await.unwrap().is_some() {
        clock.advance(Duration::hours(11));
        alive_for += Duration::hours(11);
        assert!(alive_for <= Duration::days(8), "the session never ends");
    }
    assert!(alive_for >= Duration::days(7) && alive_for < Duration::days(7) + Duration::hours(11));

    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    app.sign_out(&s.token).await.unwrap();
    assert!(app.session(&s.token).await.unwrap().is_none());

    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    let new_password = "another long password";
    app.change_password("admin", None, &pw(new_password), &actor())
        .await
        .unwrap();
    assert!(app.session(&s.token).await.unwrap().is_none());
    assert_eq!(
        app.sign_in("admin", &pw(PASSWORD), "a")
            .await
            .unwrap_err()
            .code(),
        "invalid_credentials"
    );
    let s = app.sign_in("admin", &pw(new_password), "a").await.unwrap();
    // The token is stored only as its hash.
    drop(app);
    let bytes = database_bytes(dir.path());
    assert!(!contains(&bytes, s.token.expose()));
    assert!(!contains(&bytes, new_password));
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    app.create_user("ci", &pw(PASSWORD), false, &actor())
        .await
        .unwrap();
    let created = app
        .create_api_key("ci", "nightly export", &actor())
        .await
        .unwrap();
    let key = created.key.expose().to_owned();
    assert!(key.starts_with("jlk_") && key.len() == 68, "{}", key.len());
    assert_eq!(created.view.prefix, key[..12]);
    assert!(!format!("{created:?}").contains(&key[12..]));
    let user = app.authenticate_api_key(&key).await.unwrap().unwrap();
    assert_eq!(user.username, "ci");
    assert!(
        app.authenticate_api_key("jlk_wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.authenticate_api_key("").await.unwrap().is_none());
    let listed = app.list_api_keys(Some("ci")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());
    assert!(app.list_api_keys(Some("admin")).await.unwrap().is_empty());
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains(&key[12..]));
    assert_eq!(
        app.create_api_key("ci", "  ", &actor())
            .await
            .unwrap_err()
            .code(),
        "validation_failed"
    );
    assert_eq!(
        app.create_api_key("ghost", "x", &actor())
            .await
            .unwrap_err()
            .code(),
        "user_not_found"
    );
    app.revoke_api_key(&created.view.id.to_string(), &actor())
        .await
        .unwrap();
    assert!(app.authenticate_api_key(&key).await.unwrap().is_none());
    assert_eq!(
        app.revoke_api_key(&created.view.id.to_string(), &actor())
            .await
            .unwrap_err()
            .code(),
        "api_key_not_found"
    );
    assert_eq!(
        app.revoke_api_key("not-an-id", &actor())
            .await
            .unwrap_err()
            .code(),
        "api_key_not_found"
    );
    let audit = app
        .store()
        .list_audit(ResourceKind::ApiKey, created.view.id)
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].resource_name, "nightly export (ci)");
    drop(app);
    assert!(!contains(&database_bytes(dir.path()), &key));
    // The stored hash is the key's SHA-256, and nothing else about the key but its prefix.
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("jiralink.db").display()
    ))
    .await
    .unwrap();
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(count.0, 0);
    db.close().await.unwrap();
}

#[tokio::test]
async fn deleting_a_user_revokes_their_keys_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();
    app.create_user("temp", &pw(PASSWORD), true, &actor())
        .await
        .unwrap();
    let key = app.create_api_key("temp", "k", &actor()).await.unwrap();
    let s = app.sign_in("temp", &pw(PASSWORD), "x").await.unwrap();
    let ui = Actor {
        name: "admin".to_owned(),
        source: jiralink_domain::AuditSource::Ui,
    };
    app.delete_user("temp", &ui).await.unwrap();
    assert!(app.session(&s.token).await.unwrap().is_none());
    assert!(
        app.authenticate_api_key(key.key.expose())
            .await
            .unwrap()
            .is_none()
    );
}

/// A real user's stored password is an Argon2id PHC string that verifies the password,
/// read from the `users` row itself.
#[tokio::test]
async fn a_users_stored_password_is_an_argon2id_hash() {
    use argon2::PasswordVerifier as _;
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = open_with_clock(dir.path()).await;
    app.create_user("dana", &pw(PASSWORD), false, &actor())
        .await
        .unwrap();
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("jiralink.db").display()
    ))
    .await
    .unwrap();
    let (stored,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE username = 'dana'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    db.close().await.unwrap();
    assert!(!stored.contains(PASSWORD));
    let parsed = argon2::PasswordHash::new(&stored).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id", "{stored}");
    let argon2 = argon2::Argon2::default();
    assert!(argon2.verify_password(PASSWORD.as_bytes(), &parsed).is_ok());
    assert!(argon2.verify_password(b"wrong", &parsed).is_err());
}

/// A session ends after 12 hours without activity and 7 days after sign-in however active,
/// to the minute.
#[tokio::test]
async fn sessions_last_12_hours_idle_and_7_days_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let (app, clock) = open_with_clock(dir.path()).await;
    app.ensure_admin(Some(pw(PASSWORD))).await.unwrap();

    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    clock.advance(Duration::hours(12) - Duration::minutes(1));
    assert!(app.session(&s.token).await.unwrap().is_some());
    clock.advance(Duration::hours(12));
    assert!(app.session(&s.token).await.unwrap().is_none(), "idle 12 h");

    let s = app.sign_in("admin", &pw(PASSWORD), "a").await.unwrap();
    let mut alive_for = Duration::ZERO;
    while alive_for + Duration::hours(6) < Duration::days(7) {
        clock.advance(Duration::hours(6));
        alive_for += Duration::hours(6);
        assert!(
            app.session(&s.token).await.unwrap().is_some(),
            "{alive_for}"
        );
    }
    clock.advance(Duration::days(7) - alive_for - Duration::minutes(1));
    assert!(app.session(&s.token).await.unwrap().is_some());
    clock.advance(Duration::minutes(1));
    assert!(app.session(&s.token).await.unwrap().is_none(), "7 days");
}
