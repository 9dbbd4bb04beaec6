//! The JQL engine end to end: text in, Jira's errors or the matching issues in order out.

// Clippy only exempts `#[test]` functions themselves; the fixture helpers here fail just as loudly.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test fixtures and helpers should fail loudly"
)]

use std::cmp::Ordering;

use jiralink_sim::jql::{
    Compiled, Direction, IssueRef, JqlContext, JqlErrors, JqlIssue, SortField, SortKey, parse,
};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// 2024-01-01T00:00:00Z.
const JAN_1_2024: i64 = 1_704_067_200_000;

struct User {
    account_id: &'static str,
    email: &'static str,
    name: &'static str,
}

const USERS: [User; 3] = [
    User {
        account_id: "acc-alice",
        email: "alice@example.com",
        name: "Alice Smith",
    },
    User {
        account_id: "acc-bob",
        email: "bob@example.com",
        name: "Bob",
    },
    User {
        account_id: "acc-bob2",
        email: "bob2@example.com",
        name: "Bob",
    },
];

const PROJECTS: [(u64, &str, &str); 2] =
    [(10000, "ABC", "Alpha Beta"), (10001, "XYZ", "Xylophone")];
const STATUSES: [(&str, &str); 3] = [("1", "To Do"), ("3", "In Progress"), ("10001", "Done")];
const TYPES: [(&str, &str); 2] = [("10001", "Bug"), ("10002", "Task")];

#[derive(Debug, Clone)]
struct Issue {
    id: u64,
    key: String,
    project: u64,
    status: usize,
    issue_type: usize,
    assignee: Option<&'static str>,
    reporter: Option<&'static str>,
    labels: Vec<String>,
    created: i64,
    updated: i64,
    summary: String,
}

impl Issue {
    fn new(id: u64, key: &str) -> Self {
        let project = if key.starts_with("XYZ") { 10001 } else { 10000 };
        Self {
            id,
            key: key.to_owned(),
            project,
            status: 0,
            issue_type: 1,
            assignee: None,
            reporter: Some("acc-alice"),
            labels: Vec::new(),
            created: JAN_1_2024,
            updated: JAN_1_2024,
            summary: format!("Issue {key}"),
        }
    }
}

impl JqlIssue for Issue {
    fn id(&self) -> u64 {
        self.id
    }
    fn key(&self) -> &str {
        &self.key
    }
    fn project_key(&self) -> &str {
        PROJECTS
            .iter()
            .find(|p| p.0 == self.project)
            .map_or("", |p| p.1)
    }
    fn project_id(&self) -> u64 {
        self.project
    }
    fn status(&self) -> (&str, &str) {
        STATUSES[self.status]
    }
    fn issue_type(&self) -> (&str, &str) {
        TYPES[self.issue_type]
    }
    fn assignee(&self) -> Option<&str> {
        self.assignee
    }
    fn reporter(&self) -> Option<&str> {
        self.reporter
    }
    fn labels(&self) -> &[String] {
        &self.labels
    }
    fn created_ms(&self) -> i64 {
        self.created
    }
    fn updated_ms(&self) -> i64 {
        self.updated
    }
    fn summary(&self) -> &str {
        &self.summary
    }
    fn custom_field(&self, id: u64) -> Option<&str> {
        (id == 10010)
            .then_some("Team Red")
            .filter(|_| self.id.is_multiple_of(2))
    }
}

struct Site {
    issues: Vec<Issue>,
    now: i64,
    zone: &'static str,
    me: Option<&'static str>,
}

impl Site {
    fn new(issues: Vec<Issue>) -> Self {
        Self {
            issues,
            now: JAN_1_2024 + 30 * 24 * HOUR,
            zone: "UTC",
            me: Some("acc-alice"),
        }
    }

    fn compile(&self, jql: &str) -> Result<Compiled, Vec<String>> {
        let query = parse(jql).map_err(|e| e.messages())?;
        query.compile(self).map_err(|e| e.messages())
    }

