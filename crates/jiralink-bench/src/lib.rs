//! What the benchmark binaries share: readings of `/proc` (CPU time, peak memory, load).
//! Never a dependency of another crate.

pub mod proc;

/// The error every benchmark step may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
