//! Copying an issue's comments to its copy, once each, edits included, never back.
//!
//! Each copied comment is linked to its copy in both directions
//! ([`jiralink_store::CommentLink`]) with the hash of its body. A comment whose link has the
//! same hash is left alone — in particular a copy a flow made, met again by the flow going the
//! other way; an edited one (another hash) is written over its copy; a new one is added. Before
//! adding, the copy's comments are read once: an unlinked comment with the same body (one an
//! earlier run added just before it stopped, without recording the link) is linked rather
//! than added a second time. Deleted comments are not deleted on the other side.

use std::collections::HashMap;

use jiralink_atlassian::{AtlassianError, JiraClient, RecordList};
use jiralink_domain::ConnectionId;
use jiralink_store::{CommentLink, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::{AppError, AppResult};

/// Where comments are copied from and to.
pub(super) struct CommentSync<'a> {
    pub(super) store: &'a dyn Store,
    /// The target's client.
    pub(super) client: &'a JiraClient,
    pub(super) source: ConnectionId,
    pub(super) target: ConnectionId,
    pub(super) at: OffsetDateTime,
}

/// What one issue's comments needed.
#[derive(Debug, Default)]
pub(super) struct CommentsDone {
    pub(super) added: u64,
    pub(super) updated: u64,
    pub(super) adopted: u64,
    /// Comments Jira refused to add or update (the issue is sent again by the next run).
    pub(super) failed: u64,
}

