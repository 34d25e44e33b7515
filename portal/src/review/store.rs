use super::{Decision, ReviewItem, ReviewItemId};
use crate::db::{DbError, TenantTx, page_limit};
use crate::ids::{EquipmentId, ReadingId, UserId};
use ingest::domain::{MeterKind, MeterValue, Outcome, ReadingStatus, Reason};
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! item_columns {
    () => {
        "ri.id, ri.status, ri.reading_id, r.equipment_id, e.serial, r.meter_kind, r.value, r.read_at, \
         r.source, r.status AS reading_status, r.reasons, ri.corrected_value, ri.decided_by, ri.decided_at, \
         ri.decision_note, ri.created_at, r.segment"
    };
}
macro_rules! item_from {
    () => {
        " FROM review_items ri \
          JOIN readings r ON r.tenant_id = ri.tenant_id AND r.id = ri.reading_id \
          JOIN equipment e ON e.tenant_id = r.tenant_id AND e.id = r.equipment_id "
    };
}

fn item(row: &AnyRow) -> Result<ReviewItem, DbError> {
    let reasons: String = row.try_get("reasons")?;
    Ok(ReviewItem {
        id: ReviewItemId(row.try_get("id")?),
        status: row.try_get("status")?,
        reading_id: ReadingId(row.try_get("reading_id")?),
        equipment_id: EquipmentId(row.try_get("equipment_id")?),
        serial: row.try_get("serial")?,
        meter_kind: MeterKind::parse(&row.try_get::<String, _>("meter_kind")?)?,
        value: MeterValue::new(row.try_get("value")?)?,
        read_at: row.try_get("read_at")?,
        source: row.try_get::<String, _>("source")?.parse()?,
        reading_status: row.try_get::<String, _>("reading_status")?.parse()?,
        reasons: serde_json::from_str(&reasons).map_err(|e| DbError::Refused(e.to_string()))?,
        corrected_value: row.try_get("corrected_value")?,
        decided_by: row.try_get::<Option<i64>, _>("decided_by")?.map(UserId),
        decided_at: row.try_get("decided_at")?,
        decision_note: row.try_get("decision_note")?,
        created_at: row.try_get("created_at")?,
    })
}

