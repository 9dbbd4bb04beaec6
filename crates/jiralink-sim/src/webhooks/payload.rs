//! Event bodies in the shapes Jira sends (REST API v2 representations, `self` links on the
//! site's URL, date-times in UTC).

use crate::data::{Change, ChangeKind, History};
use crate::platform::fields::{DefaultFields, Selection};
use crate::platform::json::{Obj, push_array};
use crate::platform::render::{Expand, IssueOptions, Render};

/// The `webhookEvent` of a change.
pub fn event_name(kind: &ChangeKind) -> &'static str {
    match kind {
        ChangeKind::IssueCreated => "jira:issue_created",
        ChangeKind::IssueUpdated { .. } => "jira:issue_updated",
        ChangeKind::IssueDeleted => "jira:issue_deleted",
        ChangeKind::CommentCreated(_) => "comment_created",
        ChangeKind::CommentUpdated(_) => "comment_updated",
        ChangeKind::CommentDeleted(_) => "comment_deleted",
        ChangeKind::WorklogCreated(_) => "worklog_created",
        ChangeKind::WorklogUpdated(_) => "worklog_updated",
        ChangeKind::WorklogDeleted(_) => "worklog_deleted",
        ChangeKind::LinkCreated { .. } => "issuelink_created",
        ChangeKind::LinkDeleted { .. } => "issuelink_deleted",
    }
}

/// Jira's `issue_event_type_name` for an update: the write's own name, else `issue_generic`
/// for a status change, `issue_assigned` when only the assignee changed, `issue_updated`
/// otherwise.
fn update_type(history: Option<&History>, named: Option<&'static str>) -> &'static str {
    if let Some(named) = named {
        return named;
    }
    let items = history.map(|h| h.items.as_slice()).unwrap_or_default();
    if items.iter().any(|i| i.field_id == "status") {
        "issue_generic"
    } else if !items.is_empty() && items.iter().all(|i| i.field_id == "assignee") {
        "issue_assigned"
    } else {
        "issue_updated"
    }
}

/// Field ids a change's history touched (for `fieldIdsFilter`).
pub fn changed_fields(kind: &ChangeKind) -> Vec<&str> {
    match kind {
        ChangeKind::IssueUpdated {
            history: Some(h), ..
        } => h.items.iter().map(|i| i.field_id.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// Fields of the issue summary comment events carry.
const COMMENT_ISSUE_FIELDS: &str = "summary,issuetype,project,status,assignee,priority";

fn issue(render: &Render<'_>, out: &mut String, change: &Change, fields: &str) {
    let selection = if fields.is_empty() {
        Selection::parse(&[], DefaultFields::Navigable)
    } else {
        Selection::parse(&[fields.to_owned()], DefaultFields::Navigable)
    };
    let opts = IssueOptions {
        selection: &selection,
        expand: Expand::default(),
        properties: &[],
        changelog_cap: 0,
        comment_cap: 0,
        names_inside: false,
    };
    render.issue(out, &change.issue, &opts);
}

fn link_type(render: &Render<'_>, out: &mut String, type_id: &str) {
    let mut o = Obj::new(out);
    match render.data.link_type(type_id) {
        Some(kind) => {
            o.num("id", kind.id.parse::<u64>().unwrap_or_default())
                .str("name", &kind.name)
                .str("outwardName", &kind.outward)
                .str("inwardName", &kind.inward)
                .bool("isSubTaskLinkType", false)
                .bool("isSystemLinkType", false);
        }
        None => {
            o.num("id", type_id.parse::<u64>().unwrap_or_default());
        }
    }
    o.end();
}

/// The JSON body of `change`.
pub fn body(render: &Render<'_>, change: &Change) -> String {
    let mut out = String::new();
    let mut o = Obj::new(&mut out);
    o.num("timestamp", change.at_ms)
        .str("webhookEvent", event_name(&change.kind));
    match &change.kind {
        ChangeKind::IssueCreated | ChangeKind::IssueDeleted | ChangeKind::IssueUpdated { .. } => {
            let type_name = match &change.kind {
                ChangeKind::IssueCreated => "issue_created",
                ChangeKind::IssueDeleted => "issue_deleted",
                ChangeKind::IssueUpdated {
                    history,
                    event_type,
                } => update_type(history.as_ref(), *event_type),
                _ => "issue_generic",
            };
            o.str("issue_event_type_name", type_name);
            if let Some(actor) = &change.actor {
                render.user(o.key("user"), actor);
            }
            issue(render, o.key("issue"), change, "");
            if let ChangeKind::IssueUpdated {
                history: Some(h), ..
            } = &change.kind
            {
                let mut c = Obj::new(o.key("changelog"));
                c.str("id", &h.id.to_string());
                push_array(c.key("items"), &h.items, |out, i| {
                    let mut io = Obj::new(out);
                    io.str("field", &i.field)
                        .str("fieldtype", &i.fieldtype)
                        .str("fieldId", &i.field_id)
                        .opt_str("from", i.from.as_deref())
                        .opt_str("fromString", i.from_string.as_deref())
                        .opt_str("to", i.to.as_deref())
                        .opt_str("toString", i.to_string.as_deref());
                    io.end();
                });
                c.end();
            }
        }
        ChangeKind::CommentCreated(c)
        | ChangeKind::CommentUpdated(c)
        | ChangeKind::CommentDeleted(c) => {
            render.comment(o.key("comment"), change.issue.id, c, false);
            issue(render, o.key("issue"), change, COMMENT_ISSUE_FIELDS);
        }
        ChangeKind::WorklogCreated(w)
        | ChangeKind::WorklogUpdated(w)
        | ChangeKind::WorklogDeleted(w) => {
            render.worklog(o.key("worklog"), change.issue.id, w);
        }
        ChangeKind::LinkCreated { link, .. } | ChangeKind::LinkDeleted { link, .. } => {
            let mut l = Obj::new(o.key("issueLink"));
            l.num("id", link.id)
                .num("sourceIssueId", link.source)
                .num("destinationIssueId", link.target);
            link_type(render, l.key("issueLinkType"), &link.type_id);
            l.bool("systemLink", false);
            l.end();
        }
    }
    o.end();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ChangeItem;

    fn item(field: &str) -> ChangeItem {
        ChangeItem {
            field: field.to_owned(),
            fieldtype: "jira".to_owned(),
            field_id: field.to_owned(),
            from: None,
            from_string: None,
            to: None,
            to_string: None,
        }
    }

    fn history(fields: &[&str]) -> History {
        History {
            id: 1,
            author: None,
            created: 0,
            items: fields.iter().map(|f| item(f)).collect(),
        }
    }

    #[test]
    fn update_types_follow_jira() {
        assert_eq!(
            update_type(Some(&history(&["status", "resolution"])), None),
            "issue_generic"
        );
        assert_eq!(
            update_type(Some(&history(&["assignee"])), None),
            "issue_assigned"
        );
        assert_eq!(
            update_type(Some(&history(&["summary"])), None),
            "issue_updated"
        );
        assert_eq!(
            update_type(None, Some("issue_commented")),
            "issue_commented"
        );
    }
}
