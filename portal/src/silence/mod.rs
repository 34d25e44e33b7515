//! Devices that stopped reporting. A copier whose agent has been silent longer than the window
//! (default 72 hours) will have no meter on billing day; the dealer's staff and the account's
//! users are told while there is time to fix the network, once per silence.

use crate::auth::Permission;
use crate::db::{Db, DbError, TenantTx};
use crate::ids::{EquipmentId, UserId};
use sqlx::Row;
use std::time::Duration;

pub const EVENT: &str = "equipment.silent";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silent {
    pub equipment: EquipmentId,
    pub serial: String,
    pub model: String,
    pub account: String,
    pub last_reported_at: i64,
}

impl TenantTx {
    /// Active equipment that reported before (so it has an agent) but not since `window_ms`
    /// before now, and about which nobody was told since it last reported.
    pub async fn silent_equipment(&mut self, window_ms: i64) -> Result<Vec<Silent>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let rows = sqlx::query(
            "SELECT e.id, e.serial, e.make, e.model, a.name AS account, e.last_reported_at FROM equipment e \
             JOIN accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id \
             WHERE e.tenant_id = $1 AND e.status = 'active' AND e.last_reported_at IS NOT NULL \
               AND e.last_reported_at < $2 \
               AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.tenant_id = e.tenant_id \
                   AND n.event_type = $3 AND n.subject_id = e.id AND n.created_at > e.last_reported_at) \
             ORDER BY e.id",
        )
        .bind(t)
        .bind(now - window_ms)
        .bind(EVENT)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Silent {
                    equipment: EquipmentId(r.try_get("id")?),
                    serial: r.try_get("serial")?,
                    model: format!(
                        "{} {}",
                        r.try_get::<String, _>("make")?,
                        r.try_get::<String, _>("model")?
                    ),
                    account: r.try_get("account")?,
                    last_reported_at: r.try_get("last_reported_at")?,
                })
            })
            .collect()
    }

    /// Who hears about a device: active staff who may manage equipment, and the active users
    /// of the device's account.
    async fn silence_recipients(&mut self, equipment: EquipmentId) -> Result<Vec<UserId>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT u.id FROM users u \
             JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id \
             JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
             WHERE u.tenant_id = $1 AND u.status = 'active' AND u.kind = 'staff' AND rp.permission = $2 \
             UNION \
             SELECT u.id FROM users u JOIN equipment e ON e.tenant_id = u.tenant_id AND e.account_id = u.account_id \
             WHERE u.tenant_id = $1 AND u.status = 'active' AND e.id = $3",
        )
        .bind(t)
        .bind(Permission::EquipmentManage.as_str())
        .bind(equipment.0)
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// Notifies about every newly silent device; returns how many devices that was.
    pub async fn notify_silent_equipment(&mut self, window_ms: i64) -> Result<usize, DbError> {
        let silent = self.silent_equipment(window_ms).await?;
        let now = self.now_ms();
        for s in &silent {
            let hours = (now - s.last_reported_at) / 3_600_000;
            let title = format!("{} ({}) stopped reporting", s.model, s.serial);
            let body = format!(
                "No meter reading from {} at {} for {hours} hours. Until it reports again its next \
                 invoice can only be estimated: check that the copier and the Printyx agent are on the network.",
                s.serial, s.account
            );
            let recipients = self.silence_recipients(s.equipment).await?;
            self.notify(&crate::notifications::Note {
                event: EVENT,
                subject: Some(s.equipment.0),
                title,
                body,
                link: Some(format!("/equipment/{}", s.equipment)),
                recipients: &recipients,
            })
            .await?;
        }
        Ok(silent.len())
    }
}

/// One sweep over every tenant.
pub async fn sweep(db: &Db, window: Duration) -> Result<usize, DbError> {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let mut total = 0;
    for tenant in db.list_tenants().await? {
        total += db
            .tenant(tenant.id)
            .run(async |tx| tx.notify_silent_equipment(window_ms).await)
            .await?;
    }
    Ok(total)
}

/// Sweeps every `every` until the process ends; errors are logged and the next sweep tries again.
pub async fn run(db: Db, window: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match sweep(&db, window).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(devices = n, "silent devices notified"),
            Err(e) => tracing::warn!(error = %e, "silence sweep failed"),
        }
    }
}