/// The hash of a comment body, the same however its object keys are ordered.
fn body_hash(body: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for i in items {
                    canonical(i, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn comment_id(c: &Value) -> Option<String> {
    match c.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Copies `comments` (of the source issue `source_issue`) to the target issue `target_issue`.
pub(super) async fn sync_comments(
    sync: &CommentSync<'_>,
    source_issue: &str,
    target_issue: &str,
    comments: &[Value],
) -> AppResult<CommentsDone> {
    let mut done = CommentsDone::default();
    let wanted: Vec<(String, &Value, String)> = comments
        .iter()
        .filter_map(|c| {
            let body = c.get("body")?;
            Some((comment_id(c)?, body, body_hash(body)))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(done);
    }
    let ids: Vec<String> = wanted.iter().map(|(id, _, _)| id.clone()).collect();
    let links = sync
        .store
        .comment_links(sync.source, sync.target, &ids)
        .await
        .map_err(AppError::from)?;
    let mut new_links = Vec::new();
    let mut to_add = Vec::new();
    for (id, body, hash) in &wanted {
        match links.get(id) {
            Some(link) if &link.body_hash == hash => {}
            Some(link) => {
                match sync
                    .client
                    .comment_update(target_issue, &link.peer_comment_id, body)
                    .await
                {
                    Ok(stored) => {
                        done.updated += 1;
                        push_pair(
                            &mut new_links,
                            sync,
                            (source_issue, id, hash),
                            (
                                target_issue,
                                &link.peer_comment_id,
                                &stored_hash(&stored, hash),
                            ),
                        );
                    }
                    Err(e) if refused(&e) => {
                        tracing::warn!(issue = %target_issue, error = %e, "a comment could not be updated");
                        done.failed += 1;
                    }
                    Err(e) => return Err(jira(e)),
                }
            }
            None => to_add.push((id, *body, hash)),
        }
    }
    if !to_add.is_empty() {
        let existing = sync
            .client
            .record_list_all(&RecordList::Comments {
                issue: target_issue.to_owned(),
            })
            .await
            .map_err(jira)?
            .unwrap_or_default();
        let existing: Vec<Value> = existing
            .iter()
            .filter_map(|raw| serde_json::from_str(raw.get()).ok())
            .collect();
        let existing_ids: Vec<String> = existing.iter().filter_map(comment_id).collect();
        let linked_back = sync
            .store
            .comment_links(sync.target, sync.source, &existing_ids)
            .await
            .map_err(AppError::from)?;
        let mut unlinked: HashMap<String, Vec<String>> = HashMap::new();
        for c in &existing {
            if let (Some(id), Some(body)) = (comment_id(c), c.get("body"))
                && !linked_back.contains_key(&id)
            {
                unlinked.entry(body_hash(body)).or_default().push(id);
            }
        }
        // The hash of what the copy holds is the copy-side link's: Jira may store a body
        // slightly differently from what was sent.
        for (id, body, hash) in to_add {
            let adopted = unlinked.get_mut(hash).and_then(|ids| {
                if ids.is_empty() {
                    None
                } else {
                    Some(ids.remove(0))
                }
            });
            let (copy, copy_hash) = match adopted {
                Some(found) => {
                    done.adopted += 1;
                    (found, hash.clone())
                }
                None => match sync.client.comment_add(target_issue, body).await {
                    Ok(added) => {
                        done.added += 1;
                        (
                            comment_id(&added).unwrap_or_default(),
                            stored_hash(&added, hash),
                        )
                    }
                    Err(e) if refused(&e) => {
                        tracing::warn!(issue = %target_issue, error = %e, "a comment could not be copied");
                        done.failed += 1;
                        continue;
                    }
                    Err(e) => return Err(jira(e)),
                },
            };
            if !copy.is_empty() {
                push_pair(
                    &mut new_links,
                    sync,
                    (source_issue, id, hash),
                    (target_issue, &copy, &copy_hash),
                );
            }
        }
    }
    sync.store
        .put_comment_links(&new_links)
        .await
        .map_err(AppError::from)?;
    Ok(done)
}

/// Both directions of a comment's link, each with the hash of the body on its side.
fn push_pair(
    links: &mut Vec<CommentLink>,
    sync: &CommentSync<'_>,
    (source_issue, source_comment, source_hash): (&str, &str, &str),
    (target_issue, target_comment, target_hash): (&str, &str, &str),
) {
    links.push(CommentLink {
        connection_id: sync.source,
        comment_id: source_comment.to_owned(),
        peer_connection_id: sync.target,
        issue_id: source_issue.to_owned(),
        peer_comment_id: target_comment.to_owned(),
        body_hash: source_hash.to_owned(),
        at: sync.at,
    });
    links.push(CommentLink {
        connection_id: sync.target,
        comment_id: target_comment.to_owned(),
        peer_connection_id: sync.source,
        issue_id: target_issue.to_owned(),
        peer_comment_id: source_comment.to_owned(),
        body_hash: target_hash.to_owned(),
        at: sync.at,
    });
}

/// The hash of the body Jira stored, from its answer (`sent` when the answer has none).
fn stored_hash(stored: &Value, sent: &str) -> String {
    stored
        .get("body")
        .map_or_else(|| sent.to_owned(), body_hash)
}

/// A refusal of this one comment (its body, its issue), which the next run tries again;
/// anything else (the site unreachable, the connection refused) ends the run.
fn refused(e: &AtlassianError) -> bool {
    matches!(
        e,
        AtlassianError::BadRequest { .. } | AtlassianError::NotFound { .. }
    )
}

/// A refused or failed request while copying comments.
#[allow(
    clippy::needless_pass_by_value,
    reason = "a map_err adapter: errors arrive by value"
)]
pub(super) fn jira(e: AtlassianError) -> AppError {
    AppError::ImportFailed {
        code: "jira_error",
        message: format!("copying comments or reading the copies back failed: {e}"),
        run: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::body_hash;

    #[test]
    fn body_hash_ignores_key_order_but_not_content() {
        let a = json!({"type": "doc", "version": 1, "content": [{"type": "text", "text": "x"}]});
        let b = json!({"version": 1, "content": [{"text": "x", "type": "text"}], "type": "doc"});
        let c = json!({"type": "doc", "version": 1, "content": [{"type": "text", "text": "y"}]});
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&c));
    }
}
