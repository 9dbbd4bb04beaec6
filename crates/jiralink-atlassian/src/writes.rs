//! The platform operations an import needs: bulk create, create and edit metadata,
//! transitions, comments, worklogs, links, issue properties, attachments and user look-up.
//!
//! Every write is [`Replay::Unsafe`](crate::retry::Replay::Unsafe): it is sent once, and after
//! a timeout or a reset it fails with [`AtlassianError::Ambiguous`], so the caller checks in
//! Jira before repeating it.

use std::collections::BTreeMap;

use rand::{Rng as _, distributions::Alphanumeric};
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize, Serializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    client::{Answer, JiraClient, decode},
    error::{AtlassianError, ErrorBody},
    operation::{
        ATTACHMENT_ADD, COMMENT_ADD, COMMENT_UPDATE, CREATEMETA_FIELDS, CREATEMETA_ISSUE_TYPES,
        ISSUE_BULK_CREATE, ISSUE_EDITMETA, ISSUE_GET, ISSUE_LINK_CREATE, ISSUE_PROPERTY_GET,
        ISSUE_PROPERTY_SET, ISSUE_TRANSITION, ISSUE_TRANSITIONS, Operation, USERS_FIND,
        WORKLOG_ADD,
    },
    platform::{CreatedIssue, Issue, IssueInput},
};

/// The most issues one `POST /issue/bulk` may create; Jira refuses more.
pub const MAX_BULK_CREATE: usize = 50;

/// The page size asked of the create-metadata lists (Jira's maximum for them).
const CREATEMETA_PAGE: u64 = 200;

/// The outcome of one input of a bulk create, at the input's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkElement {
    /// Jira created the issue.
    Created(CreatedIssue),
    /// Jira refused this input; the others are unaffected.
    Failed(ElementError),
}

/// Why Jira refused one input of a bulk create (`BulkOperationErrorResult`). The text passed
/// through the request's masker, as an [`AtlassianError`]'s does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElementError {
    /// The status Jira gave this element (400, or 413 for a limit), when it gave one.
    pub status: Option<u16>,
    /// General messages (`elementErrors.errorMessages`).
    pub messages: Vec<String>,
    /// Messages per field (`elementErrors.errors`).
    pub field_errors: BTreeMap<String, String>,
}

/// An issue type that issues of a project can be created with (`getCreateIssueMetaIssueTypes`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMetaIssueType {
    /// Issue type id.
    pub id: String,
    /// Issue type name, e.g. `Task`.
    pub name: String,
    /// Whether issues of this type are sub-tasks (and so need a `parent`).
    #[serde(default)]
    pub subtask: bool,
    /// Everything else (`description`, `hierarchyLevel`, `iconUrl`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a create, edit or transition screen says about one field (`FieldCreateMetadata`,
/// `FieldMetadata`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMeta {
    /// Field id, e.g. `summary` or `customfield_10016`. Create metadata sends it; edit and
    /// transition metadata key their maps by it, and the client copies it from there.
    #[serde(default)]
    pub field_id: String,
    /// Field key (the id for system fields).
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    pub name: String,
    /// Whether a value must be given.
    #[serde(default)]
    pub required: bool,
    /// The field's data type.
    #[serde(default)]
    pub schema: FieldSchema,
    /// What `update` may do with it (`set`, `add`, `remove`, `edit`).
    #[serde(default)]
    pub operations: Vec<String>,
    /// The values it accepts, when Jira lists them (options, priorities, versions, …).
    #[serde(default)]
    pub allowed_values: Vec<Value>,
    /// Whether Jira fills it in when no value is given.
    #[serde(default)]
    pub has_default_value: bool,
    /// The value Jira fills in, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    /// Everything else (`autoCompleteUrl`, `configuration`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A field's data type (`JsonTypeBean`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSchema {
    /// `string`, `number`, `array`, `option`, `user`, `date`, … (empty when Jira sent none).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The type of an array's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// A custom field's type key, e.g. `com.atlassian.jira.plugin.system.customfieldtypes:select`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<String>,
    /// A custom field's number (`10016` for `customfield_10016`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<i64>,
    /// A system field's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Everything else (`configuration`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A transition an issue can take from its current status (`IssueTransition`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// Transition id, the one [`TransitionInput::id`] names.
    pub id: String,
    /// Transition name, e.g. `Done`.
    pub name: String,
    /// The status it leads to.
    pub to: TransitionTarget,
    /// The fields of its screen, by field id; empty when it has none.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMeta>,
    /// Everything else (`hasScreen`, `isGlobal`, `isConditional`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The status a transition leads to.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionTarget {
    /// Status id.
    pub id: String,
    /// Status name.
    pub name: String,
    /// Everything else (`statusCategory`, `description`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /issue/{key}/transitions` body:
