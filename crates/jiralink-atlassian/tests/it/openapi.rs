//! Every operation the client performs exists in Atlassian's OpenAPI documents with the same
//! method, and every query parameter (and request body property) the client may send is
//! declared there. The documents are read from the simulator's fixtures
//! (`crates/jiralink-sim/tests/fixtures/openapi`), or from `$JIRALINK_SPECS_DIR`.

use std::path::PathBuf;

use jiralink_atlassian::{
    Api, BulkFetchRequest, ChangelogRequest, IssueInput, SearchRequest, TransitionInput,
    WebhookEventKind, WebhookSpec, WorklogInput, operation,
};
use serde_json::{Value, json};

fn specs_dir() -> PathBuf {
    std::env::var_os("JIRALINK_SPECS_DIR").map_or_else(
        // Atlassian's documents, kept in the repository as the simulator's test fixtures.
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../jiralink-sim/tests/fixtures/openapi"),
        PathBuf::from,
    )
}

pub(crate) fn load(name: &str) -> Value {
    let path = specs_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); set JIRALINK_SPECS_DIR",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("spec is JSON")
}

fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.trim_start_matches('#');
            spec.pointer(pointer)
                .unwrap_or_else(|| panic!("unresolved {r}"))
        }
        None => value,
    }
}

/// The query parameters an operation declares (path-level and operation-level).
fn declared_query(spec: &Value, path_item: &Value, op: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for list in [path_item.get("parameters"), op.get("parameters")]
        .into_iter()
        .flatten()
    {
        for p in list.as_array().into_iter().flatten() {
            let p = resolve(spec, p);
            if p["in"] == "query" {
                names.push(p["name"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    names
}

#[test]
fn every_operation_and_query_parameter_is_declared() {
    let platform = load("jira-platform-v3.openapi.json");
    let jsm = load("jira-service-management.openapi.json");
    let mut checked = 0;
    for op in operation::ALL {
        let (spec, full_path) = match op.api {
            Api::Platform => (&platform, format!("/rest/api/3{}", op.path)),
            Api::ServiceDesk => (&jsm, format!("/rest/servicedeskapi{}", op.path)),
            // No OpenAPI document exists locally for these.
            Api::Csm | Api::Gateway | Api::Site => continue,
        };
        let path_item = spec["paths"]
            .get(&full_path)
            .unwrap_or_else(|| panic!("{} {full_path} is not in the spec", op.id));
        let method = op.method.as_str().to_ascii_lowercase();
        let spec_op = path_item
            .get(&method)
            .unwrap_or_else(|| panic!("{method} {full_path} is not in the spec"));
        assert_eq!(spec_op["operationId"], op.id, "{full_path}");
        let declared = declared_query(spec, path_item, spec_op);
        for q in op.query {
            assert!(
                declared.iter().any(|d| d == q),
                "{}: query parameter {q} is not declared ({declared:?})",
                op.id
            );
        }
        checked += 1;
    }
    let documented = operation::ALL
        .iter()
        .filter(|op| matches!(op.api, Api::Platform | Api::ServiceDesk))
        .count();
    assert!(documented >= 15, "the catalogue lost operations");
    assert_eq!(checked, documented, "platform and JSM operations checked");
}

/// The top-level property names of a request body schema.
fn body_properties(spec: &Value, path: &str, method: &str) -> Vec<String> {
    let schema =
        &spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    let schema = resolve(spec, schema);
    schema["properties"]
        .as_object()
        .expect("object schema")
        .keys()
        .cloned()
        .collect()
}

fn assert_keys_declared(body: &Value, declared: &[String], what: &str) {
    for key in body.as_object().expect("object body").keys() {
        assert!(
            declared.contains(key),
            "{what}: body property {key} not declared"
        );
    }
}

#[test]
fn request_bodies_use_declared_property_names() {
    let spec = load("jira-platform-v3.openapi.json");
    let search = serde_json::to_value(SearchRequest {
        jql: "x".into(),
        fields: vec!["a".into()],
        expand: Some("names".into()),
        properties: vec!["p".into()],
        fields_by_keys: true,
        max_results: Some(1),
        reconcile_issues: vec![1],
    })
    .unwrap();
    let mut search_page = search.clone();
    search_page["nextPageToken"] = json!("t");
    assert_keys_declared(
        &search_page,
        &body_properties(&spec, "/rest/api/3/search/jql", "post"),
        "search/jql",
    );
    assert_keys_declared(
        &json!({"jql": "x"}),
        &body_properties(&spec, "/rest/api/3/search/approximate-count", "post"),
        "approximate-count",
    );
    let bulk = serde_json::to_value(BulkFetchRequest {
        issue_ids_or_keys: vec!["A-1".into()],
        fields: vec!["a".into()],
        expand: vec!["names".into()],
        properties: vec!["p".into()],
        fields_by_keys: true,
    })
    .unwrap();
    assert_keys_declared(
        &bulk,
        &body_properties(&spec, "/rest/api/3/issue/bulkfetch", "post"),
        "bulkfetch",
    );
    let mut changelog = serde_json::to_value(ChangelogRequest {
        issue_ids_or_keys: vec!["A-1".into()],
        field_ids: vec!["status".into()],
        max_results: Some(10),
    })
    .unwrap();
    changelog["nextPageToken"] = json!("t");
    assert_keys_declared(
        &changelog,
        &body_properties(&spec, "/rest/api/3/changelog/bulkfetch", "post"),
        "changelog/bulkfetch",
    );
    let input = serde_json::to_value(IssueInput {
        fields: json!({"summary": "s"}).as_object().unwrap().clone(),
        update: json!({"labels": []}).as_object().unwrap().clone(),
        properties: vec![json!({"key": "k", "value": 1})],
    })
    .unwrap();
    for method in ["post", "put"] {
        let path = if method == "post" {
            "/rest/api/3/issue"
        } else {
            "/rest/api/3/issue/{issueIdOrKey}"
        };
        assert_keys_declared(&input, &body_properties(&spec, path, method), path);
    }
}

#[test]
fn write_bodies_use_declared_property_names() {
    let spec = load("jira-platform-v3.openapi.json");
    let adf = json!({"type": "doc", "version": 1, "content": []});
    let transition = serde_json::to_value(TransitionInput {
        id: "31".into(),
        fields: json!({"resolution": {"name": "Done"}})
            .as_object()
            .unwrap()
            .clone(),
        update: json!({"comment": []}).as_object().unwrap().clone(),
    })
    .unwrap();
    let worklog = serde_json::to_value(WorklogInput {
        time_spent_seconds: 60,
        started: "2026-01-05T09:30:00.000+0000".into(),
        comment: Some(adf.clone()),
    })
    .unwrap();
    // The bodies the client writes for these, as the request-shape tests pin them.
    let cases = [
        ("/rest/api/3/issue/bulk", json!({"issueUpdates": []})),
        ("/rest/api/3/issue/{issueIdOrKey}/transitions", transition),
        ("/rest/api/3/issue/{issueIdOrKey}/worklog", worklog),
        (
            "/rest/api/3/issue/{issueIdOrKey}/comment",
            json!({"body": adf}),
        ),
        (
            "/rest/api/3/issueLink",
            json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": "A-1"}, "outwardIssue": {"key": "A-2"}}),
        ),
    ];
    for (path, body) in cases {
        assert_keys_declared(&body, &body_properties(&spec, path, "post"), path);
    }
}

#[test]
fn service_management_bodies_use_declared_property_names() {
    let spec = load("jira-service-management.openapi.json");
    let request = serde_json::to_value(jiralink_atlassian::NewCustomerRequest {
        service_desk_id: "1".into(),
        request_type_id: "2".into(),
        request_field_values: serde_json::Map::new(),
        raise_on_behalf_of: Some("a".into()),
    })
    .unwrap();
    // The bodies the client writes for these.
    let cases = [
        ("/rest/servicedeskapi/request", request),
        (
            "/rest/servicedeskapi/customer",
            json!({"email": "a@b.example", "displayName": "A"}),
        ),
        (
            "/rest/servicedeskapi/servicedesk/{serviceDeskId}/customer",
            json!({"accountIds": ["a"]}),
        ),
        ("/rest/servicedeskapi/organization", json!({"name": "Org"})),
        (
            "/rest/servicedeskapi/servicedesk/{serviceDeskId}/organization",
            json!({"organizationId": 1}),
        ),
    ];
    for (path, body) in cases {
        assert_keys_declared(&body, &body_properties(&spec, path, "post"), path);
    }
}

/// A component schema's property names and required properties.
fn schema_of(spec: &Value, name: &str) -> (Vec<String>, Vec<String>) {
    let schema = &spec["components"]["schemas"][name];
    let properties = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has no properties"))
        .keys()
        .cloned()
        .collect();
    let required = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    (properties, required)
}

/// `body` has only properties `name` declares, and every one it requires.
fn assert_matches_schema(spec: &Value, body: &Value, name: &str) {
    let (properties, required) = schema_of(spec, name);
    assert_keys_declared(body, &properties, name);
    for r in required {
        assert!(body.get(&r).is_some(), "{name}: required {r} missing");
    }
}

/// The component a response of `method path` with `status` refers to.
fn response_schema_name(spec: &Value, path: &str, method: &str, status: &str) -> String {
    spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        ["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path} {status} has no schema"))
        .trim_start_matches("#/components/schemas/")
        .to_owned()
}

#[test]
fn webhook_bodies_and_the_answers_read_match_the_document() {
    let spec = load("jira-platform-v3.openapi.json");
    let path = "/rest/api/3/webhook";
    // The bodies the client writes, as the request-shape tests pin them.
    let spec_body = serde_json::to_value(WebhookSpec {
        events: vec![
            WebhookEventKind::IssueCreated,
            WebhookEventKind::IssueUpdated,
        ],
        jql_filter: "project = PROJ".into(),
        field_ids_filter: vec!["summary".into()],
    })
    .unwrap();
    let registration = json!({"url": "https://jiralink.example/hooks", "webhooks": [spec_body]});
    assert_eq!(
        spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookRegistrationDetails"
    );
    assert_matches_schema(&spec, &registration, "WebhookRegistrationDetails");
    assert_matches_schema(&spec, &registration["webhooks"][0], "WebhookDetails");
    // Events the document lists are written exactly as it spells them.
    let listed =
        &spec["components"]["schemas"]["WebhookDetails"]["properties"]["events"]["items"]["enum"];
    for event in registration["webhooks"][0]["events"].as_array().unwrap() {
        assert!(listed.as_array().unwrap().contains(event), "{event}");
    }
    let ids = json!({"webhookIds": [10000, 10001]});
    for (p, method) in [(path, "delete"), ("/rest/api/3/webhook/refresh", "put")] {
        assert_keys_declared(&ids, &body_properties(&spec, p, method), p);
        assert_matches_schema(&spec, &ids, "ContainerForWebhookIDs");
    }

    // Every member the client reads from an answer is declared in the answer's schema.
    let read: [(&str, &str, &str, &[&str]); 4] = [
        (path, "post", "200", &["webhookRegistrationResult"]),
        (
            path,
            "get",
            "200",
            &["values", "startAt", "maxResults", "total", "isLast"],
        ),
        (
            "/rest/api/3/webhook/refresh",
            "put",
            "200",
            &["expirationDate"],
        ),
        (
            "/rest/api/3/webhook/failed",
            "get",
            "200",
            &["values", "maxResults", "next"],
        ),
    ];
    for (p, method, status, members) in read {
        let name = response_schema_name(&spec, p, method, status);
        let (properties, _) = schema_of(&spec, &name);
        for m in members {
            assert!(
                properties.iter().any(|d| d == m),
                "{name}: {m} not declared"
            );
        }
    }
    // The registration outcome, a listed webhook and a failed delivery.
    for (name, members) in [
        ("RegisteredWebhook", &["createdWebhookId", "errors"][..]),
        (
            "Webhook",
            &[
                "id",
                "events",
                "jqlFilter",
                "fieldIdsFilter",
                "url",
                "expirationDate",
            ][..],
        ),
        ("FailedWebhook", &["id", "body", "url", "failureTime"][..]),
    ] {
        let (properties, _) = schema_of(&spec, name);
        for m in members {
            assert!(
                properties.iter().any(|d| d == m),
                "{name}: {m} not declared"
            );
        }
    }
}
