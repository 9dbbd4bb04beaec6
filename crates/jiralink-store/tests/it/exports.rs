//! Export definitions, their runs and the runs' output: one running run per definition
//! across servers, takeover of a crashed run, checkpoints that write all or nothing, and a
//! cursor that moves only with a successful finish.

use jiralink_domain::{AuditAction, Connection, ConnectionId, ResourceKind};
use jiralink_store::{
    ExportRecord, ExportRunRecord, NewExportRun, RunFilter, RunFinish, RunState, RunTrigger, Store,
    StoreError,
};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::{audit, basic, create_connection};

crate::on_both_backends! {
    exports_round_trip: super::exports_round_trip,
    export_names_are_unique_without_regard_to_case: super::export_names_are_unique_without_regard_to_case,
    stale_export_edits_change_nothing: super::stale_export_edits_change_nothing,
    connections_used_by_exports_cannot_be_deleted: super::connections_used_by_exports_cannot_be_deleted,
    one_run_of_an_export_at_a_time_across_servers: super::one_run_of_an_export_at_a_time_across_servers,
    skipped_and_ad_hoc_runs_never_block: super::skipped_and_ad_hoc_runs_never_block,
    an_interrupted_run_blocks_until_taken_over: super::an_interrupted_run_blocks_until_taken_over,
    one_server_takes_over_a_crashed_run: super::one_server_takes_over_a_crashed_run,
    checkpoints_write_output_and_resume_point_together: super::checkpoints_write_output_and_resume_point_together,
    a_lost_lease_writes_nothing: super::a_lost_lease_writes_nothing,
    the_cursor_moves_only_with_a_successful_finish: super::the_cursor_moves_only_with_a_successful_finish,
    ad_hoc_runs_touch_no_export: super::ad_hoc_runs_touch_no_export,
    output_is_read_in_pages: super::output_is_read_in_pages,
    expired_outputs_are_deleted: super::expired_outputs_are_deleted,
    cancel_is_requested_of_running_runs_only: super::cancel_is_requested_of_running_runs_only,
    runs_are_listed_newest_first: super::runs_are_listed_newest_first,
    runs_are_listed_by_state: super::runs_are_listed_by_state,
    each_exports_latest_run_in_one_query: super::each_exports_latest_run_in_one_query,
    deleting_an_export_deletes_its_runs_and_output: super::deleting_an_export_deletes_its_runs_and_output,
    resetting_the_cursor_keeps_the_version: super::resetting_the_cursor_keeps_the_version,
    a_cursor_is_rewound_only_from_where_it_is: super::a_cursor_is_rewound_only_from_where_it_is,
    a_takeover_racing_checkpoints_keeps_each_wholly_in_or_out: super::a_takeover_racing_checkpoints_keeps_each_wholly_in_or_out,
    a_finish_racing_a_takeover_has_one_winner: super::a_finish_racing_a_takeover_has_one_winner,
    concurrent_checkpoints_number_chunks_without_a_gap: super::concurrent_checkpoints_number_chunks_without_a_gap,
    large_chunks_round_trip: super::large_chunks_round_trip,
    a_run_is_recorded_once: super::a_run_is_recorded_once,
    interrupted_runs_are_found_across_exports: super::interrupted_runs_are_found_across_exports,
    values_round_trip_unchanged: super::values_round_trip_unchanged,
    deleting_a_connection_ends_its_ad_hoc_runs: super::deleting_a_connection_ends_its_ad_hoc_runs,
    a_checkpoint_or_finish_that_fails_half_way_writes_nothing: super::a_checkpoint_or_finish_that_fails_half_way_writes_nothing,
    edits_during_a_run_keep_its_spec_and_its_cursor: super::edits_during_a_run_keep_its_spec_and_its_cursor,
    usage_of_many_connections_is_one_query: super::usage_of_many_connections_is_one_query,
    a_lease_ends_to_the_microsecond: super::a_lease_ends_to_the_microsecond,
    a_connection_deleted_while_an_export_is_saved_leaves_no_orphan: super::a_connection_deleted_while_an_export_is_saved_leaves_no_orphan,
    an_export_deleted_while_a_run_starts_leaves_no_orphan: super::an_export_deleted_while_a_run_starts_leaves_no_orphan,
    a_late_holder_keeps_its_run_until_someone_takes_it: super::a_late_holder_keeps_its_run_until_someone_takes_it,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) fn export(name: &str, connection: ConnectionId) -> ExportRecord {
    ExportRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        connection_id: connection,
        spec: json!({"resource": "issues", "jql": "project = DEMO", "kind": {"type": "delta"}}),
        schedule: Some(json!({"everyMinutes": 15, "timeZone": "Europe/Berlin"})),
        enabled: true,
        cursor: None,
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

/// A running run of `export` (or ad hoc) held by `holder` for a minute from `at`.
pub(crate) fn running(
    export: Option<&ExportRecord>,
    connection: ConnectionId,
    holder: &str,
    at: OffsetDateTime,
) -> NewExportRun {
    NewExportRun {
        id: Uuid::new_v4(),
        export_id: export.map(|e| e.id),
        kind: jiralink_store::RunKind::Export,
        import_id: None,
        connection_id: connection,
        trigger: RunTrigger::Schedule,
        spec: export.map_or_else(|| json!({"resource": "projects"}), |e| e.spec.clone()),
        state: RunState::Running,
        reason: None,
        cursor_before: export.and_then(|e| e.cursor.clone()),
        holder: Some(holder.to_owned()),
        lease_until: Some(at + Duration::minutes(1)),
        started_at: at,
        output_file: None,
    }
}

fn finish(state: RunState, at: OffsetDateTime) -> RunFinish {
    RunFinish {
        state,
        error: (state == RunState::Failed).then(|| "Jira answered 500".to_owned()),
        stats: json!({"records": {"issues": 3}, "pages": 2}),
        tail: Vec::new(),
        cursor_after: Some(json!({"upperMs": 1_767_225_600_000_i64, "boundary": [["10001", 1]]})),
        known_ids: Some(vec![1, 2, 3]),
        finished_at: at,
        output_expires_at: Some(at + Duration::days(7)),
    }
}

pub(crate) async fn connection(store: &dyn Store, name: &str) -> Connection {
    let c = basic(name);
    create_connection(store, &c, &[]).await;
    c
}

/// A connection with one export on it.
async fn setup(store: &dyn Store) -> (Connection, ExportRecord) {
    let c = connection(store, "Source").await;
    let e = export("Nightly issues", c.id);
    store.insert_export(&e).await.unwrap();
    (c, e)
}

async fn run(store: &dyn Store, id: Uuid) -> ExportRunRecord {
    store.get_export_run(id).await.unwrap()
}

/// Every chunk of a run's output, in order, read a few at a time.
pub(crate) async fn output(store: &dyn Store, run: Uuid) -> Vec<(u64, Vec<u8>)> {
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        let after = chunks.last().map(|(seq, _)| *seq);
        let page = store.export_run_output(run, after, 2).await.unwrap();
        if page.is_empty() {
            return chunks;
        }
        chunks.extend(page);
    }
}

async fn checkpoint(store: &dyn Store, run: Uuid, holder: &str, chunk: &[u8], page: u64) -> bool {
    store
        .checkpoint_export_run(
            run,
            holder,
            chunk,
            &json!({"nextPageToken": format!("t{page}")}),
            &json!({"pages": page}),
        )
        .await
        .unwrap()
}

