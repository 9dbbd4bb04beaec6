//! The `/v1` REST API: a key on every route, every route answering with bodies that match the
//! OpenAPI document, write-only secrets, and the stable error codes.
//!
//! Every call here goes through [`Api::call`], which checks the response against the
//! document's schema for that operation and status, and that no planted secret comes back.

use std::collections::BTreeSet;
use std::sync::Mutex;

use axum::http::{Method, StatusCode, header};
use jiralink_app::Actor;
use jiralink_domain::AuditSource;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::{Fixture, KEY, Reply, call, fixture};

/// Planted secrets: none may appear in any response.
const TOKEN: &str = "CANARY-api-token-5d1c9e";
const CLIENT_SECRET: &str = "CANARY-client-secret-77ab30";

pub(crate) struct Api {
    pub(crate) f: Fixture,
    pub(crate) doc: Value,
    /// Operations called so far, as `(METHOD, template)`.
    pub(crate) seen: Mutex<BTreeSet<(String, String)>>,
    /// Secrets sent in requests, which no response may contain.
    secrets: Vec<String>,
}

impl Api {
    async fn new() -> Api {
        Self::with(fixture().await).await
    }

    /// The checker over a server of the caller's.
    pub(crate) async fn with(f: Fixture) -> Api {
        let r = call(&f.router, Method::GET, "/v1/openapi.json", None, Some(KEY)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let doc = r.json();
        let secrets = vec![
            TOKEN.to_owned(),
            CLIENT_SECRET.to_owned(),
            f.sim.samples().api_token.clone(),
        ];
        let api = Api {
            f,
            doc,
            seen: Mutex::default(),
            secrets,
        };
        api.check(&Method::GET, "/v1/openapi.json", &r);
        api
    }

    /// Every operation of the document, as `(METHOD, template)`.
    pub(crate) fn operations(&self) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    /// Calls `template` (with `{id}` replaced by `id`, and `query` appended) with the key and
    /// checks the answer against the document.
    pub(crate) async fn call(
        &self,
        method: Method,
        template: &str,
        id: Option<&str>,
        query: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut path = match id {
            Some(id) => template.replace("{id}", &encode(id)),
            None => template.to_owned(),
        };
        path.push_str(query);
        let body = self.with_version(&method, &path, body).await;
        let r = call(&self.f.router, method.clone(), &path, body, Some(KEY)).await;
        self.check(&method, template, &r);
        r
    }

    /// A replace names the version it was made from; tests of other things send the current
    /// one (the tests of versions send theirs, or none, through [`Api::call_as_sent`]).
    async fn with_version(
        &self,
        method: &Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut body = body?;
        if *method == Method::PUT && body.is_object() && body.get("version").is_none() {
            let current = call(&self.f.router, Method::GET, path, None, Some(KEY)).await;
            if current.status == StatusCode::OK
                && let Some(version) = current.json().get("version").cloned()
            {
                body["version"] = version;
            } else {
                body["version"] = json!(1);
            }
        }
        Some(body)
    }

    /// Like [`Api::call`], with the body exactly as given.
    pub(crate) async fn call_as_sent(
        &self,
        method: Method,
        template: &str,
        id: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let path = match id {
            Some(id) => template.replace("{id}", &encode(id)),
            None => template.to_owned(),
        };
        let r = call(&self.f.router, method.clone(), &path, body, Some(KEY)).await;
        self.check(&method, template, &r);
        r
    }

    /// The body matches the schema of the documented response for its status, and holds no
    /// planted secret.
    pub(crate) fn check(&self, method: &Method, template: &str, r: &Reply) {
        let at = format!("{method} {template} → {}", r.status);
        for secret in &self.secrets {
            assert!(
                !r.text.contains(secret.as_str()),
                "{at}: a secret came back"
            );
            for (name, value) in &r.headers {
                assert!(
                    !value.to_str().unwrap_or_default().contains(secret.as_str()),
                    "{at}: a secret in {name}"
                );
            }
        }
        self.seen
            .lock()
            .unwrap()
            .insert((method.to_string(), template.to_owned()));
        let op = &self.doc["paths"][template][method.as_str().to_lowercase()];
        assert!(op.is_object(), "{at}: not in the document");
        let responses = &op["responses"];
        let mut response = responses
            .get(r.status.as_str())
            .or_else(|| responses.get("default"))
            .unwrap_or_else(|| panic!("{at}: status not documented"));
        if let Some(target) = response["$ref"].as_str() {
            response = self.doc.pointer(target.trim_start_matches('#')).unwrap();
        }
        let Some(content) = response.get("content") else {
            assert!(r.text.is_empty(), "{at}: a body where none is documented");
            return;
        };
        let media = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .trim()
            .to_owned();
        // A download (a run's output) is documented by its media types; only JSON has a
        // schema to check.
        assert!(
            content.get(&media).is_some(),
            "{at}: {media} is not documented"
        );
        let schema = &content["application/json"]["schema"];
        if media != "application/json" {
            return;
        }
        let mut schema = schema.clone();
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{at}: schema does not compile: {e}"));
        let instance = r.json();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{at}: the body does not match the document:\n{}\n{}",
            errors.join("\n"),
            r.text
        );
        if !r.status.is_success() {
            assert!(
                r.headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{at}"
            );
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub(crate) fn basic(name: &str, email: &str, token: Option<&str>) -> Value {
    let mut body = json!({
        "name": name,
        "apiType": "cloud-platform",
        "subdomain": "demo",
        "authType": "basic",
        "username": email,
    });
    if let Some(t) = token {
        body["apiToken"] = json!(t);
    }
    body
}

pub(crate) fn code(r: &Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const C: &str = "/v1/connections";
const C_ID: &str = "/v1/connections/{id}";
const CLIENTS: &str = "/v1/oauth-clients";
const CLIENT_ID: &str = "/v1/oauth-clients/{id}";

#[tokio::test]
async fn every_route_needs_a_valid_key() {
    let api = Api::new().await;
    let f = &api.f;
    // A user's own key works until it is revoked.
    let admin = Actor {
        name: "admin".to_owned(),
        source: AuditSource::Cli,
    };
    f.app
        .create_user(
            "scripts",
            &jiralink_vault::Password::new("a long enough password 1"),
            false,
            &admin,
        )
        .await
        .unwrap();
    let created = f.app.create_api_key("scripts", "ci", &admin).await.unwrap();
    let user_key = created.key.expose().to_owned();
    let r = call(&f.router, Method::GET, C, None, Some(&user_key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    f.app
        .revoke_api_key(&created.view.id.to_string(), &admin)
        .await
        .unwrap();

    let operations = api.operations();
    assert_eq!(operations.len(), 64, "{operations:?}");
    for (method, template) in &operations {
        let method: Method = method.parse().unwrap();
        let path = template.replace("{id}", "x");
        for key in [None, Some("wrong-key"), Some(""), Some(user_key.as_str())] {
            let r = call(&f.router, method.clone(), &path, Some(json!({})), key).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {}",
                key.map_or("no key", |_| "a key")
            );
            assert_eq!(code(&r), "unauthorized", "{method} {path}");
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
            assert!(!r.text.contains(&user_key));
            api.check(&method, template, &r);
        }
    }
    // Nor does the answer without a key tell which routes and methods exist: an unknown
    // route and a method a route does not take get the same 401 as a real route.
    let real = call(&f.router, Method::GET, C, None, None).await;
    for (method, path) in [
        (Method::GET, "/v1/nothing-here"),
        (Method::POST, "/v1/connections/x/nothing"),
        (Method::GET, "/v1"),
        (Method::PATCH, C),
        (Method::POST, "/v1/oauth-clients/x"),
    ] {
        for key in [None, Some("wrong-key"), Some(user_key.as_str())] {
            let r = call(&f.router, method.clone(), path, Some(json!({})), key).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(r.text, real.text, "{method} {path}");
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }
    // Not the key sent with another scheme either.
    let res = {
        use tower::ServiceExt as _;
        let req = axum::http::Request::get(C)
            .header(header::AUTHORIZATION, format!("Basic {KEY}"))
            .body(axum::body::Body::empty())
            .unwrap();
        f.router.clone().oneshot(req).await.unwrap()
    };
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Health needs no key.
    assert_eq!(
        call(&f.router, Method::GET, "/healthz", None, None)
            .await
            .status,
        StatusCode::OK
    );
    let ready = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");
    // Without its database the server is alive but not ready: a load balancer stops sending.
    f.app.close_database().await;
    let ready = call(&f.router, Method::GET, "/readyz", None, None).await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.text
    );
    assert_eq!(ready.json()["status"], "unavailable");
    let alive = call(&f.router, Method::GET, "/healthz", None, None).await;
    assert_eq!(alive.status, StatusCode::OK);
}

/// Calls every operation of the document with the key, against the simulator, and checks
/// each real body against the document.
#[tokio::test]
async fn every_route_answers_as_the_document_says() {
    let api = Api::new().await;
    let email = api.f.sim.samples().email.clone();
    let real_token = api.f.sim.samples().api_token.clone();

    let r = api
        .call(
            Method::POST,
            C,
            None,
            "",
            Some(basic("Jira demo", &email, Some(&real_token))),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["apiToken"]["set"], true);
    assert_eq!(created["state"]["status"], "untested");
    assert_eq!(created["rateLimitAutoRecover"], true);
    assert_eq!(created["rateLimitMaxRetries"], 4);

    let list = api.call(Method::GET, C, None, "", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    let by_name = api
        .call(Method::GET, C_ID, Some("JIRA demo"), "", None)
        .await;
    assert_eq!(by_name.json()["id"], json!(id));

    // An unsaved document: passes, and is not stored.
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "",
            Some(basic("Draft", &email, Some(&real_token))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    assert_eq!(r.json()["state"], Value::Null);
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "",
            Some(basic("Draft", &email, Some(TOKEN))),
        )
        .await;
    assert_eq!(r.json()["result"], "failed", "{}", r.text);
    assert_eq!(r.json()["failure"]["kind"], "wrong_credentials");
    assert_eq!(
        api.call(Method::GET, C, None, "", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An edit of a saved connection keeps its own name.
    let same_name = basic("Jira demo", &email, Some(&real_token));
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "",
            Some(same_name.clone()),
        )
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "name");
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            &format!("?connection={id}"),
            Some(same_name),
        )
        .await;
    assert_eq!(r.json()["result"], "passed", "{}", r.text);

    // Debugger on, a test recorded, the log read, cleared, off.
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/debug",
            Some(&id),
            "",
            Some(json!({"minutes": 15})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["debugUntil"], "2026-01-02T03:19:05Z");
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/test",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    assert_eq!(r.json()["state"]["status"], "online");
    let log = api
        .call(
            Method::GET,
            "/v1/connections/{id}/debug-log",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(log.json()["recording"], true);
    assert!(!log.json()["lines"].as_array().unwrap().is_empty());
    assert!(log.text.contains("Basic ********"), "{}", log.text);
    let cleared = api
        .call(
            Method::DELETE,
            "/v1/connections/{id}/debug-log",
            Some(&id),
            "",
            None,
        )
        .await;
    assert!(cleared.json()["deleted"].as_u64().unwrap() >= 2);
    let stopped = api
        .call(
            Method::DELETE,
            "/v1/connections/{id}/debug",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(stopped.json()["debugUntil"], "2026-01-02T03:04:05Z");
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/debug",
            Some(&id),
            "",
            Some(json!({"minutes": 20})),
        )
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);

    let view = api
        .call(
            Method::GET,
            "/v1/connections/{id}/http-view",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(view.json()["rateLimit"]["autoRecover"], true);
    let usage = api
        .call(
            Method::GET,
            "/v1/connections/{id}/usage",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(usage.json(), json!({"exports": [], "imports": []}));

    // Rate-limit handling is set through the API and shown everywhere.
    let mut replacement = basic("Jira renamed", &email, Some(&real_token));
    replacement["concurrencyLevel"] = json!(5);
    replacement["rateLimitAutoRecover"] = json!(false);
    replacement["rateLimitMaxRetries"] = json!(2);
    let r = api
        .call(Method::PUT, C_ID, Some(&id), "", Some(replacement))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let saved = r.json();
    assert_eq!(saved["name"], "Jira renamed");
    assert_eq!(
        (
            &saved["concurrencyLevel"],
            &saved["rateLimitAutoRecover"],
            &saved["rateLimitMaxRetries"]
        ),
        (&json!(5), &json!(false), &json!(2))
    );
    let view = api
        .call(
            Method::GET,
            "/v1/connections/{id}/http-view",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(
        view.json()["rateLimit"],
        json!({"failStatusCode": 429, "retryHeader": "Retry-After", "autoRecover": false, "maxRetries": 2})
    );

    // OAuth 2.0: a client, a connection using it, its authorization start.
    let r = api
        .call(
            Method::POST,
            CLIENTS,
            None,
            "",
            Some(json!({"name": "Atlassian app", "clientId": api.f.sim.samples().oauth_client_id, "clientSecret": CLIENT_SECRET})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["clientSecret"]["set"], true);
    let client = r.json()["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::PUT,
            CLIENT_ID,
            Some(&client),
            "",
            Some(json!({"name": "Atlassian app", "clientId": api.f.sim.samples().oauth_client_id, "clientSecret": CLIENT_SECRET})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api.call(Method::GET, CLIENTS, None, "", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = api
        .call(Method::GET, CLIENT_ID, Some("atlassian APP"), "", None)
        .await;
    assert_eq!(r.json()["id"], json!(client));
    let oauth = json!({
        "name": "Jira OAuth", "apiType": "cloud-platform", "subdomain": "demo",
        "authType": "oauth2", "oauthClient": "Atlassian app", "scopes": ["read:jira-work"],
    });
    // An OAuth 2.0 document can be tested once authorized: the report says so.
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "",
            Some(oauth.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["result"], "needs_authorization", "{}", r.text);
    assert_eq!(r.json()["failure"]["kind"], "needs_authorization");
    assert_eq!(r.json()["probe"], Value::Null);
    let r = api.call(Method::POST, C, None, "", Some(oauth)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["state"]["status"], "needs_authorization");
    let oauth_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/authorize",
            Some(&oauth_id),
            "",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.json()["authorizationUrl"]
            .as_str()
            .unwrap()
            .starts_with(api.f.sim.auth_server().as_str())
    );
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/authorize",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(code(&r), "validation_failed", "{}", r.text);
    let r = api
        .call(Method::DELETE, CLIENT_ID, Some(&client), "", None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(code(&r), "oauth_client_in_use");

    // Deletes, and the audit trail that outlives them.
    for target in [&oauth_id, &id] {
        let r = api.call(Method::DELETE, C_ID, Some(target), "", None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = api
        .call(Method::DELETE, CLIENT_ID, Some(&client), "", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let audit = api
        .call(
            Method::GET,
            "/v1/connections/{id}/audit",
            Some(&id),
            "",
            None,
        )
        .await;
    let entries = audit.json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 3, "{}", audit.text);
    assert!(entries.iter().all(|e| e["source"] == "api"));
    let update = &entries[1]["changes"];
    for field in ["rate_limit_auto_recover", "rate_limit_max_retries"] {
        assert!(
            update
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["field"] == field),
            "{field}: {update}"
        );
    }

    // Every route answers a missing resource with its code (those of exports, imports, flows
    // and their runs, and listeners are checked in `exports.rs`, `imports.rs`, `flows.rs` and
    // `api_listeners.rs`).
    for (method, template) in api.operations() {
        if !template.contains("{id}") || is_export_route(&template) {
            continue;
        }
        let method: Method = method.parse().unwrap();
        let body = match (method.clone(), template.as_str()) {
            (Method::PUT, C_ID) => Some(basic("x", &email, Some(TOKEN))),
            (Method::PUT, CLIENT_ID) => {
                Some(json!({"name": "x", "clientId": "y", "clientSecret": CLIENT_SECRET}))
            }
            (Method::POST, "/v1/connections/{id}/debug") => Some(json!({"minutes": 15})),
            _ => None,
        };
        let r = api
            .call(method.clone(), &template, Some("nope"), "", body)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {template}");
        let want = if template.starts_with(CLIENTS) {
            "oauth_client_not_found"
        } else {
            "connection_not_found"
        };
        assert_eq!(code(&r), want, "{method} {template}");
    }
    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "?connection=nope",
            Some(basic("x", &email, Some(TOKEN))),
        )
        .await;
    assert_eq!(code(&r), "connection_not_found");

    let seen = api.seen.lock().unwrap().clone();
    let missing: Vec<_> = api
        .operations()
        .difference(&seen)
        .filter(|(_, template)| !is_export_route(template))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

/// The routes of exports, imports, flows and their runs, and listeners, which `exports.rs`,
/// `imports.rs`, `flows.rs` and `api_listeners.rs` exercise.
fn is_export_route(template: &str) -> bool {
    template.starts_with(crate::exports::E)
        || template.starts_with(crate::exports::RUNS)
        || template.starts_with(crate::imports::I)
        || template.starts_with(crate::imports::RUNS)
        || template.starts_with(crate::flows::F)
        || template.starts_with(crate::flows::RUNS)
        || template.starts_with(crate::notifications::N)
        || template.starts_with(crate::api_listeners::L)
}

#[tokio::test]
async fn a_replace_without_the_secret_is_refused_and_changes_nothing() {
    let api = Api::new().await;
    let r = api
        .call(
            Method::POST,
            C,
            None,
            "",
            Some(basic("Jira", "me@example.com", Some(TOKEN))),
        )
        .await;
    let before = r.json();
    let id = before["id"].as_str().unwrap().to_owned();
    let mut edit = basic("Jira renamed", "me@example.com", None);
    edit["concurrencyLevel"] = json!(3);
    let r = api.call(Method::PUT, C_ID, Some(&id), "", Some(edit)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&r), "validation_failed");
    assert_eq!(r.json()["error"]["retryable"], false);
    assert_eq!(
        r.json()["error"]["fields"],
        json!([{"field": "api_token", "message": r.json()["error"]["fields"][0]["message"]}])
    );
    let message = r.json()["error"]["fields"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("entered again"), "{message}");
    let after = api
        .call(Method::GET, C_ID, Some(&id), "", None)
        .await
        .json();
    let mut unchanged = before.clone();
    unchanged.as_object_mut().unwrap().remove("notices");
    assert_eq!(after, unchanged);
    let audit = api
        .call(
            Method::GET,
            "/v1/connections/{id}/audit",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(audit.json().as_array().unwrap().len(), 1);

    let r = api
        .call(
            Method::POST,
            CLIENTS,
            None,
            "",
            Some(json!({"name": "App", "clientId": "abc123", "clientSecret": CLIENT_SECRET})),
        )
        .await;
    let client = r.json();
    let client_id = client["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::PUT,
            CLIENT_ID,
            Some(&client_id),
            "",
            Some(json!({"name": "App", "clientId": "abc124"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "client_secret");
    assert!(
        r.json()["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("entered again")
    );
    let shown = api
        .call(Method::GET, CLIENT_ID, Some(&client_id), "", None)
        .await;
    assert_eq!(shown.json()["clientId"], "abc123");
    assert_eq!(shown.json()["clientSecret"], client["clientSecret"]);
}

/// A blank secret is a missing one, exactly as on the web form, and an oversized one is
/// refused without being repeated: neither replaces the stored secret.
#[tokio::test]
async fn blank_or_oversized_secrets_are_refused_and_change_nothing() {
    let api = Api::new().await;
    let email = api.f.sim.samples().email.clone();
    let real_token = api.f.sim.samples().api_token.clone();
    let r = api
        .call(
            Method::POST,
            C,
            None,
            "",
            Some(basic("Jira", &email, Some(&real_token))),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let before = r.json();
    let id = before["id"].as_str().unwrap().to_owned();
    let missing = api
        .call(
            Method::PUT,
            C_ID,
            Some(&id),
            "",
            Some(basic("Jira", &email, None)),
        )
        .await;
    let missing_message = missing.json()["error"]["fields"][0]["message"].clone();
    let oversized = format!("CANARY-{}", "x".repeat(4096));

    for (token, what) in [
        ("", "missing"),
        ("   ", "missing"),
        ("\t\n", "missing"),
        (oversized.as_str(), "longer than 4096 characters"),
    ] {
        for (method, path, target) in [
            (Method::PUT, C_ID, Some(id.as_str())),
            (Method::POST, C, None),
            (Method::POST, "/v1/connections/test", None),
        ] {
            let r = api
                .call(
                    method.clone(),
                    path,
                    target,
                    "",
                    Some(basic("Jira 2", &email, Some(token))),
                )
                .await;
            let at = format!("{method} {path} with a {what} token");
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{at}: {}", r.text);
            assert_eq!(code(&r), "validation_failed", "{at}");
            let fields = &r.json()["error"]["fields"];
            assert_eq!(fields.as_array().unwrap().len(), 1, "{at}: {}", r.text);
            assert_eq!(fields[0]["field"], "api_token", "{at}");
            if what == "missing" {
                assert_eq!(fields[0]["message"], missing_message, "{at}");
            } else {
                let message = fields[0]["message"].as_str().unwrap();
                assert!(message.contains(what), "{at}: {message}");
                assert!(
                    !r.text.contains("CANARY") && !r.text.contains("xxxx"),
                    "{at}"
                );
            }
        }
    }
    let after = api
        .call(Method::GET, C_ID, Some(&id), "", None)
        .await
        .json();
    let mut unchanged = before.clone();
    unchanged.as_object_mut().unwrap().remove("notices");
    assert_eq!(after, unchanged);
    // The stored token is the one that was saved first: the connection still signs in.
    let r = api
        .call(
            Method::POST,
            "/v1/connections/{id}/test",
            Some(&id),
            "",
            None,
        )
        .await;
    assert_eq!(r.json()["result"], "passed", "{}", r.text);
    assert_eq!(
        api.call(Method::GET, C, None, "", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let r = api
        .call(
            Method::POST,
            CLIENTS,
            None,
            "",
            Some(json!({"name": "App", "clientId": "abc123", "clientSecret": CLIENT_SECRET})),
        )
        .await;
    let client = r.json();
    let client_id = client["id"].as_str().unwrap().to_owned();
    for (secret, want) in [
        (" ", "must be entered again"),
        ("", "must be entered again"),
        (oversized.as_str(), "longer than 4096 characters"),
    ] {
        for (method, path, target) in [
            (Method::PUT, CLIENT_ID, Some(client_id.as_str())),
            (Method::POST, CLIENTS, None),
        ] {
            let body = json!({"name": "App 2", "clientId": "abc124", "clientSecret": secret});
            let r = api.call(method.clone(), path, target, "", Some(body)).await;
            assert_eq!(code(&r), "validation_failed", "{method} {path}: {}", r.text);
            let fields = &r.json()["error"]["fields"];
            assert_eq!(fields[0]["field"], "client_secret", "{}", r.text);
            assert!(
                fields[0]["message"].as_str().unwrap().contains(want),
                "{}",
                r.text
            );
            assert!(!r.text.contains("xxxx"));
        }
    }
    let shown = api
        .call(Method::GET, CLIENT_ID, Some(&client_id), "", None)
        .await;
    assert_eq!(shown.json()["clientId"], "abc123");
    assert_eq!(shown.json()["clientSecret"], client["clientSecret"]);
    assert_eq!(
        api.call(Method::GET, CLIENTS, None, "", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_requests_get_their_codes_and_never_echo_values() {
    let api = Api::new().await;
    let f = &api.f;
    let body = basic("Dup", "me@example.com", Some(TOKEN));
    let first = api
        .call(Method::POST, C, None, "", Some(body.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    // A taken name is reported with the other validation problems.
    let again = api.call(Method::POST, C, None, "", Some(body)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    assert_eq!(code(&again), "validation_failed");
    assert!(
        again.text.contains("already has this name"),
        "{}",
        again.text
    );
    assert!(!again.text.contains("Dup"), "{}", again.text);

    // A value of the wrong type: its path is named, the value is not repeated.
    let mut wrong_type = basic("Other", "me@example.com", None);
    wrong_type["scopes"] = json!(TOKEN);
    let r = api.call(Method::POST, C, None, "", Some(wrong_type)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&r), "invalid_json");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("scopes"),
        "{}",
        r.text
    );
    let mut wrong_switch = basic("Other", "me@example.com", None);
    wrong_switch["rateLimitAutoRecover"] = json!("sometimes");
    let r = api
        .call(Method::POST, C, None, "", Some(wrong_switch))
        .await;
    assert_eq!(code(&r), "invalid_json", "{}", r.text);

    let mut unknown = basic("Other", "me@example.com", None);
    unknown["password"] = json!(TOKEN);
    let r = api.call(Method::POST, C, None, "", Some(unknown)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&r), "unknown_field");
    // The fields the route takes are listed; the one sent is not repeated.
    assert!(!r.text.contains("password"), "{}", r.text);
    assert!(r.text.contains("apiToken"), "{}", r.text);

    // Validation failures name each field.
    let mut invalid = json!({"name": "Incomplete", "apiToken": TOKEN, "rateLimitMaxRetries": 11});
    let r = api
        .call(Method::POST, C, None, "", Some(invalid.clone()))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&r), "validation_failed");
    let fields: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["api_type", "rate_limit_max_retries"], "{}", r.text);
    invalid["rateLimitMaxRetries"] = json!("4");
    let r = api.call(Method::POST, C, None, "", Some(invalid)).await;
    assert_eq!(r.json()["error"]["fields"].as_array().unwrap().len(), 1);

    // Not JSON at all, and JSON without its content type.
    for (content_type, text, status, want) in [
        (
            Some("application/json"),
            "{\"name\": ",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            Some("text/plain"),
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            None,
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ] {
        use tower::ServiceExt as _;
        let mut req =
            axum::http::Request::post(C).header(header::AUTHORIZATION, format!("Bearer {KEY}"));
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let res = f
            .router
            .clone()
            .oneshot(req.body(axum::body::Body::from(text)).unwrap())
            .await
            .unwrap();
        let status_got = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let r = Reply {
            status: status_got,
            headers,
            text: String::from_utf8(bytes.to_vec()).unwrap(),
        };
        api.check(&Method::POST, C, &r);
        assert_eq!((r.status, code(&r).as_str()), (status, want), "{}", r.text);
    }

    let r = api
        .call(
            Method::POST,
            "/v1/connections/test",
            None,
            "?bogus=1",
            Some(basic("x", "me@example.com", Some(TOKEN))),
        )
        .await;
    assert_eq!(code(&r), "invalid_query", "{}", r.text);

    // Unknown routes and methods answer in the same shape, without repeating the request.
    let r = call(&f.router, Method::GET, "/v1/nothing-here", None, Some(KEY)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&r), "not_found");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("no such route;"), "{message}");
    assert!(!message.contains("nothing-here"), "{message}");
    let r = call(&f.router, Method::PATCH, C, Some(json!({})), Some(KEY)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    assert_eq!(code(&r), "method_not_allowed");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("the route does not take this method;"),
        "{message}"
    );
    assert!(!message.contains("PATCH"), "{message}");
}

/// Marks what a request sent; no response may contain it, in any case.
const MARK: &str = "zqmark";

/// Distinctive markers in every path segment, query value, field name and field value of
/// bad requests to every `/v1` operation (the document's, which a unit test holds to the
/// router's one table): no answer repeats any of them.
#[tokio::test]
async fn no_error_repeats_what_the_request_sent() {
    let api = Api::new().await;
    let email = api.f.sim.samples().email.clone();
    let token = api.f.sim.samples().api_token.clone();
    let r = api
        .call(
            Method::POST,
            C,
            None,
            "",
            Some(basic("Real", &email, Some(&token))),
        )
        .await;
    let connection = r.json()["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::POST,
            CLIENTS,
            None,
            "",
            Some(json!({"name": "App", "clientId": "abc", "clientSecret": CLIENT_SECRET})),
        )
        .await;
    let client = r.json()["id"].as_str().unwrap().to_owned();

    let m = |place: &str| format!("ZqMark-{place}");
    let every_field = json!({
        "name": m("name\u{202e}"), "apiType": m("apiType"), "subdomain": m("subdomain"),
        "authType": m("authType"), "username": m("username"), "apiToken": m("apiToken"),
        "oauthClient": m("oauthClient"), "scopes": [m("scope"), format!("read:{}", m("s2"))],
        "concurrencyLevel": m("concurrency"), "rateLimitMaxRetries": m("retries"),
    });
    let mut bodies = vec![
        every_field.clone(),
        {
            let mut b = every_field.clone();
            b["authType"] = json!("basic");
            b["apiType"] = json!("cloud-platform");
            b["subdomain"] = json!(format!("https://{}.atlassian.net:99", m("port")));
            b
        },
        {
            let mut b = every_field.clone();
            b["authType"] = json!("oauth2");
            b["apiType"] = json!("customer-service-management");
            b
        },
        {
            let mut b = every_field.clone();
            b[m("field")] = json!(m("unknown-value"));
            b
        },
        json!({"name": m("n"), "scopes": m("not-a-list"), "rateLimitAutoRecover": m("switch")}),
        json!({"zqmarkKey": 1, "name": "x"}),
        json!({"scopes": [{"zqmarkNested": m("nested value")}]}),
        json!({"concurrencyLevel": {"nested": m("nested")}}),
        json!({"name": m("client"), "clientId": m("client id"), "clientSecret": m("secret")}),
        json!({"name": m("client"), "clientId": m("clientId"), "clientSecret": "  "}),
        json!({"minutes": m("minutes")}),
        json!({"minutes": 7}),
        json!({"minutes": 15, "extra": m("extra")}),
    ];
    bodies.push(json!(m("bare string")));
    let queries = [
        "".to_owned(),
        format!("?connection={}", m("query")),
        format!("?{}=1", m("param")),
    ];

    let mut answers = 0;
    for (method, template) in api.operations() {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let has_body = api.doc["paths"][&template][method.as_str().to_lowercase()]
            .get("requestBody")
            .is_some();
        let mut ids = vec![None];
        if template.contains("{id}") {
            ids = vec![Some(m("ref/with space"))];
            // A real resource, so the body is read too; never deleted here.
            if method != Method::DELETE {
                ids.push(Some(if template.starts_with(CLIENTS) {
                    client.clone()
                } else {
                    connection.clone()
                }));
            }
        }
        for id in &ids {
            for query in &queries {
                let sent: Vec<Option<Value>> = if has_body {
                    bodies.iter().cloned().map(Some).collect()
                } else {
                    vec![None]
                };
                for body in sent {
                    let r = api
                        .call(
                            method.clone(),
                            &template,
                            id.as_deref(),
                            query,
                            body.clone(),
                        )
                        .await;
                    answers += 1;
                    assert!(
                        !r.text.to_lowercase().contains(MARK),
                        "{method} {template} {id:?} {query} {body:?} → {}: {}",
                        r.status,
                        r.text
                    );
                }
            }
        }
    }
    assert!(answers > 200, "{answers}");

    // Requests the router itself refuses: unknown paths and methods, unreadable segments.
    let weird = Method::from_bytes(b"ZQMARKMETHOD").unwrap();
    for (method, path) in [
        (Method::GET, format!("/v1/{}", m("route"))),
        (
            Method::GET,
            format!("/v1/connections/{}/{}", m("a"), m("b")),
        ),
        (Method::PATCH, format!("/v1/connections/{}", m("patch"))),
        (weird, "/v1/connections".to_owned()),
        (Method::GET, "/v1/connections/%FFzqmark".to_owned()),
    ] {
        let r = call(&api.f.router, method.clone(), &path, None, Some(KEY)).await;
        assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
        assert!(
            !r.text.to_lowercase().contains(MARK),
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.json()["error"]["retryable"], false, "{}", r.text);
    }
}

/// Whatever axum's extractors refuse under `/v1` answers the JSON error shape, with a code.
#[tokio::test]
async fn extractor_rejections_answer_the_json_shape() {
    let api = Api::new().await;
    for template in [C_ID, "/v1/connections/{id}/audit", CLIENT_ID] {
        let path = template.replace("{id}", "%FF%FE");
        let r = call(&api.f.router, Method::GET, &path, None, Some(KEY)).await;
        api.check(&Method::GET, template, &r);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(code(&r), "invalid_path", "{path}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

/// Bodies over the limit answer 413: the API's JSON error, and readable pages for the
/// sign-in form and the UI's forms.
#[tokio::test]
async fn oversized_bodies_answer_413_everywhere() {
    use tower::ServiceExt as _;
    let f = fixture().await;
    let huge = "a=".to_owned() + &"x".repeat(jiralink_web::MAX_BODY_BYTES + 10);
    let send = |path: &str, content_type: &str, cookie: Option<String>, body: String| {
        let mut req = axum::http::Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::AUTHORIZATION, format!("Bearer {KEY}"));
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let router = f.router.clone();
        let req = req.body(axum::body::Body::from(body)).unwrap();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let content_type = res.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
                .await
                .unwrap();
            (
                status,
                content_type,
                String::from_utf8(bytes.to_vec()).unwrap(),
            )
        }
    };
    let json_body = format!(
        "{{\"name\": \"{}\"}}",
        "x".repeat(jiralink_web::MAX_BODY_BYTES)
    );
    for path in [C, CLIENTS, "/v1/connections/test"] {
        let (status, content_type, text) =
            send(path, "application/json", None, json_body.clone()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {text}");
        assert!(content_type.starts_with("application/json"), "{path}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"]["code"], "body_too_large", "{text}");
    }
    let (status, content_type, text) = send(
        "/login",
        "application/x-www-form-urlencoded",
        None,
        huge.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(content_type.starts_with("text/html"));
    assert!(text.contains("too large"), "{text}");
    let browser = crate::sign_in(&f, "ada").await;
    let (status, content_type, text) = send(
        "/connections",
        "application/x-www-form-urlencoded",
        Some(browser.cookie.clone()),
        huge,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(content_type.starts_with("text/html"));
    assert!(text.contains("too large"), "{text}");
}

/// A replace names the version it was made from: without one it is refused, a stale one gets
/// `409 conflict` and changes nothing, and of many replaces of one version sent at once
/// exactly one wins, with an audit trail in which every entry starts from the state the one
/// before left.
#[tokio::test]
async fn replaces_name_their_version_and_stale_ones_change_nothing() {
    let api = Api::new().await;
    let email = api.f.sim.samples().email.clone();
    let r = api
        .call(
            Method::POST,
            C,
            None,
            "",
            Some(basic("Versioned", &email, Some(TOKEN))),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["version"], 1);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let body = |name: &str, version: Option<u64>| {
        let mut b = basic(name, &email, Some(TOKEN));
        if let Some(v) = version {
            b["version"] = json!(v);
        }
        b
    };

    let r = api
        .call_as_sent(Method::PUT, C_ID, Some(&id), Some(body("No version", None)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(code(&r), "validation_failed");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version")
    );

    let r = api
        .call_as_sent(Method::PUT, C_ID, Some(&id), Some(body("By A", Some(1))))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    let stale = api
        .call_as_sent(Method::PUT, C_ID, Some(&id), Some(body("By B", Some(1))))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
    assert_eq!(code(&stale), "conflict");
    assert_eq!(stale.json()["error"]["retryable"], false);
    let shown = api
        .call(Method::GET, C_ID, Some(&id), "", None)
        .await
        .json();
    assert_eq!(
        (&shown["name"], &shown["version"]),
        (&json!("By A"), &json!(2))
    );

    // Fifty editors who all read version 2.
    let racers = (0..50).map(|i| {
        api.call_as_sent(
            Method::PUT,
            C_ID,
            Some(&id),
            Some(body(&format!("Racer {i}"), Some(2))),
        )
    });
    let replies = futures::future::join_all(racers).await;
    let won: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(won.len(), 1);
    assert!(
        replies
            .iter()
            .filter(|r| r.status != StatusCode::OK)
            .all(|r| r.status == StatusCode::CONFLICT && code(r) == "conflict")
    );
    let winner = won[0].json()["name"].as_str().unwrap().to_owned();
    let audit = api
        .call(
            Method::GET,
            "/v1/connections/{id}/audit",
            Some(&id),
            "",
            None,
        )
        .await
        .json();
    let names: Vec<(Value, Value)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["field"] == "name")
                .map(|c| (c["before"].clone(), c["after"].clone()))
        })
        .collect();
    assert_eq!(
        names,
        [
            (Value::Null, json!("Versioned")),
            (json!("Versioned"), json!("By A")),
            (json!("By A"), json!(winner)),
        ],
        "one entry per change, each from the state it replaced"
    );

    // OAuth 2.0 clients alike.
    let r = api
        .call(
            Method::POST,
            CLIENTS,
            None,
            "",
            Some(json!({"name": "App", "clientId": "abc", "clientSecret": CLIENT_SECRET})),
        )
        .await;
    let client = r.json()["id"].as_str().unwrap().to_owned();
    let edit = |client_id: &str, version: u64| json!({"name": "App", "clientId": client_id, "clientSecret": CLIENT_SECRET, "version": version});
    let r = api
        .call_as_sent(
            Method::PUT,
            CLIENT_ID,
            Some(&client),
            Some(edit("from-a", 1)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = api
        .call_as_sent(
            Method::PUT,
            CLIENT_ID,
            Some(&client),
            Some(edit("from-b", 1)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let shown = api
        .call(Method::GET, CLIENT_ID, Some(&client), "", None)
        .await
        .json();
    assert_eq!(
        (&shown["clientId"], &shown["version"]),
        (&json!("from-a"), &json!(2))
    );
}
