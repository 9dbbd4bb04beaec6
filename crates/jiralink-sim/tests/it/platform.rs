//! Platform REST API: shared helpers, schema validation, and the catalogue endpoints
//! (projects, fields, issue types, statuses, users).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jiralink_sim::SimHandle;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    alice_classic, basic, client, gateway, read_spec, schema_validator, scoped_token, start,
};

/// A caller of one site's platform API.
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) auth: String,
}

/// A response: status, headers, parsed body (`Null` when empty).
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Api {
    /// Alice with the classic token on the `demo` site host, API version `v`.
    pub(crate) fn alice(sim: &SimHandle, v: &str) -> Self {
        Self {
            base: format!("{}/rest/api/{v}", sim.site_url("demo")),
            auth: alice_classic(sim),
        }
    }

    /// Alice with a token of her own on the gateway.
    pub(crate) fn gateway_with(sim: &SimHandle, token: &str) -> Self {
        Self {
            base: format!("{}/rest/api/3", gateway(sim, "demo")),
            auth: basic("alice@example.com", token),
        }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = client()
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.auth);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.expect("request completes");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}

/// Asserts a status, printing the body on failure.
pub(crate) fn expect(reply: &Reply, status: StatusCode) -> &Value {
    assert_eq!(reply.status, status, "{:#}", reply.body);
    &reply.body
}

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut spec = read_spec("jira-platform-v3.openapi.json");
        allow_null(&mut spec["components"]);
        spec
    })
}

/// Jira sends `null` for empty values even where the OpenAPI document does not declare
/// `nullable`; every typed schema also accepts null here.
fn allow_null(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("type").cloned() {
                map.insert("type".to_owned(), json!([t, "null"]));
            }
            for (key, child) in map.iter_mut() {
                if key != "example" && key != "default" && key != "enum" {
                    allow_null(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_null),
        _ => {}
    }
}

type Validators = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;

fn validator(schema_name: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Validators> = OnceLock::new();
    let cache = CACHE.get_or_init(Validators::default);
    if let Some(v) = cache.lock().expect("cache").get(schema_name) {
        return v.clone();
    }
    let v = Arc::new(schema_validator(spec(), schema_name));
    cache
        .lock()
        .expect("cache")
        .insert(schema_name.to_owned(), v.clone());
    v
}

/// Asserts that `instance` satisfies the named OpenAPI component schema.
pub(crate) fn assert_schema(schema_name: &str, instance: &Value) {
    let errors: Vec<String> = validator(schema_name)
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{schema_name} violations: {errors:#?}\n{instance:#}"
    );
}

/// Asserts every element of an array satisfies the schema.
pub(crate) fn assert_schema_each(schema_name: &str, instance: &Value) {
    for item in instance.as_array().expect("array") {
        assert_schema(schema_name, item);
    }
}

/// Asserts a platform error body carrying `message` in `errorMessages`.
pub(crate) fn assert_error_message(body: &Value, fragment: &str) {
    assert_schema("ErrorCollection", body);
    let messages = body["errorMessages"].as_array().expect("errorMessages");
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains(fragment))),
        "no message containing {fragment:?}: {body:#}"
    );
}

