//! Actions: what an import does to a record's issue after creating or updating it.
//!
//! ```toml
//! [actions]
//! status = "state"                                   # a rule, as for fields
//! transition_fields = { resolution = { const = "Done" } }
//! comment = { source = "note", format = "markdown" } # plain (default), markdown or adf
//! worklog = { time_spent = "spent", started = "day", comment = "work" }
//! links = [ { type = "Blocks", to = "blocks" } ]
//! attachments = { source = "files", split = ";" }
//! ```
//!
//! | Action | What happens |
//! |---|---|
//! | `status` | The transition whose target status has this name (ignoring case) is taken, with those of `transition_fields` its screen has, converted by the screen's metadata. An issue already in the status is left alone; when no transition of the issue's leads there, the record fails and the message lists the statuses that can be reached. |
//! | `comment` | A comment is added. |
//! | `worklog` | Work is logged: `time_spent` in seconds or Jira's units (`3h 20m`, `1.5h`, `2d`; 8-hour days, 5-day weeks), `started` a date-time as for fields (the time of sending without it), `comment` rich text. |
//! | `links` | This issue is linked to each issue key `to` holds (a list, or text split on commas, semicolons and spaces) with the link type `type`, this issue on the outward side (for `Blocks`: this issue blocks them). |
//! | `attachments` | Each file `attachments` names (a list, or text, split with `split`) is uploaded, its content type guessed from its extension. Files are read from the job's attachment directory ([`super::ImportJob::attachment_dir`]), which the caller gives explicitly: names are relative to it, and a URL, an absolute path, a `..` or a symbolic link leading outside it is refused. Nothing is ever downloaded. |
//!
//! They run in this order, only for records whose issue was created or updated by this run
//! (a record skipped because an earlier run created its issue gets none). A value that does
//! not fit (a time spent that is not one, a file that is missing or outside the directory, a
//! link to something that is not an issue key) fails the record before anything is sent. An
//! action Jira refuses fails the record with the action's name in `errors`; the record keeps
//! its issue's key, as the issue was written, and the other actions still run. The result's
//! `actions` lists what was done. A dry run lists the actions in `request` instead.
//!
//! # Running twice adds nothing twice
//!
//! Re-running an import, or resuming one, must not add a second comment, worklog or
//! attachment. Transitions and links need no bookkeeping: an issue already in the status is
//! left alone, and Jira answers a link that exists with success without making another. The
//! others are remembered in the issue itself, in the [`super::IMPORT_PROPERTY`] property the
//! engine sets on every issue it creates (`{"ledger": …, "record": …}`): its `actions` object
//! gains a hash for each action applied, `{"actions": {"3f2a…": true}}`. The hash covers the
//! ledger scope, the record's identity, the kind of action and the values the mapping gave it
//! before conversion (for an attachment, its name and a hash of its content), so the same
//! record re-imported, even with other fields changed, finds its comment there and skips it,
//! while a changed comment or another record's comment on the same issue is added. Keeping
//! the hashes with the issue rather than in the ledger covers issues an import updates but
//! did not create, and survives the ledger's loss.
//!
//! The hash is written right after each action succeeds, so only an answer lost in transit,
//! or a crash between Jira's answer and the property write, leaves an action that a later run
//! adds again; an action is never skipped that was not applied. Actions on one issue run one
//! after another (records naming the same issue included), so their property writes do not
//! overwrite each other; actions on different issues run concurrently, as many at once as
//! updates.

use std::{
    collections::HashSet,
    path::{Component, Path, PathBuf},
};

use jiralink_atlassian::{AtlassianError, JiraClient, TransitionInput, WorklogInput};
use jiralink_domain::Clock;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    convert::{FieldInfo, FieldKind, UserDirectory, convert},
    mapping::{Actions, Rule, text_of},
    plan::resolve_field,
    run::{IMPORT_PROPERTY, ends_run, with_waits},
};
use crate::error::SyncError;

/// One transition screen field's value, before the screen is known.
#[derive(Debug, Clone)]
struct ScreenValue {
    name: String,
    rule: Rule,
    value: Value,
}

/// An action that adds something, and the hash that remembers it was added.
#[derive(Debug, Clone)]
struct Adding<T> {
    what: T,
    hash: String,
}

