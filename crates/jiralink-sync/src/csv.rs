//! The CSV encoder: one header row of human column names, then one row per record, every
//! value flattened to text, quoted as RFC 4180 says (the `csv` crate writes it; lines end with
//! CRLF).
//!
//! The columns are fixed when a run starts and kept in its checkpoint, so a resumed run writes
//! rows that fit the header already written:
//!
//! - **Issues**: `Id`, `Key`, then one column per field requested, named as `/field` names it
//!   (custom fields by their name; two fields of one name get their ids in brackets, e.g.
//!   `Team (customfield_10011)`). `*all` is every field `/field` lists, `*navigable` the
//!   navigable ones.
//! - **Other resources**: the top-level keys of the first page's records: `id` and `key` first
//!   when present, then the others alphabetically (keys that appear only in later pages are
//!   left out).
//!
//! Values ([`flatten`]): text, numbers and dates as Jira sent them; `null` empty; an ADF
//! document its plain text; a user its `displayName`; an option its `value` (a cascading
//! option `parent > child`); another object its `name`, else `key`, else `id`, else its JSON;
//! arrays the flattened items joined with `; `.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};

use crate::{
    adf,
    error::SyncError,
    output::{Encoder, EncoderContext},
    spec::ExportSpec,
};

/// A field as `GET /field` lists it (only what naming columns needs).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct FieldInfo {
    /// `summary`, `customfield_10011`, …
    pub id: String,
    /// What Jira shows, e.g. `Team`.
    pub name: String,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// Whether it can be shown in the issue navigator (`*navigable`).
    #[serde(default)]
    pub navigable: bool,
}

/// Where a column's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A top-level key of the record.
    Top(String),
    /// A key below `fields` (issues).
    Field(String),
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Column {
    /// The header.
    pub name: String,
    /// Where its values come from.
    pub source: Source,
}

/// The columns of a run, fixed at its start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Columns(pub Vec<Column>);

/// Why columns could not be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    /// A requested field is neither an id nor a name `/field` lists.
    #[error("the field {0:?} is not known to Jira (neither a field id nor a field name)")]
    UnknownField(String),
    /// A name matches several fields.
    #[error("the field name {name:?} matches several fields ({ids}); use one of the ids")]
    AmbiguousName {
        /// The name asked for.
        name: String,
        /// The ids it matches.
        ids: String,
    },
}