    /// The keys of the matching issues, in the query's order.
    fn search(&self, jql: &str) -> Vec<String> {
        let compiled = self.compile(jql).unwrap_or_else(|e| panic!("{jql}: {e:?}"));
        let mut hits: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|i| compiled.matches(*i))
            .collect();
        hits.sort_by(|a, b| compiled.compare(*a, *b));
        hits.into_iter().map(|i| i.key.clone()).collect()
    }

    /// The matching keys, sorted by key number for set comparisons.
    fn keys(&self, jql: &str) -> Vec<String> {
        let mut keys = self.search(jql);
        keys.sort_by_key(|k| {
            let (p, n) = k.rsplit_once('-').unwrap();
            (p.to_owned(), n.parse::<u64>().unwrap())
        });
        keys
    }

    fn errors(&self, jql: &str) -> Vec<String> {
        match self.compile(jql) {
            Ok(_) => panic!("{jql} compiled"),
            Err(e) => e,
        }
    }
}

impl JqlContext for Site {
    fn project_id(&self, value: &str) -> Option<u64> {
        PROJECTS
            .iter()
            .find(|(id, key, name)| {
                id.to_string() == value
                    || key.eq_ignore_ascii_case(value)
                    || name.eq_ignore_ascii_case(value)
            })
            .map(|p| p.0)
    }
    fn status_exists(&self, value: &str) -> bool {
        STATUSES
            .iter()
            .any(|(id, name)| *id == value || name.eq_ignore_ascii_case(value))
    }
    fn issue_type_exists(&self, value: &str) -> bool {
        TYPES
            .iter()
            .any(|(id, name)| *id == value || name.eq_ignore_ascii_case(value))
    }
    fn find_issue(&self, value: &str) -> Option<IssueRef> {
        self.issues
            .iter()
            .find(|i| i.id.to_string() == value || i.key.eq_ignore_ascii_case(value))
            .map(|i| IssueRef {
                id: i.id,
                key: i.key.clone(),
            })
    }
    fn users_matching(&self, value: &str) -> Vec<String> {
        USERS
            .iter()
            .filter(|u| {
                u.account_id == value
                    || u.email.eq_ignore_ascii_case(value)
                    || u.name.eq_ignore_ascii_case(value)
            })
            .map(|u| u.account_id.to_owned())
            .collect()
    }
    fn current_user_account_id(&self) -> Option<&str> {
        self.me
    }
    fn now_ms(&self) -> i64 {
        self.now
    }
    fn time_zone(&self) -> &str {
        self.zone
    }
    fn custom_field_by_name(&self, name: &str) -> Option<u64> {
        name.eq_ignore_ascii_case("Team").then_some(10010)
    }
    fn custom_field_exists(&self, id: u64) -> bool {
        id == 10010
    }
}