/// A file to attach, found inside the attachment directory.
#[derive(Debug, Clone)]
struct Attachment {
    /// As the record named it.
    written: String,
    /// The name Jira shows.
    file_name: String,
    content_type: &'static str,
    size: u64,
}

/// A link from the record's issue.
#[derive(Debug, Clone)]
struct Link {
    link_type: String,
    to: String,
}

/// One record's actions, evaluated and converted as far as can be without its issue.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordActions {
    status: Option<String>,
    screen: Vec<ScreenValue>,
    comment: Option<Adding<Value>>,
    worklog: Option<Adding<WorklogInput>>,
    links: Vec<Link>,
    attachments: Vec<Attachment>,
    /// The start of every hash of this record: ledger scope and identity.
    salt: String,
}

/// What a record's actions need of the run.
pub(crate) struct Context<'a> {
    pub(crate) client: &'a JiraClient,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) users: &'a dyn UserDirectory,
    /// The attachment directory, canonical.
    pub(crate) base: Option<&'a Path>,
    pub(crate) scope: &'a str,
}

/// What a record's actions did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// What was done (or found done), in order.
    pub(crate) done: Vec<String>,
    /// Action name → why it failed.
    pub(crate) errors: Map<String, Value>,
    /// Waits for rate limits.
    pub(crate) waits: u32,
    /// Requests that changed the issue.
    pub(crate) applied: u64,
}

fn pseudo_field(kind: FieldKind, name: &str) -> FieldInfo {
    FieldInfo {
        id: name.to_owned(),
        name: name.to_owned(),
        kind,
        required: false,
        has_default: false,
        allowed: Vec::new(),
    }
}

