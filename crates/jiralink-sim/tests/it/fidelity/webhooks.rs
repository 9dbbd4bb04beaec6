//! The dynamic-webhook operations of the platform document, as an OAuth 2.0 app through the
//! gateway. Deliveries themselves are tested in `tests/it/webhooks/`.

use reqwest::Method;
use serde_json::json;

use super::{Area, Fidelity, error_sweep};

pub(super) async fn exercise(fid: &Fidelity) {
    let token = format!(
        "Bearer {}",
        super::oauth::access_token(fid, "read:jira-work manage:jira-webhook").await
    );
    let app = |method: Method, path: &str| {
        fid.gateway(method, &format!("/rest/api/3{path}"))
            .auth(&token)
    };
    let registration = json!({"url": "http://127.0.0.1:9/hook", "webhooks": [
        {"events": ["jira:issue_created", "jira:issue_updated"], "jqlFilter": "project = DEMO",
         "fieldIdsFilter": ["summary"]},
        {"events": ["comment_created"], "jqlFilter": "project = NOSUCH"},
    ]});
    let created = app(Method::POST, "/webhook")
        .json(registration.clone())
        .send()
        .await;
    let id = created.expect(200)["webhookRegistrationResult"][0]["createdWebhookId"]
        .as_u64()
        .expect("created");
    app(Method::GET, "/webhook")
        .query(&[("maxResults", "10")])
        .send()
        .await
        .expect(200);
    app(Method::PUT, "/webhook/refresh")
        .json(json!({"webhookIds": [id]}))
        .send()
        .await
        .expect(200);
    app(Method::GET, "/webhook/failed")
        .query(&[("maxResults", "5")])
        .send()
        .await
        .expect(200);
    app(Method::DELETE, "/webhook")
        .json(json!({"webhookIds": [id]}))
        .send()
        .await
        .expect(202);

    // Errors: bad bodies and parameters, and a Basic caller (not an app).
    app(Method::POST, "/webhook")
        .invalid_json(json!({"webhooks": []}))
        .send()
        .await
        .expect(400);
    app(Method::PUT, "/webhook/refresh")
        .invalid_json(json!({}))
        .send()
        .await
        .expect(400);
    app(Method::DELETE, "/webhook")
        .invalid_json(json!({}))
        .send()
        .await
        .expect(400);
    app(Method::GET, "/webhook/failed")
        .query(&[("after", "soon")])
        .send()
        .await
        .expect(400);
    app(Method::GET, "/webhook")
        .query(&[("startAt", "-1")])
        .send()
        .await
        .expect(400);
    fid.site(Method::POST, "/rest/api/3/webhook")
        .json(registration)
        .send()
        .await
        .expect(403);
    let calls: Vec<(Method, String)> = [
        (Method::GET, "/webhook"),
        (Method::POST, "/webhook"),
        (Method::DELETE, "/webhook"),
        (Method::PUT, "/webhook/refresh"),
        (Method::GET, "/webhook/failed"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("/rest/api/3{p}")))
    .collect();
    error_sweep(fid, Area::Platform, &calls).await;
}