/// `{"transition":{"id":…},"fields":{…},"update":{…}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TransitionInput {
    /// The transition to take (a [`Transition::id`]).
    #[serde(rename = "transition", serialize_with = "id_object")]
    pub id: String,
    /// Values for the fields of the transition's screen (e.g. `resolution`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// Update operations per field, e.g. a comment to add.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub update: Map<String, Value>,
}

/// `POST /issue/{key}/worklog` body.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorklogInput {
    /// Time spent, in seconds.
    pub time_spent_seconds: u64,
    /// When the work started, in Jira's format: `2026-01-05T09:30:00.000+0000`.
    pub started: String,
    /// A comment, as an ADF document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<Value>,
}

/// A user as `GET /user/search` lists one.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Atlassian account id.
    pub account_id: String,
    /// Name shown in Jira.
    pub display_name: Option<String>,
    /// E-mail, when the account's privacy settings show it.
    pub email_address: Option<String>,
    /// Whether the account is active.
    pub active: Option<bool>,
    /// `atlassian`, `app` or `customer`.
    pub account_type: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Jira names the transition to take by an object (`{"id": …}`); callers need only its id.
fn id_object<S: Serializer, T: AsRef<str> + ?Sized>(
    id: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    IdRef { id: id.as_ref() }.serialize(serializer)
}

#[derive(Serialize)]
struct IdRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkCreateBody<'a> {
    issue_updates: &'a [IssueInput],
}

/// The answer to `POST /issue/bulk` (`CreatedIssues`), 201 or 400 alike.
#[derive(Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    issues: Vec<CreatedIssue>,
    #[serde(default)]
    errors: Vec<BulkError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkError {
    status: Option<u16>,
    #[serde(default)]
    element_errors: Value,
    /// Required: without it the error cannot be placed, and placing it is the point.
    failed_element_number: u64,
}

#[derive(Serialize)]
struct CommentBody<'a> {
    body: &'a Value,
}

#[derive(Serialize)]
struct NamedType<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct KeyRef<'a> {
    key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkBody<'a> {
    #[serde(rename = "type")]
    kind: NamedType<'a>,
    inward_issue: KeyRef<'a>,
    outward_issue: KeyRef<'a>,
}

/// One page of a list paged by `startAt`. Which key holds the records differs: the
/// create-metadata document names `issueTypes` and `fields` (and `results` for fields), while
/// Jira Cloud has been seen sending `values` (as the webhook list does); whichever is present
/// is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaPage<T> {
    issue_types: Option<Vec<T>>,
    fields: Option<Vec<T>>,
    results: Option<Vec<T>>,
    values: Option<Vec<T>>,
    start_at: Option<u64>,
    max_results: Option<u64>,
    total: Option<u64>,
    is_last: Option<bool>,
}

impl<T> MetaPage<T> {
    /// The page's records; `None` when the answer holds no list at all, which is not a page.
    fn records(&mut self) -> Option<Vec<T>> {
        self.issue_types
            .take()
            .or_else(|| self.fields.take())
            .or_else(|| self.results.take())
            .or_else(|| self.values.take())
    }
}

#[derive(Deserialize)]
struct FieldMap {
    #[serde(default)]
    fields: BTreeMap<String, FieldMeta>,
}

#[derive(Deserialize)]
struct TransitionList {
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Deserialize)]
struct PropertyAnswer {
    #[serde(default)]
    value: Value,
}

