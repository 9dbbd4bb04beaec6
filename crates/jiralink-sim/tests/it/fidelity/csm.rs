//! Every CSM operation, successful and failing, validated against the hand-written schemas in
//! `tests/fixtures/schemas/csm.json` (there is no CSM OpenAPI document here).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Area, Fidelity, error_sweep};

#[tokio::test]
async fn csm_operations_match_the_hand_written_schemas() {
    let fid = Fidelity::start().await;
    let get = |path: &str| fid.csm(Method::GET, path);
    let post = |path: &str| fid.csm(Method::POST, path);
    let put = |path: &str| fid.csm(Method::PUT, path);
    let delete = |path: &str| fid.csm(Method::DELETE, path);

    // Detail field definitions, for customers and organizations alike.
    for kind in ["customer", "organization"] {
        let fields = format!("/{kind}/details");
        get(&fields).send().await.expect(200);
        let plan = json!({"name": "Plan", "type": {"name": "SELECT", "options": ["Free", "Pro"]}});
        post(&fields).json(plan.clone()).send().await.expect(200);
        post(&fields).json(plan).send().await.expect(409);
        post(&fields)
            .invalid_json(json!({"name": "X", "type": {"name": "COLOUR"}}))
            .send()
            .await
            .expect(400);
        put(&format!("{fields}/Plan"))
            .json(json!({"name": "Subscription", "options": ["Free", "Pro", "Enterprise"]}))
            .send()
            .await
            .expect(200);
        put(&format!("{fields}/Nope"))
            .json(json!({"name": "Other"}))
            .send()
            .await
            .expect(404);
        delete(&format!("{fields}/Subscription"))
            .send()
            .await
            .expect(204);
        delete(&format!("{fields}/Subscription"))
            .send()
            .await
            .expect(404);
    }

    // Customer accounts, details and profiles.
    let created = post("/customer")
        .opt_in()
        .json(json!({"email": "fidelity@customer.example", "displayName": "Fidelity"}))
        .send()
        .await;
    created.expect(201);
    let id = created.str("/id");
    post("/customer")
        .opt_in()
        .json(json!({"email": "fidelity@customer.example", "displayName": "Again"}))
        .send()
        .await
        .expect(409);
    post("/customer")
        .json(json!({"email": "other@customer.example", "displayName": "X"}))
        .send()
        .await
        .expect(412);
    put(&format!("/customer/{id}/details"))
        .query(&[("fieldName", "Region")])
        .json(json!({"values": ["EU"]}))
        .send()
        .await
        .expect(200);
    put(&format!("/customer/{id}/details"))
        .query(&[("fieldName", "Region")])
        .json(json!({"values": ["Mars"]}))
        .send()
        .await
        .expect(400);
    get(&format!("/customer/{id}")).send().await.expect(200);
    get("/customer/qm:nobody:0").send().await.expect(404);
    post("/customer/search-by-detail-field")
        .query(&[("limit", "2")])
        .json(json!({"fieldName": "Region", "value": "eu"}))
        .send()
        .await
        .expect(200);
    post("/customer/search-by-detail-field")
        .json(json!({"fieldName": "Nope", "value": "EU"}))
        .send()
        .await;
    let account = format!("/customer/account/{id}");
    get(&account).opt_in().send().await.expect(200);
    get("/customer/account/qm:nobody:0")
        .opt_in()
        .send()
        .await
        .expect(404);
    put(&account)
        .opt_in()
        .json(json!({"displayName": "Fidelity Renamed"}))
        .send()
        .await
        .expect(200);
    put(&account)
        .opt_in()
        .json(json!({"email": "not-an-email"}))
        .send()
        .await
        .expect(400);
    get(&format!("/customer/profile/{id}"))
        .opt_in()
        .send()
        .await
        .expect(200);
    get("/customer/profile/qm:nobody:0")
        .opt_in()
        .send()
        .await
        .expect(404);
    post("/customer/profile/fetch")
        .opt_in()
        .json(json!({"customerIds": [id, "qm:nobody:0"]}))
        .send()
        .await
        .expect(200);
    let many: Vec<String> = (0..101).map(|i| format!("qm:x:{i}")).collect();
    post("/customer/profile/fetch")
        .opt_in()
        .json(json!({ "customerIds": many }))
        .send()
        .await
        .expect(400);

    let doomed = post("/customer")
        .opt_in()
        .json(json!({"email": "doomed@customer.example", "displayName": "Doomed"}))
        .send()
        .await;
    let doomed = format!("/customer/account/{}", doomed.str("/id"));
    delete(&doomed).opt_in().send().await.expect(204);
    delete(&doomed).opt_in().send().await.expect(404);

    // Products.
    let products = get("/product").query(&[("limit", "2")]).send().await;
    products.expect(200);
    let product = products.str("/results/0/id");
    get("/product")
        .query(&[("limit", "0")])
        .send()
        .await
        .expect(400);
    let drone = post("/product")
        .json(json!({"name": "Acme Drone"}))
        .send()
        .await;
    drone.expect(201);
    let drone_id = drone.str("/id");
    post("/product")
        .json(json!({"name": "acme drone"}))
        .send()
        .await
        .expect(409);
    get(&format!("/product/{drone_id}"))
        .send()
        .await
        .expect(200);
    get("/product/nope").send().await.expect(404);
    put(&format!("/product/{drone_id}"))
        .json(json!({"name": "Acme Drone X"}))
        .send()
        .await
        .expect(200);
    put("/product/nope")
        .json(json!({"name": "Y"}))
        .send()
        .await
        .expect(404);

    // Entitlements.
    let mine = format!("/customer/{id}/entitlement");
    let entitlement = post(&mine).json(json!({"productId": product})).send().await;
    entitlement.expect(201);
    let entitlement_id = entitlement.str("/id");
    post(&mine)
        .json(json!({"productId": product}))
        .send()
        .await
        .expect(409);
    get(&mine).send().await.expect(200);
    get("/customer/qm:nobody:0/entitlement")
        .send()
        .await
        .expect(404);
    post("/organization/1/entitlement")
        .json(json!({"productId": drone_id}))
        .send()
        .await
        .expect(201);
    post("/organization/1/entitlement")
        .json(json!({"productId": "nope"}))
        .send()
        .await;
    get("/organization/1/entitlement").send().await.expect(200);
    get("/organization/99999/entitlement")
        .send()
        .await
        .expect(404);
    get("/entitlements")
        .query(&[("limit", "3")])
        .send()
        .await
        .expect(200);
    get("/entitlements")
        .query(&[("cursor", "garbage")])
        .send()
        .await
        .expect(400);
    let one = format!("/entitlement/{entitlement_id}");
    get(&one).send().await.expect(200);
    get("/entitlement/nope").send().await.expect(404);
    delete(&one).send().await.expect(204);
    delete(&one).send().await.expect(404);
    delete(&format!("/product/{drone_id}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/product/{drone_id}"))
        .send()
        .await
        .expect(404);

    // Organizations.
    let org = post("/organization")
        .opt_in()
        .json(json!({"name": "Cyberdyne"}))
        .send()
        .await;
    org.expect(201);
    let org_id = org.str("/id");
    post("/organization")
        .opt_in()
        .json(json!({"name": "cyberdyne"}))
        .send()
        .await
        .expect(409);
    let org_path = format!("/organization/{org_id}");
    put(&format!("{org_path}/details"))
        .query(&[("fieldName", "Employees")])
        .json(json!({"values": ["250"]}))
        .send()
        .await
        .expect(200);
    put(&format!("{org_path}/details"))
        .query(&[("fieldName", "Employees")])
        .json(json!({"values": ["many"]}))
        .send()
        .await
        .expect(400);
    get(&org_path).send().await.expect(200);
    get("/organization/99999").send().await.expect(404);
    put(&org_path)
        .opt_in()
        .json(json!({"name": "Cyberdyne Systems"}))
        .send()
        .await
        .expect(200);
    put("/organization/99999")
        .opt_in()
        .json(json!({"name": "Nobody"}))
        .send()
        .await
        .expect(404);
    post("/organization/fetch")
        .opt_in()
        .json(json!({"organizationIds": [org_id, "1", "99999"]}))
        .send()
        .await
        .expect(200);
    let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    post("/organization/fetch")
        .opt_in()
        .json(json!({ "organizationIds": many }))
        .send()
        .await
        .expect(400);
    get("/organization/profile/1")
        .opt_in()
        .send()
        .await
        .expect(200);
    get("/organization/profile/99999")
        .opt_in()
        .send()
        .await
        .expect(404);
    post("/organization/profile/fetch")
        .opt_in()
        .json(json!({"organizationIds": ["1", "2"]}))
        .send()
        .await
        .expect(200);
    let many: Vec<String> = (0..26).map(|i| i.to_string()).collect();
    post("/organization/profile/fetch")
        .opt_in()
        .json(json!({ "organizationIds": many }))
        .send()
        .await
        .expect(400);
    delete(&org_path).opt_in().send().await.expect(204);
    delete(&org_path).opt_in().send().await.expect(404);

    // Bulk operations and their tasks.
    let bulks: [(&str, Value); 6] = [
        (
            "/customer/bulk",
            json!({"customers": [{"operationType": "CREATE", "payload": {"email": "bulk@customer.example", "displayName": "Bulk"}}]}),
        ),
        (
            "/customer/details/bulk",
            json!({"customers": [{"customerId": id, "operations": [{"operationType": "UPDATE", "fieldName": "Region", "values": ["US"]}]}]}),
        ),
        (
            "/customer/profile/bulk",
            json!({"customerProfiles": [{"operationType": "UPSERT", "payload": {"email": "profile@customer.example", "displayName": "Profile", "details": [{"name": "Region", "values": ["AU"]}], "associateOrganizations": {"organizationIds": ["1"]}}}]}),
        ),
        (
            "/organization/bulk",
            json!({"organizations": [{"operationType": "CREATE", "payload": {"name": "Bulk org"}}]}),
        ),
        (
            "/organization/details/bulk",
            json!({"organizations": [{"organizationId": "1", "operations": [{"operationType": "UPDATE", "fieldName": "Employees", "values": ["10"]}]}]}),
        ),
        (
            "/organization/profile/bulk",
            json!({"organizationProfiles": [{"operationType": "UPSERT", "payload": {"name": "Profile org", "details": [{"name": "Employees", "values": ["5"]}]}}]}),
        ),
    ];
    let mut task = String::new();
    for (n, (path, body)) in bulks.into_iter().enumerate() {
        let accepted = post(path)
            .opt_in()
            .header("idempotency-key", &format!("fidelity-{n}"))
            .json(body.clone())
            .send()
            .await;
        accepted.expect(202);
        task = accepted.str("/id");
        post(path).opt_in().json(body).send().await.expect(400);
        // Finish the task so the next submission stays under the cap of running tasks.
        fid.sim.control().advance(std::time::Duration::from_secs(5));
    }
    get(&format!("/tasks/{task}"))
        .opt_in()
        .send()
        .await
        .expect(200);
    get("/tasks/nope").opt_in().send().await.expect(404);

    let calls: Vec<(Method, String)> = [
        (Method::GET, "/customer/details"),
        (Method::POST, "/customer/details"),
        (Method::PUT, "/customer/details/Region"),
        (Method::DELETE, "/customer/details/Region"),
        (Method::GET, &format!("/customer/{id}")),
        (Method::PUT, &format!("/customer/{id}/details")),
        (Method::POST, "/customer/search-by-detail-field"),
        (Method::POST, "/customer"),
        (Method::GET, &format!("/customer/account/{id}")),
        (Method::PUT, &format!("/customer/account/{id}")),
        (Method::DELETE, &format!("/customer/account/{id}")),
        (Method::GET, &format!("/customer/profile/{id}")),
        (Method::POST, "/customer/profile/fetch"),
        (Method::GET, &format!("/customer/{id}/entitlement")),
        (Method::POST, &format!("/customer/{id}/entitlement")),
        (Method::GET, "/organization/details"),
        (Method::POST, "/organization/details"),
        (Method::PUT, "/organization/details/Industry"),
        (Method::DELETE, "/organization/details/Industry"),
        (Method::POST, "/organization"),
        (Method::GET, "/organization/1"),
        (Method::PUT, "/organization/1"),
        (Method::DELETE, "/organization/1"),
        (Method::PUT, "/organization/1/details"),
        (Method::POST, "/organization/fetch"),
        (Method::GET, "/organization/profile/1"),
        (Method::POST, "/organization/profile/fetch"),
        (Method::GET, "/organization/1/entitlement"),
        (Method::POST, "/organization/1/entitlement"),
        (Method::GET, "/product"),
        (Method::POST, "/product"),
        (Method::GET, &format!("/product/{product}")),
        (Method::PUT, &format!("/product/{product}")),
        (Method::DELETE, &format!("/product/{product}")),
        (Method::GET, "/entitlements"),
        (Method::GET, "/entitlement/x"),
        (Method::DELETE, "/entitlement/x"),
        (Method::POST, "/customer/bulk"),
        (Method::POST, "/customer/details/bulk"),
        (Method::POST, "/customer/profile/bulk"),
        (Method::POST, "/organization/bulk"),
        (Method::POST, "/organization/details/bulk"),
        (Method::POST, "/organization/profile/bulk"),
        (Method::GET, &format!("/tasks/{task}")),
    ]
    .into_iter()
    .map(|(m, p)| (m, p.to_owned()))
    .collect();
    error_sweep(&fid, Area::Csm, &calls).await;

    let (ops, validated) = fid.finish(Area::Csm);
    eprintln!("csm: {ops} operations, {validated} responses validated");
}
