//! CSV and ADF conversion of issue exports against the simulator: custom fields get their
//! names as headers, values are flattened as documented, and rich text becomes text or
//! Markdown in every format.

use jiralink_sim::SimConfig;
use jiralink_sync::{AdfMode, ExportSpec, Format, Resource};
use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::{Env, lines};

fn issues(fields: &[&str]) -> ExportSpec {
    let mut spec = ExportSpec::new(Resource::Issues);
    spec.jql = Some("project = DEMO".into());
    spec.fields = fields.iter().map(|f| (*f).to_owned()).collect();
    spec
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn issue_csv_names_custom_fields_and_flattens_their_values() {
    let env = Env::start(SimConfig::for_tests()).await;
    let fields = [
        "summary",
        "assignee",
        "Team",
        "Platforms",
        "Region",
        "Reviewer",
        "Story Points",
        "Acceptance Criteria",
    ];
    let mut spec = issues(&fields);
    // Every project: some kinds of value occur in few of them.
    spec.jql = None;
    let (_, json_out) = env.run_all(&spec, None, None, 1).await;
    let records = lines(&json_out);
    assert!(!records.is_empty());
    spec.format = Format::Csv;
    let (outcome, out) = env.run_all(&spec, None, None, 1).await;
    assert_eq!(
        outcome.stats.records.get("issues").copied(),
        Some(records.len() as u64)
    );

    let (_, field_list) = env.http(reqwest::Method::GET, "/field", None).await;
    let id_of = |name: &str| {
        field_list
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| text(&f["id"]))
            .unwrap()
    };
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        headers,
        [
            "Id",
            "Key",
            "Summary",
            "Assignee",
            "Team",
            "Platforms",
            "Region",
            "Reviewer",
            "Story Points",
            "Acceptance Criteria"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), records.len());
    let mut checked = [0usize; 5];
    for (row, issue) in rows.iter().zip(&records) {
        let f = &issue["fields"];
        assert_eq!(&row[0], text(&issue["id"]));
        assert_eq!(&row[1], text(&issue["key"]));
        assert_eq!(&row[2], text(&f["summary"]));
        assert_eq!(&row[3], text(&f["assignee"]["displayName"]));
        let team = &f[id_of("Team")];
        if !team.is_null() {
            assert_eq!(&row[4], text(&team["value"]));
            checked[0] += 1;
        }
        if let Some(platforms) = f[id_of("Platforms")].as_array() {
            let joined: Vec<String> = platforms.iter().map(|p| text(&p["value"])).collect();
            assert_eq!(&row[5], joined.join("; "));
            checked[1] += 1;
        }
        let region = &f[id_of("Region")];
        if !region.is_null() {
            let mut expected = text(&region["value"]);
            if !region["child"].is_null() {
                expected = format!("{expected} > {}", text(&region["child"]["value"]));
            }
            assert_eq!(&row[6], expected);
            checked[2] += 1;
        }
        let reviewer = &f[id_of("Reviewer")];
        if !reviewer.is_null() {
            assert_eq!(&row[7], text(&reviewer["displayName"]));
            checked[3] += 1;
        }
        assert_eq!(&row[8], text(&f[id_of("Story Points")]));
        let acceptance = &f[id_of("Acceptance Criteria")];
        if !acceptance.is_null() {
            assert_eq!(acceptance["type"], "doc");
            assert!(
                !row[9].contains("\"type\""),
                "ADF written as text: {}",
                &row[9]
            );
            checked[4] += 1;
        }
    }
    assert!(
        checked.iter().all(|n| *n > 0),
        "the sample holds every kind of value: {checked:?}"
    );
}

#[tokio::test]
async fn issue_rich_text_as_text_or_markdown_in_json_outputs() {
    let env = Env::start(SimConfig::for_tests()).await;
    let mut spec = issues(&["description", "summary"]);
    let (_, raw) = env.run_all(&spec, None, None, 1).await;
    let raw = lines(&raw);
    let with_doc: Vec<&Value> = raw
        .iter()
        .filter(|i| i["fields"]["description"]["type"] == "doc")
        .collect();
    assert!(!with_doc.is_empty(), "the sample has descriptions");

    for mode in [AdfMode::Text, AdfMode::Markdown] {
        spec.adf = mode;
        spec.format = Format::JsonArray;
        let (_, out) = env.run_all(&spec, None, None, 1).await;
        let converted: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(converted.len(), raw.len());
        for (before, after) in raw.iter().zip(&converted) {
            assert_eq!(before["id"], after["id"]);
            assert_eq!(before["fields"]["summary"], after["fields"]["summary"]);
            let description = &after["fields"]["description"];
            if before["fields"]["description"]["type"] == "doc" {
                assert!(description.is_string(), "{mode:?}: {description}");
            }
        }
    }
}