/// ABC-1..ABC-6 and XYZ-1..XYZ-2 with varied fields.
fn fixture() -> Site {
    let mut issues = Vec::new();
    for n in 1..=6u64 {
        let mut issue = Issue::new(10_000 + n, &format!("ABC-{n}"));
        issue.status = (n % 3) as usize;
        issue.issue_type = (n % 2) as usize;
        issue.assignee = match n % 3 {
            0 => None,
            1 => Some("acc-alice"),
            _ => Some("acc-bob"),
        };
        issue.labels = match n {
            1 => vec!["backend".into(), "Urgent".into()],
            2 => vec!["frontend".into()],
            3 => vec!["backend".into()],
            _ => Vec::new(),
        };
        issue.created = JAN_1_2024 + i64::try_from(n).unwrap() * HOUR;
        issue.updated = issue.created + 30 * MINUTE;
        issues.push(issue);
    }
    for n in 1..=2u64 {
        let mut issue = Issue::new(20_000 + n, &format!("XYZ-{n}"));
        issue.assignee = Some("acc-bob2");
        issue.summary = if n == 1 {
            "Disk space full on web-01".into()
        } else {
            "Login page shows full screen error".into()
        };
        issues.push(issue);
    }
    Site::new(issues)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn syntax_errors_use_jira_wording_and_positions() {
    let operators = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', \
                     'NOT IN', 'IS' and 'IS NOT'.";
    let cases: Vec<(&str, String)> = vec![
        (
            "project = ",
            "Expecting either a value, list or function but got 'EOF'. You must specify a value \
             for the field or a function. (line 1, character 11)"
                .into(),
        ),
        (
            "project in (ABC,",
            "Expecting either a value, list or function but got 'EOF'. You must specify a value \
             for the field or a function. (line 1, character 17)"
                .into(),
        ),
        (
            "project ABC",
            format!("Expecting operator but got 'ABC'. {operators} (line 1, character 9)"),
        ),
        (
            "project = ABC AND",
            "Expecting a field name but got 'EOF'. (line 1, character 18)".into(),
        ),
        (
            "project = ABC status = Done",
            "Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)".into(),
        ),
        (
            "(project = ABC",
            "Expecting ')' but got 'EOF'. (line 1, character 15)".into(),
        ),
        (
            "project = ABC\n  AND status = ",
            "Expecting either a value, list or function but got 'EOF'. You must specify a value \
             for the field or a function. (line 2, character 16)"
                .into(),
        ),
        (
            "summary ~ 50%",
            "The character '%' is a reserved JQL character. You must enclose it in a string or \
             use the escape '\\u0025' instead. (line 1, character 13)"
                .into(),
        ),
        (
            "project = select",
            "'select' is a reserved JQL word. You must surround it in quotation marks to use it \
             in a query. (line 1, character 11)"
                .into(),
        ),
        (
            "project = \"ABC",
            "The quoted string 'ABC' has not been completed. (line 1, character 11)".into(),
        ),
        (
            "order key",
            "Expecting 'BY' but got 'key'. (line 1, character 7)".into(),
        ),
        (
            "project = ABC order by key up",
            "Expecting either 'ASC' or 'DESC' but got 'up'. (line 1, character 28)".into(),
        ),
        (
            "project not ABC",
            "Expecting 'IN' but got 'ABC'. (line 1, character 13)".into(),
        ),
    ];
    for (jql, message) in cases {
        let errors = parse(jql).unwrap_err();
        assert_eq!(
            errors.messages(),
            vec![format!("Error in the JQL Query: {message}")],
            "{jql:?}"
        );
    }
}

#[test]
fn validation_errors_use_jira_wording_and_come_together() {
    let site = fixture();
    let date_formats = "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', \
                        'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.";
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "foo = bar",
            strings(&["Field 'foo' does not exist or you do not have permission to view it."]),
        ),
        (
            "cf[99] = x",
            strings(&["Field 'cf[99]' does not exist or you do not have permission to view it."]),
        ),
        (
            "worklogAuthor = bob AND timeSpent IN (1) ORDER BY workratio",
            strings(&[
                "Field 'worklogAuthor' exists in Jira Cloud but the jiralink simulator does not support it in JQL yet. Search on project, issuekey, status, statusCategory, issuetype, priority, resolution, assignee, reporter, creator, labels, component, fixVersion, affectedVersion, parent, created, updated, resolved, duedate, summary, description, environment, comment, text, watcher, watchers, voter, votes, sprint, issueLinkType or a custom field instead.",
                "Field 'timeSpent' exists in Jira Cloud but the jiralink simulator does not support it in JQL yet. Search on project, issuekey, status, statusCategory, issuetype, priority, resolution, assignee, reporter, creator, labels, component, fixVersion, affectedVersion, parent, created, updated, resolved, duedate, summary, description, environment, comment, text, watcher, watchers, voter, votes, sprint, issueLinkType or a custom field instead.",
                "Field 'workratio' exists in Jira Cloud but the jiralink simulator does not support it in JQL yet. Search on project, issuekey, status, statusCategory, issuetype, priority, resolution, assignee, reporter, creator, labels, component, fixVersion, affectedVersion, parent, created, updated, resolved, duedate, summary, description, environment, comment, text, watcher, watchers, voter, votes, sprint, issueLinkType or a custom field instead.",
            ]),
        ),
        (
            "project = ABC ORDER BY description",
            strings(&["Field 'description' does not support sorting."]),
        ),
        (
            "project in (XYZ, NOPE, \"Gone\") AND status = Closed",
            strings(&[
                "The value 'NOPE' does not exist for the field 'project'.",
                "The value 'Gone' does not exist for the field 'project'.",
                "The value 'Closed' does not exist for the field 'status'.",
            ]),
        ),
        (
            "assignee = \"nobody@example.com\"",
            strings(&["The value 'nobody@example.com' does not exist for the field 'assignee'."]),
        ),
        (
            "created > \"2020-13-01\"",
            vec![format!(
                "Date value '2020-13-01' for field 'created' is invalid. {date_formats}"
            )],
        ),
        (
            "updated >= tomorrow",
            vec![format!(
                "Date value 'tomorrow' for field 'updated' is invalid. {date_formats}"
            )],
        ),
        (
            "labels > x",
            strings(&["The operator '>' is not supported by the 'labels' field."]),
        ),
        (
            "summary = x",
            strings(&["The operator '=' is not supported by the 'summary' field."]),
        ),
        (
            "status is EMPTY",
            strings(&["The operator 'is' is not supported by the 'status' field."]),
        ),
        (
            "project in ABC",
            strings(&[
                "The operator 'in' only supports lists of values or functions for the field \
                 'project'.",
            ]),
        ),
        (
            "project = (ABC, XYZ)",
            strings(&[
                "The operator '=' does not support lists of values for the field 'project'.",
            ]),
        ),
        (
            "assignee is acc-bob",
            strings(&[
                "The operator 'is' only supports the 'EMPTY' and 'NULL' values for the field \
                 'assignee'.",
            ]),
        ),
        (
            "created > EMPTY",
            strings(&[
                "The operator '>' does not support the value 'EMPTY' for the field 'created'.",
            ]),
        ),
        (
            "assignee = projectsWhereUserHasRole(team)",
            strings(&["Unable to find JQL function 'projectsWhereUserHasRole()'."]),
        ),
        (
            "project = currentUser()",
            strings(&["The function 'currentUser' is not supported by the field 'project'."]),
        ),
        (
            "created > now(1)",
            strings(&["Function 'now' expected '0' arguments but received '1'."]),
        ),
        (
            "created > startOfDay(1, 2)",
            strings(&[
                "Function 'startOfDay' expected between '0' and '1' arguments but received '2'.",
            ]),
        ),
        (
            "created > startOfDay(\"soon\")",
            strings(&[
                "Duration for function 'startOfDay' should have the format (+/-)n(yMwdm), e.g -1M \
                 for one month earlier.",
            ]),
        ),
        (
            "key = ABC-99",
            strings(&["An issue with key 'ABC-99' does not exist for field 'key'."]),
        ),
        (
            "issuekey in (ABC-1, nonsense)",
            strings(&["The issue key 'nonsense' for field 'issuekey' is invalid."]),
        ),
        (
            "summary ~ \"!!\"",
            strings(&["The field 'summary' does not support searching for an empty string."]),
        ),
        (
            "project = ABC ORDER BY key, id, status, type, assignee, reporter, created, updated",
            strings(&[
                "The ORDER BY clause can contain at most 7 fields, but 8 were given. Remove some \
                 sort fields.",
            ]),
        ),
        (
            "project = ABC ORDER BY nope",
            strings(&["Field 'nope' does not exist or you do not have permission to view it."]),
        ),
    ];
    for (jql, messages) in cases {
        assert_eq!(site.errors(jql), messages, "{jql}");
    }
}

