//! Turning a rule's value into what Jira expects for a field, by the field's schema.
//!
//! | Field schema | Accepted values | Sent as |
//! |---|---|---|
//! | `string` | text, numbers, booleans | text |
//! | description, environment, paragraph custom fields | text (`format`: plain, markdown) or ADF | ADF document |
//! | `number` | numbers, numeric text | number |
//! | `date` | `2026-03-31`, or a date-time (its date in `time_zone`) | `2026-03-31` |
//! | `datetime` | RFC 3339; `2026-03-31 14:00[:00]` in `time_zone` (UTC by default); epoch ms | `2026-03-31T14:00:00.000+0000` |
//! | `option`, `priority`, `resolution` | value or id | `{"id":…}` from the allowed values |
//! | `array` of `option`, `component`, `version` | list, or text with `split` | `[{"id":…}]` |
//! | `option-with-child` | `Parent > Child`, or `[parent, child]` | `{"id":…,"child":{"id":…}}` |
//! | `user`, `array` of `user` | account id, or e-mail (looked up) | `{"accountId":…}` |
//! | labels | text or list, no spaces | `["a","b"]` |
//! | parent | issue key or id | `{"key":…}` / `{"id":…}` |
//! | `timetracking` | `2d 4h` (original estimate) or an object | `{"originalEstimate":…}` |
//! | anything else | any JSON | as given |

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::mapping::{Rule, TextFormat, text_of};

/// What jiralink knows of a Jira field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    /// `summary`, `customfield_10050`, …
    pub id: String,
    /// The name people see.
    pub name: String,
    /// How values are converted.
    pub kind: FieldKind,
    /// Required on the create screen.
    pub required: bool,
    /// Jira fills it when it is not sent.
    pub has_default: bool,
    /// The allowed values the create screen lists (options, priorities, components…).
    pub allowed: Vec<Value>,
}

/// How a field's values are converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Plain text.
    Text,
    /// Rich text (ADF).
    RichText,
    /// A number.
    Number,
    /// A date.
    Date,
    /// A date-time.
    DateTime,
    /// One allowed value (select, priority, resolution, security level).
    Choice,
    /// Several allowed values (multi select, components, versions).
    Choices,
    /// A cascading select.
    Cascading,
    /// One user.
    User,
    /// Several users.
    Users,
    /// Labels.
    Labels,
    /// The parent issue.
    Parent,
    /// Time tracking.
    TimeTracking,
    /// The project (set through `project`).
    Project,
    /// The issue type (set through `issue_type`).
    IssueType,
    /// A group, by name.
    Group,
    /// Any JSON, sent as given.
    Any,
}

impl FieldInfo {
    /// Reads a field from Jira's metadata: a create-screen entry (`fieldId`, `required`,
    /// `allowedValues`) or a `/field` entry (`id`).
    #[must_use]
    pub fn from_json(meta: &Value) -> Option<Self> {
        let id = meta
            .get("fieldId")
            .or_else(|| meta.get("id"))
            .or_else(|| meta.get("key"))?
            .as_str()?
            .to_owned();
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&id)
            .to_owned();
        let schema = meta.get("schema").cloned().unwrap_or(Value::Null);
        Some(Self {
            kind: kind_of(&id, &schema),
            name,
            id,
            required: meta
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            has_default: meta
                .get("hasDefaultValue")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            allowed: meta
                .get("allowedValues")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        })
    }
}

impl FieldInfo {
    /// A field of a create screen, as the client reads it.
    #[must_use]
    pub fn from_meta(meta: &jiralink_atlassian::FieldMeta) -> Self {
        let mut schema = serde_json::Map::new();
        schema.insert("type".into(), Value::String(meta.schema.kind.clone()));
        for (k, v) in [
            ("items", &meta.schema.items),
            ("custom", &meta.schema.custom),
            ("system", &meta.schema.system),
        ] {
            if let Some(v) = v {
                schema.insert(k.into(), Value::String(v.clone()));
            }
        }
        Self {
            kind: kind_of(&meta.field_id, &Value::Object(schema)),
            id: meta.field_id.clone(),
            name: meta.name.clone(),
            required: meta.required,
            has_default: meta.has_default_value,
            allowed: meta.allowed_values.clone(),
        }
    }
}

