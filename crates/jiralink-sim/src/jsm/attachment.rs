//! Request attachments: `POST /servicedesk/{serviceDeskId}/attachTemporaryFile`,
//! `GET|POST /request/{issueIdOrKey}/attachment` and (experimental)
//! `GET /request/{issueIdOrKey}/comment/{commentId}/attachment`.
//!
//! * Uploads are `multipart/form-data` with the files in parts named `file` and need
//!   `X-Atlassian-Token: no-check` (403 otherwise, Jira's XSRF check). At most
//!   [`MAX_FILES`] files (413) of at most [`MAX_FILE_BYTES`] each (400). Each file becomes a
//!   [`TemporaryFile`] of the service desk, usable for [`TEMPORARY_FILE_TTL_MS`].
//! * Attaching moves temporary files of the request's service desk onto the request, as
//!   [`RequestAttachment`]s in [`crate::jsm::store::RequestMeta::attachments`], and adds one
//!   comment (`public` as asked) whose body is the `additionalComment` followed by wiki links to
//!   the files (`!image.png|thumbnail!`, `[^file.txt]`). The change history records each file
//!   under the `Attachment` field, as Jira does.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::data::{self, ChangeItem, Issue, NewComment, adf};
use crate::errors::ApiError;
use crate::identity::derive;
use crate::jsm::request::{DeskView, MAX_LIMIT, Render, data_error, find_request, renderer};
use crate::jsm::servicedesk::service_desk_not_found;
use crate::jsm::store::{
    Content, RequestAttachment, TEMPORARY_FILE_TTL_MS, TemporaryFile, with_site,
};
use crate::jsm::{
    PREFIX, Paging, Params, bad_request, not_found, page, parse_body, require_opt_in,
};
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

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Form field name.
    pub name: String,
    /// File name, for file parts.
    pub filename: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// Content.
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key=value` parameters of a header value (`form-data; name="file"; filename="a b.txt"`).
fn header_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut pieces = Vec::new();
    for ch in value.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                current.push(ch);
            }
            ';' if !quoted => pieces.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    pieces.push(current);
    for piece in pieces {
        if let Some((k, v)) = piece.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            out.push((k.trim().to_ascii_lowercase(), v.replace("\\\"", "\"")));
        }
    }
    out
}

/// Splits a `multipart/form-data` body; `None` when it is not one.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (media, _) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = header_params(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty())?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(at..at + 2) == Some(b"\r\n") {
            at += 2;
        }
        let head_end = find(body, b"\r\n\r\n", at)?;
        let head = String::from_utf8_lossy(body.get(at..head_end)?).into_owned();
        let content_start = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let content_end = find(body, &closing, content_start)?;
        let mut name = String::new();
        let mut filename = None;
        let mut part_type = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for (pk, pv) in header_params(v) {
                        match pk.as_str() {
                            "name" => name = pv,
                            "filename" => filename = Some(pv),
                            _ => {}
                        }
                    }
                }
                "content-type" => part_type = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        parts.push(Part {
            name,
            filename,
            content_type: part_type,
            data: body.get(content_start..content_end)?.to_vec(),
        });
        at = content_end + closing.len();
    }
}

/// Media type from a file name, for parts sent without one.
pub fn guess_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

fn xsrf_passed(headers: &HeaderMap) -> bool {
    headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim();
            v.eq_ignore_ascii_case("no-check") || v.eq_ignore_ascii_case("nocheck")
        })
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
    let parts = parse_multipart(content_type, &body).ok_or_else(|| {
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
                .unwrap_or_else(|| guess_mime(&file_name).to_owned());
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
    /// `AttachmentDTO`.
    pub(crate) fn attachment(&self, a: &RequestAttachment) -> Value {
        let base = &self.caller.base;
        let mut links = json!({
            "jiraRest": format!("{base}/rest/api/2/attachment/{}", a.id),
            "content": format!(
                "{}/servicedesk/customershim/secure/attachment/{}/{}",
                self.site_url,
                a.id,
                url::form_urlencoded::byte_serialize(a.filename.as_bytes()).collect::<String>()
            ),
        });
        if a.mime_type.starts_with("image/") {
            links["thumbnail"] = Value::from(format!(
                "{}/servicedesk/customershim/secure/thumbnail/{}/_thumb_{}.png",
                self.site_url, a.id, a.id
            ));
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

    /// The attachments of a request a viewer may see (customers see public ones only),
    /// optionally only those of one comment.
    pub(crate) fn attachments_of(&self, issue: &Issue, comment: Option<u64>) -> Vec<Value> {
        let agent = crate::jsm::request::is_agent(self.caller);
        self.desk
            .requests
            .get(&issue.id)
            .map(|m| m.attachments.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|a| agent || a.public)
            .filter(|a| comment.is_none_or(|c| a.comment_id == c))
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
    let (files, first_id) = with_site(&state, &caller.site, |d| {
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
        let files: Vec<TemporaryFile> = temp_ids
            .iter()
            .filter_map(|t| d.temporary_files.remove(t))
            .collect();
        let first_id = d.reserve_attachment_ids(files.len() as u64);
        Ok((files, first_id))
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
    let added: Result<(data::Comment, Vec<RequestAttachment>), ApiError> = {
        let mut data = site.write();
        data.add_comment(
            issue_id,
            NewComment {
                body: adf::from_wiki(&wiki),
                visibility: None,
                public,
            },
            &caller.user.account_id,
            now_ms,
        )
        .map_err(data_error)
        .and_then(|comment| {
            let attachments: Vec<RequestAttachment> = files
                .iter()
                .zip(first_id..)
                .map(|(f, aid)| RequestAttachment {
                    id: aid,
                    filename: f.file_name.clone(),
                    mime_type: f.mime_type.clone(),
                    size: f.content.len() as u64,
                    author: caller.user.account_id.clone(),
                    created: now_ms,
                    comment_id: comment.id,
                    public,
                })
                .collect();
            let items = attachments
                .iter()
                .map(|a| ChangeItem {
                    field: "Attachment".to_owned(),
                    fieldtype: "jira".to_owned(),
                    field_id: "attachment".to_owned(),
                    from: None,
                    from_string: None,
                    to: Some(a.id.to_string()),
                    to_string: Some(a.filename.clone()),
                })
                .collect();
            data.record_change(issue_id, items, &caller.user.account_id, now_ms)
                .map_err(data_error)?;
            Ok((comment, attachments))
        })
    };
    let (comment, attachments) = match added {
        Ok(x) => x,
        Err(e) => {
            restore(files);
            return Err(e);
        }
    };
    let stored = attachments.clone();
    with_site(&state, &caller.site, |d| {
        for (a, f) in stored.iter().zip(files) {
            d.attachment_content.insert(a.id, Content(f.content));
        }
        d.request_meta(issue_id, type_id).attachments.extend(stored);
    });
    let mut desk = desk;
    desk.request_meta_mut(issue_id, type_id)
        .attachments
        .extend(attachments.iter().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_split_into_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nx\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "file");
        assert_eq!(parts[0].filename.as_deref(), Some("a;b.txt"));
        assert_eq!(parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parts[0].data, b"hello\r\nworld");
        assert_eq!(parts[1].filename, None);
        assert_eq!(parts[1].data, b"x");
        assert!(parse_multipart("application/json", body).is_none());
        assert!(parse_multipart("multipart/form-data; boundary=nope", body).is_none());
    }

    #[test]
    fn media_types_are_guessed_from_names() {
        assert_eq!(guess_mime("shot.PNG"), "image/png");
        assert_eq!(guess_mime("server.log"), "text/plain");
        assert_eq!(guess_mime("blob"), "application/octet-stream");
    }
}
