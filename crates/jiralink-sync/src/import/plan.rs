//! Checking a mapping against Jira before anything is sent: each mapped name resolved to one
//! field of the create screen (or, for updates, of the site), required fields covered,
//! constants converted. Every problem is listed at once.

use serde_json::{Map, Value, json};

use super::{
    convert::{FieldInfo, FieldKind, UserDirectory, convert},
    mapping::{ExternalIdTarget, ImportOperation, Mapping, Rule},
};

/// One mapped field, resolved.
#[derive(Debug, Clone)]
pub struct Target {
    /// The field.
    pub field: FieldInfo,
    /// How it gets its value.
    pub rule: Rule,
    /// A constant's converted value, computed once.
    pub constant: Option<Value>,
}

/// Where the external id is written and searched.
#[derive(Debug, Clone)]
pub enum ExternalPlace {
    /// A text custom field.
    Field(FieldInfo),
    /// A label with this prefix.
    Label(String),
    /// An issue property with this key, whose value is `{"id": …}`: set with the issue's
    /// properties, never a field.
    Property(String),
}

impl ExternalPlace {
    /// The issue property `{"key": …, "value": {"id": external_id}}` that keeps the external
    /// id, when this place is a property.
    #[must_use]
    pub fn property(&self, external_id: &str) -> Option<Value> {
        match self {
            Self::Property(key) => Some(json!({ "key": key, "value": { "id": external_id } })),
            Self::Field(_) | Self::Label(_) => None,
        }
    }
}

/// A mapping resolved against one project and issue type (or, without a screen, the site's
/// fields).
#[derive(Debug, Clone)]
pub struct Plan {
    /// `{"key": …}` of the project, for creates.
    pub project: Option<String>,
    /// The issue type id, for creates.
    pub issue_type_id: Option<String>,
    /// The mapped fields.
    pub targets: Vec<Target>,
    /// Where the external id goes.
    pub external: Option<ExternalPlace>,
}

/// The fields a plan is resolved against.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    /// `DEMO / Task`, for messages.
    pub label: &'a str,
    /// The create screen's fields; `None` for updates (no screen: any field of the site).
    pub fields: Option<&'a [FieldInfo]>,
}

