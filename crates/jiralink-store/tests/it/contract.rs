use jiralink_domain::{
    ApiType, AuditAction, AuditEntry, AuditSource, ConcurrencyLevel, Connection, ConnectionAuth,
    ConnectionId, ConnectionName, ConnectionSettings, ConnectionState, Email, OAuthClient,
    OAuthClientId, OAuthClientSettings, ResourceKind, ScopeSet, Subdomain,
};
use jiralink_store::{SecretField, SecretOwner, SecretWrite, Store, StoreError};
use jiralink_vault::{Aad, MasterKey, seal};
use time::macros::datetime;
use uuid::Uuid;

pub(crate) async fn run_all(store: &dyn Store) {
    connections_round_trip(store).await;
    names_are_unique_without_regard_to_case(store).await;
    oauth_clients_in_use_cannot_be_deleted(store).await;
    secrets_follow_the_auth_type(store).await;
    reseal_is_compare_and_swap(store).await;
    audit_is_kept_in_order(store).await;
}

fn basic(name: &str) -> Connection {
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
        },
        state: ConnectionState::Untested,
        state_changed_at: Some(t),
        created_at: t,
        updated_at: t,
        api_token: None,
    }
}

fn oauth(name: &str, client: OAuthClientId) -> Connection {
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

fn client(name: &str) -> OAuthClient {
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
    }
}

fn audit(kind: ResourceKind, id: Uuid, action: AuditAction, minute: u8) -> AuditEntry {
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

fn sealed(key: &MasterKey, owner: SecretOwner, field: SecretField, value: &str) -> SecretWrite {
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

pub(crate) async fn connections_round_trip(store: &dyn Store) {
    let key = MasterKey::generate();
    let c = basic("Round Trip");
    let w = sealed(
        &key,
        SecretOwner::Connection(c.id),
        SecretField::ApiToken,
        "t",
    );
    store
        .insert_connection(
            &c,
            &[w],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
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

async fn names_are_unique_without_regard_to_case(store: &dyn Store) {
    let a = basic("Unique Name");
    store
        .insert_connection(
            &a,
            &[],
            &audit(ResourceKind::Connection, a.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
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

async fn oauth_clients_in_use_cannot_be_deleted(store: &dyn Store) {
    let key = MasterKey::generate();
    let cl = client("In Use");
    let w = sealed(
        &key,
        SecretOwner::OAuthClient(cl.id),
        SecretField::ClientSecret,
        "s",
    );
    store
        .insert_oauth_client(
            &cl,
            &[w],
            &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
    assert!(
        store
            .get_oauth_client(cl.id)
            .await
            .unwrap()
            .client_secret
            .is_some()
    );
    let c = oauth("Uses client", cl.id);
    store
        .insert_connection(
            &c,
            &[],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
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

async fn secrets_follow_the_auth_type(store: &dyn Store) {
    let key = MasterKey::generate();
    let cl = client("Follow");
    store
        .insert_oauth_client(
            &cl,
            &[],
            &audit(ResourceKind::OAuthClient, cl.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
    let mut c = oauth("Follows", cl.id);
    let owner = SecretOwner::Connection(c.id);
    let tokens = [
        sealed(&key, owner, SecretField::AccessToken, "a"),
        sealed(&key, owner, SecretField::RefreshToken, "r"),
    ];
    store
        .insert_connection(
            &c,
            &tokens,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
    // Needing authorization again drops the tokens granted before.
    c.state = ConnectionState::NeedsAuthorization;
    store
        .update_connection(
            &c,
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
            &c,
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

async fn reseal_is_compare_and_swap(store: &dyn Store) {
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let c = basic("Reseal");
    let owner = SecretOwner::Connection(c.id);
    store
        .insert_connection(
            &c,
            &[sealed(&old, owner, SecretField::ApiToken, "t")],
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Create, 0),
        )
        .await
        .unwrap();
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

async fn audit_is_kept_in_order(store: &dyn Store) {
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
