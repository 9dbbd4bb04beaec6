//! Request attachments: `POST /servicedesk/{serviceDeskId}/attachTemporaryFile`,
//! `GET|POST /request/{issueIdOrKey}/attachment` and (experimental)
//! `GET /request/{issueIdOrKey}/comment/{commentId}/attachment`.
//!
//! * Uploads are `multipart/form-data` with the files in parts named `file` and need
//!   `X-Atlassian-Token: no-check` (403 otherwise, Jira's XSRF check). At most
//!   [`MAX_FILES`] files (413) of at most [`MAX_FILE_BYTES`] each (400). Each file becomes a
//!   [`TemporaryFile`] of the service desk, usable for [`TEMPORARY_FILE_TTL_MS`].
//! * As in Jira, a request attachment is an issue attachment. Attaching moves temporary files
//!   of the request's service desk onto the issue with [`data::SiteData::add_attachments`]
//!   (one id space with platform uploads, an `Attachment` change-history item per file, served
//!   by `GET /rest/api/3/attachment/{id}` and its content URL), and adds one comment (`public`
//!   as asked) whose body is the `additionalComment` followed by wiki links to the files
//!   (`!image.png|thumbnail!`, `[^file.txt]`). JSM keeps only the comment and visibility of
//!   each file ([`RequestAttachment`] in [`crate::jsm::store::RequestMeta::attachment_facts`]).
//! * The lists read the issue's attachments, so files uploaded through the platform API and the
//!   generated ones are listed too (visible to customers: only files attached with an internal
//!   comment are hidden from them); files deleted through the platform API disappear.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data::links::{Attachment, MAX_ATTACHMENTS, NewAttachment, mime_for};
use crate::data::{self, DataError, Issue, NewComment, adf};
use crate::errors::ApiError;
use crate::identity::derive;
use crate::jsm::request::{DeskView, MAX_LIMIT, Render, data_error, find_request, renderer};
use crate::jsm::servicedesk::service_desk_not_found;
use crate::jsm::store::{RequestAttachment, TEMPORARY_FILE_TTL_MS, TemporaryFile, with_site};
use crate::jsm::{
    PREFIX, Paging, Params, bad_request, not_found, page, parse_body, require_opt_in,
};
use crate::multipart::{Part, xsrf_passed};
use crate::state::SimState;

/// Most files in one upload.
pub const MAX_FILES: usize = 60;

/// Largest file accepted.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Routes of this module.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            &format!("{PREFIX}/servicedesk/{{serviceDeskId}}/attachTemporaryFile"),
            post(attach_temporary_file)
                .layer(DefaultBodyLimit::max(MAX_FILE_BYTES.saturating_mul(4))),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/attachment"),
            get(list_attachments).post(attach_to_request),
        )
        .route(
            &format!("{PREFIX}/request/{{issueIdOrKey}}/comment/{{commentId}}/attachment"),
            get(comment_attachments),
        )
}

async fn attach_temporary_file(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/servicedesk/{serviceDeskId}/attachTemporaryFile",
    )?;
    if !xsrf_passed(&headers) {
        return Err(ApiError::jsm(
            StatusCode::FORBIDDEN,
            "XSRF check failed",
            "sd.public.api.error.xsrf.check.failed",
        ));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parts = crate::multipart::parse(content_type, &body).ok_or_else(|| {
        bad_request("The request must be multipart/form-data with the files in parts named 'file'.")
    })?;
    let files: Vec<Part> = parts
        .into_iter()
        .filter(|p| p.name == "file" && p.filename.is_some())
        .collect();
    if files.is_empty() {
        return Err(bad_request("No file was attached in a part named 'file'."));
    }
    if files.len() > MAX_FILES {
        return Err(ApiError::jsm(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("You can upload at most {MAX_FILES} files at a time."),
            "sd.attachment.error.too.many.files",
        ));
    }
    if let Some(big) = files.iter().find(|f| f.data.len() > MAX_FILE_BYTES) {
        return Err(bad_request(&format!(
            "The file '{}' is larger than the maximum attachment size of {MAX_FILE_BYTES} bytes.",
            big.filename.as_deref().unwrap_or_default()
        )));
    }
    let now_ms = data::now_ms(&state);
    let me = caller.user.account_id.clone();
    let created = with_site(&state, &caller.site, |d| {
        let sd = d
            .service_desk_index(&id)
            .and_then(|i| d.service_desks.get(i))
            .map(|sd| sd.id)
            .ok_or_else(|| service_desk_not_found(&id))?;
        d.temporary_files
            .retain(|_, f| now_ms.saturating_sub(f.created) < TEMPORARY_FILE_TTL_MS);
        let mut out = Vec::new();
        for (n, part) in files.into_iter().enumerate() {
            let file_name = part.filename.unwrap_or_default();
            let mut salt = 0u32;
            let temp_id = loop {
                let bytes = derive(
                    d.seed,
                    &format!("temporary-file\0{now_ms}\0{n}\0{salt}\0{file_name}\0{me}"),
                );
                let mut eight = [0u8; 8];
                eight.copy_from_slice(&bytes[..8]);
                let candidate = format!("temp{}", u64::from_be_bytes(eight) >> 1);
                if !d.temporary_files.contains_key(&candidate) {
                    break candidate;
                }
                salt += 1;
            };
            let mime_type = part
                .content_type
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| mime_for(&file_name).to_owned());
            d.temporary_files.insert(
                temp_id.clone(),
                TemporaryFile {
                    id: temp_id.clone(),
                    service_desk_id: sd,
                    file_name: file_name.clone(),
                    mime_type,
                    content: part.data,
                    uploaded_by: me.clone(),
                    created: now_ms,
                },
            );
            out.push(json!({ "temporaryAttachmentId": temp_id, "fileName": file_name }));
        }
        Ok::<_, ApiError>(out)
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "temporaryAttachments": created })),
    )
        .into_response())
}

