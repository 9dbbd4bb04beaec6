use jiralink_app::{AppError, ConnectionSecrets};
use jiralink_domain::{ConnectionDraft, ConnectionId};
use sqlx::Connection as _;

use crate::{actor, add_basic, add_client, basic_draft, open};

#[tokio::test]
async fn secrets_round_trip_through_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let view = add_basic(&app, "Jira", "token-value").await;
    let id: ConnectionId = view.id.parse().unwrap();
    let token = app.connection_api_token(id).await.unwrap().unwrap();
    assert_eq!(token.expose(), "token-value");
    let client = add_client(&app, "App", "client-secret").await;
    let secret = app
        .oauth_client_secret(client.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.expose(), "client-secret");
}

#[tokio::test]
async fn a_replace_without_the_token_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let view = add_basic(&app, "Jira", "token-value").await;
    let mut draft = basic_draft("Jira");
    draft.subdomain = Some("elsewhere".to_owned());
    let err = app
        .update_connection(
            &view.id,
            view.version,
            &draft,
            ConnectionSecrets::default(),
            &actor(),
        )
        .await
        .unwrap_err();
    let AppError::Validation(errors) = err else {
        panic!("expected a validation error, got {err:?}");
    };
    assert!(errors.iter().any(|e| e.field.as_str() == "api_token"));
    let again = app.get_connection(&view.id).await.unwrap();
    assert_eq!(again.subdomain.as_deref(), Some("demo"));
    let token = app
        .connection_api_token(view.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.expose(), "token-value");
}

#[tokio::test]
async fn a_secret_moved_to_another_row_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let a = add_basic(&app, "A", "token-a").await;
    let b = add_basic(&app, "B", "token-b").await;
    drop(app);
    // Copy A's sealed token over B's, as someone with write access to the file could.
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("jiralink.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE owner_id = ?) \
         WHERE owner_id = ?",
    )
    .bind(&a.id)
    .bind(&b.id)
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let app = open(dir.path()).await;
    let err = app
        .connection_api_token(b.id.parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "secret_unreadable");
    assert!(!err.to_string().contains("token-a"));
    // A's own token is untouched.
    let token = app
        .connection_api_token(a.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.expose(), "token-a");
}

#[tokio::test]
async fn deleting_a_connection_removes_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let view = add_basic(&app, "Jira", "token-value").await;
    app.delete_connection("jira", &actor()).await.unwrap();
    assert!(app.store().list_secrets().await.unwrap().is_empty());
    assert!(matches!(
        app.get_connection(&view.id).await,
        Err(AppError::ConnectionNotFound { .. })
    ));
}

#[tokio::test]
async fn changing_scopes_requires_authorizing_again() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_client(&app, "App", "s").await;
    let draft = ConnectionDraft {
        name: Some("OAuth".to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("oauth2".to_owned()),
        oauth_client: Some("App".to_owned()),
        scopes: vec!["read:jira-work".to_owned()],
        ..ConnectionDraft::default()
    };
    let created = app
        .create_connection(&draft, ConnectionSecrets::default(), &actor())
        .await
        .unwrap();
    let mut same = draft.clone();
    same.concurrency_level = Some("5".to_owned());
    let saved = app
        .update_connection(
            "OAuth",
            created.value.version,
            &same,
            ConnectionSecrets::default(),
            &actor(),
        )
        .await
        .unwrap();
    assert!(saved.notices.iter().all(|n| !n.contains("authorize")));
    let mut wider = draft.clone();
    wider.scopes.push("write:jira-work".to_owned());
    let saved = app
        .update_connection(
            "OAuth",
            saved.value.version,
            &wider,
            ConnectionSecrets::default(),
            &actor(),
        )
        .await
        .unwrap();
    assert!(saved.notices.iter().any(|n| n.contains("authorize")));
}

#[tokio::test]
async fn a_draft_http_view_is_validated_like_a_save_without_name_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    add_basic(&app, "Jira", "token-value").await;
    add_client(&app, "Atlassian App", "client-secret").await;

    // No name, no token: neither shows in the view, so neither is asked for.
    let basic = ConnectionDraft {
        name: None,
        ..basic_draft("unused")
    };
    let view = app.draft_http_view(&basic).await.unwrap();
    assert_eq!(view.auth_type, "basic");
    assert_eq!(view.base_uri, "https://demo.atlassian.net");
    // A name another connection has is no problem either.
    let view = app.draft_http_view(&basic_draft("jira")).await.unwrap();
    assert_eq!(view.auth_type, "basic");

    // The OAuth 2.0 client is found as saving finds it (by name, any case), with its ID.
    let oauth = ConnectionDraft {
        name: Some(String::new()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("oauth2".to_owned()),
        oauth_client: Some("atlassian APP".to_owned()),
        scopes: vec!["read:jira-work".to_owned()],
        ..ConnectionDraft::default()
    };
    let view = app.draft_http_view(&oauth).await.unwrap();
    assert_eq!(view.base_uri, "https://api.atlassian.com/ex/jira/{cloudId}");
    let oauth_view = view.oauth.unwrap();
    assert_eq!(oauth_view.client_id.as_deref(), Some("client-id"));
    assert_eq!(
        oauth_view.redirect_uri,
        Some(app.oauth_callback_url().to_string())
    );

    // Other problems are reported, field by field; the name's and the token's are not.
    let broken = ConnectionDraft {
        name: Some("bad\u{7}name".to_owned()),
        subdomain: None,
        oauth_client: Some("nobody".to_owned()),
        ..oauth
    };
    let err = app.draft_http_view(&broken).await.unwrap_err();
    let AppError::Validation(errors) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        errors.fields(),
        [
            jiralink_domain::Field::Subdomain,
            jiralink_domain::Field::OAuthClient
        ]
    );
    assert_eq!(err.code(), "validation_failed");
}