fn kind_of(id: &str, schema: &Value) -> FieldKind {
    let s = |k: &str| schema.get(k).and_then(Value::as_str).unwrap_or("");
    let (ty, items, system, custom) = (s("type"), s("items"), s("system"), s("custom"));
    if matches!(system, "description" | "environment") || custom.ends_with(":textarea") {
        return FieldKind::RichText;
    }
    if system == "labels" || custom.ends_with(":labels") {
        return FieldKind::Labels;
    }
    if system == "parent" || id == "parent" {
        return FieldKind::Parent;
    }
    match (ty, items) {
        ("string", _) => FieldKind::Text,
        ("number", _) => FieldKind::Number,
        ("date", _) => FieldKind::Date,
        ("datetime", _) => FieldKind::DateTime,
        ("option" | "priority" | "resolution" | "securitylevel", _) => FieldKind::Choice,
        ("option-with-child", _) => FieldKind::Cascading,
        ("user", _) => FieldKind::User,
        ("group", _) => FieldKind::Group,
        ("timetracking", _) => FieldKind::TimeTracking,
        ("project", _) => FieldKind::Project,
        ("issuetype", _) => FieldKind::IssueType,
        ("array", "option" | "component" | "version") => FieldKind::Choices,
        ("array", "user") => FieldKind::Users,
        ("array", "string") if system.is_empty() && custom.is_empty() => FieldKind::Labels,
        _ => FieldKind::Any,
    }
}

/// Finds account ids for e-mail addresses.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The account id of the active user with this e-mail address, if any.
    async fn account_id(&self, email: &str) -> Result<Option<String>, String>;
}

/// Converts `value` for `field`; the message says what is wrong with the value.
///
/// # Errors
/// Why the value does not fit the field.
pub async fn convert(
    field: &FieldInfo,
    rule: &Rule,
    value: Value,
    users: &dyn UserDirectory,
) -> Result<Value, String> {
    match field.kind {
        FieldKind::Text => scalar_text(&value),
        FieldKind::RichText => rich_text(value, rule.format.unwrap_or(TextFormat::Plain)),
        FieldKind::Number => number(&value),
        FieldKind::Date => date(&value, rule.time_zone.as_deref()),
        FieldKind::DateTime => date_time(&value, rule.time_zone.as_deref()),
        FieldKind::Choice => choice(field, &value),
        FieldKind::Choices => list(value)?
            .iter()
            .map(|v| choice(field, v))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        FieldKind::Cascading => cascading(field, &value),
        FieldKind::User => user(&value, users).await,
        FieldKind::Users => {
            let mut out = Vec::new();
            for v in list(value)? {
                out.push(user(&v, users).await?);
            }
            Ok(Value::Array(out))
        }
        FieldKind::Labels => labels(value),
        FieldKind::Parent => {
            let key = scalar_text(&value)?;
            let key = text_of(&key);
            Ok(if key.bytes().all(|b| b.is_ascii_digit()) {
                json!({ "id": key })
            } else {
                json!({ "key": key })
            })
        }
        FieldKind::TimeTracking => match value {
            Value::Object(_) => Ok(value),
            other => Ok(json!({ "originalEstimate": text_of(&scalar_text(&other)?) })),
        },
        FieldKind::Project | FieldKind::IssueType | FieldKind::Group => {
            let name = text_of(&scalar_text(&value)?);
            Ok(match field.kind {
                FieldKind::Project => json!({ "key": name }),
                FieldKind::IssueType => json!({ "name": name }),
                _ => json!({ "name": name }),
            })
        }
        FieldKind::Any => Ok(value),
    }
}

