//! What the benchmark binaries share: readings of `/proc` (CPU time, peak memory, load) and
//! the simulator's demo site ([`sim`]).
//! Never a dependency of another crate.

pub mod proc;
pub mod sim;

/// The error every benchmark step may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether `tag` may name a run (it ends up in labels and JQL): 1–64 letters, digits, `-`, `_`.
#[must_use]
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
