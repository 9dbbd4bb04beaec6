//! Flows (a saved export feeding a saved import), their runs, and the id map between two
//! connections kept in step.

use jiralink_domain::{AuditAction, ConnectionId, ResourceKind};
use jiralink_store::{
    CommentLink, ExportRecord, FlowRecord, FlowRunRecord, ImportRecord, RunState, RunTrigger,
    Store, StoreError, SyncLink,
};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::audit;
use crate::exports::{connection, export};

crate::on_both_backends! {
    flows_round_trip: super::flows_round_trip,
    flow_names_are_unique_and_edits_need_the_version: super::flow_names_are_unique_and_edits_need_the_version,
    a_flow_needs_its_export_and_import: super::a_flow_needs_its_export_and_import,
    exports_and_imports_used_by_flows_cannot_be_deleted: super::exports_and_imports_used_by_flows_cannot_be_deleted,
    one_running_run_of_a_flow_at_a_time: super::one_running_run_of_a_flow_at_a_time,
    only_the_holder_saves_a_flow_run: super::only_the_holder_saves_a_flow_run,
    a_flow_run_is_taken_over_only_after_its_lease: super::a_flow_run_is_taken_over_only_after_its_lease,
    flow_runs_are_listed_newest_first: super::flow_runs_are_listed_newest_first,
    sync_links_are_kept_per_connection_pair: super::sync_links_are_kept_per_connection_pair,
    comment_links_are_kept_per_connection_pair: super::comment_links_are_kept_per_connection_pair,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn import(name: &str, connection: ConnectionId) -> ImportRecord {
    ImportRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        connection_id: connection,
        spec: json!({"mapping": {"operation": "upsert"}, "format": "records"}),
        schedule: None,
        enabled: true,
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn flow(name: &str, export: &ExportRecord, import: &ImportRecord) -> FlowRecord {
    FlowRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        export_id: export.id,
        import_id: import.id,
        schedule: None,
        enabled: true,
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

/// A running run of `flow` held by `holder` for a minute from `at`.
fn run(flow: &FlowRecord, holder: &str, at: OffsetDateTime) -> FlowRunRecord {
    FlowRunRecord {
        id: Uuid::new_v4(),
        flow_id: flow.id,
        pair_key: flow.id.to_string(),
        trigger: RunTrigger::Manual,
        state: RunState::Running,
        phase: "export".to_owned(),
        export_run_id: None,
        import_run_id: None,
        stats: json!({}),
        error: None,
        holder: Some(holder.to_owned()),
        lease_until: Some(at + Duration::minutes(1)),
        started_at: at,
        finished_at: None,
        source: None,
    }
}

/// A source connection with an export, a target connection with an import.
async fn setup(store: &dyn Store) -> (ExportRecord, ImportRecord) {
    let source = connection(store, "Source").await;
    let target = connection(store, "Target").await;
    let e = export("Source issues", source.id);
    store.insert_export(&e).await.unwrap();
    let i = import("Target issues", target.id);
    store.insert_import(&i).await.unwrap();
    (e, i)
}

/// A flow stored on a fresh export and import.
pub(crate) async fn stored_flow(store: &dyn Store) -> FlowRecord {
    let (e, i) = setup(store).await;
    let f = flow("Mirror", &e, &i);
    store.insert_flow(&f).await.unwrap();
    f
}

async fn delete_connection(store: &dyn Store, id: ConnectionId) {
    store
        .delete_connection(
            id,
            &audit(ResourceKind::Connection, id.0, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
}

pub(crate) async fn flows_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let (e, i) = setup(store).await;
    let mut f = flow("Mirror", &e, &i);
    f.schedule = Some(json!({"everyMinutes": 5}));
    f.enabled = false;
    store.insert_flow(&f).await.unwrap();
    assert_eq!(store.get_flow(f.id).await.unwrap(), f);
    assert_eq!(
        store.find_flow_by_name("MIRROR").await.unwrap(),
        Some(f.clone())
    );
    assert_eq!(
        store.find_flow_by_name("mirror").await.unwrap(),
        Some(f.clone())
    );
    assert_eq!(store.find_flow_by_name("nope").await.unwrap(), None);
    let b = flow("alpha", &e, &i);
    store.insert_flow(&b).await.unwrap();
    let z = flow("Zulu", &e, &i);
    store.insert_flow(&z).await.unwrap();
    let names: Vec<String> = store
        .list_flows()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        vec!["alpha", "Mirror", "Zulu"],
        "by name, without case"
    );
    // Deleting the flow deletes its runs, and only its runs.
    let r = run(&f, "h", T0);
    store.insert_flow_run(&r).await.unwrap();
    let other = run(&b, "h", T0);
    store.insert_flow_run(&other).await.unwrap();
    store.delete_flow(f.id).await.unwrap();
    assert!(matches!(
        store.get_flow_run(r.id).await,
        Err(StoreError::NotFound { kind: "flow run" })
    ));
    assert_eq!(store.get_flow_run(other.id).await.unwrap(), other);
    assert_eq!(
        store.list_flow_runs(Some(f.id), 10).await.unwrap(),
        Vec::new()
    );
    assert!(matches!(
        store.get_flow(f.id).await,
        Err(StoreError::NotFound { kind: "flow" })
    ));
    assert!(matches!(
        store.delete_flow(f.id).await,
        Err(StoreError::NotFound { kind: "flow" })
    ));
    assert_eq!(store.find_flow_by_name("Mirror").await.unwrap(), None);
    assert_eq!(store.list_flows().await.unwrap(), vec![b, z]);
}

pub(crate) async fn flow_names_are_unique_and_edits_need_the_version(db: &crate::TestDb) {
    let store = db.store();
    let (e, i) = setup(store).await;
    let f = flow("Mirror", &e, &i);
    store.insert_flow(&f).await.unwrap();
    let clash = store.insert_flow(&flow("MIRROR", &e, &i)).await;
    match clash {
        Err(StoreError::Conflict { kind, name }) => {
            assert_eq!((kind, name.as_str()), ("flow", "MIRROR"));
        }
        other => panic!("{other:?}"),
    }
    let other = flow("Other", &e, &i);
    store.insert_flow(&other).await.unwrap();

    // An edit with the stored version replaces every field and bumps the version.
    let e2 = export("Second export", e.connection_id);
    store.insert_export(&e2).await.unwrap();
    let mut edited = f.clone();
    edited.name = "Renamed".into();
    edited.export_id = e2.id;
    edited.schedule = Some(json!({"everyMinutes": 60}));
    edited.enabled = false;
    edited.updated_at = T0 + Duration::hours(1);
    assert_eq!(store.update_flow(&edited).await.unwrap(), 2);
    let got = store.get_flow(f.id).await.unwrap();
    assert_eq!(
        got,
        FlowRecord {
            version: 2,
            ..edited.clone()
        }
    );
    assert_eq!(store.find_flow_by_name("mirror").await.unwrap(), None);
    assert_eq!(
        store.find_flow_by_name("RENAMED").await.unwrap(),
        Some(got.clone())
    );

    // A stale version changes nothing.
    let mut stale = edited.clone();
    stale.name = "Stale".into();
    let refused = store.update_flow(&stale).await;
    assert!(
        matches!(refused, Err(StoreError::Changed { kind: "flow" })),
        "{refused:?}"
    );
    assert_eq!(store.get_flow(f.id).await.unwrap(), got);

    // Renaming onto another flow's name (in any case) is a conflict.
    let mut taken = got.clone();
    taken.name = "OTHER".into();
    let clash = store.update_flow(&taken).await;
    assert!(
        matches!(clash, Err(StoreError::Conflict { kind: "flow", .. })),
        "{clash:?}"
    );
    // Pointing it at an export that does not exist is refused.
    let mut dangling = got.clone();
    dangling.export_id = Uuid::new_v4();
    let missing = store.update_flow(&dangling).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(store.get_flow(f.id).await.unwrap(), got);

    // A flow that is gone is not found.
    store.delete_flow(f.id).await.unwrap();
    let gone = store.update_flow(&got).await;
    assert!(
        matches!(gone, Err(StoreError::NotFound { kind: "flow" })),
        "{gone:?}"
    );
}

pub(crate) async fn a_flow_needs_its_export_and_import(db: &crate::TestDb) {
    let store = db.store();
    let (e, i) = setup(store).await;
    let mut no_export = flow("No export", &e, &i);
    no_export.export_id = Uuid::new_v4();
    let missing = store.insert_flow(&no_export).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let mut no_import = flow("No import", &e, &i);
    no_import.import_id = Uuid::new_v4();
    let missing = store.insert_flow(&no_import).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(store.list_flows().await.unwrap(), Vec::new());
    // A run of a flow that does not exist is refused too.
    let ghost = flow("Ghost", &e, &i);
    let missing = store.insert_flow_run(&run(&ghost, "h", T0)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "flow" })),
        "{missing:?}"
    );
}

