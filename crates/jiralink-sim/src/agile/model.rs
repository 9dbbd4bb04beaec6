//! Boards, sprints and saved filters of one site, and the sprints of generated issues.
//!
//! Generated data (from the catalog and the generation anchor, no per-issue work): one board
//! per software project (scrum) and per business project (kanban), each backed by the filter
//! `project = KEY ORDER BY Rank ASC`; every scrum board has [`CLOSED_PER_BOARD`] closed
//! two-week sprints, one active sprint (started five days before the anchor) and two future
//! sprints. Which sprints a generated issue is in follows from its index and status category
//! ([`generated_sprints`]), so a million-issue site stores nothing per issue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::generate::{Catalog, DONE, GenRow, Generator, INDETERMINATE, mix};

/// Numeric id of the Sprint custom field.
pub const SPRINT_FIELD_ID: u64 = 10020;
/// Field id of the Sprint custom field.
pub const SPRINT_FIELD: &str = "customfield_10020";
/// `schema.custom` of the Sprint field.
pub const SPRINT_TYPE: &str = "com.pyxis.greenhopper.jira:gh-sprint";
/// The Rank custom field boards order by.
pub const RANK_FIELD_ID: u64 = 10019;
/// Story Points, the estimation field of scrum boards.
pub const ESTIMATION_FIELD: &str = "customfield_10010";

/// Closed sprints generated per scrum board.
pub const CLOSED_PER_BOARD: u64 = 4;
/// Sprints generated per scrum board: closed ones, one active, two future.
pub const SPRINTS_PER_BOARD: u64 = CLOSED_PER_BOARD + 3;
/// Ids of generated filters start here.
pub const FIRST_FILTER_ID: u64 = 10_000;

const DAY_MS: i64 = 86_400_000;
const SPRINT_DAYS: i64 = 14;
const SALT_SPRINT: u64 = 7_001;

const GOALS: &[&str] = &[
    "Ship the onboarding flow",
    "Stabilise the release candidate",
    "Pay down reporting debt",
    "Finish the billing migration",
    "Harden the public API",
    "Improve search relevance",
    "Polish the mobile experience",
];

/// Scrum or kanban.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoardKind {
    /// Sprints and a backlog.
    Scrum,
    /// Continuous flow, no sprints.
    Kanban,
}

impl BoardKind {
    /// `scrum` or `kanban`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scrum => "scrum",
            Self::Kanban => "kanban",
        }
    }

    /// Reads `scrum`/`kanban` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "scrum" => Some(Self::Scrum),
            "kanban" => Some(Self::Kanban),
            _ => None,
        }
    }
}

/// A board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Scrum or kanban.
    pub kind: BoardKind,
    /// The saved filter selecting its issues.
    pub filter_id: u64,
    /// Project the board is located in (its filter's project).
    pub project_id: Option<u64>,
}

/// A saved filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The JQL.
    pub jql: String,
    /// Owner's account id.
    pub owner: Option<String>,
    /// Whether the owner marked it favourite.
    #[serde(default)]
    pub favourite: bool,
}

/// A sprint's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SprintState {
    /// Not started.
    Future,
    /// Started, not completed.
    Active,
    /// Completed.
    Closed,
}

impl SprintState {
    /// `future`, `active` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Future => "future",
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }

    /// Reads a state (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "future" => Some(Self::Future),
            "active" => Some(Self::Active),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// Future or active: the sprint still takes issues (`openSprints()`).
    pub fn is_open(self) -> bool {
        self != Self::Closed
    }
}

/// A sprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sprint {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// State.
    pub state: SprintState,
    /// The board it was created on.
    pub board_id: u64,
    /// Start (ms).
    pub start: Option<i64>,
    /// Planned end (ms).
    pub end: Option<i64>,
    /// When it was completed (ms).
    pub complete: Option<i64>,
    /// Creation time (ms).
    pub created: i64,
    /// Goal.
    pub goal: String,
}

/// The agile configuration of a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgileData {
    /// Boards by id.
    pub boards: BTreeMap<u64, Board>,
    /// Sprints by id.
    pub sprints: BTreeMap<u64, Sprint>,
    /// Saved filters by id.
    pub filters: BTreeMap<u64, Filter>,
    /// Next board id.
    pub next_board: u64,
    /// Next sprint id.
    pub next_sprint: u64,
    /// Next filter id.
    pub next_filter: u64,
    /// Ranks of the issues ranked through `PUT /issue/rank`; every other issue ranks by its id.
    #[serde(default)]
    pub ranks: BTreeMap<u64, f64>,
}

impl Default for AgileData {
    fn default() -> Self {
        Self {
            boards: BTreeMap::new(),
            sprints: BTreeMap::new(),
            filters: BTreeMap::new(),
            next_board: 1,
            next_sprint: 1,
            next_filter: FIRST_FILTER_ID,
            ranks: BTreeMap::new(),
        }
    }
}

