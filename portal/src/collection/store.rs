use super::{REMINDER_DAYS, REPLY_ADDRESS, Settings, WINDOW_DAYS};
use crate::db::{DbError, TenantTx};
use crate::ids::{AccountId, EquipmentId};
use sqlx::Row;

/// A device as collection sees it: whose it is, when it is billed, its last accepted total
/// and when an agent last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMeter {
    pub equipment: EquipmentId,
    pub account: AccountId,
    pub serial: String,
    pub make: String,
    pub model: String,
    pub site: Option<String>,
    pub billing_day: u32,
    pub last_total: Option<i64>,
    pub last_total_at: Option<i64>,
    pub last_reported_at: Option<i64>,
    /// Whether black & white and colour counters were read before (then they are asked for).
    pub has_mono: bool,
    pub has_color: bool,
}

/// A meter request already made to a contact this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeRequest {
    pub id: i64,
    pub contact: i64,
    pub answered: bool,
    pub reminded: bool,
}

/// A contact who receives the account's meter requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterContact {
    pub id: i64,
    pub name: String,
    pub email: String,
}

fn bounded(
    raw: Option<String>,
    (_, default, range): (&str, u32, std::ops::RangeInclusive<u32>),
) -> u32 {
    raw.and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|v| range.contains(v))
        .unwrap_or(default)
}

impl TenantTx {
    pub async fn collection_settings(&mut self) -> Result<Settings, DbError> {
        Ok(Settings {
            window_days: bounded(self.setting(WINDOW_DAYS.0).await?, WINDOW_DAYS),
            reminder_days: bounded(self.setting(REMINDER_DAYS.0).await?, REMINDER_DAYS),
            reply_address: self
                .setting(REPLY_ADDRESS)
                .await?
                .and_then(|a| ingest::domain::EmailAddress::parse(&a).ok()),
        })
    }

    /// The active devices of one account, or of every account.
    pub async fn device_meters(
        &mut self,
        account: Option<AccountId>,
    ) -> Result<Vec<DeviceMeter>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT e.id, e.account_id, e.serial, e.make, e.model, s.name AS site, e.last_reported_at, \
               COALESCE((SELECT MIN(c.billing_day) FROM contracts c WHERE c.tenant_id = e.tenant_id \
                  AND c.account_id = e.account_id AND c.status = 'active'), 1) AS billing_day, \
               (SELECT r.value FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'total' AND r.status = 'accepted' ORDER BY r.read_at DESC, r.id DESC LIMIT 1) AS last_total, \
               (SELECT r.read_at FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'total' AND r.status = 'accepted' ORDER BY r.read_at DESC, r.id DESC LIMIT 1) AS last_total_at, \
               (SELECT COUNT(*) FROM (SELECT 1 FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'mono' AND r.status = 'accepted' LIMIT 1) m) AS has_mono, \
               (SELECT COUNT(*) FROM (SELECT 1 FROM readings r WHERE r.tenant_id = e.tenant_id AND r.equipment_id = e.id \
                  AND r.meter_kind = 'color' AND r.status = 'accepted' LIMIT 1) c) AS has_color \
             FROM equipment e LEFT JOIN sites s ON s.tenant_id = e.tenant_id AND s.id = e.site_id \
             WHERE e.tenant_id = $1 AND e.status = 'active' AND ($2 = 0 OR e.account_id = $2) \
             ORDER BY e.account_id, e.id",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeviceMeter {
                    equipment: EquipmentId(r.try_get("id")?),
                    account: AccountId(r.try_get("account_id")?),
                    serial: r.try_get("serial")?,
                    make: r.try_get("make")?,
                    model: r.try_get("model")?,
                    site: r.try_get("site")?,
                    billing_day: u32::try_from(r.try_get::<i64, _>("billing_day")?).unwrap_or(1),
                    last_total: r.try_get("last_total")?,
                    last_total_at: r.try_get("last_total_at")?,
                    last_reported_at: r.try_get("last_reported_at")?,
                    has_mono: r.try_get::<i64, _>("has_mono")? > 0,
                    has_color: r.try_get::<i64, _>("has_color")? > 0,
                })
            })
            .collect()
    }

    /// The account's contacts who receive meter requests and have an address.
    pub async fn meter_contacts(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<MeterContact>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, name, email FROM contacts WHERE tenant_id = $1 AND account_id = $2 \
               AND receives_meter_requests = 1 AND email IS NOT NULL ORDER BY id",
        )
        .bind(t)
        .bind(account.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, email)| MeterContact { id, name, email })
            .collect())
    }

    /// The requests made to the account's contacts for `cycle` (`2026-04`).
    pub async fn meter_requests_of(
        &mut self,
        account: AccountId,
        cycle: &str,
    ) -> Result<Vec<MadeRequest>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, contact_id, answered_at, reminder_sent_at FROM meter_requests \
             WHERE tenant_id = $1 AND account_id = $2 AND cycle = $3 ORDER BY id",
        )
        .bind(t)
        .bind(account.0)
        .bind(cycle)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, contact, answered, reminded)| MadeRequest {
                id,
                contact,
                answered: answered.is_some(),
                reminded: reminded.is_some(),
            })
            .collect())
    }

    /// Records a meter request to a contact for `cycle`; `None` when one was made already
    /// (another server got there first). Its id goes into the reply token.
    pub async fn create_meter_request(
        &mut self,
        account: AccountId,
        contact: i64,
        cycle: &str,
        due_at: i64,
    ) -> Result<Option<i64>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO meter_requests (tenant_id, account_id, contact_id, cycle, sent_at, due_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, contact_id, cycle) DO NOTHING \
             RETURNING id",
        )
        .bind(t)
        .bind(account.0)
        .bind(contact)
        .bind(cycle)
        .bind(now)
        .bind(due_at)
        .fetch_optional(self.conn())
        .await?)
    }

    pub async fn mark_meter_request_reminded(&mut self, id: i64) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        crate::db::one_row(
            sqlx::query(
                "UPDATE meter_requests SET reminder_sent_at = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND reminder_sent_at IS NULL",
            )
            .bind(t)
            .bind(id)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }
}
