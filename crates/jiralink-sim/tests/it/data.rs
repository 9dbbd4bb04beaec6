//! Site data: determinism, dump/load and regeneration.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::platform::{Api, expect};
use crate::{client, start, start_with};
use jiralink_sim::SimConfig;

async fn snapshot(api: &Api) -> Vec<Value> {
    let reply = api
        .post(
            "/search/jql",
            &json!({"jql": "project in (DEMO, MOB, MKT, HELP) ORDER BY key", "fields": ["*all"], "expand": "changelog", "maxResults": 100}),
        )
        .await;
    expect(&reply, StatusCode::OK)["issues"]
        .as_array()
        .expect("issues")
        .clone()
}

#[tokio::test]
async fn same_seed_gives_identical_data_and_another_seed_differs() {
    let a = start().await;
    let b = start().await;
    let c = start_with(SimConfig {
        seed: 2,
        ..SimConfig::for_tests()
    })
    .await;
    let issues_a = snapshot(&Api::alice(&a, "3")).await;
    let issues_b = snapshot(&Api::alice(&b, "3")).await;
    assert_eq!(issues_a.len(), 96);
    // Links carry each simulator's port; compare without them.
    let strip = |issues: &[Value], sim: &jiralink_sim::SimHandle| -> String {
        serde_json::to_string(issues)
            .expect("json")
            .replace(&sim.base_url(), "BASE")
    };
    assert_eq!(strip(&issues_a, &a), strip(&issues_b, &b));
    let issues_c = snapshot(&Api::alice(&c, "3")).await;
    let summaries = |issues: &[Value]| -> Vec<Value> {
        issues
            .iter()
            .map(|i| i["fields"]["summary"].clone())
            .collect()
    };
    assert_ne!(summaries(&issues_a), summaries(&issues_c));
}