pub(crate) async fn exports_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    assert_eq!(store.get_export(e.id).await.unwrap(), e);
    assert_eq!(
        store.find_export_by_name("NIGHTLY issues").await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(store.find_export_by_name("other").await.unwrap(), None);
    let mut other = export("a first one", c.id);
    other.schedule = None;
    other.enabled = false;
    other.cursor = Some(json!({"upperMs": 5, "boundary": []}));
    store.insert_export(&other).await.unwrap();
    let names: Vec<String> = store
        .list_exports()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        ["a first one", "Nightly issues"],
        "by name, any case"
    );
    assert_eq!(store.get_export(other.id).await.unwrap(), other);

    // An edit replaces the definition and leaves the cursor to the runs.
    let c2 = connection(store, "Second").await;
    let mut edited = other.clone();
    edited.name = "Renamed".to_owned();
    edited.connection_id = c2.id;
    edited.spec = json!({"resource": "users"});
    edited.schedule = Some(json!({"cron": "0 3 * * *", "timeZone": "UTC"}));
    edited.enabled = true;
    edited.cursor = None;
    edited.updated_at = T0 + Duration::hours(1);
    assert_eq!(store.update_export(&edited).await.unwrap(), 2);
    let read = store.get_export(other.id).await.unwrap();
    assert_eq!(
        read,
        ExportRecord {
            version: 2,
            cursor: other.cursor.clone(),
            ..edited.clone()
        }
    );
    assert_eq!(read.created_at, T0);

    for missing in [
        store.get_export(Uuid::new_v4()).await.unwrap_err(),
        store.delete_export(Uuid::new_v4()).await.unwrap_err(),
        store.export_known_ids(Uuid::new_v4()).await.unwrap_err(),
        store
            .update_export(&export("Ghost", c.id))
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(missing, StoreError::NotFound { kind: "export" }),
            "{missing:?}"
        );
    }
    // A definition naming no existing connection is refused.
    let err = store
        .insert_export(&export("Orphan", ConnectionId::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "connection" }),
        "{err:?}"
    );
    let mut moved = read.clone();
    moved.connection_id = ConnectionId::new();
    let err = store.update_export(&moved).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "connection" }),
        "{err:?}"
    );
    assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
}

pub(crate) async fn export_names_are_unique_without_regard_to_case(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let err = store
        .insert_export(&export("  NIGHTLY ISSUES ", c.id))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { kind: "export", name } if name == "  NIGHTLY ISSUES "),
        "{err:?}"
    );
    // "Straße" and "STRASSE" differ only in case.
    store.insert_export(&export("Straße", c.id)).await.unwrap();
    let err = store
        .insert_export(&export("STRASSE", c.id))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // Renaming onto a taken name is refused too, and changes nothing.
    let mut renamed = e.clone();
    renamed.name = "strasse".to_owned();
    let err = store.update_export(&renamed).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(store.get_export(e.id).await.unwrap(), e);
    // A change of case of its own name is fine.
    renamed.name = "NIGHTLY ISSUES".to_owned();
    assert_eq!(store.update_export(&renamed).await.unwrap(), 2);
    assert_eq!(store.list_exports().await.unwrap().len(), 2);
}

pub(crate) async fn stale_export_edits_change_nothing(db: &crate::TestDb) {
    let store = db.store();
    let (_, e) = setup(store).await;
    // Two editors read version 1; one saves first, the other's edit is refused.
    let mut first = e.clone();
    first.enabled = false;
    let mut second = e.clone();
    second.name = "Second editor".to_owned();
    assert_eq!(store.update_export(&first).await.unwrap(), 2);
    let err = store.update_export(&second).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Changed { kind: "export" }),
        "{err:?}"
    );
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!(read.name, "Nightly issues");
    assert!(!read.enabled);
    second.version = read.version;
    assert_eq!(store.update_export(&second).await.unwrap(), 3);
    // Several servers saving the same version at once: exactly one wins.
    let read = store.get_export(e.id).await.unwrap();
    let savers = (0..6).map(|i| {
        let mut mine = read.clone();
        mine.name = format!("Saved by {i}");
        async move {
            let store = db.another().await;
            store.update_export(&mine).await
        }
    });
    let results = futures::future::join_all(savers).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Changed { .. }))
    );
    assert_eq!(store.get_export(e.id).await.unwrap().version, 4);
}

pub(crate) async fn connections_used_by_exports_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let c2 = connection(store, "Other").await;
    let unused = connection(store, "Unused").await;
    let e2 = export("Users", c2.id);
    let e3 = export("Another on source", c.id);
    store.insert_export(&e2).await.unwrap();
    store.insert_export(&e3).await.unwrap();
    let using = store
        .exports_using(&[c.id, c2.id, unused.id])
        .await
        .unwrap();
    let mut expected = vec![
        (c.id, e3.id, e3.name.clone()),
        (c.id, e.id, e.name.clone()),
        (c2.id, e2.id, e2.name.clone()),
    ];
    expected.sort_by_key(|(c, _, _)| c.to_string());
    assert_eq!(using, expected, "by connection, then name");
    assert_eq!(store.exports_using(&[unused.id]).await.unwrap(), Vec::new());
    assert_eq!(store.exports_using(&[]).await.unwrap(), Vec::new());

    let del = |id: ConnectionId| async move {
        store
            .delete_connection(
                id,
                &audit(ResourceKind::Connection, id.0, AuditAction::Delete, 1),
            )
            .await
    };
    let err = del(c.id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { kind: "export of this connection", name }
            if name == "Another on source"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "export of this connection named \"Another on source\" already exists"
    );
    assert!(store.get_connection(c.id).await.is_ok(), "nothing deleted");
    assert_eq!(store.get_export(e.id).await.unwrap(), e);
    assert_eq!(
        store
            .list_audit(ResourceKind::Connection, c.id.0)
            .await
            .unwrap()
            .len(),
        1,
        "only the creation: the refused delete wrote no entry"
    );

    // An ad hoc run does not keep a connection; it goes with it.
    let adhoc = running(None, unused.id, "cli", T0);
    store.start_export_run(&adhoc).await.unwrap();
    assert!(checkpoint(store, adhoc.id, "cli", b"{}\n", 1).await);
    del(unused.id).await.unwrap();
    assert!(matches!(
        store.get_export_run(adhoc.id).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));

    // Once its exports are deleted (or moved), the connection can go.
    store.delete_export(e.id).await.unwrap();
    let mut moved = e3.clone();
    moved.connection_id = c2.id;
    store.update_export(&moved).await.unwrap();
    del(c.id).await.unwrap();
    assert_eq!(
        store.exports_using(&[c2.id]).await.unwrap().len(),
        2,
        "the moved export and Users"
    );
}

pub(crate) async fn one_run_of_an_export_at_a_time_across_servers(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    // Eight servers start a run of the same export at once: exactly one starts.
    let starters = (0..8).map(|i| {
        let new = running(Some(&e), c.id, &format!("server-{i}"), T0);
        async move {
            let store = db.another().await;
            (new.id, store.start_export_run(&new).await)
        }
    });
    let results = futures::future::join_all(starters).await;
    let started: Vec<Uuid> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(started.len(), 1, "{results:?}");
    for (_, r) in &results {
        if let Err(err) = r {
            assert!(
                matches!(err, StoreError::Conflict { name, .. } if name == "Nightly issues"),
                "{err:?}"
            );
        }
    }
    let runs = store
        .list_export_runs(&RunFilter {
            export_id: Some(e.id),
            import_id: None,
            kind: None,
            connection_id: None,
            state: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the refused runs left no record");
    let winner = run(store, started[0]).await;
    assert_eq!(winner.state, RunState::Running);
    assert_eq!(winner.stats, json!({}));
    assert_eq!(winner.resumed, 0);
    assert_eq!(winner.finished_at, None);
    assert_eq!(winner.spec, e.spec);
    assert_eq!(winner.trigger, RunTrigger::Schedule);

    // Once it has finished, the next run starts.
    let holder = winner.holder.clone().unwrap();
    assert!(
        store
            .finish_export_run(
                winner.id,
                &holder,
                &finish(RunState::Succeeded, T0 + Duration::seconds(30))
            )
            .await
            .unwrap()
    );
    let next = running(Some(&e), c.id, "server-0", T0 + Duration::minutes(15));
    store.start_export_run(&next).await.unwrap();
    // A run of an export or connection that does not exist is refused.
    let err = store
        .start_export_run(&running(Some(&export("Ghost", c.id)), c.id, "h", T0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "export" }),
        "{err:?}"
    );
    let err = store
        .start_export_run(&running(None, ConnectionId::new(), "h", T0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "connection" }),
        "{err:?}"
    );
}

