use jiralink_domain::{
    ApiType, AuditAction, AuditEntry, AuditSource, ConcurrencyLevel, Connection, ConnectionAuth,
    ConnectionId, ConnectionName, ConnectionSettings, ConnectionState, Email, OAuthClient,
    OAuthClientId, OAuthClientSettings, ResourceKind, ScopeSet, Subdomain,
};
use jiralink_store::{
    ConnectionUpdate, DebugDirection, DebugLine, SecretField, SecretOwner, SecretWrite, Store,
    StoreError,
};
use jiralink_vault::{Aad, MasterKey, seal};
use time::macros::datetime;
use uuid::Uuid;

crate::on_both_backends! {
    connections_round_trip: super::connections_round_trip,
    names_are_unique_without_regard_to_case: super::names_are_unique_without_regard_to_case,
    oauth_clients_in_use_cannot_be_deleted: super::oauth_clients_in_use_cannot_be_deleted,
    secrets_follow_the_auth_type: super::secrets_follow_the_auth_type,
    reseal_is_compare_and_swap: super::reseal_is_compare_and_swap,
    audit_is_kept_in_order: super::audit_is_kept_in_order,
    tests_are_recorded: super::tests_are_recorded,
    debug_log_is_kept_per_connection: super::debug_log_is_kept_per_connection,
    stale_edits_change_nothing: super::stale_edits_change_nothing,
    edits_keep_what_tests_and_refreshes_wrote: super::edits_keep_what_tests_and_refreshes_wrote,
    settings_keep_the_first_value: super::settings_keep_the_first_value,
    the_database_answers: super::the_database_answers,
}

pub(crate) fn basic(name: &str) -> Connection {
    let t = datetime!(2026-01-01 00:00 UTC);
    Connection {
        id: ConnectionId::new(),
        settings: ConnectionSettings {
            name: ConnectionName::parse(name).unwrap(),
            api_type: ApiType::CloudPlatform,
            subdomain: Some(Subdomain::parse("demo").unwrap().value),
            auth: ConnectionAuth::Basic {
                username: Email::parse("me@example.com").unwrap(),
            },
            concurrency_level: ConcurrencyLevel::default(),
            rate_limit: jiralink_domain::RateLimitHandling::default(),
        },
        state: ConnectionState::Untested,
        state_changed_at: Some(t),
        created_at: t,
        updated_at: t,
        api_token: None,
        cloud_id: None,
        last_tested_at: None,
        debug_until: None,
        version: 1,
    }
}

/// An edit of `c` that moves it to `c.state`, made from `c.version`.
pub(crate) fn edit(c: &Connection) -> ConnectionUpdate<'_> {
    ConnectionUpdate {
        connection: c,
        set_state: true,
        clear_cloud_id: false,
    }
}

pub(crate) fn oauth(name: &str, client: OAuthClientId) -> Connection {
    let mut c = basic(name);
    c.settings.auth = ConnectionAuth::OAuth2 {
        client,
        scopes: ScopeSet::parse(ApiType::CloudPlatform, &["read:jira-work"])
            .unwrap()
            .set,
    };
    c.state = ConnectionState::Online;
    c
}

pub(crate) fn client(name: &str) -> OAuthClient {
    let t = datetime!(2026-01-01 00:00 UTC);
    OAuthClient {
        id: OAuthClientId::new(),
        settings: OAuthClientSettings {
            name: ConnectionName::parse(name).unwrap(),
            client_id: "cid".to_owned(),
        },
        created_at: t,
        updated_at: t,
        client_secret: None,
        version: 1,
    }
}

pub(crate) fn audit(kind: ResourceKind, id: Uuid, action: AuditAction, minute: u8) -> AuditEntry {
    AuditEntry {
        id: Uuid::new_v4(),
        at: datetime!(2026-01-01 00:00 UTC) + time::Duration::minutes(i64::from(minute)),
        actor: "tester".to_owned(),
        source: AuditSource::Cli,
        action,
        resource_kind: kind,
        resource_id: id,
        resource_name: "x".to_owned(),
        changes: Vec::new(),
    }
}

