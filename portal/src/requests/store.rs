use super::{Filter, PreferredDate, RequestId};
use crate::db::{DbError, TenantTx, one_row};
use crate::ids::{AccountId, EquipmentId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A request as people see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: i64,
    pub number: i64,
    pub account_id: i64,
    pub account: String,
    pub equipment_id: Option<i64>,
    pub device: Option<String>,
    pub priority: String,
    pub problem_type: String,
    pub description: String,
    pub status: String,
    pub source: String,
    pub alert_code: Option<String>,
    pub preferred: Vec<PreferredDate>,
    pub assigned_to: Option<i64>,
    pub technician: Option<String>,
    pub scheduled_start: Option<i64>,
    pub scheduled_end: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One step on a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    /// status, comment, assignment or schedule
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub body: Option<String>,
    /// Staff-only notes, never shown to the customer.
    pub internal: bool,
    pub author: Option<String>,
    pub created_at: i64,
}

/// A file attached to a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub file_id: i64,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub has_preview: bool,
}

macro_rules! request_select {
    () => {
        "SELECT r.id, r.number, r.account_id, a.name AS account, r.equipment_id, \
           e.make AS make, e.model AS model, e.serial AS serial, r.priority, r.problem_type, \
           r.description, r.status, r.source, r.alert_code, r.preferred_dates, r.assigned_to, \
           t.display_name AS technician, r.scheduled_start, r.scheduled_end, r.created_by, \
           r.created_at, r.updated_at \
         FROM service_requests r \
         JOIN accounts a ON a.tenant_id = r.tenant_id AND a.id = r.account_id \
         LEFT JOIN equipment e ON e.tenant_id = r.tenant_id AND e.id = r.equipment_id \
         LEFT JOIN users t ON t.tenant_id = r.tenant_id AND t.id = r.assigned_to "
    };
}