pub(crate) async fn skipped_and_ad_hoc_runs_never_block(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let skipped = NewExportRun {
        state: RunState::Skipped,
        reason: Some("the connection is offline".to_owned()),
        holder: None,
        lease_until: None,
        ..running(Some(&e), c.id, "worker", T0)
    };
    store.start_export_run(&skipped).await.unwrap();
    let read = run(store, skipped.id).await;
    assert_eq!(read.state, RunState::Skipped);
    assert_eq!(read.reason.as_deref(), Some("the connection is offline"));
    assert_eq!(read.finished_at, Some(T0), "ended as it was recorded");
    assert_eq!(
        store
            .interrupted_export_run(e.id, T0 + Duration::hours(1))
            .await
            .unwrap(),
        None,
        "a skipped run is no interrupted run"
    );
    // A skipped run does not block a run; nor does a running one block a skipped record.
    let live = running(Some(&e), c.id, "worker", T0 + Duration::minutes(1));
    store.start_export_run(&live).await.unwrap();
    let skipped_again = NewExportRun {
        id: Uuid::new_v4(),
        started_at: T0 + Duration::minutes(2),
        ..skipped.clone()
    };
    store.start_export_run(&skipped_again).await.unwrap();
    // Ad hoc runs of one connection may run side by side, and beside the export's run.
    let adhoc = [
        running(None, c.id, "cli-1", T0),
        running(None, c.id, "cli-2", T0),
    ];
    for r in &adhoc {
        store.start_export_run(r).await.unwrap();
    }
    assert_eq!(run(store, adhoc[1].id).await.export_id, None);
    // The skipped run cannot be checkpointed or finished: it is no running run.
    assert!(!checkpoint(store, skipped.id, "worker", b"x", 1).await);
    assert!(
        !store
            .finish_export_run(skipped.id, "worker", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    assert_eq!(store.get_export(e.id).await.unwrap().cursor, None);
}

pub(crate) async fn an_interrupted_run_blocks_until_taken_over(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let crashed = running(Some(&e), c.id, "crashed", T0);
    store.start_export_run(&crashed).await.unwrap();
    assert!(checkpoint(store, crashed.id, "crashed", b"one\n", 1).await);
    let lease_end = T0 + Duration::minutes(1);
    // While the lease runs, the run is not interrupted and nobody else can take it.
    assert_eq!(
        store
            .interrupted_export_run(e.id, lease_end - Duration::seconds(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_over_export_run(
                crashed.id,
                "rescuer",
                lease_end - Duration::seconds(1),
                lease_end + Duration::minutes(1)
            )
            .await
            .unwrap(),
        None
    );
    // The holder crashed: its lease ran out. A new run is still refused — the interrupted
    // one must be resumed (or taken over and ended) first, so its output is not orphaned.
    let interrupted = store
        .interrupted_export_run(e.id, lease_end)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(interrupted.id, crashed.id);
    assert_eq!(interrupted.checkpoint, Some(json!({"nextPageToken": "t1"})));
    let err = store
        .start_export_run(&running(Some(&e), c.id, "rescuer", lease_end))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    let taken = store
        .take_over_export_run(
            crashed.id,
            "rescuer",
            lease_end,
            lease_end + Duration::minutes(1),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.holder.as_deref(), Some("rescuer"));
    assert_eq!(taken.lease_until, Some(lease_end + Duration::minutes(1)));
    assert_eq!(taken.resumed, 1);
    assert_eq!(taken.state, RunState::Running);
    assert_eq!(taken.output_chunks, 1);
    assert_eq!(
        store.interrupted_export_run(e.id, lease_end).await.unwrap(),
        None,
        "held again"
    );
    // The holder itself may take its run over again (after a restart with the same id).
    let again = store
        .take_over_export_run(
            crashed.id,
            "rescuer",
            lease_end,
            lease_end + Duration::minutes(2),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.resumed, 2);
    // The resumed run continues the same output, numbering on.
    assert!(checkpoint(store, crashed.id, "rescuer", b"two\n", 2).await);
    assert!(
        store
            .finish_export_run(
                crashed.id,
                "rescuer",
                &finish(RunState::Succeeded, lease_end + Duration::seconds(10))
            )
            .await
            .unwrap()
    );
    let chunks = output(store, crashed.id).await;
    assert_eq!(chunks, vec![(1, b"one\n".to_vec()), (2, b"two\n".to_vec())]);
    // An ended run cannot be taken over; a missing one is not found.
    assert_eq!(
        store
            .take_over_export_run(
                crashed.id,
                "late",
                T0 + Duration::hours(1),
                T0 + Duration::hours(2)
            )
            .await
            .unwrap(),
        None
    );
    let err = store
        .take_over_export_run(Uuid::new_v4(), "late", T0, T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "export run" }),
        "{err:?}"
    );
    // Now a new run starts.
    store
        .start_export_run(&running(Some(&e), c.id, "rescuer", T0 + Duration::hours(1)))
        .await
        .unwrap();
}

pub(crate) async fn one_server_takes_over_a_crashed_run(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let crashed = running(Some(&e), c.id, "crashed", T0);
    store.start_export_run(&crashed).await.unwrap();
    let now = T0 + Duration::minutes(5);
    let takers = (0..8).map(|i| async move {
        let store = db.another().await;
        store
            .take_over_export_run(
                crashed.id,
                &format!("server-{i}"),
                now,
                now + Duration::minutes(1),
            )
            .await
            .unwrap()
    });
    let taken: Vec<ExportRunRecord> = futures::future::join_all(takers)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken.len(), 1, "{taken:?}");
    let read = run(store, crashed.id).await;
    assert_eq!(read.resumed, 1);
    assert_eq!(read.holder, taken[0].holder);
    // A holder renews its lease; the one it lost cannot be renewed.
    let holder = read.holder.clone().unwrap();
    assert!(
        store
            .renew_export_run(crashed.id, &holder, now + Duration::minutes(3))
            .await
            .unwrap()
    );
    assert_eq!(
        run(store, crashed.id).await.lease_until,
        Some(now + Duration::minutes(3))
    );
    assert!(
        !store
            .renew_export_run(crashed.id, "crashed", now + Duration::minutes(9))
            .await
            .unwrap()
    );
    // Renewed, the run is not interrupted at the old expiry.
    assert_eq!(
        store
            .interrupted_export_run(e.id, now + Duration::minutes(2))
            .await
            .unwrap(),
        None
    );
}

pub(crate) async fn checkpoints_write_output_and_resume_point_together(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(checkpoint(store, r.id, "h", b"[{\"id\":\"1\"}", 1).await);
    let read = run(store, r.id).await;
    assert_eq!(read.checkpoint, Some(json!({"nextPageToken": "t1"})));
    assert_eq!(read.stats, json!({"pages": 1}));
    assert_eq!((read.output_bytes, read.output_chunks), (11, 1));
    // A page that produced no output still moves the resume point, without a chunk.
    assert!(checkpoint(store, r.id, "h", b"", 2).await);
    let read = run(store, r.id).await;
    assert_eq!(read.checkpoint, Some(json!({"nextPageToken": "t2"})));
    assert_eq!((read.output_bytes, read.output_chunks), (11, 1));
    assert!(checkpoint(store, r.id, "h", b",\n{\"id\":\"2\"}", 3).await);
    let mut done = finish(RunState::Succeeded, T0 + Duration::seconds(5));
    done.tail = b"]\n".to_vec();
    assert!(store.finish_export_run(r.id, "h", &done).await.unwrap());
    let read = run(store, r.id).await;
    assert_eq!((read.output_bytes, read.output_chunks), (11 + 12 + 2, 3));
    assert_eq!(read.checkpoint, Some(json!({"nextPageToken": "t3"})));
    let bytes: Vec<u8> = output(store, r.id)
        .await
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert_eq!(bytes, b"[{\"id\":\"1\"},\n{\"id\":\"2\"}]\n");
    let all: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    // An ended run takes no more checkpoints.
    assert!(!checkpoint(store, r.id, "h", b"late", 4).await);
    assert_eq!(run(store, r.id).await.output_chunks, 3);
    // Binary output survives as it was written.
    let adhoc = running(None, c.id, "h", T0);
    store.start_export_run(&adhoc).await.unwrap();
    let binary: Vec<u8> = (0..=255).collect();
    assert!(checkpoint(store, adhoc.id, "h", &binary, 1).await);
    assert_eq!(output(store, adhoc.id).await, vec![(1, binary)]);
}

pub(crate) async fn a_lost_lease_writes_nothing(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "paused", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(checkpoint(store, r.id, "paused", b"a\n", 1).await);
    // The holder pauses past its lease; another server takes the run over and goes on.
    let later = T0 + Duration::minutes(2);
    store
        .take_over_export_run(r.id, "rescuer", later, later + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    assert!(checkpoint(store, r.id, "rescuer", b"b\n", 2).await);
    let before = run(store, r.id).await;
    // The paused holder wakes up: its checkpoint and its finish write nothing at all.
    assert!(
        !store
            .checkpoint_export_run(
                r.id,
                "paused",
                b"stale\n",
                &json!({"nextPageToken": "stale"}),
                &json!({"pages": 99})
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_export_run(r.id, "paused", &finish(RunState::Succeeded, later))
            .await
            .unwrap()
    );
    assert!(
        !store
            .renew_export_run(r.id, "paused", later + Duration::hours(1))
            .await
            .unwrap()
    );
    assert_eq!(run(store, r.id).await, before);
    assert_eq!(
        output(store, r.id).await,
        vec![(1, b"a\n".to_vec()), (2, b"b\n".to_vec())]
    );
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!(
        read.cursor, None,
        "the stale finish did not move the cursor"
    );
    assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
    // Checkpoints of a run that does not exist write nothing either.
    assert!(!checkpoint(store, Uuid::new_v4(), "paused", b"x", 1).await);
}

pub(crate) async fn the_cursor_moves_only_with_a_successful_finish(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let mut at = T0;
    // Failed and cancelled runs record where they got to, but leave the export's cursor.
    for state in [RunState::Failed, RunState::Cancelled] {
        let r = running(Some(&e), c.id, "h", at);
        store.start_export_run(&r).await.unwrap();
        let f = finish(state, at + Duration::seconds(1));
        assert!(store.finish_export_run(r.id, "h", &f).await.unwrap());
        let read = run(store, r.id).await;
        assert_eq!(read.state, state);
        assert_eq!(read.cursor_after, f.cursor_after);
        assert_eq!(read.error, f.error);
        assert_eq!(read.stats, f.stats);
        assert_eq!(read.finished_at, Some(at + Duration::seconds(1)));
        assert_eq!(read.output_expires_at, f.output_expires_at);
        assert_eq!((read.holder, read.lease_until), (None, None));
        assert_eq!(store.get_export(e.id).await.unwrap().cursor, None);
        assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
        at += Duration::minutes(1);
    }
    // A successful one writes cursor and known ids in the same transaction as its end.
    let r = running(Some(&e), c.id, "h", at);
    store.start_export_run(&r).await.unwrap();
    let f = finish(RunState::Succeeded, at + Duration::seconds(1));
    assert!(store.finish_export_run(r.id, "h", &f).await.unwrap());
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!(read.cursor, f.cursor_after);
    assert_eq!(read.version, 1, "a run is no edit of the definition");
    assert_eq!(read.updated_at, T0);
    assert_eq!(
        store.export_known_ids(e.id).await.unwrap(),
        Some(vec![1, 2, 3])
    );
    // The next run starts from it; a success without a cursor or ids keeps the stored ones.
    at += Duration::minutes(1);
    let next = running(Some(&read), c.id, "h", at);
    assert_eq!(next.cursor_before, f.cursor_after);
    store.start_export_run(&next).await.unwrap();
    assert_eq!(run(store, next.id).await.cursor_before, f.cursor_after);
    let keep = RunFinish {
        cursor_after: None,
        known_ids: None,
        ..finish(RunState::Succeeded, at)
    };
    assert!(store.finish_export_run(next.id, "h", &keep).await.unwrap());
    assert_eq!(store.get_export(e.id).await.unwrap().cursor, f.cursor_after);
    assert_eq!(
        store.export_known_ids(e.id).await.unwrap(),
        Some(vec![1, 2, 3])
    );
    // A new cursor replaces the old one.
    at += Duration::minutes(1);
    let third = running(Some(&read), c.id, "h", at);
    store.start_export_run(&third).await.unwrap();
    let moved = RunFinish {
        cursor_after: Some(json!({"upperMs": 2, "boundary": []})),
        known_ids: Some(Vec::new()),
        ..finish(RunState::Succeeded, at)
    };
    assert!(
        store
            .finish_export_run(third.id, "h", &moved)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_export(e.id).await.unwrap().cursor,
        moved.cursor_after
    );
    assert_eq!(
        store.export_known_ids(e.id).await.unwrap(),
        Some(Vec::new())
    );
    // Finishing twice does nothing the second time.
    assert!(!store.finish_export_run(third.id, "h", &f).await.unwrap());
    assert_eq!(
        store.get_export(e.id).await.unwrap().cursor,
        moved.cursor_after
    );
}

pub(crate) async fn ad_hoc_runs_touch_no_export(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let mut r = running(None, c.id, "cli", T0);
    r.trigger = RunTrigger::Cli;
    r.output_file = Some("/tmp/issues.ndjson".to_owned());
    store.start_export_run(&r).await.unwrap();
    assert!(
        store
            .finish_export_run(r.id, "cli", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    let read = run(store, r.id).await;
    assert_eq!(read.trigger, RunTrigger::Cli);
    assert_eq!(read.output_file.as_deref(), Some("/tmp/issues.ndjson"));
    assert_eq!(read.state, RunState::Succeeded);
    assert_eq!(store.get_export(e.id).await.unwrap(), e);
    assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
}

pub(crate) async fn output_is_read_in_pages(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert_eq!(
        store.export_run_output(r.id, None, 10).await.unwrap(),
        Vec::new(),
        "nothing written yet"
    );
    for page in 1..=7 {
        let line = format!("{{\"page\":{page}}}\n");
        assert!(checkpoint(store, r.id, "h", line.as_bytes(), page).await);
    }
    let first = store.export_run_output(r.id, None, 3).await.unwrap();
    assert_eq!(first.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(first[0].1, b"{\"page\":1}\n");
    let next = store.export_run_output(r.id, Some(3), 3).await.unwrap();
    assert_eq!(next.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [4, 5, 6]);
    let last = store.export_run_output(r.id, Some(6), 3).await.unwrap();
    assert_eq!(last.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [7]);
    assert_eq!(
        store.export_run_output(r.id, Some(7), 3).await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        store.export_run_output(r.id, Some(0), 1).await.unwrap(),
        first[..1].to_vec(),
        "after 0 is from the first"
    );
    // A reader may page while the run still writes.
    assert!(checkpoint(store, r.id, "h", b"{\"page\":8}\n", 8).await);
    assert_eq!(
        store.export_run_output(r.id, Some(7), 3).await.unwrap(),
        vec![(8, b"{\"page\":8}\n".to_vec())]
    );
    let err = store
        .export_run_output(Uuid::new_v4(), None, 3)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "export run" }),
        "{err:?}"
    );
}

pub(crate) async fn expired_outputs_are_deleted(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let mut ids = Vec::new();
    // Three finished runs whose output expires after one, two and three days, and one still
    // running (no expiry yet).
    for day in 1..=3 {
        let r = running(None, c.id, "h", T0);
        store.start_export_run(&r).await.unwrap();
        assert!(checkpoint(store, r.id, "h", b"0123456789", 1).await);
        let f = RunFinish {
            output_expires_at: Some(T0 + Duration::days(day)),
            ..finish(RunState::Succeeded, T0)
        };
        assert!(store.finish_export_run(r.id, "h", &f).await.unwrap());
        ids.push(r.id);
    }
    let live = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&live).await.unwrap();
    assert!(checkpoint(store, live.id, "h", b"live", 1).await);
    // An ended run kept without expiry keeps its output.
    let forever = running(None, c.id, "h", T0);
    store.start_export_run(&forever).await.unwrap();
    assert!(checkpoint(store, forever.id, "h", b"kept", 1).await);
    let f = RunFinish {
        output_expires_at: None,
        ..finish(RunState::Failed, T0)
    };
    assert!(store.finish_export_run(forever.id, "h", &f).await.unwrap());

    assert_eq!(
        store
            .delete_expired_export_outputs(T0 + Duration::days(1) - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_export_outputs(T0 + Duration::days(2))
            .await
            .unwrap(),
        2,
        "expiry is inclusive"
    );
    for id in &ids[..2] {
        let read = run(store, *id).await;
        assert_eq!(read.output_chunks, 0, "no output held any more");
        assert_eq!(
            read.output_bytes, 10,
            "what the run wrote stays in its history"
        );
        assert_eq!(read.state, RunState::Succeeded);
        assert_eq!(
            store.export_run_output(*id, None, 10).await.unwrap(),
            Vec::new()
        );
    }
    assert_eq!(output(store, ids[2]).await.len(), 1);
    assert_eq!(output(store, live.id).await.len(), 1);
    assert_eq!(output(store, forever.id).await.len(), 1);
    assert_eq!(
        store
            .delete_expired_export_outputs(T0 + Duration::days(2))
            .await
            .unwrap(),
        0,
        "nothing left to delete"
    );
    assert_eq!(
        store
            .delete_expired_export_outputs(T0 + Duration::days(365))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        output(store, live.id).await.len(),
        1,
        "never a running run's"
    );
    assert_eq!(output(store, forever.id).await.len(), 1);
}

pub(crate) async fn cancel_is_requested_of_running_runs_only(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(!run(store, r.id).await.cancel_requested);
    // Asked from another server: the holder sees it on its next read.
    let other = db.another().await;
    assert!(other.request_export_run_cancel(r.id).await.unwrap());
    assert!(run(store, r.id).await.cancel_requested);
    assert!(other.request_export_run_cancel(r.id).await.unwrap());
    // A checkpoint does not clear it; a takeover does not either.
    assert!(checkpoint(store, r.id, "h", b"x", 1).await);
    let taken = store
        .take_over_export_run(
            r.id,
            "h2",
            T0 + Duration::minutes(5),
            T0 + Duration::minutes(6),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(taken.cancel_requested);
    assert!(
        store
            .finish_export_run(
                r.id,
                "h2",
                &finish(RunState::Cancelled, T0 + Duration::minutes(5))
            )
            .await
            .unwrap()
    );
    assert!(!store.request_export_run_cancel(r.id).await.unwrap());
    let err = store
        .request_export_run_cancel(Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "export run" }),
        "{err:?}"
    );
}

pub(crate) async fn each_exports_latest_run_in_one_query(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let e2 = export("Second export", c.id);
    store.insert_export(&e2).await.unwrap();
    let e3 = export("Never run", c.id);
    store.insert_export(&e3).await.unwrap();
    assert!(store.latest_export_runs().await.unwrap().is_empty());
    let mut newest = std::collections::HashMap::new();
    // Two runs of e start in the same microsecond: the one with the greater id is the
    // newest, as in list_export_runs. Ad hoc runs belong to no export.
    for (minute, export) in [
        (0, Some(&e)),
        (1, Some(&e2)),
        (2, None),
        (3, Some(&e)),
        (3, Some(&e)),
        (4, None),
    ] {
        let r = NewExportRun {
            state: RunState::Skipped,
            ..running(export, c.id, "h", T0 + Duration::minutes(minute))
        };
        store.start_export_run(&r).await.unwrap();
        if let Some(x) = export {
            let entry = newest.entry(x.id).or_insert(r.id);
            let listed = store
                .list_export_runs(&RunFilter {
                    export_id: Some(x.id),
                    import_id: None,
                    kind: None,
                    connection_id: None,
                    state: None,
                    limit: 1,
                })
                .await
                .unwrap();
            *entry = listed[0].id;
        }
    }
    let mut latest: Vec<(Uuid, Uuid)> = store
        .latest_export_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.export_id.unwrap(), r.id))
        .collect();
    latest.sort();
    let mut expected: Vec<(Uuid, Uuid)> = newest.into_iter().collect();
    expected.sort();
    assert_eq!(
        latest, expected,
        "one run per export that has one, the newest"
    );
    assert_eq!(latest.len(), 2);
}