/// Resolves the fields an issue export asks for (`*all`, `*navigable`, ids, names, `-x` to
/// leave one out) to field ids, in order, using `catalogue` (from `GET /field`).
///
/// # Errors
/// [`ColumnError`] for a name that is unknown or matches several fields.
pub fn resolve_fields(
    requested: &[String],
    catalogue: &[FieldInfo],
) -> Result<Vec<String>, ColumnError> {
    let by_id: HashMap<&str, &FieldInfo> = catalogue.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut ids: Vec<String> = Vec::new();
    let mut excluded = BTreeSet::new();
    let requested: Vec<&str> = if requested.is_empty() {
        vec!["*all"]
    } else {
        requested.iter().map(|s| s.trim()).collect()
    };
    for item in requested {
        match item {
            "" => {}
            "*all" => ids.extend(catalogue.iter().map(|f| f.id.clone())),
            "*navigable" => ids.extend(
                catalogue
                    .iter()
                    .filter(|f| f.navigable)
                    .map(|f| f.id.clone()),
            ),
            other => {
                let (exclude, name) = match other.strip_prefix('-') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, other),
                };
                let id = resolve_one(name, &by_id, catalogue)?;
                if exclude {
                    excluded.insert(id);
                } else {
                    ids.push(id);
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    ids.retain(|id| !excluded.contains(id) && seen.insert(id.clone()));
    Ok(ids)
}

fn resolve_one(
    name: &str,
    by_id: &HashMap<&str, &FieldInfo>,
    catalogue: &[FieldInfo],
) -> Result<String, ColumnError> {
    if by_id.contains_key(name) {
        return Ok(name.to_owned());
    }
    let matches: Vec<&FieldInfo> = catalogue
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name))
        .collect();
    match matches.as_slice() {
        [] => Err(ColumnError::UnknownField(name.to_owned())),
        [one] => Ok(one.id.clone()),
        many => Err(ColumnError::AmbiguousName {
            name: name.to_owned(),
            ids: many
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

impl Columns {
    /// The columns of an issue export: `Id`, `Key`, then the fields `field_ids` (already
    /// resolved), named by `catalogue`.
    #[must_use]
    pub fn for_issues(field_ids: &[String], catalogue: &[FieldInfo]) -> Self {
        let by_id: HashMap<&str, &FieldInfo> =
            catalogue.iter().map(|f| (f.id.as_str(), f)).collect();
        let mut count: HashMap<String, usize> = HashMap::new();
        let name_of = |id: &str| {
            by_id
                .get(id)
                .map_or_else(|| id.to_owned(), |f| f.name.clone())
        };
        for id in field_ids {
            *count.entry(name_of(id).to_lowercase()).or_default() += 1;
        }
        // `Id` and `Key` are taken by the issue's own columns.
        *count.entry("id".to_owned()).or_default() += 1;
        *count.entry("key".to_owned()).or_default() += 1;
        let mut columns = vec![
            Column {
                name: "Id".to_owned(),
                source: Source::Top("id".to_owned()),
            },
            Column {
                name: "Key".to_owned(),
                source: Source::Top("key".to_owned()),
            },
        ];
        for id in field_ids {
            let name = name_of(id);
            let name = if count.get(&name.to_lowercase()).copied().unwrap_or(0) > 1 {
                format!("{name} ({id})")
            } else {
                name
            };
            columns.push(Column {
                name,
                source: Source::Field(id.clone()),
            });
        }
        Self(columns)
    }

    /// The columns of a list of other records: their top-level keys, `id` and `key` first,
    /// then alphabetically.
    #[must_use]
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut keys = BTreeSet::new();
        for record in records {
            if let Value::Object(map) = record {
                keys.extend(map.keys().cloned());
            }
        }
        let first: Vec<String> = ["id", "key"]
            .into_iter()
            .filter_map(|k| keys.take(k))
            .collect();
        let columns = first
            .into_iter()
            .chain(keys)
            .map(|key| Column {
                name: key.clone(),
                source: Source::Top(key),
            })
            .collect();
        Self(columns)
    }

    /// Whether there are no columns yet (a list whose first page was empty).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header row.
    ///
    /// # Errors
    /// Only if writing to memory fails, which the `csv` crate reports as an error.
    pub fn header(&self, out: &mut Vec<u8>) -> Result<(), csv::Error> {
        write_row(out, self.0.iter().map(|c| c.name.clone()))
    }

    /// One record's row.
    ///
    /// # Errors
    /// As [`Self::header`].
    pub fn row(&self, record: &Value, out: &mut Vec<u8>) -> Result<(), csv::Error> {
        write_row(out, self.cells(record))
    }

    /// One record's cells, in column order.
    fn cells<'r>(&'r self, record: &'r Value) -> impl Iterator<Item = String> + 'r {
        self.0.iter().map(move |c| {
            let value = match &c.source {
                Source::Top(key) => record.get(key),
                Source::Field(id) => record.get("fields").and_then(|f| f.get(id)),
            };
            value.map(flatten).unwrap_or_default()
        })
    }
}

fn write_row(out: &mut Vec<u8>, cells: impl Iterator<Item = String>) -> Result<(), csv::Error> {
    // A writer per row writes straight into `out`; a small buffer keeps that cheap (it is
    // flushed into `out` whenever it fills).
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(1024)
        .from_writer(out);
    writer.write_record(cells)?;
    writer.flush()?;
    Ok(())
}

/// One value as the text of a cell.
#[must_use]
pub fn flatten(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .map(flatten)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(map) => {
            if adf::is_adf(value) {
                return adf::to_text(value);
            }
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
            if let Some(name) = text("displayName") {
                return name;
            }
            if let Some(option) = map.get("value").filter(|v| !v.is_object()) {
                let option = flatten(option);
                return match map.get("child") {
                    Some(child) => format!("{option} > {}", flatten(child)),
                    None => option,
                };
            }
            text("name")
                .or_else(|| text("key"))
                .or_else(|| match map.get("id") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| value.to_string())
        }
    }
}

/// The CSV [`Encoder`]: the header at the start of the output, a row per record.
#[derive(Debug, Clone)]
pub struct CsvEncoder {
    columns: Columns,
}

fn csv_error(e: &csv::Error) -> SyncError {
    SyncError::Decode(format!("a record as CSV ({e})"))
}

impl CsvEncoder {
    /// An encoder writing `columns`.
    #[must_use]
    pub fn new(columns: Columns) -> Self {
        Self { columns }
    }

    /// The encoder of an issue export: the columns kept in `ctx.state` when the run resumes,
    /// else `Id`, `Key` and the fields `spec` asks for, named from `ctx.fields` (`GET /field`).
    ///
    /// # Errors
    /// [`SyncError::InvalidSpec`] for a field that is unknown or ambiguous;
    /// [`SyncError::Decode`] for a checkpoint whose columns cannot be read.
    pub fn for_issues(spec: &ExportSpec, ctx: &EncoderContext) -> Result<Self, SyncError> {
        if let Some(state) = ctx.state.as_ref().filter(|s| !s.is_null()) {
            return Self::from_state(state);
        }
        let catalogue = field_catalogue(ctx.fields.as_deref().map_or(&[], Vec::as_slice));
        let ids = resolve_fields(&spec.fields, &catalogue)
            .map_err(|e| SyncError::InvalidSpec(e.to_string()))?;
        Ok(Self::new(Columns::for_issues(&ids, &catalogue)))
    }

    /// The encoder a checkpoint's [`Encoder::state`] describes.
    ///
    /// # Errors
    /// [`SyncError::Decode`] when `state` holds no columns.
    pub fn from_state(state: &Value) -> Result<Self, SyncError> {
        serde_json::from_value(state.clone())
            .map(Self::new)
            .map_err(|e| SyncError::Decode(format!("the CSV columns of a checkpoint ({e})")))
    }

    /// The columns.
    #[must_use]
    pub fn columns(&self) -> &Columns {
        &self.columns
    }
}

/// Jira's field list as [`FieldInfo`]s (entries that do not fit are left out).
#[must_use]
pub fn field_catalogue(fields: &[Value]) -> Vec<FieldInfo> {
    fields
        .iter()
        .filter_map(|f| serde_json::from_value(f.clone()).ok())
        .collect()
}

impl Encoder for CsvEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), SyncError> {
        if self.columns.is_empty() {
            return Ok(());
        }
        self.columns.header(out).map_err(|e| csv_error(&e))
    }

    fn record(&mut self, record: &RawValue, out: &mut Vec<u8>) -> Result<(), SyncError> {
        let value: Value = serde_json::from_str(record.get())
            .map_err(|e| SyncError::Decode(format!("a record as JSON ({e})")))?;
        self.columns.row(&value, out).map_err(|e| csv_error(&e))
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Result<(), SyncError> {
        Ok(())
    }

    fn state(&self) -> Value {
        serde_json::to_value(&self.columns).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    fn catalogue() -> Vec<FieldInfo> {
        serde_json::from_value(json!([
            {"id": "summary", "name": "Summary", "custom": false, "navigable": true},
            {"id": "assignee", "name": "Assignee", "custom": false, "navigable": true},
            {"id": "customfield_10011", "name": "Team", "custom": true, "navigable": true},
            {"id": "customfield_10020", "name": "Team", "custom": true, "navigable": false},
            {"id": "customfield_10030", "name": "Story Points", "custom": true, "navigable": true}
        ]))
        .unwrap()
    }

    fn text(out: &[u8]) -> String {
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn fields_resolve_by_id_name_and_star_forms() {
        let c = catalogue();
        assert_eq!(
            resolve_fields(&["summary".into(), "story points".into()], &c).unwrap(),
            ["summary", "customfield_10030"]
        );
        assert_eq!(
            resolve_fields(&["*all".into(), "-Assignee".into()], &c)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(resolve_fields(&["*navigable".into()], &c).unwrap().len(), 4);
        assert_eq!(
            resolve_fields(&["Team".into()], &c).unwrap_err(),
            ColumnError::AmbiguousName {
                name: "Team".into(),
                ids: "customfield_10011, customfield_10020".into()
            }
        );
        assert!(matches!(
            resolve_fields(&["Nope".into()], &c),
            Err(ColumnError::UnknownField(_))
        ));
    }

    #[test]
    fn issue_headers_use_field_names_and_disambiguate_duplicates() {
        let c = catalogue();
        let ids = resolve_fields(&["*all".into()], &c).unwrap();
        let columns = Columns::for_issues(&ids, &c);
        let mut out = Vec::new();
        columns.header(&mut out).unwrap();
        assert_eq!(
            text(&out),
            "Id,Key,Summary,Assignee,Team (customfield_10011),Team (customfield_10020),Story Points\r\n"
        );
    }

    #[test]
    fn rows_flatten_values_and_quote_as_rfc_4180_says() {
        let c = catalogue();
        let columns = Columns::for_issues(
            &[
                "summary".into(),
                "assignee".into(),
                "customfield_10011".into(),
                "customfield_10030".into(),
            ],
            &c,
        );
        let issue = json!({"id": "10001", "key": "A-1", "fields": {
            "summary": "Say \"hi\", then\nleave",
            "assignee": {"accountId": "5b10", "displayName": "Mia Krystof"},
            "customfield_10011": [{"value": "Red"}, {"value": "Blue"}],
            "customfield_10030": 3.5
        }});
        let mut out = Vec::new();
        columns.row(&issue, &mut out).unwrap();
        assert_eq!(
            text(&out),
            "10001,A-1,\"Say \"\"hi\"\", then\nleave\",Mia Krystof,Red; Blue,3.5\r\n"
        );
    }

    #[test]
    fn flattening_rules() {
        assert_eq!(flatten(&json!(null)), "");
        assert_eq!(
            flatten(&json!("2026-01-05T09:30:00.000+0000")),
            "2026-01-05T09:30:00.000+0000"
        );
        assert_eq!(flatten(&json!(true)), "true");
        assert_eq!(
            flatten(&json!({"value": "A", "child": {"value": "B"}})),
            "A > B"
        );
        assert_eq!(flatten(&json!({"name": "High", "id": "2"})), "High");
        assert_eq!(flatten(&json!({"key": "PROJ", "id": "1"})), "PROJ");
        assert_eq!(flatten(&json!({"id": 7})), "7");
        assert_eq!(flatten(&json!({"a": 1})), "{\"a\":1}");
        assert_eq!(flatten(&json!(["x", null, {"name": "y"}])), "x; y");
        assert_eq!(
            flatten(&json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "hello"}]}
            ]})),
            "hello"
        );
    }

    #[test]
    fn other_records_use_their_keys_id_first() {
        let records = [
            json!({"name": "A", "id": "1"}),
            json!({"id": "2", "lead": "x", "name": "B"}),
        ];
        let columns = Columns::from_records(&records);
        let mut out = Vec::new();
        columns.header(&mut out).unwrap();
        for r in &records {
            columns.row(r, &mut out).unwrap();
        }
        assert_eq!(text(&out), "id,lead,name\r\n1,,A\r\n2,x,B\r\n");
    }

    #[test]
    fn columns_survive_a_checkpoint() {
        let columns = Columns::for_issues(&["summary".into()], &catalogue());
        let json = serde_json::to_value(&columns).unwrap();
        assert_eq!(serde_json::from_value::<Columns>(json).unwrap(), columns);
    }

    #[test]
    fn the_encoder_writes_the_header_once_and_resumes_with_the_same_columns() {
        let mut spec = ExportSpec::new(crate::spec::Resource::Issues);
        spec.fields = vec!["summary".into(), "Story Points".into()];
        let fields: Vec<Value> = catalogue()
            .iter()
            .map(|f| serde_json::to_value(f).unwrap())
            .collect();
        let ctx = EncoderContext {
            fields: Some(std::sync::Arc::new(fields)),
            ..EncoderContext::default()
        };
        let mut enc = CsvEncoder::for_issues(&spec, &ctx).unwrap();
        let mut out = Vec::new();
        enc.begin(&mut out).unwrap();
        let issue = RawValue::from_string(
            r#"{"id":"1","key":"A-1","fields":{"summary":"s","customfield_10030":2}}"#.into(),
        )
        .unwrap();
        enc.record(&issue, &mut out).unwrap();
        assert_eq!(text(&out), "Id,Key,Summary,Story Points\r\n1,A-1,s,2\r\n");

        let resumed_ctx = EncoderContext {
            state: Some(enc.state()),
            ..EncoderContext::default()
        };
        let resumed = CsvEncoder::for_issues(&spec, &resumed_ctx).unwrap();
        assert_eq!(resumed.columns(), enc.columns());
    }

    #[test]
    fn unknown_fields_are_an_invalid_spec() {
        let mut spec = ExportSpec::new(crate::spec::Resource::Issues);
        spec.fields = vec!["Nope".into()];
        let err = CsvEncoder::for_issues(&spec, &EncoderContext::default()).unwrap_err();
        assert_eq!(err.code(), "invalid_spec");
    }
}
