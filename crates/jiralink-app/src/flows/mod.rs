//! Flows: a saved export whose records a saved import writes, run as one, with one run
//! history — the way to keep a project on one Jira site in step with a project on another.
//!
//! A run has three phases, recorded as it goes so a run whose process died is resumed where it
//! stopped (by the flow's next run, once its lease has run out):
//!
//! 1. **export**: the export runs (a delta export reads what changed since its last run).
//! 2. **import**: its records are read back from the run's output. A record whose issue is
//!    linked in the id map ([`jiralink_store::SyncLink`]) and whose `updated` is still the one
//!    the map saw is left out: nothing changed since it was last copied, in either direction,
//!    which is what keeps two flows between the same projects (one each way) from sending a
//!    copy back as a change. Linked records carry their copy's id (in `_jiralink.target`), so
//!    the import updates that issue; the others are found by the import's external id or
//!    created. The import runs as a run of the saved import, with its ledger.
//! 3. **link**: for every record the import created or updated, the comments are copied (see
//!    [`comments`]), the copy's `updated` is read back, and both directions of the link are
//!    written with the `updated` each side has now.
//!
//! A run fed by a listener ([`crate::listeners`]) reads only the issues its events named: its
//! export phase reads them by id (consistently, without the search index's lag) instead of
//! running the saved export, and a fourth phase, **delete**, deletes the copies of issues
//! deleted on the source.

mod comments;
mod definitions;
mod jobs;
mod runs;

pub use definitions::{FlowDraft, FlowView};
pub(crate) use jobs::RUN_JOB;
pub use runs::{FlowRunView, FlowStats};
pub(crate) use runs::{read_updated, same_instant};

/// The field a flow adds to each record whose issue already has a copy: the copy's issue id.
pub const TARGET_FIELD: &str = "_jiralink.target";
