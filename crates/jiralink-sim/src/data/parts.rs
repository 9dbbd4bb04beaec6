//! Project versions and components as writable configuration, the site's labels and project
//! categories.
//!
//! Versions and components live in [`Project::versions`] and [`Project::components`], so issue
//! rendering and create/edit validation see every write at once. Generated issues keep the ids
//! they were generated with; deleting a version or component records where its issues went
//! (`moveFixIssuesTo`, `moveIssuesTo`, or nowhere), and that move is applied whenever a generated
//! issue is built, so a million-issue site never rewrites its issues. Changed issues get a new
//! state with the `Fix Version`, `Version` or `Component` change-history item Jira records,
//! written by the account that deleted or released the version.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::generate::GenRow;
use super::model::{Component, CustomValue, Issue, Project, Version};
use super::store::SiteData;

/// First id given to versions and components created through the API.
pub const FIRST_CREATED_PART_ID: u64 = 10_200;

/// Writable project-part state beside the catalogue (dumped with the site).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsState {
    /// Whether any version or component was written; only then the lists are dumped.
    #[serde(default)]
    pub changed: bool,
    /// Next id for a created version or component (0: not yet used).
    #[serde(default)]
    pub next_id: u64,
    /// Deleted version id → the version its issues moved to (`None`: removed from them).
    #[serde(default)]
    pub version_moves: BTreeMap<String, Option<String>>,
    /// Deleted component id → the component its issues moved to.
    #[serde(default)]
    pub component_moves: BTreeMap<String, Option<String>>,
    /// Deleted version id → the version its issues' affected versions moved to
    /// (`moveAffectedIssuesTo`; `None`: removed from them). A deleted version missing here
    /// (older dumps) is removed from them.
    #[serde(default)]
    pub affected_moves: BTreeMap<String, Option<String>>,
    /// Released version id → the version its then unresolved issues moved to
    /// (`moveUnfixedIssuesTo`). Applies to generated issues that are still unresolved as
    /// generated; changed issues were rewritten when the version was released.
    #[serde(default)]
    pub unfixed_moves: BTreeMap<String, String>,
}

/// The component, fix-version and affected-version ids of an unchanged generated issue, as
/// reads and searches both see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedParts {
    /// Component ids.
    pub components: Vec<String>,
    /// Fix version ids.
    pub fix_versions: Vec<String>,
    /// Affected version ids.
    pub affected: Vec<String>,
}

/// A project category. Jira sites start with none; the simulator gives every project one by
/// its type so that category filters and `projectCategory` have something to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectCategory {
    /// Numeric id as a string.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
}

/// The site's project categories.
pub const CATEGORIES: &[ProjectCategory] = &[
    ProjectCategory {
        id: "10000",
        name: "Engineering",
        description: "Software products and platforms.",
    },
    ProjectCategory {
        id: "10001",
        name: "Business",
        description: "Marketing, operations and people work.",
    },
    ProjectCategory {
        id: "10002",
        name: "Service",
        description: "Service desks for employees and customers.",
    },
];

/// The category of a project (by its type).
pub fn category_of(project: &Project) -> &'static ProjectCategory {
    let n = match project.project_type_key.as_str() {
        "software" => 0,
        "business" => 1,
        _ => 2,
    };
    &CATEGORIES[n]
}

/// Which list a move rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Version,
    AffectedVersion,
    Component,
}

impl Part {
    fn ids(self, issue: &Issue) -> &Vec<String> {
        match self {
            Self::Version => &issue.fix_versions,
            Self::AffectedVersion => &issue.versions,
            Self::Component => &issue.components,
        }
    }

    fn ids_mut(self, issue: &mut Issue) -> &mut Vec<String> {
        match self {
            Self::Version => &mut issue.fix_versions,
            Self::AffectedVersion => &mut issue.versions,
            Self::Component => &mut issue.components,
        }
    }
}

/// Who moves issues off a deleted or released version or component, and when; the history
/// entries of changed issues name them.
#[derive(Debug, Clone, Copy)]
pub struct PartWrite<'a> {
    /// Account id of the caller.
    pub actor: &'a str,
    /// Now (ms).
    pub now_ms: i64,
}

fn apply_moves(ids: &mut Vec<String>, moves: &BTreeMap<String, Option<String>>) -> bool {
    apply_moves_with(ids, |id| moves.get(id).cloned())
}

