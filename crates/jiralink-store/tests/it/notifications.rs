//! Subscriptions, last known states, waiting changes, messages and the webhook.

use jiralink_domain::{AuditAction, ResourceKind};
use jiralink_store::{
    DeliveryUpdate, EventRecord, NotificationRecord, SecretField, SecretOwner, StateReport,
    StoreError, SubscriptionRecord, UserRecord, WebhookRecord,
};
use jiralink_vault::MasterKey;
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::contract::{audit, sealed};

crate::on_both_backends! {
    subscriptions_round_trip: super::subscriptions_round_trip,
    only_changes_of_state_queue_events: super::only_changes_of_state_queue_events,
    events_become_messages_once: super::events_become_messages_once,
    history_pages_newest_first_and_deliveries_are_recorded_once: super::history_pages_newest_first_and_deliveries_are_recorded_once,
    the_webhook_and_its_secret_are_set_and_removed_together: super::the_webhook_and_its_secret_are_set_and_removed_together,
}

const T0: OffsetDateTime = datetime!(2026-03-01 00:00 UTC);

async fn user(store: &dyn jiralink_store::Store, name: &str) -> UserRecord {
    let u = UserRecord {
        id: Uuid::new_v4(),
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        is_admin: false,
        created_at: T0,
        updated_at: T0,
        version: 1,
    };
    store
        .insert_user(&u, &audit(ResourceKind::User, u.id, AuditAction::Create, 0))
        .await
        .unwrap();
    u
}

fn subscription(user: Uuid, topic: &str, subject: Option<&str>) -> SubscriptionRecord {
    SubscriptionRecord {
        id: Uuid::new_v4(),
        user_id: user,
        topic: topic.to_owned(),
        subject_kind: subject.map_or("", |_| "connection").to_owned(),
        subject_id: subject.unwrap_or("").to_owned(),
        channel: "email".to_owned(),
        address: "ops@example.com".to_owned(),
        created_at: T0,
    }
}

fn event(user: Uuid, address: &str, subject: &str, at: OffsetDateTime) -> EventRecord {
    EventRecord {
        id: Uuid::new_v4(),
        user_id: user,
        channel: "email".to_owned(),
        address: address.to_owned(),
        topic: "connection.offline".to_owned(),
        subject_kind: "connection".to_owned(),
        subject_id: subject.to_owned(),
        subject_name: format!("Jira {subject}"),
        state: "trouble".to_owned(),
        detail: Some("HTTP 401".to_owned()),
        link: format!("http://127.0.0.1:8080/connections/{subject}"),
        at,
    }
}

fn message(user: Uuid, at: OffsetDateTime) -> NotificationRecord {
    NotificationRecord {
        id: Uuid::new_v4(),
        user_id: user,
        channel: "email".to_owned(),
        address: "ops@example.com".to_owned(),
        title: "Jira is offline".to_owned(),
        body: "…".to_owned(),
        events: json!([{"topic": "connection.offline"}]),
        state: "pending".to_owned(),
        attempts: 0,
        last_error: None,
        next_attempt_at: Some(at),
        created_at: at,
        sent_at: None,
    }
}

fn report<'a>(subject: &'a str, state: &'a str, at: OffsetDateTime) -> StateReport<'a> {
    StateReport {
        topic: "connection.offline",
        subject_kind: "connection",
        subject_id: subject,
        state,
        detail: (state == "trouble").then_some("HTTP 401"),
        at,
    }
}

