//! Several master keys at once, for rotation.
//!
//! One key is active and seals everything new; the others only open what was sealed with them.
//! Rotating adds a new active key and keeps the old one for opening until every secret has been
//! [resealed](Keyring::reseal) under the new key.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::key::{KeyId, MasterKey};
use crate::seal::{self, Aad, Sealed};

/// The active key plus older (or newer) keys that can still open secrets.
pub struct Keyring {
    active: MasterKey,
    others: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring holding only `active`.
    pub fn new(active: MasterKey) -> Self {
        Self {
            active,
            others: Vec::new(),
        }
    }

    /// Adds a key that may open secrets but does not seal. A key already held is ignored.
    pub fn add(&mut self, key: MasterKey) {
        if !self.has_key(key.id()) {
            self.others.push(key);
        }
    }

    /// Makes `new_active` the sealing key; the previous active key stays for opening.
    pub fn rotate(&mut self, new_active: MasterKey) {
        if new_active.id() == self.active.id() {
            return;
        }
        self.others.retain(|k| k.id() != new_active.id());
        let previous = std::mem::replace(&mut self.active, new_active);
        self.others.push(previous);
    }

    /// Id of the key that seals.
    pub fn active_id(&self) -> &KeyId {
        self.active.id()
    }

    /// Whether a key with this id is held, active or not.
    pub fn has_key(&self, id: &KeyId) -> bool {
        self.find(id).is_some()
    }

    /// Ids of all keys held, the active one first.
    /// Every key held, the active one first.
    pub fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.active).chain(self.others.iter())
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        std::iter::once(&self.active)
            .chain(&self.others)
            .map(MasterKey::id)
    }

    /// Seals with the active key.
    pub fn seal(&self, plaintext: &[u8], aad: &Aad<'_>) -> Result<Sealed, VaultError> {
        seal::seal(&self.active, plaintext, aad)
    }

    /// Opens with whichever key `sealed` names, or [`VaultError::UnknownKey`].
    pub fn open(&self, sealed: &Sealed, aad: &Aad<'_>) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self.find(sealed.key_id()).ok_or(VaultError::UnknownKey {
            key_id: *sealed.key_id(),
        })?;
        seal::open(key, sealed, aad)
    }

    /// [`Keyring::open`], for secrets that are text.
    pub fn open_string(
        &self,
        sealed: &Sealed,
        aad: &Aad<'_>,
    ) -> Result<Zeroizing<String>, VaultError> {
        seal::into_string(self.open(sealed, aad)?)
    }

    /// Opens with any held key and seals again with the active key. Always a new nonce, even if
    /// `sealed` already uses the active key, so the result never repeats the input.
    pub fn reseal(&self, sealed: &Sealed, aad: &Aad<'_>) -> Result<Sealed, VaultError> {
        let plaintext = self.open(sealed, aad)?;
        self.seal(&plaintext, aad)
    }

    /// Whether `sealed` was made with a key other than the active one.
    pub fn needs_reseal(&self, sealed: &Sealed) -> bool {
        sealed.key_id() != self.active.id()
    }

    fn find(&self, id: &KeyId) -> Option<&MasterKey> {
        std::iter::once(&self.active)
            .chain(&self.others)
            .find(|k| k.id() == id)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let others: Vec<&KeyId> = self.others.iter().map(MasterKey::id).collect();
        f.debug_struct("Keyring")
            .field("active", self.active.id())
            .field("others", &others)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AAD: Aad<'static> = Aad {
        record_kind: "connection",
        record_id: "c-1",
        field: "refresh_token",
    };

    #[test]
    fn rotate_keeps_old_key_for_opening() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let (old_id, new_id) = (*old.id(), *new.id());
        let mut ring = Keyring::new(old);
        let sealed = ring.seal(b"value", &AAD).unwrap();
        ring.rotate(new);
        assert_eq!(ring.active_id(), &new_id);
        assert!(ring.has_key(&old_id));
        assert!(ring.needs_reseal(&sealed));
        assert_eq!(ring.open(&sealed, &AAD).unwrap().as_slice(), b"value");
        let ids: Vec<KeyId> = ring.key_ids().copied().collect();
        assert_eq!(ids, vec![new_id, old_id]);
    }

    #[test]
    fn rotate_to_a_held_key_does_not_duplicate_it() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        let (a_id, b_id) = (*a.id(), *b.id());
        let mut ring = Keyring::new(a);
        ring.add(b.duplicate());
        ring.rotate(b);
        assert_eq!(ring.key_ids().count(), 2);
        assert_eq!(ring.active_id(), &b_id);
        ring.rotate(ring_key_copy(&ring, &b_id));
        assert_eq!(
            ring.key_ids().copied().collect::<Vec<_>>(),
            vec![b_id, a_id]
        );
    }

    fn ring_key_copy(ring: &Keyring, id: &KeyId) -> MasterKey {
        ring.find(id).map(MasterKey::duplicate).unwrap()
    }

    #[test]
    fn add_ignores_keys_already_held() {
        let a = MasterKey::generate();
        let mut ring = Keyring::new(a.duplicate());
        ring.add(a.duplicate());
        let b = MasterKey::generate();
        ring.add(b.duplicate());
        ring.add(b);
        assert_eq!(ring.key_ids().count(), 2);
    }

    #[test]
    fn debug_lists_ids_only() {
        let a = MasterKey::generate();
        let b = MasterKey::generate();
        let expected = format!(
            "Keyring {{ active: KeyId({}), others: [KeyId({})] }}",
            a.id(),
            b.id()
        );
        let secrets = [a.encode(), b.encode()];
        let mut ring = Keyring::new(a);
        ring.add(b);
        let debug = format!("{ring:?}");
        assert_eq!(debug, expected);
        for s in &secrets {
            assert!(!debug.contains(&s[..8]));
        }
    }
}
