//! The per-connection concurrency limit.
//!
//! Every request of a connection holds a permit of that connection's [`Limiter`] while it is
//! on the wire (not while it waits to retry). A [`ConcurrencyRegistry`] (one per application)
//! hands out one limiter per connection id, so everything using a connection at once shares
//! the connection's budget (its "concurrency level", 1–50, default 10).
//!
//! Changing the level resizes the limiter in place: growing adds permits at once; shrinking
//! removes free permits at once and retires busy ones as they are returned, so the number in
//! flight never exceeds the new level once the requests already running finish.
//!
//! Several processes sharing a connection (servers on one database) hold the level together
//! through [`SharedSlots`]: after its local permit, a request also takes one of the
//! connection's slots there, and gives it back with the permit.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use futures::future::BoxFuture;
use jiralink_domain::{ConcurrencyLevel, ConnectionId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection's slots held across processes. [`SharedSlots::acquire`] waits for one below
/// `level`; the slot is given back when the returned value is dropped.
pub trait SharedSlots: Send + Sync + fmt::Debug {
    /// Waits for a slot.
    fn acquire(&self, level: u8) -> BoxFuture<'_, Box<dyn SlotGuard>>;
}

/// A slot held; dropping it gives it back.
pub trait SlotGuard: Send + Sync + fmt::Debug {}

/// Limits how many requests of one connection are in flight.
pub struct Limiter {
    semaphore: Arc<Semaphore>,
    state: Mutex<LimitState>,
    shared: Option<Arc<dyn SharedSlots>>,
}

#[derive(Debug)]
struct LimitState {
    level: u8,
    /// Permits still to retire after a shrink, taken from those returned.
    debt: u32,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("level", &self.level())
            .field("available", &self.semaphore.available_permits())
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl Limiter {
    /// A limiter allowing `level` requests at once in this process.
    #[must_use]
    pub fn new(level: ConcurrencyLevel) -> Arc<Self> {
        Self::with_shared(level, None)
    }

    /// A limiter allowing `level` requests at once, in this process and, with `shared`,
    /// across every process holding slots there.
    #[must_use]
    pub fn with_shared(level: ConcurrencyLevel, shared: Option<Arc<dyn SharedSlots>>) -> Arc<Self> {
        Arc::new(Self {
            semaphore: Arc::new(Semaphore::new(usize::from(level.get()))),
            state: Mutex::new(LimitState {
                level: level.get(),
                debt: 0,
            }),
            shared,
        })
    }

    /// The current level.
    #[must_use]
    pub fn level(&self) -> u8 {
        self.lock().level
    }

    /// Changes the level.
    pub fn resize(&self, level: ConcurrencyLevel) {
        let mut state = self.lock();
        let new = u32::from(level.get());
        let old = u32::from(state.level);
        if new > old {
            let mut grow = new - old;
            // Cancel pending retirements before adding permits.
            let cancelled = grow.min(state.debt);
            state.debt -= cancelled;
            grow -= cancelled;
            self.semaphore.add_permits(grow as usize);
        } else if new < old {
            let shrink = old - new;
            let forgotten =
                u32::try_from(self.semaphore.forget_permits(shrink as usize)).unwrap_or(shrink);
            state.debt += shrink - forgotten.min(shrink);
        }
        state.level = level.get();
    }

    /// Waits for a free slot: this process's first, then the shared one.
    pub async fn acquire(self: &Arc<Self>) -> LimitPermit {
        let permit = Arc::clone(&self.semaphore).acquire_owned().await;
        let slot = match &self.shared {
            Some(shared) => Some(shared.acquire(self.level()).await),
            None => None,
        };
        LimitPermit {
            permit: permit.ok(),
            slot,
            limiter: Arc::clone(self),
        }
    }

    /// Free slots right now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        // Two counters updated together under the lock; a panic cannot leave them half-set.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A slot held while a request is in flight.
pub struct LimitPermit {
    permit: Option<OwnedSemaphorePermit>,
    /// Given back (dropped) before the local permit, so a waiting request of this process
    /// finds it free.
    slot: Option<Box<dyn SlotGuard>>,
    limiter: Arc<Limiter>,
}

impl fmt::Debug for LimitPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LimitPermit")
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        drop(self.slot.take());
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.limiter.lock();
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        }
    }
}

/// Makes the [`SharedSlots`] of a connection.
pub type SharedSlotsFactory = Arc<dyn Fn(ConnectionId) -> Arc<dyn SharedSlots> + Send + Sync>;

/// One limiter per connection, for everything an application does with it. The application
/// owns it (there is no process-wide one): its connections and their shared slots are its own.
#[derive(Default)]
pub struct ConcurrencyRegistry {
    limiters: Mutex<HashMap<ConnectionId, Arc<Limiter>>>,
    shared: Option<SharedSlotsFactory>,
}

impl fmt::Debug for ConcurrencyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        write!(f, "ConcurrencyRegistry({count} connections)")
    }
}

impl ConcurrencyRegistry {
    /// A registry whose limiters also hold the slots `shared` makes for each connection.
    #[must_use]
    pub fn with_shared(shared: SharedSlotsFactory) -> Self {
        Self {
            limiters: Mutex::default(),
            shared: Some(shared),
        }
    }

    /// The limiter of `connection`, created at `level` or resized to it.
    pub fn limiter(&self, connection: ConnectionId, level: ConcurrencyLevel) -> Arc<Limiter> {
        let mut map = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = &self.shared;
        let limiter = map
            .entry(connection)
            .or_insert_with(|| Limiter::with_shared(level, shared.as_ref().map(|f| f(connection))));
        if limiter.level() != level.get() {
            limiter.resize(level);
        }
        Arc::clone(limiter)
    }

    /// Forgets a deleted connection; requests still holding its limiter finish normally.
    pub fn remove(&self, connection: ConnectionId) {
        self.limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&connection);
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn level(n: u32) -> ConcurrencyLevel {
        ConcurrencyLevel::new(n).unwrap()
    }

    #[tokio::test]
    async fn grows_and_shrinks() {
        let l = Limiter::new(level(2));
        let a = l.acquire().await;
        let b = l.acquire().await;
        assert_eq!(l.available(), 0);
        l.resize(level(3));
        assert_eq!(l.available(), 1);
        l.resize(level(1));
        // One free permit forgotten now, one busy permit retired when returned.
        assert_eq!(l.available(), 0);
        drop(a);
        assert_eq!(l.available(), 0);
        drop(b);
        assert_eq!(l.available(), 1);
        assert_eq!(l.level(), 1);
    }

    #[tokio::test]
    async fn growing_back_cancels_pending_retirements() {
        let l = Limiter::new(level(3));
        let held: Vec<_> = futures::future::join_all((0..3).map(|_| l.acquire())).await;
        l.resize(level(1));
        l.resize(level(2));
        drop(held);
        assert_eq!(l.available(), 2);
    }

    #[test]
    fn registry_shares_and_resizes_per_connection() {
        let reg = ConcurrencyRegistry::default();
        let id = ConnectionId::new();
        let a = reg.limiter(id, level(5));
        let b = reg.limiter(id, level(7));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.level(), 7);
        let other = reg.limiter(ConnectionId::new(), level(5));
        assert!(!Arc::ptr_eq(&a, &other));
        reg.remove(id);
        assert!(!Arc::ptr_eq(&a, &reg.limiter(id, level(7))));
        assert!(format!("{reg:?}").contains("2 connections"));
    }
}