/// [`apply_moves`] over any look-up (`Some(target)` for a moved id), so a map of another shape
/// needs no converted copy on every generated issue.
fn apply_moves_with(ids: &mut Vec<String>, moved: impl Fn(&str) -> Option<Option<String>>) -> bool {
    if !ids.iter().any(|id| moved(id).is_some()) {
        return false;
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids.iter() {
        let target = moved(id).unwrap_or_else(|| Some(id.clone()));
        if let Some(t) = target
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    *ids = out;
    true
}

fn record_move(moves: &mut BTreeMap<String, Option<String>>, from: &str, to: Option<String>) {
    // Earlier moves into the deleted part follow it, so one look-up resolves any chain.
    for target in moves.values_mut() {
        if target.as_deref() == Some(from) {
            target.clone_from(&to);
        }
    }
    moves.insert(from.to_owned(), to);
}

impl SiteData {
    /// Applies deleted-part moves to a generated issue as it is built.
    pub(crate) fn apply_part_moves(&self, issue: &mut Issue) {
        let resolved = issue.resolution.is_some();
        self.move_generated(&mut issue.components, &mut issue.fix_versions, resolved);
        self.move_affected(&mut issue.versions);
    }

    fn move_affected(&self, versions: &mut Vec<String>) {
        if self.parts.version_moves.is_empty() && self.parts.affected_moves.is_empty() {
            return;
        }
        if versions.iter().any(|v| {
            self.parts.version_moves.contains_key(v) && !self.parts.affected_moves.contains_key(v)
        }) {
            versions.retain(|v| {
                !self.parts.version_moves.contains_key(v)
                    || self.parts.affected_moves.contains_key(v)
            });
        }
        apply_moves(versions, &self.parts.affected_moves);
    }

    /// The parts of generated row `row` (by the rule [`SiteData::issue_by_id`] builds it with:
    /// the generator's own snapshot, then the recorded moves), without building the issue.
    pub fn row_parts(&self, row: &GenRow) -> GeneratedParts {
        let resolved = self.generator.row_resolved(&self.catalog, row);
        let (mut components, mut fix_versions) =
            self.generator.parts_of(row.index, row.project, resolved);
        self.move_generated(&mut components, &mut fix_versions, resolved);
        let type_id = self
            .catalog
            .issue_types
            .get(row.issue_type)
            .map_or("", |t| t.id.as_str());
        let mut affected: Vec<String> = self
            .generator
            .affected_of(row.index, row.project, type_id)
            .map(|v| vec![v.to_owned()])
            .unwrap_or_default();
        self.move_affected(&mut affected);
        GeneratedParts {
            components,
            fix_versions,
            affected,
        }
    }

    fn move_generated(
        &self,
        components: &mut Vec<String>,
        versions: &mut Vec<String>,
        resolved: bool,
    ) {
        if !resolved && !self.parts.unfixed_moves.is_empty() {
            let unfixed = &self.parts.unfixed_moves;
            apply_moves_with(versions, |id| unfixed.get(id).map(|t| Some(t.clone())));
        }
        apply_moves(versions, &self.parts.version_moves);
        apply_moves(components, &self.parts.component_moves);
    }

    /// The component and fix-version ids of an unchanged generated issue (by index), with the
    /// recorded moves applied, without building the issue — what JQL over generated rows needs.
    /// `None` for an index that is not generated or has been changed or deleted.
    pub fn generated_parts(&self, index: u64) -> Option<(Vec<String>, Vec<String>)> {
        if index >= self.generator.total || self.is_touched(index) {
            return None;
        }
        let row = self.generator.row(&self.catalog, index)?;
        let parts = self.row_parts(&row);
        Some((parts.components, parts.fix_versions))
    }

    /// Releases a version's unresolved issues to another version of the project
    /// (`moveUnfixedIssuesTo` when releasing).
    pub fn move_unfixed_issues(
        &mut self,
        from: &str,
        to: &str,
        by: PartWrite<'_>,
    ) -> Result<(), DataError> {
        let (project, _) = self
            .version(from)
            .ok_or_else(|| DataError::ItemNotFound(format!("version {from}")))?;
        if from == to || !project.versions.iter().any(|v| v.id == to) {
            return Err(DataError::Invalid(format!(
                "The version with id {to} to move unfixed issues to does not exist in the project."
            )));
        }
        for target in self.parts.unfixed_moves.values_mut() {
            if target == from {
                *target = to.to_owned();
            }
        }
        self.parts
            .unfixed_moves
            .insert(from.to_owned(), to.to_owned());
        let moves = BTreeMap::from([(from.to_owned(), Some(to.to_owned()))]);
        self.move_overlay(Part::Version, &moves, true, by);
        self.parts.changed = true;
        self.bump_revision();
        Ok(())
    }

    fn next_part_id(&mut self) -> String {
        if self.parts.next_id == 0 {
            self.parts.next_id = FIRST_CREATED_PART_ID;
        }
        let id = self.parts.next_id;
        self.parts.next_id += 1;
        id.to_string()
    }

    fn project_mut(&mut self, project_id: u64) -> Result<&mut Project, DataError> {
        self.catalog
            .projects
            .iter_mut()
            .find(|p| p.id == project_id)
            .ok_or_else(|| DataError::ProjectNotFound(project_id.to_string()))
    }

    /// A version by id, with its project.
    pub fn version(&self, id: &str) -> Option<(&Project, &Version)> {
        self.catalog.projects.iter().find_map(|p| {
            p.versions
                .iter()
                .find(|v| v.id == id.trim())
                .map(|v| (p, v))
        })
    }

    /// A component by id, with its project.
    pub fn component(&self, id: &str) -> Option<(&Project, &Component)> {
        self.catalog.projects.iter().find_map(|p| {
            p.components
                .iter()
                .find(|c| c.id == id.trim())
                .map(|c| (p, c))
        })
    }

    /// Adds a version to a project; its id is assigned here.
    pub fn create_version(
        &mut self,
        project_id: u64,
        mut version: Version,
    ) -> Result<Version, DataError> {
        let project = self
            .catalog
            .project(project_id)
            .ok_or_else(|| DataError::ProjectNotFound(project_id.to_string()))?;
        check_version_name(project, &version.name, None)?;
        version.id = self.next_part_id();
        self.project_mut(project_id)?.versions.push(version.clone());
        self.parts.changed = true;
        self.bump_revision();
        Ok(version)
    }

    /// Changes a version with `f`; the name stays unique within the project.
    pub fn update_version(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut Version),
    ) -> Result<Version, DataError> {
        let (project, old) = self
            .version(id)
            .ok_or_else(|| DataError::ItemNotFound(format!("version {id}")))?;
        let project_id = project.id;
        let mut new = old.clone();
        f(&mut new);
        check_version_name(project, &new.name, Some(&new.id))?;
        let project = self.project_mut(project_id)?;
        if let Some(slot) = project.versions.iter_mut().find(|v| v.id == new.id) {
            *slot = new.clone();
        }
        self.parts.changed = true;
        self.bump_revision();
        Ok(new)
    }

    /// Deletes a version; its issues' fix versions move to `move_fix_to` and their affected
    /// versions to `move_affected_to` (versions of the same project), or lose it.
    pub fn delete_version(
        &mut self,
        id: &str,
        move_fix_to: Option<&str>,
        move_affected_to: Option<&str>,
        by: PartWrite<'_>,
    ) -> Result<(), DataError> {
        let (project, version) = self
            .version(id)
            .ok_or_else(|| DataError::ItemNotFound(format!("version {id}")))?;
        let project_id = project.id;
        let id = version.id.clone();
        let target = |to: Option<&str>, what: &str| match to {
            None => Ok(None),
            Some(t) => project
                .versions
                .iter()
                .find(|v| v.id == t.trim() && v.id != id)
                .map(|v| Some(v.id.clone()))
                .ok_or_else(|| {
                    DataError::Invalid(format!(
                        "The version with id {t} to move {what} to does not exist in the project."
                    ))
                }),
        };
        let fix_target = target(move_fix_to, "issues")?;
        let affected_target = target(move_affected_to, "affected issues")?;
        self.project_mut(project_id)?
            .versions
            .retain(|v| v.id != id);
        self.move_parts(Part::Version, &id, fix_target, by);
        self.move_parts(Part::AffectedVersion, &id, affected_target, by);
        Ok(())
    }

    /// Adds a component to a project; its id is assigned here.
    pub fn create_component(
        &mut self,
        project_id: u64,
        mut component: Component,
    ) -> Result<Component, DataError> {
        let project = self
            .catalog
            .project(project_id)
            .ok_or_else(|| DataError::ProjectNotFound(project_id.to_string()))?;
        check_component_name(project, &component.name, None)?;
        component.id = self.next_part_id();
        self.project_mut(project_id)?
            .components
            .push(component.clone());
        self.parts.changed = true;
        self.bump_revision();
        Ok(component)
    }

    /// Changes a component with `f`; the name stays unique within the project.
    pub fn update_component(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut Component),
    ) -> Result<Component, DataError> {
        let (project, old) = self
            .component(id)
            .ok_or_else(|| DataError::ItemNotFound(format!("component {id}")))?;
        let project_id = project.id;
        let mut new = old.clone();
        f(&mut new);
        check_component_name(project, &new.name, Some(&new.id))?;
        let project = self.project_mut(project_id)?;
        if let Some(slot) = project.components.iter_mut().find(|c| c.id == new.id) {
            *slot = new.clone();
        }
        self.parts.changed = true;
        self.bump_revision();
        Ok(new)
    }

    /// Deletes a component; its issues move to `move_to` (a component of the same project) or
    /// lose it.
    pub fn delete_component(
        &mut self,
        id: &str,
        move_to: Option<&str>,
        by: PartWrite<'_>,
    ) -> Result<(), DataError> {
        let (project, component) = self
            .component(id)
            .ok_or_else(|| DataError::ItemNotFound(format!("component {id}")))?;
        let project_id = project.id;
        let id = component.id.clone();
        let target = match move_to {
            None => None,
            Some(t) => {
                let found = project
                    .components
                    .iter()
                    .find(|c| c.id == t.trim() && c.id != id);
                Some(
                    found
                        .ok_or_else(|| {
                            DataError::Invalid(format!(
                                "The component with id {t} to move issues to does not exist in the project."
                            ))
                        })?
                        .id
                        .clone(),
                )
            }
        };
        self.project_mut(project_id)?
            .components
            .retain(|c| c.id != id);
        self.move_parts(Part::Component, &id, target, by);
        Ok(())
    }

    fn move_parts(&mut self, part: Part, from: &str, to: Option<String>, by: PartWrite<'_>) {
        let moves = match part {
            Part::Version => &mut self.parts.version_moves,
            Part::AffectedVersion => &mut self.parts.affected_moves,
            Part::Component => &mut self.parts.component_moves,
        };
        record_move(moves, from, to.clone());
        // Earlier states of changed issues (what a lagging search index still sees) name no
        // deleted part either; only the current state gets a history entry.
        let moves = BTreeMap::from([(from.to_owned(), to)]);
        for stored in self.overlay.values_mut() {
            let earlier = stored.versions.len().saturating_sub(1);
            for version in &mut stored.versions[..earlier] {
                let mut issue = (*version.issue).clone();
                if apply_moves(part.ids_mut(&mut issue), &moves) {
                    version.issue = std::sync::Arc::new(issue);
                }
            }
        }
        self.move_overlay(part, &moves, false, by);
        self.parts.changed = true;
        self.bump_revision();
    }

    /// Moves the current state of every changed issue that names a moved part, as an edit by
    /// `by.actor` with its change history.
    fn move_overlay(
        &mut self,
        part: Part,
        moves: &BTreeMap<String, Option<String>>,
        unresolved_only: bool,
        by: PartWrite<'_>,
    ) {
        let ids: Vec<u64> = self
            .overlay
            .iter()
            .filter(|(id, stored)| {
                !self.deleted.contains_key(id)
                    && stored.current().is_some_and(|c| {
                        (!unresolved_only || c.issue.resolution.is_none())
                            && part.ids(&c.issue).iter().any(|v| moves.contains_key(v))
                    })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            // The issue exists (checked above), so the write cannot fail.
            let _ = self.write(id, Some(by.actor), by.now_ms, true, |_, issue| {
                apply_moves(part.ids_mut(issue), moves);
                Ok(())
            });
        }
    }

    /// Every label on the site, sorted: the generator's label vocabulary (system labels and
    /// labels custom fields) and whatever created or edited issues carry. Never scans generated
    /// issues, so it costs the same on every size.
    pub fn labels(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self
            .generator
            .label_sets
            .iter()
            .flatten()
            .cloned()
            .collect();
        for stored in self.overlay.values() {
            for version in &stored.versions {
                all.extend(version.issue.labels.iter().cloned());
                for value in version.issue.custom.values() {
                    if let CustomValue::Labels(ls) = value {
                        all.extend(ls.iter().cloned());
                    }
                }
            }
        }
        all.into_iter().collect()
    }
}

fn check_version_name(
    project: &Project,
    name: &str,
    except: Option<&str>,
) -> Result<(), DataError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            "You must specify a valid version name".to_owned(),
        )]));
    }
    if name.chars().count() > 255 {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            "The version name must not exceed 255 characters.".to_owned(),
        )]));
    }
    if project
        .versions
        .iter()
        .any(|v| v.name.eq_ignore_ascii_case(name) && Some(v.id.as_str()) != except)
    {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            "A version with this name already exists in this project.".to_owned(),
        )]));
    }
    Ok(())
}