#[test]
fn unknown_time_zone_is_reported_once() {
    let mut site = fixture();
    site.zone = "Mars/Olympus";
    assert_eq!(
        site.errors("created > \"2024-01-01\" OR updated > startOfDay()"),
        strings(&[
            "The time zone 'Mars/Olympus' of the searching user is not a known time zone. Set an \
             IANA time zone such as 'Europe/Berlin' on the account.",
        ])
    );
    // Epoch milliseconds need no zone.
    assert_eq!(site.keys("created >= 1704085200000").len(), 2);
}

#[test]
fn bounded_check() {
    for (jql, bounded) in [
        ("", false),
        ("   ", false),
        ("order by key desc", false),
        ("ORDER BY created", false),
        ("project = ABC", true),
        ("project is not empty order by key", true),
    ] {
        assert_eq!(parse(jql).unwrap().is_bounded(), bounded, "{jql}");
    }
    assert_eq!(
        JqlErrors::unbounded().messages(),
        strings(&[
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your \
             query.",
        ])
    );
}

#[test]
fn precedence_not_and_or() {
    let site = fixture();
    // status: n % 3 → ABC-3, ABC-6 "To Do"; ABC-1, ABC-4 "In Progress"; ABC-2, ABC-5 "Done".
    assert_eq!(
        site.keys("project = XYZ OR project = ABC AND status = Done"),
        strings(&["ABC-2", "ABC-5", "XYZ-1", "XYZ-2"])
    );
    assert_eq!(
        site.keys("(project = XYZ OR project = ABC) AND status = Done"),
        strings(&["ABC-2", "ABC-5"])
    );
    assert_eq!(
        site.keys("NOT status = Done AND project = ABC"),
        strings(&["ABC-1", "ABC-3", "ABC-4", "ABC-6"])
    );
    assert_eq!(
        site.keys("project = ABC && !(status = Done || status = \"to do\")"),
        strings(&["ABC-1", "ABC-4"])
    );
    assert_eq!(
        site.keys("project = abc and not not status = 10001"),
        strings(&["ABC-2", "ABC-5"])
    );
}

