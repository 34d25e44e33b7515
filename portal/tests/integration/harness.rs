//! Test databases: every storage test body runs once on SQLite and once on PostgreSQL.
//!
//! SQLite gets a file in a temporary directory. PostgreSQL gets a fresh database on the server
//! at `PRINTYX_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! migrated by the superuser (the owner) while the code under test connects as
//! `printyx_test_app`, a plain member of `printyx_app` — so row-level security applies to it
//! exactly as in production. The database is dropped when the test ends.

use portal::clock::ManualClock;
use portal::db::{Backend, ConnectOptions, DatabaseUrl, Db, TenantDb};
use portal::tenants::TenantSlug;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Connection, Executor};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// 2026-01-01T00:00:00Z: tests start here and move the clock themselves.
pub const T0: i64 = 1_767_225_600_000;

pub const APP_ROLE: &str = "printyx_test_app";

pub fn postgres_admin_url() -> String {
    std::env::var("PRINTYX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `postgres://user@host:port/db` with user and database replaced.
pub fn postgres_url_for(user: &str, database: &str) -> String {
    let admin = postgres_admin_url();
    let rest = admin.split_once("://").map_or(admin.as_str(), |(_, r)| r);
    let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = hostpart.split('/').next().unwrap_or("127.0.0.1:5432");
    format!("postgres://{user}@{host}/{database}")
}

pub struct TestDb {
    pub db: Db,
    pub clock: ManualClock,
    pub backend: Backend,
    /// The URL the owner (superuser) uses: for looking past the application's walls.
    pub admin_url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        sqlx::any::install_default_drivers();
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let clock = ManualClock::at(T0);
        let db = Db::connect(
            &DatabaseUrl::parse(&url).unwrap(),
            &ConnectOptions::default(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        db.migrate().await.unwrap();
        Self {
            db,
            clock,
            backend: Backend::Sqlite,
            admin_url: url,
            _dir: Some(dir),
            pg_name: None,
        }
    }

    pub async fn postgres() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "printyx_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand::random::<u32>()
        );
        let mut server = AnyConnection::connect(&postgres_admin_url())
            .await
            .expect("PostgreSQL must be running for the storage tests (bash .ci/test starts it)");
        drop_stale_databases(&mut server).await;
        server
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        server.close().await.unwrap();

        let admin_url = postgres_url_for("postgres", &name);
        let clock = ManualClock::at(T0);
        portal::server::migrate_with(&admin_url, Arc::new(clock.clone()))
            .await
            .unwrap();
        ensure_app_role(&admin_url).await;

        let app_url = postgres_url_for(APP_ROLE, &name);
        let db = Db::connect(
            &DatabaseUrl::parse(&app_url).unwrap(),
            &ConnectOptions::default(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        db.check_role_is_unprivileged()
            .await
            .expect("the test role must be an ordinary app role");
        Self {
            db,
            clock,
            backend: Backend::Postgres,
            admin_url,
            _dir: None,
            pg_name: Some(name),
        }
    }

    /// A new tenant through the real creation path.
    pub async fn tenant(&self, slug: &str) -> TenantDb {
        let t = self
            .db
            .create_tenant(&TenantSlug::parse(slug).unwrap(), slug)
            .await
            .unwrap();
        self.db.tenant(t.id)
    }

    /// A connection that is not subject to the application's walls (owner / superuser).
    pub async fn admin(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match self.backend {
            Backend::Sqlite => format!("{}?mode=rw", self.admin_url),
            Backend::Postgres => self.admin_url.clone(),
        };
        let mut c = AnyConnection::connect(&url).await.unwrap();
        if self.backend == Backend::Sqlite {
            c.execute("PRAGMA foreign_keys = ON").await.unwrap();
        }
        c
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = AnyConnection::connect(&postgres_admin_url()).await {
                    let _ = c
                        .execute(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

/// Databases left by test processes that no longer run (killed before their Drop ran).
async fn drop_stale_databases(server: &mut AnyConnection) {
    let names: Vec<String> = sqlx::query_scalar::<Any, String>(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'printyx_t_%'",
    )
    .fetch_all(&mut *server)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = server
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }
}

/// The login role the application runs as in tests. Roles are cluster-wide and tests run in
/// parallel, so creation races are expected and retried.
async fn ensure_app_role(admin_url: &str) {
    let mut c = AnyConnection::connect(admin_url).await.unwrap();
    for attempt in 0..10 {
        let r = c
            .execute(AssertSqlSafe(format!(
                "DO $$ BEGIN \
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN \
                     CREATE ROLE {APP_ROLE} LOGIN; \
                   END IF; \
                 END $$; \
                 GRANT printyx_app TO {APP_ROLE};"
            )))
            .await;
        match r {
            Ok(_) => break,
            Err(_) if attempt < 9 => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot create {APP_ROLE}: {e}"),
        }
    }
    // A fresh database grants CONNECT to PUBLIC; nothing more is needed.
    c.close().await.unwrap();
}

/// Runs an async test body once per backend: `backends!(name, ...)` makes `name::sqlite` and
/// `name::postgres` from `async fn name(t: TestDb)`.
#[macro_export]
macro_rules! backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::harness::TestDb::new(portal::db::Backend::Sqlite).await).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::harness::TestDb::new(portal::db::Backend::Postgres).await).await
                }
            }
        )+
    };
}