fn check_component_name(
    project: &Project,
    name: &str,
    except: Option<&str>,
) -> Result<(), DataError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            "The component name must not be empty.".to_owned(),
        )]));
    }
    if name.chars().count() > 255 {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            "The component name must not exceed 255 characters.".to_owned(),
        )]));
    }
    if project
        .components
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(name) && Some(c.id.as_str()) != except)
    {
        return Err(DataError::Fields(vec![(
            "name".to_owned(),
            format!("A component with the name {name} already exists in this project."),
        )]));
    }
    Ok(())
}

/// Issue counts of a project's components and versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartCounts {
    /// Component id → issues with it.
    pub components: BTreeMap<String, u64>,
    /// Version id → issues with it as a fix version.
    pub fixed: BTreeMap<String, u64>,
    /// Version id → unresolved issues with it as a fix version.
    pub unresolved: BTreeMap<String, u64>,
    /// Version id → issues with it as a fix version per status category key.
    pub categories: BTreeMap<String, BTreeMap<String, u64>>,
    /// Version id → issues with it as an affected version.
    pub affected: BTreeMap<String, u64>,
}

impl SiteData {
    /// Counts the issues of a project per component and fix version. Generated issues are
    /// counted from their seeds without being built (one project's block, a few hashes each).
    pub fn part_counts(&self, project_id: u64) -> PartCounts {
        let mut counts = PartCounts::default();
        let mut add = |components: &[String],
                       versions: &[String],
                       affected: &[String],
                       resolved: bool,
                       status: &str| {
            for v in affected {
                *counts.affected.entry(v.clone()).or_default() += 1;
            }
            for c in components {
                *counts.components.entry(c.clone()).or_default() += 1;
            }
            for v in versions {
                *counts.fixed.entry(v.clone()).or_default() += 1;
                if !resolved {
                    *counts.unresolved.entry(v.clone()).or_default() += 1;
                }
                *counts
                    .categories
                    .entry(v.clone())
                    .or_default()
                    .entry(self.catalog.category_of(status).to_owned())
                    .or_default() += 1;
            }
        };
        if let Some(position) = self
            .catalog
            .projects
            .iter()
            .position(|p| p.id == project_id)
            && let Some(block) = self.generator.blocks.iter().find(|b| b.project == position)
        {
            for index in block.start..block.start + block.count {
                if self.is_touched(index) {
                    continue;
                }
                let Some(row) = self.generator.row(&self.catalog, index) else {
                    continue;
                };
                let resolved = self.generator.row_resolved(&self.catalog, &row);
                let parts = self.row_parts(&row);
                let status = self
                    .catalog
                    .statuses
                    .get(row.status)
                    .map_or("", |s| s.id.as_str());
                add(
                    &parts.components,
                    &parts.fix_versions,
                    &parts.affected,
                    resolved,
                    status,
                );
            }
        }
        for (id, stored) in &self.overlay {
            if self.deleted.contains_key(id) {
                continue;
            }
            if let Some(v) = stored.current()
                && v.issue.project_id == project_id
            {
                add(
                    &v.issue.components,
                    &v.issue.fix_versions,
                    &v.issue.versions,
                    v.issue.resolution.is_some(),
                    &v.issue.status,
                );
            }
        }
        counts
    }
}

