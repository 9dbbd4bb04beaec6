//! Issue links, link types, remote links and attachments of a site.
//!
//! Generated issues carry generated links and attachments computed from their index, so they
//! cost nothing until read: about one issue in five links to the next issue of its project
//! (link id `10000 + index`), and one in six has one or two attachments (ids
//! `10000 + 2 × index + n`) whose content is produced on demand. Both are found from either end
//! without scanning. Links and attachments made through the API, remote links and link types
//! live in [`LinkStore`], which the dump keeps whole (attachment bytes as base64).
//!
//! | Need | Call |
//! |---|---|
//! | link types | [`SiteData::link_types`], [`SiteData::link_type`] |
//! | links of an issue (JQL `issueLink`, `issueLinkType`) | [`SiteData::links_of`] ([`LinkEnd`]: link id, type id, direction, other issue id) |
//! | JQL `linkedIssues(issue, link?)` | [`SiteData::linked_issues`] |
//! | one link | [`SiteData::issue_link`] |
//! | attachments (JSM request attachments are issue attachments too) | [`SiteData::attachments_of`], [`SiteData::attachment`], [`SiteData::attachment_content`], [`SiteData::add_attachments`] |
//! | remote links | [`SiteData::remote_links_of`], [`SiteData::remote_link`] |

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::changes::{Change, ChangeKind};
use super::error::DataError;
use super::generate::mix;
use super::model::{ChangeItem, FIRST_ISSUE_ID, History};
use super::store::SiteData;

/// First id of generated links, attachments, link types and remote links.
pub const FIRST_ID: u64 = 10_000;
/// Links one issue may have (Jira Cloud: 2,000); more answers 413.
pub const MAX_LINKS: usize = 2_000;
/// Attachments one issue may have (Jira Cloud: 2,000); more answers 413.
pub const MAX_ATTACHMENTS: usize = 2_000;
/// Remote links one issue may have; more answers 413.
pub const MAX_REMOTE_LINKS: usize = 2_000;
/// Largest attachment accepted, in bytes (`GET /attachment/meta` `uploadLimit`).
pub const UPLOAD_LIMIT: u64 = 10_485_760;

const LINK_SALT: u64 = 0x4C49_4E4B;
const ATTACHMENT_SALT: u64 = 0x4154_5443;

/// The types every site starts with, as a new Jira Cloud site has them.
const DEFAULT_TYPES: [(&str, &str, &str); 4] = [
    ("Blocks", "is blocked by", "blocks"),
    ("Cloners", "is cloned by", "clones"),
    ("Duplicate", "is duplicated by", "duplicates"),
    ("Relates", "relates to", "relates to"),
];
const BLOCKS: &str = "10000";
const DUPLICATE: &str = "10002";
const RELATES: &str = "10003";

/// An issue link type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkType {
    /// Numeric id as a string.
    pub id: String,
    /// Name, e.g. `Blocks`.
    pub name: String,
    /// How the target sees the link, e.g. `is blocked by`.
    pub inward: String,
    /// How the source sees the link, e.g. `blocks`.
    pub outward: String,
}

/// A link between two issues: `source` (the request's `inwardIssue`) `outward` `target`
/// ("A blocks B"), and `target` `inward` `source` ("B is blocked by A").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueLink {
    /// Numeric id.
    pub id: u64,
    /// Link type id.
    pub type_id: String,
    /// The issue the outward description applies to.
    pub source: u64,
    /// The issue the inward description applies to.
    pub target: u64,
}

/// Which side of a link an issue is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The issue is the source: it shows the link with `outwardIssue` ("blocks" the other).
    Outward,
    /// The issue is the target: it shows the link with `inwardIssue` ("is blocked by" the other).
    Inward,
}

/// A link as one of its issues sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEnd {
    /// Link id.
    pub link_id: u64,
    /// Link type id.
    pub type_id: String,
    /// This issue's side.
    pub direction: Direction,
    /// The other issue's id.
    pub other: u64,
}

/// Metadata of an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Numeric id.
    pub id: u64,
    /// Issue id.
    pub issue: u64,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Uploader's account id.
    pub author: String,
    /// Upload time (ms).
    pub created: i64,
}

