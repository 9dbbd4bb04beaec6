//! Stored secrets edited in the database fail closed: every kind of secret (a Basic
//! connection's API token, an OAuth 2.0 client's secret, a connection's access and refresh
//! tokens), swapped with another row or field, truncated, bit-flipped (nonce, ciphertext, tag,
//! key id, the text framing) or relabelled with another key id, is reported as
//! `secret_unreadable` when the connection is used, and the simulator receives nothing.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiralink_app::{
    AppError, ConnectionSecrets, NoProgress, OAuthClientSecrets, RunOutput, RunState, TestResult,
};
use jiralink_domain::{ConnectionDraft, ConnectionId, OAuthClientDraft, SecretEntry};
use jiralink_vault::{ApiToken, ClientSecret, MasterKey, write_key_file};
use sqlx::Connection as _;

use crate::connection_test::Fixture;
use crate::oauth::{authorize, oauth_fixture};
use crate::{actor, basic_draft};

/// One row of the `secrets` table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    kind: &'static str,
    id: String,
    field: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    key_id: String,
    sealed: String,
}

async fn db(f: &Fixture) -> sqlx::SqliteConnection {
    let opts =
        sqlx::sqlite::SqliteConnectOptions::new().filename(f.app.data_dir().join("jiralink.db"));
    sqlx::SqliteConnection::connect_with(&opts).await.unwrap()
}

async fn read(f: &Fixture, row: &Row) -> Stored {
    let (key_id, sealed): (String, String) = sqlx::query_as(
        "SELECT key_id, sealed FROM secrets WHERE owner_kind = ? AND owner_id = ? AND field = ?",
    )
    .bind(row.kind)
    .bind(&row.id)
    .bind(row.field)
    .fetch_one(&mut db(f).await)
    .await
    .unwrap();
    Stored { key_id, sealed }
}

