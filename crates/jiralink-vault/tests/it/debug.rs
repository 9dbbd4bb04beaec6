use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiralink_vault::{
    AccessToken, ApiToken, ClientSecret, KeyOrigin, Keyring, LoadedKey, MasterKey, OAuthState,
    Password, PkceVerifier, RefreshToken, SecretText, VaultError, seal,
};

use crate::connection_aad;

const CANARY: &str = "CANARY-0f4c2a9e-d41d8cd98f00b204e9800998ecf8427e";

/// Spellings of the key bytes a careless `Debug` might print: base64, hex and `[u8]` Debug.
fn key_spellings(key_bytes: &[u8; 32]) -> Vec<String> {
    vec![
        STANDARD.encode(key_bytes)[..12].to_owned(),
        hex::encode(key_bytes)[..12].to_owned(),
        format!("{:?}", &key_bytes[..4])
            .trim_end_matches(']')
            .to_owned(),
    ]
}

fn assert_clean(debug: &str, forbidden: &[String]) {
    for f in forbidden {
        assert!(!debug.contains(f.as_str()), "{debug} contains {f}");
    }
    assert!(!debug.contains("CANARY"), "{debug}");
}

#[test]
fn debug_of_every_type_hides_keys_and_secrets() {
    // A random key: the counting key's `[0, 1, 2, 3` spelling would also match ordinary text.
    let key_bytes: [u8; 32] = std::array::from_fn(|_| rand::random());
    let key = MasterKey::from_bytes(key_bytes);
    let forbidden = key_spellings(&key_bytes);
    let aad = connection_aad("c-1", "api_token");
    let sealed = seal(&key, CANARY.as_bytes(), &aad).unwrap();
    let mut ring = Keyring::new(key.duplicate());
    ring.add(MasterKey::generate());
    let loaded = LoadedKey {
        key: key.duplicate(),
        origin: KeyOrigin::Created(PathBuf::from("/data/master.key")),
        warnings: vec![],
    };
    let errors = [
        VaultError::DecryptFailed,
        VaultError::UnknownKey { key_id: *key.id() },
        VaultError::KeyMismatch,
        VaultError::InvalidKey("x".to_owned()),
    ];

    let debugs = [
        format!("{key:?}"),
        format!("{:?}", key.id()),
        format!("{ring:?}"),
        format!("{sealed:?}"),
        format!("{loaded:?}"),
        format!("{aad:?}"),
        format!("{errors:?}"),
        format!("{:?}", ApiToken::new(CANARY)),
        format!("{:?}", ClientSecret::new(CANARY)),
        format!("{:?}", AccessToken::new(CANARY)),
        format!("{:?}", RefreshToken::new(CANARY)),
        format!("{:?}", PkceVerifier::new(CANARY)),
        format!("{:?}", OAuthState::new(CANARY)),
        format!("{:?}", Password::new(CANARY)),
        format!("{:?}", SecretText::new(CANARY)),
    ];
    for debug in &debugs {
        assert_clean(debug, &forbidden);
        assert_clean(&debug.to_lowercase(), &forbidden);
    }
    assert!(debugs[0].contains(&key.id().to_string()));
    assert!(debugs[4].contains(&key.id().to_string()));
}

#[test]
fn errors_from_opening_carry_no_plaintext() {
    let key = MasterKey::generate();
    let aad = connection_aad("c-1", "api_token");
    let sealed = seal(&key, CANARY.as_bytes(), &aad).unwrap();
    let wrong = connection_aad("c-2", "api_token");
    let err = jiralink_vault::open(&key, &sealed, &wrong).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("CANARY"));
        assert!(!text.contains(&key.encode()[..12]));
    }
}
