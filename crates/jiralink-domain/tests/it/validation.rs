//! Every validation rule of the connection and OAuth 2.0 client forms, one table row per rule.

use jiralink_domain::{
    ApiType as Api, ConnectionAuth, ConnectionDraft, ConnectionId, ConnectionName,
    ConnectionSettings, Field, OAuthClientContext, OAuthClientDraft, OAuthClientId, SecretEntry,
    Subdomain as Sub, ValidConnection, ValidationContext, ValidationErrors,
};
use pretty_assertions::assert_eq;
use uuid::Uuid;

const EXISTING: ConnectionId = ConnectionId(Uuid::from_u128(1));
const OTHER: ConnectionId = ConnectionId(Uuid::from_u128(2));
const CLIENT: OAuthClientId = OAuthClientId(Uuid::from_u128(0xc1));
const OFFLINE_NOTICE: &str = "offline_access is always requested so tokens can be refreshed";
/// Stands for an API token or password pasted into the wrong field.
const CANARY: &str = "CANARY-7c1d2e-9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c";

/// One stored connection named "Jira - Production" and one OAuth 2.0 client named "Acme app".
struct Store;

impl ValidationContext for Store {
    fn connection_name_taken(&self, name_key: &str, except: Option<ConnectionId>) -> bool {
        except != Some(EXISTING)
            && ConnectionName::parse("Jira - Production").is_ok_and(|n| n.key() == name_key)
    }

    fn resolve_oauth_client(&self, reference: &str) -> Option<OAuthClientId> {
        (reference.eq_ignore_ascii_case("Acme app") || reference == CLIENT.to_string())
            .then_some(CLIENT)
    }
}

