//! Checks a parsed query against a site and turns it into a predicate and a comparator.
//!
//! Compilation does all lookups once (projects, statuses, users, dates in the account's zone)
//! so that [`Compiled::matches`] and [`Compiled::compare`] only read the issue, without
//! allocating, and can run over a million issues.

use std::cmp::Ordering;

use super::ast::{Clause, Direction, Field, FunctionCall, Operand, Operator, Query, Term, Value};
use super::date::{
    DateFunction, FunctionFailure, TimeBasis, minute_of, minute_start, parse_date_text,
};
use super::error::{JqlError, JqlErrors};
use super::text::{TextTerm, cmp_ci, eq_ci, term_matches, text_matches, text_terms};

/// The most `ORDER BY` fields `/search/jql` accepts.
pub const MAX_ORDER_BY_FIELDS: usize = 7;

/// What the query needs to know about the site and the searching account.
pub trait JqlContext {
    /// The id of the project with this key (any case), numeric id or name (any case).
    fn project_id(&self, key_id_or_name: &str) -> Option<u64>;
    /// Whether a status has this name (any case) or id.
    fn status_exists(&self, name_or_id: &str) -> bool;
    /// Whether an issue type has this name (any case) or id.
    fn issue_type_exists(&self, name_or_id: &str) -> bool;
    /// The issue with this key (current or former, any case) or numeric id.
    fn find_issue(&self, key_or_id: &str) -> Option<IssueRef>;
    /// Account ids of the users with this account id, e-mail address or display name; empty when
    /// there is none.
    fn users_matching(&self, account_id_email_or_name: &str) -> Vec<String>;
    /// The searching account, or `None` for an anonymous search.
    fn current_user_account_id(&self) -> Option<&str>;
    /// The current time in epoch milliseconds.
    fn now_ms(&self) -> i64;
    /// The searching account's IANA time zone, such as `Europe/Berlin`.
    fn time_zone(&self) -> &str;
    /// The id of the custom field with this name (any case), for `"Story Points" = 3`.
    fn custom_field_by_name(&self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }
    /// Whether `cf[id]` exists.
    fn custom_field_exists(&self, id: u64) -> bool {
        let _ = id;
        false
    }
    /// How `cf[id]` compares its values.
    fn custom_field_type(&self, id: u64) -> CustomFieldType {
        let _ = id;
        CustomFieldType::Text
    }
    /// The custom fields `text ~` searches besides the system text fields.
    fn text_custom_fields(&self) -> Vec<u64> {
        Vec::new()
    }
    /// The priorities as `(id, name)`, highest first.
    fn priorities(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The resolutions as `(id, name)`, in the site's order.
    fn resolutions(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Ids of the statuses in the status category with this name, key (any case) or id.
    fn statuses_in_category(&self, name_key_or_id: &str) -> Option<Vec<String>> {
        let _ = name_key_or_id;
        None
    }
    /// Ids of the components with this name (any case, any project) or id.
    fn components_matching(&self, name_or_id: &str) -> Vec<String> {
        let _ = name_or_id;
        Vec::new()
    }
    /// Every version of the site, each project's in its order.
    fn versions(&self) -> Vec<JqlVersion> {
        Vec::new()
    }
    /// Account ids of the members of the group with this name (any case) or id; `None` when
    /// there is no such group.
    fn group_member_ids(&self, name_or_id: &str) -> Option<Vec<String>> {
        let _ = name_or_id;
        None
    }
    /// Ids of the sprints with this id or name (any case).
    fn sprints_matching(&self, name_or_id: &str) -> Vec<u64> {
        let _ = name_or_id;
        Vec::new()
    }
    /// Ids of the sprints in a state.
    fn sprints_in_state(&self, state: SprintStateFilter) -> Vec<u64> {
        let _ = state;
        Vec::new()
    }
    /// The issues linked to `issue`, optionally only through links described as `link` from
    /// its side (or of the type named `link`); `None` when no link type is described so.
    fn linked_issues(&self, issue: u64, link: Option<&str>) -> Option<Vec<u64>> {
        let _ = (issue, link);
        None
    }
    /// The link-type tokens [`ListField::LinkType`] yields that a link description (`blocks`,
    /// `is blocked by`) or type name stands for: `"<type id>>"` for the outward side,
    /// `"<type id><"` for the inward side.
    fn link_type_tokens(&self, description: &str) -> Vec<String> {
        let _ = description;
        Vec::new()
    }
}

/// The sprint states the sprint functions select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SprintStateFilter {
    /// `openSprints()`: started and not completed.
    Active,
    /// `closedSprints()`: completed.
    Closed,
    /// `futureSprints()`: not started.
    Future,
}

/// The counts `watchers` and `votes` compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountField {
    /// `watchers`: how many accounts watch the issue.
    Watchers,
    /// `votes`: how many accounts voted for it.
    Votes,
}

impl dyn JqlContext + '_ {
    /// The versions after (`>`, `>=`) or before (`<`, `<=`) the versions `ids` in their
    /// projects' order, as Jira compares versions.
    fn versions_ordered_from(&self, ids: &[String], op: Operator) -> Vec<String> {
        let versions = self.versions();
        let mut out = Vec::new();
        for id in ids {
            let Some(at) = versions.iter().position(|v| v.id == *id) else {
                continue;
            };
            let project = versions[at].project_id;
            for (p, v) in versions.iter().enumerate() {
                let keep = match op {
                    Operator::Gt => p > at,
                    Operator::Gte => p >= at,
                    Operator::Lt => p < at,
                    _ => p <= at,
                };
                if keep && v.project_id == project && !out.contains(&v.id) {
                    out.push(v.id.clone());
                }
            }
        }
        out
    }
}

/// How a custom field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldType {
    /// As text, without regard to case (selects, text, dates, labels).
    Text,
    /// As numbers, also with `<`, `<=`, `>`, `>=`.
    Number,
    /// As accounts: values are users, `currentUser()` works.
    User,
    /// As days (date pickers): date values, periods and date functions.
    Date,
}

/// A project version as [`JqlContext::versions`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqlVersion {
    /// The version id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The project id.
    pub project_id: u64,
    /// Whether it is released.
    pub released: bool,
}

/// The free-text fields `~` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextField {
    /// `summary`.
    Summary,
    /// `description`.
    Description,
    /// `environment`.
    Environment,
    /// `comment`: the bodies of the comments.
    Comment,
}

/// Fields holding a list of ids; an issue matches when any of its ids is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListField {
    /// `component`: component ids.
    Component,
    /// `fixVersion`: version ids.
    FixVersion,
    /// `affectedVersion`: version ids.
    AffectedVersion,
    /// `watcher`: account ids of the watchers.
    Watcher,
    /// `voter`: account ids of the voters.
    Voter,
    /// `sprint`: sprint ids (as decimal text).
    Sprint,
    /// `issueLinkType`: each link as `"<type id>>"` (this issue is the source, the outward
    /// side) or `"<type id><"` (the inward side).
    LinkType,
}

/// Single-valued catalogue fields held as ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdField {
    /// `priority`: priority id.
    Priority,
    /// `resolution`: resolution id.
    Resolution,
}

/// An issue as [`JqlContext::find_issue`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    /// The issue id.
    pub id: u64,
    /// The issue's current key.
    pub key: String,
}

/// The fields of an issue that JQL reads.
pub trait JqlIssue {
    /// The numeric issue id.
    fn id(&self) -> u64;
    /// The key, e.g. `ABC-12`.
    fn key(&self) -> &str;
    /// The project key, e.g. `ABC`.
    fn project_key(&self) -> &str;
    /// The project id.
    fn project_id(&self) -> u64;
    /// The status as `(id, name)`.
    fn status(&self) -> (&str, &str);
    /// The issue type as `(id, name)`.
    fn issue_type(&self) -> (&str, &str);
    /// The assignee's account id.
    fn assignee(&self) -> Option<&str>;
    /// The reporter's account id.
    fn reporter(&self) -> Option<&str>;
    /// The labels.
    fn labels(&self) -> &[String];
    /// Creation time in epoch milliseconds.
    fn created_ms(&self) -> i64;
    /// Last update time in epoch milliseconds.
    fn updated_ms(&self) -> i64;
    /// The summary.
    fn summary(&self) -> &str;
    /// The value of custom field `cf[id]` as text (multi-valued fields: the first value).
    fn custom_field(&self, id: u64) -> Option<&str> {
        let _ = id;
        None
    }
    /// Calls `f` with each value of `cf[id]` as text until it answers `true`; `None` when the
    /// field is empty, else whether `f` answered `true`.
    fn custom_any(&self, id: u64, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        self.custom_field(id).map(f)
    }
    /// The id held in a single-valued catalogue field.
    fn id_field(&self, field: IdField) -> Option<&str> {
        let _ = field;
        None
    }
    /// Calls `f` with each id of a list field until it answers `true`; `None` when the list is
    /// empty, else whether `f` answered `true`.
    fn list_any(&self, field: ListField, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let _ = (field, f);
        None
    }
    /// Calls `f` with each text of a free-text field (comments: each body) until it answers
    /// `true`; whether it did.
    fn text_any(&self, field: TextField, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            TextField::Summary => f(self.summary()),
            _ => false,
        }
    }
    /// The creator's account id.
    fn creator(&self) -> Option<&str> {
        None
    }
    /// When the issue was resolved, in epoch milliseconds.
    fn resolved_ms(&self) -> Option<i64> {
        None
    }
    /// The due date as days since 1970-01-01.
    fn due_day(&self) -> Option<i64> {
        None
    }
    /// The parent issue's id.
    fn parent_id(&self) -> Option<u64> {
        None
    }
    /// How many accounts watch or voted for the issue.
    fn count(&self, field: CountField) -> u64 {
        let mut n = 0;
        let list = match field {
            CountField::Watchers => ListField::Watcher,
            CountField::Votes => ListField::Voter,
        };
        self.list_any(list, &mut |_| {
            n += 1;
            false
        });
        n
    }
}

