use sqlx::error::ErrorKind;

/// What can go wrong talking to the database, phrased for whoever has to act on it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL '{0}': use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open SQLite database {path}: {reason}")]
    SqliteOpen { path: String, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    PostgresConnect { target: String, reason: String },
    #[error(
        "refusing to run as PostgreSQL role '{role}': it {why}; row-level security would not \
         protect tenants (set allow_privileged_database_role = true only for development)"
    )]
    UnsafeRole { role: String, why: &'static str },
    #[error(
        "the database needs migrations {0:?}; run `printyx migrate` (on PostgreSQL with the \
         owning role, database_admin_url)"
    )]
    MigrationsPending(Vec<i64>),
    // The inner error is shown in the message, so it is not also a `source` (no repetition
    // when the chain is printed).
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("not found")]
    NotFound,
    /// A unique key already holds this value (constraint or column named when the database
    /// says which).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A foreign-key, check or not-null rule refused the row: bad input, not a server fault.
    #[error("refused by the database: {0}")]
    Refused(String),
    /// Row-level security refused the row (PostgreSQL 42501): a write outside the tenant.
    #[error("outside this tenant: {0}")]
    OutsideTenant(String),
    #[error("database error: {0}")]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(d) => {
                let what = d
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| d.message().to_owned());
                match d.kind() {
                    ErrorKind::UniqueViolation => DbError::Conflict(what),
                    ErrorKind::ForeignKeyViolation
                    | ErrorKind::CheckViolation
                    | ErrorKind::NotNullViolation => DbError::Refused(what),
                    _ if d.code().as_deref() == Some("42501") => {
                        DbError::OutsideTenant(d.message().to_owned())
                    }
                    _ => DbError::Other(e),
                }
            }
            _ => DbError::Other(e),
        }
    }
}

/// A value that failed its parsing constructor inside a storage call is refused input.
impl From<ingest::domain::ParseError> for DbError {
    fn from(e: ingest::domain::ParseError) -> Self {
        DbError::Refused(e.to_string())
    }
}