impl Render<'_> {
    /// `AttachmentDTO` of an issue attachment. `jiraRest` is the platform resource, and
    /// `content` (and `thumbnail`, for images) the platform content URL: the portal's
    /// `servicedesk/customershim` download paths are not served.
    pub(crate) fn attachment(&self, a: &Attachment) -> Value {
        let base = &self.caller.base;
        let content = format!("{base}/rest/api/3/attachment/content/{}", a.id);
        let mut links = json!({
            "jiraRest": format!("{base}/rest/api/2/attachment/{}", a.id),
            "content": content,
        });
        if a.mime_type.starts_with("image/") {
            links["thumbnail"] = Value::from(content);
        }
        json!({
            "filename": a.filename,
            "author": self.person(&a.author),
            "created": self.date(a.created),
            "size": a.size,
            "mimeType": a.mime_type,
            "_links": links,
        })
    }

    /// The attachments of a request a viewer may see (customers: all but those attached with
    /// an internal comment), optionally only those attached with one comment.
    pub(crate) fn attachments_of(&self, issue: &Issue, comment: Option<u64>) -> Vec<Value> {
        let agent = crate::jsm::request::is_agent(self.caller);
        let facts = self
            .desk
            .requests
            .get(&issue.id)
            .map(|m| &m.attachment_facts);
        self.data
            .attachments_of(issue.id)
            .iter()
            .filter(|a| {
                let fact = facts.and_then(|f| f.get(&a.id));
                (agent || fact.is_none_or(|f| f.public))
                    && comment.is_none_or(|c| fact.is_some_and(|f| f.comment_id == c))
            })
            .map(|a| self.attachment(a))
            .collect()
    }

    /// The `attachments` page embedded in requests and comments.
    pub(crate) fn attachments_page(&self, issue: &Issue, comment: Option<u64>) -> Value {
        let path = match comment {
            Some(c) => format!("/request/{}/comment/{c}/attachment", issue.id),
            None => format!("/request/{}/attachment", issue.id),
        };
        page(
            self.attachments_of(issue, comment),
            Paging {
                start: 0,
                limit: MAX_LIMIT,
            },
            &self.api,
            &path,
            &Params::default(),
            &[],
        )
    }
}

async fn list_attachments(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(page(
        r.attachments_of(&issue, None),
        paging,
        &r.api,
        &format!("/request/{}/attachment", issue.id),
        &params,
        &[],
    )))
}