/// A remote issue link: the request's `globalId`, `application`, `relationship` and `object`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteLink {
    /// Numeric id.
    pub id: u64,
    /// Issue id.
    pub issue: u64,
    /// Identifier in the remote system.
    #[serde(default)]
    pub global_id: Option<String>,
    /// The remote application.
    #[serde(default)]
    pub application: Option<Value>,
    /// The relationship text (`links to` when absent).
    #[serde(default)]
    pub relationship: Option<String>,
    /// The linked object (`url`, `title`, `summary`, `icon`, `status`).
    pub object: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredAttachment {
    meta: Attachment,
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    content: Vec<u8>,
}

fn to_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use base64::Engine;
    let text = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(serde::de::Error::custom)
}

/// Links, link types, remote links and attachments made through the API, and the generated
/// ones removed since. Kept whole in the dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkStore {
    types: Vec<LinkType>,
    next_type: u64,
    links: BTreeMap<u64, IssueLink>,
    removed_links: BTreeSet<u64>,
    next_link: u64,
    remote: BTreeMap<u64, RemoteLink>,
    next_remote: u64,
    attachments: BTreeMap<u64, StoredAttachment>,
    removed_attachments: BTreeSet<u64>,
    next_attachment: u64,
    /// Issue id → explicit link ids; rebuilt after a load.
    #[serde(skip)]
    links_by_issue: BTreeMap<u64, BTreeSet<u64>>,
    #[serde(skip)]
    attachments_by_issue: BTreeMap<u64, BTreeSet<u64>>,
    #[serde(skip)]
    remote_by_issue: BTreeMap<u64, BTreeSet<u64>>,
}

impl LinkStore {
    /// The store of a site with `generated` generated issues.
    pub fn new(generated: u64) -> Self {
        let types = DEFAULT_TYPES
            .iter()
            .zip(FIRST_ID..)
            .map(|((name, inward, outward), id)| LinkType {
                id: id.to_string(),
                name: (*name).to_owned(),
                inward: (*inward).to_owned(),
                outward: (*outward).to_owned(),
            })
            .collect::<Vec<_>>();
        Self {
            next_type: FIRST_ID + types.len() as u64,
            types,
            links: BTreeMap::new(),
            removed_links: BTreeSet::new(),
            next_link: FIRST_ID + generated,
            remote: BTreeMap::new(),
            next_remote: FIRST_ID,
            attachments: BTreeMap::new(),
            removed_attachments: BTreeSet::new(),
            next_attachment: FIRST_ID + generated * 2,
            links_by_issue: BTreeMap::new(),
            attachments_by_issue: BTreeMap::new(),
            remote_by_issue: BTreeMap::new(),
        }
    }

    /// Rebuilds the per-issue indexes (after deserializing).
    pub(crate) fn reindex(&mut self) {
        self.links_by_issue.clear();
        self.attachments_by_issue.clear();
        self.remote_by_issue.clear();
        for link in self.links.values() {
            for end in [link.source, link.target] {
                self.links_by_issue.entry(end).or_default().insert(link.id);
            }
        }
        for a in self.attachments.values() {
            self.attachments_by_issue
                .entry(a.meta.issue)
                .or_default()
                .insert(a.meta.id);
        }
        for r in self.remote.values() {
            self.remote_by_issue
                .entry(r.issue)
                .or_default()
                .insert(r.id);
        }
    }
}

/// A file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// File name.
    pub filename: String,
    /// MIME type (from the part's `Content-Type`, or guessed from the name).
    pub mime_type: String,
    /// Content.
    pub content: Vec<u8>,
}

/// A new or replacing remote link.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRemoteLink {
    /// Identifier in the remote system.
    pub global_id: Option<String>,
    /// The remote application.
    pub application: Option<Value>,
    /// Relationship text.
    pub relationship: Option<String>,
    /// The linked object.
    pub object: Value,
}

/// The MIME type Jira infers from a file name when the upload names none.
pub fn mime_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Generated attachment kinds: name stem, extension, MIME type.
const KINDS: [(&str, &str, &str); 4] = [
    ("notes", "txt", "text/plain"),
    ("build", "log", "text/plain"),
    ("report", "csv", "text/csv"),
    ("settings", "json", "application/json"),
];

impl SiteData {
    fn generated_index(&self, id: u64) -> Option<u64> {
        id.checked_sub(FIRST_ISSUE_ID)
            .filter(|i| *i < self.generated_count())
    }

