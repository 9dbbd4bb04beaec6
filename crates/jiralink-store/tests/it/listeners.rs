//! Listeners: their definitions, the deliveries they stored, the replay guard and the event
//! times applied per issue.

use jiralink_store::{
    EventStored, JobFinish, JobOutcome, ListenerEvent, ListenerRecord, NewJob, SecretField,
    SecretOwner, Store, StoreError,
};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::flows::stored_flow;

crate::on_both_backends! {
    listeners_round_trip: super::listeners_round_trip,
    listener_names_are_unique_and_edits_need_the_version: super::listener_names_are_unique_and_edits_need_the_version,
    a_flow_fed_by_a_listener_cannot_be_deleted: super::a_flow_fed_by_a_listener_cannot_be_deleted,
    a_delivery_is_stored_once_and_a_replay_is_refused: super::a_delivery_is_stored_once_and_a_replay_is_refused,
    pending_events_come_oldest_first_and_are_finished: super::pending_events_come_oldest_first_and_are_finished,
    applied_times_only_move_forward: super::applied_times_only_move_forward,
    processed_events_and_old_replay_keys_are_pruned: super::processed_events_and_old_replay_keys_are_pruned,
    a_stored_delivery_makes_its_processing_due: super::a_stored_delivery_makes_its_processing_due,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

/// The listener's processing job, due at `at`.
fn process(l: &ListenerRecord, at: OffsetDateTime) -> NewJob {
    NewJob {
        kind: "listeners.process".to_owned(),
        key: format!("listener:{}", l.id),
        payload: json!({ "listenerId": l.id }),
        next_run_at: at,
    }
}

async fn listener(store: &dyn Store, name: &str) -> ListenerRecord {
    let flow = stored_flow(store).await;
    let export = store.get_export(flow.export_id).await.unwrap();
    ListenerRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        connection_id: export.connection_id,
        flow_id: flow.id,
        token: Uuid::new_v4().simple().to_string(),
        mode: "dynamic".to_owned(),
        events: vec![
            "jira:issue_created".to_owned(),
            "jira:issue_updated".to_owned(),
        ],
        jql: Some("project = MKT".to_owned()),
        field_ids: vec!["summary".to_owned()],
        webhook_ids: vec![10000, 10001],
        expires_at: Some(T0 + Duration::days(30)),
        state: "active".to_owned(),
        state_reason: None,
        status: json!({"safetyNet": {"found": 0}}),
        version: 1,
        created_at: T0,
        updated_at: T0,
    }
}

