//! `db copy`: every row, secrets still sealed, refused into a non-empty database, and
//! harmless when stopped half-way.

use jiralink_domain::{AuditAction, ConnectionState, ResourceKind};
use jiralink_store::{AnyStore, SecretField, SecretOwner, Store, StoreError};
use jiralink_vault::{Aad, MasterKey, open};
use time::macros::datetime;

use crate::TestDb;
use crate::contract::{audit, basic, client, create_client, create_connection, oauth, sealed};

/// A database with something in every kind of table.
async fn populate(store: &dyn Store, key: &MasterKey) -> jiralink_domain::ConnectionId {
    let cl = client("Copied client");
    create_client(
        store,
        &cl,
        &[sealed(
            key,
            SecretOwner::OAuthClient(cl.id),
            SecretField::ClientSecret,
            "cs",
        )],
    )
    .await;
    let mut o = oauth("Copied OAuth", cl.id);
    o.state = ConnectionState::Online;
    create_connection(store, &o, &[]).await;
    let c = basic("Copied Basic");
    create_connection(
        store,
        &c,
        &[sealed(
            key,
            SecretOwner::Connection(c.id),
            SecretField::ApiToken,
            "token-1",
        )],
    )
    .await;
    for minute in 1..=30 {
        store
            .append_audit(&audit(
                ResourceKind::Connection,
                c.id.0,
                AuditAction::Update,
                minute,
            ))
            .await
            .unwrap();
    }
    let user = jiralink_store::UserRecord {
        id: uuid::Uuid::new_v4(),
        username: "copied".to_owned(),
        password_hash: "$argon2id$x".to_owned(),
        is_admin: true,
        created_at: datetime!(2026-01-01 00:00 UTC),
        updated_at: datetime!(2026-01-01 00:00 UTC),
        version: 1,
    };
    store
        .insert_user(
            &user,
            &audit(ResourceKind::User, user.id, AuditAction::Create, 0),
        )
        .await
        .unwrap();
    store
        .begin_sign_in(
            "copied",
            "10.0.0.1",
            datetime!(2026-01-01 00:00 UTC),
            datetime!(2026-01-01 00:00 UTC),
            5,
        )
        .await
        .unwrap();
    store
        .ensure_job(
            &jiralink_store::NewJob {
                kind: "k".to_owned(),
                key: "k".to_owned(),
                payload: serde_json::json!({"a": 1}),
                next_run_at: datetime!(2026-01-01 00:00 UTC),
            },
            datetime!(2026-01-01 00:00 UTC),
        )
        .await
        .unwrap();
    store
        .acquire_slot(
            c.id,
            2,
            "h",
            datetime!(2026-01-01 00:00 UTC),
            datetime!(2026-01-01 00:01 UTC),
        )
        .await
        .unwrap();
    store
        .put_setting_if_absent("s", "v", datetime!(2026-01-01 00:00 UTC))
        .await
        .unwrap();
    // An export with a finished run (output, cursor and known ids) and a running one.
    let export = crate::exports::export("Copied export", c.id);
    store.insert_export(&export).await.unwrap();
    let at = datetime!(2026-01-01 00:00 UTC);
    let done = crate::exports::running(Some(&export), c.id, "h", at);
    store.start_export_run(&done).await.unwrap();
    for page in 0..20u8 {
        store
            .checkpoint_export_run(
                done.id,
                "h",
                &[page, 0, 255, b'\n'],
                &serde_json::json!({"page": page}),
                &serde_json::json!({"pages": page}),
            )
            .await
            .unwrap();
    }
    store
        .finish_export_run(
            done.id,
            "h",
            &jiralink_store::RunFinish {
                state: jiralink_store::RunState::Succeeded,
                error: None,
                stats: serde_json::json!({"pages": 20}),
                tail: Vec::new(),
                cursor_after: Some(serde_json::json!({"upperMs": 1, "boundary": []})),
                known_ids: Some(vec![0, 1, 2, 255]),
                finished_at: at,
                output_expires_at: Some(at + time::Duration::days(7)),
            },
        )
        .await
        .unwrap();
    let live = crate::exports::running(Some(&export), c.id, "h", at);
    store.start_export_run(&live).await.unwrap();
    store.request_export_run_cancel(live.id).await.unwrap();
    c.id
}

