use super::DbError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL whose scheme has been checked: `sqlite://PATH` (or `sqlite:PATH`) or
/// `postgres://…` / `postgresql://…`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

// Never print a PostgreSQL password.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(DbError::UnsupportedUrl(format!(
                    "{raw} (a SQLite URL needs a file path)"
                )));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        let shown = raw.split_once("://").map_or(raw, |(scheme, _)| scheme);
        Err(DbError::UnsupportedUrl(shown.to_owned()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL handed to sqlx: SQLite opened read-write and created if missing.
    pub(super) fn sqlx_url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }

    /// For messages and logs: the SQLite path, or PostgreSQL's user@host:port/db, no password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let (userinfo, hostpart) = rest.rsplit_once('@').unwrap_or(("", rest));
                let user = userinfo.split(':').next().unwrap_or_default();
                let hostpart = hostpart.split('?').next().unwrap_or_default();
                if user.is_empty() {
                    format!("postgres://{hostpart}")
                } else {
                    format!("postgres://{user}@{hostpart}")
                }
            }
        }
    }

    /// Fails early, with a message a person can act on, when a SQLite file could not be created:
    /// SQLite's own error ("unable to open database file") does not say why.
    pub(super) fn check_reachable_path(&self) -> Result<(), DbError> {
        let Self::Sqlite(path) = self else {
            return Ok(());
        };
        let open_err = |reason: String| DbError::SqliteOpen {
            path: path.display().to_string(),
            reason,
        };
        if path.is_dir() {
            return Err(open_err("that is a directory".into()));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(open_err(format!(
                "directory {} does not exist",
                dir.display()
            )));
        }
        Ok(())
    }

    pub(super) fn open_error(&self, e: sqlx::Error) -> DbError {
        let reason = match &e {
            sqlx::Error::Database(d) => d.message().to_owned(),
            sqlx::Error::Io(io) => io.to_string(),
            sqlx::Error::PoolTimedOut => "timed out".to_owned(),
            other => other.to_string(),
        };
        match self {
            Self::Sqlite(path) => DbError::SqliteOpen {
                path: path.display().to_string(),
                reason: if reason.contains("unable to open") || reason.contains("readonly") {
                    format!("{reason} (is the path writable?)")
                } else {
                    reason
                },
            },
            Self::Postgres(_) => {
                let shown = self.display();
                DbError::PostgresConnect {
                    target: shown.trim_start_matches("postgres://").to_owned(),
                    reason,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_schemes_and_names_any_other() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://printyx.db").unwrap().backend(),
            Backend::Sqlite
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:/var/lib/printyx/p.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/printyx/p.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        let err = DatabaseUrl::parse("mysql://root@localhost/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'mysql'"), "{err}");
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
    }

    #[test]
    fn display_never_shows_the_password() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cret@db.example:5432/printyx?sslmode=require")
                .unwrap();
        assert_eq!(url.display(), "postgres://app@db.example:5432/printyx");
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}
