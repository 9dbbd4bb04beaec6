//! The site's groups and who belongs to them.
//!
//! Directory members (alice, bob, carol and members added through the control API) belong to
//! the groups the identity directory gives them, and every directory administrator (who set the
//! site up with every product) also to `site-admins` and `jira-servicemanagement-users`. Generated people belong to `jira-software-users`, every third to
//! `jira-servicemanagement-users`, and each to one team group. Membership is computed from the
//! user's position, never stored per user, and group ids are derived from the seed and name
//! (the same ids `/myself?expand=groups` shows).

use std::collections::{BTreeMap, BTreeSet};

use super::model::SiteUser;
use super::store::SiteData;

/// Groups every site has.
pub const SOFTWARE_USERS: &str = "jira-software-users";
/// Jira administrators.
pub const ADMINISTRATORS: &str = "jira-administrators";
/// Site administrators.
pub const SITE_ADMINS: &str = "site-admins";
/// Service-management agents.
pub const SERVICE_USERS: &str = "jira-servicemanagement-users";
/// Team groups of generated people.
pub const TEAMS: &[&str] = &[
    "team-growth",
    "team-mobile",
    "team-platform",
    "team-support",
];

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Name, e.g. `jira-software-users`.
    pub name: String,
    /// Stable id (a UUID derived from the seed and the name).
    pub group_id: String,
}

/// The id of the group named `name` on a site generated from `seed`.
pub fn group_id(seed: u64, name: &str) -> String {
    crate::identity::cloud_id(seed, &format!("group:{name}")).to_string()
}

/// Groups of the directory members, by account id (kept beside the site data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryGroups(BTreeMap<String, BTreeSet<String>>);

impl SiteData {
    /// Records the identity directory's groups of a member (done when the site is opened).
    pub fn note_directory_groups(&mut self, account_id: &str, groups: &[String]) {
        let mut set: BTreeSet<String> = groups.iter().cloned().collect();
        if set.contains(ADMINISTRATORS) {
            set.insert(SITE_ADMINS.to_owned());
            set.insert(SERVICE_USERS.to_owned());
        }
        self.directory_groups.0.insert(account_id.to_owned(), set);
    }

    /// Whether the directory groups of a member were recorded.
    pub fn knows_directory_groups(&self, account_id: &str) -> bool {
        self.directory_groups.0.contains_key(account_id)
    }

    fn group_names_at(&self, position: usize, user: &SiteUser) -> BTreeSet<String> {
        if let Some(set) = self.directory_groups.0.get(&user.account_id) {
            return set.clone();
        }
        let mut set = BTreeSet::from([SOFTWARE_USERS.to_owned()]);
        if position.is_multiple_of(3) {
            set.insert(SERVICE_USERS.to_owned());
        }
        set.insert(TEAMS[position % TEAMS.len()].to_owned());
        set
    }

    /// Every group of the site, sorted by name.
    pub fn groups(&self) -> Vec<Group> {
        let mut names: BTreeSet<String> =
            [SOFTWARE_USERS, ADMINISTRATORS, SITE_ADMINS, SERVICE_USERS]
                .iter()
                .chain(TEAMS)
                .map(|s| (*s).to_owned())
                .collect();
        for set in self.directory_groups.0.values() {
            names.extend(set.iter().cloned());
        }
        names.into_iter().map(|n| self.group(&n)).collect()
    }

    fn group(&self, name: &str) -> Group {
        Group {
            name: name.to_owned(),
            group_id: group_id(self.seed, name),
        }
    }

    /// A group by name (any case) or id.
    pub fn find_group(&self, name_or_id: &str) -> Option<Group> {
        let wanted = name_or_id.trim();
        self.groups()
            .into_iter()
            .find(|g| g.name.eq_ignore_ascii_case(wanted) || g.group_id == wanted)
    }

    /// The groups of an account, sorted by name (empty for unknown accounts).
    pub fn groups_of(&self, account_id: &str) -> Vec<Group> {
        self.users()
            .iter()
            .position(|u| u.account_id == account_id)
            .map(|p| {
                self.group_names_at(p, &self.users()[p])
                    .iter()
                    .map(|n| self.group(n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `account_id` belongs to the group with this name (any case) or id — what
    /// `membersOf()` asks. For many accounts, resolve the group once with [`Self::find_group`]
    /// and collect [`Self::group_members`] instead.
    pub fn is_member(&self, account_id: &str, group_name_or_id: &str) -> bool {
        let Some(position) = self.users().iter().position(|u| u.account_id == account_id) else {
            return false;
        };
        let names = self.group_names_at(position, &self.users()[position]);
        let wanted = group_name_or_id.trim();
        if names.iter().any(|n| n.eq_ignore_ascii_case(wanted)) {
            return true;
        }
        self.find_group(wanted)
            .is_some_and(|g| names.contains(&g.name))
    }

    /// The members of a group in user order.
    pub fn group_members(&self, group: &Group) -> Vec<&SiteUser> {
        self.users()
            .iter()
            .enumerate()
            .filter(|(p, u)| self.group_names_at(*p, u).contains(&group.name))
            .map(|(_, u)| u)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::store::tests::site;

    #[test]
    fn generated_people_are_in_software_users_and_one_team() {
        let data = site();
        let first = data.users()[0].account_id.clone();
        assert!(data.is_member(&first, SOFTWARE_USERS));
        let teams = data
            .groups_of(&first)
            .iter()
            .filter(|g| g.name.starts_with("team-"))
            .count();
        assert_eq!(teams, 1);
        let id = data.find_group(SOFTWARE_USERS).expect("group").group_id;
        assert!(data.is_member(&first, &id));
        assert!(!data.is_member(&first, "no-such-group"));
        assert!(!data.is_member(&first, ADMINISTRATORS));
    }

    #[test]
    fn directory_groups_win_and_admins_are_site_admins() {
        let mut data = site();
        let first = data.users()[0].account_id.clone();
        data.note_directory_groups(&first, &[ADMINISTRATORS.to_owned()]);
        assert!(data.is_member(&first, SITE_ADMINS));
        assert!(data.is_member(&first, SERVICE_USERS));
        assert!(!data.is_member(&first, SOFTWARE_USERS));
        let admins = data.find_group(ADMINISTRATORS).expect("group");
        assert_eq!(data.group_members(&admins).len(), 1);
    }
}
