//! Import definitions, import runs (kept with export runs) and the import ledger.

use std::collections::HashMap;

use jiralink_domain::{AuditAction, ConnectionId, ResourceKind};
use jiralink_store::{
    ImportRecord, LedgerRow, NewExportRun, RunFilter, RunKind, RunState, RunTrigger, StoreError,
};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::audit;
use crate::exports::connection;

crate::on_both_backends! {
    imports_round_trip: super::imports_round_trip,
    import_names_are_unique_and_edits_need_the_version: super::import_names_are_unique_and_edits_need_the_version,
    connections_used_by_imports_cannot_be_deleted: super::connections_used_by_imports_cannot_be_deleted,
    one_run_of_an_import_at_a_time: super::one_run_of_an_import_at_a_time,
    the_ledger_keeps_entries_per_connection_and_scope: super::the_ledger_keeps_entries_per_connection_and_scope,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn import(name: &str, connection: ConnectionId) -> ImportRecord {
    ImportRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        connection_id: connection,
        spec: json!({"mapping": {"operation": "create"}, "format": "csv"}),
        schedule: None,
        enabled: true,
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn import_run(i: &ImportRecord, holder: &str) -> NewExportRun {
    NewExportRun {
        id: Uuid::new_v4(),
        export_id: None,
        kind: RunKind::Import,
        import_id: Some(i.id),
        connection_id: i.connection_id,
        trigger: RunTrigger::Cli,
        spec: i.spec.clone(),
        state: RunState::Running,
        reason: None,
        cursor_before: None,
        holder: Some(holder.to_owned()),
        lease_until: Some(T0 + Duration::minutes(1)),
        started_at: T0,
        output_file: None,
    }
}

pub(crate) async fn imports_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Target").await;
    let mut i = import("Tickets", c.id);
    i.schedule = Some(json!({"everyMinutes": 60}));
    store.insert_import(&i).await.unwrap();
    assert_eq!(store.get_import(i.id).await.unwrap(), i);
    assert_eq!(
        store.find_import_by_name("TICKETS").await.unwrap(),
        Some(i.clone())
    );
    assert_eq!(store.find_import_by_name("nope").await.unwrap(), None);
    let b = import("alpha", c.id);
    store.insert_import(&b).await.unwrap();
    let names: Vec<String> = store
        .list_imports()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, vec!["alpha", "Tickets"]);
    assert_eq!(
        store.imports_using(&[c.id]).await.unwrap(),
        vec![
            (c.id, b.id, "alpha".to_owned()),
            (c.id, i.id, "Tickets".to_owned())
        ]
    );
    // A run of the import is an import run, listed by import and by kind.
    let run = import_run(&i, "h");
    store.start_export_run(&run).await.unwrap();
    let got = store.get_export_run(run.id).await.unwrap();
    assert_eq!(
        (got.kind, got.import_id, got.export_id),
        (RunKind::Import, Some(i.id), None)
    );
    let filter = |import_id, kind| RunFilter {
        export_id: None,
        import_id,
        kind,
        connection_id: None,
        state: None,
        limit: 10,
    };
    assert_eq!(
        store
            .list_export_runs(&filter(Some(i.id), None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_export_runs(&filter(Some(b.id), None))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .list_export_runs(&filter(None, Some(RunKind::Import)))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_export_runs(&filter(None, Some(RunKind::Export)))
            .await
            .unwrap()
            .len(),
        0
    );
    // Deleting the import deletes its runs.
    store.delete_import(i.id).await.unwrap();
    assert!(matches!(
        store.get_export_run(run.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_import(i.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_import(i.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn import_names_are_unique_and_edits_need_the_version(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Target").await;
    let i = import("Tickets", c.id);
    store.insert_import(&i).await.unwrap();
    let clash = store.insert_import(&import("TICKETS", c.id)).await;
    assert!(
        matches!(clash, Err(StoreError::Conflict { kind: "import", .. })),
        "{clash:?}"
    );
    let missing = store
        .insert_import(&import("Other", ConnectionId::new()))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "connection" })),
        "{missing:?}"
    );
    let mut edited = i.clone();
    edited.name = "Renamed".into();
    assert_eq!(store.update_import(&edited).await.unwrap(), 2);
    let stale = store.update_import(&edited).await;
    assert!(
        matches!(stale, Err(StoreError::Changed { .. })),
        "{stale:?}"
    );
    assert_eq!(store.get_import(i.id).await.unwrap().name, "Renamed");
    let mut gone = import("Gone", c.id);
    gone.id = Uuid::new_v4();
    assert!(matches!(
        store.update_import(&gone).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn connections_used_by_imports_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Target").await;
    let i = import("Tickets", c.id);
    store.insert_import(&i).await.unwrap();
    let refused = store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 1),
        )
        .await;
    match refused {
        Err(StoreError::Conflict { kind, name }) => {
            assert_eq!(
                (kind, name.as_str()),
                ("import of this connection", "Tickets")
            );
        }
        other => panic!("{other:?}"),
    }
    store.delete_import(i.id).await.unwrap();
    store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 2),
        )
        .await
        .unwrap();
}

pub(crate) async fn one_run_of_an_import_at_a_time(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Target").await;
    let i = import("Tickets", c.id);
    store.insert_import(&i).await.unwrap();
    store.start_export_run(&import_run(&i, "a")).await.unwrap();
    let second = store.start_export_run(&import_run(&i, "b")).await;
    match second {
        Err(StoreError::Conflict { kind, name }) => {
            assert_eq!((kind, name.as_str()), ("running run of import", "Tickets"));
        }
        other => panic!("{other:?}"),
    }
    // Another import, or an ad hoc import run, is not blocked.
    let j = import("Other", c.id);
    store.insert_import(&j).await.unwrap();
    store.start_export_run(&import_run(&j, "a")).await.unwrap();
    let mut ad_hoc = import_run(&i, "c");
    ad_hoc.import_id = None;
    store.start_export_run(&ad_hoc).await.unwrap();
    let mut unknown = import_run(&i, "d");
    unknown.import_id = Some(Uuid::new_v4());
    let missing = store.start_export_run(&unknown).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "import" })),
        "{missing:?}"
    );
}