fn scalar_text(v: &Value) -> Result<Value, String> {
    match v {
        Value::String(_) => Ok(v.clone()),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        other => Err(format!(
            "expected text, found {}",
            super::input::json_kind(other)
        )),
    }
}

fn list(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(a) => Ok(a),
        Value::Object(_) => Err("expected a list, found an object".to_owned()),
        scalar => Ok(vec![scalar]),
    }
}

fn rich_text(value: Value, format: TextFormat) -> Result<Value, String> {
    match (format, value) {
        (TextFormat::Adf, Value::String(s)) => {
            let v: Value =
                serde_json::from_str(&s).map_err(|e| format!("not an ADF document: {e}"))?;
            adf_doc(v)
        }
        (TextFormat::Adf, v) => adf_doc(v),
        (_, v @ Value::Object(_)) => adf_doc(v),
        (TextFormat::Markdown, v) => Ok(crate::adf_write::markdown_to_adf(&text_of(&scalar_text(
            &v,
        )?))),
        (TextFormat::Plain, v) => Ok(crate::adf_write::plain_to_adf(&text_of(&scalar_text(&v)?))),
    }
}

fn adf_doc(v: Value) -> Result<Value, String> {
    if v.get("type").and_then(Value::as_str) == Some("doc") && v.get("content").is_some() {
        Ok(v)
    } else {
        Err(
            "not an ADF document (expected {\"type\":\"doc\",\"version\":1,\"content\":[…]})"
                .into(),
        )
    }
}

fn number(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::Number(n) => return Ok(Value::Number(n.clone())),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("expected a number, found {s:?}"))?,
        other => {
            return Err(format!(
                "expected a number, found {}",
                super::input::json_kind(other)
            ));
        }
    };
    if !n.is_finite() {
        return Err("expected a finite number".to_owned());
    }
    #[allow(clippy::cast_possible_truncation, clippy::float_cmp)]
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return Ok(json!(n as i64));
    }
    serde_json::Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| "expected a finite number".to_owned())
}

fn zone(name: Option<&str>) -> Result<jiff::tz::TimeZone, String> {
    match name {
        None => Ok(jiff::tz::TimeZone::UTC),
        Some(n) => jiff::tz::TimeZone::get(n).map_err(|_| format!("unknown time zone {n:?}")),
    }
}

/// Reads an instant: RFC 3339, a civil date-time in `tz`, or epoch milliseconds.
fn instant(v: &Value, tz: Option<&str>) -> Result<jiff::Timestamp, String> {
    if let Some(ms) = v.as_i64() {
        return jiff::Timestamp::from_millisecond(ms).map_err(|e| e.to_string());
    }
    let Value::String(s) = v else {
        return Err(format!(
            "expected a date-time, found {}",
            super::input::json_kind(v)
        ));
    };
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Some(ts) = jira_offset(s) {
        return Ok(ts);
    }
    let civil: jiff::civil::DateTime = s
        .replacen(' ', "T", 1)
        .parse()
        .map_err(|_| format!("expected a date-time like 2026-03-31T14:00:00Z, found {s:?}"))?;
    civil
        .to_zoned(zone(tz)?)
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

/// Jira's own `2026-03-31T14:00:00.000+0200` (an offset without a colon).
fn jira_offset(s: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .ok()?
        .to_timestamp()
        .ok()
}

fn date_time(v: &Value, tz: Option<&str>) -> Result<Value, String> {
    let ts = instant(v, tz)?;
    let utc = ts.to_zoned(jiff::tz::TimeZone::UTC);
    Ok(Value::String(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        utc.year(),
        utc.month(),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    )))
}

fn date(v: &Value, tz: Option<&str>) -> Result<Value, String> {
    if let Value::String(s) = v
        && let Ok(d) = s.trim().parse::<jiff::civil::Date>()
        && s.trim().len() == 10
    {
        return Ok(Value::String(d.to_string()));
    }
    let ts = instant(v, tz).map_err(|_| format!("expected a date like 2026-03-31, found {v}"))?;
    Ok(Value::String(ts.to_zoned(zone(tz)?).date().to_string()))
}