#[test]
fn negative_operators_leave_out_empty_fields() {
    let site = fixture();
    // ABC-3 and ABC-6 are unassigned.
    assert_eq!(
        site.keys("project = ABC AND assignee != acc-bob"),
        strings(&["ABC-1", "ABC-4"])
    );
    // NOT is pushed into the term, as Jira does, so it leaves them out too.
    assert_eq!(
        site.keys("project = ABC AND NOT assignee = acc-bob"),
        strings(&["ABC-1", "ABC-4"])
    );
    assert_eq!(
        site.keys("project = ABC AND (assignee != acc-bob OR assignee IS EMPTY)"),
        strings(&["ABC-1", "ABC-3", "ABC-4", "ABC-6"])
    );
    assert_eq!(
        site.keys("project = ABC AND assignee in (EMPTY, acc-bob)"),
        strings(&["ABC-2", "ABC-3", "ABC-5", "ABC-6"])
    );
    assert_eq!(
        site.keys("project = ABC AND assignee = EMPTY"),
        site.keys("project = ABC AND assignee is null")
    );
    assert_eq!(site.keys("project = ABC AND assignee != EMPTY").len(), 4);
    // Labels: ABC-1 {backend, Urgent}, ABC-2 {frontend}, ABC-3 {backend}.
    assert_eq!(
        site.keys("project = ABC AND labels not in (frontend)"),
        strings(&["ABC-1", "ABC-3"])
    );
    assert_eq!(
        site.keys("labels = URGENT OR labels = frontend"),
        strings(&["ABC-1", "ABC-2"])
    );
    assert_eq!(site.keys("project = ABC AND labels is empty").len(), 3);
}

#[test]
fn users_resolve_by_account_id_email_name_and_current_user() {
    let mut site = fixture();
    let alice = strings(&["ABC-1", "ABC-4"]);
    assert_eq!(site.keys("assignee = acc-alice"), alice);
    assert_eq!(site.keys("assignee = \"ALICE@example.com\""), alice);
    assert_eq!(site.keys("assignee = \"Alice Smith\""), alice);
    assert_eq!(site.keys("assignee = currentUser()"), alice);
    assert_eq!(site.keys("assignee in (currentUser(), acc-bob2)").len(), 4);
    // A display name shared by two accounts matches both.
    assert_eq!(site.keys("assignee = Bob").len(), 4);
    assert_eq!(site.keys("reporter = currentuser()").len(), 8);
    site.me = None;
    assert!(site.keys("assignee = currentUser()").is_empty());
}

#[test]
fn fields_by_id_name_and_alias() {
    let site = fixture();
    assert_eq!(
        site.keys("project = 10001"),
        site.keys("project = \"xylophone\"")
    );
    assert_eq!(site.keys("project = 10001").len(), 2);
    assert_eq!(
        site.keys("status = \"in progress\""),
        site.keys("status = 3")
    );
    assert_eq!(site.keys("type = bug"), site.keys("issuetype = 10001"));
    assert_eq!(site.keys("id = 10002"), strings(&["ABC-2"]));
    assert_eq!(
        site.keys("key in (abc-2, 20001)"),
        strings(&["ABC-2", "XYZ-1"])
    );
    assert_eq!(site.keys("issue != ABC-2 and project = ABC").len(), 5);
    assert_eq!(site.keys("cf[10010] = \"team red\"").len(), 4);
    assert_eq!(site.keys("Team ~ red"), site.keys("cf[10010] is not empty"));
    assert_eq!(site.keys("Team is empty").len(), 4);
}