/// Writes `value` into `row`, as someone with write access to the database file could.
async fn write(f: &Fixture, row: &Row, value: &Stored) {
    let done = sqlx::query(
        "UPDATE secrets SET key_id = ?, sealed = ? \
         WHERE owner_kind = ? AND owner_id = ? AND field = ?",
    )
    .bind(&value.key_id)
    .bind(&value.sealed)
    .bind(row.kind)
    .bind(&row.id)
    .bind(row.field)
    .execute(&mut db(f).await)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// The same, with the sealed text given as raw bytes (which need not be UTF-8).
async fn write_bytes(f: &Fixture, row: &Row, key_id: &str, sealed: &[u8]) {
    sqlx::query(
        "UPDATE secrets SET key_id = ?, sealed = CAST(? AS TEXT) \
         WHERE owner_kind = ? AND owner_id = ? AND field = ?",
    )
    .bind(key_id)
    .bind(sealed)
    .bind(row.kind)
    .bind(&row.id)
    .bind(row.field)
    .execute(&mut db(f).await)
    .await
    .unwrap();
}

/// `enc:v1:<kid>:<payload>` split into its kid and decoded payload.
fn parts(sealed: &str) -> (String, Vec<u8>) {
    let rest = sealed.strip_prefix("enc:v1:").unwrap();
    let (kid, payload) = rest.split_once(':').unwrap();
    (kid.to_owned(), URL_SAFE_NO_PAD.decode(payload).unwrap())
}

fn join(kid: &str, payload: &[u8]) -> String {
    format!("enc:v1:{kid}:{}", URL_SAFE_NO_PAD.encode(payload))
}

/// Every tampering of `original` (of `row`) that needs no other row: truncations, every bit of
/// sampled bytes of the nonce, ciphertext, tag and key id, and of sampled characters of the
/// text, and a relabelling with another key id (column and text, or the text alone).
/// Each comes with a label; the text is raw bytes.
fn tamperings(original: &Stored) -> Vec<(String, String, Vec<u8>)> {
    let (kid, payload) = parts(&original.sealed);
    let mut out = Vec::new();
    let plain = |label: String, kid: &str, text: String| (label, kid.to_owned(), text.into_bytes());
    let text = &original.sealed;
    for keep in [0, 7, 24, text.len() / 2, text.len() - 1] {
        out.push(plain(
            format!("truncated to {keep} characters"),
            &kid,
            text[..keep].to_owned(),
        ));
    }
    for keep in [0, 11, 12, 27, 28, payload.len() - 1] {
        out.push(plain(
            format!("payload truncated to {keep} bytes"),
            &kid,
            join(&kid, &payload[..keep]),
        ));
    }
    let tag = payload.len() - 16;
    let samples = [
        ("nonce", 0),
        ("nonce", 11),
        ("ciphertext", 12),
        ("ciphertext", tag - 1),
        ("tag", tag),
        ("tag", payload.len() - 1),
    ];
    for (region, at) in samples {
        for bit in 0..8 {
            let mut flipped = payload.clone();
            flipped[at] ^= 1 << bit;
            out.push(plain(
                format!("{region} byte {at} bit {bit}"),
                &kid,
                join(&kid, &flipped),
            ));
        }
    }
    let kid_bytes = hex_decode(&kid);
    for at in [0, 7] {
        for bit in 0..8 {
            let mut flipped = kid_bytes.clone();
            flipped[at] ^= 1 << bit;
            let other = hex_encode(&flipped);
            // The text alone: it no longer matches the row's key id column.
            out.push(plain(
                format!("key id byte {at} bit {bit} in the text"),
                &kid,
                join(&other, &payload),
            ));
        }
    }
    // The text's framing: prefix, separators, key id and payload characters.
    let framing = [0, 3, 4, 6, 7, 22, 23, 24, text.len() / 2, text.len() - 1];
    for at in framing {
        for bit in 0..8 {
            let mut bytes = text.clone().into_bytes();
            bytes[at] ^= 1 << bit;
            out.push((format!("text character {at} bit {bit}"), kid.clone(), bytes));
        }
    }
    out
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The simulator's request log length.
fn requests(f: &Fixture) -> usize {
    f.sim.control().requests().len()
}

/// What using a connection is, for one kind of secret.
#[derive(Debug, Clone, Copy)]
enum Use {
    /// "Test connection".
    Test(&'static str),
    /// An export run of the connection.
    Export(&'static str),
    /// A token refresh (the access token has expired).
    Refresh(ConnectionId),
}

/// Runs `what`; `Err` carries the error code.
async fn run(f: &Fixture, what: Use) -> Result<(), &'static str> {
    match what {
        Use::Test(name) => match f.app.test_connection(name).await {
            Ok(outcome) if outcome.result == TestResult::Passed => Ok(()),
            // The probe reports a token it cannot get as the test's failure, in the words of
            // the error it got.
            Ok(outcome) => {
                let failure = outcome.failure.unwrap();
                if failure.message.contains("could not be decrypted") {
                    // A token comes from Atlassian: the fix is to authorize again.
                    let token = failure.message.contains("access_token of")
                        || failure.message.contains("refresh_token of");
                    assert_eq!(
                        failure.message.contains("authorize the connection again"),
                        token,
                        "{failure:?}"
                    );
                    Err("secret_unreadable")
                } else if failure.message.contains("which is not loaded") {
                    Err("vault_locked")
                } else {
                    panic!("{failure:?}")
                }
            }
            Err(e) => Err(e.code()),
        },
        Use::Export(name) => {
            let spec = crate::exports::issues("project = DEMO");
            match f
                .app
                .run_adhoc_export(name, spec, RunOutput::Store, &NoProgress)
                .await
            {
                Ok(run) if run.state == RunState::Succeeded => Ok(()),
                Ok(run) => panic!("the run ended {:?}: {:?}", run.state, run.error),
                Err(e) => Err(e.code()),
            }
        }
        Use::Refresh(id) => f
            .app
            .connection_access_token(id)
            .await
            .map(|_| ())
            .map_err(|e: AppError| e.code()),
    }
}

/// Uses the connection with `row` holding `key_id`/`sealed`: it must fail with `code`, and
/// nothing may reach the simulator.
async fn assert_refused(
    f: &Fixture,
    row: &Row,
    what: Use,
    label: &str,
    key_id: &str,
    sealed: &[u8],
    code: &str,
) {
    write_bytes(f, row, key_id, sealed).await;
    let before = requests(f);
    let result = run(f, what).await;
    assert_eq!(
        result,
        Err(code),
        "{} of {} {}, {label}, used by {what:?}",
        row.field,
        row.kind,
        row.id
    );
    assert_eq!(
        requests(f),
        before,
        "{} {label}: something was sent",
        row.field
    );
}

/// Every tampering of `row`, one at a time, each followed by `what`; `swaps` are rows whose
/// values are swapped into `row`. The original value works before and after.
async fn tamper_and_use(f: &Fixture, row: &Row, what: Use, swaps: &[Row]) -> usize {
    let original = read(f, row).await;
    let mut checked = 0;
    for (label, kid, text) in tamperings(&original) {
        assert_refused(f, row, what, &label, &kid, &text, "secret_unreadable").await;
        checked += 1;
    }
    for other in swaps {
        let theirs = read(f, other).await;
        write(f, other, &original).await;
        let label = format!(
            "swapped with {} of {} {}",
            other.field, other.kind, other.id
        );
        assert_refused(
            f,
            row,
            what,
            &label,
            &theirs.key_id,
            theirs.sealed.as_bytes(),
            "secret_unreadable",
        )
        .await;
        write(f, other, &theirs).await;
        checked += 1;
    }
    // Relabelled with a key id no loaded key has, in the column and the text alike: the same
    // as a secret sealed under a key this process does not hold.
    let (_, payload) = parts(&original.sealed);
    let unknown = "0123456789abcdef";
    assert_refused(
        f,
        row,
        what,
        "relabelled with an unknown key id",
        unknown,
        join(unknown, &payload).as_bytes(),
        "vault_locked",
    )
    .await;
    checked += 1;
    write(f, row, &original).await;
    checked
}

struct Setup {
    f: Fixture,
    cloud: ConnectionId,
    cloud2: ConnectionId,
    basic: Row,
    basic2: Row,
    client: Row,
    client2: Row,
}

fn connection_row(id: &str, field: &'static str) -> Row {
    Row {
        kind: "connection",
        id: id.to_owned(),
        field,
    }
}

async fn add_oauth(f: &Fixture, name: &str) -> ConnectionId {
    let draft = ConnectionDraft {
        name: Some(name.to_owned()),
        api_type: Some("cloud-platform".to_owned()),
        subdomain: Some("demo".to_owned()),
        auth_type: Some("oauth2".to_owned()),
        oauth_client: Some("Sim app".to_owned()),
        scopes: ["read:jira-work", "read:jira-user", "read:me"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ..ConnectionDraft::default()
    };
    let view = f
        .app
        .create_connection(&draft, ConnectionSecrets::default(), &actor())
        .await
        .unwrap()
        .value;
    authorize(f, name).await;
    view.id.parse().unwrap()
}

/// Two Basic connections, two OAuth 2.0 clients, two authorized OAuth 2.0 connections.
async fn setup() -> Setup {
    let f = oauth_fixture().await;
    let samples = f.sim.samples().clone();
    let mut basic = Vec::new();
    for name in ["Jira", "Other"] {
        let view = f
            .app
            .create_connection(
                &ConnectionDraft {
                    username: Some(samples.email.clone()),
                    ..basic_draft(name)
                },
                ConnectionSecrets {
                    api_token: Some(ApiToken::new(&samples.api_token)),
                },
                &actor(),
            )
            .await
            .unwrap()
            .value;
        basic.push(connection_row(&view.id, "api_token"));
    }
    let other_client = f
        .app
        .create_oauth_client(
            &OAuthClientDraft {
                name: Some("Other app".to_owned()),
                client_id: Some("other-client".to_owned()),
                client_secret: SecretEntry::Missing,
            },
            OAuthClientSecrets {
                client_secret: Some(ClientSecret::new("other-secret")),
            },
            &actor(),
        )
        .await
        .unwrap()
        .value;
    let sim_client = f.app.get_oauth_client("Sim app").await.unwrap();
    let cloud = add_oauth(&f, "Cloud").await;
    let cloud2 = add_oauth(&f, "Cloud two").await;
    let client_row = |id: &str| Row {
        kind: "oauth_client",
        id: id.to_owned(),
        field: "client_secret",
    };
    let mut basic = basic.into_iter();
    Setup {
        cloud,
        cloud2,
        basic: basic.next().unwrap(),
        basic2: basic.next().unwrap(),
        client: client_row(&sim_client.id),
        client2: client_row(&other_client.id),
        f,
    }
}

/// Moves both clocks past the access tokens' lifetime, so the next use refreshes.
fn expire_access_tokens(f: &Fixture) {
    f.clock.advance(Duration::from_secs(3600));
    f.sim.control().advance(Duration::from_secs(3600));
}

#[tokio::test]
async fn a_tampered_api_token_is_unreadable_and_nothing_is_sent() {
    let s = setup().await;
    let f = &s.f;
    let swaps = [
        s.basic2.clone(),
        s.client.clone(),
        connection_row(&s.cloud.to_string(), "access_token"),
    ];
    for what in [Use::Test("Jira"), Use::Export("Jira")] {
        run(f, what).await.unwrap();
        let checked = tamper_and_use(f, &s.basic, what, &swaps).await;
        assert!(checked > 150, "{checked}");
        // Restored, it works again: the refusals were about the value.
        run(f, what).await.unwrap();
    }
}

#[tokio::test]
async fn a_tampered_access_token_is_unreadable_and_nothing_is_sent() {
    let s = setup().await;
    let f = &s.f;
    let row = connection_row(&s.cloud.to_string(), "access_token");
    let swaps = [
        connection_row(&s.cloud.to_string(), "refresh_token"),
        connection_row(&s.cloud2.to_string(), "access_token"),
        s.basic.clone(),
    ];
    run(f, Use::Test("Cloud")).await.unwrap();
    tamper_and_use(f, &row, Use::Test("Cloud"), &swaps).await;
    run(f, Use::Test("Cloud")).await.unwrap();
}

#[tokio::test]
async fn a_tampered_refresh_token_is_unreadable_and_nothing_is_sent() {
    let s = setup().await;
    let f = &s.f;
    expire_access_tokens(f);
    let row = connection_row(&s.cloud.to_string(), "refresh_token");
    let swaps = [
        connection_row(&s.cloud2.to_string(), "refresh_token"),
        connection_row(&s.cloud.to_string(), "access_token"),
        s.client.clone(),
    ];
    tamper_and_use(f, &row, Use::Refresh(s.cloud), &swaps).await;
    // The untouched token refreshes: one token request.
    let before = requests(f);
    run(f, Use::Refresh(s.cloud)).await.unwrap();
    assert_eq!(requests(f), before + 1);
}

#[tokio::test]
async fn a_tampered_client_secret_is_unreadable_and_nothing_is_sent() {
    let s = setup().await;
    let f = &s.f;
    expire_access_tokens(f);
    let swaps = [
        s.client2.clone(),
        s.basic.clone(),
        connection_row(&s.cloud.to_string(), "refresh_token"),
    ];
    tamper_and_use(f, &s.client, Use::Refresh(s.cloud2), &swaps).await;
    let before = requests(f);
    run(f, Use::Refresh(s.cloud2)).await.unwrap();
    assert_eq!(requests(f), before + 1);
}

/// During a rotation two keys are loaded: a secret relabelled with the other one's id is
/// opened with that key, which must not open it.
#[tokio::test]
async fn a_secret_relabelled_with_another_loaded_key_is_unreadable() {
    let s = setup().await;
    let next = MasterKey::generate();
    write_key_file(&s.f.app.data_dir().join(jiralink_app::NEXT_KEY_FILE), &next).unwrap();
    let app = crate::oauth::reopen(&s.f).await;
    let Fixture {
        _dir, sim, clock, ..
    } = s.f;
    let f = Fixture {
        _dir,
        sim,
        app,
        clock,
    };
    let other = next.id().to_string();
    for (row, what) in [
        (s.basic.clone(), Use::Test("Jira")),
        (
            connection_row(&s.cloud.to_string(), "access_token"),
            Use::Test("Cloud"),
        ),
    ] {
        let original = read(&f, &row).await;
        let (_, payload) = parts(&original.sealed);
        assert_refused(
            &f,
            &row,
            what,
            "relabelled with the pending key's id",
            &other,
            join(&other, &payload).as_bytes(),
            "secret_unreadable",
        )
        .await;
        write(&f, &row, &original).await;
        run(&f, what).await.unwrap();
    }
}