/// A field issues can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// By project key.
    Project,
    /// By project key, then key number.
    Key,
    /// By status name.
    Status,
    /// By issue type name.
    IssueType,
    /// By assignee account id; unassigned last when ascending.
    Assignee,
    /// By reporter account id; none last when ascending.
    Reporter,
    /// By the list of labels; none last when ascending.
    Labels,
    /// By creation time (to the millisecond).
    Created,
    /// By update time (to the millisecond).
    Updated,
    /// By summary.
    Summary,
    /// By a custom field's text (number fields: by number); empty last when ascending.
    Custom(u64),
    /// By priority, lowest first when ascending; none last.
    Priority,
    /// By resolution in the site's order; unresolved last when ascending.
    Resolution,
    /// By status category (To Do, In Progress, Done).
    StatusCategory,
    /// By creator account id; none last when ascending.
    Creator,
    /// By resolution time; unresolved last when ascending.
    Resolved,
    /// By due date; none last when ascending.
    Due,
    /// By parent issue id; none last when ascending.
    Parent,
    /// By the first id of a list field; empty last when ascending.
    List(ListField),
    /// By last view: every issue is unviewed here, so this keeps the other keys' order.
    LastViewed,
    /// By the number of watchers or votes.
    Count(CountField),
}

/// One resolved sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The field.
    pub field: SortField,
    /// The direction, the field's default applied.
    pub direction: Direction,
}

/// A query checked against a site, ready to match and sort issues.
#[derive(Debug, Clone)]
pub struct Compiled {
    filter: Node,
    order: Vec<SortKey>,
    /// Priority ids, highest first, for sorting.
    priorities: Vec<String>,
    /// Resolution ids in the site's order, for sorting.
    resolutions: Vec<String>,
    /// Status category rank of each status id, for sorting.
    categories: Vec<(String, u8)>,
    /// Custom fields sorted as numbers.
    numbers: Vec<u64>,
}

impl Compiled {
    /// Whether the issue satisfies the restriction (always, for a query without one).
    pub fn matches(&self, issue: &dyn JqlIssue) -> bool {
        self.filter.eval(issue)
    }

    /// The sort keys in effect.
    ///
    /// Without `ORDER BY` this is `created DESC`: newest first. A key without `ASC`/`DESC` takes
    /// the field's default direction, which is descending for `created` and `updated` (newest
    /// first) and ascending for every other field.
    pub fn order(&self) -> &[SortKey] {
        &self.order
    }

    /// Orders two issues by the sort keys.
    ///
    /// Empty values sort after every value when ascending (so first when descending). Issues
    /// equal on every key are ordered by issue id, in the direction of the last key, so the
    /// order is total and paging through it never skips or repeats an issue.
    pub fn compare(&self, a: &dyn JqlIssue, b: &dyn JqlIssue) -> Ordering {
        for key in &self.order {
            let ordering = self.compare_field(key.field, a, b);
            let ordering = match key.direction {
                Direction::Asc => ordering,
                Direction::Desc => ordering.reverse(),
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        let by_id = a.id().cmp(&b.id());
        match self.order.last().map(|k| k.direction) {
            Some(Direction::Desc) => by_id.reverse(),
            _ => by_id,
        }
    }
}

impl Query {
    /// Checks the query against the site and resolves its values.
    ///
    /// # Semantics
    ///
    /// - **`NOT`** is pushed down to the terms by De Morgan's laws, inverting each operator (`=` to
    ///   `!=`, `IN` to `NOT IN`, `>` to `<=`, `IS` to `IS NOT`, `~` to `!~`), as Jira does before
    ///   searching. So `NOT assignee = bob` behaves like `assignee != bob`.
    /// - **Negative operators** (`!=`, `NOT IN`, `!~`, and `IS NOT`) never match an issue whose
    ///   field is empty: `assignee != bob` leaves out unassigned issues, and `labels NOT IN (a)`
    ///   leaves out issues without labels. Add `OR assignee IS EMPTY` to keep them, as in Jira.
    /// - `= EMPTY` is `IS EMPTY` and `!= EMPTY` is `IS NOT EMPTY`; `EMPTY` may appear in lists.
    /// - **Dates** compare at minute precision. Jira indexes dates to the minute, so both the
    ///   issue's timestamp and every date operand (a literal, epoch milliseconds, a period or a
    ///   function) are truncated to their UTC minute before comparing. Thus `updated > "2024-01-01
    ///   10:00"` leaves out an issue updated at 10:00:30 (both are minute 10:00), `updated >=
    ///   1704103230000` (10:00:30 UTC) includes one updated at 10:00:05, and `updated = "2024-01-01
    ///   10:00"` matches exactly the issues updated during that minute, `[10:00:00.000,
    ///   10:01:00.000)`. A date-only value is the minute starting at local midnight, so `created =
    ///   "2024-01-01"` matches issues created between 00:00 and 00:00:59.999, not the whole day;
    ///   use `>=` and `<` for a day.
    /// - **Keys**: `key`, `issuekey`, `issue` and `id` are one field. `=` and `IN` take keys or ids
    ///   and match the issue they name (a moved issue's old key still finds it). `<`, `<=`, `>`,
    ///   `>=` compare the number of the key within the key's project: `key > ABC-10` matches ABC-11
    ///   and later, and no issue of another project.
    /// - **Status and issue type** match by id or by name, without regard to case.
    /// - **Users** are account ids; e-mail addresses and display names are resolved through
    ///   [`JqlContext::users_matching`], and a display name shared by several users matches all of
    ///   them. `currentUser()` is the searching account, or matches nothing for an anonymous
    ///   search.
    /// - **Labels** match without regard to case.
    /// - **Priority and resolution** match by id or name; `<`, `<=`, `>`, `>=` use the site's
    ///   order, earlier being higher (`priority > Medium` is `High` and `Highest`).
    ///   `resolution = Unresolved` is `resolution IS EMPTY`.
    /// - **`statusCategory`** names, keys or ids stand for the statuses of that category.
    /// - **Components and versions** match by id or by name in any project (a name shared by
    ///   several projects matches them all); the version functions take an optional project,
    ///   and `<`, `<=`, `>`, `>=` on versions follow each project's version order.
    /// - **Watchers, voters, sprints, links**: `watcher` and `voter` take users like `assignee`
    ///   and match when any watcher (voter) is listed; `watchers` and `votes` compare counts;
    ///   `sprint` takes sprint ids or names and `openSprints()` (active), `closedSprints()` and
    ///   `futureSprints()`; `issueLinkType` takes a link description (`blocks`, `is blocked
    ///   by`: that side only) or a type name (both sides); `issue in linkedIssues(KEY, link)`
    ///   lists the issues linked to KEY. `membersOf(group)` stands for the group's members in
    ///   every user field.
    /// - **`duedate`** is a day: it holds midnight of that day in the searching account's zone,
    ///   so `duedate = "2026-01-20"` matches issues due that day and `duedate < now()` includes
    ///   issues due today.
    /// - **Text** (`~`): every word (or `*` prefix, or quoted phrase) must occur in the field,
    ///   ignoring case, and no `-word`; for `text`, each word in any of summary, description,
    ///   environment, comments and the text custom fields. `!~` leaves out empty fields too.
    /// - **Custom fields**: numbers compare as numbers, date pickers as days (like `duedate`),
    ///   user pickers take users and
    ///   `currentUser()`, the rest compare as text ignoring case; multi-valued fields match
    ///   when any value does.
    ///
    ///
    /// # Errors
    ///
    /// Every unknown field, unknown value, invalid date, unsupported operator or function and
    /// misuse of lists or `EMPTY` in the query, in the order they appear, followed by the sort
    /// errors ([`JqlError::TooManySortFields`] beyond [`MAX_ORDER_BY_FIELDS`] fields).
    pub fn compile(&self, ctx: &dyn JqlContext) -> Result<Compiled, JqlErrors> {
        let mut compiler = Compiler {
            ctx,
            errors: Vec::new(),
            basis: None,
            zone_reported: false,
        };
        let filter = match &self.where_clause {
            Some(clause) => compiler.clause(clause, false),
            None => Node::All,
        };
        let order = compiler.order(self);
        JqlErrors::check(compiler.errors)?;
        let sorts = |f: fn(&SortField) -> bool| order.iter().any(|k| f(&k.field));
        let ids = |list: Vec<(String, String)>| list.into_iter().map(|(id, _)| id).collect();
        let priorities = if sorts(|f| *f == SortField::Priority) {
            ids(ctx.priorities())
        } else {
            Vec::new()
        };
        let resolutions = if sorts(|f| *f == SortField::Resolution) {
            ids(ctx.resolutions())
        } else {
            Vec::new()
        };
        let mut categories = Vec::new();
        if sorts(|f| *f == SortField::StatusCategory) {
            for (rank, key) in ["new", "indeterminate", "done"].iter().enumerate() {
                for status in ctx.statuses_in_category(key).unwrap_or_default() {
                    categories.push((status, u8::try_from(rank).unwrap_or(0)));
                }
            }
        }
        let numbers = order
            .iter()
            .filter_map(|k| match k.field {
                SortField::Custom(id) if ctx.custom_field_type(id) == CustomFieldType::Number => {
                    Some(id)
                }
                _ => None,
            })
            .collect();
        Ok(Compiled {
            filter,
            order,
            priorities,
            resolutions,
            categories,
            numbers,
        })
    }
}

/// Jira Cloud's system JQL fields (and aliases) this engine does not search: naming one
/// answers [`JqlError::UnsupportedField`] rather than "does not exist".
pub const UNSUPPORTED_JIRA_FIELDS: &[&str] = &[
    "approvals",
    "attachments",
    "category",
    "filter",
    "issueLink",
    "level",
    "originalEstimate",
    "parentProject",
    "remainingEstimate",
    "statusCategoryChangedDate",
    "subtasks",
    "timeSpent",
    "worklogAuthor",
    "worklogComment",
    "worklogDate",
    "workratio",
];

/// The system fields, after aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Project,
    Issue,
    Status,
    IssueType,
    User(UserField),
    Labels,
    Date(DateField),
    Due,
    Text(TextField),
    /// `text`: every text field and the text custom fields.
    AllText,
    Id(IdField),
    StatusCategory,
    List(ListField),
    Parent,
    Count(CountField),
    Custom(u64),
}

impl FieldKind {
    fn builtin(name: &str) -> Option<Self> {
        const TABLE: [(&str, FieldKind); 39] = [
            ("project", FieldKind::Project),
            ("key", FieldKind::Issue),
            ("issuekey", FieldKind::Issue),
            ("issue", FieldKind::Issue),
            ("id", FieldKind::Issue),
            ("status", FieldKind::Status),
            ("issuetype", FieldKind::IssueType),
            ("type", FieldKind::IssueType),
            ("assignee", FieldKind::User(UserField::Assignee)),
            ("reporter", FieldKind::User(UserField::Reporter)),
            ("creator", FieldKind::User(UserField::Creator)),
            ("labels", FieldKind::Labels),
            ("created", FieldKind::Date(DateField::Created)),
            ("createddate", FieldKind::Date(DateField::Created)),
            ("updated", FieldKind::Date(DateField::Updated)),
            ("updateddate", FieldKind::Date(DateField::Updated)),
            ("resolutiondate", FieldKind::Date(DateField::Resolved)),
            ("resolved", FieldKind::Date(DateField::Resolved)),
            ("lastviewed", FieldKind::Date(DateField::LastViewed)),
            ("duedate", FieldKind::Due),
            ("due", FieldKind::Due),
            ("summary", FieldKind::Text(TextField::Summary)),
            ("description", FieldKind::Text(TextField::Description)),
            ("environment", FieldKind::Text(TextField::Environment)),
            ("comment", FieldKind::Text(TextField::Comment)),
            ("text", FieldKind::AllText),
            ("priority", FieldKind::Id(IdField::Priority)),
            ("resolution", FieldKind::Id(IdField::Resolution)),
            ("statuscategory", FieldKind::StatusCategory),
            ("component", FieldKind::List(ListField::Component)),
            ("fixversion", FieldKind::List(ListField::FixVersion)),
            (
                "affectedversion",
                FieldKind::List(ListField::AffectedVersion),
            ),
            ("parent", FieldKind::Parent),
            ("watcher", FieldKind::List(ListField::Watcher)),
            ("voter", FieldKind::List(ListField::Voter)),
            ("sprint", FieldKind::List(ListField::Sprint)),
            ("issuelinktype", FieldKind::List(ListField::LinkType)),
            ("watchers", FieldKind::Count(CountField::Watchers)),
            ("votes", FieldKind::Count(CountField::Votes)),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, k)| k)
    }