fn names(v: &Value) -> impl Iterator<Item = &str> {
    ["value", "name"]
        .into_iter()
        .filter_map(|k| v.get(k).and_then(Value::as_str))
}

/// Finds `wanted` among `allowed` by id, then exact name or value, then ignoring case.
fn find_allowed<'a>(allowed: &'a [Value], wanted: &str) -> Option<&'a Value> {
    allowed
        .iter()
        .find(|a| a.get("id").and_then(Value::as_str) == Some(wanted))
        .or_else(|| allowed.iter().find(|a| names(a).any(|n| n == wanted)))
        .or_else(|| {
            allowed
                .iter()
                .find(|a| names(a).any(|n| n.eq_ignore_ascii_case(wanted)))
        })
}

fn allowed_list(allowed: &[Value]) -> String {
    let mut out: Vec<&str> = allowed.iter().filter_map(|a| names(a).next()).collect();
    let more = out.len().saturating_sub(10);
    out.truncate(10);
    let mut s = out.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

fn choice(field: &FieldInfo, v: &Value) -> Result<Value, String> {
    if v.is_object() {
        return Ok(v.clone());
    }
    let wanted = text_of(&scalar_text(v)?);
    if field.allowed.is_empty() {
        let key = if field.id.starts_with("customfield_") {
            "value"
        } else {
            "name"
        };
        return Ok(json!({ key: wanted }));
    }
    match find_allowed(&field.allowed, &wanted) {
        Some(found) => Ok(json!({ "id": found.get("id").cloned().unwrap_or(Value::Null) })),
        None => Err(format!(
            "{wanted:?} is not an allowed value (allowed: {})",
            allowed_list(&field.allowed)
        )),
    }
}

fn cascading(field: &FieldInfo, v: &Value) -> Result<Value, String> {
    let parts: Vec<String> = match v {
        Value::Array(a) => a.iter().map(text_of).collect(),
        Value::String(s) => s.split('>').map(|p| p.trim().to_owned()).collect(),
        Value::Object(_) => return Ok(v.clone()),
        other => vec![text_of(other)],
    };
    let (parent, child) = match parts.as_slice() {
        [p] => (p.as_str(), None),
        [p, c] => (p.as_str(), Some(c.as_str())),
        _ => return Err("expected \"Parent > Child\" or [parent, child]".to_owned()),
    };
    if field.allowed.is_empty() {
        let mut out = json!({ "value": parent });
        if let Some(c) = child {
            out["child"] = json!({ "value": c });
        }
        return Ok(out);
    }
    let Some(p) = find_allowed(&field.allowed, parent) else {
        return Err(format!(
            "{parent:?} is not an allowed value (allowed: {})",
            allowed_list(&field.allowed)
        ));
    };
    let mut out = json!({ "id": p.get("id").cloned().unwrap_or(Value::Null) });
    if let Some(c) = child {
        let children = p
            .get("children")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let Some(found) = find_allowed(children, c) else {
            return Err(format!(
                "{c:?} is not an option under {parent:?} (allowed: {})",
                allowed_list(children)
            ));
        };
        out["child"] = json!({ "id": found.get("id").cloned().unwrap_or(Value::Null) });
    }
    Ok(out)
}

async fn user(v: &Value, users: &dyn UserDirectory) -> Result<Value, String> {
    if v.is_object() {
        return Ok(v.clone());
    }
    let text = text_of(&scalar_text(v)?);
    let text = text.trim();
    if text.contains('@') {
        match users.account_id(text).await? {
            Some(id) => Ok(json!({ "accountId": id })),
            None => Err(format!("no active Jira user has the e-mail address {text}")),
        }
    } else {
        Ok(json!({ "accountId": text }))
    }
}

fn labels(value: Value) -> Result<Value, String> {
    let mut out = Vec::new();
    for v in list(value)? {
        let label = text_of(&scalar_text(&v)?);
        let label = label.trim();
        if label.is_empty() {
            continue;
        }
        if label.chars().any(char::is_whitespace) {
            return Err(format!("the label {label:?} contains a space"));
        }
        out.push(Value::String(label.to_owned()));
    }
    Ok(Value::Array(out))
}

/// Sets a converted value on the request: `timetracking` merges, everything else replaces.
pub fn put(fields: &mut Map<String, Value>, id: &str, value: Value) {
    match (fields.get_mut(id), value) {
        (Some(Value::Object(old)), Value::Object(new)) if id == "timetracking" => {
            old.extend(new);
        }
        (_, value) => {
            fields.insert(id.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    struct Users;

    #[async_trait]
    impl UserDirectory for Users {
        async fn account_id(&self, email: &str) -> Result<Option<String>, String> {
            Ok((email == "alice@example.com").then(|| "acc-alice".to_owned()))
        }
    }

    fn field(kind: FieldKind, allowed: &Value) -> FieldInfo {
        FieldInfo {
            id: "customfield_1".into(),
            name: "F".into(),
            kind,
            required: false,
            has_default: false,
            allowed: allowed.as_array().cloned().unwrap_or_default(),
        }
    }

    async fn conv(kind: FieldKind, allowed: Value, rule: Rule, v: Value) -> Result<Value, String> {
        convert(&field(kind, &allowed), &rule, v, &Users).await
    }

    async fn plain(kind: FieldKind, v: Value) -> Result<Value, String> {
        conv(kind, Value::Null, Rule::default(), v).await
    }

    #[tokio::test]
    async fn scalars() {
        assert_eq!(plain(FieldKind::Text, json!(3)).await, Ok(json!("3")));
        assert!(plain(FieldKind::Text, json!([1])).await.is_err());
        assert_eq!(plain(FieldKind::Number, json!(" 2.0 ")).await, Ok(json!(2)));
        assert_eq!(plain(FieldKind::Number, json!("2.5")).await, Ok(json!(2.5)));
        assert_eq!(
            plain(FieldKind::Number, json!("two")).await,
            Err("expected a number, found \"two\"".into())
        );
        assert_eq!(
            plain(FieldKind::Labels, json!(["a", "", "b"])).await,
            Ok(json!(["a", "b"]))
        );
        assert!(plain(FieldKind::Labels, json!("a b")).await.is_err());
        assert_eq!(
            plain(FieldKind::Parent, json!("DEMO-1")).await,
            Ok(json!({"key":"DEMO-1"}))
        );
        assert_eq!(
            plain(FieldKind::TimeTracking, json!("2d")).await,
            Ok(json!({"originalEstimate":"2d"}))
        );
    }

    #[tokio::test]
    async fn dates_and_times() {
        let tz = Rule {
            time_zone: Some("Europe/Berlin".into()),
            ..Rule::default()
        };
        assert_eq!(
            plain(FieldKind::Date, json!("2026-03-31")).await,
            Ok(json!("2026-03-31"))
        );
        assert_eq!(
            conv(
                FieldKind::Date,
                Value::Null,
                tz.clone(),
                json!("2026-03-31T23:30:00Z")
            )
            .await,
            Ok(json!("2026-04-01"))
        );
        assert_eq!(
            plain(FieldKind::DateTime, json!("2026-03-31T14:00:00+02:00")).await,
            Ok(json!("2026-03-31T12:00:00.000+0000"))
        );
        assert_eq!(
            conv(
                FieldKind::DateTime,
                Value::Null,
                tz,
                json!("2026-01-05 10:30")
            )
            .await,
            Ok(json!("2026-01-05T09:30:00.000+0000"))
        );
        assert_eq!(
            plain(FieldKind::DateTime, json!("2026-01-05T09:30:00.123+0100")).await,
            Ok(json!("2026-01-05T08:30:00.123+0000"))
        );
        assert_eq!(
            plain(FieldKind::DateTime, json!(0)).await,
            Ok(json!("1970-01-01T00:00:00.000+0000"))
        );
        assert!(plain(FieldKind::Date, json!("31/03/2026")).await.is_err());
    }

    #[tokio::test]
    async fn choices_use_allowed_values() {
        let allowed = json!([{"id":"1","value":"Platform"},{"id":"2","value":"Payments"}]);
        let c = |v| conv(FieldKind::Choice, allowed.clone(), Rule::default(), v);
        assert_eq!(c(json!("payments")).await, Ok(json!({"id":"2"})));
        assert_eq!(c(json!("1")).await, Ok(json!({"id":"1"})));
        assert_eq!(
            c(json!("Growth")).await,
            Err("\"Growth\" is not an allowed value (allowed: Platform, Payments)".into())
        );
        assert_eq!(
            conv(
                FieldKind::Choices,
                allowed.clone(),
                Rule::default(),
                json!(["Platform", "2"])
            )
            .await,
            Ok(json!([{"id":"1"},{"id":"2"}]))
        );
        assert_eq!(
            plain(FieldKind::Choice, json!("High")).await,
            Ok(json!({"value":"High"}))
        );
    }

    #[tokio::test]
    async fn cascading_selects() {
        let allowed =
            json!([{"id":"10","value":"Europe","children":[{"id":"11","value":"Berlin"}]}]);
        let c = |v| conv(FieldKind::Cascading, allowed.clone(), Rule::default(), v);
        assert_eq!(
            c(json!("Europe > Berlin")).await,
            Ok(json!({"id":"10","child":{"id":"11"}}))
        );
        assert_eq!(c(json!(["Europe"])).await, Ok(json!({"id":"10"})));
        assert!(
            c(json!("Europe > Paris"))
                .await
                .is_err_and(|e| e.contains("under"))
        );
    }

    #[tokio::test]
    async fn users_by_email_or_id() {
        assert_eq!(
            plain(FieldKind::User, json!("alice@example.com")).await,
            Ok(json!({"accountId":"acc-alice"}))
        );
        assert_eq!(
            plain(FieldKind::User, json!("5b10a")).await,
            Ok(json!({"accountId":"5b10a"}))
        );
        assert!(
            plain(FieldKind::Users, json!(["nobody@example.com"]))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn rich_text_formats() {
        let md = Rule {
            format: Some(TextFormat::Markdown),
            ..Rule::default()
        };
        let out = conv(FieldKind::RichText, Value::Null, md, json!("**hi**"))
            .await
            .unwrap_or_default();
        assert_eq!(out["type"], "doc");
        assert_eq!(
            out["content"][0]["content"][0]["marks"][0]["type"],
            "strong"
        );
        let adf = Rule {
            format: Some(TextFormat::Adf),
            ..Rule::default()
        };
        assert!(
            conv(
                FieldKind::RichText,
                Value::Null,
                adf,
                json!("{\"type\":\"p\"}")
            )
            .await
            .is_err()
        );
    }

    #[test]
    fn kinds_from_schemas() {
        let k = |id: &str, s: Value| kind_of(id, &s);
        assert_eq!(
            k(
                "description",
                json!({"type":"string","system":"description"})
            ),
            FieldKind::RichText
        );
        assert_eq!(
            k(
                "customfield_1",
                json!({"type":"string","custom":"com.atlassian.jira.plugin.system.customfieldtypes:textarea"})
            ),
            FieldKind::RichText
        );
        assert_eq!(
            k(
                "labels",
                json!({"type":"array","items":"string","system":"labels"})
            ),
            FieldKind::Labels
        );
        assert_eq!(
            k("fixVersions", json!({"type":"array","items":"version"})),
            FieldKind::Choices
        );
        assert_eq!(k("parent", json!({"type":"issuelink"})), FieldKind::Parent);
        assert_eq!(k("x", json!({"type":"weird"})), FieldKind::Any);
    }
}
