//! Per-operation OAuth 2.0 scope requirements, taken from Atlassian's OpenAPI documents.
//!
//! `scopes.tsv` (embedded at build time) holds one row per operation of the Jira platform and
//! JSM documents: `api`, `operationId`, method, path, and the alternatives from
//! `x-atlassian-oauth2-scopes` (classic `state: Current` and granular `state: Beta` sets,
//! `;`-separated, scopes in a set space-separated; `-` when the operation declares none, which
//! means OAuth and scoped tokens cannot call it). An integration test regenerates the rows from
//! OpenAPI documents (copied into `tests/fixtures/openapi`) and checks they agree.
//!
//! A caller satisfies an operation when it holds **every** scope of **at least one** alternative.
//! An empty alternative (as `getServerInfo` declares) needs no scope. JSM operation ids repeat
//! inside the JSM document, so JSM handlers look operations up by method and path.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// The embedded table.
pub const TABLE_TSV: &str = include_str!("scopes.tsv");

/// Which OpenAPI document an operation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Jira Cloud platform REST API v3.
    Platform,
    /// Jira Service Management REST API.
    Jsm,
}

/// One operation's scope requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationScopes {
    /// Source document.
    pub api: Api,
    /// `operationId`.
    pub operation_id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template as in the spec (`/rest/api/3/issue/{issueIdOrKey}`).
    pub path: String,
    /// Alternative scope sets; `None` when the spec declares no OAuth 2.0 scopes.
    pub alternatives: Option<Vec<Vec<String>>>,
}

impl OperationScopes {
    /// Whether `held` satisfies one alternative.
    pub fn allows(&self, held: &BTreeSet<String>) -> bool {
        self.alternatives
            .as_ref()
            .is_some_and(|alts| alts.iter().any(|set| set.iter().all(|s| held.contains(s))))
    }
}

/// The parsed table with indexes.
#[derive(Debug)]
pub struct ScopeTable {
    ops: Vec<OperationScopes>,
    by_platform_id: HashMap<String, usize>,
    by_route: HashMap<(String, String), usize>,
}

/// Parses table text (the embedded TSV format).
pub fn parse(text: &str) -> Result<Vec<OperationScopes>, String> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let [api, id, method, path, sets] = cols[..] else {
            return Err(format!("scopes table line {}: expected 5 columns", n + 1));
        };
        let api = match api {
            "platform" => Api::Platform,
            "jsm" => Api::Jsm,
            other => return Err(format!("scopes table line {}: unknown api {other}", n + 1)),
        };
        let alternatives = (sets != "-").then(|| {
            sets.split(';')
                .map(|set| set.split_whitespace().map(str::to_owned).collect())
                .collect()
        });
        ops.push(OperationScopes {
            api,
            operation_id: id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            alternatives,
        });
    }
    Ok(ops)
}

impl ScopeTable {
    /// The embedded table, parsed once.
    pub fn get() -> &'static ScopeTable {
        static TABLE: OnceLock<ScopeTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The embedded file is checked by the unit tests, so a parse error cannot ship.
            Self::from_ops(parse(TABLE_TSV).unwrap_or_default())
        })
    }

    fn from_ops(ops: Vec<OperationScopes>) -> Self {
        let mut by_platform_id = HashMap::new();
        let mut by_route = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if op.api == Api::Platform {
                by_platform_id.entry(op.operation_id.clone()).or_insert(i);
            }
            by_route
                .entry((op.method.clone(), op.path.clone()))
                .or_insert(i);
        }
        Self {
            ops,
            by_platform_id,
            by_route,
        }
    }

    /// Every operation.
    pub fn operations(&self) -> &[OperationScopes] {
        &self.ops
    }

    /// A platform operation by `operationId`.
    pub fn platform(&self, operation_id: &str) -> Option<&OperationScopes> {
        self.by_platform_id.get(operation_id).map(|i| &self.ops[*i])
    }

    /// An operation by method and spec path template. Platform v2 and `latest` paths map to the
    /// v3 entry.
    pub fn route(&self, method: &str, path: &str) -> Option<&OperationScopes> {
        let method = method.to_ascii_uppercase();
        let normalised = ["/rest/api/2/", "/rest/api/latest/"]
            .iter()
            .find_map(|p| {
                path.strip_prefix(p)
                    .map(|rest| format!("/rest/api/3/{rest}"))
            })
            .unwrap_or_else(|| path.to_owned());
        self.by_route
            .get(&(method, normalised))
            .map(|i| &self.ops[*i])
    }

    /// Every scope named anywhere in the table, plus the non-product scopes
    /// (`offline_access`, `read:me`, `read:account`), the classic scopes of APIs without a
    /// document here (`manage:jira-data-provider`, `read:servicemanagement-insight-objects`)
    /// and the CSM granular scopes.
    pub fn known_scopes(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self
            .ops
            .iter()
            .filter_map(|op| op.alternatives.as_ref())
            .flatten()
            .flatten()
            .cloned()
            .collect();
        for extra in EXTRA_SCOPES {
            all.insert((*extra).to_owned());
        }
        for software in crate::agile::SOFTWARE_SCOPES {
            all.insert((*software).to_owned());
        }
        all
    }
}