#[tokio::test]
async fn project_search_pages_filters_and_404s() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let all = api.get("/project/search").await;
    let body = expect(&all, StatusCode::OK);
    assert_schema("PageBeanProject", body);
    let keys: Vec<&str> = body["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| p["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["DEMO", "HELP", "MKT", "MOB"], "ordered by key");
    assert_eq!(body["total"], 4);
    assert_eq!(body["isLast"], true);
    let help = body["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|p| p["key"] == "HELP")
        .expect("HELP");
    assert_eq!(help["projectTypeKey"], "service_desk");

    let page = api.get("/project/search?maxResults=2&startAt=1").await;
    let page = expect(&page, StatusCode::OK);
    assert_eq!(page["values"].as_array().expect("values").len(), 2);
    assert_eq!(page["values"][0]["key"], "HELP");
    assert_eq!(page["isLast"], false);
    assert!(
        page["nextPage"]
            .as_str()
            .expect("nextPage")
            .contains("startAt=3")
    );

    let filtered = api
        .get("/project/search?keys=mkt&keys=MOB&expand=lead,insight")
        .await;
    let filtered = expect(&filtered, StatusCode::OK);
    assert_schema("PageBeanProject", filtered);
    assert_eq!(filtered["total"], 2);
    assert!(filtered["values"][0]["lead"]["accountId"].is_string());
    assert!(
        filtered["values"][0]["insight"]["totalIssueCount"]
            .as_u64()
            .expect("count")
            > 0
    );

    let query = api.get("/project/search?query=desk").await;
    assert_eq!(expect(&query, StatusCode::OK)["values"][0]["key"], "HELP");

    let capped = api.get("/project/search?maxResults=1000").await;
    assert_eq!(expect(&capped, StatusCode::OK)["maxResults"], 100);

    let none = api.get("/project/search?query=zzz").await;
    assert_error_message(expect(&none, StatusCode::NOT_FOUND), "No projects");
    let bad = api.get("/project/search?orderBy=colour").await;
    expect(&bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn project_by_key_or_id() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let by_key = api.get("/project/DEMO").await;
    let project = expect(&by_key, StatusCode::OK);
    assert_schema("Project", project);
    assert_eq!(project["key"], "DEMO");
    assert_eq!(project["issueTypes"].as_array().expect("types").len(), 5);
    let id = project["id"].as_str().expect("id").to_owned();
    let by_id = api.get(&format!("/project/{id}")).await;
    assert_eq!(expect(&by_id, StatusCode::OK)["key"], "DEMO");
    let missing = api.get("/project/NOPE").await;
    assert_error_message(expect(&missing, StatusCode::NOT_FOUND), "NOPE");
}

#[tokio::test]
async fn fields_issue_types_and_statuses() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let fields = api.get("/field").await;
    let fields = expect(&fields, StatusCode::OK);
    assert_schema_each("FieldDetails", fields);
    let find = |id: &str| {
        fields
            .as_array()
            .expect("array")
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("field {id}"))
    };
    assert_eq!(find("summary")["navigable"], true);
    assert_eq!(find("comment")["navigable"], false);
    let points = find("customfield_10010");
    assert_eq!(points["custom"], true);
    assert_eq!(points["schema"]["customId"], 10010);
    assert!(
        points["clauseNames"]
            .as_array()
            .expect("clauses")
            .contains(&json!("cf[10010]"))
    );
    let kinds: Vec<&str> = fields
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["custom"] == true)
        .map(|f| f["schema"]["custom"].as_str().expect("type"))
        .collect();
    for kind in [
        "select",
        "multiselect",
        "cascadingselect",
        "userpicker",
        "textfield",
        "textarea",
        "float",
        "datepicker",
        "labels",
    ] {
        assert!(
            kinds.iter().any(|k| k.ends_with(&format!(":{kind}"))),
            "{kind}"
        );
    }

    let search = api.get("/field/search?type=custom&maxResults=3").await;
    let search = expect(&search, StatusCode::OK);
    assert_schema("PageBeanField", search);
    assert_eq!(search["total"], 10, "nine custom fields and Sprint");
    assert_eq!(search["isLast"], false);
    let by_query = api.get("/field/search?query=story").await;
    assert_eq!(
        expect(&by_query, StatusCode::OK)["values"][0]["name"],
        "Story Points"
    );
    let bad = api.get("/field/search?type=weird").await;
    expect(&bad, StatusCode::BAD_REQUEST);

    let types = api.get("/issuetype").await;
    let types = expect(&types, StatusCode::OK);
    assert_schema_each("IssueTypeDetails", types);
    let names: Vec<&str> = types
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    for name in [
        "Epic",
        "Story",
        "Task",
        "Bug",
        "Sub-task",
        "Service Request",
    ] {
        assert!(names.contains(&name), "{name}");
    }

    let statuses = api.get("/status").await;
    let statuses = expect(&statuses, StatusCode::OK);
    assert_schema_each("StatusDetails", statuses);
    let categories: Vec<&str> = statuses
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["statusCategory"]["key"].as_str().expect("category"))
        .collect();
    for key in ["new", "indeterminate", "done"] {
        assert!(categories.contains(&key));
    }
}

