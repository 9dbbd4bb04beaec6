//! Webhook deliveries: the bearer JWT of a dynamic webhook, the `X-Hub-Signature` of an admin
//! webhook, and the event in the body.
//!
//! Invariants: nothing panics; a token signed with the secret over valid claims is accepted
//! with exactly those claims, and changing any one byte of it gets it refused; whatever is
//! accepted satisfies every documented claim rule; a signature header is accepted only in its
//! one spelling, the lowercase hex HMAC of the exact body; an accepted event has the ids its
//! kind needs, all decimal, each once; no error repeats the body.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jiralink_atlassian::{
    MAX_TOKEN_LEN, WebhookEvent, WebhookEventKind, WebhookPayloadError, verify_hub_signature,
    verify_jwt,
};
use jiralink_fuzz::{Seed, seed};
use jiralink_vault::ClientSecret;
use libfuzzer_sys::fuzz_target;
use ring::hmac;
use serde_json::json;
use time::{OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-01-05 09:30 UTC);
const LEEWAY: Duration = Duration::from_secs(30);
const ISSUER: &str = "3f1e9a7c-cloud-id";
const AUDIENCE: &str = "app-client-id";
const MAX_BODY: usize = 64 * 1024;
const CANARY: &[u8] = b"CANARY";

#[derive(Debug, Arbitrary)]
enum Input {
    /// Anything at all, as a request could carry it.
    Raw {
        token: String,
        secret: String,
        body: Vec<u8>,
        signature: Option<String>,
    },
    /// A token signed as Jira signs one, then perhaps changed in one byte.
    Signed {
        secret: String,
        other_audiences: Vec<String>,
        audience_list: bool,
        issued_secs_ago: u16,
        expires_in_secs: u16,
        jti: String,
        flip: Option<(usize, u8)>,
    },
    /// A body signed as Jira signs one, then perhaps changed in one byte of the header.
    Hub {
        secret: Vec<u8>,
        body: Vec<u8>,
        flip: Option<(usize, u8)>,
    },
    /// An event body, read with a limit.
    Payload { body: Vec<u8>, max_len: u16 },
}

fuzz_target!(|data: &[u8]| {
    match seed::<Input>(data) {
        Some(Seed::Raw { kind, bytes }) => check(if kind % 2 == 0 {
            Input::Payload {
                body: bytes.to_vec(),
                max_len: u16::MAX,
            }
        } else {
            Input::Raw {
                token: String::from_utf8_lossy(bytes).into_owned(),
                secret: "webhook-secret".into(),
                body: bytes.to_vec(),
                signature: None,
            }
        }),
        Some(Seed::Structured(input)) => check(input),
        None => {}
    }
});

fn check(input: Input) {
    match input {
        Input::Raw {
            token,
            secret,
            body,
            signature,
        } => {
            if let Ok(claims) = verify_jwt(
                &token,
                &ClientSecret::new(secret),
                ISSUER,
                AUDIENCE,
                NOW,
                LEEWAY,
            ) {
                assert!(claims.exp + LEEWAY >= NOW, "expired token accepted");
                assert!(claims.iat <= NOW + LEEWAY, "future token accepted");
                assert_eq!(claims.iss, ISSUER);
                assert!(claims.aud.iter().any(|a| a == AUDIENCE));
                assert!(!claims.jti.is_empty());
            }
            let _ = verify_hub_signature(&body, signature.as_deref(), b"webhook-secret");
            decode(&body, MAX_BODY);
        }
        Input::Signed {
            secret,
            other_audiences,
            audience_list,
            issued_secs_ago,
            expires_in_secs,
            jti,
            flip,
        } => signed(
            &secret,
            &other_audiences,
            audience_list,
            issued_secs_ago,
            expires_in_secs,
            &jti,
            flip,
        ),
        Input::Hub { secret, body, flip } => hub(&secret, &body, flip),
        Input::Payload { body, max_len } => decode(&body, usize::from(max_len)),
    }
}