fn decode_error(op: &Operation, detail: String) -> AtlassianError {
    AtlassianError::Decode {
        what: op.id,
        detail,
    }
}

impl JiraClient {
    /// Creates up to [`MAX_BULK_CREATE`] issues in one request and returns one
    /// [`BulkElement`] per input, at the input's position. Jira creates the valid inputs and
    /// refuses the others one by one; when it refuses all of them it answers 400 with the same
    /// per-element body, which is read the same way. No input sends nothing. Never sent twice:
    /// after a timeout or a reset it fails with [`AtlassianError::Ambiguous`], and the caller
    /// must check which issues exist.
    ///
    /// # Errors
    /// [`AtlassianError::BadRequest`] without sending for more than [`MAX_BULK_CREATE`] inputs;
    /// [`AtlassianError::Decode`] when Jira's answer does not account for every input exactly
    /// once; any other [`AtlassianError`] for the request as a whole.
    pub async fn issue_bulk_create(
        &self,
        issues: &[IssueInput],
    ) -> Result<Vec<BulkElement>, AtlassianError> {
        if issues.is_empty() {
            return Ok(Vec::new());
        }
        if issues.len() > MAX_BULK_CREATE {
            return Err(AtlassianError::BadRequest {
                status: 400,
                messages: vec![format!(
                    "not sent: {} takes at most {MAX_BULK_CREATE} issues, not {}",
                    ISSUE_BULK_CREATE.id,
                    issues.len()
                )],
                field_errors: BTreeMap::new(),
            });
        }
        let call = self
            .call(&ISSUE_BULK_CREATE, &["issue", "bulk"])?
            .json_body(&BulkCreateBody {
                issue_updates: issues,
            })?
            .also_accept(400);
        let answer = self.execute(call).await?;
        read_bulk_answer(issues.len(), &answer, |a| self.refusal(a))
    }

    /// The issue types issues of a project can be created with, every page.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; 404 for an unknown project or one the account cannot create
    /// issues in.
    pub async fn createmeta_issue_types(
        &self,
        project_key_or_id: &str,
    ) -> Result<Vec<CreateMetaIssueType>, AtlassianError> {
        self.offset_pages(
            &CREATEMETA_ISSUE_TYPES,
            &["issue", "createmeta", project_key_or_id, "issuetypes"],
            CREATEMETA_PAGE,
        )
        .await
    }

    /// The fields of the create screen of a project and issue type, every page, in screen
    /// order.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; 404 for an issue type the project does not use;
    /// [`AtlassianError::Decode`] for a field without an id.
    pub async fn createmeta_fields(
        &self,
        project_key_or_id: &str,
        issue_type_id: &str,
    ) -> Result<Vec<FieldMeta>, AtlassianError> {
        let mut fields: Vec<FieldMeta> = self
            .offset_pages(
                &CREATEMETA_FIELDS,
                &[
                    "issue",
                    "createmeta",
                    project_key_or_id,
                    "issuetypes",
                    issue_type_id,
                ],
                CREATEMETA_PAGE,
            )
            .await?;
        for field in &mut fields {
            if field.field_id.is_empty() {
                field.field_id = field.key.clone().unwrap_or_default();
            }
            if field.field_id.is_empty() {
                return Err(decode_error(
                    &CREATEMETA_FIELDS,
                    format!("the field '{}' has neither fieldId nor key", field.name),
                ));
            }
        }
        Ok(fields)
    }

