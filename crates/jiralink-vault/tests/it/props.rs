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
