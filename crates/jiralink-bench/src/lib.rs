//! What the benchmark binaries share: readings of `/proc` (CPU time, memory, load), the
//! simulator's sites ([`sim`]) and latency percentiles.
//! Never a dependency of another crate.

pub mod demo_flow;
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

/// The `q` quantile of sorted microseconds, in milliseconds (nearest rank); 0 when empty.
#[must_use]
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[i]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let us: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 0.50), 50.0);
        assert_eq!(percentile_ms(&us, 0.99), 99.0);
        assert_eq!(percentile_ms(&us, 1.0), 100.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn tags_are_short_plain_words() {
        assert!(valid_tag("r1-flow_2"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("a b"));
        assert!(!valid_tag(&"x".repeat(65)));
    }
}
