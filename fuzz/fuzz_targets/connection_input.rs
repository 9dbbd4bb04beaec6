//! Connection input, as every front end hands it to the domain: a draft built field by field
//! (forms, CLI flags) or read from a JSON body (REST API), then validated.
//!
//! Invariants: validation never panics; accepted settings obey the documented rules (a
//! subdomain is one DNS label, Customer Service Management is OAuth 2.0 only without a
//! subdomain, OAuth 2.0 has at least one scope); settings survive a JSON round trip and
//! re-validating them as the edit form presents them gives the same settings; no message
//! repeats a value that was typed.
#![no_main]

use arbitrary::Arbitrary;
use jiralink_domain::{
    ApiType, ConnectionAuth, ConnectionDraft, ConnectionId, OAuthClientId, SecretEntry,
    ValidationContext, connection::ConnectionSettings,
};
use jiralink_fuzz::{Seed, seed};
use libfuzzer_sys::fuzz_target;

const CLIENT_ID: &str = "0b6f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f";
const EDITING: &str = "1c7f4d2f-9e3b-4a6c-8d8f-2b3c4d5e6f70";
/// What a typed value carries so a message that repeats it can be recognised.
const CANARY: &str = "CANARY";

/// The other resources a draft is checked against: one connection named "taken", one OAuth
/// 2.0 client named "atlassian-app".
#[derive(Debug)]
struct Others;

impl ValidationContext for Others {
    fn connection_name_taken(&self, name_key: &str, except: Option<ConnectionId>) -> bool {
        name_key == "taken" && except != Some(editing())
    }

    fn resolve_oauth_client(&self, reference: &str) -> Option<OAuthClientId> {
        (reference.eq_ignore_ascii_case("atlassian-app") || reference == CLIENT_ID)
            .then(|| CLIENT_ID.parse().expect("a fixed id"))
    }
}

fn editing() -> ConnectionId {
    EDITING.parse().expect("a fixed id")
}

#[derive(Debug, Arbitrary)]
struct Fields {
    name: Option<String>,
    api_type: Option<String>,
    subdomain: Option<String>,
    auth_type: Option<String>,
    username: Option<String>,
    api_token: Option<String>,
    oauth_client: Option<String>,
    scopes: Vec<String>,
    concurrency_level: Option<String>,
    rate_limit_auto_recover: Option<String>,
    rate_limit_max_retries: Option<String>,
    editing: bool,
}

#[derive(Debug, Arbitrary)]
enum Input {
    Fields(Fields),
    /// A REST body; the token travels beside it, as the API hands it to the vault.
    Json(String, Option<String>),
}

fuzz_target!(|data: &[u8]| {
    let input = match seed::<Input>(data) {
        Some(Seed::Raw { bytes, .. }) => Input::Json(
            String::from_utf8_lossy(bytes).into_owned(),
            Some("token".into()),
        ),
        Some(Seed::Structured(input)) => input,
        None => return,
    };
    let (draft, editing_id) = match input {
        Input::Fields(f) => (
            ConnectionDraft {
                name: f.name,
                api_type: f.api_type,
                subdomain: f.subdomain,
                auth_type: f.auth_type,
                username: f.username,
                api_token: SecretEntry::of(f.api_token.as_deref()),
                oauth_client: f.oauth_client,
                scopes: f.scopes,
                concurrency_level: f.concurrency_level,
                rate_limit_auto_recover: f.rate_limit_auto_recover,
                rate_limit_max_retries: f.rate_limit_max_retries,
            },
            f.editing.then(editing),
        ),
        Input::Json(body, token) => {
            let Ok(mut draft) = serde_json::from_str::<ConnectionDraft>(&body) else {
                return;
            };
            draft.api_token = SecretEntry::of(token.as_deref());
            (draft, None)
        }
    };
    check(&draft, editing_id);
});

fn check(draft: &ConnectionDraft, editing_id: Option<ConnectionId>) {
    let typed_canary = typed(draft).any(|v| v.contains(CANARY));
    match draft.validate(&Others, editing_id) {
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal without a reason");
            if typed_canary {
                for e in errors.iter() {
                    assert!(
                        !e.message.contains(CANARY),
                        "the message for {:?} repeats what was typed: {}",
                        e.field,
                        e.message
                    );
                }
            }
        }
        Ok(valid) => {
            let settings = valid.settings;
            check_rules(&settings);
            let json = serde_json::to_string(&settings).expect("settings serialise");
            let back: ConnectionSettings =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json} reads back: {e}"));
            assert_eq!(back, settings, "JSON round trip");

            // The edit form shows the stored settings; saving it unchanged (with the token
            // entered again, as Basic auth asks) must store the same settings.
            let mut again = ConnectionDraft::from_settings(&settings, None);
            if matches!(settings.auth, ConnectionAuth::Basic { .. }) {
                again.api_token = SecretEntry::Entered;
            }
            let revalidated = again
                .validate(&Others, Some(editing()))
                .unwrap_or_else(|e| panic!("the edit form of {settings:?} is refused: {e:?}"));
            assert_eq!(revalidated.settings, settings, "edit form round trip");
        }
    }
}

fn check_rules(settings: &ConnectionSettings) {
    if let Some(sub) = &settings.subdomain {
        let s = sub.as_str();
        assert!((1..=63).contains(&s.len()), "subdomain length: {s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "subdomain characters: {s:?}"
        );
        assert!(
            !s.starts_with('-') && !s.ends_with('-'),
            "subdomain dash: {s:?}"
        );
        assert_ne!(s, "localhost");
    }
    match settings.api_type {
        ApiType::CloudPlatform => assert!(settings.subdomain.is_some(), "no subdomain"),
        ApiType::CustomerServiceManagement => {
            assert!(settings.subdomain.is_none(), "a CSM subdomain");
            assert!(
                matches!(settings.auth, ConnectionAuth::OAuth2 { .. }),
                "CSM without OAuth 2.0"
            );
        }
    }
    if let ConnectionAuth::OAuth2 { client, scopes } = &settings.auth {
        assert_eq!(client.to_string(), CLIENT_ID);
        assert!(scopes.iter().next().is_some(), "OAuth 2.0 without scopes");
    }
    if let ConnectionAuth::Basic { username } = &settings.auth {
        assert!(username.to_string().contains('@'), "username {username}");
    }
}

fn typed(draft: &ConnectionDraft) -> impl Iterator<Item = &str> {
    [
        &draft.name,
        &draft.api_type,
        &draft.subdomain,
        &draft.auth_type,
        &draft.username,
        &draft.oauth_client,
        &draft.concurrency_level,
        &draft.rate_limit_auto_recover,
        &draft.rate_limit_max_retries,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .chain(draft.scopes.iter().map(String::as_str))
}
