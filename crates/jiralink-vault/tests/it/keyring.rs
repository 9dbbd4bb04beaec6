use jiralink_vault::{Keyring, MasterKey, VaultError};

use crate::connection_aad;

#[test]
fn retired_key_still_opens_and_reseal_moves_to_active() {
    let old = MasterKey::generate();
    let old_id = *old.id();
    let aad = connection_aad("c-9", "refresh_token");
    let sealed = Keyring::new(old.duplicate())
        .seal(b"rotating", &aad)
        .unwrap();

    let mut ring = Keyring::new(MasterKey::generate());
    ring.add(old);
    assert!(ring.has_key(&old_id));
    assert_ne!(ring.active_id(), &old_id);
    assert!(ring.needs_reseal(&sealed));
    assert_eq!(ring.open(&sealed, &aad).unwrap().as_slice(), b"rotating");

    let resealed = ring.reseal(&sealed, &aad).unwrap();
    assert_eq!(resealed.key_id(), ring.active_id());
    assert!(!ring.needs_reseal(&resealed));
    assert_eq!(
        ring.open_string(&resealed, &aad).unwrap().as_str(),
        "rotating"
    );

    // The active key alone opens the resealed value.
    let active_only = Keyring::new(MasterKey::generate());
    assert!(matches!(
        active_only.open(&resealed, &aad),
        Err(VaultError::UnknownKey { .. })
    ));
}

#[test]
fn reseal_under_the_active_key_still_changes_the_nonce() {
    let ring = Keyring::new(MasterKey::generate());
    let aad = connection_aad("c-9", "api_token");
    let sealed = ring.seal(b"v", &aad).unwrap();
    let again = ring.reseal(&sealed, &aad).unwrap();
    assert_eq!(again.key_id(), sealed.key_id());
    assert_ne!(again.nonce(), sealed.nonce());
    assert_ne!(again.to_text(), sealed.to_text());
}

#[test]
fn reseal_keeps_the_aad_binding() {
    let ring = Keyring::new(MasterKey::generate());
    let aad = connection_aad("c-9", "api_token");
    let sealed = ring.seal(b"v", &aad).unwrap();
    let other = connection_aad("c-10", "api_token");
    assert!(matches!(
        ring.reseal(&sealed, &other),
        Err(VaultError::DecryptFailed)
    ));
}

#[test]
fn unknown_key_names_the_key_and_how_to_supply_it() {
    let lost = MasterKey::generate();
    let aad = connection_aad("c-9", "api_token");
    let sealed = Keyring::new(lost.duplicate()).seal(b"v", &aad).unwrap();
    let ring = Keyring::new(MasterKey::generate());
    let err = ring.open(&sealed, &aad).unwrap_err();
    assert!(matches!(&err, VaultError::UnknownKey { key_id } if key_id == lost.id()));
    let message = err.to_string();
    assert!(message.contains(&lost.id().to_string()), "{message}");
    for source in [
        "JIRALINK_MASTER_KEY",
        "JIRALINK_MASTER_KEY_FILE",
        "master.key",
    ] {
        assert!(message.contains(source), "{message}");
    }
    assert!(!message.contains(lost.encode().as_str()));
}

#[test]
fn rotation_then_rewrap_leaves_every_secret_on_the_new_key() {
    let mut ring = Keyring::new(MasterKey::generate());
    let ids: Vec<String> = (0..50).map(|i| format!("conn-{i}")).collect();
    let sealed: Vec<_> = ids
        .iter()
        .map(|id| {
            ring.seal(id.as_bytes(), &connection_aad(id, "api_token"))
                .unwrap()
        })
        .collect();
    let old_id = *ring.active_id();
    ring.rotate(MasterKey::generate());
    assert!(ring.has_key(&old_id));
    let rewrapped: Vec<_> = sealed
        .iter()
        .zip(&ids)
        .map(|(s, id)| ring.reseal(s, &connection_aad(id, "api_token")).unwrap())
        .collect();
    for (s, id) in rewrapped.iter().zip(&ids) {
        assert_eq!(s.key_id(), ring.active_id());
        let opened = ring.open(s, &connection_aad(id, "api_token")).unwrap();
        assert_eq!(opened.as_slice(), id.as_bytes());
    }
}
