//! OAuth 2.0 scopes: the catalogue behind the scope picker, and chosen scope sets.
//!
//! Invariants:
//! - The catalogue of each [`ApiType`] lists every scope the form offers for it, grouped as the
//!   picker shows them. Names are Atlassian's, in lower case.
//! - A [`ScopeSet`] is sorted and free of duplicates, and never holds [`OFFLINE_ACCESS`]: that
//!   scope is added by [`ScopeSet::requested`] because jiralink always needs a refresh token.
//! - [`ScopeSet::parse`] admits only catalogue scopes of the given API type. Deserialisation
//!   checks only the shape of each name, so stored connections stay readable if the catalogue
//!   changes; drafts are checked against the catalogue whenever they are validated.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

use crate::api_type::ApiType;

/// The scope that makes Atlassian issue a refresh token. Always requested, never stored.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Shown for every OAuth 2.0 connection, so nobody wonders why a scope they did not pick is
/// requested.
pub const OFFLINE_ACCESS_NOTICE: &str =
    "scopes: offline_access is always requested so tokens can be refreshed";

/// One entry of the scope picker.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScopeInfo {
    /// The scope as Atlassian names it.
    pub name: &'static str,
    /// What the scope allows.
    pub description: &'static str,
    /// The heading the picker shows it under.
    pub group: &'static str,
}

const fn scope(name: &'static str, description: &'static str, group: &'static str) -> ScopeInfo {
    ScopeInfo {
        name,
        description,
        group,
    }
}

const PLATFORM: &str = "Jira platform";
const JSM: &str = "Jira Service Management";
const IDENTITY: &str = "User identity";
const CUSTOMERS: &str = "Customers";
const ORGANIZATIONS: &str = "Organizations";
const PROFILES: &str = "Profiles";
const PRODUCTS: &str = "Products";
const ENTITLEMENTS: &str = "Entitlements";
const TASKS: &str = "Tasks";

const READ_ME: ScopeInfo = scope(
    "read:me",
    "View the profile of the Atlassian account that authorizes.",
    IDENTITY,
);

static CLOUD_PLATFORM: [ScopeInfo; 13] = [
    scope(
        "read:jira-work",
        "Read project and issue data, search for issues, and read attachments and worklogs.",
        PLATFORM,
    ),
    scope(
        "write:jira-work",
        "Create, edit and delete issues, and add comments and worklogs.",
        PLATFORM,
    ),
    scope(
        "read:jira-user",
        "View user information such as names, e-mail addresses and avatars.",
        PLATFORM,
    ),
    scope(
        "manage:jira-project",
        "Manage project settings, versions and components.",
        PLATFORM,
    ),
    scope(
        "manage:jira-configuration",
        "Manage Jira administration settings: projects, custom fields, workflows and issue \
         link types.",
        PLATFORM,
    ),
    scope(
        "manage:jira-webhook",
        "Register and manage dynamic webhooks.",
        PLATFORM,
    ),
    scope(
        "manage:jira-data-provider",
        "Manage development, build and deployment information (Jira Software).",
        PLATFORM,
    ),
    scope(
        "read:servicedesk-request",
        "Read customer requests with their approvals, attachments, comments, participants and \
         status, and read service desks and request types.",
        JSM,
    ),
    scope(
        "write:servicedesk-request",
        "Create and edit customer requests; comment on, attach to, approve, share and \
         transition them.",
        JSM,
    ),
    scope(
        "manage:servicedesk-customer",
        "Manage customers and organizations, and service desk membership.",
        JSM,
    ),
    scope(
        "read:servicemanagement-insight-objects",
        "Read Assets (Insight) objects.",
        JSM,
    ),
    READ_ME,
    scope(
        "read:account",
        "View the Atlassian account profiles of users.",
        IDENTITY,
    ),
];

