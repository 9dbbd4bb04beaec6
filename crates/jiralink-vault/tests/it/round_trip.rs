use std::collections::HashSet;

use jiralink_vault::{Aad, MasterKey, Sealed, VaultError, open, open_string, seal};

use crate::{connection_aad, counting_key};

/// Sealed by an independent AES-GCM implementation; must keep opening forever.
const FROZEN: &str = "enc:v1:aa43cf4e9d7472c6:oKGio6Slpqeoqaqrp0w9eRH4evkEIsHjKhyysQrJNz3k0iEY83wq_pBRDQtJETDh6Kbn70ZB";
const FROZEN_AAD: Aad<'static> = Aad {
    record_kind: "connection",
    record_id: "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f",
    field: "api_token",
};

#[test]
fn frozen_text_opens_with_the_public_api() {
    let sealed = Sealed::parse(FROZEN).unwrap();
    assert_eq!(sealed.key_id().to_string(), "aa43cf4e9d7472c6");
    let plain = open_string(&counting_key(), &sealed, &FROZEN_AAD).unwrap();
    assert_eq!(plain.as_str(), "ATATT3xFfGF0-frozen-vector");
    assert_eq!(sealed.to_text(), FROZEN);
}

#[test]
fn round_trip_through_text() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-42", "client_secret");
    let sealed = seal(&key, b"top secret", &aad).unwrap();
    let text = sealed.to_text();
    assert!(text.starts_with(&format!("enc:v1:{}:", key.id())));
    let parsed: Sealed = text.parse().unwrap();
    assert_eq!(parsed, sealed);
    assert_eq!(parsed.to_string(), text);
    assert_eq!(open(&key, &parsed, &aad).unwrap().as_slice(), b"top secret");
    assert_eq!(parsed.plaintext_len(), 10);
}

#[test]
fn sealing_twice_gives_different_text() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-1", "api_token");
    let a = seal(&key, b"same", &aad).unwrap();
    let b = seal(&key, b"same", &aad).unwrap();
    assert_ne!(a.nonce(), b.nonce());
    assert_ne!(a.to_text(), b.to_text());
}

#[test]
fn ten_thousand_seals_have_distinct_nonces() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-1", "access_token");
    let nonces: HashSet<[u8; 12]> = (0..10_000)
        .map(|_| *seal(&key, b"x", &aad).unwrap().nonce())
        .collect();
    assert_eq!(nonces.len(), 10_000);
}

#[test]
fn ciphertext_swapped_between_records_fails() {
    let key = MasterKey::generate();
    let a = connection_aad("conn-a", "api_token");
    let b = connection_aad("conn-b", "api_token");
    let sealed_a = seal(&key, b"token of a", &a).unwrap();
    let sealed_b = seal(&key, b"token of b", &b).unwrap();
    assert!(matches!(
        open(&key, &sealed_a, &b),
        Err(VaultError::DecryptFailed)
    ));
    assert!(matches!(
        open(&key, &sealed_b, &a),
        Err(VaultError::DecryptFailed)
    ));
}

#[test]
fn ciphertext_swapped_between_fields_fails() {
    let key = MasterKey::generate();
    let access = connection_aad("conn-a", "access_token");
    let refresh = connection_aad("conn-a", "refresh_token");
    let sealed = seal(&key, b"access", &access).unwrap();
    assert!(matches!(
        open(&key, &sealed, &refresh),
        Err(VaultError::DecryptFailed)
    ));
    let other_kind = Aad::new("oauth_client", "conn-a", "access_token");
    assert!(matches!(
        open(&key, &sealed, &other_kind),
        Err(VaultError::DecryptFailed)
    ));
}

#[test]
fn wrong_key_fails() {
    let key = MasterKey::generate();
    let other = MasterKey::generate();
    let aad = connection_aad("c", "api_token");
    let sealed = seal(&key, b"v", &aad).unwrap();
    assert!(matches!(
        open(&other, &sealed, &aad),
        Err(VaultError::KeyMismatch)
    ));
}

#[test]
fn short_and_garbage_blobs_are_malformed() {
    let kid = counting_key().id().to_string();
    let mut cases = vec![
        String::new(),
        "enc".to_owned(),
        "enc:".to_owned(),
        "enc:v1".to_owned(),
        "enc:v1:".to_owned(),
        format!("enc:v1:{kid}"),
        format!("enc:v1:{kid}:"),
        format!("enc:v1:{kid}:AAAA"),
        format!("enc:v1:{kid}:{}", "A".repeat(37)),
        format!("enc:v1:{kid}:{}", "!".repeat(60)),
        format!("enc:v1:{kid}:{}", "é".repeat(40)),
        "vault:v1:abc".to_owned(),
        "\u{0}\u{0}\u{0}".to_owned(),
        "enc:v1:ééééééééé:AAAA".to_owned(),
    ];
    // Every prefix of a valid value whose payload is too short for a nonce and tag: the 24
    // characters of "enc:v1:<kid>:" plus fewer than 38 payload characters.
    cases.extend((0..24 + 38).map(|n| FROZEN[..n].to_owned()));
    for case in cases {
        assert!(
            matches!(Sealed::parse(&case), Err(VaultError::MalformedBlob(_))),
            "{case:?}"
        );
    }
}
