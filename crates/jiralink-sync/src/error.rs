//! The one error type of the export engine.

use jiralink_atlassian::AtlassianError;

/// Why an export could not run or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Jira refused or failed a request (after the client's own retries).
    #[error(transparent)]
    Jira(#[from] AtlassianError),
    /// The export's options are not valid; the message says which and why.
    #[error("invalid export: {0}")]
    InvalidSpec(String),
    /// The place the run's output and checkpoints are kept failed.
    #[error("could not record the run's progress: {0}")]
    Journal(String),
    /// Something Jira sent, or a stored cursor or checkpoint, could not be read.
    #[error("could not read {0}")]
    Decode(String),
    /// Jira could not send an issue asked for (an `issueErrors` entry of `issue/bulkfetch`
    /// that does not say the issue is absent); `message` is Jira's.
    #[error("Jira could not send issue {id}: {message}")]
    IssueNotSent {
        /// The issue's id, as Jira gave it.
        id: String,
        /// Jira's message.
        message: String,
    },
    /// The user asked to stop the run.
    #[error("the run was cancelled")]
    Cancelled,
    /// An import's input cannot be read any further; the message says where and why.
    #[error("could not read the input: {0}")]
    Input(String),
}

impl SyncError {
    /// A stable, machine-readable code for the error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Jira(_) => "jira",
            Self::InvalidSpec(_) => "invalid_spec",
            Self::Journal(_) => "journal",
            Self::Decode(_) => "decode",
            Self::IssueNotSent { .. } => "issue_not_sent",
            Self::Cancelled => "cancelled",
            Self::Input(_) => "input",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(SyncError::InvalidSpec("x".into()).code(), "invalid_spec");
        assert_eq!(SyncError::Journal("x".into()).code(), "journal");
        assert_eq!(SyncError::Decode("x".into()).code(), "decode");
        assert_eq!(SyncError::Cancelled.code(), "cancelled");
    }
}