#[tokio::test]
async fn dump_and_load_round_trip() {
    let sim = start().await;
    let api = Api::alice(&sim, "3");
    let created = api
        .post("/issue", &json!({"fields": {"project": {"key": "HELP"}, "issuetype": {"name": "Service Request"}, "summary": "Need a laptop"}}))
        .await;
    let key = expect(&created, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    expect(
        &api.put(
            "/issue/MOB-2",
            &json!({"fields": {"summary": "Edited generated issue"}}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    expect(&api.delete("/issue/MKT-2").await, StatusCode::NO_CONTENT);
    expect(&api.post(&format!("/issue/{key}/comment"), &json!({"body": {"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"On it"}]}]}})).await, StatusCode::CREATED);
    let before = snapshot(&api).await;

    let dump = sim.control().dump();
    let listed = dump["sites"]["demo"]["issues"]
        .as_array()
        .expect("issues")
        .len();
    assert_eq!(listed, 2, "only changed and created issues are dumped");
    let over_http: Value = client()
        .get(format!("{}/_sim/state/dump", sim.base_url()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(over_http, dump);

    let fresh = start().await;
    let loaded = client()
        .post(format!("{}/_sim/state/load", fresh.base_url()))
        .json(&dump)
        .send()
        .await
        .expect("request");
    assert_eq!(loaded.status(), StatusCode::NO_CONTENT);
    let fresh_api = Api::alice(&fresh, "3");
    let after = snapshot(&fresh_api).await;
    let strip = |issues: &[Value], sim: &jiralink_sim::SimHandle| {
        serde_json::to_string(issues)
            .expect("json")
            .replace(&sim.base_url(), "BASE")
    };
    assert_eq!(strip(&before, &sim), strip(&after, &fresh));
    expect(&fresh_api.get("/issue/MKT-2").await, StatusCode::NOT_FOUND);
    let next = fresh_api
        .post("/issue", &json!({"fields": {"project": {"key": "HELP"}, "issuetype": {"name": "Incident"}, "summary": "After load"}}))
        .await;
    let next_key = expect(&next, StatusCode::CREATED)["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_ne!(next_key, key, "counters are restored");

    let other_seed = start_with(SimConfig {
        seed: 9,
        ..SimConfig::for_tests()
    })
    .await;
    assert!(
        other_seed.control().load(dump.clone()).is_err(),
        "a dump belongs to its seed"
    );
    let garbage = client()
        .post(format!("{}/_sim/state/load", fresh.base_url()))
        .json(&json!({"version": 99}))
        .send()
        .await
        .expect("request");
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sites_can_be_regenerated_with_many_issues() {
    let sim = start().await;
    let generated = client()
        .post(format!("{}/_sim/state/generate", sim.base_url()))
        .json(&json!({"site": "demo", "issues": 20000}))
        .send()
        .await
        .expect("request");
    assert_eq!(generated.status(), StatusCode::NO_CONTENT);
    let api = Api::alice(&sim, "3");
    let count = api
        .post(
            "/search/approximate-count",
            &json!({"jql": "project in (DEMO, MOB, MKT, HELP)"}),
        )
        .await;
    assert_eq!(expect(&count, StatusCode::OK)["count"], 20000);
    let last = api.get("/issue/HELP-3334?fields=summary").await;
    expect(&last, StatusCode::OK);
    let unknown = client()
        .post(format!("{}/_sim/state/generate", sim.base_url()))
        .json(&json!({"site": "nope", "issues": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // The second site has its own small data set.
    let acme = Api {
        base: format!("{}/rest/api/3", sim.site_url("acme")),
        auth: crate::alice_classic(&sim),
    };
    let projects = acme.get("/project/search").await;
    assert_eq!(expect(&projects, StatusCode::OK)["total"], 4);
}

#[tokio::test]
async fn dump_and_load_carry_identity_jsm_and_csm_state() {
    use jiralink_sim::control::{NewApiToken, NewUser, TokenKindInput};
    let sim = start().await;
    let control = sim.control();
    control
        .add_user(NewUser {
            email: "dora@example.com".to_owned(),
            display_name: "Dora Dumped".to_owned(),
            time_zone: Some("Europe/Paris".to_owned()),
            sites: vec!["demo".to_owned()],
            active: None,
        })
        .expect("user");
    let classic = control
        .add_api_token(NewApiToken {
            email: "dora@example.com".to_owned(),
            kind: TokenKindInput::Classic,
            scopes: Vec::new(),
            expires_in_secs: None,
            label: Some("dumped".to_owned()),
        })
        .expect("classic token");
    let scoped = control
        .add_api_token(NewApiToken {
            email: "dora@example.com".to_owned(),
            kind: TokenKindInput::Scoped,
            scopes: vec!["read:jira-user".to_owned()],
            expires_in_secs: Some(3600),
            label: None,
        })
        .expect("scoped token");
    let alice = crate::alice_classic(&sim);
    let org = client()
        .post(format!(
            "{}/rest/servicedeskapi/organization",
            sim.site_url("demo")
        ))
        .header("authorization", &alice)
        .header("x-experimentalapi", "opt-in")
        .json(&json!({"name": "Dumped Org"}))
        .send()
        .await
        .expect("organization");
    assert_eq!(org.status(), StatusCode::CREATED);
    let cloud_id = control.site("demo").expect("site").cloud_id;
    let csm = format!("{}/jsm/csm/cloudid/{cloud_id}/api/v1", sim.api_gateway());
    let product = client()
        .post(format!("{csm}/product"))
        .header("authorization", &alice)
        .json(&json!({"name": "Dumped Product"}))
        .send()
        .await
        .expect("product");
    assert_eq!(product.status(), StatusCode::CREATED);

    let dump = control.dump();
    let fresh = start().await;
    let fresh_control = fresh.control();
    assert!(
        fresh_control
            .state()
            .directory()
            .user_by_email("dora@example.com")
            .is_none()
    );
    fresh_control.load(dump.clone()).expect("load");

    // The user and the classic token work in the fresh simulator.
    let myself: Value = client()
        .get(format!("{}/rest/api/3/myself", fresh.site_url("demo")))
        .header(
            "authorization",
            crate::basic("dora@example.com", &classic.token),
        )
        .send()
        .await
        .expect("myself")
        .json()
        .await
        .expect("json");
    assert_eq!(myself["displayName"], "Dora Dumped");
    // The scoped token keeps its scopes and expiry.
    let dir = fresh_control.state().directory().clone();
    let record = &dir.tokens[&scoped.id];
    assert!(record.expires_at.is_some());
    assert!(matches!(
        &record.kind,
        jiralink_sim::identity::ApiTokenKind::Scoped { scopes } if scopes.contains("read:jira-user")
    ));
    // The JSM organization and the CSM product are there.
    let orgs: Value = client()
        .get(format!(
            "{}/rest/servicedeskapi/organization",
            fresh.site_url("demo")
        ))
        .header("authorization", crate::alice_classic(&fresh))
        .header("x-experimentalapi", "opt-in")
        .send()
        .await
        .expect("organizations")
        .json()
        .await
        .expect("json");
    assert!(
        orgs["values"]
            .as_array()
            .expect("values")
            .iter()
            .any(|o| o["name"] == "Dumped Org"),
        "{orgs}"
    );
    let fresh_csm = format!("{}/jsm/csm/cloudid/{cloud_id}/api/v1", fresh.api_gateway());
    let products: Value = client()
        .get(format!("{fresh_csm}/product?limit=50"))
        .header("authorization", crate::alice_classic(&fresh))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("json");
    assert!(
        products.to_string().contains("Dumped Product"),
        "{products}"
    );
    // A second dump of the loaded state is the same state.
    assert_eq!(fresh_control.dump()["identity"], dump["identity"]);
}
