//! What the benchmarks share: a database to measure on (SQLite in a temporary folder, or a fresh
//! PostgreSQL database with the application's unprivileged role), opened as the server opens it.
#![allow(dead_code)]

use portal::clock::SystemClock;
use portal::db::{Backend, ConnectOptions, DatabaseUrl, Db};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
use std::sync::Arc;

pub struct Target {
    pub backend: Backend,
    /// The application's URL and an owner URL for the baseline and setup.
    pub app_url: String,
    pub owner_url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn pg_base() -> String {
    std::env::var("PRINTYX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn pg_url(user: &str, db: &str) -> String {
    let base = pg_base();
    let rest = base.split_once("://").unwrap().1;
    let host = rest
        .rsplit_once('@')
        .map_or(rest, |(_, h)| h)
        .split('/')
        .next()
        .unwrap();
    format!("postgres://{user}@{host}/{db}")
}

pub async fn target(backend: Backend, name: &str) -> Target {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let mut t = sqlite_at(&dir.path().join(format!("{name}.db"))).await;
            t._dir = Some(dir);
            t
        }
        Backend::Postgres => {
            postgres_named(&format!("printyx_bench_{name}_{}", std::process::id())).await
        }
    }
}

/// Where kept data lives: the workspace's `target/bench-data`.
fn kept_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A database that outlives the run, for data that takes long to make: the one a finished
/// earlier run kept (answering `true`), or a fresh one (`false`) to be filled and then marked
/// with [`mark_kept`]. A run that stopped half-way left no mark, so its data is made again.
pub async fn kept_target(backend: Backend, name: &str) -> (Target, bool) {
    sqlx::any::install_default_drivers();
    let mark = kept_dir().join(format!("{name}.{backend:?}.done"));
    let (t, exists) = match backend {
        Backend::Sqlite => {
            let path = kept_dir().join(format!("{name}.db"));
            let exists = path.exists();
            if !(exists && mark.exists()) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            (sqlite_at(&path).await, exists)
        }
        Backend::Postgres => {
            let db = format!("printyx_bench_{name}");
            let mut c = AnyConnection::connect(&pg_base()).await.unwrap();
            let exists: bool = sqlx::query_scalar(
                "SELECT CAST(COUNT(*) AS BIGINT) > 0 FROM pg_database WHERE datname = $1",
            )
            .bind(&db)
            .fetch_one(&mut c)
            .await
            .unwrap();
            if exists && mark.exists() {
                let owner = pg_url("postgres", &db);
                portal::server::migrate_with(&owner, Arc::new(SystemClock))
                    .await
                    .unwrap();
                grant_app_role(&mut c).await;
                let t = Target {
                    backend,
                    app_url: pg_url("printyx_bench_app", &db),
                    owner_url: owner,
                    _dir: None,
                };
                (t, true)
            } else {
                (postgres_named(&db).await, false)
            }
        }
    };
    let reused = exists && mark.exists();
    if !reused {
        let _ = std::fs::remove_file(&mark);
    }
    (t, reused)
}

/// Marks a kept target's data as complete.
pub fn mark_kept(backend: Backend, name: &str) {
    std::fs::write(kept_dir().join(format!("{name}.{backend:?}.done")), b"").unwrap();
}

async fn sqlite_at(path: &std::path::Path) -> Target {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", path.display());
    portal::server::migrate_with(&url, Arc::new(SystemClock))
        .await
        .unwrap();
    Target {
        backend: Backend::Sqlite,
        app_url: url.clone(),
        owner_url: url,
        _dir: None,
    }
}

/// A fresh PostgreSQL database `db` (dropped first if there), migrated, with the
/// application's unprivileged role to run as.
async fn postgres_named(db: &str) -> Target {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(&pg_base()).await.unwrap();
    c.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .await
    .unwrap();
    c.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .unwrap();
    let owner = pg_url("postgres", db);
    portal::server::migrate_with(&owner, Arc::new(SystemClock))
        .await
        .unwrap();
    grant_app_role(&mut c).await;
    Target {
        backend: Backend::Postgres,
        app_url: pg_url("printyx_bench_app", db),
        owner_url: owner,
        _dir: None,
    }
}

async fn grant_app_role(c: &mut AnyConnection) {
    let _ = c
        .execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'printyx_bench_app') THEN \
             CREATE ROLE printyx_bench_app LOGIN; END IF; END $$; GRANT printyx_app TO printyx_bench_app;",
        )
        .await;
}

pub async fn drop_target(t: &Target) {
    if t.backend == Backend::Postgres {
        let db = t.owner_url.rsplit('/').next().unwrap();
        let mut c = AnyConnection::connect(&pg_base()).await.unwrap();
        let _ = c
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .await;
    }
}

/// The application's pool on the target, as the server opens it.
pub async fn connect_app(t: &Target) -> Db {
    let options = ConnectOptions {
        max_connections: portal::config::Config::default().database_max_connections,
        ..ConnectOptions::default()
    };
    Db::connect(
        &DatabaseUrl::parse(&t.app_url).unwrap(),
        &options,
        Arc::new(SystemClock),
    )
    .await
    .unwrap()
}