    fn supports(self, op: Operator, custom: CustomFieldType) -> bool {
        use Operator as O;
        let set = matches!(op, O::Eq | O::NotEq | O::In | O::NotIn);
        let empty = matches!(op, O::Is | O::IsNot);
        let order = matches!(op, O::Gt | O::Gte | O::Lt | O::Lte);
        let like = matches!(op, O::Like | O::NotLike);
        match self {
            Self::Project
            | Self::IssueType
            | Self::User(_)
            | Self::Labels
            | Self::List(
                ListField::Component | ListField::Watcher | ListField::Voter | ListField::Sprint,
            ) => set || empty,
            Self::List(ListField::LinkType) => set,
            Self::Count(_) => set || order,
            Self::List(_) => set || empty || order,
            Self::Status | Self::StatusCategory | Self::Parent => set,
            Self::Issue => set || order,
            Self::Id(_) => set || empty || order,
            Self::Date(_) | Self::Due => !like,
            Self::Text(TextField::Comment) | Self::AllText => like,
            Self::Text(_) => like || empty,
            Self::Custom(_) => match custom {
                CustomFieldType::Number | CustomFieldType::Date => !like,
                CustomFieldType::User => set || empty,
                CustomFieldType::Text => !order,
            },
        }
    }

    /// `None` for fields Jira cannot sort on.
    fn sort_field(self) -> Option<SortField> {
        Some(match self {
            Self::Project => SortField::Project,
            Self::Issue => SortField::Key,
            Self::Status => SortField::Status,
            Self::IssueType => SortField::IssueType,
            Self::User(UserField::Assignee) => SortField::Assignee,
            Self::User(UserField::Reporter) => SortField::Reporter,
            Self::User(UserField::Creator) => SortField::Creator,
            Self::Labels => SortField::Labels,
            Self::Date(DateField::Created) => SortField::Created,
            Self::Date(DateField::Updated) => SortField::Updated,
            Self::Date(DateField::LastViewed) => SortField::LastViewed,
            Self::Date(DateField::Resolved) => SortField::Resolved,
            Self::Due => SortField::Due,
            Self::Text(TextField::Summary) => SortField::Summary,
            Self::Text(_) | Self::AllText => return None,
            Self::Id(IdField::Priority) => SortField::Priority,
            Self::Id(IdField::Resolution) => SortField::Resolution,
            Self::StatusCategory => SortField::StatusCategory,
            Self::List(ListField::Watcher | ListField::Voter | ListField::LinkType) => {
                return None;
            }
            Self::List(list) => SortField::List(list),
            Self::Count(field) => SortField::Count(field),
            Self::Parent => SortField::Parent,
            Self::Custom(id) => SortField::Custom(id),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserField {
    Assignee,
    Reporter,
    Creator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateField {
    Created,
    Updated,
    Resolved,
    /// Never set: the simulator does not record views.
    LastViewed,
}

/// Date-only fields: a day number each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayField {
    Due,
    /// A date-picker custom field (`YYYY-MM-DD` text).
    Custom(u64),
}

impl DayField {
    fn day(self, issue: &dyn JqlIssue) -> Option<i64> {
        match self {
            Self::Due => issue.due_day(),
            Self::Custom(id) => issue.custom_field(id).and_then(super::date::day_number),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedField {
    Status,
    IssueType,
}

/// The compiled restriction.
#[derive(Debug, Clone)]
enum Node {
    All,
    Nothing,
    And(Vec<Node>),
    Or(Vec<Node>),
    Leaf(Leaf),
}

/// One compiled term. A `negated` leaf only matches issues whose field has a value none of the
/// listed ones equal; otherwise it matches a listed value, or an empty field when `empty` is set.
#[derive(Debug, Clone)]
enum Leaf {
    Project {
        ids: Vec<u64>,
        negated: bool,
    },
    IssueIds {
        ids: Vec<u64>,
        negated: bool,
    },
    /// Issues of `project` whose key number is in `lo..=hi`.
    KeyRange {
        project: String,
        lo: u64,
        hi: u64,
    },
    Named {
        field: NamedField,
        values: Vec<String>,
        negated: bool,
    },
    User {
        field: UserField,
        accounts: Vec<String>,
        empty: bool,
        negated: bool,
    },
    Labels {
        values: Vec<String>,
        empty: bool,
        negated: bool,
    },
    /// The timestamp is in `lo..hi` (`inside`) or outside it.
    Date {
        field: DateField,
        lo: i64,
        hi: i64,
        inside: bool,
    },
    /// Optional dates (`resolved`, `lastViewed`) are empty or not.
    DateSet {
        field: DateField,
        set: bool,
    },
    /// The due day is in `lo..hi` (`inside`) or outside it.
    Due {
        field: DayField,
        lo: i64,
        hi: i64,
        inside: bool,
    },
    DueSet {
        field: DayField,
        set: bool,
    },
    /// Every term occurs in one of the fields (`negated`: not every term does).
    Text {
        fields: Vec<TextField>,
        customs: Vec<u64>,
        terms: Vec<TextTerm>,
        negated: bool,
    },
    TextSet {
        field: TextField,
        set: bool,
    },
    CustomText {
        id: u64,
        terms: Vec<TextTerm>,
        negated: bool,
    },
    CustomValue {
        id: u64,
        values: Vec<String>,
        empty: bool,
        negated: bool,
    },
    /// A number custom field equal to a listed number.
    CustomNumber {
        id: u64,
        values: Vec<f64>,
        empty: bool,
        negated: bool,
    },
    /// A number custom field within `lo..=hi`, with exclusive ends where flagged.
    CustomRange {
        id: u64,
        lo: f64,
        hi: f64,
        lo_open: bool,
        hi_open: bool,
    },
    Id {
        field: IdField,
        ids: Vec<String>,
        empty: bool,
        negated: bool,
    },
    List {
        field: ListField,
        ids: Vec<String>,
        empty: bool,
        negated: bool,
    },
    Parent {
        ids: Vec<u64>,
        negated: bool,
    },
    /// A count in `lo..=hi` (`inside`) or outside it.
    Count {
        field: CountField,
        lo: u64,
        hi: u64,
        inside: bool,
    },
}

/// Membership test shared by the set-like leaves (see [`Leaf`]).
fn member<T>(value: Option<T>, empty: bool, negated: bool, listed: impl Fn(&T) -> bool) -> bool {
    match value {
        None => !negated && empty,
        Some(v) => listed(&v) != negated,
    }
}

impl Node {
    fn eval(&self, issue: &dyn JqlIssue) -> bool {
        match self {
            Self::All => true,
            Self::Nothing => false,
            Self::And(children) => children.iter().all(|c| c.eval(issue)),
            Self::Or(children) => children.iter().any(|c| c.eval(issue)),
            Self::Leaf(leaf) => leaf.eval(issue),
        }
    }
}

impl Leaf {
    fn eval(&self, issue: &dyn JqlIssue) -> bool {
        match self {
            Self::Project { ids, negated } => ids.contains(&issue.project_id()) != *negated,
            Self::IssueIds { ids, negated } => ids.contains(&issue.id()) != *negated,
            Self::KeyRange { project, lo, hi } => split_key(issue.key())
                .is_some_and(|(p, n)| p.eq_ignore_ascii_case(project) && (*lo..=*hi).contains(&n)),
            Self::Named {
                field,
                values,
                negated,
            } => {
                let (id, name) = match field {
                    NamedField::Status => issue.status(),
                    NamedField::IssueType => issue.issue_type(),
                };
                values.iter().any(|v| v == id || eq_ci(v, name)) != *negated
            }
            Self::User {
                field,
                accounts,
                empty,
                negated,
            } => {
                let value = match field {
                    UserField::Assignee => issue.assignee(),
                    UserField::Reporter => issue.reporter(),
                    UserField::Creator => issue.creator(),
                };
                member(value, *empty, *negated, |v| accounts.iter().any(|a| a == v))
            }
            Self::Labels {
                values,
                empty,
                negated,
            } => {
                let labels = issue.labels();
                let value = (!labels.is_empty()).then_some(labels);
                member(value, *empty, *negated, |ls| {
                    ls.iter().any(|l| values.iter().any(|v| eq_ci(l, v)))
                })
            }
            Self::Date {
                field,
                lo,
                hi,
                inside,
            } => {
                let ms = match field {
                    DateField::Created => issue.created_ms(),
                    DateField::Updated => issue.updated_ms(),
                    DateField::Resolved => match issue.resolved_ms() {
                        Some(ms) => ms,
                        None => return false,
                    },
                    DateField::LastViewed => return false,
                };
                (*lo <= ms && ms < *hi) == *inside
            }
            Self::DateSet { field, set } => {
                let has = match field {
                    DateField::Created | DateField::Updated => true,
                    DateField::Resolved => issue.resolved_ms().is_some(),
                    DateField::LastViewed => false,
                };
                has == *set
            }
            Self::Due {
                field,
                lo,
                hi,
                inside,
            } => field
                .day(issue)
                .is_some_and(|d| (*lo <= d && d < *hi) == *inside),
            Self::DueSet { field, set } => field.day(issue).is_some() == *set,
            Self::Text {
                fields,
                customs,
                terms,
                negated,
            } => {
                let found = terms.iter().any(|t| !t.excludes())
                    && terms.iter().all(|term| {
                        let occurs = fields
                            .iter()
                            .any(|f| issue.text_any(*f, &mut |t| term_matches(term, t)))
                            || customs.iter().any(|id| {
                                issue.custom_any(*id, &mut |t| term_matches(term, t)) == Some(true)
                            });
                        occurs != term.excludes()
                    });
                if *negated {
                    // Negative operators leave out issues whose fields are all empty.
                    let has_text = fields
                        .iter()
                        .any(|f| issue.text_any(*f, &mut |t| !t.trim().is_empty()))
                        || customs
                            .iter()
                            .any(|id| issue.custom_any(*id, &mut |_| true) == Some(true));
                    return has_text && !found;
                }
                found
            }
            Self::TextSet { field, set } => {
                issue.text_any(*field, &mut |t| !t.trim().is_empty()) == *set
            }
            Self::CustomText { id, terms, negated } => issue
                .custom_any(*id, &mut |v| text_matches(terms, v))
                .is_some_and(|hit| hit != *negated),
            Self::CustomValue {
                id,
                values,
                empty,
                negated,
            } => member(
                issue.custom_any(*id, &mut |v| values.iter().any(|x| eq_ci(x, v))),
                *empty,
                *negated,
                |hit| *hit,
            ),
            Self::CustomNumber {
                id,
                values,
                empty,
                negated,
            } => member(
                issue.custom_any(*id, &mut |v| {
                    v.trim()
                        .parse::<f64>()
                        .is_ok_and(|n| values.iter().any(|x| (x - n).abs() < f64::EPSILON))
                }),
                *empty,
                *negated,
                |hit| *hit,
            ),
            Self::CustomRange {
                id,
                lo,
                hi,
                lo_open,
                hi_open,
            } => issue
                .custom_any(*id, &mut |v| {
                    v.trim().parse::<f64>().is_ok_and(|n| {
                        (if *lo_open { n > *lo } else { n >= *lo })
                            && (if *hi_open { n < *hi } else { n <= *hi })
                    })
                })
                .unwrap_or(false),
            Self::Id {
                field,
                ids,
                empty,
                negated,
            } => member(issue.id_field(*field), *empty, *negated, |v| {
                ids.iter().any(|x| x == v)
            }),
            Self::List {
                field,
                ids,
                empty,
                negated,
            } => member(
                issue.list_any(*field, &mut |v| ids.iter().any(|x| x == v)),
                *empty,
                *negated,
                |hit| *hit,
            ),
            Self::Parent { ids, negated } => issue
                .parent_id()
                .is_some_and(|p| ids.contains(&p) != *negated),
            Self::Count {
                field,
                lo,
                hi,
                inside,
            } => (*lo..=*hi).contains(&issue.count(*field)) == *inside,
        }
    }
}

/// Splits `ABC-12` into `("ABC", 12)`.
fn split_key(key: &str) -> Option<(&str, u64)> {
    let (project, number) = key.rsplit_once('-')?;
    let mut chars = project.chars();
    let valid_project = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_project || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((project, number.parse().ok()?))
}

/// By project key, then key number.
fn compare_keys(a: &dyn JqlIssue, b: &dyn JqlIssue) -> Ordering {
    let (ka, kb) = (split_key(a.key()), split_key(b.key()));
    compare_option(ka, kb, |(pa, na), (pb, nb)| {
        cmp_ci(pa, pb).then(na.cmp(&nb))
    })
    .then_with(|| a.key().cmp(b.key()))
}

fn compare_option<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

impl Compiled {
    /// The common keys (dates, key) stay in this small function, which the sort inlines; the
    /// rest are in
    /// [`Compiled::compare_other`].
    #[inline]
    fn compare_field(&self, field: SortField, a: &dyn JqlIssue, b: &dyn JqlIssue) -> Ordering {
        match field {
            SortField::Created => a.created_ms().cmp(&b.created_ms()),
            SortField::Updated => a.updated_ms().cmp(&b.updated_ms()),
            SortField::Key => compare_keys(a, b),
            _ => self.compare_other(field, a, b),
        }
    }

    #[inline(never)]
    fn compare_other(&self, field: SortField, a: &dyn JqlIssue, b: &dyn JqlIssue) -> Ordering {
        match field {
            SortField::Project => cmp_ci(a.project_key(), b.project_key()),
            SortField::Key => compare_keys(a, b),
            SortField::Status => cmp_ci(a.status().1, b.status().1),
            SortField::IssueType => cmp_ci(a.issue_type().1, b.issue_type().1),
            SortField::Assignee => compare_option(a.assignee(), b.assignee(), cmp_ci),
            SortField::Reporter => compare_option(a.reporter(), b.reporter(), cmp_ci),
            SortField::Labels => {
                let (la, lb) = (a.labels(), b.labels());
                let (oa, ob) = (
                    (!la.is_empty()).then_some(la),
                    (!lb.is_empty()).then_some(lb),
                );
                compare_option(oa, ob, |la: &[String], lb: &[String]| {
                    la.iter()
                        .zip(lb)
                        .map(|(x, y)| cmp_ci(x, y))
                        .find(|o| *o != Ordering::Equal)
                        .unwrap_or_else(|| la.len().cmp(&lb.len()))
                })
            }
            SortField::Created => a.created_ms().cmp(&b.created_ms()),
            SortField::Updated => a.updated_ms().cmp(&b.updated_ms()),
            SortField::Summary => cmp_ci(a.summary(), b.summary()),
            SortField::Custom(id) if self.numbers.contains(&id) => {
                let number = |i: &dyn JqlIssue| {
                    i.custom_field(id)
                        .and_then(|v| v.trim().parse::<f64>().ok())
                };
                compare_option(number(a), number(b), |x: f64, y: f64| x.total_cmp(&y))
            }
            SortField::Custom(id) => compare_option(a.custom_field(id), b.custom_field(id), cmp_ci),
            SortField::Priority => {
                // Ascending is lowest first: a later position in the list is a lower priority.
                let rank = |i: &dyn JqlIssue| rank_in(&self.priorities, i, IdField::Priority);
                compare_option(rank(a), rank(b), |x, y| y.cmp(&x))
            }
            SortField::Resolution => {
                let rank = |i: &dyn JqlIssue| rank_in(&self.resolutions, i, IdField::Resolution);
                compare_option(rank(a), rank(b), |x, y| x.cmp(&y))
            }
            SortField::StatusCategory => {
                let rank = |i: &dyn JqlIssue| {
                    let status = i.status().0;
                    self.categories
                        .iter()
                        .find(|(s, _)| s == status)
                        .map_or(u8::MAX, |(_, r)| *r)
                };
                rank(a).cmp(&rank(b))
            }
            SortField::Creator => compare_option(a.creator(), b.creator(), cmp_ci),
            SortField::Resolved => {
                compare_option(a.resolved_ms(), b.resolved_ms(), |x, y| x.cmp(&y))
            }
            SortField::Due => compare_option(a.due_day(), b.due_day(), |x, y| x.cmp(&y)),
            SortField::Parent => compare_option(a.parent_id(), b.parent_id(), |x, y| x.cmp(&y)),
            SortField::List(list) => {
                // Sorting on a list field is rare; the first id is copied out of the callback.
                let first = |i: &dyn JqlIssue| {
                    let mut first = None;
                    i.list_any(list, &mut |v| {
                        first = Some(v.to_owned());
                        true
                    });
                    first
                };
                compare_option(first(a), first(b), |x, y| cmp_ci(&x, &y))
            }
            SortField::LastViewed => Ordering::Equal,
            SortField::Count(field) => a.count(field).cmp(&b.count(field)),
        }
    }
}

/// One element of an operand after the shape checks.
enum Item<'q> {
    Empty,
    Value(&'q Value),
    Function(&'q FunctionCall),
}

/// A user-level function the compiler knows.
enum Function {
    CurrentUser,
    Date(DateFunction),
    Versions(VersionFunction),
    MembersOf,
    Sprints(SprintStateFilter),
    LinkedIssues,
}

/// The version functions of `fixVersion` and `affectedVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionFunction {
    Released,
    Unreleased,
    EarliestUnreleased,
}

struct Compiler<'c> {
    ctx: &'c dyn JqlContext,
    errors: Vec<JqlError>,
    basis: Option<TimeBasis>,
    zone_reported: bool,
}

impl Compiler<'_> {
    fn clause(&mut self, clause: &Clause, negate: bool) -> Node {
        match clause {
            Clause::And(children) | Clause::Or(children) => {
                let nodes = children.iter().map(|c| self.clause(c, negate)).collect();
                // De Morgan: a negated AND is an OR of negations, and the other way round.
                if matches!(clause, Clause::And(_)) != negate {
                    Node::And(nodes)
                } else {
                    Node::Or(nodes)
                }
            }
            Clause::Not(inner) => self.clause(inner, !negate),
            Clause::Term(term) => self.term(term, negate).unwrap_or(Node::Nothing),
        }
    }

    fn field_kind(&mut self, field: &Field) -> Option<FieldKind> {
        let kind = match field {
            Field::Named(name) => FieldKind::builtin(name)
                .or_else(|| self.ctx.custom_field_by_name(name).map(FieldKind::Custom)),
            Field::Custom(id) => self
                .ctx
                .custom_field_exists(*id)
                .then_some(FieldKind::Custom(*id)),
        };
        if kind.is_none() {
            let field = field.display_name();
            let known = UNSUPPORTED_JIRA_FIELDS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&field));
            self.errors.push(if known {
                JqlError::UnsupportedField { field }
            } else {
                JqlError::UnknownField { field }
            });
        }
        kind
    }

    /// Compiles one term; `None` after recording an error.
    fn term(&mut self, term: &Term, negate: bool) -> Option<Node> {
        let kind = self.field_kind(&term.field)?;
        let name = term.field.display_name();
        let written = term.operator;
        let op_error = |make: fn(String, String) -> JqlError| {
            make(written.message_name().to_owned(), name.clone())
        };
        let custom_type = match kind {
            FieldKind::Custom(id) => self.ctx.custom_field_type(id),
            _ => CustomFieldType::Text,
        };
        if !kind.supports(written, custom_type) {
            self.errors
                .push(op_error(|operator, field| JqlError::UnsupportedOperator {
                    operator,
                    field,
                }));
            return None;
        }
        let items: Vec<Item<'_>> = match (&term.operand, written) {
            (Operand::List(list), Operator::In | Operator::NotIn) => {
                let Some(items) = list.iter().map(item).collect::<Option<Vec<_>>>() else {
                    // Only a hand-built tree can nest lists; JQL text cannot.
                    self.errors
                        .push(op_error(|operator, field| JqlError::ListNotSupported {
                            operator,
                            field,
                        }));
                    return None;
                };
                items
            }
            (Operand::Function(f), Operator::In | Operator::NotIn) => vec![Item::Function(f)],
            (_, Operator::In | Operator::NotIn) => {
                self.errors
                    .push(op_error(|operator, field| JqlError::ListRequired {
                        operator,
                        field,
                    }));
                return None;
            }
            (Operand::List(_), _) => {
                self.errors
                    .push(op_error(|operator, field| JqlError::ListNotSupported {
                        operator,
                        field,
                    }));
                return None;
            }
            (Operand::Empty, _) => {
                if !matches!(
                    written,
                    Operator::Is | Operator::IsNot | Operator::Eq | Operator::NotEq
                ) {
                    self.errors
                        .push(op_error(|operator, field| JqlError::EmptyNotSupported {
                            operator,
                            field,
                        }));
                    return None;
                }
                vec![Item::Empty]
            }
            (_, Operator::Is | Operator::IsNot) => {
                self.errors
                    .push(op_error(|operator, field| JqlError::EmptyRequired {
                        operator,
                        field,
                    }));
                return None;
            }
            (operand, _) => item(operand).into_iter().collect(),
        };
        let op = if negate { written.negated() } else { written };
        let negated = matches!(
            op,
            Operator::NotEq | Operator::NotIn | Operator::IsNot | Operator::NotLike
        );
        let empty = items.iter().any(|i| matches!(i, Item::Empty));
        match kind {
            FieldKind::Project => {
                let ids = self.resolve(&name, &items, |c, v| c.ctx.project_id(v).map(Some))?;
                Some(Node::Leaf(Leaf::Project {
                    ids: ids.into_iter().flatten().collect(),
                    negated,
                }))
            }
            FieldKind::Status | FieldKind::IssueType => {
                let field = if kind == FieldKind::Status {
                    NamedField::Status
                } else {
                    NamedField::IssueType
                };
                let values = self.resolve(&name, &items, |c, v| {
                    let exists = match field {
                        NamedField::Status => c.ctx.status_exists(v),
                        NamedField::IssueType => c.ctx.issue_type_exists(v),
                    };
                    exists.then(|| Some(v.to_owned()))
                })?;
                Some(Node::Leaf(Leaf::Named {
                    field,
                    values: values.into_iter().flatten().collect(),
                    negated,
                }))
            }
            FieldKind::StatusCategory => {
                let ids = self.resolve(&name, &items, |c, v| {
                    c.ctx.statuses_in_category(v).map(Some)
                })?;
                Some(Node::Leaf(Leaf::Named {
                    field: NamedField::Status,
                    values: ids.into_iter().flatten().flatten().collect(),
                    negated,
                }))
            }
            FieldKind::User(field) => {
                let (accounts, empty) = self.users(&name, &items)?;
                Some(Node::Leaf(Leaf::User {
                    field,
                    accounts,
                    empty,
                    negated,
                }))
            }
            FieldKind::Labels => {
                let values = self.plain_values(&name, &items)?;
                Some(Node::Leaf(Leaf::Labels {
                    empty,
                    values,
                    negated,
                }))
            }
            FieldKind::Issue => self.issue(&name, &items, op),
            FieldKind::Parent => {
                let mut ids = Vec::new();
                let mut ok = true;
                for item in &items {
                    match item {
                        Item::Empty => {}
                        Item::Value(value) => match self.issue_ref(&name, &value.as_text()) {
                            Some(Some(found)) => ids.push(found.id),
                            Some(None) => {
                                ok = false;
                                self.errors.push(JqlError::UnknownIssue {
                                    field: name.clone(),
                                    value: value.as_text(),
                                });
                            }
                            None => ok = false,
                        },
                        Item::Function(call) => {
                            ok = false;
                            self.function_not_for(&name, call);
                        }
                    }
                }
                ok.then_some(Node::Leaf(Leaf::Parent { ids, negated }))
            }
            FieldKind::Date(field) => self.date(&name, &items, op, field),
            FieldKind::Due => self.due(&name, &items, op, DayField::Due),
            FieldKind::Text(field) => match op {
                Operator::Is | Operator::IsNot => Some(Node::Leaf(Leaf::TextSet {
                    field,
                    set: op == Operator::IsNot,
                })),
                _ => {
                    let terms = self.text(&name, &items)?;
                    Some(Node::Leaf(Leaf::Text {
                        fields: vec![field],
                        customs: Vec::new(),
                        terms,
                        negated,
                    }))
                }
            },
            FieldKind::AllText => {
                let terms = self.text(&name, &items)?;
                Some(Node::Leaf(Leaf::Text {
                    fields: vec![
                        TextField::Summary,
                        TextField::Description,
                        TextField::Environment,
                        TextField::Comment,
                    ],
                    customs: self.ctx.text_custom_fields(),
                    terms,
                    negated,
                }))
            }
            FieldKind::Id(field) => self.id_field(&name, &items, op, field),
            FieldKind::List(field @ (ListField::Watcher | ListField::Voter)) => {
                let (ids, empty) = self.users(&name, &items)?;
                Some(Node::Leaf(Leaf::List {
                    field,
                    ids,
                    empty,
                    negated,
                }))
            }
            FieldKind::List(field @ (ListField::Sprint | ListField::LinkType)) => {
                let ids = self.sprint_or_link_values(&name, &items, field)?;
                Some(Node::Leaf(Leaf::List {
                    field,
                    ids,
                    empty,
                    negated,
                }))
            }
            FieldKind::Count(field) => self.count(&name, &items, op, field),
            FieldKind::List(field) => {
                let mut ids = self.list_values(&name, &items, field)?;
                if matches!(
                    op,
                    Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte
                ) {
                    ids = self.ctx.versions_ordered_from(&ids, op);
                }
                Some(Node::Leaf(Leaf::List {
                    field,
                    ids,
                    empty,
                    negated,
                }))
            }
            FieldKind::Custom(id) => {
                if matches!(op, Operator::Like | Operator::NotLike) {
                    let terms = self.text(&name, &items)?;
                    return Some(Node::Leaf(Leaf::CustomText { id, terms, negated }));
                }
                match custom_type {
                    CustomFieldType::Number => self.number(&name, &items, op, id),
                    CustomFieldType::Date => self.due(&name, &items, op, DayField::Custom(id)),
                    CustomFieldType::User => {
                        let (values, empty) = self.users(&name, &items)?;
                        Some(Node::Leaf(Leaf::CustomValue {
                            id,
                            empty,
                            values,
                            negated,
                        }))
                    }
                    CustomFieldType::Text => {
                        let values = self.plain_values(&name, &items)?;
                        Some(Node::Leaf(Leaf::CustomValue {
                            id,
                            empty,
                            values,
                            negated,
                        }))
                    }
                }
            }
        }
    }

    /// Looks up each value; `EMPTY` items give `None`, unknown values record an error.
    fn resolve<T>(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        lookup: impl Fn(&Self, &str) -> Option<Option<T>>,
    ) -> Option<Vec<Option<T>>> {
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match item {
                Item::Empty => out.push(None),
                Item::Value(value) => {
                    let text = value.as_text();
                    match lookup(self, &text) {
                        Some(found) => out.push(found),
                        None => {
                            ok = false;
                            self.errors.push(JqlError::UnknownValue {
                                field: field.to_owned(),
                                value: text,
                            });
                        }
                    }
                }
                Item::Function(f) => {
                    ok = false;
                    self.function_not_for(field, f);
                }
            }
        }
        ok.then_some(out)
    }

    /// Records the error for a function used on a field it cannot feed.
    fn function_not_for(&mut self, field: &str, call: &FunctionCall) {
        if self.function(call).is_some() {
            self.errors.push(JqlError::FunctionNotSupported {
                function: call.name.clone(),
                field: field.to_owned(),
            });
        }
    }

    /// Identifies a function and checks its argument count, recording errors.
    fn function(&mut self, call: &FunctionCall) -> Option<Function> {
        let versions = [
            ("releasedVersions", VersionFunction::Released),
            ("unreleasedVersions", VersionFunction::Unreleased),
            (
                "earliestUnreleasedVersion",
                VersionFunction::EarliestUnreleased,
            ),
        ];
        let sprints = [
            ("openSprints", SprintStateFilter::Active),
            ("closedSprints", SprintStateFilter::Closed),
            ("futureSprints", SprintStateFilter::Future),
        ];
        let named = |n: &str| call.name.eq_ignore_ascii_case(n);
        let mut min = 0;
        let (function, max) = if named("currentUser") {
            (Function::CurrentUser, 0)
        } else if named("membersOf") {
            min = 1;
            (Function::MembersOf, 1)
        } else if named("linkedIssues") {
            min = 1;
            (Function::LinkedIssues, 2)
        } else if let Some((_, state)) = sprints.iter().find(|(n, _)| named(n)) {
            (Function::Sprints(*state), 0)
        } else if let Some((_, v)) = versions
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&call.name))
        {
            (Function::Versions(*v), 1)
        } else if let Some(date) = DateFunction::from_name(&call.name) {
            (Function::Date(date), date.max_args())
        } else {
            self.errors.push(JqlError::UnknownFunction {
                function: call.name.clone(),
            });
            return None;
        };
        if call.args.len() > max || call.args.len() < min {
            self.errors.push(JqlError::FunctionArity {
                function: call.name.clone(),
                expected: if max == min {
                    format!("'{max}'")
                } else {
                    format!("between '{min}' and '{max}'")
                },
                received: call.args.len(),
            });
            return None;
        }
        Some(function)
    }

    /// Values taken as they are (labels, custom fields); functions are refused.
    fn plain_values(&mut self, field: &str, items: &[Item<'_>]) -> Option<Vec<String>> {
        let values = self.resolve(field, items, |_, v| Some(Some(v.to_owned())))?;
        Some(values.into_iter().flatten().collect())
    }

    fn text(&mut self, field: &str, items: &[Item<'_>]) -> Option<Vec<TextTerm>> {
        let values = self.plain_values(field, items)?;
        let terms: Vec<TextTerm> = values.iter().flat_map(|v| text_terms(v)).collect();
        if terms.is_empty() {
            self.errors.push(JqlError::EmptyTextSearch {
                field: field.to_owned(),
            });
            return None;
        }
        Some(terms)
    }

    /// Account ids of user values and `currentUser()`, and whether `EMPTY` was listed.
    fn users(&mut self, field: &str, items: &[Item<'_>]) -> Option<(Vec<String>, bool)> {
        let mut accounts = Vec::new();
        let mut empty = false;
        let mut ok = true;
        for item in items {
            match item {
                Item::Empty => empty = true,
                Item::Value(value) => {
                    let text = value.as_text();
                    let found = self.ctx.users_matching(&text);
                    if found.is_empty() {
                        ok = false;
                        self.errors.push(JqlError::UnknownValue {
                            field: field.to_owned(),
                            value: text,
                        });
                    }
                    accounts.extend(found);
                }
                Item::Function(call) => match self.function(call) {
                    Some(Function::CurrentUser) => {
                        accounts.extend(self.ctx.current_user_account_id().map(str::to_owned));
                    }
                    Some(Function::MembersOf) => {
                        let group = call.args.first().map_or("", String::as_str);
                        match self.ctx.group_member_ids(group) {
                            Some(members) => accounts.extend(members),
                            None => {
                                ok = false;
                                self.errors.push(JqlError::UnknownGroup {
                                    function: call.name.clone(),
                                    group: group.to_owned(),
                                });
                            }
                        }
                    }
                    Some(_) => {
                        ok = false;
                        self.errors.push(JqlError::FunctionNotSupported {
                            function: call.name.clone(),
                            field: field.to_owned(),
                        });
                    }
                    None => ok = false,
                },
            }
        }
        ok.then_some((accounts, empty))
    }

    /// `priority` and `resolution`: ids by name or id; `<`, `>` by the site's order, where
    /// earlier is higher (Highest > High); `resolution = Unresolved` is `resolution IS EMPTY`.
    fn id_field(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        op: Operator,
        which: IdField,
    ) -> Option<Node> {
        let catalogue = match which {
            IdField::Priority => self.ctx.priorities(),
            IdField::Resolution => self.ctx.resolutions(),
        };
        let values = self.resolve(field, items, |_, v| {
            if which == IdField::Resolution && v.eq_ignore_ascii_case("unresolved") {
                return Some(None);
            }
            catalogue
                .iter()
                .position(|(id, name)| id == v || eq_ci(name, v))
                .map(Some)
        })?;
        let empty = values.iter().any(Option::is_none);
        let positions: Vec<usize> = values.into_iter().flatten().collect();
        let pick = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
            catalogue
                .iter()
                .enumerate()
                .filter(|(p, _)| keep(*p))
                .map(|(_, (id, _))| id.clone())
                .collect()
        };
        let leaf = |ids: Vec<String>, empty: bool, negated: bool| {
            Node::Leaf(Leaf::Id {
                field: which,
                ids,
                empty,
                negated,
            })
        };
        Some(match (op, positions.as_slice()) {
            (Operator::Gt, [p]) => leaf(pick(&|x| x < *p), false, false),
            (Operator::Gte, [p]) => leaf(pick(&|x| x <= *p), false, false),
            (Operator::Lt, [p]) => leaf(pick(&|x| x > *p), false, false),
            (Operator::Lte, [p]) => leaf(pick(&|x| x >= *p), false, false),
            // `resolution != Unresolved` is every resolved issue.
            (Operator::NotEq | Operator::NotIn, []) if empty => leaf(Vec::new(), true, true),
            (Operator::NotEq | Operator::NotIn, _) if empty => Node::And(vec![
                leaf(pick(&|x| positions.contains(&x)), false, true),
                leaf(Vec::new(), true, true),
            ]),
            (Operator::NotEq | Operator::NotIn | Operator::IsNot, _) => {
                leaf(pick(&|x| positions.contains(&x)), false, true)
            }
            _ => leaf(pick(&|x| positions.contains(&x)), empty, false),
        })
    }

    /// Ids of components or versions named by value or id, or yielded by a version function.
    fn list_values(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        which: ListField,
    ) -> Option<Vec<String>> {
        let versions = match which {
            ListField::FixVersion | ListField::AffectedVersion => self.ctx.versions(),
            _ => Vec::new(),
        };
        let mut ids = Vec::new();
        let mut ok = true;
        for item in items {
            match item {
                Item::Empty => {}
                Item::Value(value) => {
                    let text = value.as_text();
                    let found: Vec<String> = match which {
                        ListField::Component => self.ctx.components_matching(&text),
                        _ => versions
                            .iter()
                            .filter(|v| v.id == text || eq_ci(&v.name, &text))
                            .map(|v| v.id.clone())
                            .collect(),
                    };
                    if found.is_empty() {
                        ok = false;
                        self.errors.push(JqlError::UnknownValue {
                            field: field.to_owned(),
                            value: text,
                        });
                    }
                    ids.extend(found);
                }
                Item::Function(call) => match self.function(call) {
                    Some(Function::Versions(kind)) if which != ListField::Component => {
                        let project = match call.args.first() {
                            None => None,
                            Some(arg) => match self.ctx.project_id(arg) {
                                Some(id) => Some(id),
                                None => {
                                    ok = false;
                                    self.errors.push(JqlError::UnknownValue {
                                        field: field.to_owned(),
                                        value: arg.clone(),
                                    });
                                    continue;
                                }
                            },
                        };
                        let in_project =
                            |v: &&JqlVersion| project.is_none_or(|p| v.project_id == p);
                        match kind {
                            VersionFunction::Released | VersionFunction::Unreleased => {
                                let released = kind == VersionFunction::Released;
                                ids.extend(
                                    versions
                                        .iter()
                                        .filter(in_project)
                                        .filter(|v| v.released == released)
                                        .map(|v| v.id.clone()),
                                );
                            }
                            VersionFunction::EarliestUnreleased => {
                                let mut seen = Vec::new();
                                for v in versions.iter().filter(in_project) {
                                    if !v.released && !seen.contains(&v.project_id) {
                                        seen.push(v.project_id);
                                        ids.push(v.id.clone());
                                    }
                                }
                            }
                        }
                    }
                    Some(_) => {
                        ok = false;
                        self.errors.push(JqlError::FunctionNotSupported {
                            function: call.name.clone(),
                            field: field.to_owned(),
                        });
                    }
                    None => ok = false,
                },
            }
        }
        ok.then_some(ids)
    }

    /// The issues `linkedIssues(issue[, link])` yields; `None` after recording an error.
    fn linked(&mut self, call: &FunctionCall) -> Option<Vec<u64>> {
        let key = call.args.first().map_or("", String::as_str);
        let Some(found) = self.ctx.find_issue(key) else {
            self.errors.push(JqlError::FunctionIssueNotFound {
                function: call.name.clone(),
                issue: key.to_owned(),
            });
            return None;
        };
        let link = call.args.get(1).map(String::as_str);
        let linked = self.ctx.linked_issues(found.id, link);
        if linked.is_none() {
            self.errors.push(JqlError::FunctionLinkTypeNotFound {
                function: call.name.clone(),
                link: link.unwrap_or_default().to_owned(),
            });
        }
        linked
    }

    /// Sprint ids (by id or name, or from a sprint function) or link-type tokens.
    fn sprint_or_link_values(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        which: ListField,
    ) -> Option<Vec<String>> {
        let mut ids = Vec::new();
        let mut ok = true;
        for item in items {
            match item {
                Item::Empty => {}
                Item::Value(value) => {
                    let text = value.as_text();
                    let found: Vec<String> = if which == ListField::Sprint {
                        self.ctx
                            .sprints_matching(&text)
                            .iter()
                            .map(u64::to_string)
                            .collect()
                    } else {
                        self.ctx.link_type_tokens(&text)
                    };
                    if found.is_empty() {
                        ok = false;
                        self.errors.push(JqlError::UnknownValue {
                            field: field.to_owned(),
                            value: text,
                        });
                    }
                    ids.extend(found);
                }
                Item::Function(call) => match self.function(call) {
                    Some(Function::Sprints(state)) if which == ListField::Sprint => {
                        ids.extend(self.ctx.sprints_in_state(state).iter().map(u64::to_string));
                    }
                    Some(_) => {
                        ok = false;
                        self.errors.push(JqlError::FunctionNotSupported {
                            function: call.name.clone(),
                            field: field.to_owned(),
                        });
                    }
                    None => ok = false,
                },
            }
        }
        ok.then_some(ids)
    }

    /// `watchers` and `votes`: whole numbers, compared as numbers.
    fn count(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        op: Operator,
        which: CountField,
    ) -> Option<Node> {
        let values = self.resolve(field, items, |_, v| v.trim().parse::<u64>().ok().map(Some))?;
        let values: Vec<u64> = values.into_iter().flatten().collect();
        let leaf = |lo: u64, hi: u64, inside: bool| {
            Node::Leaf(Leaf::Count {
                field: which,
                lo,
                hi,
                inside,
            })
        };
        Some(match (op, values.as_slice()) {
            (Operator::Gt, [n]) => match n.checked_add(1) {
                Some(lo) => leaf(lo, u64::MAX, true),
                None => Node::Nothing,
            },
            (Operator::Gte, [n]) => leaf(*n, u64::MAX, true),
            (Operator::Lt, [n]) => match n.checked_sub(1) {
                Some(hi) => leaf(0, hi, true),
                None => Node::Nothing,
            },
            (Operator::Lte, [n]) => leaf(0, *n, true),
            (Operator::NotEq | Operator::NotIn, _) => {
                Node::And(values.iter().map(|n| leaf(*n, *n, false)).collect())
            }
            _ => Node::Or(values.iter().map(|n| leaf(*n, *n, true)).collect()),
        })
    }

    /// A number custom field: `=`/`IN` compare numbers, `<`…`>=` ranges.
    fn number(&mut self, field: &str, items: &[Item<'_>], op: Operator, id: u64) -> Option<Node> {
        let values = self.resolve(field, items, |_, v| v.trim().parse::<f64>().ok().map(Some))?;
        let empty = values.iter().any(Option::is_none);
        let numbers: Vec<f64> = values.into_iter().flatten().collect();
        let range = |lo: f64, hi: f64, lo_open: bool, hi_open: bool| {
            Node::Leaf(Leaf::CustomRange {
                id,
                lo,
                hi,
                lo_open,
                hi_open,
            })
        };
        Some(match (op, numbers.as_slice()) {
            (Operator::Gt, [n]) => range(*n, f64::INFINITY, true, false),
            (Operator::Gte, [n]) => range(*n, f64::INFINITY, false, false),
            (Operator::Lt, [n]) => range(f64::NEG_INFINITY, *n, false, true),
            (Operator::Lte, [n]) => range(f64::NEG_INFINITY, *n, false, false),
            _ => Node::Leaf(Leaf::CustomNumber {
                id,
                values: numbers,
                empty,
                negated: matches!(op, Operator::NotEq | Operator::NotIn | Operator::IsNot),
            }),
        })
    }

    fn issue(&mut self, field: &str, items: &[Item<'_>], op: Operator) -> Option<Node> {
        if let [Item::Value(value)] = items
            && matches!(
                op,
                Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte
            )
        {
            let text = value.as_text();
            let key = match self.issue_ref(field, &text)? {
                Some(found) => found.key,
                // A key past the end of an existing project is a valid bound.
                None if split_key(&text).is_some_and(|(p, _)| self.ctx.project_id(p).is_some()) => {
                    text.clone()
                }
                None => {
                    self.errors.push(JqlError::UnknownIssue {
                        field: field.to_owned(),
                        value: text,
                    });
                    return None;
                }
            };
            let (project, n) = split_key(&key)?;
            let (lo, hi) = match op {
                Operator::Gt => (n.checked_add(1)?, u64::MAX),
                Operator::Gte => (n, u64::MAX),
                Operator::Lt => match n.checked_sub(1) {
                    Some(hi) => (0, hi),
                    None => return Some(Node::Nothing),
                },
                _ => (0, n),
            };
            return Some(Node::Leaf(Leaf::KeyRange {
                project: project.to_owned(),
                lo,
                hi,
            }));
        }
        let mut ids = Vec::new();
        let mut ok = true;
        for item in items {
            match item {
                Item::Empty => {}
                Item::Value(value) => match self.issue_ref(field, &value.as_text()) {
                    Some(Some(found)) => ids.push(found.id),
                    Some(None) => {
                        ok = false;
                        self.errors.push(JqlError::UnknownIssue {
                            field: field.to_owned(),
                            value: value.as_text(),
                        });
                    }
                    None => ok = false,
                },
                Item::Function(call) => match self.function(call) {
                    Some(Function::LinkedIssues) => match self.linked(call) {
                        Some(found) => ids.extend(found),
                        None => ok = false,
                    },
                    Some(_) => {
                        ok = false;
                        self.errors.push(JqlError::FunctionNotSupported {
                            function: call.name.clone(),
                            field: field.to_owned(),
                        });
                    }
                    None => ok = false,
                },
            }
        }
        let negated = matches!(op, Operator::NotEq | Operator::NotIn);
        ok.then_some(Node::Leaf(Leaf::IssueIds { ids, negated }))
    }

    /// Looks up a key or id: `None` (error recorded) when it is neither, `Some(None)` when it is
    /// well-formed but names no issue.
    fn issue_ref(&mut self, field: &str, text: &str) -> Option<Option<IssueRef>> {
        let is_id = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        if !is_id && split_key(text).is_none() {
            self.errors.push(JqlError::InvalidIssueKey {
                field: field.to_owned(),
                value: text.to_owned(),
            });
            return None;
        }
        Some(self.ctx.find_issue(text))
    }

    fn basis(&mut self) -> Option<&TimeBasis> {
        if self.basis.is_none() {
            match TimeBasis::new(self.ctx.now_ms(), self.ctx.time_zone()) {
                Some(basis) => self.basis = Some(basis),
                None => {
                    if !self.zone_reported {
                        self.zone_reported = true;
                        self.errors.push(JqlError::UnknownTimeZone {
                            zone: self.ctx.time_zone().to_owned(),
                        });
                    }
                    return None;
                }
            }
        }
        self.basis.as_ref()
    }

    /// The epoch minute a date item stands for; `None` after recording an error.
    fn date_minute(&mut self, field: &str, item: &Item<'_>) -> Option<i64> {
        let invalid = |value: String| JqlError::InvalidDate {
            field: field.to_owned(),
            value,
        };
        let ms = match item {
            Item::Empty => return None,
            Item::Value(Value::Number(ms)) => *ms,
            Item::Value(Value::Text(text)) => {
                let Some(value) = parse_date_text(text) else {
                    self.errors.push(invalid(text.clone()));
                    return None;
                };
                match self.basis()?.resolve(value) {
                    Some(ms) => ms,
                    None => {
                        self.errors.push(invalid(text.clone()));
                        return None;
                    }
                }
            }
            Item::Function(call) => match self.function(call)? {
                Function::CurrentUser
                | Function::Versions(_)
                | Function::MembersOf
                | Function::Sprints(_)
                | Function::LinkedIssues => {
                    self.errors.push(JqlError::FunctionNotSupported {
                        function: call.name.clone(),
                        field: field.to_owned(),
                    });
                    return None;
                }
                Function::Date(function) => {
                    let arg = call.args.first().map(String::as_str);
                    match self.basis()?.function(function, arg) {
                        Ok(ms) => ms,
                        Err(FunctionFailure::BadOffset | FunctionFailure::OutOfRange) => {
                            self.errors.push(JqlError::FunctionDuration {
                                function: call.name.clone(),
                            });
                            return None;
                        }
                    }
                }
            },
        };
        Some(minute_of(ms))
    }

    fn date(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        op: Operator,
        which: DateField,
    ) -> Option<Node> {
        if matches!(items, [Item::Empty]) {
            let set = !matches!(op, Operator::Is | Operator::Eq | Operator::In);
            return Some(match which {
                // Issues always have a creation and update time.
                DateField::Created | DateField::Updated if set => Node::All,
                DateField::Created | DateField::Updated => Node::Nothing,
                DateField::Resolved | DateField::LastViewed => {
                    Node::Leaf(Leaf::DateSet { field: which, set })
                }
            });
        }
        let mut minutes = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            if matches!(item, Item::Empty) {
                continue;
            }
            match self.date_minute(field, item) {
                Some(m) => minutes.push(m),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let leaf = |lo: i64, hi: i64, inside: bool| {
            Node::Leaf(Leaf::Date {
                field: which,
                lo,
                hi,
                inside,
            })
        };
        let minute = |m: i64| (minute_start(m), minute_start(m.saturating_add(1)));
        Some(match (op, minutes.as_slice()) {
            (Operator::Gt, [m]) => leaf(minute(*m).1, i64::MAX, true),
            (Operator::Gte, [m]) => leaf(minute(*m).0, i64::MAX, true),
            (Operator::Lt, [m]) => leaf(i64::MIN, minute(*m).0, true),
            (Operator::Lte, [m]) => leaf(i64::MIN, minute(*m).1, true),
            (Operator::Eq | Operator::In, ms) => Node::Or(
                ms.iter()
                    .map(|&m| {
                        let (lo, hi) = minute(m);
                        leaf(lo, hi, true)
                    })
                    .collect(),
            ),
            (_, ms) => Node::And(
                ms.iter()
                    .map(|&m| {
                        let (lo, hi) = minute(m);
                        leaf(lo, hi, false)
                    })
                    .collect(),
            ),
        })
    }

    /// `duedate`: a date-only field holding midnight of its day in the account's zone, so the
    /// instant bounds of [`Compiler::date`] become day bounds.
    fn due(
        &mut self,
        field: &str,
        items: &[Item<'_>],
        op: Operator,
        which: DayField,
    ) -> Option<Node> {
        if matches!(items, [Item::Empty]) {
            let set = !matches!(op, Operator::Is | Operator::Eq | Operator::In);
            return Some(Node::Leaf(Leaf::DueSet { field: which, set }));
        }
        let node = self.date(field, items, op, DateField::Created)?;
        let basis = self.basis()?.clone();
        let day = |ms: i64| match ms {
            i64::MIN => i64::MIN,
            i64::MAX => i64::MAX,
            ms => basis.first_day_from(ms).unwrap_or(i64::MAX),
        };
        fn to_days(node: Node, day: &dyn Fn(i64) -> i64, which: DayField) -> Node {
            match node {
                Node::And(children) => Node::And(
                    children
                        .into_iter()
                        .map(|c| to_days(c, day, which))
                        .collect(),
                ),
                Node::Or(children) => Node::Or(
                    children
                        .into_iter()
                        .map(|c| to_days(c, day, which))
                        .collect(),
                ),
                Node::Leaf(Leaf::Date { lo, hi, inside, .. }) => Node::Leaf(Leaf::Due {
                    field: which,
                    lo: day(lo),
                    hi: day(hi),
                    inside,
                }),
                other => other,
            }
        }
        Some(to_days(node, &day, which))
    }

    fn order(&mut self, query: &Query) -> Vec<SortKey> {
        if query.order_by.is_empty() {
            return vec![SortKey {
                field: SortField::Created,
                direction: Direction::Desc,
            }];
        }
        let mut keys = Vec::with_capacity(query.order_by.len());
        for order in &query.order_by {
            if let Some(kind) = self.field_kind(&order.field) {
                let Some(field) = kind.sort_field() else {
                    self.errors.push(JqlError::NotSortable {
                        field: order.field.display_name(),
                    });
                    continue;
                };
                let default = match field {
                    SortField::Created | SortField::Updated => Direction::Desc,
                    _ => Direction::Asc,
                };
                keys.push(SortKey {
                    field,
                    direction: order.direction.unwrap_or(default),
                });
            }
        }
        if query.order_by.len() > MAX_ORDER_BY_FIELDS {
            self.errors.push(JqlError::TooManySortFields {
                max: MAX_ORDER_BY_FIELDS,
                count: query.order_by.len(),
            });
        }
        keys
    }
}

/// One list element; `None` for a nested list.
fn item(operand: &Operand) -> Option<Item<'_>> {
    match operand {
        Operand::Empty => Some(Item::Empty),
        Operand::Value(v) => Some(Item::Value(v)),
        Operand::Function(f) => Some(Item::Function(f)),
        Operand::List(_) => None,
    }
}

/// The position of the issue's `field` id in `order` (the catalogue's order; unknown ids last),
/// or `None` when the issue has none.
fn rank_in(order: &[String], issue: &dyn JqlIssue, field: IdField) -> Option<usize> {
    issue
        .id_field(field)
        .map(|id| order.iter().position(|x| x == id).unwrap_or(usize::MAX))
}
