//! Customer Service Management: gateway-only routing, detail fields, customers, organizations,
//! products, entitlements, cursor paging, bulk operations with idempotency keys and tasks on the
//! simulator clock, the experimental opt-in and scopes.

use std::collections::BTreeSet;
use std::time::Duration;

use pretty_assertions::assert_eq;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use jiralink_sim::SimHandle;

use crate::{alice_classic, basic, client, scoped_token, start};

fn csm(sim: &SimHandle) -> String {
    let site = sim.control().site("demo").expect("site");
    format!(
        "{}/jsm/csm/cloudid/{}/api/v1",
        sim.api_gateway(),
        site.cloud_id
    )
}

struct Call<'a> {
    method: Method,
    url: String,
    auth: Option<String>,
    opt_in: bool,
    key: Option<&'a str>,
    body: Option<Value>,
}

fn call(method: Method, url: String, sim: &SimHandle) -> Call<'static> {
    Call {
        method,
        url,
        auth: Some(alice_classic(sim)),
        opt_in: false,
        key: None,
        body: None,
    }
}

impl<'a> Call<'a> {
    fn opt_in(mut self) -> Self {
        self.opt_in = true;
        self
    }
    fn key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn auth(mut self, auth: Option<String>) -> Self {
        self.auth = auth;
        self
    }
    async fn send(self) -> (StatusCode, Value) {
        let mut req = client().request(self.method, &self.url);
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        if self.opt_in {
            req = req.header("x-experimentalapi", "opt-in");
        }
        if let Some(k) = self.key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = self.body.as_ref().filter(|b| !b.is_null()) {
            req = req.json(b);
        }
        let res = req.send().await.expect("request completes");
        let status = res.status();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }
}

fn assert_rest_error(body: &Value, status: StatusCode) {
    let e = &body["errors"][0];
    assert_eq!(e["status"], status.as_u16().to_string(), "{body}");
    assert!(e["code"].is_string() && e["title"].is_string() && e["detail"].is_string());
}

async fn customer_id(sim: &SimHandle, email: &str) -> String {
    for region in ["EU", "US", "AU"] {
        let (_, body) = call(
            Method::POST,
            format!("{}/customer/search-by-detail-field?limit=100", csm(sim)),
            sim,
        )
        .body(json!({"fieldName":"Region","value":region}))
        .send()
        .await;
        if let Some(c) = body["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|c| c["email"] == email)
        {
            return c["id"].as_str().expect("id").to_owned();
        }
    }
    panic!("no seeded customer {email}");
}

#[tokio::test]
async fn csm_is_served_on_the_gateway_only_and_needs_credentials() {
    let sim = start().await;
    let (status, body) = call(Method::GET, format!("{}/product", csm(&sim)), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        Method::GET,
        format!("{}/jsm/csm/api/v1/product", sim.site_url("demo")),
        &sim,
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not on the site host");
    let (status, body) = call(Method::GET, format!("{}/product", csm(&sim)), &sim)
        .auth(None)
        .send()
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"code":401,"message":"Unauthorized"}));
}