#[tokio::test]
async fn user_searches() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let missing = api.get("/user/search").await;
    assert_error_message(expect(&missing, StatusCode::BAD_REQUEST), "query");
    let bob = api.get("/user/search?query=bob").await;
    let bob = expect(&bob, StatusCode::OK);
    assert_schema_each("User", bob);
    assert_eq!(bob.as_array().expect("array").len(), 1);
    assert_eq!(bob[0]["displayName"], "Bob Builder");
    let id = bob[0]["accountId"].as_str().expect("id").to_owned();
    let by_id = api.get(&format!("/user/search?accountId={id}")).await;
    assert_eq!(
        expect(&by_id, StatusCode::OK)[0]["emailAddress"],
        "bob@example.com"
    );

    let all = api.get("/users/search?maxResults=5").await;
    let all = expect(&all, StatusCode::OK);
    assert_schema_each("User", all);
    assert_eq!(all.as_array().expect("array").len(), 5);
    let rest = api.get("/users/search?startAt=5&maxResults=1000").await;
    let total = 5 + expect(&rest, StatusCode::OK)
        .as_array()
        .expect("array")
        .len();
    assert_eq!(total, 3 + 12, "seeded members and generated users");
}

#[tokio::test]
async fn scopes_are_enforced_per_operation() {
    let sim = start().await;
    let read_only = scoped_token(
        &sim,
        &[
            "read:issue-details:jira",
            "read:audit-log:jira",
            "read:avatar:jira",
            "read:field-configuration:jira",
            "read:issue-meta:jira",
        ],
    );
    let api = Api::gateway_with(&sim, &read_only);
    let search = api.get("/search/jql?jql=project%3DDEMO").await;
    expect(&search, StatusCode::OK);
    let create = api
        .post(
            "/issue",
            &json!({"fields":{"project":{"key":"DEMO"},"issuetype":{"name":"Task"},"summary":"x"}}),
        )
        .await;
    assert_error_message(expect(&create, StatusCode::FORBIDDEN), "scope");
    let projects = api.get("/project/search").await;
    expect(&projects, StatusCode::FORBIDDEN);

    let classic = scoped_token(&sim, &["read:jira-work"]);
    let api = Api::gateway_with(&sim, &classic);
    expect(&api.get("/project/search").await, StatusCode::OK);
    expect(&api.get("/issue/DEMO-1").await, StatusCode::OK);
    expect(
        &api.get("/user/search?query=bob").await,
        StatusCode::FORBIDDEN,
    );
    let unauthenticated = client()
        .get(format!("{}/rest/api/3/issue/DEMO-1", sim.site_url("demo")))
        .send()
        .await
        .expect("request");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oauth_requests_are_charged_per_object_returned() {
    let sim = start().await;
    let tokens = crate::oauth::tokens(&sim).await;
    let api = Api {
        base: format!("{}/rest/api/3", gateway(&sim, "demo")),
        auth: crate::oauth::bearer(&tokens),
    };
    let remaining = |reply: &Reply| -> u64 {
        reply.headers["x-ratelimit-remaining"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number")
    };
    let project = api.get("/project/DEMO").await;
    expect(&project, StatusCode::OK);
    let search = api
        .get("/search/jql?jql=project%3DDEMO&fields=key&maxResults=10")
        .await;
    assert_eq!(
        expect(&search, StatusCode::OK)["issues"]
            .as_array()
            .expect("issues")
            .len(),
        10
    );
    assert_eq!(
        remaining(&project) - remaining(&search),
        1 + 10,
        "base point plus one per issue"
    );
    let users = api.get("/user/search?query=bob").await;
    assert_eq!(
        expect(&users, StatusCode::OK)
            .as_array()
            .expect("users")
            .len(),
        1
    );
    assert_eq!(
        remaining(&search) - remaining(&users),
        1 + 2,
        "two points per user"
    );
    let edit = api
        .put(
            "/issue/DEMO-3",
            &json!({"fields": {"summary": "Charged once"}}),
        )
        .await;
    assert_eq!(
        edit.status,
        StatusCode::FORBIDDEN,
        "the token has no write scope"
    );
}