/// What a dump keeps of the project parts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartsDump {
    /// Ids, moves and the changed flag.
    pub state: PartsState,
    /// Project id → its components and versions.
    pub projects: BTreeMap<u64, (Vec<Component>, Vec<Version>)>,
}

impl SiteData {
    /// The project parts for a dump, `None` when nothing was written.
    pub(crate) fn dump_parts(&self) -> Option<PartsDump> {
        self.parts.changed.then(|| PartsDump {
            state: self.parts.clone(),
            projects: self
                .catalog
                .projects
                .iter()
                .map(|p| (p.id, (p.components.clone(), p.versions.clone())))
                .collect(),
        })
    }

    /// Restores dumped project parts.
    pub(crate) fn restore_parts(&mut self, dump: PartsDump) {
        for project in &mut self.catalog.projects {
            if let Some((components, versions)) = dump.projects.get(&project.id) {
                project.components.clone_from(components);
                project.versions.clone_from(versions);
            }
        }
        self.parts = dump.state;
        self.bump_revision();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::FieldChange;
    use crate::data::store::tests::site;

    const BY: PartWrite<'static> = PartWrite {
        actor: "admin",
        now_ms: 4_000_000_000_000,
    };

    #[test]
    fn moves_follow_chains_and_drop_duplicates() {
        let mut moves = BTreeMap::new();
        record_move(&mut moves, "1", Some("2".to_owned()));
        record_move(&mut moves, "2", Some("3".to_owned()));
        let mut ids = vec!["1".to_owned(), "3".to_owned(), "4".to_owned()];
        assert!(apply_moves(&mut ids, &moves));
        assert_eq!(ids, vec!["3", "4"]);
        record_move(&mut moves, "3", None);
        let mut ids = vec!["1".to_owned(), "4".to_owned()];
        apply_moves(&mut ids, &moves);
        assert_eq!(ids, vec!["4"]);
    }