#[tokio::test]
async fn customer_detail_fields_lifecycle() {
    let sim = start().await;
    let base = format!("{}/customer/details", csm(&sim));
    let (status, body) = call(Method::GET, base.clone(), &sim).send().await;
    assert_eq!(status, StatusCode::OK);
    let region = &body["results"][0];
    assert_eq!(
        region,
        &json!({"name":"Region","type":{"name":"SELECT","options":["AU","EU","US"]},"configuration":{"position":1}})
    );
    let kinds: BTreeSet<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|f| f["type"]["name"].as_str().expect("type"))
        .collect();
    assert!(kinds.len() >= 6, "several types are seeded: {kinds:?}");

    let plan = json!({"name":"Plan","type":{"name":"SELECT","options":["Free","Pro"]}});
    let (status, created) = call(Method::POST, base.clone(), &sim)
        .body(plan.clone())
        .send()
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["name"], "Plan");
    assert_eq!(created["type"]["options"], json!(["Free", "Pro"]));

    let (status, body) = call(Method::POST, base.clone(), &sim)
        .body(plan)
        .send()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_rest_error(&body, StatusCode::CONFLICT);
    for bad in [
        json!({"name":"X","type":{"name":"COLOUR"}}),
        json!({"name":"X","type":{"name":"SELECT"}}),
        json!({"name":"X","type":{"name":"TEXT","options":["a"]}}),
        json!({"name":"","type":{"name":"TEXT"}}),
        json!({"name":"X"}),
    ] {
        let (status, body) = call(Method::POST, base.clone(), &sim)
            .body(bad.clone())
            .send()
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_rest_error(&body, StatusCode::BAD_REQUEST);
    }

    // A value on the field survives a rename but not the removal of its option.
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let (status, _) = call(
        Method::PUT,
        format!("{}/customer/{dana}/details?fieldName=Plan", csm(&sim)),
        &sim,
    )
    .body(json!({"values":["Pro"]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, edited) = call(Method::PUT, format!("{base}/Plan"), &sim)
        .body(json!({"name":"Subscription","options":["Free","Pro","Enterprise"]}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["name"], "Subscription");
    let (_, details) = call(Method::GET, format!("{}/customer/{dana}", csm(&sim)), &sim)
        .send()
        .await;
    assert!(
        details["details"]
            .as_array()
            .expect("details")
            .contains(&json!({"name":"Subscription","values":["Pro"]})),
        "{details}"
    );
    let (status, _) = call(Method::PUT, format!("{base}/Subscription"), &sim)
        .body(json!({"name":"Subscription","options":["Free"]}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, details) = call(Method::GET, format!("{}/customer/{dana}", csm(&sim)), &sim)
        .send()
        .await;
    assert!(
        !details.to_string().contains("Subscription"),
        "removed option dropped the value: {details}"
    );

    let (status, _) = call(Method::DELETE, format!("{base}/Subscription"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(Method::DELETE, format!("{base}/Subscription"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_rest_error(&body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn customer_detail_values_are_validated() {
    let sim = start().await;
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let url = |field: &str| format!("{}/customer/{dana}/details?fieldName={field}", csm(&sim));
    let (status, body) = call(Method::PUT, url("Region"), &sim)
        .body(json!({"values":["US"]}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"name":"Region","values":["US"]}));
    for (field, values, want) in [
        ("Region", json!(["Mars"]), StatusCode::BAD_REQUEST),
        ("Region", json!(["US", "EU"]), StatusCode::BAD_REQUEST),
        ("Seats", json!(["many"]), StatusCode::BAD_REQUEST),
        ("Nope", json!(["x"]), StatusCode::NOT_FOUND),
    ] {
        let (status, body) = call(Method::PUT, url(field), &sim)
            .body(json!({ "values": values }))
            .send()
            .await;
        assert_eq!(status, want, "{field} {values}: {body}");
        assert_rest_error(&body, want);
    }
    let (status, _) = call(
        Method::PUT,
        format!("{}/customer/{dana}/details", csm(&sim)),
        &sim,
    )
    .body(json!({"values":["US"]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "fieldName is required");
    let (status, _) = call(
        Method::GET,
        format!("{}/customer/qm:nobody:0", csm(&sim)),
        &sim,
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, details) = call(Method::GET, format!("{}/customer/{dana}", csm(&sim)), &sim)
        .send()
        .await;
    assert_eq!(
        details["details"][0],
        json!({"name":"Region","values":["US"]})
    );
}

#[tokio::test]
async fn search_by_detail_field_pages_every_match_once() {
    let sim = start().await;
    let url = format!("{}/customer/search-by-detail-field", csm(&sim));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_url = match &cursor {
            Some(c) => format!("{url}?limit=2&cursor={c}"),
            None => format!("{url}?limit=2"),
        };
        let (status, body) = call(Method::POST, page_url, &sim)
            .body(json!({"fieldName":"region","value":"eu"}))
            .send()
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().expect("results");
        assert!(results.len() <= 2);
        seen.extend(
            results
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match body.get("nextPageCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats");
    assert_eq!(seen.len(), 8, "23 seeded customers, every third in EU");
    let (status, _) = call(Method::POST, format!("{url}?cursor=garbage"), &sim)
        .body(json!({"fieldName":"Region","value":"EU"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(Method::POST, url, &sim)
        .body(json!({"fieldName":"Nope","value":"EU"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn customer_accounts_need_the_opt_in_and_round_trip() {
    let sim = start().await;
    let url = format!("{}/customer", csm(&sim));
    let new = json!({"email":"new.person@customer.example","displayName":"New Person"});
    let (status, body) = call(Method::POST, url.clone(), &sim)
        .body(new.clone())
        .send()
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_rest_error(&body, StatusCode::PRECONDITION_FAILED);

    let (status, created) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .body(new.clone())
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("qm:"));
    assert_eq!(created["displayName"], "New Person");
    let (status, _) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .body(new)
        .send()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(Method::POST, url, &sim)
        .opt_in()
        .body(json!({"email":"not-an-email","displayName":"X"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let account = format!("{}/customer/account/{id}", csm(&sim));
    let (status, got) = call(Method::GET, account.clone(), &sim)
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (status, updated) = call(Method::PUT, account.clone(), &sim)
        .opt_in()
        .body(json!({"displayName":"Renamed Person"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["displayName"], "Renamed Person");
    assert_eq!(updated["email"], "new.person@customer.example");
    let (status, _) = call(Method::PUT, account.clone(), &sim)
        .opt_in()
        .body(json!({"email":"dana.lopez@customer.example"}))
        .send()
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "e-mail taken by another customer"
    );
    let (status, _) = call(Method::DELETE, account.clone(), &sim)
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(Method::GET, account.clone(), &sim)
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(Method::DELETE, account, &sim).opt_in().send().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jsm_customers_are_csm_customers() {
    let sim = start().await;
    let (status, jsm) = call(
        Method::POST,
        format!("{}/rest/servicedeskapi/customer", sim.site_url("demo")),
        &sim,
    )
    .body(json!({"email":"shared@customer.example","displayName":"Shared Customer"}))
    .send()
    .await;
    assert_eq!(status, StatusCode::CREATED, "{jsm}");
    let id = jsm["accountId"].as_str().expect("id");
    let (status, account) = call(
        Method::GET,
        format!("{}/customer/account/{id}", csm(&sim)),
        &sim,
    )
    .opt_in()
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["email"], "shared@customer.example");
}

#[tokio::test]
async fn profiles_combine_account_details_and_organizations() {
    let sim = start().await;
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let (status, profile) = call(
        Method::GET,
        format!("{}/customer/profile/{dana}", csm(&sim)),
        &sim,
    )
    .opt_in()
    .send()
    .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["account"]["email"], "dana.lopez@customer.example");
    assert_eq!(
        profile["organizations"],
        json!([{"id":"1","name":"Acme Widgets"}])
    );
    assert_eq!(
        profile["details"][0],
        json!({"name":"Region","values":["EU"]})
    );

    let (status, fetched) = call(
        Method::POST,
        format!("{}/customer/profile/fetch", csm(&sim)),
        &sim,
    )
    .opt_in()
    .body(json!({"customerIds":[dana, "qm:unknown:0"]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["results"].as_array().expect("results").len(), 1);

    let (status, org) = call(
        Method::GET,
        format!("{}/organization/profile/1", csm(&sim)),
        &sim,
    )
    .opt_in()
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["organization"], json!({"id":"1","name":"Acme Widgets"}));
    assert_eq!(org["customers"].as_array().expect("customers").len(), 5);
    assert_eq!(
        org["details"],
        json!([{"name":"Industry","values":["Manufacturing"]}])
    );

    let ids: Vec<String> = (1..=26).map(|i| i.to_string()).collect();
    let (status, body) = call(
        Method::POST,
        format!("{}/organization/profile/fetch", csm(&sim)),
        &sim,
    )
    .opt_in()
    .body(json!({ "organizationIds": ids }))
    .send()
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "at most 25 organization profiles"
    );
    assert_rest_error(&body, StatusCode::BAD_REQUEST);
    let (status, body) = call(
        Method::POST,
        format!("{}/organization/profile/fetch", csm(&sim)),
        &sim,
    )
    .opt_in()
    .body(json!({ "organizationIds": ids[..25] }))
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"].as_array().expect("results").len(), 6);
    let (status, _) = call(
        Method::GET,
        format!("{}/customer/profile/{dana}", csm(&sim)),
        &sim,
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn organizations_round_trip() {
    let sim = start().await;
    let base = csm(&sim);
    let (status, created) = call(Method::POST, format!("{base}/organization"), &sim)
        .opt_in()
        .body(json!({"name":"Cyberdyne"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(id, "7");
    let (status, _) = call(Method::POST, format!("{base}/organization"), &sim)
        .opt_in()
        .body(json!({"name":"cyberdyne"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(Method::POST, format!("{base}/organization"), &sim)
        .opt_in()
        .body(json!({"name":""}))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, detail) = call(
        Method::PUT,
        format!("{base}/organization/{id}/details?fieldName=Employees"),
        &sim,
    )
    .body(json!({"values":["250"]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let (status, got) = call(Method::GET, format!("{base}/organization/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        got,
        json!({"id":id,"name":"Cyberdyne","details":[{"name":"Employees","values":["250"]}]})
    );
    let (status, renamed) = call(Method::PUT, format!("{base}/organization/{id}"), &sim)
        .opt_in()
        .body(json!({"name":"Cyberdyne Systems"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["name"], "Cyberdyne Systems");
    let (status, fetched) = call(Method::POST, format!("{base}/organization/fetch"), &sim)
        .opt_in()
        .body(json!({"organizationIds":[id, "1", "999"]}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fetched["results"],
        json!([{"id":id,"name":"Cyberdyne Systems"},{"id":"1","name":"Acme Widgets"}])
    );
    let (status, _) = call(Method::DELETE, format!("{base}/organization/{id}"), &sim)
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(Method::GET, format!("{base}/organization/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_rest_error(&body, StatusCode::NOT_FOUND);
    let (status, fields) = call(Method::GET, format!("{base}/organization/details"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fields["results"][0]["name"], "Industry");
}

#[tokio::test]
async fn products_page_by_cursor_and_round_trip() {
    let sim = start().await;
    let base = format!("{}/product", csm(&sim));
    for i in 0..7 {
        let (status, body) = call(Method::POST, base.clone(), &sim)
            .body(json!({ "name": format!("Extra product {i}") }))
            .send()
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}?limit=3&cursor={c}"),
            None => format!("{base}?limit=3"),
        };
        let (status, body) = call(Method::GET, url, &sim).send().await;
        assert_eq!(status, StatusCode::OK);
        pages += 1;
        names.extend(
            body["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|p| p["name"].as_str().expect("name").to_owned()),
        );
        match body.get("nextPageCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 11, "4 seeded + 7 created");
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), 11);
    for bad in ["limit=0", "limit=101", "cursor=%%%"] {
        let (status, _) = call(Method::GET, format!("{base}?{bad}"), &sim)
            .send()
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let (status, created) = call(Method::POST, base.clone(), &sim)
        .body(json!({"name":"Acme Drone"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().expect("id");
    let (status, _) = call(Method::POST, base.clone(), &sim)
        .body(json!({"name":"acme drone"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, renamed) = call(Method::PUT, format!("{base}/{id}"), &sim)
        .body(json!({"name":"Acme Drone X"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed, json!({"id":id,"name":"Acme Drone X"}));
    let (status, got) = call(Method::GET, format!("{base}/{id}"), &sim).send().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, renamed);
    let (status, _) = call(Method::DELETE, format!("{base}/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(Method::GET, format!("{base}/{id}"), &sim).send().await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn entitlements_link_customers_and_organizations_to_products() {
    let sim = start().await;
    let base = csm(&sim);
    let (_, products) = call(Method::GET, format!("{base}/product"), &sim)
        .send()
        .await;
    let product = products["results"][2]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let url = format!("{base}/customer/{dana}/entitlement");
    let (status, created) = call(Method::POST, url.clone(), &sim)
        .body(json!({ "productId": product }))
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["customerId"], dana.as_str());
    assert_eq!(created["product"]["name"], "Acme Cloud Sync");
    let (status, _) = call(Method::POST, url.clone(), &sim)
        .body(json!({ "productId": product }))
        .send()
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(Method::POST, url.clone(), &sim)
        .body(json!({ "productId": "nope" }))
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, mine) = call(Method::GET, url, &sim).send().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        mine["results"].as_array().expect("results").len(),
        2,
        "seeded + new"
    );
    let (status, org) = call(
        Method::GET,
        format!("{base}/organization/1/entitlement"),
        &sim,
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["results"][0]["organizationId"], "1");

    let id = created["id"].as_str().expect("id");
    let (status, got) = call(Method::GET, format!("{base}/entitlement/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    let (status, all) = call(Method::GET, format!("{base}/entitlements"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["results"].as_array().expect("results").len(), 5);
    let (status, _) = call(Method::DELETE, format!("{base}/entitlement/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(Method::GET, format!("{base}/entitlement/{id}"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn profiles(n: usize, prefix: &str) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"operationType":"UPSERT","payload":{
                "email": format!("{prefix}{i}@bulk.example"),
                "displayName": format!("Bulk {i}"),
                "details": [{"name":"Region","values":["AU"]}],
                "associateOrganizations": {"organizationIds": [4]}
            }})
        })
        .collect();
    json!({ "customerProfiles": items })
}

async fn task(sim: &SimHandle, id: &str) -> (StatusCode, Value) {
    call(Method::GET, format!("{}/tasks/{id}", csm(sim)), sim)
        .opt_in()
        .send()
        .await
}

#[tokio::test]
async fn bulk_profile_task_runs_on_the_sim_clock() {
    let sim = start().await;
    let url = format!("{}/customer/profile/bulk", csm(&sim));
    let mut body = profiles(2, "p");
    body["customerProfiles"].as_array_mut().expect("list").push(
        json!({"operationType":"UPSERT","payload":{
            "email":"bad@bulk.example","details":[{"name":"Region","values":["Mars"]}]
        }}),
    );
    let (status, submitted) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .key("k-1")
        .body(body.clone())
        .send()
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted}");
    let id = submitted["id"].as_str().expect("id").to_owned();
    assert!(
        submitted["statusUrl"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/api/v1/tasks/{id}"))
    );

    let (status, t) = task(&sim, &id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["status"], "NOT_STARTED");
    assert_eq!(t["type"], "BULK_CUSTOMER_PROFILE_CREATE_UPDATE");
    assert_eq!(t["createdAt"], "2026-01-05T09:30:00Z");
    let (_, org) = call(
        Method::GET,
        format!("{}/organization/profile/4", csm(&sim)),
        &sim,
    )
    .opt_in()
    .send()
    .await;
    assert_eq!(
        org["customers"],
        json!([]),
        "nothing applied before the task runs"
    );

    sim.control().advance(Duration::from_secs(1));
    let (_, t) = task(&sim, &id).await;
    assert_eq!(t["status"], "IN_PROGRESS");
    assert_eq!(t["updatedAt"], "2026-01-05T09:30:01Z");

    sim.control().advance(Duration::from_secs(2));
    let (_, t) = task(&sim, &id).await;
    assert_eq!(t["status"], "FINISHED");
    assert_eq!(t["updatedAt"], "2026-01-05T09:30:03Z");
    assert_eq!(
        t["failures"],
        json!([{"entity":"CUSTOMER","entityId":"bad@bulk.example","operation":"UPSERT","error":"The value 'Mars' is not valid for the SELECT detail field 'Region'."}])
    );
    let (_, org) = call(
        Method::GET,
        format!("{}/organization/profile/4", csm(&sim)),
        &sim,
    )
    .opt_in()
    .send()
    .await;
    let emails: Vec<&str> = org["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["email"].as_str().expect("email"))
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"p0@bulk.example") && emails.contains(&"p1@bulk.example"));

    // Replaying the same key and body returns the same task; another body is refused.
    let (status, again) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .key("k-1")
        .body(body)
        .send()
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again["id"], id.as_str());
    let (status, err) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .key("k-1")
        .body(profiles(1, "other"))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_rest_error(&err, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        Method::POST,
        format!("{}/organization/profile/bulk", csm(&sim)),
        &sim,
    )
    .opt_in()
    .key("k-1")
    .body(json!({"organizationProfiles":[{"operationType":"UPSERT","payload":{"name":"X"}}]}))
    .send()
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a key belongs to one endpoint"
    );

    // Kept three days after it ended.
    sim.control()
        .advance(Duration::from_secs(3 * 24 * 3600 - 4));
    assert_eq!(task(&sim, &id).await.0, StatusCode::OK);
    sim.control().advance(Duration::from_secs(4));
    let (status, body) = task(&sim, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_rest_error(&body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bulk_calls_need_opt_in_and_an_idempotency_key_and_respect_item_caps() {
    let sim = start().await;
    let base = csm(&sim);
    let (status, _) = call(Method::POST, format!("{base}/customer/profile/bulk"), &sim)
        .key("k")
        .body(profiles(1, "a"))
        .send()
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, body) = call(Method::POST, format!("{base}/customer/profile/bulk"), &sim)
        .opt_in()
        .body(profiles(1, "a"))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("Idempotency-Key"), "{body}");

    let (status, _) = call(Method::POST, format!("{base}/customer/profile/bulk"), &sim)
        .opt_in()
        .key("big")
        .body(profiles(101, "b"))
        .send()
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "profile bulk takes at most 100"
    );
    let (status, _) = call(Method::POST, format!("{base}/customer/profile/bulk"), &sim)
        .opt_in()
        .key("full")
        .body(profiles(100, "c"))
        .send()
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let accounts = |n: usize| {
        let items: Vec<Value> = (0..n)
            .map(|i| json!({"operationType":"CREATE","payload":{"email":format!("acc{i}@bulk.example"),"displayName":"A"}}))
            .collect();
        json!({ "customers": items })
    };
    let (status, _) = call(Method::POST, format!("{base}/customer/bulk"), &sim)
        .opt_in()
        .key("acc-big")
        .body(accounts(51))
        .send()
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "account bulk takes at most 50"
    );
    let (status, body) = call(Method::POST, format!("{base}/customer/bulk"), &sim)
        .opt_in()
        .key("acc")
        .body(accounts(50))
        .send()
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _) = call(Method::POST, format!("{base}/customer/bulk"), &sim)
        .opt_in()
        .key("bad-op")
        .body(json!({"customers":[{"operationType":"UPSERT","payload":{}}]}))
        .send()
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "accounts take CREATE/UPDATE/DELETE"
    );
    let (status, _) = task(&sim, "no-such-task").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(Method::GET, format!("{base}/tasks/whatever"), &sim)
        .send()
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn at_most_five_tasks_may_be_queued_or_running() {
    let sim = start().await;
    let url = format!("{}/organization/bulk", csm(&sim));
    let body = |i: usize| json!({"organizations":[{"operationType":"CREATE","payload":{"name":format!("Bulk org {i}")}}]});
    for i in 0..5 {
        let key = format!("cap-{i}");
        let (status, _) = call(Method::POST, url.clone(), &sim)
            .opt_in()
            .key(&key)
            .body(body(i))
            .send()
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, err) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .key("cap-5")
        .body(body(5))
        .send()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["errors"][0]["detail"],
        "Maximum number of tasks reached"
    );
    // A replay of an accepted submission is not a new task.
    let (status, _) = call(Method::POST, url.clone(), &sim)
        .opt_in()
        .key("cap-0")
        .body(body(0))
        .send()
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    sim.control().advance(Duration::from_secs(3));
    let (status, _) = call(Method::POST, url, &sim)
        .opt_in()
        .key("cap-5")
        .body(body(5))
        .send()
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "finished tasks free their slots"
    );
    let (_, fetched) = call(
        Method::POST,
        format!("{}/organization/fetch", csm(&sim)),
        &sim,
    )
    .opt_in()
    .body(json!({"organizationIds":["7","8","9","10","11"]}))
    .send()
    .await;
    assert_eq!(fetched["results"].as_array().expect("results").len(), 5);
}

#[tokio::test]
async fn detail_bulk_applies_update_patch_and_delete() {
    let sim = start().await;
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let (status, submitted) = call(
        Method::POST,
        format!("{}/customer/details/bulk", csm(&sim)),
        &sim,
    )
    .opt_in()
    .key("d-1")
    .body(json!({"customers":[
        {"customerId": dana, "operations":[
            {"operationType":"PATCH","fieldName":"Languages","values":["French"]},
            {"operationType":"UPDATE","fieldName":"Seats","values":["40"]},
            {"operationType":"DELETE","fieldName":"Tier"}
        ]},
        {"customerId":"qm:nobody:0","operations":[{"operationType":"DELETE","fieldName":"Tier"}]}
    ]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted}");
    sim.control().advance(Duration::from_secs(3));
    let (_, t) = task(&sim, submitted["id"].as_str().expect("id")).await;
    assert_eq!(t["status"], "FINISHED");
    assert_eq!(t["failures"][0]["entityId"], "qm:nobody:0");
    let (_, details) = call(Method::GET, format!("{}/customer/{dana}", csm(&sim)), &sim)
        .send()
        .await;
    assert_eq!(
        details["details"],
        json!([
            {"name":"Region","values":["EU"]},
            {"name":"Languages","values":["English","German","French"]},
            {"name":"Seats","values":["40"]}
        ])
    );

    let (status, submitted) = call(
        Method::POST,
        format!("{}/organization/details/bulk", csm(&sim)),
        &sim,
    )
    .opt_in()
    .key("d-2")
    .body(json!({"organizations":[{"organizationId": 999, "operations":[]}]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sim.control().advance(Duration::from_secs(3));
    let (_, t) = task(&sim, submitted["id"].as_str().expect("id")).await;
    assert_eq!(t["status"], "FAILED", "every item failed");
}

#[tokio::test]
async fn csm_scopes_are_enforced() {
    let sim = start().await;
    let token = |scopes: &[&str]| basic("alice@example.com", &scoped_token(&sim, scopes));
    let read_products = token(&["read:product:jira-service-management"]);
    let (status, _) = call(Method::GET, format!("{}/product", csm(&sim)), &sim)
        .auth(Some(read_products.clone()))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, "/product", json!({"name":"X"})),
        (Method::GET, "/customer/details", Value::Null),
        (Method::GET, "/entitlements", Value::Null),
        (Method::GET, "/organization/details", Value::Null),
    ] {
        let (status, err) = call(method.clone(), format!("{}{path}", csm(&sim)), &sim)
            .auth(Some(read_products.clone()))
            .body(body)
            .send()
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(err.to_string().contains("jira-service-management"), "{err}");
    }
    let read_tasks = token(&["read:task:jira-service-management"]);
    let (status, _) = call(Method::GET, format!("{}/tasks/x", csm(&sim)), &sim)
        .auth(Some(read_tasks))
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "scope ok, task unknown");
    let (status, _) = call(
        Method::POST,
        format!("{}/customer/profile/bulk", csm(&sim)),
        &sim,
    )
    .auth(Some(read_products))
    .opt_in()
    .key("s")
    .body(profiles(1, "s"))
    .send()
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Runs the 3LO flow for the sample app and returns a bearer access token holding `scopes`.
async fn oauth_token(sim: &SimHandle, scopes: &str) -> String {
    let callback = sim.samples().oauth_callbacks[0].clone();
    let params = [
        ("audience", "api.atlassian.com".to_owned()),
        ("client_id", sim.samples().oauth_client_id.clone()),
        ("scope", scopes.to_owned()),
        ("redirect_uri", callback.clone()),
        ("state", "csm".to_owned()),
        ("response_type", "code".to_owned()),
        ("prompt", "consent".to_owned()),
    ];
    let page = client()
        .get(format!("{}/authorize", sim.auth_server()))
        .query(&params)
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK, "every CSM scope is known");
    let page = page.text().await.expect("page");
    let marker = "name=\"request\" value=\"";
    let start = page.find(marker).expect("request field") + marker.len();
    let request = &page[start..start + page[start..].find('"').expect("quote")];
    let cloud_id = sim
        .control()
        .site("demo")
        .expect("site")
        .cloud_id
        .to_string();
    let consent = client()
        .post(format!("{}/authorize/consent", sim.auth_server()))
        .form(&[
            ("request", request.to_owned()),
            ("decision", "accept".to_owned()),
            ("site", cloud_id),
        ])
        .send()
        .await
        .expect("consent");
    let location = url::Url::parse(
        consent.headers()["location"]
            .to_str()
            .expect("ascii location"),
    )
    .expect("absolute location");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let token: Value = client()
        .post(format!("{}/oauth/token", sim.auth_server()))
        .json(&json!({
            "grant_type": "authorization_code",
            "client_id": sim.samples().oauth_client_id,
            "client_secret": sim.samples().oauth_client_secret,
            "code": code,
            "redirect_uri": callback,
        }))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let granted = token["scope"].as_str().expect("scope");
    for scope in scopes.split_whitespace() {
        assert!(
            granted.split_whitespace().any(|g| g == scope),
            "{scope} granted: {granted}"
        );
    }
    format!(
        "Bearer {}",
        token["access_token"].as_str().expect("access token")
    )
}

#[tokio::test]
async fn an_oauth_app_granted_the_csm_scopes_can_call_every_route_family() {
    let sim = start().await;
    let csm_scopes: Vec<&str> = jiralink_sim::scopes::EXTRA_SCOPES
        .iter()
        .copied()
        .filter(|s| s.ends_with(":jira-service-management"))
        .collect();
    let bearer = oauth_token(&sim, &csm_scopes.join(" ")).await;
    let dana = customer_id(&sim, "dana.lopez@customer.example").await;
    let base = csm(&sim);
    let as_app = |method: Method, path: String| {
        call(method, format!("{base}{path}"), &sim).auth(Some(bearer.clone()))
    };
    let cases: Vec<(Call<'_>, &str)> = vec![
        (
            as_app(Method::GET, "/customer/details".into()),
            "customer detail fields",
        ),
        (
            as_app(
                Method::PUT,
                format!("/customer/{dana}/details?fieldName=Region"),
            )
            .body(json!({"values": ["US"]})),
            "customer detail values",
        ),
        (
            as_app(Method::GET, format!("/customer/{dana}")),
            "customer details",
        ),
        (
            as_app(Method::GET, format!("/customer/account/{dana}")).opt_in(),
            "customer accounts",
        ),
        (
            as_app(Method::GET, format!("/customer/profile/{dana}")).opt_in(),
            "customer profiles",
        ),
        (
            as_app(Method::GET, format!("/customer/{dana}/entitlement")),
            "customer entitlements",
        ),
        (
            as_app(Method::GET, "/organization/details".into()),
            "organization detail fields",
        ),
        (
            as_app(Method::GET, "/organization/1".into()),
            "organization details",
        ),
        (
            as_app(Method::GET, "/organization/profile/1".into()).opt_in(),
            "organization profiles",
        ),
        (as_app(Method::GET, "/product".into()), "products"),
        (as_app(Method::GET, "/entitlements".into()), "entitlements"),
        (
            as_app(Method::POST, "/customer/profile/bulk".into())
                .opt_in()
                .key("oauth-profiles")
                .body(profiles(2, "oauth")),
            "customer profile bulk",
        ),
        (
            as_app(Method::POST, "/organization/profile/bulk".into())
                .opt_in()
                .key("oauth-orgs")
                .body(json!({"organizationProfiles": [{"operationType": "UPSERT",
                    "payload": {"name": "OAuth Org", "details": []}}]})),
            "organization profile bulk",
        ),
    ];
    let mut task_id = None;
    for (request, family) in cases {
        let (status, body) = request.send().await;
        assert!(status.is_success(), "{family}: {status} {body}");
        if family == "customer profile bulk" {
            task_id = body["id"].as_str().map(str::to_owned);
        }
    }
    let task_id = task_id.expect("bulk task id");
    let (status, body) = as_app(Method::GET, format!("/tasks/{task_id}"))
        .opt_in()
        .send()
        .await;
    assert_eq!(status, StatusCode::OK, "tasks: {body}");
}