/// Finds the one field `name` means: an id, else a name (exact, then ignoring case).
///
/// # Errors
/// Not found, or a name several fields share.
pub fn resolve_field<'a>(fields: &'a [FieldInfo], name: &str) -> Result<&'a FieldInfo, String> {
    if let Some(f) = fields.iter().find(|f| f.id.eq_ignore_ascii_case(name)) {
        return Ok(f);
    }
    let mut found: Vec<&FieldInfo> = fields.iter().filter(|f| f.name == name).collect();
    if found.is_empty() {
        found = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .collect();
    }
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no Jira field is called {name:?}")),
        many => Err(format!(
            "{name:?} is the name of {}; write the id instead",
            many.iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

/// Resolves `mapping` for one screen, with `site_fields` (from `/field`) to tell a field that
/// does not exist from one that is not on the screen.
///
/// # Errors
/// Every problem, one sentence each.
pub async fn resolve(
    mapping: &Mapping,
    site_fields: &[FieldInfo],
    screen: Screen<'_>,
    project: Option<String>,
    issue_type_id: Option<String>,
    users: &dyn UserDirectory,
) -> Result<Plan, Vec<String>> {
    let mut problems = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let pool = screen.fields.unwrap_or(site_fields);
    for (name, rule) in &mapping.fields {
        let field = match resolve_field(pool, name) {
            Ok(f) => f.clone(),
            Err(e) => {
                if screen.fields.is_some()
                    && let Ok(f) = resolve_field(site_fields, name)
                {
                    problems.push(format!(
                        "fields.{name}: {} ({}) is not on the create screen of {}",
                        f.name, f.id, screen.label
                    ));
                } else {
                    problems.push(format!("fields.{name}: {e}"));
                }
                continue;
            }
        };
        if matches!(field.kind, FieldKind::Project | FieldKind::IssueType) {
            problems.push(format!(
                "fields.{name}: set {} with the top-level setting",
                field.name
            ));
            continue;
        }
        if let Some(other) = targets.iter().find(|t| t.field.id == field.id) {
            problems.push(format!(
                "fields.{name}: {} is mapped twice (also as {:?})",
                field.id, other.field.name
            ));
            continue;
        }
        let constant = match &rule.constant {
            Some(c) if rule.map.is_none() && rule.split.is_none() => {
                match convert(&field, rule, c.clone(), users).await {
                    Ok(v) => Some(v),
                    Err(e) => {
                        problems.push(format!("fields.{name}: {e}"));
                        None
                    }
                }
            }
            _ => None,
        };
        targets.push(Target {
            field,
            rule: rule.clone(),
            constant,
        });
    }
    // The transition's screen is known only per issue; a name no field of the site has is
    // wrong for every issue, so it is reported now.
    for name in mapping.actions.transition_fields.keys() {
        if let Err(e) = resolve_field(site_fields, name) {
            problems.push(format!("actions.transition_fields.{name}: {e}"));
        }
    }
    let external = match &mapping.external_id {
        None => None,
        Some(x) => match &x.target {
            ExternalIdTarget::LabelPrefix(p) => {
                if screen.fields.is_some() && resolve_field(pool, "labels").is_err() {
                    problems.push(format!(
                        "external_id: labels are not on the create screen of {}",
                        screen.label
                    ));
                }
                Some(ExternalPlace::Label(p.clone()))
            }
            ExternalIdTarget::Property(key) => Some(ExternalPlace::Property(key.clone())),
            ExternalIdTarget::Field(name) => match resolve_field(pool, name) {
                Ok(f) if f.kind == FieldKind::Text => Some(ExternalPlace::Field(f.clone())),
                Ok(f) => {
                    problems.push(format!(
                        "external_id: {} ({}) is not a single-line text field",
                        f.name, f.id
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!("external_id: {e}"));
                    None
                }
            },
        },
    };
    if let (Some(fields), true) = (screen.fields, mapping.operation.creates()) {
        for f in fields {
            let covered = targets.iter().any(|t| t.field.id == f.id)
                || matches!(&external, Some(ExternalPlace::Field(x)) if x.id == f.id)
                || matches!(f.kind, FieldKind::Project | FieldKind::IssueType);
            if f.required && !f.has_default && !covered {
                problems.push(format!(
                    "{} ({}) is required on the create screen of {} but not mapped",
                    f.name, f.id, screen.label
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(Plan {
            project,
            issue_type_id,
            targets,
            external,
        })
    } else {
        Err(problems)
    }
}

/// The field errors of one record: field name → message.
pub type FieldErrors = Map<String, Value>;

impl Plan {
    /// The `fields` of the request for `record`, or every field's problem.
    ///
    /// # Errors
    /// Field name → why its value does not fit.
    pub async fn fields_for(
        &self,
        record: &Map<String, Value>,
        external_id: Option<&str>,
        operation: ImportOperation,
        users: &dyn UserDirectory,
    ) -> Result<Map<String, Value>, FieldErrors> {
        let mut fields = Map::new();
        let mut errors = FieldErrors::new();
        if operation.creates() {
            if let Some(p) = &self.project {
                fields.insert("project".into(), serde_json::json!({ "key": p }));
            }
            if let Some(t) = &self.issue_type_id {
                fields.insert("issuetype".into(), serde_json::json!({ "id": t }));
            }
        }
        for t in &self.targets {
            let value = match &t.constant {
                Some(c) => Some(c.clone()),
                None => match t.rule.evaluate(record) {
                    None => None,
                    Some(v) => match convert(&t.field, &t.rule, v, users).await {
                        Ok(v) => Some(v),
                        Err(e) => {
                            errors.insert(t.field.name.clone(), Value::String(e));
                            None
                        }
                    },
                },
            };
            if let Some(v) = value {
                super::convert::put(&mut fields, &t.field.id, v);
            }
        }
        if let Some(id) = external_id {
            match &self.external {
                Some(ExternalPlace::Field(f)) => {
                    fields.insert(f.id.clone(), Value::String(id.to_owned()));
                }
                Some(ExternalPlace::Label(prefix)) => {
                    let label = Value::String(format!("{prefix}{id}"));
                    match fields.get_mut("labels") {
                        Some(Value::Array(a)) => {
                            if !a.contains(&label) {
                                a.push(label);
                            }
                        }
                        _ => {
                            fields.insert("labels".into(), Value::Array(vec![label]));
                        }
                    }
                }
                // Not a field: the property goes with the request's properties.
                Some(ExternalPlace::Property(_)) | None => {}
            }
        }
        if errors.is_empty() {
            Ok(fields)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    struct NoUsers;

    #[async_trait]
    impl UserDirectory for NoUsers {
        async fn account_id(&self, _: &str) -> Result<Option<String>, String> {
            Ok(None)
        }
    }

    fn fields() -> Vec<FieldInfo> {
        [
            json!({"fieldId":"summary","name":"Summary","required":true,"schema":{"type":"string","system":"summary"}}),
            json!({"fieldId":"project","name":"Project","required":true,"schema":{"type":"project","system":"project"}}),
            json!({"fieldId":"duedate","name":"Due date","required":true,"schema":{"type":"date","system":"duedate"}}),
            json!({"fieldId":"labels","name":"Labels","schema":{"type":"array","items":"string","system":"labels"}}),
            json!({"fieldId":"customfield_1","name":"Team","schema":{"type":"option","custom":"select"},"allowedValues":[{"id":"7","value":"Platform"}]}),
            json!({"fieldId":"customfield_2","name":"Ref","schema":{"type":"string","custom":"textfield"}}),
            json!({"fieldId":"customfield_3","name":"Dup","schema":{"type":"string"}}),
            json!({"fieldId":"customfield_4","name":"Dup","schema":{"type":"string"}}),
        ]
        .iter()
        .filter_map(FieldInfo::from_json)
        .collect()
    }

    #[tokio::test]
    async fn lists_every_problem() {
        let mapping = Mapping::from_toml(
            r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[external_id]
source = "id"
field = "Team"
[fields]
summary = "t"
Team = { const = "Growth" }
Dup = "d"
Nope = "n"
Secret = "s"
"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let site: Vec<FieldInfo> = fields()
            .into_iter()
            .chain(FieldInfo::from_json(
                &json!({"id":"customfield_9","name":"Secret","schema":{"type":"string"}}),
            ))
            .collect();
        let screen_fields = fields();
        let Err(problems) = resolve(
            &mapping,
            &site,
            Screen {
                label: "DEMO / Task",
                fields: Some(&screen_fields),
            },
            Some("DEMO".into()),
            Some("10001".into()),
            &NoUsers,
        )
        .await
        else {
            panic!("accepted");
        };
        assert_eq!(
            problems,
            vec![
                "fields.Dup: \"Dup\" is the name of customfield_3 and customfield_4; write the id instead",
                "fields.Nope: no Jira field is called \"Nope\"",
                "fields.Secret: Secret (customfield_9) is not on the create screen of DEMO / Task",
                "fields.Team: \"Growth\" is not an allowed value (allowed: Platform)",
                "external_id: Team (customfield_1) is not a single-line text field",
                "Due date (duedate) is required on the create screen of DEMO / Task but not mapped",
            ]
        );
    }

    #[tokio::test]
    async fn builds_the_fields_of_a_record() {
        let mapping = Mapping::from_toml(
            r#"
operation = "create"
project = "DEMO"
issue_type = "Task"
[external_id]
source = "id"
label_prefix = "ext-"
[fields]
summary = "t"
duedate = "due"
Team = { const = "Platform" }
labels = { source = "tags", split = " " }
"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let f = fields();
        let plan = resolve(
            &mapping,
            &f,
            Screen {
                label: "DEMO / Task",
                fields: Some(&f),
            },
            Some("DEMO".into()),
            Some("10001".into()),
            &NoUsers,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
        let record = json!({"t":"Hello","due":"2026-03-31","tags":"a b"});
        let out = plan
            .fields_for(
                record.as_object().unwrap_or(&Map::new()),
                Some("42"),
                ImportOperation::Create,
                &NoUsers,
            )
            .await;
        assert_eq!(
            out.map(Value::Object),
            Ok(json!({
                "project":{"key":"DEMO"},"issuetype":{"id":"10001"},"summary":"Hello",
                "duedate":"2026-03-31","customfield_1":{"id":"7"},"labels":["a","b","ext-42"]
            }))
        );
        let bad = json!({"t":"x","due":"soon"});
        let out = plan
            .fields_for(
                bad.as_object().unwrap_or(&Map::new()),
                None,
                ImportOperation::Create,
                &NoUsers,
            )
            .await;
        assert_eq!(
            out.map(Value::Object).map_err(Value::Object),
            Err(json!({"Due date":"expected a date like 2026-03-31, found \"soon\""}))
        );
    }
}