    /// The fields of an issue's edit screen, by field id.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_edit_meta(
        &self,
        key: &str,
    ) -> Result<BTreeMap<String, FieldMeta>, AtlassianError> {
        let call = self.call(&ISSUE_EDITMETA, &["issue", key, "editmeta"])?;
        let answer: FieldMap = self.json(call).await?;
        Ok(with_field_ids(answer.fields))
    }

    /// The transitions an issue can take from its current status, each with the fields of its
    /// screen.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_transitions(&self, key: &str) -> Result<Vec<Transition>, AtlassianError> {
        let call = self
            .call(&ISSUE_TRANSITIONS, &["issue", key, "transitions"])?
            .query("expand", "transitions.fields");
        let list: TransitionList = self.json(call).await?;
        Ok(list
            .transitions
            .into_iter()
            .map(|mut t| {
                t.fields = with_field_ids(std::mem::take(&mut t.fields));
                t
            })
            .collect())
    }

    /// Moves an issue through a transition (204 on success).
    ///
    /// # Errors
    /// Any [`AtlassianError`]; 400 for a transition not valid from the issue's status.
    pub async fn issue_transition(
        &self,
        key: &str,
        input: &TransitionInput,
    ) -> Result<(), AtlassianError> {
        let call = self
            .call(&ISSUE_TRANSITION, &["issue", key, "transitions"])?
            .json_body(input)?;
        self.execute(call).await.map(drop)
    }

    /// Adds a comment (`body_adf`: an ADF document) and returns it as Jira stored it.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn comment_add(&self, key: &str, body_adf: &Value) -> Result<Value, AtlassianError> {
        let call = self
            .call(&COMMENT_ADD, &["issue", key, "comment"])?
            .json_body(&CommentBody { body: body_adf })?;
        self.json(call).await
    }

    /// Replaces a comment's body (`body_adf`: an ADF document) and returns the comment as Jira
    /// stored it.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn comment_update(
        &self,
        key: &str,
        comment_id: &str,
        body_adf: &Value,
    ) -> Result<Value, AtlassianError> {
        let call = self
            .call(&COMMENT_UPDATE, &["issue", key, "comment", comment_id])?
            .json_body(&CommentBody { body: body_adf })?;
        self.json(call).await
    }

    /// Logs work on an issue and returns the worklog as Jira stored it. Jira reduces the
    /// remaining estimate by the time spent, as it does by default.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn worklog_add(
        &self,
        key: &str,
        input: &WorklogInput,
    ) -> Result<Value, AtlassianError> {
        let call = self
            .call(&WORKLOG_ADD, &["issue", key, "worklog"])?
            .json_body(input)?;
        self.json(call).await
    }

    /// Links two issues with the link type named `type_name` (e.g. `Blocks`: the inward issue
    /// blocks the outward one, as Jira reads its link types). Jira answers 201 without a body.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; 404 for an unknown link type or issue.
    pub async fn issue_link_create(
        &self,
        type_name: &str,
        inward_key: &str,
        outward_key: &str,
    ) -> Result<(), AtlassianError> {
        let body = LinkBody {
            kind: NamedType { name: type_name },
            inward_issue: KeyRef { key: inward_key },
            outward_issue: KeyRef { key: outward_key },
        };
        let call = self
            .call(&ISSUE_LINK_CREATE, &["issueLink"])?
            .json_body(&body)?;
        self.execute(call).await.map(drop)
    }

    /// Sets an issue property (any JSON value, at most 32 KiB), replacing an earlier value.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn issue_property_set(
        &self,
        key: &str,
        property: &str,
        value: &Value,
    ) -> Result<(), AtlassianError> {
        let call = self
            .call(&ISSUE_PROPERTY_SET, &["issue", key, "properties", property])?
            .json_body(value)?;
        self.execute(call).await.map(drop)
    }

    /// The value of an issue property; `None` when Jira answers 404, which it does both for a
    /// property never set and for an issue that is absent or hidden from the account.
    ///
    /// # Errors
    /// Any other [`AtlassianError`], including Atlassian's 404 page for an unknown site.
    pub async fn issue_property_get(
        &self,
        key: &str,
        property: &str,
    ) -> Result<Option<Value>, AtlassianError> {
        let call = self.call(&ISSUE_PROPERTY_GET, &["issue", key, "properties", property])?;
        let answer: Option<PropertyAnswer> = found(self.json(call).await)?;
        Ok(answer.map(|a| a.value))
    }

    /// Uploads one file to an issue (`multipart/form-data`, one part named `file`, with the
    /// `X-Atlassian-Token: no-check` Jira demands of uploads) and returns the attachments Jira
    /// created.
    ///
    /// # Errors
    /// Any [`AtlassianError`]; 413 beyond the site's size limit; [`AtlassianError::Decode`]
    /// without sending for a `content_type` that cannot be a header value.
    pub async fn attachment_add(
        &self,
        key: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Vec<Value>, AtlassianError> {
        let (body, multipart_type) = multipart_file(file_name, content_type, &bytes)?;
        let call = self
            .call(&ATTACHMENT_ADD, &["issue", key, "attachments"])?
            .raw_body(body, multipart_type)
            .xsrf_exempt();
        self.json(call).await
    }

    /// The users whose name or e-mail starts with `query`, as far as each account's privacy
    /// settings let Jira match and show them: Jira's first page (at most 50). An exact e-mail
    /// finds its account when the e-mail is visible to the caller.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn users_find(&self, query: &str) -> Result<Vec<User>, AtlassianError> {
        let call = self
            .call(&USERS_FIND, &["user", "search"])?
            .query("query", query);
        self.json(call).await
    }

    /// One issue, or `None` when Jira answers 404 (absent, or hidden from the account);
    /// `fields` empty means Jira's default (all fields).
    ///
    /// # Errors
    /// Any other [`AtlassianError`], including Atlassian's 404 page for an unknown site.
    pub async fn issue_find(
        &self,
        key: &str,
        fields: &[&str],
    ) -> Result<Option<Issue>, AtlassianError> {
        let mut call = self.call(&ISSUE_GET, &["issue", key])?;
        if !fields.is_empty() {
            call = call.query("fields", fields.join(","));
        }
        found(self.json(call).await)
    }

    /// Every record of a list paged by `startAt` (create metadata, webhooks), asking for
    /// `page_size` at a time and following `startAt` until `isLast`, `total` or a short page
    /// says the list is done.
    pub(crate) async fn offset_pages<T: DeserializeOwned>(
        &self,
        op: &'static Operation,
        segments: &[&str],
        page_size: u64,
    ) -> Result<Vec<T>, AtlassianError> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let call = self
                .call(op, segments)?
                .query("startAt", offset)
                .query("maxResults", page_size);
            let mut page: MetaPage<T> = self.json(call).await?;
            let records = page.records().ok_or_else(|| {
                decode_error(op, "the answer holds no list of records".to_owned())
            })?;
            let got = records.len() as u64;
            let start = page.start_at.unwrap_or(offset);
            if start != offset {
                return Err(decode_error(
                    op,
                    format!("asked for the page at {offset}, jira sent the one at {start}"),
                ));
            }
            out.extend(records);
            let asked = page.max_results.unwrap_or(page_size);
            let more = match (page.is_last, page.total) {
                (Some(last), _) => !last,
                (None, Some(total)) => start + got < total,
                (None, None) => got >= asked,
            };
            match (more, got) {
                (false, _) => return Ok(out),
                (true, 0) => {
                    return Err(decode_error(
                        op,
                        "an empty page was not marked as the last, so the pages would loop"
                            .to_owned(),
                    ));
                }
                (true, got) => offset = start + got,
            }
        }
    }
}

