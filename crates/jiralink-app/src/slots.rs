//! Each connection's concurrency level, owned by the application.
//!
//! In one process a connection's requests share one [`Limiter`]. With PostgreSQL, where
//! several servers share the database, each request also holds one of the connection's
//! numbered slots in the database ([`jiralink_store::SlotStore`]), leased for longer than a
//! request may take: the level holds across servers however the load is spread, and a
//! server that dies frees its slots when their lease runs out. The cost is two short writes
//! per request to Jira (take, give back), and a poll when every slot is busy elsewhere.
//! SQLite has one server, so the process's limiter is the whole story there.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use jiralink_atlassian::{ConcurrencyRegistry, Limiter, SharedSlots, SlotGuard};
use jiralink_domain::{Clock, ConcurrencyLevel, ConnectionId};
use jiralink_store::Store;

use crate::App;

/// The first wait when every slot is busy; it doubles up to [`MAX_SLOT_POLL`].
const FIRST_SLOT_POLL: Duration = Duration::from_millis(20);
const MAX_SLOT_POLL: Duration = Duration::from_millis(500);
/// How much longer than the longest request a slot is leased.
const SLOT_LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The connections' limiters of one application.
pub(crate) struct Limits {
    registry: std::sync::OnceLock<ConcurrencyRegistry>,
    shared: bool,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("shared", &self.shared)
            .field("registry", &self.registry.get())
            .finish()
    }
}

impl Limits {
    /// `shared`: hold the level across every process on the database.
    pub(crate) fn new(shared: bool) -> Self {
        Self {
            registry: std::sync::OnceLock::new(),
            shared,
        }
    }
}

impl App {
    fn registry(&self) -> &ConcurrencyRegistry {
        let limits = &self.inner.limits;
        limits.registry.get_or_init(|| {
            if !limits.shared {
                return ConcurrencyRegistry::default();
            }
            let store = self.store_arc();
            let clock = self.clock();
            let holder = self.holder().to_owned();
            let lease = self
                .config()
                .http
                .client_config()
                .map(|c| c.request_timeout)
                .unwrap_or(Duration::from_secs(120))
                + SLOT_LEASE_MARGIN;
            ConcurrencyRegistry::with_shared(Arc::new(move |connection| {
                Arc::new(DbSlots {
                    store: Arc::clone(&store),
                    clock: Arc::clone(&clock),
                    holder: holder.clone(),
                    connection,
                    lease,
                }) as Arc<dyn SharedSlots>
            }))
        })
    }

    /// The limiter every request of the connection goes through, at its current level.
    pub(crate) fn limiter(&self, id: ConnectionId, level: ConcurrencyLevel) -> Arc<Limiter> {
        self.registry().limiter(id, level)
    }

    /// Forgets a deleted connection's limiter.
    pub(crate) fn forget_limiter(&self, id: ConnectionId) {
        self.registry().remove(id);
    }
}

/// A connection's slots in the database.
struct DbSlots {
    store: Arc<dyn Store>,
    /// Reads the time for the leases, and waits between polls.
    clock: Arc<dyn Clock>,
    holder: String,
    connection: ConnectionId,
    lease: Duration,
}

impl std::fmt::Debug for DbSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSlots")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl SharedSlots for DbSlots {
    fn acquire(&self, level: u8) -> BoxFuture<'_, Box<dyn SlotGuard>> {
        Box::pin(async move {
            let mut wait = FIRST_SLOT_POLL;
            loop {
                let now = self.clock.now();
                let until = now + self.lease;
                match self
                    .store
                    .acquire_slot(self.connection, level, &self.holder, now, until)
                    .await
                {
                    Ok(Some(slot)) => {
                        return Box::new(HeldSlot {
                            store: Arc::clone(&self.store),
                            connection: self.connection,
                            slot,
                            holder: self.holder.clone(),
                        }) as Box<dyn SlotGuard>;
                    }
                    Ok(None) => {}
                    // A database that cannot be reached stops every request anyway; waiting
                    // here keeps the level rather than sending requests past it.
                    Err(e) => tracing::warn!(
                        connection = %self.connection,
                        error = %e,
                        "a request slot could not be taken; waiting"
                    ),
                }
                self.clock.sleep(wait).await;
                wait = (wait * 2).min(MAX_SLOT_POLL);
            }
        })
    }
}

/// A slot taken in the database; dropping it gives it back.
struct HeldSlot {
    store: Arc<dyn Store>,
    connection: ConnectionId,
    slot: u8,
    holder: String,
}

impl std::fmt::Debug for HeldSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldSlot")
            .field("connection", &self.connection)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl SlotGuard for HeldSlot {}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        let (store, connection, slot) = (Arc::clone(&self.store), self.connection, self.slot);
        let holder = std::mem::take(&mut self.holder);
        // Dropping cannot wait; the release runs on its own. Should it never run (the process
        // ends first), the lease runs out.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.release_slot(connection, slot, &holder).await {
                    tracing::warn!(%connection, error = %e, "a request slot could not be given back");
                }
            });
        }
    }
}
