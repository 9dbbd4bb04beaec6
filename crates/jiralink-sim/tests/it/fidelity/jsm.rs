//! Every JSM operation, successful and failing, validated against the JSM document.

use reqwest::Method;
use serde_json::json;

use super::{Area, Fidelity, error_sweep};

const API: &str = "/rest/servicedeskapi";

#[tokio::test]
async fn jsm_operations_match_the_openapi_document() {
    let fid = Fidelity::start().await;
    let get = |path: &str| fid.site(Method::GET, &format!("{API}{path}"));
    let post = |path: &str| fid.site(Method::POST, &format!("{API}{path}"));
    let delete = |path: &str| fid.site(Method::DELETE, &format!("{API}{path}"));

    // Service desks and request types.
    get("/servicedesk").send().await.expect(200);
    get("/servicedesk")
        .query(&[("start", "x")])
        .send()
        .await
        .expect(400);
    get("/servicedesk/1").send().await.expect(200);
    get("/servicedesk/NOPE").send().await.expect(404);
    get("/servicedesk/HELP/requesttype")
        .query(&[("expand", "field")])
        .send()
        .await
        .expect(200);
    get("/servicedesk/9/requesttype").send().await.expect(404);
    get("/servicedesk/1/requesttype/2")
        .query(&[("expand", "field")])
        .send()
        .await
        .expect(200);
    get("/servicedesk/1/requesttype/99")
        .send()
        .await
        .expect(404);
    get("/servicedesk/1/requesttype/2/field")
        .send()
        .await
        .expect(200);
    get("/servicedesk/1/requesttype/4/field")
        .send()
        .await
        .expect(200);
    get("/servicedesk/9/requesttype/1/field")
        .send()
        .await
        .expect(404);
    get("/requesttype").opt_in().send().await.expect(200);
    get("/requesttype").send().await.expect(412);

    // Customers.
    let customer = post("/customer")
        .json(json!({"email": "fidelity@customer.example", "displayName": "Fidelity Customer"}))
        .send()
        .await;
    customer.expect(201);
    let customer_id = customer.str("/accountId");
    post("/customer")
        .query(&[("strictConflictStatusCode", "true")])
        .json(json!({"email": "fidelity@customer.example", "displayName": "Again"}))
        .send()
        .await
        .expect(409);
    post("/customer")
        .json(json!({"email": "not-an-email", "displayName": "X"}))
        .send()
        .await
        .expect(400);
    let desk_customers = "/servicedesk/1/customer";
    post(desk_customers)
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(204);
    post("/servicedesk/404/customer")
        .json(json!({"accountIds": []}))
        .send()
        .await
        .expect(404);
    get(desk_customers)
        .opt_in()
        .query(&[("query", "fidelity"), ("limit", "5")])
        .send()
        .await
        .expect(200);
    get(desk_customers).send().await.expect(412);
    delete(desk_customers)
        .opt_in()
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(204);
    delete("/servicedesk/404/customer")
        .opt_in()
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(404);

    // Organizations.
    get("/organization")
        .query(&[("limit", "2")])
        .send()
        .await
        .expect(200);
    get("/organization")
        .query(&[("accountId", "qm:nobody:0")])
        .send()
        .await
        .expect(404);
    let org = post("/organization")
        .json(json!({"name": "Tyrell"}))
        .send()
        .await;
    org.expect(201);
    let org_id = org.str("/id");
    post("/organization")
        .json(json!({"name": ""}))
        .send()
        .await
        .expect(400);
    get(&format!("/organization/{org_id}"))
        .send()
        .await
        .expect(200);
    get("/organization/99999").send().await.expect(404);
    let users = format!("/organization/{org_id}/user");
    post(&users)
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(204);
    post(&users)
        .json(json!({"accountIds": ["qm:nobody:0"]}))
        .send()
        .await
        .expect(400);
    get(&users).send().await.expect(200);
    get("/organization/99999/user").send().await.expect(404);
    delete(&users)
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(204);
    delete("/organization/99999/user")
        .json(json!({"accountIds": [customer_id]}))
        .send()
        .await
        .expect(404);
    let desk_orgs = "/servicedesk/1/organization";
    let numeric: i64 = org_id.parse().expect("numeric id");
    post(desk_orgs)
        .json(json!({"organizationId": numeric}))
        .send()
        .await
        .expect(204);
    post(desk_orgs)
        .json(json!({"organizationId": 99999}))
        .send()
        .await
        .expect(404);
    get(desk_orgs).send().await.expect(200);
    get("/servicedesk/9/organization").send().await.expect(404);
    delete(desk_orgs)
        .json(json!({"organizationId": numeric}))
        .send()
        .await
        .expect(204);
    delete(desk_orgs)
        .json(json!({"organizationId": 99999}))
        .send()
        .await
        .expect(404);
    delete(&format!("/organization/{org_id}"))
        .send()
        .await
        .expect(204);
    delete(&format!("/organization/{org_id}"))
        .send()
        .await
        .expect(404);

    // Requests.
    let request = post("/request")
        .json(json!({
            "serviceDeskId": "1", "requestTypeId": "2",
            "requestFieldValues": {
                "summary": "Need a second monitor", "description": "My *old* one flickers",
                "customfield_10011": {"id": "10100"}, "customfield_10017": "2026-02-01"
            },
            "raiseOnBehalfOf": customer_id,
        }))
        .send()
        .await;
    request.expect(201);
    let key = request.str("/issueKey");
    post("/request")
        .json(json!({"serviceDeskId": "1", "requestTypeId": "2", "requestFieldValues": {"summary": "x"}}))
        .send()
        .await
        .expect(400);
    post("/request")
        .json(
            json!({"serviceDeskId": "1", "requestTypeId": "4", "requestFieldValues": {},
                     "form": {"answers": {"1": {"text": "New starter"}}}}),
        )
        .send()
        .await
        .expect(422);
    get("/request")
        .query(&[
            ("requestOwnership", "ALL_REQUESTS"),
            ("limit", "3"),
            (
                "expand",
                "participant,status,requestType,serviceDesk,action",
            ),
        ])
        .send()
        .await
        .expect(200);
    get("/request")
        .query(&[("serviceDeskId", "9")])
        .send()
        .await
        .expect(404);
    get("/request")
        .query(&[("requestStatus", "HALF_OPEN")])
        .send()
        .await
        .expect(400);
    get(&format!("/request/{key}"))
        .query(&[(
            "expand",
            "participant,status,sla,requestType,serviceDesk,attachment,action,comment",
        )])
        .send()
        .await
        .expect(200);
    get("/request/HELP-1").send().await.expect(200);
    get("/request/DEMO-1").send().await.expect(404);
    get(&format!("/request/{key}/status"))
        .send()
        .await
        .expect(200);
    get("/request/HELP-2/status").send().await.expect(200);
    get("/request/DEMO-1/status").send().await.expect(404);
    let comments = format!("/request/{key}/comment");
    let comment = post(&comments)
        .json(json!({"body": "We are on it", "public": true}))
        .send()
        .await;
    comment.expect(201);
    let comment_id = comment.body["id"].to_string().trim_matches('"').to_owned();
    post(&comments)
        .json(json!({"body": "Router *again*", "public": false}))
        .send()
        .await
        .expect(201);
    post(&comments)
        .json(json!({"body": "no flag"}))
        .send()
        .await
        .expect(400);
    get(&comments)
        .query(&[("expand", "renderedBody")])
        .send()
        .await
        .expect(200);
    get("/request/DEMO-1/comment").send().await.expect(404);
    get(&format!("{comments}/{comment_id}"))
        .query(&[("expand", "renderedBody")])
        .send()
        .await
        .expect(200);
    get(&format!("{comments}/99999")).send().await.expect(404);

    // Through the gateway with the sample scoped token.
    fid.gateway(Method::GET, &format!("{API}/servicedesk"))
        .auth(&crate::alice_classic(&fid.sim))
        .send()
        .await
        .expect(200);

    let calls: Vec<(Method, String)> = [
        (Method::GET, "/servicedesk"),
        (Method::GET, "/servicedesk/1"),
        (Method::GET, "/servicedesk/1/requesttype"),
        (Method::GET, "/servicedesk/1/requesttype/1"),
        (Method::GET, "/servicedesk/1/requesttype/1/field"),
        (Method::GET, "/requesttype"),
        (Method::POST, "/customer"),
        (Method::GET, "/servicedesk/1/customer"),
        (Method::POST, "/servicedesk/1/customer"),
        (Method::DELETE, "/servicedesk/1/customer"),
        (Method::GET, "/organization"),
        (Method::POST, "/organization"),
        (Method::GET, "/organization/1"),
        (Method::DELETE, "/organization/1"),
        (Method::GET, "/organization/1/user"),
        (Method::POST, "/organization/1/user"),
        (Method::DELETE, "/organization/1/user"),
        (Method::GET, "/servicedesk/1/organization"),
        (Method::POST, "/servicedesk/1/organization"),
        (Method::DELETE, "/servicedesk/1/organization"),
        (Method::GET, "/request"),
        (Method::POST, "/request"),
        (Method::GET, "/request/HELP-1"),
        (Method::GET, "/request/HELP-1/status"),
        (Method::GET, "/request/HELP-1/comment"),
        (Method::POST, "/request/HELP-1/comment"),
        (Method::GET, "/request/HELP-1/comment/1"),
    ]
    .into_iter()
    .map(|(m, p)| (m, format!("{API}{p}")))
    .collect();
    error_sweep(&fid, Area::Jsm, &calls).await;

    super::jsm_requests::exercise(&fid).await;
    let (ops, validated) = fid.finish(Area::Jsm);
    eprintln!("jsm: {ops} operations, {validated} responses validated");
}