pub(crate) async fn exports_and_imports_used_by_flows_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let (e, i) = setup(store).await;
    let f = flow("Mirror", &e, &i);
    store.insert_flow(&f).await.unwrap();
    let refused = store.delete_export(e.id).await;
    assert!(
        matches!(refused, Err(StoreError::InUse { kind: "export" })),
        "{refused:?}"
    );
    let refused = store.delete_import(i.id).await;
    assert!(
        matches!(refused, Err(StoreError::InUse { kind: "import" })),
        "{refused:?}"
    );
    // Both are still there, and so is the flow.
    store.get_export(e.id).await.unwrap();
    store.get_import(i.id).await.unwrap();
    assert_eq!(store.get_flow(f.id).await.unwrap(), f);
    // Once the flow is gone they can go.
    store.delete_flow(f.id).await.unwrap();
    store.delete_export(e.id).await.unwrap();
    store.delete_import(i.id).await.unwrap();
}

pub(crate) async fn one_running_run_of_a_flow_at_a_time(db: &crate::TestDb) {
    let store = db.store();
    let f = stored_flow(store).await;
    let first = run(&f, "a", T0);
    store.insert_flow_run(&first).await.unwrap();
    assert_eq!(store.get_flow_run(first.id).await.unwrap(), first);
    let second = store
        .insert_flow_run(&run(&f, "b", T0 + Duration::seconds(1)))
        .await;
    match second {
        Err(StoreError::Conflict { kind, name }) => {
            assert_eq!((kind, name), ("flow run", f.id.to_string()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.list_flow_runs(Some(f.id), 10).await.unwrap(),
        vec![first.clone()]
    );
    // Another flow is not blocked.
    let (e, i) = (
        store.get_export(f.export_id).await.unwrap(),
        store.get_import(f.import_id).await.unwrap(),
    );
    let g = flow("Other", &e, &i);
    store.insert_flow(&g).await.unwrap();
    // Unless it is between the same two connections.
    let same_pair = FlowRunRecord {
        pair_key: first.pair_key.clone(),
        ..run(&g, "b", T0)
    };
    assert!(
        matches!(
            store.insert_flow_run(&same_pair).await,
            Err(StoreError::Conflict { .. })
        ),
        "one running run per pair of connections"
    );
    store.insert_flow_run(&run(&g, "b", T0)).await.unwrap();
    // Finished runs, of whatever end, do not block a new running one.
    let mut done = first.clone();
    done.state = RunState::Succeeded;
    done.phase = "done".to_owned();
    done.finished_at = Some(T0 + Duration::seconds(30));
    assert!(store.save_flow_run(&done, "a").await.unwrap());
    let mut at = T0 + Duration::minutes(1);
    for end in [RunState::Failed, RunState::Cancelled] {
        let mut r = run(&f, "a", at);
        store.insert_flow_run(&r).await.unwrap();
        r.state = end;
        r.finished_at = Some(at + Duration::seconds(1));
        assert!(store.save_flow_run(&r, "a").await.unwrap());
        at += Duration::minutes(1);
    }
    let mut skipped = run(&f, "a", at);
    skipped.state = RunState::Skipped;
    skipped.finished_at = Some(at);
    store.insert_flow_run(&skipped).await.unwrap();
    let next = run(&f, "c", at + Duration::minutes(1));
    store.insert_flow_run(&next).await.unwrap();
    assert_eq!(store.list_flow_runs(Some(f.id), 10).await.unwrap().len(), 5);
}

pub(crate) async fn only_the_holder_saves_a_flow_run(db: &crate::TestDb) {
    let store = db.store();
    let f = stored_flow(store).await;
    let r = run(&f, "a", T0);
    store.insert_flow_run(&r).await.unwrap();
    let export_run = Uuid::new_v4();
    let import_run = Uuid::new_v4();
    let mut progress = r.clone();
    progress.phase = "import".to_owned();
    progress.export_run_id = Some(export_run);
    progress.stats = json!({"read": 3});
    progress.lease_until = Some(T0 + Duration::minutes(2));
    // Another holder writes nothing.
    assert!(!store.save_flow_run(&progress, "b").await.unwrap());
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), r);
    // The holder writes everything it owns.
    assert!(store.save_flow_run(&progress, "a").await.unwrap());
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), progress);
    let mut end = progress.clone();
    end.phase = "done".to_owned();
    end.import_run_id = Some(import_run);
    end.state = RunState::Failed;
    end.error = Some("the target refused".to_owned());
    end.stats = json!({"read": 3, "written": 1});
    end.finished_at = Some(T0 + Duration::minutes(1));
    assert!(store.save_flow_run(&end, "a").await.unwrap());
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), end);
    // A finished run is not written again, not even by its holder.
    let mut late = end.clone();
    late.state = RunState::Succeeded;
    late.error = None;
    assert!(!store.save_flow_run(&late, "a").await.unwrap());
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), end);
    // An unknown run is not saved.
    assert!(!store.save_flow_run(&run(&f, "a", T0), "a").await.unwrap());
}

