//! The database: one set of queries for SQLite (the embedded default) and PostgreSQL.
//!
//! Every query goes through sqlx's `Any` driver with `$1` placeholders, integer ids, integer
//! epoch-millisecond times and integer 0/1 flags, so the same statement runs on both. Tenant
//! data is reachable only through [`TenantDb`], which carries the tenant into every statement
//! and, on PostgreSQL, into the transaction setting that row-level security checks — the second
//! wall in case a statement forgets its `tenant_id = $1`.

mod error;
mod url;

pub use error::DbError;
pub use url::{Backend, DatabaseUrl};

use crate::clock::Clock;
use ingest::ids::TenantId;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor, Row};
use std::sync::Arc;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// How to open the pool; the defaults suit the server.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A connection pool plus the clock every stored time comes from.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// SQLite has one writer at a time. Writers of this process queue here, in order, and
    /// each is woken the moment the previous one commits; without it they would wait in
    /// SQLite's busy handler, which polls with growing sleeps (up to 100 ms) and lets a
    /// writer that just arrived overtake one that has waited long.
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens the database. A SQLite file is created if missing (its directory must exist and be
    /// writable); PostgreSQL must be reachable. Nothing is migrated here.
    pub async fn connect(
        url: &DatabaseUrl,
        options: &ConnectOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        url.check_reachable_path()?;
        // One direct connection first: the pool retries until its timeout and then reports only
        // "timed out", where this reports the cause (refused, unknown host, bad password…).
        let probe = tokio::time::timeout(
            options.acquire_timeout,
            sqlx::AnyConnection::connect(&url.sqlx_url()),
        )
        .await
        .map_err(|_| url.open_error(sqlx::Error::PoolTimedOut))?
        .map_err(|e| url.open_error(e))?;
        probe.close().await.map_err(|e| url.open_error(e))?;
        let backend = url.backend();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes a
                        // second writer wait instead of failing at once.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url.sqlx_url())
            .await
            .map_err(|e| url.open_error(e))?;
        Ok(Self {
            pool,
            backend,
            clock,
            writer: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies pending migrations. On PostgreSQL this needs the role that owns the schema.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(DbError::Migrate)
    }

    /// Versions this build knows that the database has not applied (read-only check, usable by
    /// the unprivileged application role).
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, DbError> {
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_all(&self.pool)
                .await
            {
                Ok(v) => v,
                // No migration table at all: nothing applied yet.
                Err(sqlx::Error::Database(e)) if is_undefined_table(e.as_ref()) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .map(|m| m.version)
            .collect())
    }

    /// Refuses a PostgreSQL role for which row-level security would not apply: a superuser, a
    /// BYPASSRLS role, or one that owns (or is a member of the owner of) the tables. SQLite has
    /// no roles; the tenant-scoped handle is its wall.
    pub async fn check_role_is_unprivileged(&self) -> Result<(), DbError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let row = sqlx::query(
            "SELECT CAST(current_user AS TEXT) AS role, r.rolsuper, r.rolbypassrls, \
               EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema() \
                       AND t.tablename = 'tenants' \
                       AND pg_has_role(current_user, t.tableowner, 'USAGE')) AS owns_tables, \
               EXISTS (SELECT 1 FROM pg_roles a WHERE a.rolname = 'printyx_app' \
                       AND pg_has_role(current_user, a.oid, 'USAGE')) AS is_app \
             FROM pg_roles r WHERE r.rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        let role: String = row.try_get("role")?;
        let why = if row.try_get::<bool, _>("rolsuper")? {
            Some("is a superuser")
        } else if row.try_get::<bool, _>("rolbypassrls")? {
            Some("has BYPASSRLS")
        } else if row.try_get::<bool, _>("owns_tables")? {
            Some("owns the tables (owners bypass row-level security)")
        } else if !row.try_get::<bool, _>("is_app")? {
            Some("is not a member of printyx_app (GRANT printyx_app TO it)")
        } else {
            None
        };
        match why {
            Some(why) => Err(DbError::UnsafeRole { role, why }),
            None => Ok(()),
        }
    }

    /// Liveness of the database for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Refreshes PostgreSQL's statistics of the readings after a bulk load. Autovacuum gets to
    /// it eventually, but until then every plan (generic ones above all) is made for an empty
    /// table: billing a freshly loaded tenant walked the status index, ~8 ms a query instead
    /// of 0.05 ms. Not on SQLite: without statistics its planner takes the reading-history
    /// index, which is right; with them (after `ANALYZE`) it chose worse for billing's
    /// probes and issuing a tenant's invoices went from 5 s to 150 s in the generator. The
    /// application's role may not analyse (PostgreSQL then skips with a warning), which only
    /// leaves it to autovacuum.
    pub async fn analyze_readings(&self) -> Result<(), DbError> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE readings").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The handle through which all tenant data is read and written.
    pub fn tenant(&self, tenant: TenantId) -> TenantDb {
        TenantDb {
            db: self.clone(),
            tenant,
        }
    }

    /// Raw pool access for code that must work outside any tenant (the tenant directory) and for
    /// tests that check what the database itself refuses.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn is_undefined_table(e: &dyn sqlx::error::DatabaseError) -> bool {
    // PostgreSQL 42P01 undefined_table; SQLite reports "no such table".
    e.code().as_deref() == Some("42P01") || e.message().contains("no such table")
}

/// All access to one tenant's data. Every storage function takes this (or a [`TenantTx`] made
/// from it), so there is no way to read tenant data without naming the tenant.
#[derive(Debug, Clone)]
pub struct TenantDb {
    db: Db,
    tenant: TenantId,
}

impl TenantDb {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    pub fn now_ms(&self) -> i64 {
        self.db.now_ms()
    }

    /// Starts a transaction bound to this tenant, ready to write.
    pub async fn begin(&self) -> Result<TenantTx, DbError> {
        // SQLite: take the write lock at BEGIN. A deferred transaction that reads first and
        // writes later fails with "database is locked" if another writer committed in between
        // (WAL snapshots cannot be upgraded); waiting at BEGIN (busy_timeout) cannot.
        let (tx, writer) = match self.db.backend {
            Backend::Sqlite => {
                // the turn first, then a connection: a queued writer holds no connection
                let turn = self.db.writer.clone().lock_owned().await;
                (
                    self.db.pool.begin_with("BEGIN IMMEDIATE").await?,
                    Some(turn),
                )
            }
            Backend::Postgres => (self.begin_postgres().await?, None),
        };
        let mut tx = TenantTx::bound(tx, self.tenant, self.db.backend, self.db.now_ms());
        tx._writer = writer;
        Ok(tx)
    }

    /// Runs read-only work in one tenant transaction. On SQLite it does not take the write
    /// lock, so readers never wait for writers; a write inside it may fail under contention.
    pub async fn read<T>(
        &self,
        f: impl AsyncFnOnce(&mut TenantTx) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let tx = match self.db.backend {
            Backend::Sqlite => self.db.pool.begin().await?,
            Backend::Postgres => self.begin_postgres().await?,
        };
        let mut tx = TenantTx::bound(tx, self.tenant, self.db.backend, self.db.now_ms());
        let out = f(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// BEGIN and the tenant setting row-level security reads, in one round trip: a
    /// transaction costs round trips, and short uploads are mostly round trips. (The tenant id
    /// is an integer, so formatting it into the statement cannot inject anything.)
    async fn begin_postgres(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        // Generic plans: tenant transactions run the same prepared statements over and over,
        // and re-planning them per call (the facts query: ~0.4 ms) costs more than any plan
        // difference the actual values could make.
        let statement = format!(
            "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; \
             SELECT set_config('printyx.tenant_id', '{}', true)",
            self.tenant.0
        );
        Ok(self.db.pool.begin_with(AssertSqlSafe(statement)).await?)
    }

    /// Runs `f` in one tenant transaction, committing if it succeeds.
    pub async fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut TenantTx) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut tx = self.begin().await?;
        let out = f(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// A transaction inside one tenant. Domain stores add their operations to it (`impl TenantTx`
/// blocks in each `store.rs`), so several operations compose into one atomic change.
#[derive(Debug)]
pub struct TenantTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    tenant: TenantId,
    backend: Backend,
    /// The clock's time when the transaction began: one change, one timestamp.
    now: i64,
    /// SQLite: this process's write turn, released when the transaction ends (after the
    /// transaction field above, so after its commit or rollback).
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl TenantTx {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The tenant id as bound into every statement.
    pub(crate) fn t(&self) -> i64 {
        self.tenant.0
    }

    pub fn now_ms(&self) -> i64 {
        self.now
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Reads a 0/1 flag column (see the schema conventions).
pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, DbError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// An UPDATE or DELETE of one object by id: no row means no such object in this tenant.
pub(crate) fn one_row(done: sqlx::any::AnyQueryResult) -> Result<(), DbError> {
    if done.rows_affected() == 0 {
        Err(DbError::NotFound)
    } else {
        Ok(())
    }
}

/// Caps a page size asked for by a caller.
pub(crate) fn page_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, 500))
}

impl TenantTx {
    /// A transaction already bound to its tenant (on PostgreSQL: the setting is made).
    fn bound(
        tx: sqlx::Transaction<'static, sqlx::Any>,
        tenant: TenantId,
        backend: Backend,
        now: i64,
    ) -> Self {
        Self {
            tx,
            tenant,
            backend,
            now,
            _writer: None,
        }
    }

    /// Binds an already open transaction to a tenant (used when the tenant is created in it).
    pub(crate) async fn enter(
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        tenant: TenantId,
        backend: Backend,
        now: i64,
    ) -> Result<Self, DbError> {
        if backend == Backend::Postgres {
            // Local to the transaction: a pooled connection never carries a tenant over.
            sqlx::query("SELECT set_config('printyx.tenant_id', $1, true)")
                .bind(tenant.0.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self::bound(tx, tenant, backend, now))
    }
}
