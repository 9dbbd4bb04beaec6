//! Sealed secrets as the vault stores them (`enc:v1:<kid>:<payload>`), and master keys as a
//! key file or the environment gives them.
//!
//! Invariants: nothing panics; text the parser accepts is exactly what `to_text` writes (one
//! spelling per sealed value, so anything non-canonical is refused); seal then open gives the
//! plaintext back, and the same blob does not open for another record or field, another key,
//! or after any one byte of its text changed; an accepted key text gives the key whose
//! `encode` parses back to it; no error repeats the input.
#![no_main]

use arbitrary::Arbitrary;
use jiralink_fuzz::{Seed, seed};
use jiralink_vault::{Aad, MasterKey, Sealed, VaultError, open, seal};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Input {
    /// Stored text, as read back from the database.
    Text(String),
    /// A secret sealed for one record, then perhaps changed in one byte of its text.
    Seal {
        key: [u8; 32],
        plaintext: Vec<u8>,
        record_id: String,
        field: String,
        flip: Option<(usize, u8)>,
    },
    /// A master key's text.
    Key(String),
}

fuzz_target!(|data: &[u8]| {
    match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            check(if kind % 2 == 0 {
                Input::Text(text)
            } else {
                Input::Key(text)
            });
        }
        Some(Seed::Structured(input)) => check(input),
        None => {}
    }
});

fn check(input: Input) {
    match input {
        Input::Text(text) => {
            if let Ok(sealed) = Sealed::parse(&text) {
                assert_eq!(sealed.to_text(), text, "a non-canonical blob accepted");
                let key = MasterKey::from_bytes([7; 32]);
                let aad = Aad::new("connection", "id", "api_token");
                // Opening a blob nobody sealed must fail cleanly, whatever its key id says.
                assert!(open(&key, &sealed, &aad).is_err());
            }
        }
        Input::Seal {
            key,
            plaintext,
            record_id,
            field,
            flip,
        } => {
            let mut other = key;
            other[0] ^= 1;
            let key = MasterKey::from_bytes(key);
            let aad = Aad::new("connection", &record_id, &field);
            let sealed = match seal(&key, &plaintext, &aad) {
                Ok(sealed) => sealed,
                Err(VaultError::InvalidAad(_)) => {
                    assert!(record_id.contains('|') || field.contains('|'));
                    return;
                }
                Err(e) => panic!("sealing failed: {e}"),
            };
            let text = sealed.to_text();
            let parsed = Sealed::parse(&text).expect("a sealed text parses");
            assert_eq!(parsed, sealed);
            assert_eq!(parsed.plaintext_len(), plaintext.len());
            let opened = open(&key, &parsed, &aad).expect("a sealed secret opens");
            assert_eq!(opened.as_slice(), plaintext.as_slice());

            let elsewhere = format!("{field}2");
            assert!(
                open(
                    &key,
                    &parsed,
                    &Aad::new("connection", &record_id, &elsewhere)
                )
                .is_err()
            );
            assert!(open(&MasterKey::from_bytes(other), &parsed, &aad).is_err());

            if let Some((at, xor)) = flip {
                let mut bytes = text.clone().into_bytes();
                let at = at % bytes.len();
                let xor = if xor == 0 { 1 } else { xor };
                bytes[at] ^= xor;
                if let Ok(changed) = String::from_utf8(bytes) {
                    let opened = Sealed::parse(&changed).and_then(|s| open(&key, &s, &aad));
                    assert!(opened.is_err(), "a changed blob opened: {changed}");
                }
            }
        }
        Input::Key(text) => match MasterKey::parse(&text) {
            Ok(key) => {
                let again = MasterKey::parse(&key.encode()).expect("an encoded key parses");
                assert_eq!(again.id(), key.id());
            }
            Err(e) => {
                let shown = format!("{e} {e:?}");
                if text.contains("CANARY") {
                    assert!(
                        !shown.contains("CANARY"),
                        "the error repeats the key text: {shown}"
                    );
                }
            }
        },
    }
}