static CUSTOMER_SERVICE_MANAGEMENT: [ScopeInfo; 24] = [
    scope(
        "read:customer:jira-service-management",
        "Read customers.",
        CUSTOMERS,
    ),
    scope(
        "write:customer:jira-service-management",
        "Create and update customers.",
        CUSTOMERS,
    ),
    scope(
        "delete:customer:jira-service-management",
        "Delete customers.",
        CUSTOMERS,
    ),
    scope(
        "read:customer.detail:jira-service-management",
        "Read the detail values of customers.",
        CUSTOMERS,
    ),
    scope(
        "read:customer.detail-field:jira-service-management",
        "Read the definitions of customer detail fields.",
        CUSTOMERS,
    ),
    scope(
        "write:customer.detail-field:jira-service-management",
        "Create and update customer detail fields.",
        CUSTOMERS,
    ),
    scope(
        "delete:customer.detail-field:jira-service-management",
        "Delete customer detail fields.",
        CUSTOMERS,
    ),
    scope(
        "read:organization:jira-service-management",
        "Read organizations.",
        ORGANIZATIONS,
    ),
    scope(
        "write:organization:jira-service-management",
        "Create and update organizations.",
        ORGANIZATIONS,
    ),
    scope(
        "delete:organization:jira-service-management",
        "Delete organizations.",
        ORGANIZATIONS,
    ),
    scope(
        "read:organization.detail:jira-service-management",
        "Read the detail values of organizations.",
        ORGANIZATIONS,
    ),
    scope(
        "read:organization.detail-field:jira-service-management",
        "Read the definitions of organization detail fields.",
        ORGANIZATIONS,
    ),
    scope(
        "write:organization.detail-field:jira-service-management",
        "Create and update organization detail fields.",
        ORGANIZATIONS,
    ),
    scope(
        "delete:organization.detail-field:jira-service-management",
        "Delete organization detail fields.",
        ORGANIZATIONS,
    ),
    scope(
        "read:customer.profile:jira-service-management",
        "Read customer profiles.",
        PROFILES,
    ),
    scope(
        "read:organization.profile:jira-service-management",
        "Read organization profiles.",
        PROFILES,
    ),
    scope(
        "read:product:jira-service-management",
        "Read products.",
        PRODUCTS,
    ),
    scope(
        "write:product:jira-service-management",
        "Create and update products.",
        PRODUCTS,
    ),
    scope(
        "delete:product:jira-service-management",
        "Delete products.",
        PRODUCTS,
    ),
    scope(
        "read:entitlement:jira-service-management",
        "Read entitlements.",
        ENTITLEMENTS,
    ),
    scope(
        "write:entitlement:jira-service-management",
        "Create and update entitlements.",
        ENTITLEMENTS,
    ),
    scope(
        "delete:entitlement:jira-service-management",
        "Delete entitlements.",
        ENTITLEMENTS,
    ),
    scope(
        "read:task:jira-service-management",
        "Read the status of bulk operation tasks.",
        TASKS,
    ),
    READ_ME,
];

/// The scopes the picker offers for an API type, in picker order.
#[must_use]
pub fn catalogue(api: ApiType) -> &'static [ScopeInfo] {
    match api {
        ApiType::CloudPlatform => &CLOUD_PLATFORM,
        ApiType::CustomerServiceManagement => &CUSTOMER_SERVICE_MANAGEMENT,
    }
}

/// The catalogue entry for `name` (compared ignoring ASCII case), if the API type offers it.
#[must_use]
pub fn lookup(api: ApiType, name: &str) -> Option<&'static ScopeInfo> {
    catalogue(api)
        .iter()
        .find(|info| info.name.eq_ignore_ascii_case(name.trim()))
}

/// The API types whose catalogue offers `name`; used to point at the right API type when a
/// scope is chosen for the wrong one.
#[must_use]
pub fn api_types_offering(name: &str) -> Vec<ApiType> {
    ApiType::ALL
        .into_iter()
        .filter(|api| lookup(*api, name).is_some())
        .collect()
}

/// The outcome of [`ScopeSet::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedScopes {
    /// The recognised scopes, without `offline_access`.
    pub set: ScopeSet,
    /// True when the input listed `offline_access`; it is dropped from `set` because it is
    /// always requested, and the caller should say so.
    pub offline_access_note: bool,
}