fn row(state: &str, key: Option<&str>, at_ms: i64) -> LedgerRow {
    LedgerRow {
        state: state.to_owned(),
        issue_key: key.map(str::to_owned),
        issue_id: key.map(|k| format!("id-{k}")),
        run_id: "run-1".to_owned(),
        at_ms,
    }
}

pub(crate) async fn the_ledger_keeps_entries_per_connection_and_scope(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Target").await;
    let other = connection(store, "Other").await;
    let ids: Vec<String> = (0..1200).map(|n| format!("x:{n}")).collect();
    let entries: Vec<(String, LedgerRow)> = ids
        .iter()
        .map(|i| (i.clone(), row("uncertain", None, 5)))
        .collect();
    store.ledger_put(c.id, "s", &entries).await.unwrap();
    // More identities than one statement takes.
    assert_eq!(store.ledger_get(c.id, "s", &ids).await.unwrap().len(), 1200);
    assert!(store.ledger_get(c.id, "t", &ids).await.unwrap().is_empty());
    assert!(
        store
            .ledger_get(other.id, "s", &ids)
            .await
            .unwrap()
            .is_empty()
    );
    // Replacing an entry.
    let done = row("done", Some("DEMO-1"), 9);
    store
        .ledger_put(c.id, "s", &[("x:1".to_owned(), done.clone())])
        .await
        .unwrap();
    let got = store
        .ledger_get(c.id, "s", &["x:1".to_owned(), "x:nope".to_owned()])
        .await
        .unwrap();
    assert_eq!(got, HashMap::from([("x:1".to_owned(), done)]));
    assert_eq!(
        store.ledger_counts(c.id, "s").await.unwrap(),
        HashMap::from([("uncertain".to_owned(), 1199), ("done".to_owned(), 1)])
    );
    store.ledger_remove(c.id, "s", &ids[..1000]).await.unwrap();
    assert_eq!(store.ledger_get(c.id, "s", &ids).await.unwrap().len(), 200);
    let missing = store
        .ledger_put(ConnectionId::new(), "s", &entries[..1])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "connection" })),
        "{missing:?}"
    );
    // The connection's entries go with it.
    store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    assert!(store.ledger_get(c.id, "s", &ids).await.unwrap().is_empty());
}
