//! The OpenAPI 3.1 document of the REST API, served at `/v1/openapi.json`.
//!
//! It is written by hand (`openapi/v1.json`) and held to the router: the tests below fail when
//! a route exists without its operation or the other way round, when an operation lacks its
//! error responses, or when an error code the server can send is not listed. The integration
//! tests check every real response body against the schemas.

/// The document, as served.
pub(crate) const DOCUMENT: &str = include_str!("../openapi/v1.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use jiralink_app::AppError;
    use pretty_assertions::assert_eq;
    use serde_json::Value;

    use super::DOCUMENT;
    use crate::error::WebError;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi/v1.json is JSON")
    }

    fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn the_document_has_exactly_the_routers_operations() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let routed: BTreeSet<(String, String)> = crate::api::operations()
            .into_iter()
            .map(|(method, path)| (method.to_string(), path))
            .collect();
        assert_eq!(
            routed.len(),
            crate::api::operations().len(),
            "a route twice"
        );
        assert_eq!(documented_operations(&doc), routed);
    }

    #[test]
    fn every_operation_documents_its_success_and_errors() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let at = format!("{method} {path}");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{at}: no success response"
                );
                for status in ["401", "default"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415"] {
                        assert!(responses.contains_key(status), "{at}: no {status}");
                    }
                }
                let params: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                assert_eq!(
                    path.contains("{id}"),
                    params.contains(&"id"),
                    "{at}: path parameters"
                );
                // Every success answers JSON, but for downloads, which name their media
                // types.
                for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('2')) {
                    if let Some(content) = response.get("content").and_then(Value::as_object) {
                        assert!(
                            content.contains_key("application/json") || path.ends_with("/output"),
                            "{at} {status}: not JSON"
                        );
                    }
                }
                assert!(op["operationId"].is_string(), "{at}: operationId");
            }
        }
    }

    #[test]
    fn every_reference_resolves_and_every_schema_compiles() {
        let doc = document();
        let text = DOCUMENT;
        for (i, _) in text.match_indices("\"$ref\": \"#/") {
            let rest = &text[i + 9..];
            let target = &rest[..rest.find('"').unwrap()];
            assert!(
                doc.pointer(target.trim_start_matches('#')).is_some(),
                "{target} does not resolve"
            );
        }
        for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
            let mut schema = schema.clone();
            schema["components"] = doc["components"].clone();
            jsonschema::draft202012::new(&schema)
                .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
        }
    }

    #[test]
    fn every_error_code_the_server_sends_is_listed() {
        let doc = document();
        let listed: BTreeSet<&str> = doc["components"]["schemas"]["Error"]["properties"]["error"]
            ["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let description = doc["info"]["description"].as_str().unwrap();
        let mut sent = vec![
            WebError::Unauthorized,
            WebError::InvalidJson(String::new()),
            WebError::UnknownField(String::new()),
            WebError::InvalidQuery(String::new()),
            WebError::UnsupportedMediaType,
            WebError::BodyTooLarge,
            WebError::RecordsTooLarge,
            WebError::UnsupportedRecordsType,
            WebError::InvalidPath,
            WebError::InvalidRequest(axum::http::StatusCode::BAD_REQUEST),
            WebError::NotFound,
            WebError::MethodNotAllowed,
            WebError::Internal,
            WebError::AuthServerMismatch,
            WebError::Io(String::new()),
            WebError::Forbidden(String::new()),
        ];
        let name = || "n".to_owned();
        sent.extend(
            [
                AppError::Validation(jiralink_domain::ValidationErrors::new()),
                AppError::ConnectionNotFound { reference: name() },
                AppError::OAuthClientNotFound { reference: name() },
                AppError::ConnectionNameTaken { name: name() },
                AppError::OAuthClientNameTaken { name: name() },
                AppError::OAuthClientInUse {
                    name: name(),
                    connections: vec![],
                },
                AppError::KeyMissing {
                    expected: vec![],
                    path: name(),
                },
                AppError::SecretUnreadable {
                    what: name(),
                    owner: name(),
                },
                AppError::Conflict {
                    kind: "connection",
                    expected: 1,
                    current: 2,
                },
                AppError::ConnectionOffline {
                    name: name(),
                    reason: name(),
                    since: name(),
                },
                AppError::OAuthStateInvalid,
                AppError::AuthorizationDenied {
                    name: name(),
                    error: name(),
                    description: None,
                },
                AppError::OAuthProviderUnavailable {
                    name: name(),
                    error: name(),
                    description: None,
                },
                AppError::OAuthProviderError {
                    name: name(),
                    error: name(),
                    description: None,
                },
                AppError::OAuthClientRejected {
                    name: name(),
                    client: name(),
                },
                AppError::SiteNotGranted {
                    name: name(),
                    site: name(),
                    granted: vec![],
                },
                AppError::SiteChoiceNeeded {
                    name: name(),
                    granted: vec![],
                },
                AppError::ReauthorizationRequired { name: name() },
                AppError::ConnectionNeedsAuthorization { name: name() },
                AppError::ChangedDuringTest { name: name() },
                AppError::Authorization(name()),
                AppError::ExportNotFound { reference: name() },
                AppError::RunNotFound { reference: name() },
                AppError::ExportNameTaken { name: name() },
                AppError::ConnectionInUse {
                    name: name(),
                    exports: vec![],
                },
                AppError::ExportRunning {
                    name: name(),
                    run: name(),
                    started: name(),
                },
                AppError::OutputExpired { run: name() },
                AppError::FlowNotFound { reference: name() },
                AppError::FlowNameTaken { name: name() },
                AppError::FlowRunning {
                    name: name(),
                    run: name(),
                    started: name(),
                },
                AppError::FlowRunNotFound { reference: name() },
                AppError::ImportNotFound { reference: name() },
                AppError::ListenerNotFound { reference: name() },
                AppError::ListenerNameTaken { name: name() },
                AppError::WebhookRegistration {
                    action: "register the webhook",
                    message: name(),
                },
                AppError::Store(jiralink_store::StoreError::InUse { kind: "export" }),
                AppError::InUse {
                    what: "export",
                    users: vec![],
                },
                AppError::ImportNameTaken { name: name() },
                AppError::UserNotFound { reference: name() },
                AppError::SubscriptionNotFound,
                AppError::SubscriptionExists,
                AppError::NotificationNotFound,
                AppError::ChannelNotConfigured { channel: "webhook" },
                AppError::ImportRunning {
                    name: name(),
                    run: name(),
                    started: name(),
                },
                AppError::ImportFailed {
                    code: "jira",
                    message: name(),
                    run: None,
                },
                AppError::ExportFailed {
                    code: "jira_error",
                    message: name(),
                    run: None,
                },
                AppError::InvalidInput(name()),
                AppError::Config(name()),
                AppError::Io(name()),
            ]
            .into_iter()
            .map(WebError::App),
        );
        for error in &sent {
            let (code, status, _) = error.parts();
            assert!(listed.contains(code), "{code} is not in the Error schema");
            let row = format!("| `{code}` | {} |", status.as_u16());
            assert!(description.contains(&row), "{row} is not in the code table");
        }
    }
}