/// The answer to a bulk create of `sent` inputs (201, or 400 as per-element errors), each
/// input's outcome at its position. A 400 of another shape is the error `refusal` makes of it.
pub(crate) fn read_bulk_answer(
    sent: usize,
    answer: &Answer,
    refusal: impl FnOnce(&Answer) -> AtlassianError,
) -> Result<Vec<BulkElement>, AtlassianError> {
    let parsed = if answer.status == 400 {
        // Only the per-element shape is read here; any other 400 is an ordinary refusal.
        match bulk_refusal(answer) {
            Some(parsed) => parsed,
            None => return Err(refusal(answer)),
        }
    } else {
        decode::<BulkAnswer>(&ISSUE_BULK_CREATE, answer)?
    };
    let failed = parsed
        .errors
        .into_iter()
        .map(|e| {
            let body = ErrorBody::from_value(&e.element_errors, &answer.masker);
            let at = usize::try_from(e.failed_element_number).unwrap_or(usize::MAX);
            let error = ElementError {
                status: e.status,
                messages: body.messages,
                field_errors: body.field_errors,
            };
            (at, error)
        })
        .collect();
    align_bulk(sent, parsed.issues, failed)
}

/// A 400 answer to a bulk create read as per-element errors, when it is one: the
/// `CreatedIssues` shape with at least one element error.
fn bulk_refusal(answer: &Answer) -> Option<BulkAnswer> {
    let parsed: BulkAnswer = serde_json::from_slice(&answer.body).ok()?;
    (!parsed.errors.is_empty()).then_some(parsed)
}