fn hash_of(parts: &[&Value]) -> String {
    let text = serde_json::to_vec(parts).unwrap_or_default();
    let digest = Sha256::digest(&text);
    // 64 bits tell apart the few actions one issue carries; more would only crowd the
    // property, which Jira caps at 32 KiB.
    digest[..8]
        .iter()
        .fold(String::with_capacity(16), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl RecordActions {
    /// Evaluates `actions` for `record`; the errors are keyed by action name.
    pub(crate) async fn prepare(
        actions: &Actions,
        record: &Map<String, Value>,
        identity: &str,
        cx: &Context<'_>,
    ) -> Result<Self, Map<String, Value>> {
        let salt = Value::String(format!("{}\u{0}{identity}", cx.scope));
        let mut out = Self {
            salt: text_of(&salt),
            ..Self::default()
        };
        let mut errors = Map::new();
        out.status = actions
            .status
            .as_ref()
            .and_then(|r| r.evaluate(record))
            .map(|v| text_of(&v).trim().to_owned())
            .filter(|s| !s.is_empty());
        if out.status.is_some() {
            for (name, rule) in &actions.transition_fields {
                if let Some(value) = rule.evaluate(record) {
                    out.screen.push(ScreenValue {
                        name: name.clone(),
                        rule: rule.clone(),
                        value,
                    });
                }
            }
        }
        if let Some(rule) = &actions.comment
            && let Some(raw) = rule.evaluate(record)
        {
            let field = pseudo_field(FieldKind::RichText, "comment");
            match convert(&field, rule, raw.clone(), cx.users).await {
                Ok(body) => {
                    let format = json!(rule.format);
                    out.comment = Some(Adding {
                        what: body,
                        hash: hash_of(&[&salt, &json!("comment"), &raw, &format]),
                    });
                }
                Err(e) => {
                    errors.insert("comment".into(), Value::String(e));
                }
            }
        }
        if let Some(w) = &actions.worklog {
            match worklog(w, record, cx).await {
                Ok(Some((input, raw))) => {
                    out.worklog = Some(Adding {
                        what: input,
                        hash: hash_of(&[&salt, &json!("worklog"), &raw]),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    errors.insert("worklog".into(), Value::String(e));
                }
            }
        }
        let mut link_errors = Vec::new();
        for link in &actions.links {
            let Some(value) = link.to.evaluate(record) else {
                continue;
            };
            for key in issue_keys(&value) {
                match issue_key(&key) {
                    Some(to) => {
                        let link = Link {
                            link_type: link.link_type.clone(),
                            to,
                        };
                        if !out
                            .links
                            .iter()
                            .any(|l| l.to == link.to && l.link_type == link.link_type)
                        {
                            out.links.push(link);
                        }
                    }
                    None => link_errors.push(format!("{key:?} is not an issue key")),
                }
            }
        }
        if !link_errors.is_empty() {
            errors.insert("links".into(), Value::String(link_errors.join("; ")));
        }
        if let Some(rule) = &actions.attachments
            && let Some(value) = rule.evaluate(record)
        {
            let mut problems = Vec::new();
            for name in file_names(&value) {
                let found = match cx.base {
                    Some(base) => find_file(base, &name).await,
                    None => Err("no attachment directory was given to read files from".to_owned()),
                };
                match found {
                    Ok((_, file_name, size)) => {
                        if !out.attachments.iter().any(|a| a.written == name) {
                            out.attachments.push(Attachment {
                                content_type: content_type(&file_name),
                                written: name,
                                file_name,
                                size,
                            });
                        }
                    }
                    Err(e) => problems.push(e),
                }
            }
            if !problems.is_empty() {
                errors.insert("attachments".into(), Value::String(problems.join("; ")));
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Whether there is nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.comment.is_none()
            && self.worklog.is_none()
            && self.links.is_empty()
            && self.attachments.is_empty()
    }

    /// The actions as a dry run shows them.
    pub(crate) fn describe(&self) -> Value {
        let mut out = Vec::new();
        if let Some(status) = &self.status {
            let fields: Map<String, Value> = self
                .screen
                .iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect();
            out.push(json!({ "action": "transition", "status": status, "fields": fields }));
        }
        if let Some(c) = &self.comment {
            out.push(json!({ "action": "comment", "body": c.what }));
        }
        if let Some(w) = &self.worklog {
            let mut v = json!({
                "action": "worklog",
                "timeSpentSeconds": w.what.time_spent_seconds,
                "started": w.what.started,
            });
            if let Some(c) = &w.what.comment {
                v["comment"] = c.clone();
            }
            out.push(v);
        }
        for l in &self.links {
            out.push(json!({ "action": "link", "type": l.link_type, "to": l.to }));
        }
        for a in &self.attachments {
            out.push(json!({
                "action": "attachment",
                "file": a.written,
                "contentType": a.content_type,
                "size": a.size,
            }));
        }
        Value::Array(out)
    }

    /// Applies the actions to issue `key`. Each failure is reported under its action's name.
    ///
    /// # Errors
    /// Only what ends the run: Jira refusing the credentials.
    pub(crate) async fn apply(&self, cx: &Context<'_>, key: &str) -> Result<Report, SyncError> {
        let mut report = Report::default();
        if let Some(status) = &self.status {
            match self.transition(cx, key, status, &mut report).await {
                Ok(done) => report.done.push(done),
                Err(e) => {
                    report
                        .errors
                        .insert("status".into(), Value::String(e.into_text()?));
                }
            }
        }
        let adds = self.comment.is_some() || self.worklog.is_some() || !self.attachments.is_empty();
        let mut marks = if adds {
            match Marks::load(cx, key).await {
                Ok(m) => Some(m),
                Err(e) => {
                    let why = Failure::Jira(e).into_text()?;
                    let text = format!("what earlier runs added could not be read: {why}");
                    for (name, wanted) in [
                        ("comment", self.comment.is_some()),
                        ("worklog", self.worklog.is_some()),
                        ("attachments", !self.attachments.is_empty()),
                    ] {
                        if wanted {
                            report
                                .errors
                                .insert(name.into(), Value::String(text.clone()));
                        }
                    }
                    None
                }
            }
        } else {
            None
        };
        if let (Some(c), Some(marks)) = (&self.comment, marks.as_mut()) {
            let sent = marks
                .add(cx, key, &c.hash, &mut report, || {
                    cx.client.comment_add(key, &c.what)
                })
                .await;
            match sent {
                Ok(true) => report.done.push("commented".into()),
                Ok(false) => report.done.push("comment already added".into()),
                Err(e) => {
                    report
                        .errors
                        .insert("comment".into(), Value::String(e.into_text()?));
                }
            }
        }
        if let (Some(w), Some(marks)) = (&self.worklog, marks.as_mut()) {
            let sent = marks
                .add(cx, key, &w.hash, &mut report, || {
                    cx.client.worklog_add(key, &w.what)
                })
                .await;
            let spent = jira_duration(w.what.time_spent_seconds);
            match sent {
                Ok(true) => report.done.push(format!("logged {spent}")),
                Ok(false) => report.done.push(format!("{spent} already logged")),
                Err(e) => {
                    report
                        .errors
                        .insert("worklog".into(), Value::String(e.into_text()?));
                }
            }
        }
        let mut link_errors = Vec::new();
        for link in &self.links {
            // Jira answers an existing link with success and makes no second one.
            let sent = with_waits(cx.clock, true, || {
                cx.client.issue_link_create(&link.link_type, key, &link.to)
            })
            .await;
            match sent {
                Ok(((), waits)) => {
                    report.waits += waits;
                    report.applied += 1;
                    report
                        .done
                        .push(format!("linked ({}) to {}", link.link_type, link.to));
                }
                Err(e) => {
                    let text = Failure::Jira(e).into_text()?;
                    link_errors.push(format!("{} ({}): {text}", link.to, link.link_type));
                }
            }
        }
        if !link_errors.is_empty() {
            report
                .errors
                .insert("links".into(), Value::String(link_errors.join("; ")));
        }
        let mut attach_errors = Vec::new();
        if let Some(marks) = marks.as_mut() {
            for a in &self.attachments {
                match self.attach(cx, key, a, marks, &mut report).await {
                    Ok(true) => report.done.push(format!("attached {}", a.file_name)),
                    Ok(false) => report
                        .done
                        .push(format!("{} already attached", a.file_name)),
                    Err(e) => attach_errors.push(format!("{}: {}", a.written, e.into_text()?)),
                }
            }
        }
        if !attach_errors.is_empty() {
            report.errors.insert(
                "attachments".into(),
                Value::String(attach_errors.join("; ")),
            );
        }
        Ok(report)
    }

    async fn transition(
        &self,
        cx: &Context<'_>,
        key: &str,
        wanted: &str,
        report: &mut Report,
    ) -> Result<String, Failure> {
        let issue = cx
            .client
            .issue_find(key, &["status"])
            .await?
            .ok_or_else(|| Failure::Text(format!("issue {key} does not exist")))?;
        let current = issue
            .fields
            .get("status")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if current.eq_ignore_ascii_case(wanted) {
            return Ok(format!("already in {current}"));
        }
        let transitions = cx.client.issue_transitions(key).await?;
        let chosen = transitions
            .iter()
            .find(|t| t.to.name == wanted)
            .or_else(|| {
                transitions
                    .iter()
                    .find(|t| t.to.name.eq_ignore_ascii_case(wanted))
            });
        let Some(transition) = chosen else {
            let mut reachable: Vec<&str> = Vec::new();
            for t in &transitions {
                if !reachable.contains(&t.to.name.as_str()) {
                    reachable.push(&t.to.name);
                }
            }
            let reachable = if reachable.is_empty() {
                "none".to_owned()
            } else {
                reachable.join(", ")
            };
            return Err(Failure::Text(format!(
                "no transition leads from {current} to '{wanted}' (reachable: {reachable})"
            )));
        };
        let screen: Vec<FieldInfo> = transition
            .fields
            .values()
            .map(FieldInfo::from_meta)
            .collect();
        let mut fields = Map::new();
        let mut problems = Vec::new();
        for s in &self.screen {
            // One mapping serves transitions to several statuses; each takes the fields its
            // screen has (names unknown to the site were refused before the run).
            let Ok(field) = resolve_field(&screen, &s.name) else {
                continue;
            };
            match convert(field, &s.rule, s.value.clone(), cx.users).await {
                Ok(v) => super::convert::put(&mut fields, &field.id, v),
                Err(e) => problems.push(format!("{}: {e}", s.name)),
            }
        }
        if !problems.is_empty() {
            return Err(Failure::Text(problems.join("; ")));
        }
        let input = TransitionInput {
            id: transition.id.clone(),
            fields,
            update: Map::new(),
        };
        let ((), waits) =
            with_waits(cx.clock, false, || cx.client.issue_transition(key, &input)).await?;
        report.waits += waits;
        report.applied += 1;
        Ok(format!("transitioned to {}", transition.to.name))
    }

    async fn attach(
        &self,
        cx: &Context<'_>,
        key: &str,
        a: &Attachment,
        marks: &mut Marks,
        report: &mut Report,
    ) -> Result<bool, Failure> {
        let base = cx
            .base
            .ok_or_else(|| Failure::Text("no attachment directory was given".into()))?;
        // Found again: the directory may have changed since the record was read.
        let (path, _, _) = find_file(base, &a.written).await.map_err(Failure::Text)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Failure::Text(format!("could not be read: {e}")))?;
        let content = hex(&Sha256::digest(&bytes));
        let salt = Value::String(self.salt.clone());
        let hash = hash_of(&[
            &salt,
            &json!("attachment"),
            &json!(a.written),
            &json!(content),
        ]);
        marks
            .add(cx, key, &hash, report, || {
                cx.client
                    .attachment_add(key, &a.file_name, a.content_type, bytes.clone())
            })
            .await
    }
}

/// Why an action failed.
enum Failure {
    Jira(AtlassianError),
    Text(String),
}

impl From<AtlassianError> for Failure {
    fn from(e: AtlassianError) -> Self {
        Self::Jira(e)
    }
}

impl Failure {
    /// The message for the record, or the error that ends the run.
    fn into_text(self) -> Result<String, SyncError> {
        match self {
            Self::Jira(e) if ends_run(&e) => Err(e.into()),
            Self::Jira(e @ AtlassianError::Ambiguous { .. }) => {
                Ok(format!("{e}; Jira may have applied it"))
            }
            Self::Jira(e) => Ok(e.to_string()),
            Self::Text(t) => Ok(t),
        }
    }
}

/// The hashes of the actions applied to one issue, kept in its [`IMPORT_PROPERTY`].
struct Marks {
    property: Map<String, Value>,
    hashes: HashSet<String>,
}

impl Marks {
    async fn load(cx: &Context<'_>, key: &str) -> Result<Self, AtlassianError> {
        let property = match cx.client.issue_property_get(key, IMPORT_PROPERTY).await? {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let hashes = property
            .get("actions")
            .and_then(Value::as_object)
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        Ok(Self { property, hashes })
    }

    /// Sends an adding action unless its hash says an earlier run did; then remembers it.
    /// `Ok(false)` when it had been added before.
    async fn add<T, F, Fut>(
        &mut self,
        cx: &Context<'_>,
        key: &str,
        hash: &str,
        report: &mut Report,
        send: F,
    ) -> Result<bool, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AtlassianError>>,
    {
        if self.hashes.contains(hash) {
            return Ok(false);
        }
        let (_, waits) = with_waits(cx.clock, false, send).await?;
        report.waits += waits;
        report.applied += 1;
        self.hashes.insert(hash.to_owned());
        let actions = self
            .property
            .entry("actions")
            .or_insert_with(|| Value::Object(Map::new()));
        if !actions.is_object() {
            *actions = Value::Object(Map::new());
        }
        if let Value::Object(a) = actions {
            a.insert(hash.to_owned(), Value::Bool(true));
        }
        let value = Value::Object(self.property.clone());
        match with_waits(cx.clock, true, || {
            cx.client.issue_property_set(key, IMPORT_PROPERTY, &value)
        })
        .await
        {
            Ok(((), waits)) => {
                report.waits += waits;
                Ok(true)
            }
            Err(e) if ends_run(&e) => Err(Failure::Jira(e)),
            Err(e) => Err(Failure::Text(format!(
                "added, but not marked as added in the issue ({e}), so a re-run adds it again"
            ))),
        }
    }
}

/// The work to log and the values it came from, or `None` when the record gives no time.
async fn worklog(
    rule: &super::mapping::WorklogRule,
    record: &Map<String, Value>,
    cx: &Context<'_>,
) -> Result<Option<(WorklogInput, Value)>, String> {
    let Some(spent) = rule.time_spent.evaluate(record) else {
        return Ok(None);
    };
    let seconds = time_spent(&spent)?;
    let started_raw = rule.started.as_ref().and_then(|r| r.evaluate(record));
    let started_field = pseudo_field(FieldKind::DateTime, "started");
    let started = match (&rule.started, &started_raw) {
        (Some(r), Some(v)) => convert(&started_field, r, v.clone(), cx.users)
            .await
            .map_err(|e| format!("started: {e}"))?,
        _ => {
            let now = i64::try_from(cx.clock.now().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(i64::MAX);
            convert(&started_field, &Rule::default(), json!(now), cx.users).await?
        }
    };
    let comment_raw = rule.comment.as_ref().and_then(|r| r.evaluate(record));
    let comment = match (&rule.comment, &comment_raw) {
        (Some(r), Some(v)) => Some(
            convert(
                &pseudo_field(FieldKind::RichText, "comment"),
                r,
                v.clone(),
                cx.users,
            )
            .await
            .map_err(|e| format!("comment: {e}"))?,
        ),
        _ => None,
    };
    // The time of sending is not part of what identifies the worklog, or every run would
    // log it again.
    let raw = json!([spent, started_raw, comment_raw]);
    Ok(Some((
        WorklogInput {
            time_spent_seconds: seconds,
            started: text_of(&started),
            comment,
        },
        raw,
    )))
}

/// Seconds from a number of seconds or Jira's `1w 2d 3h 20m 10s` (8-hour days, 5-day
/// weeks, fractions allowed).
pub(crate) fn time_spent(v: &Value) -> Result<u64, String> {
    let bad = || format!("expected a time like 3h 20m or a number of seconds, found {v}");
    let seconds: f64 = match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                n
            } else {
                let mut total = 0.0;
                let mut rest = s;
                let mut parts = 0;
                while !rest.trim_start().is_empty() {
                    rest = rest.trim_start();
                    let end = rest
                        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                        .ok_or_else(bad)?;
                    let n: f64 = rest[..end].parse().map_err(|_| bad())?;
                    let mut chars = rest[end..].chars();
                    let unit = match chars.next().map(|c| c.to_ascii_lowercase()) {
                        Some('w') => 5.0 * 8.0 * 3600.0,
                        Some('d') => 8.0 * 3600.0,
                        Some('h') => 3600.0,
                        Some('m') => 60.0,
                        Some('s') => 1.0,
                        _ => return Err(bad()),
                    };
                    total += n * unit;
                    parts += 1;
                    rest = chars.as_str();
                }
                if parts == 0 {
                    return Err(bad());
                }
                total
            }
        }
        _ => return Err(bad()),
    };
    if !seconds.is_finite() || !(1.0..=1.0e12).contains(&seconds) {
        return Err(format!(
            "the time spent must be at least a second, found {v}"
        ));
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked to be between 1 and 10^12 above"
    )]
    Ok(seconds.round() as u64)
}

/// `12000` → `3h 20m`, in Jira's units.
fn jira_duration(seconds: u64) -> String {
    let mut rest = seconds;
    let mut out = Vec::new();
    for (unit, size) in [
        ("w", 144_000),
        ("d", 28_800),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if rest >= size {
            out.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out.join(" ")
}

/// The texts of a list, or of text split on commas, semicolons and white space.
fn issue_keys(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(issue_keys).collect(),
        other => text_of(other)
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// `demo-12` → `DEMO-12`; `None` for anything that is not an issue key.
pub(crate) fn issue_key(text: &str) -> Option<String> {
    let (project, number) = text.rsplit_once('-')?;
    let mut chars = project.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.to_ascii_uppercase())
}

/// The file names of a list, or of one text (split by the rule's `split`).
fn file_names(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(file_names).collect(),
        other => {
            let t = text_of(other).trim().to_owned();
            if t.is_empty() { Vec::new() } else { vec![t] }
        }
    }
}

/// Finds `name` inside `base` (canonical): its canonical path, the name Jira shows, and its
/// size.
///
/// # Errors
/// A URL, an absolute path, a `..`, a path leading outside `base` through a symbolic link,
/// or no such file.
pub(crate) async fn find_file(base: &Path, name: &str) -> Result<(PathBuf, String, u64), String> {
    let lower = name.to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .is_some_and(|(s, _)| s.len() > 1 && s.bytes().all(|b| b.is_ascii_alphabetic()));
    if lower.contains("://") || scheme {
        return Err(format!(
            "{name:?} is a URL; attachments are read from files, never downloaded"
        ));
    }
    // Files named on Windows use backslashes; read them as separators, not as names.
    let portable = name.replace('\\', "/");
    let relative = Path::new(&portable);
    let mut file_name = None;
    for c in relative.components() {
        match c {
            Component::Normal(part) => file_name = Some(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "{name:?} leaves the attachment directory (..); name files inside it"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{name:?} is an absolute path; name files relative to the attachment directory"
                ));
            }
        }
    }
    let Some(file_name) = file_name else {
        return Err(format!("{name:?} names no file"));
    };
    let path = tokio::fs::canonicalize(base.join(relative))
        .await
        .map_err(|_| format!("{name:?}: no such file in the attachment directory"))?;
    if !path.starts_with(base) {
        return Err(format!(
            "{name:?} leads outside the attachment directory through a symbolic link"
        ));
    }
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|e| format!("{name:?}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{name:?} is not a file"));
    }
    Ok((path, file_name, meta.len()))
}