    #[test]
    fn deleting_a_version_moves_generated_issues_lazily() {
        let mut data = site();
        let with_version = data
            .issue_ids()
            .filter_map(|id| data.issue_by_id(id))
            .find(|i| !i.fix_versions.is_empty())
            .expect("an issue with a fix version");
        let old = with_version.fix_versions[0].clone();
        let (project, _) = data.version(&old).expect("version");
        let other = project
            .versions
            .iter()
            .find(|v| v.id != old)
            .expect("another version")
            .id
            .clone();
        data.delete_version(&old, Some(&other), None, BY)
            .expect("deleted");
        let moved = data.issue_by_id(with_version.id).expect("issue");
        assert!(moved.fix_versions.contains(&other));
        assert!(!moved.fix_versions.contains(&old));
        assert!(data.version(&old).is_none());
    }

    #[test]
    fn created_versions_do_not_change_generated_issues() {
        let mut data = site();
        let before: Vec<Vec<String>> = data
            .issue_ids()
            .filter_map(|id| data.issue_by_id(id))
            .map(|i| i.fix_versions.clone())
            .collect();
        let project = data.projects()[0].id;
        let created = data
            .create_version(
                project,
                Version {
                    name: "9.9".to_owned(),
                    ..Version::default()
                },
            )
            .expect("created");
        assert!(created.id.parse::<u64>().expect("numeric") >= FIRST_CREATED_PART_ID);
        let after: Vec<Vec<String>> = data
            .issue_ids()
            .filter_map(|id| data.issue_by_id(id))
            .map(|i| i.fix_versions.clone())
            .collect();
        assert_eq!(before, after);
        let dup = data.create_version(
            project,
            Version {
                name: "9.9".to_owned(),
                ..Version::default()
            },
        );
        assert!(matches!(dup, Err(DataError::Fields(_))));
    }

