//! Housekeeping the server does on its own: forgetting attempt counts whose windows are long
//! over and sessions that ended more than a week ago.

use crate::db::{Db, DbError};
use std::time::Duration;

/// One round over every tenant.
pub async fn sweep(db: &Db) -> Result<(u64, u64), DbError> {
    let (mut buckets, mut sessions) = (0, 0);
    for tenant in db.list_tenants().await? {
        let (b, s) = db
            .tenant(tenant.id)
            .run(async |tx| Ok((tx.sweep_throttle().await?, tx.sweep_sessions().await?)))
            .await?;
        buckets += b;
        sessions += s;
    }
    Ok((buckets, sessions))
}

/// Sweeps every `every`, for as long as the server runs.
pub async fn run(db: Db, every: Duration) {
    loop {
        match sweep(&db).await {
            Ok((b, s)) if b + s > 0 => {
                tracing::info!(
                    attempt_counts = b,
                    sessions = s,
                    "old sign-in records removed"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; trying again later"),
        }
        tokio::time::sleep(every).await;
    }
}