/// The content type of a file, by its extension.
pub(crate) fn content_type(file_name: &str) -> &'static str {
    let ext = Path::new(file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether the mapping's actions are allowed with `attachment_dir`, and the directory,
/// canonical, when the mapping attaches files.
///
/// # Errors
/// [`SyncError::InvalidSpec`]: attachments without a directory, or one that cannot be used.
pub fn check_attachment_dir(
    actions: &Actions,
    attachment_dir: Option<&Path>,
) -> Result<Option<PathBuf>, SyncError> {
    if actions.attachments.is_none() {
        return Ok(None);
    }
    let Some(dir) = attachment_dir else {
        return Err(SyncError::InvalidSpec(
            "actions.attachments: files are read from an attachment directory, and none was given"
                .into(),
        ));
    };
    let canonical = std::fs::canonicalize(dir).map_err(|e| {
        SyncError::InvalidSpec(format!(
            "the attachment directory {} cannot be used: {e}",
            dir.display()
        ))
    })?;
    if !canonical.is_dir() {
        return Err(SyncError::InvalidSpec(format!(
            "the attachment directory {} is not a directory",
            dir.display()
        )));
    }
    Ok(Some(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn times_spent() {
        let t = |v: Value| time_spent(&v);
        assert_eq!(t(json!("3h 20m")), Ok(12_000));
        assert_eq!(t(json!("1.5h")), Ok(5_400));
        assert_eq!(t(json!("1w 1d")), Ok(172_800));
        assert_eq!(t(json!("2H30M")), Ok(9_000));
        assert_eq!(t(json!(" 90 ")), Ok(90));
        assert_eq!(t(json!(600)), Ok(600));
        assert!(t(json!("3 hours")).is_err());
        assert!(t(json!("h")).is_err());
        assert!(t(json!("0")).is_err());
        assert!(t(json!([1])).is_err());
        assert_eq!(jira_duration(12_000), "3h 20m");
        assert_eq!(jira_duration(172_801), "1w 1d 1s");
    }

    #[tokio::test]
    async fn worklogs_start_at_a_date_or_a_time() {
        struct NoUsers;
        #[async_trait::async_trait]
        impl UserDirectory for NoUsers {
            async fn account_id(&self, _: &str) -> Result<Option<String>, String> {
                Ok(None)
            }
        }
        let field = pseudo_field(FieldKind::DateTime, "started");
        let berlin = Rule {
            time_zone: Some("Europe/Berlin".into()),
            ..Rule::default()
        };
        let at = |rule: Rule, v: Value| {
            let field = field.clone();
            async move { convert(&field, &rule, v, &NoUsers).await }
        };
        assert_eq!(
            at(berlin.clone(), json!("2026-01-05 09:30")).await,
            Ok(json!("2026-01-05T08:30:00.000+0000"))
        );
        assert_eq!(
            at(berlin, json!("2026-01-05")).await,
            Ok(json!("2026-01-04T23:00:00.000+0000"))
        );
        assert_eq!(
            at(Rule::default(), json!(0)).await,
            Ok(json!("1970-01-01T00:00:00.000+0000"))
        );
    }

    #[test]
    fn issue_keys_and_lists() {
        assert_eq!(issue_key("demo-12"), Some("DEMO-12".into()));
        assert_eq!(issue_key("AB_1-3"), Some("AB_1-3".into()));
        assert_eq!(issue_key("12"), None);
        assert_eq!(issue_key("DEMO-"), None);
        assert_eq!(issue_key("1A-2"), None);
        assert_eq!(
            issue_keys(&json!("DEMO-1, DEMO-2;DEMO-3  DEMO-4")),
            vec!["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]
        );
        assert_eq!(
            issue_keys(&json!(["A-1", "B-2 C-3"])),
            vec!["A-1", "B-2", "C-3"]
        );
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("notes.TXT"), "text/plain");
        assert_eq!(content_type("a.b.pdf"), "application/pdf");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    #[test]
    fn hashes_are_short_and_stable() {
        let h = hash_of(&[&json!("s"), &json!("comment"), &json!("hi")]);
        assert_eq!(h.len(), 16);
        assert_eq!(h, hash_of(&[&json!("s"), &json!("comment"), &json!("hi")]));
        assert_ne!(h, hash_of(&[&json!("s"), &json!("comment"), &json!("hi!")]));
    }

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(tag: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "jiralink-actions-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join("sub")).unwrap_or(());
        Dir(dir)
    }

    #[tokio::test]
    async fn files_stay_inside_the_directory() {
        let root = temp_dir("files");
        let base = root.0.join("base");
        std::fs::create_dir_all(base.join("sub")).unwrap_or(());
        std::fs::write(base.join("a.txt"), b"hello").unwrap_or(());
        std::fs::write(base.join("sub").join("b.png"), b"png").unwrap_or(());
        std::fs::write(root.0.join("secret.txt"), b"secret").unwrap_or(());
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        let found = find_file(&base, "a.txt").await;
        assert_eq!(found.map(|(_, n, s)| (n, s)), Ok(("a.txt".into(), 5)));
        let found = find_file(&base, "sub\\b.png").await;
        assert_eq!(found.map(|(_, n, _)| n), Ok("b.png".into()));
        for (name, says) in [
            ("../secret.txt", "(..)"),
            ("sub/../../secret.txt", "(..)"),
            ("/etc/passwd", "absolute path"),
            ("https://example.com/a.txt", "URL"),
            ("file:a.txt", "URL"),
            ("missing.txt", "no such file"),
            ("sub", "not a file"),
            (".", "names no file"),
        ] {
            let err = find_file(&base, name).await.err().unwrap_or_default();
            assert!(err.contains(says), "{name}: {err}");
        }
        #[cfg(unix)]
        {
            let link = base.join("escape.txt");
            std::os::unix::fs::symlink(root.0.join("secret.txt"), &link).unwrap_or(());
            let err = find_file(&base, "escape.txt")
                .await
                .err()
                .unwrap_or_default();
            assert!(err.contains("outside"), "{err}");
            std::os::unix::fs::symlink(base.join("a.txt"), base.join("inside.txt")).unwrap_or(());
            assert!(find_file(&base, "inside.txt").await.is_ok());
        }
    }

    #[test]
    fn attachments_need_a_directory() {
        let with = Actions {
            attachments: Some(Rule {
                source: Some("files".into()),
                ..Rule::default()
            }),
            ..Actions::default()
        };
        assert!(matches!(
            check_attachment_dir(&with, None),
            Err(SyncError::InvalidSpec(m)) if m.contains("none was given")
        ));
        assert!(matches!(
            check_attachment_dir(&with, Some(Path::new("/no/such/dir/at/all"))),
            Err(SyncError::InvalidSpec(m)) if m.contains("cannot be used")
        ));
        let dir = temp_dir("check");
        assert!(matches!(
            check_attachment_dir(&with, Some(&dir.0)),
            Ok(Some(_))
        ));
        assert!(matches!(
            check_attachment_dir(&Actions::default(), None),
            Ok(None)
        ));
    }
}
