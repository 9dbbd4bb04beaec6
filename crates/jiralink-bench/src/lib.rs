//! What the benchmark binaries share: readings of `/proc` (CPU time, peak memory, load) and
//! the simulator's demo site ([`sim`]).
//! Never a dependency of another crate.

pub mod proc;
pub mod sim;

/// The error every benchmark step may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
