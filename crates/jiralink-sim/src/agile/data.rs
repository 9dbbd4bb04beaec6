//! What the site data offers about boards and sprints: read accessors (also for the JQL
//! engine's `sprint` clause) and the writes that move issues between sprints.

use crate::data::generate::GenRow;
use crate::data::model::{ChangeItem, FIRST_ISSUE_ID};
use crate::data::{DataError, SiteData};

use super::model::{AgileData, SPRINT_FIELD, Sprint, SprintState, sprints_of_row};

impl AgileData {
    /// The change-history item of a change of the Sprint field (ids and names, `, `-joined).
    pub fn sprint_change(&self, old: &[u64], new: &[u64]) -> ChangeItem {
        let ids = |list: &[u64]| {
            (!list.is_empty()).then(|| {
                list.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        let names = |list: &[u64]| {
            (!list.is_empty()).then(|| {
                list.iter()
                    .map(|id| {
                        self.sprint(*id)
                            .map_or_else(|| id.to_string(), |s| s.name.clone())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        ChangeItem {
            field: "Sprint".to_owned(),
            fieldtype: "custom".to_owned(),
            field_id: SPRINT_FIELD.to_owned(),
            from: ids(old),
            from_string: names(old),
            to: ids(new),
            to_string: names(new),
        }
    }

    /// The Sprint field after putting an issue into `target` (an open sprint) or the backlog
    /// (`None`): open sprints are replaced, closed ones stay as history.
    pub fn sprint_move(&self, current: &[u64], target: Option<u64>) -> Result<Vec<u64>, String> {
        if let Some(t) = target {
            match self.sprint(t) {
                None => return Err(format!("Sprint with id {t} does not exist.")),
                Some(s) if !s.state.is_open() => {
                    return Err(format!(
                        "Sprint with id {t} is closed; issues cannot be added to it."
                    ));
                }
                Some(_) => {}
            }
        }
        let mut next: Vec<u64> = current
            .iter()
            .copied()
            .filter(|s| self.sprint(*s).is_some_and(|s| !s.state.is_open()))
            .collect();
        if let Some(t) = target {
            next.push(t);
        }
        Ok(next)
    }

    /// An issue's rank: lower ranks first (`ORDER BY Rank`).
    pub fn rank_of(&self, id: u64) -> f64 {
        self.ranks.get(&id).copied().unwrap_or(id as f64)
    }

    /// The nearest rank below (`above == false`) or above `rank`, ignoring `skip`.
    fn neighbour(&self, rank: f64, above: bool, skip: &[u64]) -> f64 {
        let ranked = self
            .ranks
            .iter()
            .filter(|(id, _)| !skip.contains(id))
            .map(|(_, r)| *r);
        let ranked = if above {
            ranked.filter(|r| *r > rank).reduce(f64::min)
        } else {
            ranked.filter(|r| *r < rank).reduce(f64::max)
        };
        // The nearest id that still ranks by itself.
        let mut n = if above {
            rank.floor() as u64 + 1
        } else {
            (rank.ceil() as u64).saturating_sub(1)
        };
        while n > 0 && (self.ranks.contains_key(&n) || skip.contains(&n)) {
            n = if above { n + 1 } else { n - 1 };
        }
        let own = n as f64;
        match ranked {
            Some(r) if above => r.min(own),
            Some(r) => r.max(own),
            None => own,
        }
    }

    /// Ranks `ids`, in order, just before (`before == true`) or after `anchor`.
    pub fn rank(&mut self, ids: &[u64], anchor: u64, before: bool) {
        let at = self.rank_of(anchor);
        let other = self.neighbour(at, !before, ids);
        let (low, high) = if before { (other, at) } else { (at, other) };
        let step = (high - low) / (ids.len() as f64 + 1.0);
        for (n, id) in ids.iter().enumerate() {
            self.ranks.insert(*id, low + step * (n as f64 + 1.0));
        }
    }

    /// The sprints of a list of ids that still exist (deleted sprints vanish from issues).
    pub fn existing<'a>(&'a self, ids: &'a [u64]) -> impl Iterator<Item = &'a Sprint> + 'a {
        ids.iter().filter_map(|id| self.sprint(*id))
    }
}

impl SiteData {
    /// Boards, sprints and saved filters.
    pub fn agile(&self) -> &AgileData {
        &self.agile
    }

    /// Boards, sprints and saved filters, for changes that do not touch issues.
    pub fn agile_mut(&mut self) -> &mut AgileData {
        &mut self.agile
    }

    /// Sprint ids (oldest first, existing sprints only) of a generated issue's row, without
    /// building the issue (for JQL over generated rows).
    pub fn sprint_ids_of_row(&self, row: &GenRow) -> Vec<u64> {
        let mut ids = sprints_of_row(&self.generator, &self.catalog, row);
        ids.retain(|s| self.agile.sprints.contains_key(s));
        ids
    }

    /// Sprint ids (oldest first, existing sprints only) of an existing issue, computed without
    /// building generated issues.
    pub fn sprint_ids(&self, id: u64) -> Vec<u64> {
        let raw = if self.overlay.contains_key(&id) || self.deleted.contains_key(&id) {
            self.issue_by_id(id)
                .map(|i| i.sprints.clone())
                .unwrap_or_default()
        } else {
            id.checked_sub(FIRST_ISSUE_ID)
                .filter(|i| *i < self.generator.total)
                .and_then(|i| self.generator.row(&self.catalog, i))
                .map(|row| sprints_of_row(&self.generator, &self.catalog, &row))
                .unwrap_or_default()
        };
        raw.into_iter()
            .filter(|s| self.agile.sprints.contains_key(s))
            .collect()
    }

    /// The state of a sprint.
    pub fn sprint_state(&self, sprint_id: u64) -> Option<SprintState> {
        self.agile.sprint(sprint_id).map(|s| s.state)
    }

    /// Ids of the sprints named `name` (case-insensitive).
    pub fn sprint_ids_named(&self, name: &str) -> Vec<u64> {
        self.agile
            .sprint_by_name(name)
            .into_iter()
            .map(|s| s.id)
            .collect()
    }

    /// The open (future or active) sprint of an issue, if any.
    pub fn open_sprint_of(&self, id: u64) -> Option<u64> {
        self.sprint_ids(id)
            .into_iter()
            .rev()
            .find(|s| self.sprint_state(*s).is_some_and(SprintState::is_open))
    }

    /// Puts issues into sprint `target` (an open sprint), or into the backlog with `None`: the
    /// open sprints are replaced, the closed ones stay in the Sprint field as history. Records
    /// the change in each issue's history; issues already there are left alone.
    pub fn move_to_sprint(
        &mut self,
        ids: &[u64],
        target: Option<u64>,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        for id in ids {
            let current = self.sprint_ids(*id);
            let next = self
                .agile
                .sprint_move(&current, target)
                .map_err(DataError::Invalid)?;
            if next == current {
                continue;
            }
            self.write(*id, Some(actor), now_ms, true, |_, issue| {
                issue.sprints = next;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Sets an issue's epic (its `parent`, for standard issues), recording history.
    pub fn set_epic(
        &mut self,
        id: u64,
        epic: Option<u64>,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), DataError> {
        let change = crate::data::FieldChange::Parent(epic.map(|e| e.to_string()));
        self.edit_issue(id, vec![change], actor, now_ms).map(|_| ())
    }
}