    #[test]
    fn counts_agree_with_built_issues() {
        let mut data = site();
        let project = data.projects()[0].id;
        let first = data
            .issue_ids()
            .filter_map(|id| data.issue_by_id(id))
            .find(|i| i.project_id == project)
            .expect("an issue");
        let counted = |data: &SiteData| {
            let mut expected = PartCounts::default();
            for issue in data.issue_ids().filter_map(|id| data.issue_by_id(id)) {
                if issue.project_id != project {
                    continue;
                }
                for v in &issue.versions {
                    *expected.affected.entry(v.clone()).or_default() += 1;
                }
                for c in &issue.components {
                    *expected.components.entry(c.clone()).or_default() += 1;
                }
                for v in &issue.fix_versions {
                    *expected.fixed.entry(v.clone()).or_default() += 1;
                    if issue.resolution.is_none() {
                        *expected.unresolved.entry(v.clone()).or_default() += 1;
                    }
                    *expected
                        .categories
                        .entry(v.clone())
                        .or_default()
                        .entry(data.catalog().category_of(&issue.status).to_owned())
                        .or_default() += 1;
                }
            }
            expected
        };
        assert_eq!(data.part_counts(project), counted(&data));
        let component = data.projects()[0].components[0].id.clone();
        data.delete_component(&component, None, BY)
            .expect("deleted");
        data.delete_issue(first.id, true, "tester", 1)
            .expect("issue deleted");
        let versions: Vec<String> = data.projects()[0]
            .versions
            .iter()
            .map(|v| v.id.clone())
            .collect();
        data.move_unfixed_issues(&versions[2], &versions[0], BY)
            .expect("moved");
        assert_eq!(data.part_counts(project), counted(&data));
        let released: Vec<String> = data.projects()[0]
            .versions
            .iter()
            .filter(|v| v.released)
            .map(|v| v.id.clone())
            .collect();
        assert!(data.part_counts(project).affected.len() > 1);
        data.delete_version(&released[0], None, Some(&released[1]), BY)
            .expect("deleted");
        assert_eq!(data.part_counts(project), counted(&data));
        assert!(
            !data
                .part_counts(project)
                .affected
                .contains_key(&released[0])
        );
        for id in data.issue_ids().collect::<Vec<_>>() {
            let index = id - crate::data::model::FIRST_ISSUE_ID;
            if let Some((components, versions)) = data.generated_parts(index) {
                let issue = data.issue_by_id(id).expect("issue");
                assert_eq!(components, issue.components);
                assert_eq!(versions, issue.fix_versions);
            }
        }
    }