/// The id of the first generated sprint of the scrum board of the project at `position`, or
/// `None` for projects without a scrum board. Sprint ids are laid out by the order of the
/// software projects, so generated issues find theirs without any lookup table.
pub fn first_sprint_id(catalog: &Catalog, position: usize) -> Option<u64> {
    let project = catalog.projects.get(position)?;
    if project.project_type_key != "software" {
        return None;
    }
    let ordinal = catalog
        .projects
        .iter()
        .take(position)
        .filter(|p| p.project_type_key == "software")
        .count();
    Some(1 + u64::try_from(ordinal).ok()? * SPRINTS_PER_BOARD)
}

/// The sprints (oldest first) a generated issue of a scrum project is in, from its index and
/// status category. Done work sits in a closed sprint (some in the active one, some carried
/// over between two closed sprints); work in progress in the active sprint (some carried over
/// from the last closed one); work to do in the active or a future sprint, or in the backlog
/// (some after an unfinished closed sprint).
pub fn generated_sprints(seed: u64, first: u64, index: u64, category: &str) -> Vec<u64> {
    let h = mix(seed, index, SALT_SPRINT);
    let last_closed = first + CLOSED_PER_BOARD - 1;
    let active = first + CLOSED_PER_BOARD;
    match category {
        DONE => {
            if h.is_multiple_of(5) {
                return vec![active];
            }
            let k = (h / 5) % CLOSED_PER_BOARD;
            if (h / 25).is_multiple_of(3) && k + 1 < CLOSED_PER_BOARD {
                vec![first + k, first + k + 1]
            } else {
                vec![first + k]
            }
        }
        INDETERMINATE => {
            if h.is_multiple_of(4) {
                vec![last_closed, active]
            } else {
                vec![active]
            }
        }
        _ => match h % 6 {
            0 | 1 => vec![active],
            2 => vec![active + 1],
            3 => vec![active + 2],
            4 => vec![last_closed],
            _ => Vec::new(),
        },
    }
}

/// The sprints of a generated issue: [`generated_sprints`] for standard issues of scrum
/// projects, the parent's for sub-tasks, none for epics and other projects.
pub fn sprints_of_row(generator: &Generator, catalog: &Catalog, row: &GenRow) -> Vec<u64> {
    let Some(first) = first_sprint_id(catalog, row.project) else {
        return Vec::new();
    };
    let Some(issue_type) = catalog.issue_types.get(row.issue_type) else {
        return Vec::new();
    };
    if issue_type.hierarchy_level > 0 {
        return Vec::new();
    }
    let (index, status) = if issue_type.subtask {
        match generator
            .parent_index(catalog, row)
            .and_then(|p| generator.row(catalog, p))
        {
            Some(parent) => (parent.index, parent.status),
            None => return Vec::new(),
        }
    } else {
        (row.index, row.status)
    };
    let Some(status) = catalog.statuses.get(status) else {
        return Vec::new();
    };
    generated_sprints(
        generator.seed(),
        first,
        index,
        catalog.category_of(&status.id),
    )
}

impl AgileData {
    /// The generated boards, filters and sprints of a site's catalog; `anchor_ms` is the end of
    /// generated history.
    pub fn generate(catalog: &Catalog, anchor_ms: i64) -> Self {
        let mut data = Self::default();
        let day = anchor_ms.div_euclid(DAY_MS) * DAY_MS;
        let active_start = day - 5 * DAY_MS + 9 * 3_600_000;
        for (position, project) in catalog.projects.iter().enumerate() {
            let kind = match project.project_type_key.as_str() {
                "software" => BoardKind::Scrum,
                "business" => BoardKind::Kanban,
                _ => continue,
            };
            let board_id = data.next_board;
            data.next_board += 1;
            let filter_id = data.next_filter;
            data.next_filter += 1;
            data.filters.insert(
                filter_id,
                Filter {
                    id: filter_id,
                    name: format!("Filter for {} board", project.key),
                    description: String::new(),
                    jql: format!("project = {} ORDER BY Rank ASC", project.key),
                    owner: Some(project.lead.clone()),
                    favourite: false,
                },
            );
            data.boards.insert(
                board_id,
                Board {
                    id: board_id,
                    name: format!("{} board", project.key),
                    kind,
                    filter_id,
                    project_id: Some(project.id),
                },
            );
            let Some(first) = first_sprint_id(catalog, position) else {
                continue;
            };
            for n in 0..SPRINTS_PER_BOARD {
                let id = first + n;
                let offset =
                    i64::try_from(n).unwrap_or(0) - i64::try_from(CLOSED_PER_BOARD).unwrap_or(0);
                let start = active_start + offset * SPRINT_DAYS * DAY_MS;
                let state = match n.cmp(&CLOSED_PER_BOARD) {
                    std::cmp::Ordering::Less => SprintState::Closed,
                    std::cmp::Ordering::Equal => SprintState::Active,
                    std::cmp::Ordering::Greater => SprintState::Future,
                };
                // The next sprint is planned; the one after has no dates yet.
                let dated = n <= CLOSED_PER_BOARD + 1;
                let goal = GOALS
                    .get(usize::try_from(id).unwrap_or(0).wrapping_add(position) % GOALS.len())
                    .copied()
                    .unwrap_or_default();
                data.sprints.insert(
                    id,
                    Sprint {
                        id,
                        name: format!("{} Sprint {}", project.key, n + 1),
                        state,
                        board_id,
                        start: dated.then_some(start),
                        end: dated.then_some(start + SPRINT_DAYS * DAY_MS),
                        complete: (state == SprintState::Closed)
                            .then_some(start + SPRINT_DAYS * DAY_MS - 2 * 3_600_000),
                        created: start - 3 * DAY_MS,
                        goal: if n == SPRINTS_PER_BOARD - 1 {
                            String::new()
                        } else {
                            goal.to_owned()
                        },
                    },
                );
                data.next_sprint = data.next_sprint.max(id + 1);
            }
        }
        data
    }

