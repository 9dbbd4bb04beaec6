//! The server's own API key: created once per database, kept only as its SHA-256 there, so
//! every server on the database accepts it.

use jiralink_web::{
    API_KEY_FILE, API_KEY_SETTING, ApiKeyHash, ApiKeySource, load_or_create_api_key, reset_api_key,
};

use crate::{open_app, test_clock};

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

    // Reset: the next start creates another key.
    assert!(reset_api_key(&app).await.unwrap());
    let (fresh, source) = load_or_create_api_key(&app, None).await.unwrap();
    assert!(matches!(source, ApiKeySource::Created(_)));
    assert!(!fresh.verify(key.expose()));
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
    reset_api_key(&app).await.unwrap();
    app.put_setting_if_absent(API_KEY_SETTING, "not hex")
        .await
        .unwrap();
    let err = load_or_create_api_key(&app, None).await.unwrap_err();
    assert!(err.to_string().contains("reset"), "{err}");
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
