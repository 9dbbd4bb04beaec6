//! Errors of the site data API.

/// Why a data operation was refused. The platform API maps each variant to Jira's status code and
/// `ErrorCollection` (see `crate::platform`); other modules choose their own wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// No issue has this id or key.
    #[error("issue {0} does not exist")]
    IssueNotFound(String),
    /// No project has this id or key.
    #[error("project {0} does not exist")]
    ProjectNotFound(String),
    /// No comment, worklog or property has this id or key on the issue.
    #[error("{0} does not exist on the issue")]
    ItemNotFound(String),
    /// Field values were rejected; one message per field id, as Jira reports them.
    #[error("invalid field values: {}", .0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))]
    Fields(Vec<(String, String)>),
    /// The request cannot be carried out as a whole (message in Jira's wording).
    #[error("{0}")]
    Invalid(String),
    /// The transition does not exist or is not available from the current status.
    #[error("transition {0} is not valid for the issue's current status")]
    InvalidTransition(String),
    /// A per-issue cap (comments, worklogs, properties) was reached.
    #[error("the issue reached the limit of {limit} {what}; delete some before adding more")]
    LimitReached {
        /// What is limited.
        what: &'static str,
        /// The cap.
        limit: usize,
    },
    /// A dump could not be loaded.
    #[error("cannot load the state dump: {0}")]
    Dump(String),
}