/// The real application on 127.0.0.1:0 over a [`TestDb`], for HTTP tests.
pub struct TestApp {
    pub t: TestDb,
    pub base: String,
    pub http: reqwest::Client,
    /// Wakes the app's mail sender (the server does this whenever it queues mail).
    pub mail: Arc<tokio::sync::Notify>,
}

/// Boots the router as `printyx serve` does, with `configure` applied to the default config
/// (whose `base_url` is the app's own address), and the mail sender when `[smtp]` is set.
pub async fn spawn_app(t: TestDb, configure: impl FnOnce(&mut portal::config::Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = portal::config::Config {
        base_url: base.clone(),
        ..portal::config::Config::default()
    };
    configure(&mut config);
    let state = portal::http::AppState::new(t.db.clone(), Arc::new(config)).unwrap();
    let mail = state.mail_queued.clone();
    if state.config.smtp.is_some() {
        tokio::spawn(portal::mailer::run(
            t.db.clone(),
            state.config.smtp.clone(),
            state.mail_queued.clone(),
            std::future::pending(),
        ));
    }
    let app =
        portal::http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestApp {
        t,
        base,
        http: reqwest::Client::new(),
        mail,
    }
}

/// A relay configuration for a test SMTP server on `port`.
pub fn smtp_on(port: u16) -> portal::mailer::SmtpConfig {
    portal::mailer::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: portal::mailer::SmtpSecurity::None,
        username: None,
        password: None,
        from: "Printyx <no-reply@printyx.test>".into(),
        timeout_seconds: 10,
    }
}

/// Waits (up to 20 s, without blocking the test's runtime, where the server runs) until `n`
/// messages to `to` have arrived; returns them, oldest first.
pub async fn mail_to(smtp: &e2e::smtp::SmtpServer, to: &str, n: usize) -> Vec<e2e::smtp::Received> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got: Vec<_> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} message(s) to {to} expected, {} arrived; the SMTP server said:\n{}",
            got.len(),
            smtp.proc.lines.try_iter().collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A fixed secret key for tests that keep secrets (32 bytes of 7, base64).
pub const TEST_SECRET_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// An active user (one who has set a password) of `kind` holding the role named `role`.
pub async fn active_user(
    tx: &mut portal::db::TenantTx,
    kind: portal::users::UserKind,
    email: &str,
    role: &str,
) -> Result<portal::ids::UserId, portal::db::DbError> {
    let role = tx.role_by_name(role).await?;
    let email = ingest::domain::EmailAddress::parse(email)?;
    let new = portal::users::NewUser::new(kind, email, "Test User")?
        .password_hash("$argon2id$test".into());
    Ok(tx.create_user(&new, &[role.id]).await?.id)
}

/// An active user as above and an API token for it holding `permissions`.
pub async fn user_token(
    tx: &mut portal::db::TenantTx,
    kind: portal::users::UserKind,
    email: &str,
    role: &str,
    permissions: &[portal::auth::Permission],
) -> Result<String, portal::db::DbError> {
    let user = active_user(tx, kind, email, role).await?;
    tx.create_api_token(user, "test", &permissions.iter().copied().collect())
        .await
}

/// One number from the database (as its owner, past row-level security): what a test asserts.
pub async fn count(t: &TestDb, sql: &str) -> i64 {
    let mut c: sqlx::AnyConnection = t.admin().await;
    sqlx::query_scalar::<sqlx::Any, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut c)
        .await
        .unwrap()
}