impl OAuthClientContext for Store {
    fn client_name_taken(&self, name_key: &str, except: Option<OAuthClientId>) -> bool {
        except != Some(CLIENT)
            && ConnectionName::parse("Acme app").is_ok_and(|n| n.key() == name_key)
    }
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn basic() -> ConnectionDraft {
    ConnectionDraft {
        name: s("Jira - acme"),
        api_type: s("cloud-platform"),
        subdomain: s("acme"),
        auth_type: s("basic"),
        username: s("fred@example.com"),
        api_token: SecretEntry::Entered,
        ..ConnectionDraft::default()
    }
}

fn oauth() -> ConnectionDraft {
    ConnectionDraft {
        name: s("Jira - acme"),
        api_type: s("cloud-platform"),
        subdomain: s("acme"),
        auth_type: s("oauth2"),
        oauth_client: s("Acme app"),
        scopes: vec!["read:jira-work".to_owned()],
        ..ConnectionDraft::default()
    }
}

fn csm() -> ConnectionDraft {
    ConnectionDraft {
        name: s("Acme CSM"),
        api_type: s("customer-service-management"),
        oauth_client: s("Acme app"),
        scopes: vec!["read:customer:jira-service-management".to_owned()],
        ..ConnectionDraft::default()
    }
}

fn with(mut draft: ConnectionDraft, change: impl FnOnce(&mut ConnectionDraft)) -> ConnectionDraft {
    change(&mut draft);
    draft
}

enum Expect {
    /// Valid; each notice contains the matching text, in order, and `settings` holds.
    Valid {
        notices: Vec<String>,
        settings: fn(&ConnectionSettings) -> bool,
    },
    /// Invalid with exactly these errors, in order: (field, text the message contains).
    Invalid(Vec<(Field, &'static str)>),
}

fn valid(notices: &[&str], settings: fn(&ConnectionSettings) -> bool) -> Expect {
    Expect::Valid {
        notices: notices.iter().map(|n| (*n).to_owned()).collect(),
        settings,
    }
}

fn invalid(errors: &[(Field, &'static str)]) -> Expect {
    Expect::Invalid(errors.to_vec())
}

struct Row {
    case: String,
    draft: ConnectionDraft,
    editing: Option<ConnectionId>,
    expect: Expect,
}

fn row(case: impl Into<String>, draft: ConnectionDraft, expect: Expect) -> Row {
    Row {
        case: case.into(),
        draft,
        editing: None,
        expect,
    }
}

fn any(_: &ConnectionSettings) -> bool {
    true
}

fn describe(result: &Result<ValidConnection, ValidationErrors>) -> String {
    match result {
        Ok(valid) => format!(
            "valid, notices {:?}, settings {:?}",
            valid.notices, valid.settings
        ),
        Err(errors) => format!("invalid:\n{errors}"),
    }
}

/// Checks one row; returns a description of the mismatch, if any.
fn check(row: &Row) -> Option<String> {
    let result = row.draft.validate(&Store, row.editing);
    let ok = match (&row.expect, &result) {
        (Expect::Valid { notices, settings }, Ok(valid)) => {
            valid.notices.len() == notices.len()
                && valid
                    .notices
                    .iter()
                    .zip(notices)
                    .all(|(got, want)| got.contains(want.as_str()))
                && settings(&valid.settings)
        }
        (Expect::Invalid(expected), Err(errors)) => {
            errors.len() == expected.len()
                && errors
                    .iter()
                    .zip(expected)
                    .all(|(got, (field, text))| got.field == *field && got.message.contains(text))
        }
        _ => false,
    };
    (!ok).then(|| format!("{}: got {}", row.case, describe(&result)))
}

fn run(rows: &[Row]) {
    let failures: Vec<String> = rows.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}

#[test]
fn connection_rules() {
    use Field::*;

    let mut rows = vec![
        // Complete forms of each shape.
        row(
            "valid basic",
            basic(),
            valid(&[], |s| {
                matches!(&s.auth, ConnectionAuth::Basic { username } if username.as_str() == "fred@example.com")
                    && s.subdomain.as_ref().map(Sub::as_str) == Some("acme")
                    && s.concurrency_level.get() == 10
            }),
        ),
        row(
            "valid OAuth 2.0 cloud platform",
            oauth(),
            valid(&[OFFLINE_NOTICE], |s| {
                matches!(&s.auth, ConnectionAuth::OAuth2 { client, scopes }
                if *client == CLIENT && scopes.iter().eq(["read:jira-work"]))
            }),
        ),
        row(
            "valid CSM without an auth type",
            csm(),
            valid(&[OFFLINE_NOTICE], |s| {
                s.api_type == Api::CustomerServiceManagement
                    && s.subdomain.is_none()
                    && s.auth.auth_type() == jiralink_domain::AuthType::OAuth2
            }),
        ),
        row(
            "valid CSM with auth type oauth2",
            with(csm(), |d| d.auth_type = s("OAuth 2.0")),
            valid(&[OFFLINE_NOTICE], any),
        ),
        // Every problem at once.
        row(
            "empty form",
            ConnectionDraft::default(),
            invalid(&[
                (Name, "enter a clear, distinguishable name"),
                (ApiType, "choose an API type"),
            ]),
        ),
        row(
            "many problems on a basic form",
            ConnectionDraft {
                name: s("   "),
                api_type: s("cloud"),
                subdomain: s("demo.jira.com"),
                auth_type: s("basic"),
                username: s("fred"),
                api_token: SecretEntry::Missing,
                oauth_client: s("Acme app"),
                scopes: vec!["read:jira-work".into()],
                concurrency_level: s("0"),
                rate_limit_auto_recover: s("sometimes"),
                rate_limit_max_retries: s("11"),
            },
            invalid(&[
                (Name, "enter a clear, distinguishable name"),
                (Subdomain, "not a Jira Cloud site"),
                (Username, "the address has no '@'"),
                (ApiToken, "enter your Jira API token"),
                (OAuthClient, "used only with OAuth 2.0"),
                (Scopes, "used only with OAuth 2.0"),
                (ConcurrencyLevel, "from 1 to 50"),
                (RateLimitAutoRecover, "not on or off"),
                (RateLimitMaxRetries, "11 is out of range"),
            ]),
        ),
        row(
            "many problems on an OAuth 2.0 form",
            with(oauth(), |d| {
                d.name = s("JIRA - production");
                d.subdomain = None;
                d.username = s("fred@example.com");
                d.api_token = SecretEntry::Entered;
                d.oauth_client = s("Nope app");
                d.scopes = vec!["read:jira-work bogus".into()];
                d.concurrency_level = s("many");
            }),
            invalid(&[
                (Name, "already has this name"),
                (Subdomain, "enter your Jira subdomain"),
                (Username, "used only with Basic auth"),
                (ApiToken, "used only with Basic auth"),
                (OAuthClient, "no OAuth 2.0 client has this name or id"),
                (Scopes, "scope 2 (counting from 1) is not offered"),
                (ConcurrencyLevel, "not a whole number"),
            ]),
        ),
        // Name.
        row(
            "name is trimmed",
            with(basic(), |d| d.name = s("  Jira - acme  ")),
            valid(
                &[r#"name: "  Jira - acme  " was normalised to "Jira - acme""#],
                |s| s.name.as_str() == "Jira - acme",
            ),
        ),
        row(
            "name of 100 characters",
            with(basic(), |d| d.name = s(&"ñ".repeat(100))),
            valid(&[], |s| s.name.as_str().chars().count() == 100),
        ),
        row(
            "name of 101 characters",
            with(basic(), |d| d.name = s(&"ñ".repeat(101))),
            invalid(&[(Name, "101 characters long: shorten it to at most 100")]),
        ),
        row(
            "name with a line break",
            with(basic(), |d| d.name = s("Jira\nacme")),
            invalid(&[(Name, "control characters")]),
        ),
        row(
            "name missing",
            with(basic(), |d| d.name = None),
            invalid(&[(Name, "enter a clear, distinguishable name")]),
        ),
        row(
            "name taken, ignoring case",
            with(basic(), |d| d.name = s("jira - PRODUCTION")),
            invalid(&[(Name, "another connection already has this name")]),
        ),
        row(
            "name taken, ignoring surrounding spaces",
            with(basic(), |d| d.name = s(" Jira - Production ")),
            invalid(&[(Name, "choose a different name")]),
        ),
        Row {
            case: "own name is free when editing".into(),
            draft: with(basic(), |d| d.name = s("Jira - production")),
            editing: Some(EXISTING),
            expect: valid(&[], any),
        },
        Row {
            case: "another connection's name is taken when editing".into(),
            draft: with(basic(), |d| d.name = s("Jira - Production")),
            editing: Some(OTHER),
            expect: invalid(&[(Name, "already has this name")]),
        },
        // API type.
        row(
            "API type missing",
            with(basic(), |d| d.api_type = None),
            invalid(&[(ApiType, "choose an API type: cloud-platform")]),
        ),
        row(
            "API type blank",
            with(basic(), |d| d.api_type = s(" ")),
            invalid(&[(ApiType, "choose an API type")]),
        ),
        row(
            "API type unknown",
            with(basic(), |d| d.api_type = s("jira server")),
            invalid(&[(ApiType, "unknown API type: use cloud-platform")]),
        ),
        row(
            "API type by label",
            with(basic(), |d| {
                d.api_type = s("Cloud Platform and Service Management")
            }),
            valid(&[], |s| s.api_type == Api::CloudPlatform),
        ),
        row(
            "API type alias csm",
            with(csm(), |d| d.api_type = s("CSM")),
            valid(&[OFFLINE_NOTICE], any),
        ),
        row(
            "unknown API type still checks standalone fields",
            with(basic(), |d| {
                d.api_type = s("nope");
                d.username = s("fred");
                d.concurrency_level = s("99");
            }),
            invalid(&[
                (ApiType, "unknown API type"),
                (Username, "such as name@example.com"),
                (ConcurrencyLevel, "the level is out of range"),
            ]),
        ),
        row(
            "no API type: scopes no catalogue offers are reported",
            ConnectionDraft {
                name: s("x"),
                auth_type: s("oauth2"),
                oauth_client: s("Acme app"),
                scopes: vec!["read:jira-work read:customer:jira-service-management made-up".into()],
                ..ConnectionDraft::default()
            },
            invalid(&[
                (ApiType, "choose an API type"),
                (
                    Scopes,
                    "scope 3 (counting from 1) is in no API type's catalogue",
                ),
            ]),
        ),
        // Subdomain requirements by API type.
        row(
            "subdomain missing on cloud platform",
            with(basic(), |d| d.subdomain = None),
            invalid(&[(
                Subdomain,
                "enter your Jira subdomain: for https://demo.atlassian.net enter demo",
            )]),
        ),
        row(
            "subdomain blank on cloud platform",
            with(oauth(), |d| d.subdomain = s("  ")),
            invalid(&[(Subdomain, "enter your Jira subdomain")]),
        ),
        row(
            "subdomain on CSM",
            with(csm(), |d| d.subdomain = s("acme")),
            invalid(&[(
                Subdomain,
                "the site is chosen when the connection is authorized",
            )]),
        ),
        // Auth type.
        row(
            "auth type missing on cloud platform",
            with(basic(), |d| d.auth_type = None),
            invalid(&[(AuthType, "choose an auth type: basic")]),
        ),
        row(
            "auth type unknown",
            with(basic(), |d| d.auth_type = s("token")),
            invalid(&[(AuthType, "unknown auth type: use basic or oauth2")]),
        ),
        row(
            "auth type by label",
            with(oauth(), |d| d.auth_type = s("OAuth 2.0")),
            valid(&[OFFLINE_NOTICE], any),
        ),
        row(
            "CSM with basic auth",
            with(csm(), |d| d.auth_type = s("basic")),
            invalid(&[(AuthType, "use OAuth 2.0 only")]),
        ),
        row(
            "CSM with a basic form's fields",
            with(csm(), |d| {
                d.auth_type = s("basic");
                d.username = s("fred@example.com");
                d.api_token = SecretEntry::Entered;
            }),
            invalid(&[
                (AuthType, "use OAuth 2.0 only"),
                (Username, "used only with Basic auth"),
                (ApiToken, "used only with Basic auth"),
            ]),
        ),
        row(
            "CSM missing client and scopes",
            with(csm(), |d| {
                d.oauth_client = None;
                d.scopes.clear();
            }),
            invalid(&[
                (OAuthClient, "create the client first if there is none"),
                (Scopes, "of the Customer Service Management catalogue"),
            ]),
        ),
        // Basic auth.
        row(
            "username missing",
            with(basic(), |d| d.username = None),
            invalid(&[(
                Username,
                "enter the e-mail address of your Atlassian account",
            )]),
        ),
        row(
            "username trimmed",
            with(basic(), |d| d.username = s(" Fred@Example.com ")),
            valid(
                &[r#"username: " Fred@Example.com " was normalised to "Fred@Example.com""#],
                |s| matches!(&s.auth, ConnectionAuth::Basic { username } if username.as_str() == "Fred@Example.com"),
            ),
        ),
        row(
            "username with plus and subdomains",
            with(basic(), |d| {
                d.username = s("first.last+jira@mail.example.co.uk")
            }),
            valid(&[], any),
        ),
        row(
            "API token missing",
            with(basic(), |d| d.api_token = SecretEntry::Missing),
            invalid(&[(
                ApiToken,
                "must be entered again whenever the connection is edited",
            )]),
        ),
        row(
            "API token too long",
            with(basic(), |d| d.api_token = SecretEntry::TooLong),
            invalid(&[(ApiToken, "the API token is longer than 4096 characters")]),
        ),
        row(
            "OAuth 2.0 client on basic",
            with(basic(), |d| d.oauth_client = s("Acme app")),
            invalid(&[(OAuthClient, "remove it, or set the auth type to oauth2")]),
        ),
        row(
            "scopes on basic",
            with(basic(), |d| d.scopes = vec!["read:jira-work".into()]),
            invalid(&[(Scopes, "scopes are used only with OAuth 2.0")]),
        ),
        row(
            "blank scopes on basic are no scopes",
            with(basic(), |d| d.scopes = vec![" ".into()]),
            valid(&[], any),
        ),
        // OAuth 2.0.
        row(
            "username on OAuth 2.0",
            with(oauth(), |d| d.username = s("fred@example.com")),
            invalid(&[(Username, "a username is used only with Basic auth")]),
        ),
        row(
            "API token on OAuth 2.0",
            with(oauth(), |d| d.api_token = SecretEntry::Entered),
            invalid(&[(ApiToken, "do not send one for an OAuth 2.0 connection")]),
        ),
        row(
            "OAuth 2.0 client missing",
            with(oauth(), |d| d.oauth_client = None),
            invalid(&[(OAuthClient, "create the client first if there is none")]),
        ),
        row(
            "OAuth 2.0 client unknown",
            with(oauth(), |d| d.oauth_client = s("Other app")),
            invalid(&[(
                OAuthClient,
                "no OAuth 2.0 client has this name or id: check the name, or create the client \
                 first",
            )]),
        ),
        row(
            "OAuth 2.0 client by name ignoring case",
            with(oauth(), |d| d.oauth_client = s(" ACME APP ")),
            valid(&[OFFLINE_NOTICE], |s| s.auth.oauth_client() == Some(CLIENT)),
        ),
        row(
            "OAuth 2.0 client by id",
            with(oauth(), |d| d.oauth_client = Some(CLIENT.to_string())),
            valid(&[OFFLINE_NOTICE], |s| s.auth.oauth_client() == Some(CLIENT)),
        ),
        row(
            "scopes missing",
            with(oauth(), |d| d.scopes.clear()),
            invalid(&[(
                Scopes,
                "choose at least one scope of the Cloud Platform and Service Management catalogue",
            )]),
        ),
        row(
            "unknown scopes are all listed",
            with(oauth(), |d| {
                d.scopes = vec!["read:jira-work bogus:one".into(), "bogus-two".into()]
            }),
            invalid(&[(
                Scopes,
                "scopes 2 and 3 (counting from 1) are not offered for Cloud Platform and Service Management; choose scopes from the Cloud Platform and Service Management catalogue",
            )]),
        ),
        row(
            "platform scope on CSM points at its API type",
            with(csm(), |d| d.scopes = vec!["read:jira-work".into()]),
            invalid(&[(
                Scopes,
                "scope 1 belongs to the Cloud Platform and Service Management API type",
            )]),
        ),
        row(
            "CSM scope on cloud platform",
            with(oauth(), |d| {
                d.scopes = vec!["read:customer:jira-service-management".into()]
            }),
            invalid(&[(
                Scopes,
                "scope 1 belongs to the Customer Service Management API type",
            )]),
        ),
        row(
            "offline_access alone is no scope",
            with(oauth(), |d| d.scopes = vec!["offline_access".into()]),
            invalid(&[(Scopes, "choose at least one scope")]),
        ),
        row(
            "offline_access is accepted and not stored",
            with(oauth(), |d| {
                d.scopes = vec!["offline_access read:jira-work".into()]
            }),
            valid(&[OFFLINE_NOTICE], |s| {
                matches!(&s.auth, ConnectionAuth::OAuth2 { scopes, .. }
                if scopes.iter().eq(["read:jira-work"]))
            }),
        ),
        row(
            "comma and space separated scopes, duplicates dropped",
            with(oauth(), |d| {
                d.scopes = vec![
                    "write:jira-work,read:jira-work  read:jira-work".into(),
                    "read:me".into(),
                ]
            }),
            valid(&[OFFLINE_NOTICE], |s| {
                matches!(&s.auth, ConnectionAuth::OAuth2 { scopes, .. }
                if scopes.iter().eq(["read:jira-work", "read:me", "write:jira-work"]))
            }),
        ),
        // Concurrency level.
        row(
            "concurrency default",
            basic(),
            valid(&[], |s| s.concurrency_level.get() == 10),
        ),
        row(
            "concurrency 1",
            with(basic(), |d| d.concurrency_level = s("1")),
            valid(&[], |s| s.concurrency_level.get() == 1),
        ),
        row(
            "concurrency 50",
            with(basic(), |d| d.concurrency_level = s(" 50 ")),
            valid(&[], |s| s.concurrency_level.get() == 50),
        ),
        row(
            "concurrency 0",
            with(basic(), |d| d.concurrency_level = s("0")),
            invalid(&[(
                ConcurrencyLevel,
                "out of range: enter a whole number from 1 to 50",
            )]),
        ),
        row(
            "concurrency 51",
            with(basic(), |d| d.concurrency_level = s("51")),
            invalid(&[(ConcurrencyLevel, "out of range")]),
        ),
        row(
            "concurrency negative",
            with(basic(), |d| d.concurrency_level = s("-3")),
            invalid(&[(ConcurrencyLevel, "not a whole number")]),
        ),
        // Rate-limit handling: on with 4 retries unless set.
        row(
            "rate-limit handling default",
            basic(),
            valid(&[], |s| {
                s.rate_limit.auto_recover && s.rate_limit.max_retries == 4
            }),
        ),
        row(
            "rate-limit auto-recover off, no retries",
            with(basic(), |d| {
                d.rate_limit_auto_recover = s("off");
                d.rate_limit_max_retries = s("0");
            }),
            valid(&[], |s| {
                !s.rate_limit.auto_recover && s.rate_limit.max_retries == 0
            }),
        ),
        row(
            "rate-limit auto-recover true, 10 retries",
            with(oauth(), |d| {
                d.rate_limit_auto_recover = s(" TRUE ");
                d.rate_limit_max_retries = s(" 10 ");
            }),
            valid(&[OFFLINE_NOTICE], |s| {
                s.rate_limit.auto_recover && s.rate_limit.max_retries == 10
            }),
        ),
        row(
            "rate-limit retries out of range",
            with(basic(), |d| d.rate_limit_max_retries = s("11")),
            invalid(&[(RateLimitMaxRetries, "from 0 to 10")]),
        ),
        row(
            "rate-limit retries not a number",
            with(basic(), |d| d.rate_limit_max_retries = s("four")),
            invalid(&[(RateLimitMaxRetries, "not a whole number")]),
        ),
        row(
            "rate-limit auto-recover unreadable",
            with(csm(), |d| d.rate_limit_auto_recover = s("auto")),
            invalid(&[(RateLimitAutoRecover, "on or off")]),
        ),
    ];

    // Each accepted way of typing the subdomain, stored as the bare label with a note.
    for typed in [
        "DEMO",
        " demo ",
        "demo.atlassian.net",
        "Demo.Atlassian.Net",
        "https://demo.atlassian.net",
        "https://demo.atlassian.net/",
        "https://Demo.atlassian.net/jira/your-work",
        "HTTPS://DEMO.ATLASSIAN.NET/browse/ABC-1?focus=1#top",
        "demo.atlassian.net/jira",
    ] {
        let note = format!("subdomain: {typed:?} was normalised to \"demo\"");
        rows.push(Row {
            case: format!("subdomain {typed:?} accepted"),
            draft: with(basic(), |d| d.subdomain = s(typed)),
            editing: None,
            expect: Expect::Valid {
                notices: vec![note],
                settings: |s| s.subdomain.as_ref().map(Sub::as_str) == Some("demo"),
            },
        });
    }
    rows.push(row(
        "bare subdomain has no note",
        with(basic(), |d| d.subdomain = s("demo-2")),
        valid(&[], |s| {
            s.subdomain.as_ref().map(Sub::as_str) == Some("demo-2")
        }),
    ));

    // Every other host is refused, saying what to enter.
    let long = "a".repeat(64);
    for (typed, says) in [
        (
            "demo.jira.com",
            "is not a Jira Cloud site (https://<subdomain>.atlassian.net): enter only the part before .atlassian.net",
        ),
        ("https://demo.atlassian.com/", "is not a Jira Cloud site"),
        ("localhost", "localhost is not a Jira Cloud site"),
        ("https://localhost:8080", "remove the port from the address"),
        ("127.0.0.1", "an IP address is not a Jira Cloud site"),
        (
            "https://10.0.0.1/",
            "an IP address is not a Jira Cloud site",
        ),
        ("https://[::1]/", "an IP address is not a Jira Cloud site"),
        ("https://fred@demo.atlassian.net", "remove the user name"),
        ("https://demo.atlassian.net:443", "remove the port"),
        ("http://demo.atlassian.net", "served over https, not http"),
        (
            "ftp://demo.atlassian.net",
            "addressed with https://, not another scheme",
        ),
        ("https://demo", "is not a Jira Cloud site"),
        ("eu.demo.atlassian.net", "enter only the first part"),
        ("-demo", "cannot start or end with '-'"),
        ("demo-", "cannot start or end with '-'"),
        ("de_mo", "only letters a-z, digits and '-'"),
        ("démo", "only letters a-z, digits and '-'"),
        (long.as_str(), "at most 63 characters"),
    ] {
        rows.push(row(
            format!("subdomain {typed:?} refused"),
            with(basic(), |d| d.subdomain = s(typed)),
            Expect::Invalid(vec![(Field::Subdomain, says)]),
        ));
    }

    // E-mail forms refused as usernames.
    for (typed, says) in [
        ("fred", "the address has no '@'"),
        ("@example.com", "nothing before the '@'"),
        ("fred@", "a domain such as example.com"),
        ("fred@example", "a domain such as example.com"),
        ("fred@example..com", "a domain such as example.com"),
        ("fred@@example.com", "more than one '@'"),
        ("fred smith@example.com", "remove the spaces"),
    ] {
        rows.push(row(
            format!("username {typed:?} refused"),
            with(basic(), |d| d.username = s(typed)),
            Expect::Invalid(vec![(Field::Username, says)]),
        ));
    }

    run(&rows);
}

#[test]
fn every_username_refusal_names_the_expected_form() {
    for typed in [
        "fred",
        "@example.com",
        "fred@",
        "fred@example",
        "a b@example.com",
        &format!("{}@example.com", "x".repeat(250)),
    ] {
        let errors = with(basic(), |d| d.username = s(typed))
            .validate(&Store, None)
            .unwrap_err();
        let message = &errors.iter().next().unwrap().message;
        assert!(
            message.contains("an Atlassian account e-mail such as name@example.com is expected"),
            "{typed}: {message}"
        );
    }
}

#[test]
fn pasted_secrets_are_not_echoed_in_errors() {
    let draft = ConnectionDraft {
        name: s(&format!("{CANARY}\u{7}")),
        api_type: s("cloud-platform"),
        subdomain: s(&format!("https://fred:{CANARY}@demo.atlassian.net")),
        auth_type: s("basic"),
        username: s(CANARY),
        api_token: SecretEntry::Entered,
        concurrency_level: s("1"),
        rate_limit_auto_recover: s(CANARY),
        rate_limit_max_retries: s(CANARY),
        ..ConnectionDraft::default()
    };
    let errors = draft.validate(&Store, None).unwrap_err();
    assert_eq!(
        errors.fields(),
        [
            Field::Name,
            Field::Subdomain,
            Field::Username,
            Field::RateLimitAutoRecover,
            Field::RateLimitMaxRetries
        ]
    );
    let shown = format!(
        "{errors}\n{errors:?}\n{}",
        serde_json::to_string(&errors).unwrap()
    );
    assert!(!shown.contains(CANARY), "{shown}");
}

/// Messages name the field and the rule, never what was typed: a marker typed into each
/// field comes back in no message (compared ignoring case, since some fields are lowered).
#[test]
fn no_error_repeats_what_was_typed() {
    const MARK: &str = "zqmark7";
    let drafts = [
        ConnectionDraft {
            name: s(&format!("{MARK}\u{202E}")),
            api_type: s(MARK),
            subdomain: s(&format!("{MARK}.example.com")),
            auth_type: s(MARK),
            username: s(MARK),
            oauth_client: s(MARK),
            scopes: vec![format!("read:{MARK} {MARK}")],
            concurrency_level: s("731"),
            rate_limit_auto_recover: s(MARK),
            rate_limit_max_retries: s(MARK),
            ..ConnectionDraft::default()
        },
        ConnectionDraft {
            name: s(&format!("{MARK}{}", "x".repeat(100))),
            api_type: s("cloud-platform"),
            subdomain: s(&format!("{MARK}://{MARK}.atlassian.net")),
            auth_type: s("oauth2"),
            oauth_client: s(&format!("{MARK} app")),
            scopes: vec![format!("{MARK},read:jira-work")],
            concurrency_level: s(MARK),
            ..ConnectionDraft::default()
        },
        ConnectionDraft {
            name: s(&format!("{MARK}\u{200B}")),
            api_type: s("customer-service-management"),
            subdomain: s(MARK),
            oauth_client: s(MARK),
            scopes: vec![MARK.to_owned()],
            ..ConnectionDraft::default()
        },
    ];
    let subdomains = [
        format!("https://{MARK}.atlassian.net:99"),
        format!("https://u{MARK}@{MARK}.atlassian.net"),
        format!("eu.{MARK}.atlassian.net"),
        format!("{MARK}_x"),
        format!("https://{MARK}"),
    ];
    let mut all = drafts.to_vec();
    all.extend(
        subdomains
            .iter()
            .map(|typed| with(basic(), |d| d.subdomain = s(typed))),
    );
    for draft in all {
        let errors = draft.validate(&Store, None).unwrap_err();
        let shown = format!("{errors}").to_lowercase();
        assert!(!shown.contains(MARK), "{shown}");
        assert!(!shown.contains("731"), "{shown}");
    }
    let client = OAuthClientDraft {
        name: s(&format!("{MARK}\u{2066}")),
        client_id: s(&format!("{MARK} with spaces")),
        client_secret: SecretEntry::Missing,
    };
    let shown = client.validate(&Store, None).unwrap_err().to_string();
    assert!(!shown.to_lowercase().contains(MARK), "{shown}");
}

#[test]
fn display_lists_every_error_with_its_label() {
    let errors = ConnectionDraft::default()
        .validate(&Store, None)
        .unwrap_err();
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("Name your connection: "), "{text}");
    assert!(lines[1].starts_with("API type: "), "{text}");
}

#[test]
fn edit_round_trip_requires_the_token_again() {
    let saved = basic().validate(&Store, None).unwrap().settings;
    let draft = ConnectionDraft::from_settings(&saved, None);
    assert_eq!(
        draft.validate(&Store, None).unwrap_err().fields(),
        [Field::ApiToken]
    );

    let saved = oauth().validate(&Store, None).unwrap().settings;
    let draft = ConnectionDraft::from_settings(&saved, Some("Acme app"));
    assert_eq!(draft.oauth_client.as_deref(), Some("Acme app"));
    assert_eq!(draft.validate(&Store, None).unwrap().settings, saved);
    let by_id = ConnectionDraft::from_settings(&saved, None);
    assert_eq!(by_id.oauth_client, Some(CLIENT.to_string()));
    assert_eq!(by_id.validate(&Store, None).unwrap().settings, saved);
}

#[test]
fn draft_json_refuses_unknown_fields_such_as_a_token() {
    let ok: ConnectionDraft = serde_json::from_value(serde_json::json!({
        "name": "Jira", "api_type": "cloud", "scopes": ["read:jira-work"]
    }))
    .unwrap();
    assert_eq!(ok.name.as_deref(), Some("Jira"));
    assert_eq!(ok.api_token, SecretEntry::Missing);
    let with_token = serde_json::json!({"name": "Jira", "api_token": CANARY});
    let err = serde_json::from_value::<ConnectionDraft>(with_token)
        .unwrap_err()
        .to_string();
    assert!(!err.contains(CANARY), "{err}");
}

#[test]
fn oauth_client_rules() {
    use Field::*;

    fn draft(name: Option<&str>, client_id: Option<&str>, secret: bool) -> OAuthClientDraft {
        OAuthClientDraft {
            name: name.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            client_secret: if secret {
                SecretEntry::Entered
            } else {
                SecretEntry::Missing
            },
        }
    }

    let long_id = "x".repeat(255);
    let too_long_id = "x".repeat(256);
    type Case<'a> = (
        &'a str,
        OAuthClientDraft,
        Option<OAuthClientId>,
        Result<(&'a str, &'a str), Vec<(Field, &'a str)>>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "valid",
            draft(Some("Acme prod app"), Some("AbC123_-.~"), true),
            None,
            Ok(("Acme prod app", "AbC123_-.~")),
        ),
        (
            "name and client id trimmed",
            draft(Some(" Other "), Some(" abc "), true),
            None,
            Ok(("Other", "abc")),
        ),
        (
            "client id of 255 characters",
            draft(Some("Other"), Some(&long_id), true),
            None,
            Ok(("Other", long_id.as_str())),
        ),
        (
            "everything missing",
            draft(None, None, false),
            None,
            Err(vec![
                (Name, "enter a clear, distinguishable name"),
                (ClientId, "enter the client ID"),
                (ClientSecret, "enter the client secret"),
            ]),
        ),
        (
            "name taken ignoring case",
            draft(Some("ACME APP"), Some("abc"), true),
            None,
            Err(vec![(
                Name,
                "another OAuth 2.0 client already has this name",
            )]),
        ),
        (
            "own name free when editing",
            draft(Some("acme app"), Some("abc"), true),
            Some(CLIENT),
            Ok(("acme app", "abc")),
        ),
        (
            "name taken when editing another",
            draft(Some("Acme app"), Some("abc"), true),
            Some(OAuthClientId(Uuid::from_u128(9))),
            Err(vec![(Name, "choose a different name")]),
        ),
        (
            "name of 101 characters",
            draft(Some(&"n".repeat(101)), Some("abc"), true),
            None,
            Err(vec![(Name, "at most 100")]),
        ),
        (
            "client id with a space",
            draft(Some("Other"), Some("ab c"), true),
            None,
            Err(vec![(
                ClientId,
                "printable ASCII characters without spaces",
            )]),
        ),
        (
            "client id not ASCII",
            draft(Some("Other"), Some("abç"), true),
            None,
            Err(vec![(ClientId, "printable ASCII")]),
        ),
        (
            "client id too long",
            draft(Some("Other"), Some(&too_long_id), true),
            None,
            Err(vec![(ClientId, "at most 255")]),
        ),
        (
            "secret too long",
            OAuthClientDraft {
                client_secret: SecretEntry::TooLong,
                ..draft(Some("Other"), Some("abc"), true)
            },
            None,
            Err(vec![(
                ClientSecret,
                "the client secret is longer than 4096 characters",
            )]),
        ),
        (
            "secret required on edit too",
            draft(Some("Acme app"), Some("abc"), false),
            Some(CLIENT),
            Err(vec![(
                ClientSecret,
                "must be entered again whenever the client is edited",
            )]),
        ),
    ];

    let mut failures = Vec::new();
    for (case, draft, editing, expected) in cases {
        let got = draft.validate(&Store, editing);
        let ok = match (&expected, &got) {
            (Ok((name, id)), Ok(settings)) => {
                settings.name.as_str() == *name && settings.client_id == *id
            }
            (Err(want), Err(errors)) => {
                errors.len() == want.len()
                    && errors
                        .iter()
                        .zip(want)
                        .all(|(e, (f, t))| e.field == *f && e.message.contains(t))
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{case}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn oauth_client_notices_say_what_was_trimmed() {
    let draft = OAuthClientDraft {
        name: Some(" App ".into()),
        client_id: Some("abc".into()),
        client_secret: SecretEntry::Entered,
    };
    let (settings, notices) = draft.validate_with_notices(&Store, None).unwrap();
    assert_eq!(settings.name.as_str(), "App");
    assert_eq!(notices, [r#"name: " App " was normalised to "App""#]);
}
