//! A panic prints what the code that panics formats, through the process's panic hook. Below
//! the web server the widest value is the application (`App`), which every job and command
//! holds and every request handler reaches through the server's state. With these
//! secrets planted and just used — a Basic connection's API token, an OAuth 2.0 client's
//! secret, an authorization code and its `state`, access and refresh tokens before and after a
//! refresh, a user's password, a session and its CSRF token, an API key, the master key — a
//! panic whose message is the application's `Debug` (plain and pretty), and that of what the
//! services handed back (the authorization's start and callback, connection, test results,
//! user, session, API key), holds none of them in any form.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use base64::Engine as _;
use jiralink_app::{ConnectionSecrets, TestResult};
use jiralink_domain::ConnectionDraft;
use jiralink_sim::oauth::ChosenSecrets;
use jiralink_vault::{ApiToken, MASTER_KEY_FILE, Password};

use crate::actor;
use crate::oauth::{add_oauth, advance_both, browse, no_choice, oauth_fixture, token_requests};

const CODE: &str = "CANARY-5a6b7c8d-panic-oauth-code-1e2f3a4b5c6d";
const ACCESS: &str = "CANARY-6b7c8d9e-panic-access-token-2f3a4b5c6d";
const ACCESS_2: &str = "CANARY-7c8d9e0f-panic-access-refreshed-3a4b5c";
const REFRESH: &str = "CANARY-8d9e0f1a-panic-refresh-token-4b5c6d7e";
const REFRESH_2: &str = "CANARY-9e0f1a2b-panic-refresh-rotated-5c6d7e8f";
const PASSWORD: &str = "CANARY-0f1a2b3c-panic-user-password-6d7e8f9a";

/// The forms a secret could take in a message: as it is, URL-encoded, hex, as a byte array's
/// `Debug`, and base64 in both alphabets at each of the three alignments it can have inside a
/// longer encoded text.
fn forms(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![
        String::from_utf8_lossy(secret).into_owned(),
        url::form_urlencoded::byte_serialize(secret).collect(),
        hex::encode(secret),
        hex::encode_upper(secret),
        // A byte array formatted with `Debug`, in decimal and in hex.
        format!("{secret:?}").trim_matches(['[', ']']).to_owned(),
        format!("{secret:x?}").trim_matches(['[', ']']).to_owned(),
    ];
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ] {
        for offset in 0..3 {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(secret);
            let encoded = engine.encode(&padded);
            // The characters that depend only on the secret: after those mixing in the bytes
            // before it, and before the last group, which mixes in what follows.
            let start = (offset * 4).div_ceil(3);
            let end = (padded.len() / 3) * 4;
            forms.push(encoded[start..end].to_owned());
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// The labels of the secrets `text` holds in some form.
fn found(secrets: &[(&str, Vec<u8>)], text: &str) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, secret)| forms(secret).iter().any(|f| text.contains(f.as_str())))
        .map(|(label, _)| (*label).to_owned())
        .collect()
}

#[test]
fn each_form_of_a_secret_is_found_inside_a_longer_text() {
    // Bytes whose base64 differs between the two alphabets (`+/` against `-_`).
    let mut secret = b"CANARY-form-check-".to_vec();
    secret.extend_from_slice(&[0xfb, 0xff, 0xbf, 0x3e, 0x3f, 0xfe, 0xef]);
    let secrets = [("secret", secret.clone())];
    for prefix in ["", "a", "ab", "abc"] {
        for tail in ["", "-tail"] {
            let mut text = prefix.as_bytes().to_vec();
            text.extend_from_slice(&secret);
            text.extend_from_slice(tail.as_bytes());
            for encoded in [
                base64::engine::general_purpose::STANDARD.encode(&text),
                base64::engine::general_purpose::URL_SAFE.encode(&text),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&text),
                hex::encode(&text),
                hex::encode_upper(&text),
                url::form_urlencoded::byte_serialize(&text).collect(),
                format!("{text:?}"),
                format!("{text:x?}"),
            ] {
                assert_eq!(
                    found(&secrets, &encoded),
                    ["secret"],
                    "{prefix:?} {tail:?}: {encoded}"
                );
            }
        }
    }
    assert!(
        found(
            &[("secret", b"CANARY-form-check-0123456789".to_vec())],
            "CANARY-form-check-012345678X"
        )
        .is_empty()
    );
}

