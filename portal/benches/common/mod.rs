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
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            );
            portal::server::migrate_with(&url, Arc::new(SystemClock))
                .await
                .unwrap();
            Target {
                backend,
                app_url: url.clone(),
                owner_url: url,
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let db = format!("printyx_bench_{name}_{}", std::process::id());
            let mut c = AnyConnection::connect(&pg_base()).await.unwrap();
            c.execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .await
            .unwrap();
            c.execute(AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .await
                .unwrap();
            let owner = pg_url("postgres", &db);
            portal::server::migrate_with(&owner, Arc::new(SystemClock))
                .await
                .unwrap();
            let _ = c
                .execute(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'printyx_bench_app') THEN \
                     CREATE ROLE printyx_bench_app LOGIN; END IF; END $$; GRANT printyx_app TO printyx_bench_app;",
                )
                .await;
            Target {
                backend,
                app_url: pg_url("printyx_bench_app", &db),
                owner_url: owner,
                _dir: None,
            }
        }
    }
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