fn signed(
    secret: &str,
    other_audiences: &[String],
    audience_list: bool,
    issued_secs_ago: u16,
    expires_in_secs: u16,
    jti: &str,
    flip: Option<(usize, u8)>,
) {
    if secret.is_empty() || jti.is_empty() {
        return;
    }
    let iat = NOW.unix_timestamp() - i64::from(issued_secs_ago);
    let exp = NOW.unix_timestamp() + i64::from(expires_in_secs);
    let aud = if audience_list {
        let mut all = other_audiences.to_vec();
        all.push(AUDIENCE.to_owned());
        json!(all)
    } else {
        json!(AUDIENCE)
    };
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let claims = json!({"iss": ISSUER, "aud": aud, "iat": iat, "exp": exp, "jti": jti});
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        signing_input.as_bytes(),
    );
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    let key = ClientSecret::new(secret);
    let verify = |t: &str| verify_jwt(t, &key, ISSUER, AUDIENCE, NOW, LEEWAY);

    if token.len() > MAX_TOKEN_LEN {
        assert!(verify(&token).is_err(), "a token over the limit accepted");
        return;
    }
    let accepted = verify(&token).unwrap_or_else(|e| panic!("a valid token refused: {e}"));
    assert_eq!(accepted.iss, ISSUER);
    assert_eq!(accepted.jti, jti);
    assert_eq!(accepted.iat.unix_timestamp(), iat);
    assert_eq!(accepted.exp.unix_timestamp(), exp);
    assert!(accepted.aud.iter().any(|a| a == AUDIENCE));

    let wrong_key = ClientSecret::new(format!("{secret}x"));
    assert!(
        verify_jwt(&token, &wrong_key, ISSUER, AUDIENCE, NOW, LEEWAY).is_err(),
        "accepted under another secret"
    );
    if let Some((at, xor)) = flip {
        let mut bytes = token.into_bytes();
        let at = at % bytes.len();
        let xor = if xor == 0 { 1 } else { xor };
        bytes[at] ^= xor;
        if let Ok(changed) = String::from_utf8(bytes) {
            assert!(
                verify(&changed).is_err(),
                "a changed token accepted: {changed}"
            );
        }
    }
}

fn hub(secret: &[u8], body: &[u8], flip: Option<(usize, u8)>) {
    if secret.is_empty() {
        assert!(verify_hub_signature(body, Some("sha256=00"), secret).is_err());
        return;
    }
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
    let header = format!("sha256={}", hex::encode(tag.as_ref()));
    verify_hub_signature(body, Some(&header), secret)
        .unwrap_or_else(|e| panic!("a valid signature refused: {e}"));
    assert!(verify_hub_signature(body, None, secret).is_err());
    assert!(verify_hub_signature(body, Some(&header.to_uppercase()), secret).is_err());
    if let Some((at, xor)) = flip {
        let mut bytes = header.into_bytes();
        let at = at % bytes.len();
        let xor = if xor == 0 { 1 } else { xor };
        bytes[at] ^= xor;
        if let Ok(changed) = String::from_utf8(bytes) {
            assert!(
                verify_hub_signature(body, Some(&changed), secret).is_err(),
                "a changed signature accepted: {changed}"
            );
        }
    }
}

fn decode(body: &[u8], max_len: usize) {
    match WebhookEvent::decode(body, max_len) {
        Ok(event) => {
            assert!(body.len() <= max_len);
            let root: serde_json::Value =
                serde_json::from_slice(body).expect("an accepted body is JSON");
            assert!(root.is_object());
            let needs_issue = !matches!(event.kind, WebhookEventKind::Other(_));
            assert!(
                !needs_issue || !event.issue_ids.is_empty(),
                "{:?} without an issue",
                event.kind
            );
            for id in event
                .issue_ids
                .iter()
                .chain(&event.comment_id)
                .chain(&event.worklog_id)
            {
                assert!(
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
                    "id {id:?}"
                );
            }
            assert!(unique(&event.issue_ids), "repeated issue ids");
            assert!(unique(&event.changed_field_ids), "repeated field ids");
            assert_eq!(WebhookEventKind::from_name(event.kind.name()), event.kind);
        }
        Err(e) => {
            if body.len() > max_len {
                assert!(matches!(e, WebhookPayloadError::TooLarge { .. }));
            }
            if contains(body, CANARY) {
                assert!(
                    !e.to_string().contains("CANARY"),
                    "the error repeats the body: {e}"
                );
            }
        }
    }
}

fn unique(items: &[String]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, a)| !items[..i].contains(a))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
