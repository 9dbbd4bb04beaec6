//! The server's own API key: created once per database, kept only as its SHA-256 there, so
//! every server on the database accepts it.

use axum::http::{Method, StatusCode};
use jiralink_web::{
    API_KEY_FILE, API_KEY_SETTING, ApiKeyHash, ApiKeySource, AppState, ServerKey,
    load_or_create_api_key, reset_api_key, router,
};

use crate::{call, open_app, test_clock};

#[tokio::test]
async fn a_created_key_is_stored_as_its_hash_only_and_reused() {
    let (dir, app) = open_app("", &test_clock()).await;
    let (hash, source) = load_or_create_api_key(&app, None).await.unwrap();
    let ApiKeySource::Created(key) = source else {
        panic!("expected a new key, got {source:?}")
    };
    assert!(hash.verify(key.expose()));
    assert!(!format!("{key:?}").contains(key.expose()));
    let stored = app.setting(API_KEY_SETTING).await.unwrap().unwrap();
    assert!(!stored.contains(key.expose()));
    assert_eq!(ApiKeyHash::of(key.expose()), hash);
    // Another server on the same database (here: the same file) uses it; nothing is printed.
    let (again, source) = load_or_create_api_key(&app, None).await.unwrap();
    assert!(matches!(source, ApiKeySource::Database), "{source:?}");
    assert!(again.verify(key.expose()));
    assert!(!dir.path().join(API_KEY_FILE).exists());

    // Reset: a new key, shown once, stored as its hash; the next start uses it.
    let fresh = reset_api_key(&app).await.unwrap();
    assert_ne!(fresh.expose(), key.expose());
    let (hash, source) = load_or_create_api_key(&app, None).await.unwrap();
    assert!(matches!(source, ApiKeySource::Database), "{source:?}");
    assert!(hash.verify(fresh.expose()));
    assert!(!hash.verify(key.expose()));
}

#[tokio::test]
async fn servers_read_the_stored_key_on_every_request_so_a_reset_needs_no_restart() {
    let (_dir, app) = open_app("", &test_clock()).await;
    let (_, source) = load_or_create_api_key(&app, None).await.unwrap();
    let ApiKeySource::Created(first) = source else {
        panic!("expected a new key, got {source:?}")
    };
    // Two servers on one database, both reading the key from it.
    let a = router(AppState::new(app.clone(), ServerKey::Stored));
    let b = router(AppState::new(app.clone(), ServerKey::Stored));
    for server in [&a, &b] {
        let r = call(
            server,
            Method::GET,
            "/v1/connections",
            None,
            Some(first.expose()),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    let second = reset_api_key(&app).await.unwrap();
    for server in [&a, &b] {
        let old = call(
            server,
            Method::GET,
            "/v1/connections",
            None,
            Some(first.expose()),
        )
        .await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.text);
        let new = call(
            server,
            Method::GET,
            "/v1/connections",
            None,
            Some(second.expose()),
        )
        .await;
        assert_eq!(new.status, StatusCode::OK, "{}", new.text);
    }

    // A damaged stored value lets no key through.
    app.set_setting(API_KEY_SETTING, "not hex").await.unwrap();
    let r = call(
        &a,
        Method::GET,
        "/v1/connections",
        None,
        Some(second.expose()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Nor does a deleted one.
    app.delete_setting(API_KEY_SETTING).await.unwrap();
    let r = call(
        &b,
        Method::GET,
        "/v1/connections",
        None,
        Some(second.expose()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_environment_wins_and_must_be_long_enough() {
    let (_dir, app) = open_app("", &test_clock()).await;
    let long = "k".repeat(jiralink_web::api_key::MIN_API_KEY_LEN);
    let (hash, source) = load_or_create_api_key(&app, Some(&long)).await.unwrap();
    assert!(matches!(source, ApiKeySource::Env));
    assert!(hash.verify(&long));
    assert_eq!(app.setting(API_KEY_SETTING).await.unwrap(), None);
    let err = load_or_create_api_key(&app, Some("short"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");
}

#[tokio::test]
async fn a_hash_file_of_an_earlier_version_moves_into_the_database() {
    let (dir, app) = open_app("", &test_clock()).await;
    let key = "jlk_from_an_earlier_version_0123456789";
    std::fs::write(
        dir.path().join(API_KEY_FILE),
        format!("{}\n", hex_sha256(key)),
    )
    .unwrap();
    let (hash, source) = load_or_create_api_key(&app, None).await.unwrap();
    assert!(matches!(source, ApiKeySource::File), "{source:?}");
    assert!(hash.verify(key));
    assert!(!dir.path().join(API_KEY_FILE).exists());
    let (again, source) = load_or_create_api_key(&app, None).await.unwrap();
    assert!(matches!(source, ApiKeySource::Database));
    assert!(again.verify(key));

    // A damaged value is reported, not replaced.
    app.set_setting(API_KEY_SETTING, "not hex").await.unwrap();
    let err = load_or_create_api_key(&app, None).await.unwrap_err();
    assert!(err.to_string().contains("reset"), "{err}");
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