/// Stores a new connection with its secrets and its creation entry.
pub(crate) async fn create_connection(store: &dyn Store, c: &Connection, secrets: &[SecretWrite]) {
    store
        .insert_connection(
            c,
            secrets,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
}

/// Stores a new OAuth 2.0 client with its secrets and its creation entry.
pub(crate) async fn create_client(store: &dyn Store, cl: &OAuthClient, secrets: &[SecretWrite]) {
    store
        .insert_oauth_client(
            cl,
            secrets,
            &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
}

pub(crate) fn sealed(
    key: &MasterKey,
    owner: SecretOwner,
    field: SecretField,
    value: &str,
) -> SecretWrite {
    let id = owner.id().to_string();
    let aad = Aad {
        record_kind: owner.kind(),
        record_id: &id,
        field: field.as_str(),
    };
    SecretWrite {
        field,
        sealed: seal(key, value.as_bytes(), &aad).unwrap(),
    }
}

pub(crate) async fn connections_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let c = basic("Round Trip");
    let w = sealed(
        &key,
        SecretOwner::Connection(c.id),
        SecretField::ApiToken,
        "t",
    );
    create_connection(store, &c, &[w]).await;
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(got.settings, c.settings);
    assert_eq!(got.state, c.state);
    assert_eq!(got.created_at, c.created_at);
    assert_eq!(got.api_token.unwrap().updated_at, c.updated_at);
    let by_name = store
        .find_connection_by_name("ROUND trip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.id, c.id);
    assert!(matches!(
        store.get_connection(ConnectionId::new()).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn names_are_unique_without_regard_to_case(db: &crate::TestDb) {
    let store = db.store();
    let a = basic("Unique Name");
    create_connection(store, &a, &[]).await;
    let b = basic("UNIQUE name");
    let err = store
        .insert_connection(
            &b,
            &[],
            &audit(ResourceKind::Connection, b.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // The failed insert left nothing behind, not even its audit entry.
    assert!(
        store
            .list_audit(ResourceKind::Connection, b.id.0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn oauth_clients_in_use_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let cl = client("In Use");
    let w = sealed(
        &key,
        SecretOwner::OAuthClient(cl.id),
        SecretField::ClientSecret,
        "s",
    );
    create_client(store, &cl, &[w]).await;
    assert!(
        store
            .get_oauth_client(cl.id)
            .await
            .unwrap()
            .client_secret
            .is_some()
    );
    let c = oauth("Uses client", cl.id);
    create_connection(store, &c, &[]).await;
    let users = store.connections_using_client(cl.id).await.unwrap();
    assert_eq!(users, vec![(c.id, "Uses client".to_owned())]);
    let err = store
        .delete_oauth_client(
            cl.id,
            &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Delete, 1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    // A connection cannot point at a client that does not exist.
    let orphan = oauth("Orphan", OAuthClientId::new());
    assert!(
        store
            .insert_connection(
                &orphan,
                &[],
                &audit(
                    ResourceKind::Connection,
                    orphan.id.0,
                    AuditAction::Create,
                    0
                )
            )
            .await
            .is_err()
    );
    store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 2),
        )
        .await
        .unwrap();
    store
        .delete_oauth_client(
            cl.id,
            &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Delete, 3),
        )
        .await
        .unwrap();
    assert!(
        store
            .get_secret(SecretOwner::OAuthClient(cl.id), SecretField::ClientSecret)
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn secrets_follow_the_auth_type(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let cl = client("Follow");
    create_client(store, &cl, &[]).await;
    let mut c = oauth("Follows", cl.id);
    let owner = SecretOwner::Connection(c.id);
    let tokens = [
        sealed(&key, owner, SecretField::AccessToken, "a"),
        sealed(&key, owner, SecretField::RefreshToken, "r"),
    ];
    create_connection(store, &c, &tokens).await;
    // Needing authorization again drops the tokens granted before.
    c.state = ConnectionState::NeedsAuthorization;
    c.version = store
        .update_connection(
            &edit(&c),
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 1),
        )
        .await
        .unwrap();
    assert!(
        store
            .get_secret(owner, SecretField::RefreshToken)
            .await
            .unwrap()
            .is_none()
    );
    // Switching to Basic keeps only the API token.
    let basic_settings = basic("Follows").settings;
    c.settings = basic_settings;
    c.state = ConnectionState::Untested;
    let t = sealed(&key, owner, SecretField::ApiToken, "t");
    store
        .update_connection(
            &edit(&c),
            &[t],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 2),
        )
        .await
        .unwrap();
    assert!(
        store
            .get_secret(owner, SecretField::ApiToken)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .connections_using_client(cl.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .delete_secret(owner, SecretField::ApiToken)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_secret(owner, SecretField::ApiToken)
            .await
            .unwrap()
    );
}

pub(crate) async fn reseal_is_compare_and_swap(db: &crate::TestDb) {
    let store = db.store();
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let c = basic("Reseal");
    let owner = SecretOwner::Connection(c.id);
    create_connection(
        store,
        &c,
        &[sealed(&old, owner, SecretField::ApiToken, "t")],
    )
    .await;
    let fresh = sealed(&new, owner, SecretField::ApiToken, "t").sealed;
    // Expecting the wrong key changes nothing.
    assert!(
        !store
            .reseal_secret(owner, SecretField::ApiToken, new.id(), &fresh)
            .await
            .unwrap()
    );
    assert!(
        store
            .reseal_secret(owner, SecretField::ApiToken, old.id(), &fresh)
            .await
            .unwrap()
    );
    let stored = store
        .get_secret(owner, SecretField::ApiToken)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sealed.key_id(), new.id());
    let counts = store.count_secrets_by_key().await.unwrap();
    assert!(counts.iter().any(|(k, n)| k == new.id() && *n >= 1));
    assert!(
        store
            .list_secrets()
            .await
            .unwrap()
            .iter()
            .any(|s| s.owner == owner)
    );
}

pub(crate) async fn audit_is_kept_in_order(db: &crate::TestDb) {
    let store = db.store();
    let id = Uuid::new_v4();
    for (i, action) in [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
    ]
    .into_iter()
    .enumerate()
    {
        store
            .append_audit(&audit(
                ResourceKind::Connection,
                id,
                action,
                u8::try_from(i).unwrap(),
            ))
            .await
            .unwrap();
    }
    let entries = store
        .list_audit(ResourceKind::Connection, id)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = entries.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Create,
            AuditAction::Update,
            AuditAction::Delete
        ]
    );
    assert!(
        store
            .list_audit(ResourceKind::OAuthClient, id)
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn tests_are_recorded(db: &crate::TestDb) {
    let store = db.store();
    let c = basic("Tested");
    create_connection(store, &c, &[]).await;
    let t1 = datetime!(2026-01-02 00:00 UTC);
    let offline = ConnectionState::Offline {
        reason: "401".to_owned(),
    };
    store
        .record_connection_test(c.id, c.version, &offline, t1, Some("cloud-1"))
        .await
        .unwrap();
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(got.state, offline);
    assert_eq!(got.state_changed_at, Some(t1));
    assert_eq!(got.last_tested_at, Some(t1));
    assert_eq!(got.cloud_id.as_deref(), Some("cloud-1"));

    // The same state again: tested later, but the state has not changed since t1, and a test
    // that found no cloud id keeps the known one.
    let t2 = datetime!(2026-01-02 01:00 UTC);
    store
        .record_connection_test(c.id, c.version, &offline, t2, None)
        .await
        .unwrap();
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(got.state_changed_at, Some(t1));
    assert_eq!(got.last_tested_at, Some(t2));
    assert_eq!(got.cloud_id.as_deref(), Some("cloud-1"));

    let until = datetime!(2026-01-02 01:15 UTC);
    store.set_debug_until(c.id, Some(until)).await.unwrap();
    assert_eq!(
        store.get_connection(c.id).await.unwrap().debug_until,
        Some(until)
    );
    // Editing the settings keeps the debugger window and what tests learnt.
    let mut edited = store.get_connection(c.id).await.unwrap();
    edited.updated_at = t2;
    store
        .update_connection(
            &ConnectionUpdate {
                connection: &edited,
                set_state: false,
                clear_cloud_id: false,
            },
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 1),
        )
        .await
        .unwrap();
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(got.debug_until, Some(until));
    assert_eq!(got.last_tested_at, Some(t2));
    store.set_debug_until(c.id, None).await.unwrap();
    assert_eq!(store.get_connection(c.id).await.unwrap().debug_until, None);
    assert!(matches!(
        store
            .record_connection_test(ConnectionId::new(), 1, &ConnectionState::Online, t2, None)
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // A test that started before the edit above must not overwrite it.
    let t3 = datetime!(2026-01-02 02:00 UTC);
    assert!(matches!(
        store
            .record_connection_test(c.id, c.version, &ConnectionState::Online, t3, None)
            .await,
        Err(StoreError::Changed { .. })
    ));
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!((got.state, got.last_tested_at), (offline, Some(t2)));
    // One that started after it is recorded.
    store
        .record_connection_test(c.id, got.version, &ConnectionState::Online, t3, None)
        .await
        .unwrap();
    assert_eq!(
        store.get_connection(c.id).await.unwrap().state,
        ConnectionState::Online
    );
}

fn line(connection: ConnectionId, minute: i64, direction: DebugDirection) -> DebugLine {
    DebugLine {
        connection,
        at: datetime!(2026-01-03 00:00 UTC) + time::Duration::minutes(minute),
        request_id: format!("req-{minute}"),
        direction,
        method: "GET".to_owned(),
        url: "https://demo.atlassian.net/rest/api/3/myself".to_owned(),
        status: (direction == DebugDirection::Response).then_some(200),
        duration_ms: (direction == DebugDirection::Response).then_some(12),
        headers: vec![("authorization".to_owned(), "Basic ********".to_owned())],
        body: Some("{}".to_owned()),
    }
}

pub(crate) async fn debug_log_is_kept_per_connection(db: &crate::TestDb) {
    let store = db.store();
    let a = basic("Debugged A");
    let b = basic("Debugged B");
    for c in [&a, &b] {
        create_connection(store, c, &[]).await;
    }
    let lines = vec![
        line(a.id, 0, DebugDirection::Request),
        line(a.id, 0, DebugDirection::Response),
        line(a.id, 30, DebugDirection::Request),
        line(b.id, 5, DebugDirection::Request),
    ];
    store.append_debug_lines(&lines).await.unwrap();
    let since = datetime!(2026-01-01 00:00 UTC);
    let got = store.list_debug_lines(a.id, since).await.unwrap();
    assert_eq!(got, lines[..3].to_vec(), "in order, with every field");
    let later = store
        .list_debug_lines(a.id, datetime!(2026-01-03 00:10 UTC))
        .await
        .unwrap();
    assert_eq!(later.len(), 1);

    let purged = store
        .purge_debug_lines(datetime!(2026-01-03 00:10 UTC))
        .await
        .unwrap();
    assert_eq!(purged, 3, "both connections' old lines go");
    assert_eq!(store.list_debug_lines(a.id, since).await.unwrap().len(), 1);
    assert_eq!(store.clear_debug_lines(a.id).await.unwrap(), 1);
    assert!(
        store
            .list_debug_lines(a.id, since)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .append_debug_lines(&[line(b.id, 40, DebugDirection::Request)])
        .await
        .unwrap();
    store
        .delete_connection(
            b.id,
            &audit(ResourceKind::Connection, b.id.0, AuditAction::Delete, 2),
        )
        .await
        .unwrap();
    assert!(
        store
            .list_debug_lines(b.id, since)
            .await
            .unwrap()
            .is_empty(),
        "a deleted connection's log goes with it"
    );
}

pub(crate) async fn stale_edits_change_nothing(db: &crate::TestDb) {
    let store = db.store();
    let c = basic("Versioned");
    create_connection(store, &c, &[]).await;
    let mut first = c.clone();
    first.settings.name = ConnectionName::parse("Versioned by A").unwrap();
    let v2 = store
        .update_connection(
            &edit(&first),
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 1),
        )
        .await
        .unwrap();
    assert_eq!(v2, 2);
    // B read version 1 too: its edit is refused and leaves no trace.
    let mut second = c.clone();
    second.settings.name = ConnectionName::parse("Versioned by B").unwrap();
    let err = store
        .update_connection(
            &edit(&second),
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Changed { kind: "connection" }),
        "{err:?}"
    );
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(
        (got.settings.name.as_str(), got.version),
        ("Versioned by A", 2)
    );
    assert_eq!(
        store
            .list_audit(ResourceKind::Connection, c.id.0)
            .await
            .unwrap()
            .len(),
        2,
        "the creation and A's edit"
    );
    // Editing a connection that is gone says so.
    let mut gone = basic("Never stored");
    gone.version = 1;
    assert!(matches!(
        store
            .update_connection(
                &edit(&gone),
                &[],
                &audit(ResourceKind::Connection, gone.id.0, AuditAction::Update, 3),
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // The same for OAuth 2.0 clients.
    let cl = client("Versioned client");
    create_client(store, &cl, &[]).await;
    let mut a = cl.clone();
    a.settings.client_id = "from-a".to_owned();
    assert_eq!(
        store
            .update_oauth_client(
                &a,
                &[],
                &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Update, 1)
            )
            .await
            .unwrap(),
        2
    );
    let mut b = cl.clone();
    b.settings.client_id = "from-b".to_owned();
    assert!(matches!(
        store
            .update_oauth_client(
                &b,
                &[],
                &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Update, 2)
            )
            .await,
        Err(StoreError::Changed { .. })
    ));
    let got = store.get_oauth_client(cl.id).await.unwrap();
    assert_eq!(
        (got.settings.client_id.as_str(), got.version),
        ("from-a", 2)
    );

    // Many editors of one version at once: exactly one wins, through another pool too.
    let other = db.another().await;
    let now = store.get_connection(c.id).await.unwrap();
    let editors = (0..16).map(|i| {
        let store = db.another();
        let mut mine = now.clone();
        mine.settings.name = ConnectionName::parse(&format!("Racer {i}")).unwrap();
        async move {
            let store = store.await;
            store
                .update_connection(
                    &edit(&mine),
                    &[],
                    &audit(ResourceKind::Connection, mine.id.0, AuditAction::Update, 4),
                )
                .await
        }
    });
    let results = futures::future::join_all(editors).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Changed { .. })),
        "{results:?}"
    );
    assert_eq!(other.get_connection(c.id).await.unwrap().version, 3);
}

pub(crate) async fn edits_keep_what_tests_and_refreshes_wrote(db: &crate::TestDb) {
    let store = db.store();
    let key = MasterKey::generate();
    let cl = client("Kept");
    create_client(store, &cl, &[]).await;
    let c = oauth("Keeps", cl.id);
    let owner = SecretOwner::Connection(c.id);
    create_connection(
        store,
        &c,
        &[
            sealed(&key, owner, SecretField::AccessToken, "a"),
            sealed(&key, owner, SecretField::RefreshToken, "r"),
        ],
    )
    .await;
    // A test found the connection offline after the editor read it…
    let offline = ConnectionState::Offline {
        reason: "401".to_owned(),
    };
    let t = datetime!(2026-01-05 00:00 UTC);
    store
        .record_connection_test(c.id, c.version, &offline, t, Some("cloud-9"))
        .await
        .unwrap();
    // …and the editor renames it without touching what the test learnt.
    let mut renamed = c.clone();
    renamed.settings.name = ConnectionName::parse("Keeps renamed").unwrap();
    store
        .update_connection(
            &ConnectionUpdate {
                connection: &renamed,
                set_state: false,
                clear_cloud_id: false,
            },
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 1),
        )
        .await
        .unwrap();
    let got = store.get_connection(c.id).await.unwrap();
    assert_eq!(got.state, offline);
    assert_eq!(got.state_changed_at, Some(t));
    assert_eq!(got.cloud_id.as_deref(), Some("cloud-9"));
    assert!(
        store
            .get_secret(owner, SecretField::RefreshToken)
            .await
            .unwrap()
            .is_some(),
        "an OAuth 2.0 connection that stays authorized keeps its tokens"
    );
    // Another site: the cloud id goes.
    let mut moved = got.clone();
    moved.settings.subdomain = Some(jiralink_domain::Subdomain::parse("other").unwrap().value);
    store
        .update_connection(
            &ConnectionUpdate {
                connection: &moved,
                set_state: false,
                clear_cloud_id: true,
            },
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Update, 2),
        )
        .await
        .unwrap();
    assert_eq!(store.get_connection(c.id).await.unwrap().cloud_id, None);
}

pub(crate) async fn settings_keep_the_first_value(db: &crate::TestDb) {
    let store = db.store();
    let t = datetime!(2026-01-01 00:00 UTC);
    assert_eq!(store.get_setting("server_api_key").await.unwrap(), None);
    let racers = (0..8).map(|i| {
        let store = db.another();
        async move {
            store
                .await
                .put_setting_if_absent("server_api_key", &format!("hash-{i}"), t)
                .await
                .unwrap()
        }
    });
    let agreed = futures::future::join_all(racers).await;
    assert!(agreed.windows(2).all(|w| w[0] == w[1]), "{agreed:?}");
    assert_eq!(
        store.get_setting("server_api_key").await.unwrap().as_ref(),
        Some(&agreed[0])
    );
    store
        .set_setting("server_api_key", "replaced", t)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_setting("server_api_key")
            .await
            .unwrap()
            .as_deref(),
        Some("replaced")
    );
    assert!(store.delete_setting("server_api_key").await.unwrap());
    assert!(!store.delete_setting("server_api_key").await.unwrap());
}

pub(crate) async fn the_database_answers(db: &crate::TestDb) {
    let store = db.store();
    store.ping().await.unwrap();
    assert_eq!(store.backend(), db.any.backend().as_str());
    let status = db.any.schema_status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
    assert_eq!(status.version, Some(status.latest));
    assert!(status.unknown.is_empty() && status.dirty.is_none());
}