#[test]
fn key_ranges_stay_within_the_project() {
    let site = fixture();
    assert_eq!(site.keys("key > ABC-4"), strings(&["ABC-5", "ABC-6"]));
    assert_eq!(
        site.keys("key >= ABC-4"),
        strings(&["ABC-4", "ABC-5", "ABC-6"])
    );
    assert_eq!(site.keys("key < ABC-2"), strings(&["ABC-1"]));
    assert_eq!(site.keys("key <= ABC-2"), strings(&["ABC-1", "ABC-2"]));
    // Issue ids are resolved to their keys first.
    assert_eq!(site.keys("id > 10005"), strings(&["ABC-6"]));
    // A bound past the last issue of an existing project is allowed.
    assert_eq!(site.keys("key < ABC-100").len(), 6);
    // NOT turns `>` into `<=`, still within ABC.
    assert_eq!(site.keys("NOT key > ABC-2"), strings(&["ABC-1", "ABC-2"]));
    assert_eq!(
        site.errors("key > QQQ-1"),
        strings(&["An issue with key 'QQQ-1' does not exist for field 'key'."])
    );
}

#[test]
fn summary_text_search() {
    let site = fixture();
    assert_eq!(site.keys("summary ~ full"), strings(&["XYZ-1", "XYZ-2"]));
    assert_eq!(site.keys("summary ~ \"DISK full\""), strings(&["XYZ-1"]));
    assert_eq!(
        site.keys("summary ~ \"\\\"full screen\\\"\""),
        strings(&["XYZ-2"])
    );
    assert_eq!(site.keys("summary ~ \"log*\""), strings(&["XYZ-2"]));
    assert_eq!(
        site.keys("project = XYZ AND summary !~ disk"),
        strings(&["XYZ-2"])
    );
}

/// Local wall-clock renderings of 2024-03-10T12:00:00Z.
const ZONES: [(&str, &str); 4] = [
    ("Pacific/Honolulu", "2024-03-10 02:00"),
    ("UTC", "2024-03-10 12:00"),
    ("Pacific/Kiritimati", "2024-03-11 02:00"),
    ("Europe/Berlin", "2024-03-10 13:00"),
];
const MARCH_10_NOON_UTC: i64 = 1_710_072_000_000;

fn timeline(center: i64) -> Site {
    let offsets = [-25 * HOUR, -61 * MINUTE, -1, 0, 30_000, MINUTE, 11 * HOUR];
    let issues = offsets
        .iter()
        .zip(1u64..)
        .map(|(offset, n)| {
            let mut issue = Issue::new(n, &format!("ABC-{n}"));
            issue.created = center + offset;
            issue.updated = center + offset;
            issue
        })
        .collect();
    Site::new(issues)
}

#[test]
fn explicit_local_values_and_epoch_ms_select_the_same_issues_in_every_zone() {
    for (zone, local) in ZONES {
        let mut site = timeline(MARCH_10_NOON_UTC);
        site.zone = zone;
        for op in [">", ">=", "<", "<=", "=", "!="] {
            let by_local = site.keys(&format!("created {op} \"{local}\""));
            let slashed = local.replace('-', "/");
            let by_slashes = site.keys(&format!("updated {op} \"{slashed}\""));
            let by_epoch = site.keys(&format!("created {op} {MARCH_10_NOON_UTC}"));
            assert_eq!(by_local, by_epoch, "{zone} {op}");
            assert_eq!(by_slashes, by_epoch, "{zone} {op}");
        }
        // The minute 12:00Z holds ABC-4 (12:00:00) and ABC-5 (12:00:30), not ABC-3 (11:59:59.999).
        assert_eq!(
            site.keys(&format!("created = \"{local}\"")),
            strings(&["ABC-4", "ABC-5"]),
            "{zone}"
        );
    }
}

#[test]
fn the_same_bare_datetime_means_different_instants_per_zone() {
    let counts: Vec<usize> = ZONES
        .iter()
        .map(|(zone, _)| {
            let mut site = timeline(MARCH_10_NOON_UTC);
            site.zone = zone;
            site.keys("created >= \"2024-03-10 12:00\"").len()
        })
        .collect();
    // Honolulu's noon is 22:00Z (only the 23:00Z issue), UTC's is the center (12:00, 12:00:30,
    // 12:01, 23:00), Kiritimati's is 22:00Z the day before (all but the first), Berlin's is
    // 11:00Z (from 11:59:59.999 on).
    assert_eq!(counts, vec![1, 4, 6, 5]);
}

