//! Imports: records from a file into Jira, each accounted for.
//!
//! - [`input`]: NDJSON, JSON array and CSV readers, one record at a time.
//! - [`mapping`]: the mapping file ([`Mapping`]) and its rules.
//! - [`actions`]: what follows each create or update (transition, comment, worklog, links,
//!   attachments), applied once however often the record is imported.
//! - [`convert`]: a value to what a Jira field expects, by the field's schema.
//! - [`plan`]: a mapping checked against a project's create screen.
//! - [`ledger`]: record identity → issue across runs ([`ImportLedger`]), results and journal.
//! - [`run`]: one run, [`run_import`].
//! - [`service`]: Service Management and Customer Service Management resources.

pub mod actions;
pub mod convert;
pub mod input;
pub mod ledger;
pub mod mapping;
pub mod plan;
pub mod run;
pub mod service;

pub use actions::check_attachment_dir;
pub use convert::{FieldInfo, FieldKind, UserDirectory};
pub use input::{InputError, InputFormat, InputRecord, RecordSource, reader};
pub use ledger::{
    ImportJournal, ImportLedger, ImportProgress, ImportStats, LedgerEntry, LedgerState,
    MemoryLedger, NoImportProgress, RESULT_COLUMNS, RecordResult, RecordState, ResultsFormat,
    encode_results,
};
pub use mapping::{
    Actions, ExternalId, ExternalIdTarget, ImportOperation, LinkRule, Mapping, Rule, TextFormat,
    WorklogRule,
};
pub use run::{
    BATCH, IMPORT_PROPERTY, ImportJob, ImportOutcome, SEND_ATTEMPTS, check_mapping, identity,
    run_import,
};
pub use service::{Resource, ServiceSettings};