#[tokio::test]
async fn a_panic_printing_the_application_and_what_it_handed_out_shows_no_secret() {
    let f = oauth_fixture().await;
    let samples = f.sim.samples().clone();
    f.sim.control().issue_next(ChosenSecrets {
        codes: [CODE.to_owned()].into(),
        access_tokens: [ACCESS.to_owned(), ACCESS_2.to_owned()].into(),
        refresh_tokens: [REFRESH.to_owned(), REFRESH_2.to_owned()].into(),
    });

    // A Basic connection whose API token is used by its test.
    let draft = ConnectionDraft {
        name: Some("Basic".to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("basic".to_owned()),
        username: Some(samples.email.clone()),
        ..ConnectionDraft::default()
    };
    let basic = f
        .app
        .create_connection(
            &draft,
            ConnectionSecrets {
                api_token: Some(ApiToken::new(samples.api_token.clone())),
            },
            &actor(),
        )
        .await
        .unwrap()
        .value;
    let basic_test = f.app.test_connection("basic").await.unwrap();
    assert_eq!(
        basic_test.result,
        TestResult::Passed,
        "{}",
        basic_test.summary()
    );

    // An OAuth 2.0 connection: authorized (the code), used (the access token), used again
    // after its access token expired (the refresh token, then the new pair).
    add_oauth(&f, "Cloud", "cloud-platform").await;
    let start = f.app.begin_authorization("cloud").await.unwrap();
    let callback = browse(&f, &start.url, &[]).await;
    assert_eq!(callback.code.as_deref(), Some(CODE));
    let state = callback.state.clone().unwrap();
    f.app
        .complete_authorization(&callback, &no_choice, &actor())
        .await
        .unwrap();
    let oauth_test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(
        oauth_test.result,
        TestResult::Passed,
        "{}",
        oauth_test.summary()
    );
    advance_both(&f, Duration::from_secs(2 * 3600));
    let refreshed_test = f.app.test_connection("cloud").await.unwrap();
    assert_eq!(
        refreshed_test.result,
        TestResult::Passed,
        "{}",
        refreshed_test.summary()
    );
    assert_eq!(token_requests(&f), 2, "the code's exchange and one refresh");

    // A user, signed in, with an API key.
    let user = f
        .app
        .create_user("panicker", &Password::new(PASSWORD), false, &actor())
        .await
        .unwrap();
    let session = f
        .app
        .sign_in("panicker", &Password::new(PASSWORD), "127.0.0.1")
        .await
        .unwrap();
    let session_info = f.app.session(&session.token).await.unwrap().unwrap();
    let api_key = f
        .app
        .create_api_key("panicker", "panic", &actor())
        .await
        .unwrap();

    let key_text = std::fs::read_to_string(f.app.data_dir().join(MASTER_KEY_FILE)).unwrap();
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(key_text.trim())
        .unwrap();
    assert_eq!(key_bytes.len(), 32);
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("API token", samples.api_token.clone().into_bytes()),
        (
            "client secret",
            samples.oauth_client_secret.clone().into_bytes(),
        ),
        ("authorization code", CODE.into()),
        ("state", state.into_bytes()),
        ("access token", ACCESS.into()),
        ("refreshed access token", ACCESS_2.into()),
        ("refresh token", REFRESH.into()),
        ("rotated refresh token", REFRESH_2.into()),
        ("password", PASSWORD.into()),
        ("session token", session.token.expose().as_bytes().to_vec()),
        ("CSRF token", session.csrf_token.clone().into_bytes()),
        ("API key", api_key.key.expose().as_bytes().to_vec()),
        ("master key file", key_text.trim().as_bytes().to_vec()),
        ("master key", key_bytes),
    ];
    for (label, secret) in &secrets {
        assert!(secret.len() >= 16, "{label} is too short to search for");
    }

    let handed_out = (
        &start,
        &callback,
        &basic,
        &basic_test,
        &oauth_test,
        &refreshed_test,
        &user,
        &session,
        &session_info,
        &api_key,
    );
    let payload = std::panic::catch_unwind(AssertUnwindSafe(|| {
        panic!(
            "a handler failed holding {app:?}\n{app:#?}\n{handed_out:?}\n{handed_out:#?}",
            app = f.app
        )
    }))
    .unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    // The message is the application's: its store, keys and configuration are in it, so the
    // search below is over what a panic would print, not over nothing.
    for part in ["keyring", "config", "store", "panicker", "Basic"] {
        assert!(message.contains(part), "{part} is not in the message");
    }
    assert_eq!(found(&secrets, message), Vec::<String>::new(), "{message}");
}