    /// A sprint by id.
    pub fn sprint(&self, id: u64) -> Option<&Sprint> {
        self.sprints.get(&id)
    }

    /// A sprint by name (case-insensitive), as JQL `sprint = "DEMO Sprint 3"` names them.
    pub fn sprint_by_name(&self, name: &str) -> Vec<&Sprint> {
        self.sprints
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name.trim()))
            .collect()
    }

    /// The board by id.
    pub fn board(&self, id: u64) -> Option<&Board> {
        self.boards.get(&id)
    }

    /// The filter by id.
    pub fn filter(&self, id: u64) -> Option<&Filter> {
        self.filters.get(&id)
    }

    /// Sprints of a board, by id.
    pub fn sprints_of(&self, board_id: u64) -> impl Iterator<Item = &Sprint> {
        self.sprints
            .values()
            .filter(move |s| s.board_id == board_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::model::FIRST_ISSUE_ID;
    use crate::data::store::tests::site;

    #[test]
    fn every_scrum_board_has_closed_active_and_future_sprints() {
        let data = site();
        let agile = data.agile();
        let scrum: Vec<&Board> = agile
            .boards
            .values()
            .filter(|b| b.kind == BoardKind::Scrum)
            .collect();
        assert_eq!(scrum.len(), 2);
        for board in scrum {
            let states: Vec<SprintState> = agile.sprints_of(board.id).map(|s| s.state).collect();
            assert_eq!(states.len(), 7);
            assert_eq!(
                states.iter().filter(|s| **s == SprintState::Active).count(),
                1
            );
            assert!(
                agile
                    .sprints_of(board.id)
                    .filter(|s| s.state == SprintState::Closed)
                    .all(|s| s.complete.is_some() && s.end > s.start)
            );
        }
        assert_eq!(agile.next_sprint, 15);
    }

    #[test]
    fn generated_issues_carry_their_row_sprints() {
        let data = site();
        let mut with_sprints = 0;
        for index in 0..data.generated_count() {
            let id = FIRST_ISSUE_ID + index;
            let issue = data.issue_by_id(id).expect("issue");
            assert_eq!(issue.sprints, data.sprint_ids(id), "{}", issue.key);
            let open = issue
                .sprints
                .iter()
                .filter(|s| data.sprint_state(**s).is_some_and(SprintState::is_open))
                .count();
            assert!(open <= 1, "{}", issue.key);
            let category = data.catalog().category_of(&issue.status);
            // Done work is in closed sprints, or alone in the active one.
            if category == DONE && !data.is_subtask(id) && open == 1 {
                assert_eq!(issue.sprints.len(), 1, "{}", issue.key);
            }
            if let Some(parent) = issue.parent
                && data.is_subtask(id)
            {
                assert_eq!(issue.sprints, data.sprint_ids(parent), "{}", issue.key);
            }
            with_sprints += usize::from(!issue.sprints.is_empty());
        }
        assert!(with_sprints > 20, "{with_sprints}");
    }

    #[test]
    fn moves_replace_the_open_sprint_and_keep_closed_ones() {
        let data = site();
        let agile = data.agile();
        assert_eq!(agile.sprint_move(&[3, 5], Some(6)), Ok(vec![3, 6]));
        assert_eq!(agile.sprint_move(&[3, 5], None), Ok(vec![3]));
        assert!(agile.sprint_move(&[], Some(1)).is_err(), "closed");
        assert!(agile.sprint_move(&[], Some(999)).is_err(), "unknown");
        assert_eq!(data.sprint_ids_named("demo sprint 5"), vec![5]);
    }

    #[test]
    fn ranking_places_issues_between_their_neighbours() {
        let mut data = site();
        let agile = data.agile_mut();
        agile.rank(&[10_005, 10_006], 10_002, true);
        let order = |a: &AgileData| {
            let mut ids: Vec<u64> = (10_000..10_008).collect();
            ids.sort_by(|x, y| a.rank_of(*x).total_cmp(&a.rank_of(*y)));
            ids
        };
        assert_eq!(
            order(agile),
            [
                10_000, 10_001, 10_005, 10_006, 10_002, 10_003, 10_004, 10_007
            ]
        );
        agile.rank(&[10_000], 10_006, false);
        assert_eq!(
            order(agile),
            [
                10_001, 10_005, 10_006, 10_000, 10_002, 10_003, 10_004, 10_007
            ]
        );
        agile.rank(&[10_007], 10_001, true);
        assert_eq!(order(agile)[0], 10_007);
    }
}