/// A sorted, duplicate-free set of scope names, serialised as a JSON array of strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every scope in the catalogue of `api` (the picker's "add all" button).
    #[must_use]
    pub fn all(api: ApiType) -> Self {
        Self(
            catalogue(api)
                .iter()
                .map(|info| info.name.to_owned())
                .collect(),
        )
    }

    /// The scope names typed, in order: each input may hold several, separated by spaces or
    /// commas.
    pub fn tokens<S: AsRef<str>>(inputs: &[S]) -> impl Iterator<Item = &str> {
        inputs
            .iter()
            .flat_map(|input| {
                input
                    .as_ref()
                    .split(|c: char| c.is_whitespace() || c == ',')
            })
            .filter(|token| !token.is_empty())
    }

    /// Parses scope names for `api`. Each input may hold several names separated by spaces or
    /// commas; names match ignoring ASCII case and are stored as the catalogue spells them.
    /// `offline_access` is accepted and dropped (see [`ParsedScopes::offline_access_note`]).
    ///
    /// # Errors
    /// Every name not in the catalogue of `api`, once each, in input order.
    pub fn parse<S: AsRef<str>>(api: ApiType, inputs: &[S]) -> Result<ParsedScopes, Vec<String>> {
        let mut set = BTreeSet::new();
        let mut unknown: Vec<String> = Vec::new();
        let mut offline_access_note = false;
        for token in Self::tokens(inputs) {
            if token.eq_ignore_ascii_case(OFFLINE_ACCESS) {
                offline_access_note = true;
            } else if let Some(info) = lookup(api, token) {
                set.insert(info.name.to_owned());
            } else if !unknown.iter().any(|u| u == token) {
                unknown.push(token.to_owned());
            }
        }
        if unknown.is_empty() {
            Ok(ParsedScopes {
                set: ScopeSet(set),
                offline_access_note,
            })
        } else {
            Err(unknown)
        }
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// How many scopes were chosen.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no scope was chosen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `name` was chosen (exact match).
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The scopes not offered for `api`; empty for any set built by [`ScopeSet::parse`] with
    /// the same API type.
    #[must_use]
    pub fn not_in_catalogue(&self, api: ApiType) -> Vec<&str> {
        self.iter()
            .filter(|name| lookup(api, name).is_none())
            .collect()
    }

    /// What an authorize request asks for: the chosen scopes, sorted, then `offline_access`.
    #[must_use]
    pub fn requested(&self) -> Vec<String> {
        self.0
            .iter()
            .cloned()
            .chain(std::iter::once(OFFLINE_ACCESS.to_owned()))
            .collect()
    }

    /// The chosen scopes joined by single spaces, for display. This is not what an authorize
    /// request sends: join [`ScopeSet::requested`] for that.
    #[must_use]
    pub fn to_space_separated(&self) -> String {
        self.iter().collect::<Vec<_>>().join(" ")
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a String;
    type IntoIter = std::collections::btree_set::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        let mut set = BTreeSet::new();
        for name in names {
            let well_formed = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_graphic() && c != ',')
                && !name.eq_ignore_ascii_case(OFFLINE_ACCESS);
            if !well_formed {
                return Err(serde::de::Error::custom(format!(
                    "{name:?} is not a storable scope name"
                )));
            }
            set.insert(name);
        }
        Ok(ScopeSet(set))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn catalogues_hold_the_documented_scopes() {
        let names = |api| catalogue(api).iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(ApiType::CloudPlatform),
            [
                "read:jira-work",
                "write:jira-work",
                "read:jira-user",
                "manage:jira-project",
                "manage:jira-configuration",
                "manage:jira-webhook",
                "manage:jira-data-provider",
                "read:servicedesk-request",
                "write:servicedesk-request",
                "manage:servicedesk-customer",
                "read:servicemanagement-insight-objects",
                "read:me",
                "read:account",
            ]
        );
        let csm = names(ApiType::CustomerServiceManagement);
        assert_eq!(csm.len(), 24);
        assert_eq!(csm.last(), Some(&"read:me"));
        for name in &csm[..23] {
            assert!(name.ends_with(":jira-service-management"), "{name}");
        }
    }

    #[test]
    fn catalogue_entries_are_unique_and_described() {
        for api in ApiType::ALL {
            let mut seen = HashSet::new();
            for info in catalogue(api) {
                assert!(seen.insert(info.name), "{} listed twice", info.name);
                assert!(
                    !info.description.is_empty() && !info.group.is_empty(),
                    "{}",
                    info.name
                );
                assert_eq!(info.name, info.name.to_ascii_lowercase());
                assert_ne!(info.name, OFFLINE_ACCESS);
            }
        }
        assert_eq!(
            lookup(ApiType::CloudPlatform, "read:me").unwrap().group,
            "User identity"
        );
    }

    #[test]
    fn parse_splits_dedupes_sorts_and_canonicalises() {
        let parsed = ScopeSet::parse(
            ApiType::CloudPlatform,
            &[
                "write:jira-work, READ:JIRA-WORK",
                "read:jira-work\tread:me",
                "",
            ],
        )
        .unwrap();
        assert_eq!(
            parsed.set.iter().collect::<Vec<_>>(),
            ["read:jira-work", "read:me", "write:jira-work"]
        );
        assert!(!parsed.offline_access_note);
        assert_eq!(
            parsed.set.to_space_separated(),
            "read:jira-work read:me write:jira-work"
        );
    }

    #[test]
    fn parse_drops_offline_access_and_flags_it() {
        let parsed =
            ScopeSet::parse(ApiType::CloudPlatform, &["read:jira-work offline_access"]).unwrap();
        assert!(parsed.offline_access_note);
        assert!(!parsed.set.contains(OFFLINE_ACCESS));
        assert_eq!(parsed.set.requested(), ["read:jira-work", "offline_access"]);
    }

    #[test]
    fn parse_lists_each_unknown_scope_once() {
        let err = ScopeSet::parse(
            ApiType::CustomerServiceManagement,
            &[
                "read:jira-work read:customer:jira-service-management",
                "bogus read:jira-work",
            ],
        )
        .unwrap_err();
        assert_eq!(err, ["read:jira-work", "bogus"]);
        assert_eq!(
            api_types_offering("read:jira-work"),
            [ApiType::CloudPlatform]
        );
        assert_eq!(api_types_offering("read:me"), ApiType::ALL);
        assert!(api_types_offering("bogus").is_empty());
    }

    #[test]
    fn requested_always_ends_with_offline_access() {
        assert_eq!(ScopeSet::new().requested(), [OFFLINE_ACCESS]);
        let all = ScopeSet::all(ApiType::CustomerServiceManagement);
        assert_eq!(all.len(), 24);
        assert_eq!(
            all.requested().last().map(String::as_str),
            Some(OFFLINE_ACCESS)
        );
        assert!(
            all.not_in_catalogue(ApiType::CustomerServiceManagement)
                .is_empty()
        );
        assert_eq!(all.not_in_catalogue(ApiType::CloudPlatform).len(), 23);
    }

    #[test]
    fn serde_is_a_sorted_array_and_refuses_malformed_names() {
        let set = ScopeSet::parse(ApiType::CloudPlatform, &["write:jira-work read:jira-work"])
            .unwrap()
            .set;
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["read:jira-work","write:jira-work"]"#);
        let back: ScopeSet =
            serde_json::from_str(r#"["write:jira-work","read:jira-work","read:jira-work"]"#)
                .unwrap();
        assert_eq!(back, set);
        for bad in [
            r#"[""]"#,
            r#"["a b"]"#,
            r#"["offline_access"]"#,
            r#"["a,b"]"#,
        ] {
            assert!(serde_json::from_str::<ScopeSet>(bad).is_err(), "{bad}");
        }
    }
}