/// Places the issues Jira created and the inputs it refused at their input positions: the
/// errors at their `failedElementNumber`, the created issues, in order, at every other
/// position. The one place this rule lives.
///
/// # Errors
/// [`AtlassianError::Decode`] when the answer does not account for each of the `sent` inputs
/// exactly once: an error outside the inputs or twice at one position, or more or fewer
/// issues than the positions left. Guessing there could pair an input with another's issue.
fn align_bulk(
    sent: usize,
    created: Vec<CreatedIssue>,
    failed: Vec<(usize, ElementError)>,
) -> Result<Vec<BulkElement>, AtlassianError> {
    let op = &ISSUE_BULK_CREATE;
    let mut errors: BTreeMap<usize, ElementError> = BTreeMap::new();
    for (at, error) in failed {
        if at >= sent {
            return Err(decode_error(
                op,
                format!("an error names input {at}, but {sent} were sent"),
            ));
        }
        if errors.insert(at, error).is_some() {
            return Err(decode_error(
                op,
                format!("input {at} has more than one error"),
            ));
        }
    }
    if created.len() + errors.len() != sent {
        return Err(decode_error(
            op,
            format!(
                "{} issues created and {} refused do not add up to the {sent} sent",
                created.len(),
                errors.len()
            ),
        ));
    }
    let mut created = created.into_iter();
    let mut out = Vec::with_capacity(sent);
    for at in 0..sent {
        let element = match errors.remove(&at) {
            Some(error) => BulkElement::Failed(error),
            // The counts add up, so an issue is left for every position without an error.
            None => match created.next() {
                Some(issue) => BulkElement::Created(issue),
                None => return Err(decode_error(op, "too few issues created".to_owned())),
            },
        };
        out.push(element);
    }
    Ok(out)
}

/// Fills each field's `field_id` from the key of the map it came in (edit and transition
/// metadata), where Jira leaves it out.
fn with_field_ids(fields: BTreeMap<String, FieldMeta>) -> BTreeMap<String, FieldMeta> {
    fields
        .into_iter()
        .map(|(id, mut meta)| {
            meta.field_id.clone_from(&id);
            (id, meta)
        })
        .collect()
}