    #[test]
    fn moves_of_changed_issues_are_recorded_in_their_history() {
        let mut data = site();
        let project = data.projects()[0].clone();
        let [a, b, c] = [0, 1, 2].map(|n| project.versions[n].id.clone());
        let component = project.components[0].id.clone();
        let issue = data
            .issue_ids()
            .filter_map(|id| data.issue_by_id(id))
            .find(|i| i.project_id == project.id)
            .expect("an issue");
        data.edit_issue(
            issue.id,
            vec![
                FieldChange::FixVersions(vec![a.clone()]),
                FieldChange::AffectsVersions(vec![a.clone(), c.clone()]),
                FieldChange::Components(vec![component.clone()]),
            ],
            "admin",
            500,
        )
        .expect("edited");
        let entries = data.issue_by_id(issue.id).expect("issue").changelog.len();
        data.delete_version(&a, Some(&b), Some(&c), BY)
            .expect("deleted");
        let moved = data.issue_by_id(issue.id).expect("issue");
        assert_eq!(moved.fix_versions, vec![b.clone()]);
        assert_eq!(moved.versions, vec![c.clone()]);
        assert_eq!(moved.updated, BY.now_ms);
        let fields =
            |issue: &Issue, from: usize| -> Vec<(String, Option<String>, Option<String>)> {
                issue.changelog[from..]
                    .iter()
                    .flat_map(|h| h.items.iter())
                    .map(|i| (i.field.clone(), i.from.clone(), i.to.clone()))
                    .collect()
            };
        assert_eq!(
            fields(&moved, entries),
            vec![
                ("Fix Version".to_owned(), Some(a.clone()), Some(b.clone())),
                (
                    "Version".to_owned(),
                    Some(format!("{a},{c}")),
                    Some(c.clone())
                ),
            ]
        );
        assert!(
            moved.changelog[entries..]
                .iter()
                .all(|h| h.author.as_deref() == Some("admin") && h.created == BY.now_ms)
        );
        let entries = moved.changelog.len();
        data.delete_component(&component, None, BY)
            .expect("deleted");
        let moved = data.issue_by_id(issue.id).expect("issue");
        assert!(moved.components.is_empty());
        assert_eq!(
            fields(&moved, entries),
            vec![("Component".to_owned(), Some(component), Some(String::new()))]
        );
    }

    #[test]
    fn labels_come_from_the_vocabulary() {
        let data = site();
        let labels = data.labels();
        assert!(!labels.is_empty());
        assert!(labels.windows(2).all(|w| w[0] < w[1]));
    }
}
