//! The Service Management writes against the simulator: JSM requests, customers and
//! organizations; CSM profile upserts with an idempotency key, and their tasks.

use std::time::Duration;

use jiralink_atlassian::{AtlassianError, NewCustomerRequest};
use jiralink_domain::ApiType;
use serde_json::{Map, Value, json};

use crate::{sim, sim_client};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[tokio::test]
async fn jsm_requests_customers_and_organizations() {
    let sim = sim().await;
    let client = sim_client(&sim, ApiType::CloudPlatform);
    let types = client.request_types("HELP").await.unwrap();
    let help = types.iter().find(|t| t.name == "Get IT help").unwrap();
    let fields = client.request_type_fields("1", &help.id).await.unwrap();
    assert!(fields.can_raise_on_behalf_of);
    assert!(
        fields
            .request_type_fields
            .iter()
            .any(|f| f.field_id == "summary" && f.required)
    );

    let customer = client
        .create_customer("svc.client@import.example", Some("Svc Client"))
        .await
        .unwrap();
    let again = client
        .create_customer("svc.client@import.example", Some("Svc Client"))
        .await;
    assert!(
        matches!(again, Err(AtlassianError::Conflict { .. })),
        "{again:?}"
    );
    client
        .add_desk_customers("1", std::slice::from_ref(&customer.account_id))
        .await
        .unwrap();
    client
        .add_desk_customers("1", std::slice::from_ref(&customer.account_id))
        .await
        .unwrap();
    let desk = client.desk_customers("1").await.unwrap();
    assert_eq!(
        desk.iter()
            .filter(|u| u.account_id == customer.account_id)
            .count(),
        1
    );

    let created = client
        .create_customer_request(&NewCustomerRequest {
            service_desk_id: "1".into(),
            request_type_id: help.id.clone(),
            request_field_values: object(json!({"summary": "From the client"})),
            raise_on_behalf_of: Some(customer.account_id.clone()),
        })
        .await
        .unwrap();
    assert!(created.issue_key.starts_with("HELP-"), "{created:?}");

    let org = client.create_organization("Svc Org").await.unwrap();
    let same = client.create_organization("svc org").await.unwrap();
    assert_eq!(org.id, same.id);
    client.add_desk_organization("1", &org.id).await.unwrap();
    let on_desk = client.desk_organizations("1").await.unwrap();
    assert!(on_desk.iter().any(|o| o.id == org.id));
    assert!(
        client
            .all_organizations()
            .await
            .unwrap()
            .iter()
            .any(|o| o.name == "Svc Org")
    );
}

#[tokio::test]
async fn csm_profile_upserts_are_idempotent_and_polled() {
    let sim = sim().await;
    let client = sim_client(&sim, ApiType::CustomerServiceManagement);
    let payloads = vec![
        object(json!({"email": "csm.a@import.example", "displayName": "A"})),
        object(
            json!({"email": "csm.b@import.example", "details": [{"name": "Region", "values": ["Mars"]}]}),
        ),
    ];
    let first = client
        .csm_customer_profiles_upsert(&payloads, "key-1")
        .await
        .unwrap();
    let second = client
        .csm_customer_profiles_upsert(&payloads, "key-1")
        .await
        .unwrap();
    assert_eq!(
        first.id, second.id,
        "the same key and body are the same task"
    );
    let task = client.csm_task(&first.id).await.unwrap();
    assert!(!task.ended());
    sim.control().advance(Duration::from_secs(5));
    let task = client.csm_task(&first.id).await.unwrap();
    assert_eq!(task.status, "FINISHED");
    assert_eq!(task.failures.len(), 1, "{task:?}");
    assert_eq!(
        task.failures[0].entity_id.as_deref(),
        Some("csm.b@import.example")
    );

    let orgs = vec![object(json!({"name": "Csm Org"}))];
    let t = client
        .csm_organization_profiles_upsert(&orgs, "key-2")
        .await
        .unwrap();
    sim.control().advance(Duration::from_secs(5));
    assert_eq!(client.csm_task(&t.id).await.unwrap().status, "FINISHED");
    let refused = client.csm_organization_profiles_upsert(&[], "key-3").await;
    assert!(matches!(refused, Err(AtlassianError::BadRequest { .. })));
}