pub(crate) async fn a_flow_run_is_taken_over_only_after_its_lease(db: &crate::TestDb) {
    let store = db.store();
    let f = stored_flow(store).await;
    let r = run(&f, "a", T0);
    store.insert_flow_run(&r).await.unwrap();
    let lease = T0 + Duration::minutes(1);
    // Before the lease runs out, another holder cannot take it.
    let early = store
        .take_over_flow_run(
            r.id,
            "b",
            T0 + Duration::seconds(30),
            T0 + Duration::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(early, None);
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), r);
    // Nor can its own holder take it a second time while the lease holds.
    assert_eq!(
        store
            .take_over_flow_run(
                r.id,
                "a",
                T0 + Duration::seconds(30),
                T0 + Duration::minutes(5)
            )
            .await
            .unwrap(),
        None
    );
    // Its holder can renew it any time; another holder cannot.
    assert!(
        !store
            .renew_flow_run(r.id, "b", T0 + Duration::minutes(9))
            .await
            .unwrap()
    );
    assert!(
        store
            .renew_flow_run(r.id, "a", T0 + Duration::minutes(2))
            .await
            .unwrap()
    );
    let renewed = store.get_flow_run(r.id).await.unwrap();
    assert_eq!(renewed.holder.as_deref(), Some("a"));
    assert_eq!(renewed.lease_until, Some(T0 + Duration::minutes(2)));
    assert_eq!(
        store
            .take_over_flow_run(
                r.id,
                "b",
                lease + Duration::seconds(1),
                lease + Duration::minutes(5)
            )
            .await
            .unwrap(),
        None,
        "the renewed lease still holds"
    );
    // Once it ran out, another holder takes it over, and the old one writes nothing more.
    let after = T0 + Duration::minutes(2);
    let taken = store
        .take_over_flow_run(r.id, "b", after, after + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        taken,
        FlowRunRecord {
            holder: Some("b".to_owned()),
            lease_until: Some(after + Duration::minutes(1)),
            ..r.clone()
        }
    );
    let mut old = renewed.clone();
    old.phase = "link".to_owned();
    assert!(!store.save_flow_run(&old, "a").await.unwrap());
    assert_eq!(store.get_flow_run(r.id).await.unwrap(), taken);
    let mut new = taken.clone();
    new.phase = "link".to_owned();
    assert!(store.save_flow_run(&new, "b").await.unwrap());
    // A finished run, or an unknown one, is never taken over.
    new.state = RunState::Succeeded;
    new.finished_at = Some(after);
    assert!(store.save_flow_run(&new, "b").await.unwrap());
    let far = T0 + Duration::days(1);
    assert_eq!(
        store
            .take_over_flow_run(r.id, "c", far, far + Duration::minutes(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_over_flow_run(Uuid::new_v4(), "c", far, far + Duration::minutes(1))
            .await
            .unwrap(),
        None
    );
    // A running run without a lease can be taken at once.
    let mut loose = run(&f, "a", far);
    loose.holder = None;
    loose.lease_until = None;
    store.insert_flow_run(&loose).await.unwrap();
    let taken = store
        .take_over_flow_run(loose.id, "c", far, far + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.holder.as_deref(), Some("c"));
}

pub(crate) async fn flow_runs_are_listed_newest_first(db: &crate::TestDb) {
    let store = db.store();
    let f = stored_flow(store).await;
    let (e, i) = (
        store.get_export(f.export_id).await.unwrap(),
        store.get_import(f.import_id).await.unwrap(),
    );
    let g = flow("Other", &e, &i);
    store.insert_flow(&g).await.unwrap();
    let mut of_f = Vec::new();
    let mut all = Vec::new();
    for n in 0..4_i64 {
        for (which, fl) in [(0, &f), (1, &g)] {
            let at = T0 + Duration::minutes(n * 2 + which);
            let mut r = run(fl, "h", at);
            r.state = RunState::Succeeded;
            r.trigger = RunTrigger::Schedule;
            r.finished_at = Some(at + Duration::seconds(10));
            store.insert_flow_run(&r).await.unwrap();
            if which == 0 {
                of_f.push(r.clone());
            }
            all.push(r);
        }
    }
    of_f.reverse();
    all.reverse();
    assert_eq!(store.list_flow_runs(Some(f.id), 10).await.unwrap(), of_f);
    assert_eq!(
        store.list_flow_runs(Some(f.id), 2).await.unwrap(),
        of_f[..2]
    );
    assert_eq!(store.list_flow_runs(None, 100).await.unwrap(), all);
    assert_eq!(store.list_flow_runs(None, 3).await.unwrap(), all[..3]);
    assert_eq!(
        store
            .list_flow_runs(Some(Uuid::new_v4()), 10)
            .await
            .unwrap(),
        Vec::new()
    );
}

fn link(from: ConnectionId, to: ConnectionId, n: usize, at: OffsetDateTime) -> SyncLink {
    SyncLink {
        connection_id: from,
        issue_id: format!("{n}"),
        issue_key: format!("SRC-{n}"),
        peer_connection_id: to,
        peer_issue_id: format!("9{n}"),
        peer_issue_key: format!("DST-{n}"),
        seen_updated: Some("2026-01-01T00:00:00.000+0000".to_owned()),
        at,
    }
}

pub(crate) async fn sync_links_are_kept_per_connection_pair(db: &crate::TestDb) {
    let store = db.store();
    let a = connection(store, "A").await.id;
    let b = connection(store, "B").await.id;
    let c = connection(store, "C").await.id;
    // More links than one statement reads; both directions, and to a third connection.
    let forward: Vec<SyncLink> = (0..1200).map(|n| link(a, b, n, T0)).collect();
    store.put_sync_links(&forward).await.unwrap();
    let back: Vec<SyncLink> = (0..3).map(|n| link(b, a, n, T0)).collect();
    store.put_sync_links(&back).await.unwrap();
    let mut to_c = link(a, c, 1, T0);
    to_c.peer_issue_key = "C-1".to_owned();
    to_c.seen_updated = None;
    store
        .put_sync_links(std::slice::from_ref(&to_c))
        .await
        .unwrap();
    store.put_sync_links(&[]).await.unwrap();

    let ids: Vec<String> = (0..1300).map(|n| n.to_string()).collect();
    let got = store.sync_links(a, b, &ids).await.unwrap();
    assert_eq!(got.len(), 1200);
    for l in &forward {
        assert_eq!(got.get(&l.issue_id), Some(l));
    }
    let got = store.sync_links(b, a, &ids).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got.get("2"), Some(&back[2]));
    let got = store.sync_links(a, c, &ids).await.unwrap();
    assert_eq!(got, [("1".to_owned(), to_c.clone())].into());
    assert!(store.sync_links(c, a, &ids).await.unwrap().is_empty());
    assert!(store.sync_links(a, b, &[]).await.unwrap().is_empty());
    // Only the asked ids.
    let some = store
        .sync_links(a, b, &["5".to_owned(), "nope".to_owned()])
        .await
        .unwrap();
    assert_eq!(some, [("5".to_owned(), forward[5].clone())].into());

    // Read in order of issue id, a page at a time, from a cursor.
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .sync_links_after(a, b, after.as_deref(), 500)
            .await
            .unwrap();
        assert!(page.len() <= 500);
        let Some(last) = page.last() else { break };
        after = Some(last.issue_id.clone());
        walked.extend(page);
    }
    let mut expected = forward.clone();
    expected.sort_by(|x, y| x.issue_id.cmp(&y.issue_id));
    assert_eq!(walked, expected);
    assert_eq!(
        store.sync_links_after(b, a, Some("0"), 10).await.unwrap(),
        back[1..]
    );
    assert!(
        store
            .sync_links_after(c, a, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Putting a link again replaces it.
    let mut moved = link(a, b, 5, T0 + Duration::hours(1));
    moved.issue_key = "SRC-5B".to_owned();
    moved.peer_issue_id = "777".to_owned();
    moved.peer_issue_key = "DST-777".to_owned();
    moved.seen_updated = None;
    store
        .put_sync_links(std::slice::from_ref(&moved))
        .await
        .unwrap();
    let got = store.sync_links(a, b, &ids).await.unwrap();
    assert_eq!(got.len(), 1200);
    assert_eq!(got.get("5"), Some(&moved));
    assert_eq!(got.get("6"), Some(&forward[6]));

    // A link to a connection that does not exist is refused, and the batch with it.
    let missing = store
        .put_sync_links(&[link(a, b, 5000, T0), link(a, ConnectionId::new(), 5001, T0)])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "connection" })),
        "{missing:?}"
    );
    assert!(
        store
            .sync_links(a, b, &["5000".to_owned()])
            .await
            .unwrap()
            .is_empty()
    );

    // A connection's links go with it, on either side.
    delete_connection(store, b).await;
    assert!(store.sync_links(a, b, &ids).await.unwrap().is_empty());
    assert!(store.sync_links(b, a, &ids).await.unwrap().is_empty());
    assert_eq!(store.sync_links(a, c, &ids).await.unwrap().len(), 1);
    delete_connection(store, a).await;
    assert!(store.sync_links(a, c, &ids).await.unwrap().is_empty());
}