async fn copy_between(from: &TestDb, to: &TestDb) {
    let key = MasterKey::generate();
    let c = populate(from.store(), &key).await;
    let mut seen = Vec::new();
    let report = from
        .any
        .copy_into(&to.any, "the target", false, &mut |table, n| {
            seen.push((table.to_owned(), n));
        })
        .await
        .unwrap();
    let rows = |t: &str| report.tables.iter().find(|c| c.table == t).unwrap().rows;
    assert_eq!(rows("connections"), 2);
    assert_eq!(rows("audit_log"), 34);
    assert_eq!(rows("secrets"), 2);
    assert_eq!(report.secrets_by_key.get(&key.id().to_string()), Some(&2));
    assert!(seen.iter().any(|(t, _)| t == "audit_log"));
    // What the target holds reads back the same, and its secrets open with the same key.
    let (a, b) = (from.store(), to.store());
    assert_eq!(
        a.list_connections().await.unwrap(),
        b.list_connections().await.unwrap()
    );
    assert_eq!(
        a.list_oauth_clients().await.unwrap(),
        b.list_oauth_clients().await.unwrap()
    );
    assert_eq!(a.list_users().await.unwrap(), b.list_users().await.unwrap());
    assert_eq!(
        a.list_audit(ResourceKind::Connection, c.0).await.unwrap(),
        b.list_audit(ResourceKind::Connection, c.0).await.unwrap(),
        "entries keep their order"
    );
    assert_eq!(a.list_jobs().await.unwrap(), b.list_jobs().await.unwrap());
    let exports = a.list_exports().await.unwrap();
    assert_eq!(exports, b.list_exports().await.unwrap());
    assert_eq!(
        b.export_known_ids(exports[0].id).await.unwrap(),
        Some(vec![0, 1, 2, 255])
    );
    let filter = jiralink_store::RunFilter {
        export_id: None,
        import_id: None,
        kind: None,
        connection_id: None,
        state: None,
        limit: 10,
    };
    let runs = a.list_export_runs(&filter).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs, b.list_export_runs(&filter).await.unwrap());
    assert_eq!(
        rows("export_run_chunks"),
        20,
        "more than one page of chunks"
    );
    for r in &runs {
        assert_eq!(
            crate::exports::output(a, r.id).await,
            crate::exports::output(b, r.id).await
        );
    }
    let stored = b
        .get_secret(SecretOwner::Connection(c), SecretField::ApiToken)
        .await
        .unwrap()
        .unwrap();
    let id = c.to_string();
    let plain = open(
        &key,
        &stored.sealed,
        &Aad {
            record_kind: "connection",
            record_id: &id,
            field: "api_token",
        },
    )
    .unwrap();
    assert_eq!(&*plain, b"token-1");

    // A second copy into the now full target is refused, and changes nothing…
    let err = from
        .any
        .copy_into(&to.any, "the target", false, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty { .. }), "{err:?}");
    assert!(err.to_string().contains("the target"));
    // …unless forced, which replaces what it holds.
    let again = from
        .any
        .copy_into(&to.any, "the target", true, &mut |_, _| {})
        .await
        .unwrap();
    assert!(again.replaced_rows > 0);
    assert_eq!(b.list_connections().await.unwrap().len(), 2);
}

async fn stopped_half_way(from: &TestDb, to: &TestDb) {
    let key = MasterKey::generate();
    populate(from.store(), &key).await;
    // Stop the copy once it has written part of the audit log (the future is dropped, as a
    // killed process's transaction is never committed).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let source = from.any.clone();
    let target: AnyStore = to.any.clone();
    let copy = tokio::spawn(async move {
        source
            .copy_into(&target, "t", false, &mut |table, _| {
                if table == "audit_log" {
                    let _ = tx.send(());
                }
            })
            .await
    });
    rx.recv().await.unwrap();
    copy.abort();
    assert!(copy.await.unwrap_err().is_cancelled());
    assert!(to.store().list_connections().await.unwrap().is_empty());
    // Run again: no --force needed, everything arrives.
    from.any
        .copy_into(&to.any, "t", false, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(to.store().list_connections().await.unwrap().len(), 2);
}

async fn pair() -> Option<(TestDb, TestDb)> {
    Some((TestDb::sqlite().await, TestDb::postgres().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_into_postgres() {
    let Some((from, to)) = pair().await else {
        return;
    };
    copy_between(&from, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_into_sqlite() {
    let Some((to, from)) = pair().await else {
        return;
    };
    copy_between(&from, &to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_into_sqlite() {
    copy_between(&TestDb::sqlite().await, &TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_stopped_half_way_can_run_again() {
    let Some((from, to)) = pair().await else {
        return;
    };
    stopped_half_way(&from, &to).await;
}
