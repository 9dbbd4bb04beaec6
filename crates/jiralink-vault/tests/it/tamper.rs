use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiralink_vault::{Keyring, MasterKey, Sealed, VaultError, open, seal};

use crate::connection_aad;

/// The text with its payload replaced by `payload`.
fn with_payload(text: &str, payload: &[u8]) -> String {
    let head = text.rsplit_once(':').map_or(text, |(head, _)| head);
    format!("{head}:{}", URL_SAFE_NO_PAD.encode(payload))
}

fn payload_of(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let payload = text.rsplit_once(':').map_or("", |(_, payload)| payload);
    URL_SAFE_NO_PAD.decode(payload)
}

#[test]
fn every_bit_of_nonce_ciphertext_and_tag_is_authenticated() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-7", "api_token");
    let text = seal(&key, b"ATATT-secret-value", &aad).unwrap().to_text();
    let payload = payload_of(&text).unwrap();
    // nonce 12 + ciphertext 18 + tag 16
    assert_eq!(payload.len(), 12 + 18 + 16);
    let mut checked = 0;
    for byte in 0..payload.len() {
        for bit in 0..8 {
            let mut flipped = payload.clone();
            flipped[byte] ^= 1 << bit;
            let sealed = Sealed::parse(&with_payload(&text, &flipped)).unwrap();
            assert!(
                matches!(open(&key, &sealed, &aad), Err(VaultError::DecryptFailed)),
                "byte {byte} bit {bit}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, payload.len() * 8);
}

#[test]
fn every_bit_of_the_key_id_is_checked() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-7", "api_token");
    let sealed = seal(&key, b"secret", &aad).unwrap();
    let text = sealed.to_text();
    let ring = Keyring::new(key.duplicate());
    let kid = key.id().to_bytes();
    for byte in 0..kid.len() {
        for bit in 0..8 {
            let mut flipped = kid;
            flipped[byte] ^= 1 << bit;
            let edited = text.replacen(&hex::encode(kid), &hex::encode(flipped), 1);
            let sealed = Sealed::parse(&edited).unwrap();
            assert!(matches!(
                open(&key, &sealed, &aad),
                Err(VaultError::KeyMismatch)
            ));
            assert!(matches!(
                ring.open(&sealed, &aad),
                Err(VaultError::UnknownKey { key_id }) if key_id.to_bytes() == flipped
            ));
        }
    }
}

#[test]
fn moved_to_another_keys_id_fails() {
    // Relabel a secret with the id of another loaded key: the keyring then picks that key,
    // which must not open it.
    let a = MasterKey::generate();
    let b = MasterKey::generate();
    let aad = connection_aad("c-7", "api_token");
    let text = seal(&a, b"secret", &aad).unwrap().to_text();
    let edited = text.replacen(&a.id().to_string(), &b.id().to_string(), 1);
    let mut ring = Keyring::new(a);
    ring.add(b);
    let sealed = Sealed::parse(&edited).unwrap();
    assert!(matches!(
        ring.open(&sealed, &aad),
        Err(VaultError::DecryptFailed)
    ));
}

#[test]
fn truncated_and_extended_payloads_fail() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-7", "api_token");
    let text = seal(&key, b"secret", &aad).unwrap().to_text();
    let payload = payload_of(&text).unwrap();
    for len in 0..payload.len() {
        let result = Sealed::parse(&with_payload(&text, &payload[..len]))
            .and_then(|sealed| open(&key, &sealed, &aad));
        match result {
            Err(VaultError::MalformedBlob(_)) => assert!(len < 28, "len {len}"),
            Err(VaultError::DecryptFailed) => assert!(len >= 28, "len {len}"),
            other => panic!("len {len}: {other:?}"),
        }
    }
    let mut longer = payload.clone();
    longer.push(0);
    let sealed = Sealed::parse(&with_payload(&text, &longer)).unwrap();
    assert!(matches!(
        open(&key, &sealed, &aad),
        Err(VaultError::DecryptFailed)
    ));
}