#[test]
fn date_only_values_are_local_midnight() {
    for (zone, midnight_utc) in [
        ("Pacific/Honolulu", JAN_1_2024 + 10 * HOUR),
        ("UTC", JAN_1_2024),
        ("Pacific/Kiritimati", JAN_1_2024 - 14 * HOUR),
        ("Europe/Berlin", JAN_1_2024 - HOUR),
    ] {
        let mut site = timeline(midnight_utc);
        site.zone = zone;
        assert_eq!(
            site.keys("created >= \"2024-01-01\""),
            site.keys(&format!("created >= {midnight_utc}")),
            "{zone}"
        );
        assert_eq!(
            site.keys("created = \"2024/01/01\""),
            strings(&["ABC-4", "ABC-5"]),
            "{zone}"
        );
    }
}

#[test]
fn berlin_dst_transitions() {
    // 2024-03-31 01:00Z: Berlin jumps from 02:00 CET to 03:00 CEST.
    let spring = 1_711_846_800_000;
    let mut site = timeline(spring);
    site.zone = "Europe/Berlin";
    // 03:00 local is the transition instant itself.
    assert_eq!(
        site.keys("created < \"2024-03-31 03:00\""),
        site.keys(&format!("created < {spring}"))
    );
    // 02:30 does not exist; it is read as 03:30 CEST, 01:30Z.
    assert_eq!(
        site.keys("created >= \"2024-03-31 02:30\""),
        site.keys(&format!("created >= {}", spring + 30 * MINUTE))
    );
    // 2024-10-27 01:00Z: clocks go back from 03:00 CEST to 02:00 CET; 02:30 happens twice and
    // the earlier one (00:30Z) is used.
    let autumn = 1_729_990_800_000;
    let mut site = timeline(autumn);
    site.zone = "Europe/Berlin";
    assert_eq!(
        site.keys("created >= \"2024-10-27 02:30\""),
        site.keys(&format!("created >= {}", autumn - 30 * MINUTE))
    );
    // startOfDay() on the short day is local midnight (22:00Z the day before).
    site.now = spring + HOUR;
    assert_eq!(
        site.keys("created >= startOfDay()"),
        site.keys("created >= \"2024-03-31\"")
    );
}

#[test]
fn minute_precision_edges() {
    let ten = JAN_1_2024 + 10 * HOUR;
    let mut issues = Vec::new();
    for (n, offset) in [
        (1u64, -1i64),
        (2, 0),
        (3, 5_000),
        (4, 30_000),
        (5, 45_000),
        (6, 59_999),
        (7, 60_000),
    ] {
        let mut issue = Issue::new(n, &format!("ABC-{n}"));
        issue.updated = ten + offset;
        issues.push(issue);
    }
    let mut site = Site::new(issues);
    let all_of_ten = strings(&["ABC-2", "ABC-3", "ABC-4", "ABC-5", "ABC-6"]);
    // 10:00:30 is in minute 10:00, which is not after 10:00.
    assert_eq!(
        site.keys("updated > \"2024-01-01 10:00\""),
        strings(&["ABC-7"])
    );
    assert_eq!(site.keys("updated = \"2024-01-01 10:00\""), all_of_ten);
    assert_eq!(site.keys("updated <= \"2024-01-01 10:00\"").len(), 6);
    assert_eq!(
        site.keys("updated < \"2024-01-01 10:00\""),
        strings(&["ABC-1"])
    );
    assert_eq!(
        site.keys("updated != \"2024-01-01 10:00\""),
        strings(&["ABC-1", "ABC-7"])
    );
    // Epoch milliseconds are truncated to their minute too.
    let ten_thirty_s = ten + 30_000;
    assert_eq!(
        site.keys(&format!("updated > {ten_thirty_s}")),
        strings(&["ABC-7"])
    );
    assert_eq!(site.keys(&format!("updated >= {ten_thirty_s}")).len(), 6);
    assert_eq!(site.keys(&format!("updated = {ten_thirty_s}")), all_of_ten);
    assert_eq!(
        site.keys(&format!("updated in ({}, \"2024-01-01 10:01\")", ten - 1)),
        strings(&["ABC-1", "ABC-7"])
    );
    // Periods and now() count from the clock, then truncate.
    site.now = ten + 24 * HOUR + 45_000;
    assert_eq!(site.keys("updated >= -1d").len(), 6);
    assert_eq!(site.keys("updated > \"-1d\""), strings(&["ABC-7"]));
    assert_eq!(site.keys("updated >= \"-1d 1m\"").len(), 7);
    assert_eq!(site.keys("updated > -24h"), site.keys("updated > -1440m"));
    assert_eq!(site.keys("updated < now()").len(), 7);
    assert_eq!(site.keys("updated >= startOfDay(-1)").len(), 7);
    assert!(site.keys("updated >= startOfDay()").is_empty());
}