fn comment(from: ConnectionId, to: ConnectionId, n: usize, at: OffsetDateTime) -> CommentLink {
    CommentLink {
        connection_id: from,
        comment_id: format!("{n}"),
        peer_connection_id: to,
        issue_id: format!("issue-{}", n / 10),
        peer_comment_id: format!("8{n}"),
        body_hash: format!("hash-{n}"),
        at,
    }
}

pub(crate) async fn comment_links_are_kept_per_connection_pair(db: &crate::TestDb) {
    let store = db.store();
    let a = connection(store, "A").await.id;
    let b = connection(store, "B").await.id;
    let c = connection(store, "C").await.id;
    let forward: Vec<CommentLink> = (0..1100).map(|n| comment(a, b, n, T0)).collect();
    store.put_comment_links(&forward).await.unwrap();
    let back = comment(b, a, 1, T0);
    store
        .put_comment_links(std::slice::from_ref(&back))
        .await
        .unwrap();
    let to_c = comment(a, c, 1, T0);
    store
        .put_comment_links(std::slice::from_ref(&to_c))
        .await
        .unwrap();
    store.put_comment_links(&[]).await.unwrap();

    let ids: Vec<String> = (0..1200).map(|n| n.to_string()).collect();
    let got = store.comment_links(a, b, &ids).await.unwrap();
    assert_eq!(got.len(), 1100);
    for l in &forward {
        assert_eq!(got.get(&l.comment_id), Some(l));
    }
    assert_eq!(
        store.comment_links(b, a, &ids).await.unwrap(),
        [("1".to_owned(), back.clone())].into()
    );
    assert_eq!(
        store.comment_links(a, c, &ids).await.unwrap(),
        [("1".to_owned(), to_c.clone())].into()
    );
    assert!(store.comment_links(c, a, &ids).await.unwrap().is_empty());
    assert!(store.comment_links(a, b, &[]).await.unwrap().is_empty());
    let some = store
        .comment_links(a, b, &["7".to_owned(), "nope".to_owned()])
        .await
        .unwrap();
    assert_eq!(some, [("7".to_owned(), forward[7].clone())].into());

    // Putting a link again replaces it.
    let mut edited = comment(a, b, 7, T0 + Duration::hours(1));
    edited.issue_id = "issue-moved".to_owned();
    edited.peer_comment_id = "999".to_owned();
    edited.body_hash = "hash-edited".to_owned();
    store
        .put_comment_links(std::slice::from_ref(&edited))
        .await
        .unwrap();
    let got = store.comment_links(a, b, &ids).await.unwrap();
    assert_eq!(got.len(), 1100);
    assert_eq!(got.get("7"), Some(&edited));
    assert_eq!(got.get("8"), Some(&forward[8]));

    let missing = store
        .put_comment_links(&[comment(ConnectionId::new(), b, 1, T0)])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { kind: "connection" })),
        "{missing:?}"
    );

    // A connection's comment links go with it, on either side.
    delete_connection(store, b).await;
    assert!(store.comment_links(a, b, &ids).await.unwrap().is_empty());
    assert!(store.comment_links(b, a, &ids).await.unwrap().is_empty());
    assert_eq!(store.comment_links(a, c, &ids).await.unwrap().len(), 1);
    delete_connection(store, c).await;
    assert!(store.comment_links(a, c, &ids).await.unwrap().is_empty());
}