impl TenantTx {
    /// Open items, oldest first, `limit` after `after`.
    pub async fn open_review_items(
        &mut self,
        after: Option<ReviewItemId>,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            "SELECT ",
            item_columns!(),
            item_from!(),
            "WHERE ri.tenant_id = $1 AND ri.status = 'open' AND ri.id > $2 ORDER BY ri.id LIMIT $3"
        ))
        .bind(t)
        .bind(after.map_or(0, |a| a.0))
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(item).collect()
    }

    pub async fn review_item(&mut self, id: ReviewItemId) -> Result<ReviewItem, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            item_columns!(),
            item_from!(),
            "WHERE ri.tenant_id = $1 AND ri.id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        item(&row)
    }

    /// Applies a reviewer's decision: updates the reading and the item, audits both.
    /// An item already decided is a conflict; accepting a value below the meter's last accepted
    /// reading is refused (that would be negative usage — confirm a reset instead).
    pub async fn decide_review(
        &mut self,
        id: ReviewItemId,
        decision: &Decision,
        by: &crate::audit::Actor,
    ) -> Result<ReviewItem, DbError> {
        let before = self.review_item(id).await?;
        if before.status != "open" {
            return Err(DbError::Conflict(format!(
                "review item {id} was already decided ({})",
                before.status
            )));
        }
        let t = self.t();
        let segment: i64 =
            sqlx::query_scalar("SELECT segment FROM readings WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(before.reading_id.0)
                .fetch_one(self.conn())
                .await?;
        let by_user = UserId(
            by.id
                .ok_or(DbError::Refused("a review decision needs a person".into()))?,
        );
        let who = self.user(by_user).await?.email;
        let note = decision.note().map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err(DbError::Refused(
                "the note is longer than 2000 characters".into(),
            ));
        }
        let (status, value, segment, message) = match decision {
            Decision::Accept {
                corrected_value, ..
            } => {
                let value = corrected_value.unwrap_or(before.value);
                // An accepted value must fit between the meter's accepted neighbours: below the
                // earlier one is negative usage now, above the later one makes that one a drop.
                let around = self
                    .meter_facts(before.equipment_id, &before.meter_kind, before.read_at)
                    .await?;
                if let Some(p) = around.before.filter(|p| p.value > value) {
                    return Err(DbError::Refused(format!(
                        "{value} is below the accepted reading {} of the same meter: confirm a counter reset instead",
                        p.value
                    )));
                }
                if let Some(p) = around.after.filter(|p| p.value < value) {
                    return Err(DbError::Refused(format!(
                        "{value} is above the later accepted reading {} of the same meter",
                        p.value
                    )));
                }
                let message = match corrected_value {
                    Some(v) if *v != before.value => {
                        format!("corrected from {} to {v} by {who}", before.value)
                    }
                    _ => format!("accepted by {who}"),
                };
                (ReadingStatus::Accepted, value, segment, message)
            }
            Decision::Reject { .. } => (
                ReadingStatus::Rejected,
                before.value,
                segment,
                format!("rejected by {who}"),
            ),
            Decision::ConfirmReset { .. } => {
                let next: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(segment), 0) + 1 FROM counter_resets \
                     WHERE tenant_id = $1 AND equipment_id = $2 AND meter_kind = $3",
                )
                .bind(t)
                .bind(before.equipment_id.0)
                .bind(before.meter_kind.as_str())
                .fetch_one(self.conn())
                .await?;
                let now = self.now_ms();
                sqlx::query(
                    "INSERT INTO counter_resets (tenant_id, equipment_id, meter_kind, segment, reading_id, confirmed_by, confirmed_at, note) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(t)
                .bind(before.equipment_id.0)
                .bind(before.meter_kind.as_str())
                .bind(next)
                .bind(before.reading_id.0)
                .bind(by_user.0)
                .bind(now)
                .bind(note)
                .execute(self.conn())
                .await?;
                (
                    ReadingStatus::Accepted,
                    before.value,
                    next,
                    format!("counter reset confirmed by {who}: meter segment {next} starts here"),
                )
            }
        };
        let mut reasons = before.reasons.clone();
        let outcome = if status == ReadingStatus::Rejected {
            Outcome::Reject
        } else {
            Outcome::Note
        };
        reasons.push(Reason::new("review", outcome, message));
        let reasons_json =
            serde_json::to_string(&reasons).map_err(|e| DbError::Refused(e.to_string()))?;
        sqlx::query("UPDATE readings SET status = $3, value = $4, segment = $5, reasons = $6 WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(before.reading_id.0)
            .bind(status.as_str())
            .bind(value.get())
            .bind(segment)
            .bind(reasons_json)
            .execute(self.conn())
            .await?;
        let now = self.now_ms();
        let corrected = match decision {
            Decision::Accept {
                corrected_value: Some(v),
                ..
            } => Some(v.get()),
            _ => None,
        };
        sqlx::query(
            "UPDATE review_items SET status = $3, corrected_value = $4, decided_by = $5, decided_at = $6, decision_note = $7 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id.0)
        .bind(decision.name())
        .bind(corrected)
        .bind(by_user.0)
        .bind(now)
        .bind(note)
        .execute(self.conn())
        .await?;
        let after = self.review_item(id).await?;
        let account: i64 = sqlx::query_scalar(
            "SELECT e.account_id FROM readings r JOIN equipment e ON e.tenant_id = r.tenant_id \
             AND e.id = r.equipment_id WHERE r.tenant_id = $1 AND r.id = $2",
        )
        .bind(t)
        .bind(before.reading_id.0)
        .fetch_one(self.conn())
        .await?;
        self.audit(
            by,
            &format!("reading.review.{}", decision.name()),
            ("reading", Some(before.reading_id.to_string())),
            Some(crate::ids::AccountId(account)),
            serde_json::json!({
                "review_item": id.0,
                "before": { "status": before.reading_status.as_str(), "value": before.value },
                "after": { "status": after.reading_status.as_str(), "value": after.value, "segment": segment },
                "note": note,
            }),
        )
        .await?;
        Ok(after)
    }
}
