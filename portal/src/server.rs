//! Starting and stopping the server: open (and on SQLite create) the database, refuse an unsafe
//! PostgreSQL role, serve until SIGTERM / Ctrl-C, then give in-flight requests a grace period.

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Backend, ConnectOptions, DatabaseUrl, Db, DbError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Opens the configured database ready to serve: migrated, and on PostgreSQL connected as a
/// role that row-level security applies to (unless development mode allows otherwise).
pub async fn open_database(config: &Config, clock: Arc<dyn Clock>) -> Result<Db, DbError> {
    let url = DatabaseUrl::parse(&config.database_url)?;
    let options = ConnectOptions {
        max_connections: config.database_max_connections,
        ..ConnectOptions::default()
    };
    if url.backend() == Backend::Sqlite {
        let db = Db::connect(&url, &options, clock).await?;
        db.migrate().await?;
        return Ok(db);
    }
    if let Some(admin) = &config.database_admin_url {
        migrate_with(admin, clock.clone()).await?;
    }
    let db = Db::connect(&url, &options, clock).await?;
    match db.check_role_is_unprivileged().await {
        Ok(()) => {}
        Err(DbError::UnsafeRole { role, why }) if config.allow_privileged_database_role => {
            tracing::warn!(
                %role, why,
                "allow_privileged_database_role is set: row-level security does not protect tenants"
            );
            if config.database_admin_url.is_none() {
                db.migrate().await?;
            }
        }
        Err(e) => return Err(e),
    }
    let pending = db.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(DbError::MigrationsPending(pending));
    }
    Ok(db)
}

/// Applies migrations with the given URL (the schema owner on PostgreSQL).
pub async fn migrate_with(url: &str, clock: Arc<dyn Clock>) -> Result<(), DbError> {
    let url = DatabaseUrl::parse(url)?;
    let options = ConnectOptions {
        max_connections: 1,
        ..ConnectOptions::default()
    };
    let db = Db::connect(&url, &options, clock).await?;
    let result = db.migrate().await;
    db.close().await;
    result
}

/// Serves `app` until `shutdown` completes, then lets in-flight requests finish for at most
/// `grace`.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let stopping = Arc::new(Notify::new());
    let notify = stopping.clone();
    // the peer address reaches handlers (sign-in limits and the audit trail use it)
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        notify.notify_one();
    });
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "grace period over; exiting with requests still open");
            Ok(())
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
