//! jiralink's export engine: pulls records out of Jira through one connection's client,
//! completely, incrementally and resumably.
//!
//! - [`spec`]: what an export reads and writes ([`ExportSpec`]), checked by
//!   [`ExportSpec::validate`].
//! - [`cursor`]: the delta cursor, the opaque resume checkpoint and the known issue ids.
//! - [`engine`]: runs one export, [`run_export`].
//! - `resources`: every resource but issues (comments, worklogs, changelogs, catalogues,
//!   people, JSM and CSM lists).
//! - [`output`]: encoders (NDJSON, JSON array, …) behind the [`Encoder`] trait.
//! - [`journal`]: [`RunJournal`], through which every page is made durable before the run goes
//!   on, and [`Progress`].
//! - [`adf`]: rich text (ADF) as plain text or Markdown.
//! - [`adf_write`]: Markdown or plain text as ADF, for rich text written to Jira.
//! - [`csv`]: the CSV encoder: human column names, flattened values.
//! - [`stats`]: what a run did, [`RunStats`].
//! - [`import`]: imports: input readers, mappings, the ledger and [`import::run_import`].
//! - [`error`]: the one error type, [`SyncError`].
//!
//! The engine knows nothing of the store: the application implements [`RunJournal`].

pub mod adf;
pub mod adf_write;
mod bulk;
pub mod csv;
pub mod cursor;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
mod issues;
pub mod journal;
mod light;
pub mod output;
mod resources;
mod scan;
pub mod spec;
pub mod stats;

pub use cursor::{Checkpoint, DeltaCursor, KnownIds};
pub use engine::{ExportJob, ExportOutcome, run_export};
pub use error::SyncError;
pub use journal::{NoProgress, Progress, RunJournal};
pub use output::{Encoder, EncoderContext, encoder};
pub use spec::{AdfMode, ExportKind, ExportSpec, Format, Resource, ResourceApi};
pub use stats::RunStats;
