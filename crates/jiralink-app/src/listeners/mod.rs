//! Listeners: Jira's webhooks as a flow's source.
//!
//! A listener feeds one flow from the events of the flow's source connection:
//!
//! - **OAuth 2.0 connections**: jiralink registers Jira's dynamic webhooks itself, refreshes
//!   them before their 30 days are up, deletes them with the listener and reads
//!   `webhook/failed` for deliveries Jira gave up on. Deliveries carry a JWT signed with the
//!   OAuth 2.0 client's secret.
//! - **Basic connections**: a site administrator registers an admin webhook with the URL and
//!   the secret jiralink generated; deliveries carry an `X-Hub-Signature`.
//!
//! A delivery is verified, stored, and only then acknowledged ([`receive`]); the worker
//! processes stored events at least once ([`process`]): per issue, in event order, the
//! issue's current state is read and sent through the flow, so a repeated or reordered event
//! changes nothing twice, and a deletion deletes the copy. Because deliveries can be lost,
//! a safety net ([`maintain`]) reads the changes of the flow's export since it last looked
//! and sends those no event brought.

mod definitions;
mod maintain;
mod process;
mod receive;

pub(crate) use definitions::effective_jql;
pub use definitions::{
    CreatedListener, ListenerDraft, ListenerEventView, ListenerView, SafetyNetStatus,
};
pub use maintain::{REFRESH_BEFORE, SAFETY_NET_EVERY, SWEEP_LINKS, UpkeepReport};
pub(crate) use process::FlowSource;
pub use receive::{Delivery, DeliveryOutcome};

/// Processes one listener's stored events (key `listener:<id>`).
pub(crate) const PROCESS_JOB: &str = "listeners.process";
/// Keeps one listener working (key `listener-upkeep:<id>`): refreshes its webhooks, recovers
/// failed deliveries, runs the safety net and forgets old events.
pub(crate) const UPKEEP_JOB: &str = "listeners.upkeep";

/// The largest delivery accepted, in bytes. Jira's issue events with every field are rarely
/// above a few hundred kilobytes.
pub const MAX_DELIVERY_BYTES: usize = 1024 * 1024;

/// The events a listener can take, as Jira names them.
pub const EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
    "issuelink_created",
    "issuelink_deleted",
];

/// The events a listener takes when none are named: an issue's life and its comments.
pub const DEFAULT_EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
];

fn process_key(id: uuid::Uuid) -> String {
    format!("listener:{id}")
}

/// The listener's processing job, due at `at`.
fn process_job(id: uuid::Uuid, at: time::OffsetDateTime) -> jiralink_store::NewJob {
    jiralink_store::NewJob {
        kind: PROCESS_JOB.to_owned(),
        key: process_key(id),
        payload: serde_json::json!({ "listenerId": id }),
        next_run_at: at,
    }
}

fn upkeep_key(id: uuid::Uuid) -> String {
    format!("listener-upkeep:{id}")
}