/// `Ok(None)` for Jira's JSON 404; Atlassian's HTML 404 page (an unknown site) stays an error,
/// since it says nothing about the thing asked for.
fn found<T>(result: Result<T, AtlassianError>) -> Result<Option<T>, AtlassianError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(AtlassianError::NotFound { html: false, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A `multipart/form-data` body (RFC 7578) of one part named `file`, and its `Content-Type`.
/// Built by hand rather than as a streaming form so the body can be sent again after a bearer
/// token refresh, like every other body.
fn multipart_file(
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<(Vec<u8>, HeaderValue), AtlassianError> {
    let part_type = content_type.trim();
    if part_type.is_empty() || HeaderValue::from_str(part_type).is_err() {
        return Err(decode_error(
            &ATTACHMENT_ADD,
            "the file's content type is not a valid media type".to_owned(),
        ));
    }
    let boundary = boundary_for(bytes);
    // As browsers write it (WHATWG's form encoding): a quote or line break cannot end the
    // quoted name early or start a new header.
    let name = file_name
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: {part_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let header = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
        .map_err(|_| {
            decode_error(
                &ATTACHMENT_ADD,
                "the multipart boundary is not a header value".to_owned(),
            )
        })?;
    Ok((body, header))
}

/// A random boundary that does not occur in `content`.
fn boundary_for(content: &[u8]) -> String {
    loop {
        let random: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        let boundary = format!("jiralink-{random}");
        let needle = boundary.as_bytes();
        if !content.windows(needle.len()).any(|w| w == needle) {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn issue(n: usize) -> CreatedIssue {
        CreatedIssue {
            id: (10_000 + n).to_string(),
            key: format!("DEMO-{n}"),
            self_url: None,
        }
    }

    fn refused(field: &str) -> ElementError {
        ElementError {
            status: Some(400),
            messages: Vec::new(),
            field_errors: BTreeMap::from([(field.to_owned(), "bad".to_owned())]),
        }
    }

    #[test]
    fn created_issues_fill_the_positions_without_an_error_in_order() {
        let out = align_bulk(
            4,
            vec![issue(1), issue(2)],
            vec![(2, refused("b")), (0, refused("a"))],
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                BulkElement::Failed(refused("a")),
                BulkElement::Created(issue(1)),
                BulkElement::Failed(refused("b")),
                BulkElement::Created(issue(2)),
            ]
        );
    }

    #[test]
    fn answers_that_do_not_account_for_every_input_are_refused() {
        let cases = [
            // One issue too many.
            (2, vec![issue(1), issue(2)], vec![(1, refused("a"))]),
            // One too few.
            (3, vec![issue(1)], vec![(1, refused("a"))]),
            // An error outside the inputs.
            (2, vec![issue(1)], vec![(2, refused("a"))]),
            // Two errors at one position, the counts adding up regardless.
            (
                3,
                vec![issue(1)],
                vec![(1, refused("a")), (1, refused("b"))],
            ),
        ];
        for (sent, created, failed) in cases {
            let e = align_bulk(sent, created, failed).unwrap_err();
            assert!(
                matches!(
                    e,
                    AtlassianError::Decode {
                        what: "createIssues",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_consistent_answer_puts_every_outcome_back_at_its_input(
            outcomes in proptest::collection::vec(any::<bool>(), 0..=MAX_BULK_CREATE),
            order in any::<u64>(),
        ) {
            // `outcomes[i]`: whether input i was created. Jira's error order is not promised,
            // so the errors are rotated before alignment.
            let created: Vec<CreatedIssue> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, ok)| **ok)
                .map(|(i, _)| issue(i))
                .collect();
            let mut failed: Vec<(usize, ElementError)> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, ok)| !**ok)
                .map(|(i, _)| (i, refused(&i.to_string())))
                .collect();
            if !failed.is_empty() {
                let by = usize::try_from(order % failed.len() as u64).unwrap();
                failed.rotate_left(by);
            }
            let out = align_bulk(outcomes.len(), created, failed).unwrap();
            prop_assert_eq!(out.len(), outcomes.len());
            for (i, (element, ok)) in out.iter().zip(&outcomes).enumerate() {
                match element {
                    BulkElement::Created(c) => {
                        prop_assert!(*ok);
                        prop_assert_eq!(c, &issue(i));
                    }
                    BulkElement::Failed(e) => {
                        prop_assert!(!*ok);
                        prop_assert_eq!(e, &refused(&i.to_string()));
                    }
                }
            }
        }

        #[test]
        fn an_answer_with_one_issue_more_or_less_is_never_aligned(
            outcomes in proptest::collection::vec(any::<bool>(), 1..=MAX_BULK_CREATE),
            more in any::<bool>(),
        ) {
            let mut created: Vec<CreatedIssue> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, ok)| **ok)
                .map(|(i, _)| issue(i))
                .collect();
            let failed: Vec<(usize, ElementError)> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, ok)| !**ok)
                .map(|(i, _)| (i, refused("x")))
                .collect();
            if more || created.is_empty() {
                created.push(issue(999));
            } else {
                created.pop();
            }
            prop_assert!(align_bulk(outcomes.len(), created, failed).is_err());
        }
    }

    #[test]
    fn only_the_per_element_shape_counts_as_a_bulk_refusal() {
        let answer = |body: &str| Answer {
            status: 400,
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            masker: crate::observe::Masker::default(),
        };
        let bulk = r#"{"issues":[],"errors":[{"status":400,"elementErrors":{"errorMessages":[],"errors":{"summary":"required"}},"failedElementNumber":0}]}"#;
        assert!(bulk_refusal(&answer(bulk)).is_some());
        for other in [
            r#"{"errorMessages":["too many"],"errors":{}}"#,
            r#"{"issues":[],"errors":[]}"#,
            r#"{"errors":[{"elementErrors":{}}]}"#,
            "<html></html>",
            "",
        ] {
            assert!(bulk_refusal(&answer(other)).is_none(), "{other}");
        }
    }

    #[test]
    fn element_errors_are_masked_like_any_error_body() {
        let masker = crate::observe::Masker::new(["CANARY-bulk-41"]);
        let body = ErrorBody::from_value(
            &json!({"errorMessages":["token CANARY-bulk-41 refused"],"errors":{"password":"CANARY-x","summary":"required"}}),
            &masker,
        );
        assert!(!body.messages[0].contains("CANARY-bulk-41"));
        assert_eq!(body.field_errors["password"], crate::observe::MASK);
        assert_eq!(body.field_errors["summary"], "required");
    }

    #[test]
    fn transition_and_worklog_bodies_have_jiras_shape() {
        let input = TransitionInput {
            id: "31".into(),
            fields: json!({"resolution": {"name": "Done"}})
                .as_object()
                .unwrap()
                .clone(),
            update: Map::new(),
        };
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}})
        );
        let worklog = WorklogInput {
            time_spent_seconds: 5400,
            started: "2026-01-05T09:30:00.000+0000".into(),
            comment: None,
        };
        assert_eq!(
            serde_json::to_value(&worklog).unwrap(),
            json!({"timeSpentSeconds": 5400, "started": "2026-01-05T09:30:00.000+0000"})
        );
    }

    #[test]
    fn field_metadata_reads_the_documented_shapes() {
        let created: FieldMeta = serde_json::from_value(json!({
            "fieldId": "customfield_10016", "key": "customfield_10016", "name": "Story Points",
            "required": false, "hasDefaultValue": false, "operations": ["set"],
            "schema": {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float", "customId": 10016},
            "autoCompleteUrl": "u"
        }))
        .unwrap();
        assert_eq!(created.field_id, "customfield_10016");
        assert_eq!(created.schema.kind, "number");
        assert_eq!(created.schema.custom_id, Some(10016));
        assert_eq!(created.extra["autoCompleteUrl"], "u");
        let edit: FieldMap = serde_json::from_value(json!({"fields": {"labels": {
            "name": "Labels", "key": "labels", "required": false, "operations": ["add", "set", "remove"],
            "schema": {"type": "array", "items": "string", "system": "labels"}
        }}}))
        .unwrap();
        let edit = with_field_ids(edit.fields);
        assert_eq!(edit["labels"].field_id, "labels");
        assert_eq!(edit["labels"].schema.items.as_deref(), Some("string"));
    }

    #[test]
    fn a_multipart_body_holds_one_file_part_that_cannot_be_broken_out_of() {
        let (body, header) = multipart_file("a\"b\r\nc.txt", "text/plain", b"hello").unwrap();
        let header = header.to_str().unwrap();
        let boundary = header
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"a%22b%0D%0Ac.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
                 --{boundary}--\r\n"
            )
        );
        assert!(multipart_file("a.txt", "text/plain\r\nX-Evil: 1", b"").is_err());
        assert!(multipart_file("a.txt", " ", b"").is_err());
    }

    #[test]
    fn the_boundary_never_occurs_in_the_content() {
        let content = b"--jiralink-".repeat(100);
        let boundary = boundary_for(&content);
        assert!(boundary.starts_with("jiralink-"));
        assert!(!String::from_utf8_lossy(&content).contains(&boundary));
        let ids: BTreeSet<String> = (0..20).map(|_| boundary_for(b"")).collect();
        assert_eq!(ids.len(), 20, "boundaries are random");
    }
}