async fn comment_attachments(
    State(state): State<SimState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, comment_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    require_opt_in(&headers)?;
    caller.require_route(
        &Method::GET,
        "/rest/servicedeskapi/request/{issueIdOrKey}/comment/{commentId}/attachment",
    )?;
    let paging = params.paging(MAX_LIMIT)?;
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let data = site.read();
    let issue = find_request(&desk, &data, &id)?;
    let agent = crate::jsm::request::is_agent(&caller);
    let comment = crate::jsm::request::visible_comments(&issue, agent, true, true)
        .find(|c| c.id.to_string() == comment_id.trim())
        .ok_or_else(|| {
            not_found(&format!(
                "The comment '{comment_id}' does not exist on this request."
            ))
        })?;
    let r = renderer(&state, &caller, &desk, &data);
    Ok(Json(page(
        r.attachments_of(&issue, Some(comment.id)),
        paging,
        &r.api,
        &format!("/request/{}/comment/{}/attachment", issue.id, comment.id),
        &params,
        &[],
    )))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachInput {
    temporary_attachment_ids: Option<Vec<String>>,
    public: Option<bool>,
    additional_comment: Option<CommentInput>,
}

#[derive(Debug, Deserialize)]
struct CommentInput {
    body: Option<String>,
}

/// Wiki markup linking a file in a comment.
fn markup(file: &TemporaryFile) -> String {
    if file.mime_type.starts_with("image/") {
        format!("!{}|thumbnail!", file.file_name)
    } else {
        format!("[^{}]", file.file_name)
    }
}

async fn attach_to_request(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_route(
        &Method::POST,
        "/rest/servicedeskapi/request/{issueIdOrKey}/attachment",
    )?;
    let input: AttachInput = parse_body(&body)?;
    let public = input
        .public
        .ok_or_else(|| bad_request("The 'public' property is required."))?;
    let temp_ids: Vec<String> = input
        .temporary_attachment_ids
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if temp_ids.is_empty() {
        return Err(bad_request(
            "The 'temporaryAttachmentIds' list must name at least one temporary attachment.",
        ));
    }
    let text = input
        .additional_comment
        .and_then(|c| c.body)
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty());
    let desk = DeskView::take(&state, &caller);
    let site = data::site(&state, &caller.site);
    let (issue_id, sd_id, type_id) = {
        let data = site.read();
        let issue = find_request(&desk, &data, &id)?;
        let sd = desk
            .desk_of(&issue)
            .ok_or_else(|| crate::jsm::request::request_not_found(&id))?;
        let type_id = desk
            .request_type(sd, &issue)
            .map(|rt| rt.id)
            .unwrap_or_default();
        (issue.id, sd.id, type_id)
    };
    let now_ms = data::now_ms(&state);
    // Take the files out at once so two attaches cannot use the same upload.
    let files = with_site(&state, &caller.site, |d| {
        d.temporary_files
            .retain(|_, f| now_ms.saturating_sub(f.created) < TEMPORARY_FILE_TTL_MS);
        if let Some(missing) = temp_ids.iter().find(|t| {
            d.temporary_files
                .get(*t)
                .is_none_or(|f| f.service_desk_id != sd_id)
        }) {
            return Err(bad_request(&format!(
                "The temporary attachment '{missing}' does not exist or has expired."
            )));
        }
        Ok(temp_ids
            .iter()
            .filter_map(|t| d.temporary_files.remove(t))
            .collect::<Vec<TemporaryFile>>())
    })?;
    let restore = |files: Vec<TemporaryFile>| {
        with_site(&state, &caller.site, |d| {
            for f in files {
                d.temporary_files.insert(f.id.clone(), f);
            }
        });
    };
    if let Err(e) = state.check_issue_write(&caller.site, &issue_id.to_string()) {
        restore(files);
        return Err(e);
    }
    let links = files.iter().map(markup).collect::<Vec<_>>().join(" ");
    let wiki = match &text {
        Some(t) => format!("{t} {links}"),
        None => links,
    };
    let (comment, attachments) = {
        let mut data = site.write();
        // Checked before the comment is added, so a refused attach leaves no comment behind.
        if data.attachments_of(issue_id).len() + files.len() > MAX_ATTACHMENTS {
            drop(data);
            restore(files);
            return Err(data_error(DataError::LimitReached {
                what: "attachments",
                limit: MAX_ATTACHMENTS,
            }));
        }
        let comment = match data.add_comment(
            issue_id,
            NewComment {
                body: adf::from_wiki(&wiki),
                visibility: None,
                public,
            },
            &caller.user.account_id,
            now_ms,
        ) {
            Ok(c) => c,
            Err(e) => {
                drop(data);
                restore(files);
                return Err(data_error(e));
            }
        };
        let uploads = files
            .into_iter()
            .map(|f| NewAttachment {
                filename: f.file_name,
                mime_type: f.mime_type,
                content: f.content,
            })
            .collect();
        let attachments = data
            .add_attachments(issue_id, uploads, &caller.user.account_id, now_ms)
            .map_err(data_error)?;
        (comment, attachments)
    };
    let fact = RequestAttachment {
        comment_id: comment.id,
        public,
    };
    let facts: Vec<(u64, RequestAttachment)> = attachments.iter().map(|a| (a.id, fact)).collect();
    with_site(&state, &caller.site, |d| {
        d.request_meta(issue_id, type_id)
            .attachment_facts
            .extend(facts.iter().copied());
    });
    let mut desk = desk;
    desk.request_meta_mut(issue_id, type_id)
        .attachment_facts
        .extend(facts);
    let data = site.read();
    let issue = data
        .issue_by_id(issue_id)
        .ok_or_else(|| crate::jsm::request::request_not_found(&id))?;
    let r = renderer(&state, &caller, &desk, &data);
    let values = attachments.iter().map(|a| r.attachment(a)).collect();
    let result = json!({
        "comment": r.comment(&issue, &comment, &[]),
        "attachments": page(
            values,
            Paging { start: 0, limit: MAX_LIMIT },
            &r.api,
            &format!("/request/{issue_id}/comment/{}/attachment", comment.id),
            &Params::default(),
            &[],
        ),
    });
    Ok((StatusCode::CREATED, Json(result)).into_response())
}
