//! Where a delta export continues ([`DeltaCursor`]), where a run resumes ([`Checkpoint`]) and
//! which issues the last run saw ([`KnownIds`]).

use serde::{Deserialize, Serialize};

use crate::error::SyncError;

/// Where the next delta run starts. Stored on the export definition as JSON
/// `{"upperMs": …, "boundary": [["10001", 1767225600000], …]}`.
///
/// The next run reads from `upper_ms − overlap` and leaves out every record whose
/// `(id, updated ms)` is in `boundary`: those were written by the last run already.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaCursor {
    /// The upper bound of the last successful run (epoch ms): it read everything updated up to
    /// here.
    pub upper_ms: i64,
    /// Every record the last run wrote with `updated ≥ upper_ms − overlap`, as `(id, updated ms)`.
    #[serde(default)]
    pub boundary: Vec<(String, i64)>,
}

/// Where a run resumes; opaque to everyone but the engine, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoint(pub serde_json::Value);

/// The ids of the issues a run saw, sorted, kept on the definition for the next run's
/// deletion check. Stored compactly: see [`KnownIds::encode`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownIds {
    ids: Vec<u64>,
}

/// The first byte of an encoded [`KnownIds`].
const KNOWN_IDS_V1: u8 = 1;

impl KnownIds {
    /// The ids, sorted and without repeats.
    #[must_use]
    pub fn new(mut ids: Vec<u64>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        Self { ids }
    }

    /// The ids in ascending order.
    #[must_use]
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// How many ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is known.
    #[must_use]
    pub fn contains(&self, id: u64) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// A version byte, then each id as the LEB128 varint of its difference to the one before.
    /// Issue ids are dense, so a million ids take a little over a megabyte.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.ids.len() * 2);
        out.push(KNOWN_IDS_V1);
        let mut last = 0u64;
        for &id in &self.ids {
            let mut d = id - last;
            last = id;
            loop {
                let byte = (d & 0x7f) as u8;
                d >>= 7;
                if d == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        out
    }

    /// Reads what [`encode`](Self::encode) wrote.
    ///
    /// # Errors
    /// [`SyncError::Decode`] when the bytes are not an encoding of ids.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncError> {
        let bad = |why: &str| SyncError::Decode(format!("the known issue ids: {why}"));
        let (&version, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if version != KNOWN_IDS_V1 {
            return Err(bad("unknown version"));
        }
        let mut ids = Vec::with_capacity(rest.len());
        let mut last = 0u64;
        let mut value = 0u64;
        let mut shift = 0u32;
        for (i, &byte) in rest.iter().enumerate() {
            if shift >= 64 {
                return Err(bad("a number is too long"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if value == 0 && i > 0 && !ids.is_empty() {
                    return Err(bad("ids repeat"));
                }
                last = last
                    .checked_add(value)
                    .ok_or_else(|| bad("an id overflows"))?;
                ids.push(last);
                value = 0;
                shift = 0;
            } else {
                shift += 7;
            }
        }
        if shift != 0 {
            return Err(bad("the last number is cut"));
        }
        Ok(Self { ids })
    }
}

impl FromIterator<u64> for KnownIds {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn cursor_json_has_the_documented_shape() {
        let c = DeltaCursor {
            upper_ms: 5,
            boundary: vec![("10001".into(), 4)],
        };
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(v, json!({"upperMs": 5, "boundary": [["10001", 4]]}));
        let back: DeltaCursor = serde_json::from_value(v).unwrap_or_default();
        assert_eq!(back, c);
    }

    #[test]
    fn known_ids_refuse_garbage() {
        assert!(KnownIds::decode(&[]).is_err());
        assert!(KnownIds::decode(&[9]).is_err());
        assert!(KnownIds::decode(&[1, 0x80]).is_err());
        assert_eq!(KnownIds::decode(&[1]).map(|k| k.len()).ok(), Some(0));
    }

    proptest! {
        #[test]
        fn known_ids_round_trip(ids in proptest::collection::vec(any::<u64>(), 0..200)) {
            let known = KnownIds::new(ids.clone());
            let back = KnownIds::decode(&known.encode());
            prop_assert!(back.is_ok());
            let back = back.unwrap_or_default();
            prop_assert_eq!(&back, &known);
            for id in ids {
                prop_assert!(back.contains(id));
            }
        }
    }
}
