use thiserror::Error;

pub type StoreResult<T> = Result<T, StoreError>;

/// Errors of the persistence layer. None of them carries a secret: the store only
/// ever handles sealed values.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{kind} not found")]
    NotFound { kind: &'static str },
    #[error("{kind} named {name:?} already exists")]
    Conflict { kind: &'static str, name: String },
    #[error("{kind} was changed by someone else meanwhile; read it again and retry")]
    Changed { kind: &'static str },
    #[error("{kind} is still in use")]
    InUse { kind: &'static str },
    #[error(
        "the database holds a record jiralink cannot read ({0}); it may have been edited by hand"
    )]
    Corrupt(String),
    /// A stored secret that is not a sealed value jiralink wrote (truncated, edited, or its
    /// key id changed): it can never be opened.
    #[error("the stored {} of {} {} is not a sealed value jiralink wrote", field.as_str(), owner.kind(), owner.id())]
    SecretUnreadable {
        owner: crate::model::SecretOwner,
        field: crate::model::SecretField,
    },
    #[error("could not open the database at {target}: {source}")]
    Open {
        /// A file path, or a URL with any password replaced by `****`.
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("could not prepare the database file {target}: {message}")]
    Io { target: String, message: String },
    #[error("{0}")]
    InvalidUrl(String),
    #[error(
        "the database {target} is not empty ({rows} rows); copy into an empty database, or \
         force the copy to replace what it holds"
    )]
    NotEmpty { target: String, rows: u64 },
    #[error(
        "the copy of table {table} does not add up: {source_rows} rows read, {target_rows} in the target; nothing was committed"
    )]
    CopyMismatch {
        table: String,
        source_rows: u64,
        target_rows: u64,
    },
    #[error(
        "the two databases are at different schema versions ({source_version} and \
         {target_version}); bring both up to date with this version of jiralink first"
    )]
    SchemaMismatch {
        source_version: i64,
        target_version: i64,
    },
    #[error("could not bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound { kind: "record" },
            other => Self::Database(other),
        }
    }
}