pub(crate) async fn subscriptions_round_trip(db: &crate::TestDb) {
    let store = db.store();
    let ann = user(store, "ann").await;
    let bob = user(store, "bob").await;
    let every = subscription(ann.id, "connection.offline", None);
    let one = SubscriptionRecord {
        created_at: T0 + Duration::minutes(1),
        ..subscription(bob.id, "connection.offline", Some("c1"))
    };
    let other = SubscriptionRecord {
        created_at: T0 + Duration::minutes(2),
        ..subscription(bob.id, "run.failed", None)
    };
    for s in [&every, &one, &other] {
        store.insert_subscription(s).await.unwrap();
    }
    let again = SubscriptionRecord {
        id: Uuid::new_v4(),
        ..every.clone()
    };
    assert!(matches!(
        store.insert_subscription(&again).await,
        Err(StoreError::Conflict { .. })
    ));
    let nobody = subscription(Uuid::new_v4(), "run.failed", None);
    assert!(matches!(
        store.insert_subscription(&nobody).await,
        Err(StoreError::NotFound { kind: "user" })
    ));
    assert_eq!(
        store.list_subscriptions(Some(bob.id)).await.unwrap(),
        vec![one.clone(), other.clone()]
    );
    assert_eq!(store.list_subscriptions(None).await.unwrap().len(), 3);
    let for_c1 = store
        .subscriptions_for("connection.offline", "connection", "c1")
        .await
        .unwrap();
    assert_eq!(for_c1, vec![every.clone(), one.clone()]);
    let for_c2 = store
        .subscriptions_for("connection.offline", "connection", "c2")
        .await
        .unwrap();
    assert_eq!(for_c2, vec![every.clone()]);
    // Only its owner deletes a subscription.
    assert!(matches!(
        store.delete_subscription(one.id, ann.id).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_subscription(one.id, bob.id).await.unwrap();
    assert_eq!(
        store.list_subscriptions(Some(bob.id)).await.unwrap(),
        vec![other]
    );
    // A user's subscriptions go with the user.
    store
        .delete_user(
            ann.id,
            &audit(ResourceKind::User, ann.id, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    assert!(
        store
            .list_subscriptions(Some(ann.id))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn only_changes_of_state_queue_events(db: &crate::TestDb) {
    let store = db.store();
    let ann = user(store, "ann").await;
    // A subject first seen ok is no change.
    let e = [event(ann.id, "a@example.com", "c1", T0)];
    assert_eq!(
        store
            .record_state(&report("c1", "ok", T0), &e)
            .await
            .unwrap(),
        None
    );
    assert!(store.oldest_event().await.unwrap().is_none());
    // ok -> trouble: one change, its events queued.
    assert_eq!(
        store
            .record_state(&report("c1", "trouble", T0), &e)
            .await
            .unwrap(),
        Some("ok".to_owned())
    );
    // The same state reported 100 times more changes nothing.
    for i in 0..100 {
        let again = [event(
            ann.id,
            "a@example.com",
            "c1",
            T0 + Duration::seconds(i),
        )];
        assert_eq!(
            store
                .record_state(&report("c1", "trouble", T0 + Duration::seconds(i)), &again)
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        store.events_for("email", "a@example.com").await.unwrap(),
        e.to_vec()
    );
    // A subject first seen in trouble is a change from ok.
    let e2 = [event(
        ann.id,
        "a@example.com",
        "c2",
        T0 + Duration::minutes(1),
    )];
    assert_eq!(
        store
            .record_state(&report("c2", "trouble", T0 + Duration::minutes(1)), &e2)
            .await
            .unwrap(),
        Some("ok".to_owned())
    );
    // trouble -> ok
    let back = [event(
        ann.id,
        "a@example.com",
        "c1",
        T0 + Duration::minutes(2),
    )];
    assert_eq!(
        store
            .record_state(&report("c1", "ok", T0 + Duration::minutes(2)), &back)
            .await
            .unwrap(),
        Some("trouble".to_owned())
    );
    let states = store.list_states(Some("connection.offline")).await.unwrap();
    assert_eq!(
        states
            .iter()
            .map(|s| (s.2.as_str(), s.3.as_str()))
            .collect::<Vec<_>>(),
        vec![("c1", "ok"), ("c2", "trouble")]
    );
    assert_eq!(store.oldest_event().await.unwrap(), Some(T0));
    assert_eq!(
        store
            .events_for("email", "a@example.com")
            .await
            .unwrap()
            .len(),
        3
    );
}

pub(crate) async fn events_become_messages_once(db: &crate::TestDb) {
    let store = db.store();
    let ann = user(store, "ann").await;
    let a = event(ann.id, "a@example.com", "c1", T0);
    let b = event(ann.id, "b@example.com", "c2", T0 + Duration::minutes(5));
    store
        .record_state(&report("c1", "trouble", T0), std::slice::from_ref(&a))
        .await
        .unwrap();
    store
        .record_state(&report("c2", "trouble", T0), std::slice::from_ref(&b))
        .await
        .unwrap();
    assert_eq!(
        store
            .recipients_due(T0 + Duration::minutes(1))
            .await
            .unwrap(),
        vec![("email".to_owned(), "a@example.com".to_owned())]
    );
    let m = message(ann.id, T0);
    assert!(
        store
            .compose_notifications(&[a.id], std::slice::from_ref(&m))
            .await
            .unwrap()
    );
    // A second dispatcher that read the same changes composes nothing.
    let m2 = message(ann.id, T0);
    assert!(
        !store
            .compose_notifications(&[a.id], std::slice::from_ref(&m2))
            .await
            .unwrap()
    );
    assert!(matches!(
        store.get_notification(m2.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.get_notification(m.id).await.unwrap(), m);
    assert!(
        store
            .events_for("email", "a@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.oldest_event().await.unwrap(), Some(b.at));
}

pub(crate) async fn history_pages_newest_first_and_deliveries_are_recorded_once(
    db: &crate::TestDb,
) {
    let store = db.store();
    let ann = user(store, "ann").await;
    let bob = user(store, "bob").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let m = message(ann.id, T0 + Duration::minutes(i));
        store.insert_notification(&m).await.unwrap();
        ids.push(m.id);
    }
    let theirs = message(bob.id, T0 + Duration::minutes(10));
    store.insert_notification(&theirs).await.unwrap();
    let page = store
        .list_notifications(Some(ann.id), None, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[4], ids[3]]
    );
    let next = store
        .list_notifications(Some(ann.id), Some(ids[3]), 2)
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    assert_eq!(
        store
            .list_notifications(None, None, 100)
            .await
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        store.list_notifications(None, None, 1).await.unwrap()[0].id,
        theirs.id
    );

    let due = store
        .due_notifications(T0 + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[0], ids[1]]
    );
    assert_eq!(store.next_notification_due().await.unwrap(), Some(T0));
    let retry = DeliveryUpdate {
        state: "pending".to_owned(),
        attempts: 1,
        last_error: Some("HTTP 500".to_owned()),
        next_attempt_at: Some(T0 + Duration::hours(1)),
        sent_at: None,
    };
    assert!(store.record_delivery(ids[0], 0, &retry).await.unwrap());
    // Recorded from a stale read: nothing changes.
    assert!(!store.record_delivery(ids[0], 0, &retry).await.unwrap());
    let sent = DeliveryUpdate {
        state: "sent".to_owned(),
        attempts: 2,
        last_error: None,
        next_attempt_at: None,
        sent_at: Some(T0 + Duration::hours(1)),
    };
    assert!(store.record_delivery(ids[0], 1, &sent).await.unwrap());
    assert!(!store.record_delivery(ids[0], 2, &sent).await.unwrap());
    let stored = store.get_notification(ids[0]).await.unwrap();
    assert_eq!((stored.state.as_str(), stored.attempts), ("sent", 2));
    assert_eq!(stored.sent_at, Some(T0 + Duration::hours(1)));
    assert_eq!(
        store.next_notification_due().await.unwrap(),
        Some(T0 + Duration::minutes(1))
    );
}

pub(crate) async fn the_webhook_and_its_secret_are_set_and_removed_together(db: &crate::TestDb) {
    let store = db.store();
    assert_eq!(store.get_webhook().await.unwrap(), None);
    let key = MasterKey::generate();
    let hook = WebhookRecord {
        url: "http://127.0.0.1:9/hook".to_owned(),
        updated_at: T0,
    };
    store
        .set_webhook(
            Some(&hook),
            Some(&sealed(
                &key,
                SecretOwner::NotificationWebhook,
                SecretField::SigningSecret,
                "whsec",
            )),
        )
        .await
        .unwrap();
    assert_eq!(store.get_webhook().await.unwrap(), Some(hook.clone()));
    let secret = store
        .get_secret(SecretOwner::NotificationWebhook, SecretField::SigningSecret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secret.owner, SecretOwner::NotificationWebhook);
    // Key rotation sees it like every other secret.
    assert!(
        store
            .list_secrets()
            .await
            .unwrap()
            .iter()
            .any(|s| s.owner == SecretOwner::NotificationWebhook)
    );
    // A new URL keeps the secret.
    let moved = WebhookRecord {
        url: "http://127.0.0.1:9/other".to_owned(),
        updated_at: T0 + Duration::hours(1),
    };
    store.set_webhook(Some(&moved), None).await.unwrap();
    assert_eq!(store.get_webhook().await.unwrap(), Some(moved));
    assert!(
        store
            .get_secret(SecretOwner::NotificationWebhook, SecretField::SigningSecret)
            .await
            .unwrap()
            .is_some()
    );
    store.set_webhook(None, None).await.unwrap();
    assert_eq!(store.get_webhook().await.unwrap(), None);
    assert!(
        store
            .get_secret(SecretOwner::NotificationWebhook, SecretField::SigningSecret)
            .await
            .unwrap()
            .is_none()
    );
}
