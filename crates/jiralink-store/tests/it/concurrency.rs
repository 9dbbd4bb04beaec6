//! A connection's concurrency level across servers: numbered slots with leases.

use jiralink_domain::{AuditAction, ResourceKind};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::contract::{audit, basic, create_connection};

crate::on_both_backends! {
    slots_hold_the_level_across_servers: super::slots_hold_the_level_across_servers,
    slots_of_a_dead_server_come_back: super::slots_of_a_dead_server_come_back,
}

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) async fn slots_hold_the_level_across_servers(db: &crate::TestDb) {
    let store = db.store();
    let c = basic("Slotted");
    create_connection(store, &c, &[]).await;
    let until = T0 + Duration::minutes(2);
    // Twelve requests from four servers at once on a level of 3: three get a slot.
    let askers = (0..12).map(|i| async move {
        let store = db.another().await;
        let holder = format!("server-{}", i % 4);
        let slot = store
            .acquire_slot(c.id, 3, &holder, T0, until)
            .await
            .unwrap();
        (holder, slot)
    });
    let results = futures::future::join_all(askers).await;
    let mut taken: Vec<u8> = results.iter().filter_map(|(_, s)| *s).collect();
    taken.sort_unstable();
    assert_eq!(taken, [0, 1, 2], "{results:?}");
    assert_eq!(store.slots_in_use(c.id, T0).await.unwrap(), 3);
    // Giving one back lets the next request through; a holder cannot give back another's.
    let (holder, slot) = results
        .iter()
        .find_map(|(h, s)| s.map(|s| (h.clone(), s)))
        .unwrap();
    store
        .release_slot(c.id, slot, "someone-else")
        .await
        .unwrap();
    assert_eq!(store.slots_in_use(c.id, T0).await.unwrap(), 3);
    store.release_slot(c.id, slot, &holder).await.unwrap();
    assert_eq!(
        store
            .acquire_slot(c.id, 3, "server-9", T0, until)
            .await
            .unwrap(),
        Some(slot)
    );
    assert_eq!(
        store
            .acquire_slot(c.id, 3, "server-9", T0, until)
            .await
            .unwrap(),
        None
    );
    // A higher level opens more slots at once; a lower one hands out none above it.
    assert_eq!(
        store
            .acquire_slot(c.id, 4, "server-9", T0, until)
            .await
            .unwrap(),
        Some(3)
    );
    assert_eq!(
        store
            .acquire_slot(c.id, 2, "server-9", T0, until)
            .await
            .unwrap(),
        None
    );
    // Deleting the connection deletes its slots.
    store
        .delete_connection(
            c.id,
            &audit(ResourceKind::Connection, c.id.0, AuditAction::Delete, 1),
        )
        .await
        .unwrap();
    assert_eq!(store.slots_in_use(c.id, T0).await.unwrap(), 0);
    assert!(
        store
            .acquire_slot(c.id, 3, "server-9", T0, until)
            .await
            .is_err(),
        "no slots for a connection that does not exist"
    );
}

pub(crate) async fn slots_of_a_dead_server_come_back(db: &crate::TestDb) {
    let store = db.store();
    let c = basic("Slots of the dead");
    create_connection(store, &c, &[]).await;
    let until = T0 + Duration::minutes(2);
    for _ in 0..2 {
        assert!(
            store
                .acquire_slot(c.id, 2, "dead", T0, until)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(
        store
            .acquire_slot(c.id, 2, "alive", T0, until)
            .await
            .unwrap(),
        None
    );
    let after = until + Duration::seconds(1);
    assert_eq!(store.slots_in_use(c.id, after).await.unwrap(), 0);
    assert!(
        store
            .acquire_slot(c.id, 2, "alive", after, after + Duration::minutes(2))
            .await
            .unwrap()
            .is_some()
    );
}
