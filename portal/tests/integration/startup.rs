//! Opening the database as the server does: migrations, and the PostgreSQL role rules.

use crate::harness::{APP_ROLE, T0, TestDb, postgres_url_for};
use portal::clock::ManualClock;
use portal::config::Config;
use portal::db::{Backend, ConnectOptions, DatabaseUrl, Db, DbError};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
use std::sync::Arc;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(T0))
}

/// A login role with the given attributes (roles are cluster-wide: create once, tolerate races).
async fn ensure_role(admin_url: &str, name: &str, attributes: &str, member_of: &str) {
    let mut c = AnyConnection::connect(admin_url).await.unwrap();
    for attempt in 0..10 {
        let r = c
            .execute(AssertSqlSafe(format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN \
                   CREATE ROLE {name} LOGIN {attributes}; END IF; END $$;{}",
                if member_of.is_empty() {
                    String::new()
                } else {
                    format!(" GRANT {member_of} TO {name};")
                }
            )))
            .await;
        if r.is_ok() {
            break;
        }
        assert!(attempt < 9, "cannot create role {name}: {r:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.close().await.unwrap();
}

async fn connect_as(t: &TestDb, role: &str) -> Db {
    let db_name = t.admin_url.rsplit('/').next().unwrap();
    let url = DatabaseUrl::parse(&postgres_url_for(role, db_name)).unwrap();
    Db::connect(&url, &ConnectOptions::default(), clock())
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_refuses_roles_that_row_level_security_does_not_bind() {
    let t = TestDb::new(Backend::Postgres).await;
    let cases = [
        ("postgres", "", "", "is a superuser"),
        (
            "printyx_test_bypass",
            "BYPASSRLS",
            "printyx_app",
            "has BYPASSRLS",
        ),
        ("printyx_test_owner", "", "postgres", "owns the tables"),
        (
            "printyx_test_stranger",
            "",
            "",
            "is not a member of printyx_app",
        ),
    ];
    for (role, attributes, member_of, why) in cases {
        if role != "postgres" {
            ensure_role(&t.admin_url, role, attributes, member_of).await;
        }
        let db = connect_as(&t, role).await;
        match db.check_role_is_unprivileged().await {
            Err(e @ DbError::UnsafeRole { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(why) && msg.contains(role), "{role}: {msg}");
            }
            other => panic!("{role} was not refused: {other:?}"),
        }
    }
    connect_as(&t, APP_ROLE)
        .await
        .check_role_is_unprivileged()
        .await
        .unwrap();
}

#[tokio::test]
async fn postgres_server_start_migrates_with_the_admin_url_and_runs_as_the_app_role() {
    // a fresh, unmigrated database
    let t = TestDb::new(Backend::Postgres).await;
    let db_name = t.admin_url.rsplit('/').next().unwrap().to_owned();
    let fresh = format!("{db_name}_fresh");
    let mut admin = t.admin().await;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {fresh}")))
        .await
        .unwrap();

    let mut config = Config {
        database_url: postgres_url_for(APP_ROLE, &fresh),
        ..Config::default()
    };
    // without the owner's URL the app role cannot migrate: a clear refusal, not a crash
    let err = portal::server::open_database(&config, clock())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DbError::UnsafeRole { .. } | DbError::MigrationsPending(_)
        ),
        "{err}"
    );

    config.database_admin_url = Some(postgres_url_for("postgres", &fresh));
    let db = portal::server::open_database(&config, clock())
        .await
        .unwrap();
    assert!(db.pending_migrations().await.unwrap().is_empty());
    db.close().await;
    // the superuser as the app URL is refused unless development mode allows it
    config.database_url = postgres_url_for("postgres", &fresh);
    assert!(matches!(
        portal::server::open_database(&config, clock()).await,
        Err(DbError::UnsafeRole { .. })
    ));
    config.allow_privileged_database_role = true;
    portal::server::open_database(&config, clock())
        .await
        .unwrap()
        .close()
        .await;
    admin
        .execute(AssertSqlSafe(format!("DROP DATABASE {fresh} WITH (FORCE)")))
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_start_creates_and_migrates_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let config = Config {
        database_url: format!("sqlite://{}", path.display()),
        ..Config::default()
    };
    let db = portal::server::open_database(&config, clock())
        .await
        .unwrap();
    assert!(path.is_file());
    assert!(db.pending_migrations().await.unwrap().is_empty());
    db.ping().await.unwrap();
    // opening again is a no-op
    db.close().await;
    portal::server::open_database(&config, clock())
        .await
        .unwrap()
        .close()
        .await;
}

#[tokio::test]
async fn an_unmigrated_database_reports_its_pending_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("x.db").display())).unwrap();
    let db = Db::connect(&url, &ConnectOptions::default(), clock())
        .await
        .unwrap();
    // every migration file, in order
    let mut versions: Vec<i64> = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite"),
    )
    .unwrap()
    .map(|e| {
        let name = e.unwrap().file_name().into_string().unwrap();
        name.split('_').next().unwrap().parse().unwrap()
    })
    .collect();
    versions.sort_unstable();
    assert!(versions.len() >= 5);
    assert_eq!(db.pending_migrations().await.unwrap(), versions);
    db.migrate().await.unwrap();
    assert!(db.pending_migrations().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_locations_fail_with_a_reason_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("no/such/dir/p.db");
    for (url, expect) in [
        (
            format!("sqlite://{}", missing_dir.display()),
            "does not exist",
        ),
        (
            format!("sqlite://{}", dir.path().display()),
            "is a directory",
        ),
        ("sqlite:///sys/printyx-test.db".to_owned(), "unable to open"),
        (
            "postgres://printyx@127.0.0.1:1/printyx".to_owned(),
            "Connection refused",
        ),
    ] {
        let parsed = DatabaseUrl::parse(&url).unwrap();
        let err = Db::connect(&parsed, &ConnectOptions::default(), clock())
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expect), "{url}: {err}");
    }
    assert!(!std::path::Path::new("/sys/printyx-test.db").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}