fn event(l: &ListenerRecord, delivery: &str, issue: &str, ms: i64) -> ListenerEvent {
    ListenerEvent {
        listener_id: l.id,
        delivery_id: delivery.to_owned(),
        kind: "jira:issue_updated".to_owned(),
        issue_ids: vec![issue.to_owned()],
        event_ms: ms,
        body: format!(r#"{{"timestamp":{ms}}}"#),
        received_at: T0 + Duration::milliseconds(ms),
        state: "pending".to_owned(),
        flow_run_id: None,
        processed_at: None,
    }
}

pub(crate) async fn listeners_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo issues").await;
    store.insert_listener(&l, &[]).await.unwrap();
    assert_eq!(store.get_listener(l.id).await.unwrap(), l);
    assert_eq!(
        store.find_listener_by_name("DEMO ISSUES").await.unwrap(),
        Some(l.clone())
    );
    assert_eq!(
        store.find_listener_by_token(&l.token).await.unwrap(),
        Some(l.clone())
    );
    assert_eq!(store.find_listener_by_token("nope").await.unwrap(), None);
    assert_eq!(
        store.listeners_of_flow(l.flow_id).await.unwrap(),
        vec![(l.id, l.name.clone())]
    );
    assert_eq!(store.list_listeners().await.unwrap(), vec![l.clone()]);
    store.delete_listener(l.id).await.unwrap();
    assert!(matches!(
        store.get_listener(l.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_listener(l.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn listener_names_are_unique_and_edits_need_the_version(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    let twin = ListenerRecord {
        id: Uuid::new_v4(),
        token: "other".to_owned(),
        name: "DEMO".to_owned(),
        ..l.clone()
    };
    assert!(matches!(
        store.insert_listener(&twin, &[]).await,
        Err(StoreError::Conflict { .. })
    ));
    let edited = ListenerRecord {
        state: "failed".to_owned(),
        state_reason: Some("Jira refused the refresh".to_owned()),
        webhook_ids: vec![],
        expires_at: None,
        updated_at: T0 + Duration::hours(1),
        ..l.clone()
    };
    assert_eq!(store.update_listener(&edited).await.unwrap(), 2);
    assert_eq!(
        store.get_listener(l.id).await.unwrap(),
        ListenerRecord {
            version: 2,
            ..edited.clone()
        }
    );
    // The same edit again carries the old version.
    assert!(matches!(
        store.update_listener(&edited).await,
        Err(StoreError::Changed { .. })
    ));
}

pub(crate) async fn a_flow_fed_by_a_listener_cannot_be_deleted(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    assert!(store.delete_flow(l.flow_id).await.is_err());
    assert!(store.get_flow(l.flow_id).await.is_ok());
    // A listener naming a flow that does not exist is refused.
    let orphan = ListenerRecord {
        id: Uuid::new_v4(),
        name: "Orphan".to_owned(),
        token: "orphan".to_owned(),
        flow_id: Uuid::new_v4(),
        ..l.clone()
    };
    assert!(matches!(
        store.insert_listener(&orphan, &[]).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub(crate) async fn a_delivery_is_stored_once_and_a_replay_is_refused(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    let e = event(&l, "d-1", "10001", 5);
    assert_eq!(
        store
            .store_listener_event(&e, "jti-1", &process(&l, T0))
            .await
            .unwrap(),
        EventStored::New
    );
    // Jira's retry of the same delivery: a new token, the same identifier.
    assert_eq!(
        store
            .store_listener_event(&e, "jti-2", &process(&l, T0))
            .await
            .unwrap(),
        EventStored::Duplicate
    );
    // The same signed request under another identifier.
    let replay = event(&l, "d-2", "10001", 5);
    assert_eq!(
        store
            .store_listener_event(&replay, "jti-1", &process(&l, T0))
            .await
            .unwrap(),
        EventStored::Replayed
    );
    let pending = store.pending_listener_events(l.id, 10).await.unwrap();
    assert_eq!(pending, vec![e]);
    let stats = store.listener_event_stats(l.id).await.unwrap();
    assert_eq!(stats.pending, 1);
    assert_eq!(stats.received, 1);
    assert_eq!(stats.oldest_pending_ms, Some(5));
    assert_eq!(
        stats.oldest_pending_received_at,
        Some(T0 + Duration::milliseconds(5))
    );
    // Deliveries for a listener that is gone are refused.
    let gone = ListenerEvent {
        listener_id: Uuid::new_v4(),
        ..event(&l, "d-3", "10001", 6)
    };
    assert!(
        store
            .store_listener_event(&gone, "jti-3", &process(&l, T0))
            .await
            .is_err()
    );
}

pub(crate) async fn pending_events_come_oldest_first_and_are_finished(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    for (d, ms) in [("c", 30), ("a", 10), ("b", 20)] {
        store
            .store_listener_event(&event(&l, d, "10001", ms), d, &process(&l, T0))
            .await
            .unwrap();
    }
    let order: Vec<String> = store
        .pending_listener_events(l.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.delivery_id)
        .collect();
    assert_eq!(order, vec!["a", "b", "c"]);
    assert_eq!(
        store.pending_listener_events(l.id, 2).await.unwrap().len(),
        2
    );
    let run = Uuid::new_v4();
    let at = T0 + Duration::minutes(1);
    store
        .finish_listener_events(
            l.id,
            &["a".to_owned(), "b".to_owned()],
            "done",
            Some(run),
            at,
        )
        .await
        .unwrap();
    let left = store.pending_listener_events(l.id, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].delivery_id, "c");
    let recent = store.recent_listener_events(l.id, 10).await.unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0].delivery_id, "c", "newest first");
    let a = recent.iter().find(|e| e.delivery_id == "a").unwrap();
    assert_eq!(a.state, "done");
    assert_eq!(a.flow_run_id, Some(run));
    assert_eq!(a.processed_at, Some(at));
    let stats = store.listener_event_stats(l.id).await.unwrap();
    assert_eq!((stats.pending, stats.received), (1, 3));
    assert_eq!(stats.oldest_pending_ms, Some(30));
    assert_eq!(
        stats.oldest_pending_received_at,
        Some(T0 + Duration::milliseconds(30))
    );
    assert_eq!(stats.last_processed_at, Some(at));
    assert_eq!(
        stats.last_received_at,
        Some(T0 + Duration::milliseconds(30))
    );
}

pub(crate) async fn applied_times_only_move_forward(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    store
        .put_listener_applied(l.id, &[("1".to_owned(), 50), ("2".to_owned(), 10)])
        .await
        .unwrap();
    store
        .put_listener_applied(l.id, &[("1".to_owned(), 40), ("2".to_owned(), 20)])
        .await
        .unwrap();
    let applied = store
        .listener_applied(l.id, &["1".to_owned(), "2".to_owned(), "3".to_owned()])
        .await
        .unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(
        applied["1"], 50,
        "an older time does not replace a newer one"
    );
    assert_eq!(applied["2"], 20);
}

pub(crate) async fn processed_events_and_old_replay_keys_are_pruned(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    let secret = crate::contract::sealed(
        &jiralink_vault::MasterKey::generate(),
        SecretOwner::Listener(l.id),
        SecretField::WebhookSecret,
        "listener secret",
    );
    store.insert_listener(&l, &[secret]).await.unwrap();
    assert!(
        store
            .get_secret(SecretOwner::Listener(l.id), SecretField::WebhookSecret)
            .await
            .unwrap()
            .is_some()
    );
    for (d, ms) in [("old-done", 1), ("old-pending", 2)] {
        store
            .store_listener_event(&event(&l, d, "1", ms), d, &process(&l, T0))
            .await
            .unwrap();
    }
    store
        .finish_listener_events(l.id, &["old-done".to_owned()], "done", None, T0)
        .await
        .unwrap();
    let pruned = store
        .prune_listener_events(T0 + Duration::days(2))
        .await
        .unwrap();
    // The processed event and both replay keys; the pending event stays.
    assert_eq!(pruned, 3);
    let left: Vec<String> = store
        .recent_listener_events(l.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.delivery_id)
        .collect();
    assert_eq!(left, vec!["old-pending"]);
    // Deleting the listener deletes its secret.
    store.delete_listener(l.id).await.unwrap();
    assert!(
        store
            .get_secret(SecretOwner::Listener(l.id), SecretField::WebhookSecret)
            .await
            .unwrap()
            .is_none()
    );
}

pub(crate) async fn a_stored_delivery_makes_its_processing_due(db: &crate::TestDb) {
    let store = db.store();
    let l = listener(store, "Demo").await;
    store.insert_listener(&l, &[]).await.unwrap();
    let due = || async { store.list_jobs().await.unwrap()[0].next_run_at };
    let store_at = |d: &'static str, at: OffsetDateTime| {
        let e = event(&l, d, "10001", 5);
        let job = process(&l, at);
        async move { store.store_listener_event(&e, d, &job).await.unwrap() }
    };
    // No job yet: the event brings one, due when asked.
    let t1 = T0 + Duration::minutes(1);
    assert_eq!(store_at("d-1", t1).await, EventStored::New);
    let jobs = store.list_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "listeners.process");
    assert_eq!(jobs[0].payload["listenerId"], l.id.to_string());
    assert_eq!(due().await, t1);
    // Due later (idle): moved forward.
    assert!(
        store
            .reschedule_job(&format!("listener:{}", l.id), T0 + Duration::hours(1))
            .await
            .unwrap()
    );
    let t2 = T0 + Duration::minutes(2);
    assert_eq!(store_at("d-2", t2).await, EventStored::New);
    assert_eq!(due().await, t2);
    // Due sooner already: left alone; a duplicate changes nothing either.
    assert_eq!(
        store_at("d-3", t2 + Duration::minutes(3)).await,
        EventStored::New
    );
    assert_eq!(store_at("d-3", T0).await, EventStored::Duplicate);
    assert_eq!(due().await, t2);
    // Running: asked for again, and the finishing run keeps the sooner time.
    let now = t2 + Duration::minutes(4);
    let claimed = store
        .claim_job(&["listeners.process"], "h", now, now + Duration::minutes(1))
        .await
        .unwrap()
        .unwrap();
    let during = now + Duration::seconds(10);
    assert_eq!(store_at("d-4", during).await, EventStored::New);
    let finish = JobFinish {
        outcome: JobOutcome::Succeeded,
        detail: None,
        at: during,
        next_run_at: Some(now + Duration::minutes(1)),
        forget_runs_before: T0,
    };
    assert!(store.finish_job(&claimed, "h", &finish).await.unwrap());
    assert_eq!(due().await, during);
    assert_eq!(
        store.pending_listener_events(l.id, 10).await.unwrap().len(),
        4
    );
}
