use super::Unpaid;
use crate::db::{DbError, TenantTx};
use crate::equipment::LOW_SUPPLY_PERCENT;
use crate::ids::AccountId;

impl TenantTx {
    pub async fn open_request_count(&mut self, account: Option<AccountId>) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM service_requests WHERE tenant_id = $1 AND ($2 = 0 OR account_id = $2) \
               AND status NOT IN ('completed', 'closed', 'cancelled')",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .fetch_one(self.conn())
        .await?)
    }

    /// Active devices whose latest report has a toner or ink at or below the low level.
    pub async fn low_toner_count(&mut self, account: Option<AccountId>) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM equipment e WHERE e.tenant_id = $1 AND e.status = 'active' \
               AND ($2 = 0 OR e.account_id = $2) \
               AND EXISTS (SELECT 1 FROM supply_levels l WHERE l.tenant_id = e.tenant_id AND l.equipment_id = e.id \
                 AND l.kind IN ('toner', 'ink') AND l.percent IS NOT NULL AND l.percent <= $3 \
                 AND l.observed_at = (SELECT MAX(m.observed_at) FROM supply_levels m \
                   WHERE m.tenant_id = e.tenant_id AND m.equipment_id = e.id))",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(LOW_SUPPLY_PERCENT)
        .fetch_one(self.conn())
        .await?)
    }

    /// Active devices an agent reported before, but not since `since`.
    pub async fn silent_count(
        &mut self,
        account: Option<AccountId>,
        since: i64,
    ) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM equipment WHERE tenant_id = $1 AND status = 'active' \
               AND ($2 = 0 OR account_id = $2) AND last_reported_at IS NOT NULL AND last_reported_at < $3",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(since)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn unpaid_invoices(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Vec<Unpaid>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            // SUM of BIGINT is NUMERIC on PostgreSQL: cast back to what both backends decode
            "SELECT currency, COUNT(*), CAST(COALESCE(SUM(total_cents - amount_paid_cents), 0) AS BIGINT), \
               CAST(COALESCE(SUM(CASE WHEN due_at IS NOT NULL AND due_at < $3 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM invoices WHERE tenant_id = $1 AND ($2 = 0 OR account_id = $2) \
               AND status IN ('issued', 'partially_paid') \
             GROUP BY currency ORDER BY currency",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(now)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(currency, invoices, due_cents, overdue)| Unpaid {
                currency,
                invoices,
                due_cents,
                overdue,
            })
            .collect())
    }

    /// The account's active devices with the highest total counter first (a proxy for the
    /// busiest), up to `limit`, with their names.
    pub async fn busiest_devices(
        &mut self,
        account: AccountId,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT e.id, e.make, e.model, e.serial FROM equipment e \
             WHERE e.tenant_id = $1 AND e.account_id = $2 AND e.status = 'active' \
             ORDER BY COALESCE((SELECT r.value FROM readings r WHERE r.tenant_id = e.tenant_id \
               AND r.equipment_id = e.id AND r.meter_kind = 'total' AND r.status = 'accepted' \
               ORDER BY r.read_at DESC, r.id DESC LIMIT 1), 0) DESC, e.id \
             LIMIT $3",
        )
        .bind(t)
        .bind(account.0)
        .bind(i64::from(limit))
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, make, model, serial)| (id, format!("{make} {model} ({serial})")))
            .collect())
    }
}