pub(crate) async fn runs_are_listed_newest_first(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let c2 = connection(store, "Second").await;
    let e2 = export("Second export", c2.id);
    store.insert_export(&e2).await.unwrap();
    let mut expected_all = Vec::new();
    for minute in 0..5 {
        let at = T0 + Duration::minutes(minute);
        let (export, conn) = match minute % 3 {
            0 => (Some(&e), c.id),
            1 => (Some(&e2), c2.id),
            _ => (None, c.id),
        };
        let r = NewExportRun {
            state: RunState::Skipped,
            ..running(export, conn, "h", at)
        };
        store.start_export_run(&r).await.unwrap();
        expected_all.push((r.id, export.map(|e| e.id), conn));
    }
    expected_all.reverse();
    let list = |export_id, connection_id, limit| async move {
        store
            .list_export_runs(&RunFilter {
                export_id,
                import_id: None,
                kind: None,
                connection_id,
                state: None,
                limit,
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let all_ids: Vec<Uuid> = expected_all.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(list(None, None, 100).await, all_ids);
    assert_eq!(list(None, None, 2).await, all_ids[..2]);
    assert_eq!(list(None, None, 0).await, Vec::<Uuid>::new());
    let of_e: Vec<Uuid> = expected_all
        .iter()
        .filter(|(_, x, _)| *x == Some(e.id))
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(list(Some(e.id), None, 100).await, of_e);
    let of_c: Vec<Uuid> = expected_all
        .iter()
        .filter(|(_, _, conn)| *conn == c.id)
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(of_c.len(), 3, "the export's runs and the ad hoc ones");
    assert_eq!(list(None, Some(c.id), 100).await, of_c);
    assert_eq!(list(Some(e2.id), Some(c.id), 100).await, Vec::<Uuid>::new());
    assert_eq!(list(Some(e2.id), Some(c2.id), 100).await.len(), 2);
    assert_eq!(
        list(Some(Uuid::new_v4()), None, 100).await,
        Vec::<Uuid>::new()
    );
}

/// The run going on is found however many skipped runs were recorded after it.
pub(crate) async fn runs_are_listed_by_state(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let live = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&live).await.unwrap();
    let mut skipped = Vec::new();
    for minute in 1..=12 {
        let r = NewExportRun {
            state: RunState::Skipped,
            ..running(Some(&e), c.id, "h", T0 + Duration::minutes(minute))
        };
        store.start_export_run(&r).await.unwrap();
        skipped.push(r.id);
    }
    skipped.reverse();
    let list = |state, limit| async move {
        store
            .list_export_runs(&RunFilter {
                export_id: Some(e.id),
                import_id: None,
                kind: None,
                connection_id: None,
                state,
                limit,
            })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(list(Some(RunState::Running), 1).await, [live.id]);
    assert_eq!(list(Some(RunState::Skipped), 100).await, skipped);
    assert_eq!(
        list(Some(RunState::Succeeded), 100).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(list(None, 1).await, skipped[..1]);
}

pub(crate) async fn deleting_an_export_deletes_its_runs_and_output(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let kept = export("Kept", c.id);
    store.insert_export(&kept).await.unwrap();
    let old = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&old).await.unwrap();
    assert!(checkpoint(store, old.id, "h", b"old", 1).await);
    assert!(
        store
            .finish_export_run(old.id, "h", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    let live = running(Some(&e), c.id, "h", T0 + Duration::minutes(1));
    store.start_export_run(&live).await.unwrap();
    let other = running(Some(&kept), c.id, "h", T0);
    store.start_export_run(&other).await.unwrap();
    assert!(checkpoint(store, other.id, "h", b"other", 1).await);

    store.delete_export(e.id).await.unwrap();
    assert!(matches!(
        store.get_export(e.id).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    for id in [old.id, live.id] {
        assert!(matches!(
            store.get_export_run(id).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
        assert!(matches!(
            store.export_run_output(id, None, 10).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
    }
    // The run that was going finds it lost its run: it writes nothing more.
    assert!(!checkpoint(store, live.id, "h", b"late", 2).await);
    assert!(
        !store
            .finish_export_run(live.id, "h", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    // Other exports keep theirs.
    assert_eq!(output(store, other.id).await, vec![(1, b"other".to_vec())]);
    assert_eq!(
        store
            .list_export_runs(&RunFilter {
                export_id: None,
                import_id: None,
                kind: None,
                connection_id: None,
                state: None,
                limit: 10
            })
            .await
            .unwrap()
            .len(),
        1
    );
    // The name is free again.
    store
        .insert_export(&export("Nightly issues", c.id))
        .await
        .unwrap();
}

pub(crate) async fn resetting_the_cursor_keeps_the_version(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(
        store
            .finish_export_run(r.id, "h", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    assert!(store.get_export(e.id).await.unwrap().cursor.is_some());
    store.reset_export_cursor(e.id).await.unwrap();
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!(read.cursor, None);
    assert_eq!(read.version, 1);
    assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
    // The run's own record of where it ended stays.
    assert!(run(store, r.id).await.cursor_after.is_some());
    let err = store.reset_export_cursor(Uuid::new_v4()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { kind: "export" }),
        "{err:?}"
    );
}

pub(crate) async fn a_cursor_is_rewound_only_from_where_it_is(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(
        store
            .finish_export_run(r.id, "h", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    let after = store.get_export(e.id).await.unwrap().cursor.unwrap();
    let before = serde_json::json!({"upperMs": 1, "boundary": []});
    // From somewhere it is not: nothing moves.
    let elsewhere = serde_json::json!({"upperMs": 2, "boundary": []});
    assert!(
        !store
            .rewind_export_cursor(e.id, &elsewhere, Some(&before))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_export(e.id).await.unwrap().cursor,
        Some(after.clone())
    );
    assert!(
        store
            .rewind_export_cursor(e.id, &after, Some(&before))
            .await
            .unwrap()
    );
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!((read.cursor, read.version), (Some(before.clone()), 1));
    // Back to no cursor at all: the next delta run reads everything.
    assert!(
        store
            .rewind_export_cursor(e.id, &before, None)
            .await
            .unwrap()
    );
    assert_eq!(store.get_export(e.id).await.unwrap().cursor, None);
}

pub(crate) async fn a_takeover_racing_checkpoints_keeps_each_wholly_in_or_out(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "old", T0);
    store.start_export_run(&r).await.unwrap();
    let (old, new) = (db.another().await, db.another().await);
    let id = r.id;
    // The old holder keeps checkpointing from its pool while a new holder takes the run over
    // from another and then checkpoints too.
    let writer = tokio::spawn(async move {
        let mut results = Vec::new();
        for page in 0..30u64 {
            let chunk = format!("old-{page}\n");
            results.push((
                chunk.clone(),
                checkpoint(&*old, id, "old", chunk.as_bytes(), page).await,
            ));
        }
        results
    });
    let rescuer = tokio::spawn(async move {
        let at = T0 + Duration::minutes(5);
        let taken = new
            .take_over_export_run(id, "new", at, at + Duration::minutes(1))
            .await
            .unwrap();
        assert!(taken.is_some());
        let mut results = Vec::new();
        for page in 0..5u64 {
            let chunk = format!("new-{page}\n");
            results.push((
                chunk.clone(),
                checkpoint(&*new, id, "new", chunk.as_bytes(), page).await,
            ));
        }
        results
    });
    let (old_results, new_results) = (writer.await.unwrap(), rescuer.await.unwrap());
    assert!(
        new_results.iter().all(|(_, ok)| *ok),
        "the new holder holds it"
    );
    // The old holder's checkpoints succeed up to the takeover and fail after it.
    let kept = old_results.iter().take_while(|(_, ok)| *ok).count();
    assert!(
        old_results[kept..].iter().all(|(_, ok)| !ok),
        "{old_results:?}"
    );
    let expected: Vec<Vec<u8>> = old_results[..kept]
        .iter()
        .chain(new_results.iter())
        .map(|(chunk, _)| chunk.clone().into_bytes())
        .collect();
    let chunks: Vec<Vec<u8>> = output(store, id)
        .await
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(chunks, expected);
    let read = run(store, id).await;
    assert_eq!(read.output_chunks, expected.len() as u64);
    assert_eq!(read.holder.as_deref(), Some("new"));
    assert_eq!(read.checkpoint, Some(json!({"nextPageToken": "t4"})));
}

pub(crate) async fn a_finish_racing_a_takeover_has_one_winner(db: &crate::TestDb) {
    let store = db.store();
    let (c, _) = setup(store).await;
    for round in 0..6 {
        let e = export(&format!("Race {round}"), c.id);
        store.insert_export(&e).await.unwrap();
        let r = running(Some(&e), c.id, "old", T0);
        store.start_export_run(&r).await.unwrap();
        let (a, b) = (db.another().await, db.another().await);
        let at = T0 + Duration::minutes(5);
        let (finished, taken) = tokio::join!(
            async move {
                a.finish_export_run(r.id, "old", &finish(RunState::Succeeded, at))
                    .await
                    .unwrap()
            },
            async move {
                b.take_over_export_run(r.id, "new", at, at + Duration::minutes(1))
                    .await
                    .unwrap()
            },
        );
        assert!(finished != taken.is_some(), "exactly one of the two wins");
        let read = run(store, r.id).await;
        let cursor = store.get_export(e.id).await.unwrap().cursor;
        if finished {
            assert_eq!(read.state, RunState::Succeeded);
            assert_eq!(read.holder, None);
            assert!(cursor.is_some());
        } else {
            assert_eq!(read.state, RunState::Running);
            assert_eq!(read.holder.as_deref(), Some("new"));
            assert_eq!(cursor, None, "the lost finish wrote no cursor");
        }
    }
}

pub(crate) async fn concurrent_checkpoints_number_chunks_without_a_gap(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    // Not what one holder does, but the numbering must hold even so.
    let writers = (0..12u64).map(|i| async move {
        let store = db.another().await;
        checkpoint(&*store, r.id, "h", format!("chunk {i}").as_bytes(), i).await
    });
    assert!(
        futures::future::join_all(writers)
            .await
            .into_iter()
            .all(|ok| ok)
    );
    let chunks = output(store, r.id).await;
    assert_eq!(
        chunks.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<u64>>()
    );
    let mut texts: Vec<String> = chunks
        .into_iter()
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .collect();
    texts.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("chunk {i}")).collect();
    expected.sort();
    assert_eq!(texts, expected);
    let read = run(store, r.id).await;
    assert_eq!(read.output_chunks, 12);
    assert_eq!(
        read.output_bytes,
        expected.iter().map(String::len).sum::<usize>() as u64
    );
}

pub(crate) async fn large_chunks_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    // A page of 100 issues with every field can be megabytes.
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    assert!(checkpoint(store, r.id, "h", &big, 1).await);
    assert!(checkpoint(store, r.id, "h", &big[..1], 2).await);
    let chunks = output(store, r.id).await;
    assert_eq!(chunks.len(), 2);
    assert!(
        chunks[0].1 == big,
        "the large chunk reads back byte for byte"
    );
    assert_eq!(chunks[1].1, big[..1]);
    assert_eq!(run(store, r.id).await.output_bytes, big.len() as u64 + 1);
}

pub(crate) async fn a_run_is_recorded_once(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = NewExportRun {
        state: RunState::Skipped,
        ..running(Some(&e), c.id, "h", T0)
    };
    store.start_export_run(&r).await.unwrap();
    let err = store.start_export_run(&r).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { kind: "export run", name } if *name == r.id.to_string()),
        "{err:?}"
    );
    assert_eq!(
        store
            .list_export_runs(&RunFilter {
                export_id: Some(e.id),
                import_id: None,
                kind: None,
                connection_id: None,
                state: None,
                limit: 10
            })
            .await
            .unwrap()
            .len(),
        1
    );
}

pub(crate) async fn interrupted_runs_are_found_across_exports(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let e2 = export("Second", c.id);
    store.insert_export(&e2).await.unwrap();
    let first = running(Some(&e), c.id, "h1", T0);
    let adhoc = running(None, c.id, "cli", T0 + Duration::seconds(1));
    let held = running(Some(&e2), c.id, "h2", T0 + Duration::seconds(2));
    for r in [&first, &adhoc, &held] {
        store.start_export_run(r).await.unwrap();
    }
    assert!(
        store
            .renew_export_run(held.id, "h2", T0 + Duration::hours(1))
            .await
            .unwrap()
    );
    let at = T0 + Duration::minutes(2);
    let ids: Vec<Uuid> = store
        .interrupted_export_runs(at)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        [first.id, adhoc.id],
        "oldest first; the renewed one is held"
    );
    assert_eq!(store.interrupted_export_runs(T0).await.unwrap(), Vec::new());
    // The sweep takes the ad hoc one over and ends it; it is no longer interrupted.
    store
        .take_over_export_run(adhoc.id, "sweeper", at, at + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    let ended = RunFinish {
        error: Some("interrupted: its process stopped".to_owned()),
        cursor_after: None,
        known_ids: None,
        ..finish(RunState::Failed, at)
    };
    assert!(
        store
            .finish_export_run(adhoc.id, "sweeper", &ended)
            .await
            .unwrap()
    );
    let ids: Vec<Uuid> = store
        .interrupted_export_runs(at + Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [first.id]);
}

pub(crate) async fn values_round_trip_unchanged(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Values").await;
    let mut e = export("Überblick – 日本 \"quoted\"", c.id);
    e.spec = json!({
        "resource": "issues",
        "jql": "summary ~ \"naïve\\n\" AND project in (A, B)",
        "fields": ["*all", "customfield_10001", "Story points"],
        "big": u64::MAX,
        "negative": i64::MIN,
        "float": 0.1,
        "nested": {"empty": {}, "list": [[], [null, true, false]]},
    });
    e.cursor = Some(json!({"upperMs": i64::MAX, "boundary": [["10001", -1], ["10002", 0]]}));
    e.schedule = None;
    store.insert_export(&e).await.unwrap();
    assert_eq!(store.get_export(e.id).await.unwrap(), e);
    assert_eq!(
        store
            .find_export_by_name("ÜBERBLICK – 日本 \"QUOTED\"")
            .await
            .unwrap(),
        Some(e.clone())
    );
    let mut r = running(Some(&e), c.id, "holder with spaces/and:colons", T0);
    r.trigger = RunTrigger::Api;
    r.output_file = Some("/data/exports/日本.ndjson".to_owned());
    store.start_export_run(&r).await.unwrap();
    let read = run(store, r.id).await;
    assert_eq!(read.spec, e.spec);
    assert_eq!(read.cursor_before, e.cursor);
    assert_eq!(read.trigger, RunTrigger::Api);
    assert_eq!(read.output_file, r.output_file);
    let stats = json!({"records": {"issues": u64::MAX}, "bytes": 1, "expected": null});
    let known: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 256) as u8).collect();
    let f = RunFinish {
        stats: stats.clone(),
        known_ids: Some(known.clone()),
        error: Some("multi\nline \u{0} error".to_owned()),
        ..finish(RunState::Succeeded, T0 + Duration::microseconds(1))
    };
    assert!(
        store
            .finish_export_run(r.id, "holder with spaces/and:colons", &f)
            .await
            .unwrap()
    );
    let read = run(store, r.id).await;
    assert_eq!(read.stats, stats);
    assert_eq!(
        read.error.as_deref(),
        Some("multi\nline \u{fffd} error"),
        "NUL, which PostgreSQL's text cannot hold, is replaced on both backends"
    );
    assert_eq!(read.finished_at, Some(T0 + Duration::microseconds(1)));
    assert!(store.export_known_ids(e.id).await.unwrap() == Some(known));
    for state in RunState::ALL {
        assert_eq!(RunState::parse(state.as_str()), Some(*state));
    }
    for trigger in RunTrigger::ALL {
        assert_eq!(RunTrigger::parse(trigger.as_str()), Some(*trigger));
        assert_eq!(
            serde_json::to_value(trigger).unwrap(),
            json!(trigger.as_str())
        );
    }
    assert_eq!(RunState::parse("abandoned"), None);
}

pub(crate) async fn deleting_a_connection_ends_its_ad_hoc_runs(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Ad hoc only").await;
    let live = running(None, c.id, "cli", T0);
    store.start_export_run(&live).await.unwrap();
    assert!(checkpoint(store, live.id, "cli", b"page\n", 1).await);
    store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    // The run and its output went with the connection; its holder writes nothing more.
    assert!(!checkpoint(store, live.id, "cli", b"more\n", 2).await);
    assert!(
        !store
            .finish_export_run(live.id, "cli", &finish(RunState::Succeeded, T0))
            .await
            .unwrap()
    );
    assert!(matches!(
        store.export_run_output(live.id, None, 1).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

pub(crate) async fn edits_during_a_run_keep_its_spec_and_its_cursor(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    // Someone opens the definition for editing while the run goes on…
    let opened = store.get_export(e.id).await.unwrap();
    let mut edit = opened.clone();
    edit.spec = json!({"resource": "issues", "jql": "project = OTHER"});
    assert_eq!(store.update_export(&edit).await.unwrap(), 2);
    assert_eq!(
        run(store, r.id).await.spec,
        e.spec,
        "the run keeps the spec it started with"
    );
    // …the run finishes, moving the cursor without changing the version…
    let f = finish(RunState::Succeeded, T0 + Duration::minutes(1));
    assert!(store.finish_export_run(r.id, "h", &f).await.unwrap());
    assert!(
        !store
            .renew_export_run(r.id, "h", T0 + Duration::hours(1))
            .await
            .unwrap(),
        "an ended run holds no lease"
    );
    let read = store.get_export(e.id).await.unwrap();
    assert_eq!(read.version, 2);
    assert_eq!(read.cursor, f.cursor_after);
    // …and a later edit made from what was read before the finish (no cursor then) does not
    // put the old cursor back: edits never write it.
    let mut late = read.clone();
    late.cursor = None;
    late.enabled = false;
    assert_eq!(store.update_export(&late).await.unwrap(), 3);
    assert_eq!(store.get_export(e.id).await.unwrap().cursor, f.cursor_after);
}

pub(crate) async fn usage_of_many_connections_is_one_query(db: &crate::TestDb) {
    let store = db.store();
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    for i in 0..40 {
        let c = connection(store, &format!("Conn {i:02}")).await;
        if i % 3 == 0 {
            let e = export(&format!("Export {i:02}"), c.id);
            store.insert_export(&e).await.unwrap();
            expected.push((c.id, e.id, e.name.clone()));
        }
        ids.push(c.id);
    }
    // Connections that do not exist (any more) are simply not used.
    ids.extend((0..400).map(|_| ConnectionId::new()));
    let mut using = store.exports_using(&ids).await.unwrap();
    using.sort_by_key(|(_, _, name)| name.clone());
    assert_eq!(using, expected);
}

pub(crate) async fn a_lease_ends_to_the_microsecond(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let mut r = running(Some(&e), c.id, "h", T0);
    let until = T0 + Duration::seconds(30) + Duration::microseconds(123_457);
    r.lease_until = Some(until);
    store.start_export_run(&r).await.unwrap();
    assert_eq!(run(store, r.id).await.lease_until, Some(until));
    let just_before = until - Duration::microseconds(1);
    assert_eq!(
        store
            .interrupted_export_run(e.id, just_before)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_over_export_run(r.id, "other", just_before, until + Duration::minutes(1))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .interrupted_export_run(e.id, until)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .take_over_export_run(r.id, "other", until, until + Duration::minutes(1))
            .await
            .unwrap()
            .is_some()
    );
}

pub(crate) async fn a_connection_deleted_while_an_export_is_saved_leaves_no_orphan(
    db: &crate::TestDb,
) {
    let store = db.store();
    for round in 0..8 {
        let c = connection(store, &format!("Racing {round}")).await;
        let e = export(&format!("Racing export {round}"), c.id);
        let (a, b) = (db.another().await, db.another().await);
        let (saved, deleted) = tokio::join!(async move { a.insert_export(&e).await }, async move {
            b.delete_connection(
                c.id,
                &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 1),
            )
            .await
        },);
        match (&saved, &deleted) {
            // The export came first: the delete is refused.
            (Ok(()), Err(StoreError::Conflict { .. })) => {
                assert!(store.get_connection(c.id).await.is_ok());
            }
            // The delete came first: the export names no connection any more.
            (Err(StoreError::NotFound { kind: "connection" }), Ok(())) => {
                assert!(store.get_connection(c.id).await.is_err());
            }
            other => panic!("both or neither went through: {other:?}"),
        }
        for (connection, _, _) in store.exports_using(&[c.id]).await.unwrap() {
            assert!(store.get_connection(connection).await.is_ok());
        }
    }
}

pub(crate) async fn an_export_deleted_while_a_run_starts_leaves_no_orphan(db: &crate::TestDb) {
    let store = db.store();
    let c = connection(store, "Source").await;
    for round in 0..8 {
        let e = export(&format!("Deleted {round}"), c.id);
        store.insert_export(&e).await.unwrap();
        let new = running(Some(&e), c.id, "h", T0);
        let id = new.id;
        let (a, b) = (db.another().await, db.another().await);
        let (started, deleted) =
            tokio::join!(async move { a.start_export_run(&new).await }, async move {
                b.delete_export(e.id).await
            },);
        deleted.unwrap();
        match started {
            // Started first: the run went with the export.
            Ok(()) => {}
            Err(StoreError::NotFound { kind: "export" }) => {}
            Err(other) => panic!("{other:?}"),
        }
        assert!(matches!(
            store.get_export_run(id).await.unwrap_err(),
            StoreError::NotFound { .. }
        ));
        assert!(!checkpoint(store, id, "h", b"x", 1).await);
    }
}

pub(crate) async fn a_late_holder_keeps_its_run_until_someone_takes_it(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "slow", T0);
    store.start_export_run(&r).await.unwrap();
    // The lease ran out long ago, but nobody took the run over: the slow holder still holds
    // it, may renew it and goes on (a lease is lost to a successor, not to the clock).
    assert!(
        store
            .interrupted_export_run(e.id, T0 + Duration::hours(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(checkpoint(store, r.id, "slow", b"late but kept\n", 1).await);
    assert!(
        store
            .renew_export_run(r.id, "slow", T0 + Duration::hours(2))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .interrupted_export_run(e.id, T0 + Duration::hours(1))
            .await
            .unwrap(),
        None,
        "renewed, it is no longer interrupted"
    );
    assert!(
        store
            .finish_export_run(
                r.id,
                "slow",
                &finish(RunState::Succeeded, T0 + Duration::hours(1))
            )
            .await
            .unwrap()
    );
    let read = run(store, r.id).await;
    assert_eq!(read.resumed, 0);
    assert_eq!(read.output_chunks, 1);
    assert!(read.state.is_final());
}

/// Runs one statement on the test's database directly, behind the store's back.
async fn raw(db: &crate::TestDb, sql: &str, run: Uuid, seq: i64) {
    match &db.any {
        jiralink_store::AnyStore::Sqlite(_) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.to_string())
                .bind(seq)
                .execute(&db.sqlite_pool())
                .await
                .unwrap();
        }
        jiralink_store::AnyStore::Postgres(_) => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.to_string())
                .bind(seq)
                .execute(&db.pg_pool())
                .await
                .unwrap();
        }
    }
}

pub(crate) async fn a_checkpoint_or_finish_that_fails_half_way_writes_nothing(db: &crate::TestDb) {
    let store = db.store();
    let (c, e) = setup(store).await;
    let r = running(Some(&e), c.id, "h", T0);
    store.start_export_run(&r).await.unwrap();
    assert!(checkpoint(store, r.id, "h", b"first\n", 1).await);
    let before = run(store, r.id).await;
    // A chunk already where the next one goes makes the chunk's insert fail after the run's
    // row was updated: the update must not survive it.
    let squat = "INSERT INTO export_run_chunks (run_id, seq, data) VALUES ($1, $2, 'x')";
    raw(db, squat, r.id, 2).await;
    let err = store
        .checkpoint_export_run(
            r.id,
            "h",
            b"second\n",
            &json!({"nextPageToken": "t2"}),
            &json!({"pages": 2}),
        )
        .await;
    assert!(matches!(err, Err(StoreError::Database(_))), "{err:?}");
    assert_eq!(
        run(store, r.id).await,
        before,
        "checkpoint and stats unchanged"
    );
    let mut done = finish(RunState::Succeeded, T0 + Duration::seconds(1));
    done.tail = b"tail\n".to_vec();
    let err = store.finish_export_run(r.id, "h", &done).await;
    assert!(matches!(err, Err(StoreError::Database(_))), "{err:?}");
    assert_eq!(run(store, r.id).await, before, "still running, still held");
    assert_eq!(store.get_export(e.id).await.unwrap().cursor, None);
    assert_eq!(store.export_known_ids(e.id).await.unwrap(), None);
    // Once the obstacle is gone, the same calls go through.
    raw(
        db,
        "DELETE FROM export_run_chunks WHERE run_id = $1 AND seq = $2",
        r.id,
        2,
    )
    .await;
    assert!(checkpoint(store, r.id, "h", b"second\n", 2).await);
    assert!(store.finish_export_run(r.id, "h", &done).await.unwrap());
    let chunks: Vec<Vec<u8>> = output(store, r.id)
        .await
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(chunks, [&b"first\n"[..], b"second\n", b"tail\n"]);
    assert_eq!(
        store.get_export(e.id).await.unwrap().cursor,
        done.cursor_after
    );
}

/// What one step of a run's life does, for the property test below.
#[derive(Debug, Clone)]
enum Step {
    /// Holder `0..3` checkpoints a chunk.
    Checkpoint(usize, Vec<u8>),
    /// Holder `0..3` takes the run over, after the lease ran out or just before.
    TakeOver(usize, bool),
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        4 => (0..3usize, proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(h, bytes)| Step::Checkpoint(h, bytes)),
        1 => (0..3usize, any::<bool>()).prop_map(|(h, expired)| Step::TakeOver(h, expired)),
    ];
    proptest::collection::vec(step, 0..16)
}

/// Whatever holders come and go and whatever stale holders try, the output read back (in
/// pages of any size) is exactly the chunks the holder of the moment checkpointed, then the
/// tail, numbered 1, 2, 3, … without a gap.
fn output_is_exactly_what_the_holders_wrote(postgres: bool) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(db) = rt.block_on(async {
        if postgres {
            crate::TestDb::postgres().await
        } else {
            Some(crate::TestDb::sqlite().await)
        }
    }) else {
        return;
    };
    let store = db.store();
    let c = rt.block_on(connection(store, "Property"));
    let holders = ["a", "b", "c"];
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    let strategy = (
        steps(),
        proptest::collection::vec(any::<u8>(), 0..8),
        1u32..6,
    );
    runner
        .run(&strategy, |(steps, tail, page)| {
            rt.block_on(async {
                let r = running(None, c.id, holders[0], T0);
                store.start_export_run(&r).await.unwrap();
                let (mut current, mut lease_until, mut resumed) = (0, T0 + Duration::minutes(1), 0);
                let mut expected: Vec<Vec<u8>> = Vec::new();
                for step in &steps {
                    match step {
                        Step::Checkpoint(h, bytes) => {
                            let ok = checkpoint(store, r.id, holders[*h], bytes, 1).await;
                            prop_assert_eq!(ok, *h == current);
                            if ok && !bytes.is_empty() {
                                expected.push(bytes.clone());
                            }
                        }
                        Step::TakeOver(h, expired) => {
                            let at = if *expired {
                                lease_until
                            } else {
                                lease_until - Duration::seconds(1)
                            };
                            let taken = store
                                .take_over_export_run(
                                    r.id,
                                    holders[*h],
                                    at,
                                    at + Duration::minutes(1),
                                )
                                .await
                                .unwrap();
                            prop_assert_eq!(taken.is_some(), *expired || *h == current);
                            if taken.is_some() {
                                current = *h;
                                lease_until = at + Duration::minutes(1);
                                resumed += 1;
                            }
                        }
                    }
                }
                let stale = (current + 1) % holders.len();
                let mut done = finish(RunState::Succeeded, T0);
                done.tail = tail.clone();
                prop_assert!(
                    !store
                        .finish_export_run(r.id, holders[stale], &done)
                        .await
                        .unwrap()
                );
                prop_assert!(
                    store
                        .finish_export_run(r.id, holders[current], &done)
                        .await
                        .unwrap()
                );
                if !tail.is_empty() {
                    expected.push(tail.clone());
                }
                let mut read: Vec<(u64, Vec<u8>)> = Vec::new();
                loop {
                    let after = read.last().map(|(seq, _)| *seq);
                    let chunk = store.export_run_output(r.id, after, page).await.unwrap();
                    prop_assert!(chunk.len() <= page as usize);
                    if chunk.is_empty() {
                        break;
                    }
                    read.extend(chunk);
                }
                let seqs: Vec<u64> = read.iter().map(|(s, _)| *s).collect();
                let numbered: Vec<u64> = (1..=expected.len() as u64).collect();
                prop_assert_eq!(seqs, numbered);
                let chunks: Vec<Vec<u8>> = read.into_iter().map(|(_, b)| b).collect();
                prop_assert_eq!(&chunks, &expected);
                let record = run(store, r.id).await;
                prop_assert_eq!(record.output_chunks, expected.len() as u64);
                prop_assert_eq!(
                    record.output_bytes,
                    expected.iter().map(Vec::len).sum::<usize>() as u64
                );
                prop_assert_eq!(record.resumed, resumed);
                Ok::<(), TestCaseError>(())
            })
        })
        .unwrap();
}

#[test]
fn output_is_exactly_what_the_holders_wrote_sqlite() {
    output_is_exactly_what_the_holders_wrote(false);
}

#[test]
fn output_is_exactly_what_the_holders_wrote_postgres() {
    output_is_exactly_what_the_holders_wrote(true);
}