/// Scopes that exist on Atlassian's identity platform but not in the embedded documents.
pub const EXTRA_SCOPES: &[&str] = &[
    "offline_access",
    "read:me",
    "read:account",
    "manage:jira-data-provider",
    "read:servicemanagement-insight-objects",
    "read:customer:jira-service-management",
    "write:customer:jira-service-management",
    "delete:customer:jira-service-management",
    "read:customer.detail:jira-service-management",
    "write:customer.detail:jira-service-management",
    "read:customer.detail-field:jira-service-management",
    "write:customer.detail-field:jira-service-management",
    "delete:customer.detail-field:jira-service-management",
    "read:customer.profile:jira-service-management",
    "write:customer.profile:jira-service-management",
    "read:organization:jira-service-management",
    "write:organization:jira-service-management",
    "read:organization.detail:jira-service-management",
    "write:organization.detail:jira-service-management",
    "read:organization.detail-field:jira-service-management",
    "write:organization.detail-field:jira-service-management",
    "delete:organization.detail-field:jira-service-management",
    "read:organization.profile:jira-service-management",
    "write:organization.profile:jira-service-management",
    "read:product:jira-service-management",
    "write:product:jira-service-management",
    "delete:product:jira-service-management",
    "read:entitlement:jira-service-management",
    "write:entitlement:jira-service-management",
    "delete:entitlement:jira-service-management",
    "read:task:jira-service-management",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn embedded_table_parses() {
        let ops = parse(TABLE_TSV).expect("embedded table parses");
        assert!(ops.len() > 600, "{} operations", ops.len());
        assert_eq!(ScopeTable::get().operations().len(), ops.len());
    }

    #[test]
    fn myself_accepts_classic_or_granular_set() {
        let op = ScopeTable::get()
            .platform("getCurrentUser")
            .expect("getCurrentUser");
        assert!(op.allows(&set(&["read:jira-user"])));
        assert!(op.allows(&set(&[
            "read:application-role:jira",
            "read:group:jira",
            "read:user:jira",
            "read:avatar:jira"
        ])));
        assert!(
            !op.allows(&set(&["read:user:jira"])),
            "a partial granular set is not enough"
        );
        assert!(!op.allows(&set(&["read:jira-work"])));
    }

    #[test]
    fn server_info_needs_no_scope() {
        let op = ScopeTable::get()
            .platform("getServerInfo")
            .expect("getServerInfo");
        assert!(op.allows(&BTreeSet::new()));
    }

    #[test]
    fn route_lookup_maps_v2_to_v3() {
        let table = ScopeTable::get();
        let v2 = table.route("get", "/rest/api/2/myself").expect("v2");
        assert_eq!(v2.operation_id, "getCurrentUser");
        let jsm = table
            .route("POST", "/rest/servicedeskapi/customer")
            .expect("jsm");
        assert_eq!(jsm.api, Api::Jsm);
    }

    #[test]
    fn known_scopes_include_offline_access() {
        let known = ScopeTable::get().known_scopes();
        assert!(known.contains("offline_access"));
        assert!(known.contains("read:jira-work"));
        assert!(known.contains("read:issue-details:jira"));
    }

    /// Every `…:jira-service-management` scope a CSM handler checks must be grantable, or no
    /// OAuth app or scoped token could ever call that operation.
    #[test]
    fn every_scope_the_csm_routes_check_is_known() {
        let sources = [
            include_str!("csm/mod.rs"),
            include_str!("csm/customer.rs"),
            include_str!("csm/organization.rs"),
            include_str!("csm/product.rs"),
            include_str!("csm/details.rs"),
            include_str!("csm/bulk.rs"),
            include_str!("csm/store.rs"),
        ];
        let checked: BTreeSet<&str> = sources
            .iter()
            .flat_map(|s| s.split('"'))
            .filter(|t| {
                t.ends_with(":jira-service-management")
                    && (t.starts_with("read:") || t.starts_with("write:"))
            })
            .collect();
        assert!(checked.len() >= 20, "{checked:?}");
        let known = ScopeTable::get().known_scopes();
        let missing: Vec<&&str> = checked.iter().filter(|s| !known.contains(**s)).collect();
        assert!(missing.is_empty(), "not grantable: {missing:?}");
    }

    #[test]
    fn malformed_rows_are_rejected() {
        assert!(parse("platform\tx\tGET\n").is_err());
        assert!(parse("other\tx\tGET\t/p\t-\n").is_err());
    }
}
