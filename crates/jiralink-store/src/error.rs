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
    #[error("could not open the database at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
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
