use std::sync::LazyLock;

use jiralink_vault::{Aad, MasterKey, Sealed, open, seal};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

static KEY: LazyLock<MasterKey> = LazyLock::new(MasterKey::generate);

proptest! {
    #[test]
    fn seal_then_open_returns_the_plaintext(
        plaintext in vec(any::<u8>(), 0..=4096),
        kind in "[a-z_]{1,24}",
        id in "[^|]{0,64}",
        field in "[^|]{0,32}",
    ) {
        let aad = Aad::new(&kind, &id, &field);
        let text = seal(&KEY, &plaintext, &aad).unwrap().to_text();
        let sealed = Sealed::parse(&text).unwrap();
        prop_assert_eq!(sealed.to_text(), text);
        let opened = open(&KEY, &sealed, &aad).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn any_single_byte_change_of_the_text_fails(
        plaintext in vec(any::<u8>(), 0..=256),
        position in any::<Index>(),
        replacement in 0u8..128,
    ) {
        let aad = Aad::new("connection", "c-1", "api_token");
        let text = seal(&KEY, &plaintext, &aad).unwrap().to_text();
        let mut bytes = text.clone().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = if bytes[at] == replacement { replacement ^ 1 } else { replacement };
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert_ne!(&mutated, &text);
        let result = Sealed::parse(&mutated).and_then(|sealed| open(&KEY, &sealed, &aad));
        prop_assert!(result.is_err(), "mutation at {} opened", at);
    }

    #[test]
    fn parse_never_panics_and_accepts_only_canonical_text(
        tail in "[A-Za-z0-9_-]{0,80}",
        kid in "[0-9a-f]{16}",
    ) {
        let text = format!("enc:v1:{kid}:{tail}");
        if let Ok(sealed) = Sealed::parse(&text) {
            prop_assert_eq!(sealed.to_text(), text);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>(), junk in "enc:v1:[ -~]{0,80}") {
        let _ = Sealed::parse(&text);
        let _ = Sealed::parse(&junk);
    }

    #[test]
    fn different_record_ids_do_not_open_each_other(
        plaintext in vec(any::<u8>(), 0..=64),
        a in "[^|]{0,40}",
        b in "[^|]{0,40}",
    ) {
        prop_assume!(a != b);
        let sealed = seal(&KEY, &plaintext, &Aad::new("connection", &a, "api_token")).unwrap();
        prop_assert!(open(&KEY, &sealed, &Aad::new("connection", &b, "api_token")).is_err());
    }
}

/// One way to edit a stored secret.
#[derive(Debug, Clone)]
enum Tampering {
    /// Flip one bit of the decoded payload (nonce, ciphertext or tag).
    FlipPayloadBit(Index, u8),
    /// Flip one bit of the text (prefix, key id, separators, base64 characters).
    FlipTextBit(Index, u8),
    /// Keep only the first bytes of the decoded payload.
    TruncatePayload(Index),
    /// Keep only the first characters of the text.
    TruncateText(Index),
    /// Append bytes to the decoded payload.
    Extend(Vec<u8>),
    /// Give it another key id: the other loaded key's, or one no key has.
    Relabel { loaded: bool, random: [u8; 8] },
    /// Put another record's or field's sealed value in its place.
    Swap { other_id: bool },
}

fn tampering() -> impl Strategy<Value = Tampering> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Tampering::FlipPayloadBit(i, b)),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Tampering::FlipTextBit(i, b)),
        any::<Index>().prop_map(Tampering::TruncatePayload),
        any::<Index>().prop_map(Tampering::TruncateText),
        vec(any::<u8>(), 1..32).prop_map(Tampering::Extend),
        (any::<bool>(), any::<[u8; 8]>())
            .prop_map(|(loaded, random)| Tampering::Relabel { loaded, random }),
        any::<bool>().prop_map(|other_id| Tampering::Swap { other_id }),
    ]
}

static OTHER: LazyLock<MasterKey> = LazyLock::new(MasterKey::generate);

proptest! {
    /// Whatever is done to a stored value, it never opens with the keys of a rotation in
    /// progress (both loaded), and nothing panics: parsing, looking the key up and opening all
    /// fail with an error instead.
    #[test]
    fn random_tamperings_never_open(
        plaintext in vec(any::<u8>(), 0..=512),
        tampering in tampering(),
    ) {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use jiralink_vault::Keyring;

        let mut ring = Keyring::new(KEY.duplicate());
        ring.add(OTHER.duplicate());
        let aad = Aad::new("connection", "c-1", "refresh_token");
        let text = ring.seal(&plaintext, &aad).unwrap().to_text();
        let (head, payload_text) = text.rsplit_once(':').unwrap();
        let payload = URL_SAFE_NO_PAD.decode(payload_text).unwrap();
        let kid = KEY.id().to_string();
        let tampered: Vec<u8> = match &tampering {
            Tampering::FlipPayloadBit(i, bit) => {
                let mut p = payload.clone();
                let at = i.index(p.len());
                p[at] ^= 1 << bit;
                format!("{head}:{}", URL_SAFE_NO_PAD.encode(&p)).into_bytes()
            }
            Tampering::FlipTextBit(i, bit) => {
                let mut t = text.clone().into_bytes();
                let at = i.index(t.len());
                t[at] ^= 1 << bit;
                t
            }
            Tampering::TruncatePayload(i) => {
                let keep = i.index(payload.len());
                format!("{head}:{}", URL_SAFE_NO_PAD.encode(&payload[..keep])).into_bytes()
            }
            Tampering::TruncateText(i) => text.as_bytes()[..i.index(text.len())].to_vec(),
            Tampering::Extend(more) => {
                let mut p = payload.clone();
                p.extend_from_slice(more);
                format!("{head}:{}", URL_SAFE_NO_PAD.encode(&p)).into_bytes()
            }
            Tampering::Relabel { loaded, random } => {
                let other = if *loaded { OTHER.id().to_string() } else { hex::encode(random) };
                prop_assume!(other != kid);
                text.replacen(&kid, &other, 1).into_bytes()
            }
            Tampering::Swap { other_id } => {
                let elsewhere = if *other_id {
                    Aad::new("connection", "c-2", "refresh_token")
                } else {
                    Aad::new("connection", "c-1", "access_token")
                };
                ring.seal(&plaintext, &elsewhere).unwrap().to_text().into_bytes()
            }
        };
        prop_assume!(tampered != text.as_bytes());
        let opened = std::str::from_utf8(&tampered)
            .ok()
            .and_then(|t| Sealed::parse(t).ok())
            .map(|sealed| ring.open(&sealed, &aad));
        prop_assert!(
            !matches!(opened, Some(Ok(_))),
            "{:?} opened", tampering
        );
    }
}