fn view(row: &AnyRow) -> Result<RequestView, DbError> {
    let preferred: Option<String> = row.try_get("preferred_dates")?;
    let device = match (
        row.try_get::<Option<String>, _>("make")?,
        row.try_get::<Option<String>, _>("model")?,
        row.try_get::<Option<String>, _>("serial")?,
    ) {
        (Some(make), Some(model), Some(serial)) => Some(format!("{make} {model} ({serial})")),
        _ => None,
    };
    Ok(RequestView {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        account_id: row.try_get("account_id")?,
        account: row.try_get("account")?,
        equipment_id: row.try_get("equipment_id")?,
        device,
        priority: row.try_get("priority")?,
        problem_type: row.try_get("problem_type")?,
        description: row.try_get("description")?,
        status: row.try_get("status")?,
        source: row.try_get("source")?,
        alert_code: row.try_get("alert_code")?,
        preferred: preferred
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default(),
        assigned_to: row.try_get("assigned_to")?,
        technician: row.try_get("technician")?,
        scheduled_start: row.try_get("scheduled_start")?,
        scheduled_end: row.try_get("scheduled_end")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl TenantTx {
    /// The next number of a per-tenant sequence (gap-free within committed transactions).
    pub async fn next_number(&mut self, name: &str) -> Result<i64, DbError> {
        let t = self.t();
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO number_sequences (tenant_id, name, next_value) VALUES ($1, $2, 2) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET next_value = number_sequences.next_value + 1 \
             RETURNING next_value",
        )
        .bind(t)
        .bind(name)
        .fetch_one(self.conn())
        .await?;
        Ok(next - 1)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_request(
        &mut self,
        account: AccountId,
        equipment: Option<EquipmentId>,
        new: &super::NewRequest,
        source: &str,
        alert_code: Option<&str>,
        created_by: Option<UserId>,
    ) -> Result<RequestId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let number = self.next_number("service_request").await?;
        let preferred =
            serde_json::to_string(&new.preferred).map_err(|e| DbError::Refused(e.to_string()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_requests (tenant_id, number, account_id, equipment_id, priority, problem_type, \
               description, source, alert_code, preferred_dates, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(t)
        .bind(number)
        .bind(account.0)
        .bind(equipment.map(|e| e.0))
        .bind(&new.priority)
        .bind(&new.problem_type)
        .bind(&new.description)
        .bind(source)
        .bind(alert_code)
        .bind(preferred)
        .bind(created_by.map(|u| u.0))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(RequestId(id))
    }

    pub async fn request(&mut self, id: RequestId) -> Result<RequestView, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            request_select!(),
            "WHERE r.tenant_id = $1 AND r.id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        view(&row)
    }

    /// Requests matching `filter`, newest first, `limit` before `before` (an id).
    pub async fn requests(
        &mut self,
        filter: &Filter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RequestView>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            request_select!(),
            "WHERE r.tenant_id = $1 AND ($2 = 0 OR r.account_id = $2) AND ($3 = 0 OR r.equipment_id = $3) \
               AND ($4 = 0 OR r.status NOT IN ('completed', 'closed', 'cancelled')) \
               AND ($5 = 0 OR r.assigned_to = $5) AND r.id < $6 \
             ORDER BY r.id DESC LIMIT $7"
        ))
        .bind(t)
        .bind(filter.account.map_or(0, |a| a.0))
        .bind(filter.equipment.map_or(0, |e| e.0))
        .bind(i64::from(filter.open_only))
        .bind(filter.assigned_to.map_or(0, |u| u.0))
        .bind(before.unwrap_or(i64::MAX))
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(view).collect()
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn add_event(
        &mut self,
        request: RequestId,
        kind: &str,
        from: Option<&str>,
        to: Option<&str>,
        body: Option<&str>,
        internal: bool,
        author: Option<UserId>,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO service_request_events (tenant_id, request_id, kind, from_status, to_status, body, \
               internal, author_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(t)
        .bind(request.0)
        .bind(kind)
        .bind(from)
        .bind(to)
        .bind(body)
        .bind(i64::from(internal))
        .bind(author.map(|u| u.0))
        .bind(now)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE service_requests SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(request.0)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// A request's timeline, oldest first; staff-only notes only when `internal`.
    pub async fn request_events(
        &mut self,
        request: RequestId,
        internal: bool,
    ) -> Result<Vec<Event>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT v.id, v.kind, v.from_status, v.to_status, v.body, v.internal, u.display_name AS author, v.created_at \
             FROM service_request_events v LEFT JOIN users u ON u.tenant_id = v.tenant_id AND u.id = v.author_id \
             WHERE v.tenant_id = $1 AND v.request_id = $2 AND ($3 = 1 OR v.internal = 0) ORDER BY v.id",
        )
        .bind(t)
        .bind(request.0)
        .bind(i64::from(internal))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    from_status: r.try_get("from_status")?,
                    to_status: r.try_get("to_status")?,
                    body: r.try_get("body")?,
                    internal: crate::db::flag(r, "internal")?,
                    author: r.try_get("author")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub(super) async fn set_request_status(
        &mut self,
        request: RequestId,
        status: &str,
    ) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query("UPDATE service_requests SET status = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(request.0)
                .bind(status)
                .execute(self.conn())
                .await?,
        )
    }

    pub(super) async fn set_request_assignment(
        &mut self,
        request: RequestId,
        technician: Option<UserId>,
    ) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query(
                "UPDATE service_requests SET assigned_to = $3 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(request.0)
            .bind(technician.map(|u| u.0))
            .execute(self.conn())
            .await?,
        )
    }

    pub(super) async fn set_request_schedule(
        &mut self,
        request: RequestId,
        start: i64,
        end: i64,
    ) -> Result<(), DbError> {
        let t = self.t();
        one_row(
            sqlx::query(
                "UPDATE service_requests SET scheduled_start = $3, scheduled_end = $4 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t)
            .bind(request.0)
            .bind(start)
            .bind(end)
            .execute(self.conn())
            .await?,
        )
    }

    pub(super) async fn attach_file(
        &mut self,
        request: RequestId,
        file: i64,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "INSERT INTO service_request_attachments (tenant_id, request_id, file_id) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, request_id, file_id) DO NOTHING",
        )
        .bind(t)
        .bind(request.0)
        .bind(file)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn request_attachments(
        &mut self,
        request: RequestId,
    ) -> Result<Vec<Attachment>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT f.id, f.original_name, f.content_type, f.size_bytes, f.thumbnail_name \
             FROM service_request_attachments x JOIN files f ON f.tenant_id = x.tenant_id AND f.id = x.file_id \
             WHERE x.tenant_id = $1 AND x.request_id = $2 ORDER BY f.id",
        )
        .bind(t)
        .bind(request.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(file_id, name, content_type, size_bytes, thumb)| Attachment {
                    file_id,
                    name,
                    content_type,
                    size_bytes,
                    has_preview: thumb.is_some(),
                },
            )
            .collect())
    }

    /// An open request already raised for this device's alert, if any.
    pub(super) async fn open_request_for_alert(
        &mut self,
        equipment: EquipmentId,
        code: &str,
    ) -> Result<Option<RequestId>, DbError> {
        let t = self.t();
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM service_requests WHERE tenant_id = $1 AND equipment_id = $2 AND alert_code = $3 \
             AND status NOT IN ('completed', 'closed', 'cancelled') ORDER BY id LIMIT 1",
        )
        .bind(t)
        .bind(equipment.0)
        .bind(code)
        .fetch_optional(self.conn())
        .await?;
        Ok(id.map(RequestId))
    }

    /// The account's active users holding `permission` (who hear about their requests).
    pub async fn account_users_holding(
        &mut self,
        account: AccountId,
        permission: crate::auth::Permission,
    ) -> Result<Vec<UserId>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT u.id FROM users u \
             JOIN user_roles ur ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id \
             JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
             WHERE u.tenant_id = $1 AND u.status = 'active' AND u.account_id = $2 AND rp.permission = $3 \
             ORDER BY u.id",
        )
        .bind(t)
        .bind(account.0)
        .bind(permission.as_str())
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}