    /// The generated link whose source is generated issue `index` (to the next issue of the
    /// same project), whether or not it was removed since.
    fn generated_link_from(&self, index: u64) -> Option<IssueLink> {
        let block = self.generator.block_of(index)?;
        if index + 1 >= block.start + block.count {
            return None;
        }
        let h = mix(self.seed, index, LINK_SALT);
        if !h.is_multiple_of(5) {
            return None;
        }
        let type_id = match (h >> 8) % 10 {
            0..=4 => BLOCKS,
            5..=8 => RELATES,
            _ => DUPLICATE,
        };
        Some(IssueLink {
            id: FIRST_ID + index,
            type_id: type_id.to_owned(),
            source: FIRST_ISSUE_ID + index,
            target: FIRST_ISSUE_ID + index + 1,
        })
    }

    fn link_alive(&self, link: &IssueLink) -> bool {
        self.exists(link.source)
            && self.exists(link.target)
            && self.link_type(&link.type_id).is_some()
    }

    /// Every link type, in creation order.
    pub fn link_types(&self) -> &[LinkType] {
        &self.links.types
    }

    /// A link type by id or name (any case).
    pub fn link_type(&self, id_or_name: &str) -> Option<&LinkType> {
        self.links
            .types
            .iter()
            .find(|t| t.id == id_or_name)
            .or_else(|| {
                self.links
                    .types
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(id_or_name))
            })
    }

    /// A link by id, if both its issues exist.
    pub fn issue_link(&self, link_id: u64) -> Option<IssueLink> {
        let link = match self.links.links.get(&link_id) {
            Some(l) => l.clone(),
            None => {
                let index = link_id.checked_sub(FIRST_ID)?;
                if index >= self.generated_count() || self.links.removed_links.contains(&link_id) {
                    return None;
                }
                self.generated_link_from(index)?
            }
        };
        self.link_alive(&link).then_some(link)
    }

    /// The links of issue `id` as it sees them, by link id (generated and created, both
    /// directions; links to deleted issues are gone).
    pub fn links_of(&self, id: u64) -> Vec<LinkEnd> {
        let mut links: Vec<IssueLink> = Vec::new();
        if let Some(index) = self.generated_index(id) {
            let candidates = [
                self.generated_link_from(index),
                index
                    .checked_sub(1)
                    .and_then(|i| self.generated_link_from(i)),
            ];
            links.extend(
                candidates
                    .into_iter()
                    .flatten()
                    .filter(|l| !self.links.removed_links.contains(&l.id)),
            );
        }
        if let Some(ids) = self.links.links_by_issue.get(&id) {
            links.extend(ids.iter().filter_map(|l| self.links.links.get(l)).cloned());
        }
        links.sort_by_key(|l| l.id);
        links
            .into_iter()
            .filter(|l| self.link_alive(l))
            .map(|l| {
                if l.source == id {
                    LinkEnd {
                        link_id: l.id,
                        type_id: l.type_id,
                        direction: Direction::Outward,
                        other: l.target,
                    }
                } else {
                    LinkEnd {
                        link_id: l.id,
                        type_id: l.type_id,
                        direction: Direction::Inward,
                        other: l.source,
                    }
                }
            })
            .collect()
    }

    /// The issues linked to issue `id` (JQL `linkedIssues(issue, link)`), optionally only
    /// through links described as `link` from `id`'s side: the type's outward description
    /// where `id` is the source, its inward one where it is the target, or the type's name
    /// (any case). Ascending, without repeats.
    pub fn linked_issues(&self, id: u64, link: Option<&str>) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .links_of(id)
            .into_iter()
            .filter(|end| {
                let Some(wanted) = link else { return true };
                let Some(kind) = self.link_type(&end.type_id) else {
                    return false;
                };
                let side = match end.direction {
                    Direction::Outward => &kind.outward,
                    Direction::Inward => &kind.inward,
                };
                side.eq_ignore_ascii_case(wanted) || kind.name.eq_ignore_ascii_case(wanted)
            })
            .map(|end| end.other)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Records a history entry of `items` on issue `id` and moves `updated` (when asked).
    fn record(
        &mut self,
        id: u64,
        actor: &str,
        now_ms: i64,
        items: Vec<ChangeItem>,
        touch_updated: bool,
    ) -> Result<(), DataError> {
        let history = History {
            id: self.next_history,
            author: Some(actor.to_owned()),
            created: now_ms,
            items,
        };
        self.write(id, None, now_ms, touch_updated, |_, issue| {
            issue.changelog.push(history);
            Ok(())
        })?;
        self.next_history += 1;
        Ok(())
    }

    fn link_items(&self, link: &IssueLink, removed: bool) -> Option<(ChangeItem, ChangeItem)> {
        let kind = self.link_type(&link.type_id)?.clone();
        let source_key = self.key_of(link.source)?;
        let target_key = self.key_of(link.target)?;
        let item = |key: &str, text: String| {
            let (value, display) = (Some(key.to_owned()), Some(text));
            ChangeItem {
                field: "Link".to_owned(),
                fieldtype: "jira".to_owned(),
                field_id: "issuelinks".to_owned(),
                from: if removed { value.clone() } else { None },
                from_string: if removed { display.clone() } else { None },
                to: if removed { None } else { value },
                to_string: if removed { None } else { display },
            }
        };
        Some((
            item(
                &target_key,
                format!("This issue {} {target_key}", kind.outward),
            ),
            item(
                &source_key,
                format!("This issue {} {source_key}", kind.inward),
            ),
        ))
    }

    /// Links `source` `type` `target` ("A blocks B"), recording a `Link` history entry on both
    /// issues. An existing identical link is answered instead of a new one.
    pub fn link_issues(
        &mut self,
        type_id_or_name: &str,
        source: u64,
        target: u64,
        actor: &str,
        now_ms: i64,
    ) -> Result<IssueLink, DataError> {
        let kind = self
            .link_type(type_id_or_name)
            .cloned()
            .ok_or_else(|| DataError::ItemNotFound(format!("link type {type_id_or_name}")))?;
        for end in [source, target] {
            if !self.exists(end) {
                return Err(DataError::IssueNotFound(end.to_string()));
            }
        }
        if source == target {
            return Err(DataError::Invalid(
                "You cannot link an issue to itself.".to_owned(),
            ));
        }
        let existing = self.links_of(source).into_iter().find(|l| {
            l.direction == Direction::Outward && l.other == target && l.type_id == kind.id
        });
        if let Some(found) = existing {
            return Ok(IssueLink {
                id: found.link_id,
                type_id: kind.id,
                source,
                target,
            });
        }
        for end in [source, target] {
            if self.links_of(end).len() >= MAX_LINKS {
                return Err(DataError::LimitReached {
                    what: "issue links",
                    limit: MAX_LINKS,
                });
            }
        }
        let link = IssueLink {
            id: self.links.next_link,
            type_id: kind.id,
            source,
            target,
        };
        self.links.next_link += 1;
        self.links.links.insert(link.id, link.clone());
        for end in [source, target] {
            self.links
                .links_by_issue
                .entry(end)
                .or_default()
                .insert(link.id);
        }
        if let Some((on_source, on_target)) = self.link_items(&link, false) {
            self.record(source, actor, now_ms, vec![on_source], true)?;
            self.record(target, actor, now_ms, vec![on_target], true)?;
        }
        self.record_link_change(&link, actor, now_ms, false);
        Ok(link)
    }

    /// Deletes a link, recording the removal on both issues.
    pub fn delete_link(&mut self, link_id: u64, actor: &str, now_ms: i64) -> Result<(), DataError> {
        let link = self
            .issue_link(link_id)
            .ok_or_else(|| DataError::ItemNotFound(format!("issue link {link_id}")))?;
        let items = self.link_items(&link, true);
        self.forget_link(&link);
        if let Some((on_source, on_target)) = items {
            self.record(link.source, actor, now_ms, vec![on_source], true)?;
            self.record(link.target, actor, now_ms, vec![on_target], true)?;
        }
        self.record_link_change(&link, actor, now_ms, true);
        Ok(())
    }

    /// Records `issuelink_created` / `issuelink_deleted` for webhooks.
    fn record_link_change(&mut self, link: &IssueLink, actor: &str, now_ms: i64, removed: bool) {
        let (Some(source), Some(other)) =
            (self.issue_by_id(link.source), self.issue_by_id(link.target))
        else {
            return;
        };
        let link = link.clone();
        let kind = if removed {
            ChangeKind::LinkDeleted { link, other }
        } else {
            ChangeKind::LinkCreated { link, other }
        };
        self.outbox.push(|| Change {
            at_ms: now_ms,
            actor: Some(actor.to_owned()),
            issue: source,
            kind,
        });
    }

    fn forget_link(&mut self, link: &IssueLink) {
        if self.links.links.remove(&link.id).is_none() {
            self.links.removed_links.insert(link.id);
        }
        for end in [link.source, link.target] {
            if let Some(set) = self.links.links_by_issue.get_mut(&end) {
                set.remove(&link.id);
            }
        }
    }

    /// Creates a link type; names are unique (any case).
    pub fn create_link_type(
        &mut self,
        name: &str,
        inward: &str,
        outward: &str,
    ) -> Result<LinkType, DataError> {
        if self
            .links
            .types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(name))
        {
            return Err(DataError::Invalid(format!(
                "The issue link type name '{name}' already exists."
            )));
        }
        let kind = LinkType {
            id: self.links.next_type.to_string(),
            name: name.to_owned(),
            inward: inward.to_owned(),
            outward: outward.to_owned(),
        };
        self.links.next_type += 1;
        self.links.types.push(kind.clone());
        Ok(kind)
    }

    /// Changes a link type's names (each only when given).
    pub fn update_link_type(
        &mut self,
        id: &str,
        name: Option<&str>,
        inward: Option<&str>,
        outward: Option<&str>,
    ) -> Result<LinkType, DataError> {
        if let Some(name) = name
            && self
                .links
                .types
                .iter()
                .any(|t| t.id != id && t.name.eq_ignore_ascii_case(name))
        {
            return Err(DataError::Invalid(format!(
                "The issue link type name '{name}' already exists."
            )));
        }
        let kind = self
            .links
            .types
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| DataError::ItemNotFound(format!("link type {id}")))?;
        if let Some(n) = name {
            n.clone_into(&mut kind.name);
        }
        if let Some(i) = inward {
            i.clone_into(&mut kind.inward);
        }
        if let Some(o) = outward {
            o.clone_into(&mut kind.outward);
        }
        Ok(kind.clone())
    }

    /// Deletes a link type and, with it, every link of that type.
    pub fn delete_link_type(&mut self, id: &str) -> Result<(), DataError> {
        let before = self.links.types.len();
        self.links.types.retain(|t| t.id != id);
        if self.links.types.len() == before {
            return Err(DataError::ItemNotFound(format!("link type {id}")));
        }
        let gone: Vec<IssueLink> = self
            .links
            .links
            .values()
            .filter(|l| l.type_id == id)
            .cloned()
            .collect();
        for link in gone {
            self.forget_link(&link);
        }
        Ok(())
    }

    /// Forgets the links, attachments and remote links of deleted issues.
    pub(crate) fn forget_issues(&mut self, ids: &[u64]) {
        for id in ids {
            let links: Vec<IssueLink> = self
                .links
                .links_by_issue
                .remove(id)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| self.links.links.get(l).cloned())
                .collect();
            for link in links {
                self.forget_link(&link);
            }
            for a in self
                .links
                .attachments_by_issue
                .remove(id)
                .unwrap_or_default()
            {
                self.links.attachments.remove(&a);
            }
            for r in self.links.remote_by_issue.remove(id).unwrap_or_default() {
                self.links.remote.remove(&r);
            }
        }
    }

    // ----- attachments -----

    fn generated_attachment(&self, index: u64, n: u64) -> Option<(Attachment, Vec<u8>)> {
        let h = mix(self.seed, index, ATTACHMENT_SALT);
        if !h.is_multiple_of(6) || n > (h >> 8) % 2 {
            return None;
        }
        let row = self.generator.row(&self.catalog, index)?;
        let kind_no = usize::try_from(((h >> 16) + n) % KINDS.len() as u64).unwrap_or(0);
        let (stem, ext, mime) = KINDS.get(kind_no).copied()?;
        let key = self.key_of(FIRST_ISSUE_ID + index)?;
        let filename = format!("{stem}-{}.{ext}", key.to_ascii_lowercase());
        let author = self
            .catalog
            .users
            .get(self.generator.pool_user(row.reporter))?
            .account_id
            .clone();
        let lines = 3 + (h >> 24) % 12;
        let mut content = String::new();
        for line in 0..lines {
            let v = mix(self.seed, index, ATTACHMENT_SALT + 1 + line);
            let text = match ext {
                "csv" if line == 0 => "id,metric,value\n".to_owned(),
                "csv" => format!("{line},m{},{}\n", v % 7, v % 1_000),
                "json" if line == 0 => format!("{{\"issue\":\"{key}\""),
                "json" => format!(",\"k{line}\":{}", v % 10_000),
                "log" => format!("[{:06}] step {line}: ok ({} ms)\n", v % 1_000_000, v % 900),
                _ => format!("Note {line} on {key}: check item {}.\n", v % 97),
            };
            content.push_str(&text);
        }
        if ext == "json" {
            content.push_str("}\n");
        }
        let created = (row.created + 60_000 * (1 + i64::try_from(n).unwrap_or(0))).min(row.updated);
        Some((
            Attachment {
                id: FIRST_ID + index * 2 + n,
                issue: FIRST_ISSUE_ID + index,
                filename,
                mime_type: mime.to_owned(),
                size: content.len() as u64,
                author,
                created,
            },
            content.into_bytes(),
        ))
    }

    fn attachment_with_content(&self, id: u64) -> Option<(Attachment, Vec<u8>)> {
        if let Some(stored) = self.links.attachments.get(&id) {
            return self
                .exists(stored.meta.issue)
                .then(|| (stored.meta.clone(), stored.content.clone()));
        }
        let offset = id.checked_sub(FIRST_ID)?;
        let index = offset / 2;
        if index >= self.generated_count()
            || self.links.removed_attachments.contains(&id)
            || !self.exists(FIRST_ISSUE_ID + index)
        {
            return None;
        }
        self.generated_attachment(index, offset % 2)
    }

    /// An attachment's metadata, if it and its issue exist.
    pub fn attachment(&self, id: u64) -> Option<Attachment> {
        self.attachment_with_content(id).map(|(a, _)| a)
    }

    /// An attachment's metadata and content.
    pub fn attachment_content(&self, id: u64) -> Option<(Attachment, Vec<u8>)> {
        self.attachment_with_content(id)
    }

    /// The attachments of issue `id`, oldest first.
    pub fn attachments_of(&self, id: u64) -> Vec<Attachment> {
        let mut out = Vec::new();
        if let Some(index) = self.generated_index(id) {
            for n in 0..2 {
                if let Some((a, _)) = self.generated_attachment(index, n)
                    && !self.links.removed_attachments.contains(&a.id)
                {
                    out.push(a);
                }
            }
        }
        if let Some(ids) = self.links.attachments_by_issue.get(&id) {
            out.extend(
                ids.iter()
                    .filter_map(|a| self.links.attachments.get(a))
                    .map(|s| s.meta.clone()),
            );
        }
        out
    }

    /// Attaches files to issue `id`, recording an `Attachment` history item per file.
    pub fn add_attachments(
        &mut self,
        id: u64,
        files: Vec<NewAttachment>,
        actor: &str,
        now_ms: i64,
    ) -> Result<Vec<Attachment>, DataError> {
        if !self.exists(id) {
            return Err(DataError::IssueNotFound(id.to_string()));
        }
        if self.attachments_of(id).len() + files.len() > MAX_ATTACHMENTS {
            return Err(DataError::LimitReached {
                what: "attachments",
                limit: MAX_ATTACHMENTS,
            });
        }
        let mut added = Vec::new();
        let mut items = Vec::new();
        for file in files {
            let meta = Attachment {
                id: self.links.next_attachment,
                issue: id,
                filename: file.filename,
                mime_type: file.mime_type,
                size: file.content.len() as u64,
                author: actor.to_owned(),
                created: now_ms,
            };
            self.links.next_attachment += 1;
            items.push(ChangeItem {
                field: "Attachment".to_owned(),
                fieldtype: "jira".to_owned(),
                field_id: "attachment".to_owned(),
                from: None,
                from_string: None,
                to: Some(meta.id.to_string()),
                to_string: Some(meta.filename.clone()),
            });
            self.links
                .attachments_by_issue
                .entry(id)
                .or_default()
                .insert(meta.id);
            self.links.attachments.insert(
                meta.id,
                StoredAttachment {
                    meta: meta.clone(),
                    content: file.content,
                },
            );
            added.push(meta);
        }
        if !items.is_empty() {
            self.record(id, actor, now_ms, items, true)?;
        }
        Ok(added)
    }

    /// Deletes an attachment, recording it on its issue.
    pub fn delete_attachment(
        &mut self,
        attachment_id: u64,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        let meta = self
            .attachment(attachment_id)
            .ok_or_else(|| DataError::ItemNotFound(format!("attachment {attachment_id}")))?;
        if self.links.attachments.remove(&attachment_id).is_none() {
            self.links.removed_attachments.insert(attachment_id);
        }
        if let Some(set) = self.links.attachments_by_issue.get_mut(&meta.issue) {
            set.remove(&attachment_id);
        }
        let item = ChangeItem {
            field: "Attachment".to_owned(),
            fieldtype: "jira".to_owned(),
            field_id: "attachment".to_owned(),
            from: Some(attachment_id.to_string()),
            from_string: Some(meta.filename),
            to: None,
            to_string: None,
        };
        self.record(meta.issue, actor, now_ms, vec![item], true)
    }

    // ----- remote links -----

    /// The remote links of issue `id`, by id.
    pub fn remote_links_of(&self, id: u64) -> Vec<RemoteLink> {
        self.links
            .remote_by_issue
            .get(&id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|r| self.links.remote.get(r))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A remote link of issue `id` by link id.
    pub fn remote_link(&self, id: u64, link_id: u64) -> Option<RemoteLink> {
        self.links
            .remote
            .get(&link_id)
            .filter(|r| r.issue == id && self.exists(id))
            .cloned()
    }

    fn remote_item(link: &RemoteLink, removed: bool) -> ChangeItem {
        let title = link
            .object
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let relationship = link.relationship.as_deref().unwrap_or("links to");
        let (value, display) = (
            Some(link.id.to_string()),
            Some(format!("This issue {relationship} \"{title}\"")),
        );
        ChangeItem {
            field: "RemoteIssueLink".to_owned(),
            fieldtype: "jira".to_owned(),
            field_id: "RemoteIssueLink".to_owned(),
            from: if removed { value.clone() } else { None },
            from_string: if removed { display.clone() } else { None },
            to: if removed { None } else { value },
            to_string: if removed { None } else { display },
        }
    }

    /// Creates a remote link, or replaces the one with the same `globalId` on the issue;
    /// `true` when created.
    pub fn upsert_remote_link(
        &mut self,
        id: u64,
        new: NewRemoteLink,
        actor: &str,
        now_ms: i64,
    ) -> Result<(RemoteLink, bool), DataError> {
        if !self.exists(id) {
            return Err(DataError::IssueNotFound(id.to_string()));
        }
        let existing = new.global_id.as_ref().and_then(|g| {
            self.remote_links_of(id)
                .into_iter()
                .find(|r| r.global_id.as_ref() == Some(g))
        });
        if let Some(found) = existing {
            let link = self.replace_remote_link(id, found.id, new)?;
            return Ok((link, false));
        }
        if self.remote_links_of(id).len() >= MAX_REMOTE_LINKS {
            return Err(DataError::LimitReached {
                what: "remote links",
                limit: MAX_REMOTE_LINKS,
            });
        }
        let link = RemoteLink {
            id: self.links.next_remote,
            issue: id,
            global_id: new.global_id,
            application: new.application,
            relationship: new.relationship,
            object: new.object,
        };
        self.links.next_remote += 1;
        self.links
            .remote_by_issue
            .entry(id)
            .or_default()
            .insert(link.id);
        self.links.remote.insert(link.id, link.clone());
        self.record(
            id,
            actor,
            now_ms,
            vec![Self::remote_item(&link, false)],
            true,
        )?;
        Ok((link, true))
    }

    /// Replaces a remote link's fields (absent ones become empty).
    pub fn replace_remote_link(
        &mut self,
        id: u64,
        link_id: u64,
        new: NewRemoteLink,
    ) -> Result<RemoteLink, DataError> {
        let link = self
            .links
            .remote
            .get_mut(&link_id)
            .filter(|r| r.issue == id)
            .ok_or_else(|| DataError::ItemNotFound(format!("remote link {link_id}")))?;
        link.global_id = new.global_id;
        link.application = new.application;
        link.relationship = new.relationship;
        link.object = new.object;
        Ok(link.clone())
    }

    /// Deletes a remote link by id.
    pub fn delete_remote_link(
        &mut self,
        id: u64,
        link_id: u64,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        let link = self
            .remote_link(id, link_id)
            .ok_or_else(|| DataError::ItemNotFound(format!("remote link {link_id}")))?;
        self.links.remote.remove(&link_id);
        if let Some(set) = self.links.remote_by_issue.get_mut(&id) {
            set.remove(&link_id);
        }
        self.record(
            id,
            actor,
            now_ms,
            vec![Self::remote_item(&link, true)],
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataSize;

    fn site() -> SiteData {
        SiteData::generate(
            7,
            "demo",
            DataSize::Small,
            1_767_571_200_000,
            Vec::new(),
            None,
        )
    }

    #[test]
    fn generated_links_are_seen_from_both_ends() {
        let data = site();
        let mut seen = 0;
        for id in data.issue_ids().collect::<Vec<_>>() {
            for end in data.links_of(id) {
                seen += 1;
                let back = data.links_of(end.other);
                assert!(
                    back.iter().any(|b| b.link_id == end.link_id
                        && b.other == id
                        && b.direction != end.direction),
                    "link {} of {id} is missing on {}",
                    end.link_id,
                    end.other
                );
                assert!(data.issue_link(end.link_id).is_some());
            }
        }
        assert!(seen > 0, "the small site has generated links");
    }

    #[test]
    fn links_and_attachments_go_with_their_issue() {
        let mut data = site();
        let a = FIRST_ISSUE_ID + 1;
        let b = FIRST_ISSUE_ID + 40;
        let link = data.link_issues("Blocks", a, b, "u", 1).expect("link");
        assert!(
            data.links_of(b)
                .iter()
                .any(|l| l.link_id == link.id && l.direction == Direction::Inward && l.other == a)
        );
        let added = data
            .add_attachments(
                b,
                vec![NewAttachment {
                    filename: "a.txt".into(),
                    mime_type: "text/plain".into(),
                    content: b"hi".to_vec(),
                }],
                "u",
                2,
            )
            .expect("attach");
        let att = added.first().expect("one").id;
        assert_eq!(
            data.attachment_content(att).map(|(_, c)| c),
            Some(b"hi".to_vec())
        );
        data.delete_issue(b, true, "tester", 3).expect("delete");
        assert!(data.issue_link(link.id).is_none());
        assert!(data.links_of(a).iter().all(|l| l.other != b));
        assert!(data.attachment(att).is_none());
    }

    #[test]
    fn linked_issues_follow_the_description_of_each_side() {
        let mut data = site();
        let (a, b, c) = (
            FIRST_ISSUE_ID + 50,
            FIRST_ISSUE_ID + 60,
            FIRST_ISSUE_ID + 70,
        );
        let before_a = data.linked_issues(a, None);
        data.link_issues("Blocks", a, b, "u", 1).expect("link");
        data.link_issues("Relates", c, a, "u", 1).expect("link");
        let all = data.linked_issues(a, None);
        assert!(all.contains(&b) && all.contains(&c));
        assert_eq!(all.len(), before_a.len() + 2);
        assert!(data.linked_issues(a, Some("blocks")).contains(&b));
        assert!(!data.linked_issues(a, Some("is blocked by")).contains(&b));
        assert!(data.linked_issues(b, Some("is blocked by")).contains(&a));
        assert!(data.linked_issues(b, Some("Blocks")).contains(&a));
        assert!(data.linked_issues(a, Some("relates to")).contains(&c));
    }

    #[test]
    fn generated_attachments_are_stable() {
        let data = site();
        let with: Vec<u64> = data
            .issue_ids()
            .filter(|id| !data.attachments_of(*id).is_empty())
            .collect();
        assert!(!with.is_empty());
        for id in with {
            for a in data.attachments_of(id) {
                let (meta, content) = data.attachment_content(a.id).expect("content");
                assert_eq!(meta, a);
                assert_eq!(content.len() as u64, a.size);
            }
        }
    }
}