#[test]
fn order_by_comparator_with_ties() {
    let mut site = fixture();
    for issue in &mut site.issues {
        // Three distinct update times, shared by several issues.
        issue.updated = JAN_1_2024 + i64::try_from(issue.id % 3).unwrap() * MINUTE;
    }
    // ids: ABC-n = 10000+n, XYZ-n = 20000+n; id % 3: ABC-2,5,XYZ-1 → 0; ABC-3,6,XYZ-2 → 1;
    // ABC-1,4 → 2.
    assert_eq!(
        site.search("updated >= -3650d ORDER BY updated ASC, key DESC"),
        strings(&[
            "XYZ-1", "ABC-5", "ABC-2", "XYZ-2", "ABC-6", "ABC-3", "ABC-4", "ABC-1"
        ])
    );
    // Ties on every key fall back to the id, in the last key's direction.
    assert_eq!(
        site.search("project = ABC ORDER BY updated ASC"),
        strings(&["ABC-2", "ABC-5", "ABC-3", "ABC-6", "ABC-1", "ABC-4"])
    );
    assert_eq!(
        site.search("project = ABC ORDER BY updated DESC"),
        strings(&["ABC-4", "ABC-1", "ABC-6", "ABC-3", "ABC-5", "ABC-2"])
    );
    // Without a direction, dates sort newest first.
    assert_eq!(
        site.search("project = ABC ORDER BY updated"),
        site.search("project = ABC ORDER BY updated DESC")
    );
    // Empty values go last ascending and first descending.
    assert_eq!(
        site.search("project = ABC ORDER BY assignee, key"),
        strings(&["ABC-1", "ABC-4", "ABC-2", "ABC-5", "ABC-3", "ABC-6"])
    );
    assert_eq!(
        site.search("project = ABC ORDER BY assignee DESC, key ASC"),
        strings(&["ABC-3", "ABC-6", "ABC-2", "ABC-5", "ABC-1", "ABC-4"])
    );
    // Keys sort by project, then number (not as text: ABC-10 after ABC-9).
    let mut more = fixture();
    let mut ten = Issue::new(10_010, "ABC-10");
    ten.created = JAN_1_2024;
    more.issues.push(ten);
    assert_eq!(
        more.search("project in (ABC, XYZ) ORDER BY key DESC"),
        strings(&[
            "XYZ-2", "XYZ-1", "ABC-10", "ABC-6", "ABC-5", "ABC-4", "ABC-3", "ABC-2", "ABC-1"
        ])
    );
}

#[test]
fn default_order_is_newest_first() {
    let site = fixture();
    let compiled = site.compile("project = ABC").unwrap();
    assert_eq!(
        compiled.order(),
        &[SortKey {
            field: SortField::Created,
            direction: Direction::Desc
        }]
    );
    assert_eq!(
        site.search("project = ABC"),
        strings(&["ABC-6", "ABC-5", "ABC-4", "ABC-3", "ABC-2", "ABC-1"])
    );
    // XYZ issues share a creation time: the id breaks the tie, newest first.
    let xyz = &site.issues[6..];
    assert_eq!(compiled.compare(&xyz[0], &xyz[1]), Ordering::Greater);
    assert_eq!(compiled.compare(&xyz[1], &xyz[1]), Ordering::Equal);
}

#[test]
fn a_query_without_restriction_matches_everything() {
    let site = fixture();
    let compiled = site.compile("ORDER BY key").unwrap();
    assert!(site.issues.iter().all(|i| compiled.matches(i)));
    assert_eq!(site.search("").len(), 8);
}
