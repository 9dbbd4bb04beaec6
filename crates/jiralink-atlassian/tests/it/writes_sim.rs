//! The writes an import needs, against the simulator: bulk create with some inputs refused,
//! metadata, transitions, comments, worklogs, links, properties, attachments and user look-up.

use jiralink_atlassian::{
    AmbiguousCause, AtlassianError, BulkElement, IssueInput, JiraClient, MAX_BULK_CREATE,
    TransitionInput, WorklogInput,
};
use jiralink_domain::ApiType;
use pretty_assertions::assert_eq;
use serde_json::{Map, Value, json};

use crate::{sim, sim_client};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A task in `DEMO`; `extra` fields are added as they are.
fn task(summary: &str, extra: Value) -> IssueInput {
    let mut fields = object(json!({
        "project": {"key": "DEMO"},
        "issuetype": {"name": "Task"},
        "summary": summary,
    }));
    fields.extend(object(extra));
    IssueInput {
        fields,
        ..IssueInput::default()
    }
}

fn doc(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

async fn client() -> (jiralink_sim::SimHandle, JiraClient) {
    let sim = sim().await;
    let client = sim_client(&sim, ApiType::CloudPlatform);
    (sim, client)
}

async fn summary_of(client: &JiraClient, key: &str) -> String {
    let issue = client.issue_find(key, &["summary"]).await.unwrap();
    issue.expect("the issue exists").fields["summary"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn status_of(client: &JiraClient, key: &str) -> String {
    let issue = client.issue_find(key, &["status"]).await.unwrap();
    issue.expect("the issue exists").fields["status"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn bulk_create_answers_each_input_at_its_position() {
    let (_sim, client) = client().await;
    let inputs = [
        task("bulk one", json!({})),
        task("bulk two", json!({"customfield_99999": "x"})),
        task("bulk three", json!({})),
        task(
            "bulk four",
            json!({"priority": {"name": "No such priority"}}),
        ),
    ];
    let out = client.issue_bulk_create(&inputs).await.unwrap();
    assert_eq!(out.len(), 4);
    let BulkElement::Created(first) = &out[0] else {
        panic!("{:?}", out[0])
    };
    let BulkElement::Created(third) = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert_eq!(summary_of(&client, &first.key).await, "bulk one");
    assert_eq!(summary_of(&client, &third.key).await, "bulk three");
    let BulkElement::Failed(second) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_eq!(second.status, Some(400));
    assert!(
        second.field_errors["customfield_99999"].contains("cannot be set"),
        "{second:?}"
    );
    assert!(matches!(out[3], BulkElement::Failed(_)), "{:?}", out[3]);
}

#[tokio::test]
async fn a_bulk_create_jira_refuses_entirely_is_read_per_input() {
    let (sim, client) = client().await;
    let inputs = [
        task("", json!({"issuetype": {"name": "No such type"}})),
        task("refused", json!({"customfield_99999": "x"})),
    ];
    let out = client.issue_bulk_create(&inputs).await.unwrap();
    assert_eq!(sim.control().requests().last().unwrap().status, Some(400));
    assert_eq!(out.len(), 2);
    for element in &out {
        let BulkElement::Failed(e) = element else {
            panic!("{element:?}")
        };
        assert!(!e.field_errors.is_empty(), "{e:?}");
    }
    let BulkElement::Failed(second) = &out[1] else {
        unreachable!()
    };
    assert!(second.field_errors.contains_key("customfield_99999"));

    sim.control().clear_requests();
    let too_many = vec![task("x", json!({})); MAX_BULK_CREATE + 1];
    let e = client.issue_bulk_create(&too_many).await.unwrap_err();
    assert!(
        matches!(e, AtlassianError::BadRequest { status: 400, .. }),
        "{e:?}"
    );
    assert!(client.issue_bulk_create(&[]).await.unwrap().is_empty());
    assert!(sim.control().requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn createmeta_lists_the_types_and_fields_of_a_project() {
    let (_sim, client) = client().await;
    let types = client.createmeta_issue_types("DEMO").await.unwrap();
    let task = types
        .iter()
        .find(|t| t.name == "Task")
        .expect("a task type");
    assert!(!task.subtask);
    assert!(types.iter().any(|t| t.subtask), "{types:?}");

    let fields = client.createmeta_fields("DEMO", &task.id).await.unwrap();
    let field = |id: &str| {
        fields
            .iter()
            .find(|f| f.field_id == id)
            .unwrap_or_else(|| panic!("{id} is on the create screen"))
    };
    assert!(field("summary").required);
    assert_eq!(field("summary").schema.kind, "string");
    assert!(field("project").required);
    let priority = field("priority");
    assert!(!priority.required && priority.has_default_value);
    assert!(!priority.allowed_values.is_empty());
    assert_eq!(field("labels").operations, ["add", "set", "remove"]);

    let e = client.createmeta_issue_types("NOPE").await.unwrap_err();
    assert_eq!(e.status(), Some(404), "{e:?}");
}

#[tokio::test]
async fn an_issue_takes_a_transition_a_comment_a_worklog_a_property_and_a_file() {
    let (_sim, client) = client().await;
    let created = client
        .issue_create(&task("lifecycle", json!({})))
        .await
        .unwrap();
    let key = created.key.as_str();

    let edit = client.issue_edit_meta(key).await.unwrap();
    assert_eq!(edit["summary"].field_id, "summary");
    assert_eq!(edit["summary"].name, "Summary");

    // Along the workflow until a transition into a done status, which shows the resolution on
    // its screen.
    let mut steps = 0;
    let done = loop {
        let transitions = client.issue_transitions(key).await.unwrap();
        if let Some(done) = transitions
            .iter()
            .find(|t| t.fields.contains_key("resolution"))
        {
            break done.clone();
        }
        let next = transitions
            .first()
            .expect("a way on from every open status");
        client
            .issue_transition(
                key,
                &TransitionInput {
                    id: next.id.clone(),
                    ..TransitionInput::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(status_of(&client, key).await, next.to.name);
        steps += 1;
        assert!(steps < 5, "no transition to done");
    };
    assert_eq!(done.fields["resolution"].field_id, "resolution");
    let resolution = done.fields["resolution"].allowed_values[0]["name"].clone();
    client
        .issue_transition(
            key,
            &TransitionInput {
                id: done.id.clone(),
                fields: object(json!({"resolution": {"name": resolution}})),
                ..TransitionInput::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(status_of(&client, key).await, done.to.name);
    let issue = client
        .issue_find(key, &["resolution"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(issue.fields["resolution"]["name"], resolution);
    let e = client
        .issue_transition(
            key,
            &TransitionInput {
                id: "999".into(),
                ..TransitionInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e:?}");

    let comment = client.comment_add(key, &doc("imported")).await.unwrap();
    assert_eq!(comment["body"], doc("imported"));
    assert!(comment["id"].is_string(), "{comment}");

    let worklog = client
        .worklog_add(
            key,
            &WorklogInput {
                time_spent_seconds: 5400,
                started: "2026-01-05T09:30:00.000+0000".into(),
                comment: Some(doc("pairing")),
            },
        )
        .await
        .unwrap();
    assert_eq!(worklog["timeSpentSeconds"], 5400);
    assert_eq!(worklog["comment"], doc("pairing"));

    let origin = json!({"source": "tracker", "id": 42});
    assert_eq!(
        client.issue_property_get(key, "import").await.unwrap(),
        None
    );
    client
        .issue_property_set(key, "import", &origin)
        .await
        .unwrap();
    client
        .issue_property_set(key, "import", &origin)
        .await
        .unwrap();
    assert_eq!(
        client.issue_property_get(key, "import").await.unwrap(),
        Some(origin)
    );
    assert_eq!(
        client
            .issue_property_get("DEMO-999999", "import")
            .await
            .unwrap(),
        None
    );

    let content = b"line one\nline two\n".to_vec();
    let attached = client
        .attachment_add(key, "notes \"draft\".txt", "text/plain", content.clone())
        .await
        .unwrap();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0]["mimeType"], "text/plain");
    assert_eq!(attached[0]["size"], content.len());
    let issue = client
        .issue_find(key, &["attachment"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(issue.fields["attachment"][0]["id"], attached[0]["id"]);

    assert_eq!(client.issue_find("DEMO-999999", &[]).await.unwrap(), None);
}

#[tokio::test]
async fn two_issues_are_linked_by_the_type_name() {
    let (_sim, client) = client().await;
    let a = client
        .issue_create(&task("blocker", json!({})))
        .await
        .unwrap();
    let b = client
        .issue_create(&task("blocked", json!({})))
        .await
        .unwrap();
    client
        .issue_link_create("Blocks", &a.key, &b.key)
        .await
        .unwrap();
    let issue = client
        .issue_find(&a.key, &["issuelinks"])
        .await
        .unwrap()
        .unwrap();
    let links = issue.fields["issuelinks"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["type"]["name"], "Blocks");
    assert_eq!(links[0]["outwardIssue"]["key"], b.key.as_str());

    let e = client
        .issue_link_create("No such link", &a.key, &b.key)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e:?}");
}

#[tokio::test]
async fn a_user_is_found_by_email() {
    let (sim, client) = client().await;
    let me = client.myself().await.unwrap();
    let found = client.users_find(&sim.samples().email).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].account_id, me.account_id);
    assert_eq!(
        found[0].email_address.as_deref(),
        Some(sim.samples().email.as_str())
    );
    assert_eq!(found[0].active, Some(true));
    assert!(
        client
            .users_find("nobody-at-all@example.invalid")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn writes_whose_connection_drops_are_sent_once_and_reported_as_ambiguous() {
    let (sim, client) = client().await;
    let key = client
        .issue_create(&task("target", json!({})))
        .await
        .unwrap()
        .key;
    sim.control().clear_requests();
    sim.control().drop_next(1);
    let e = client
        .issue_bulk_create(&[task("once", json!({}))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AtlassianError::Ambiguous {
                operation: "createIssues",
                cause: AmbiguousCause::Reset
            }
        ),
        "{e:?}"
    );
    sim.control().drop_next(1);
    let e = client
        .attachment_add(&key, "a.txt", "text/plain", b"a".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AtlassianError::Ambiguous {
                operation: "addAttachment",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(sim.control().requests().len(), 2, "each sent once");
}
