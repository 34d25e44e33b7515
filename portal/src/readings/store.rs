use super::{Evidence, NewReading, Reading, Stored};
use crate::db::{Backend, DbError, TenantTx, page_limit};
use crate::ids::{AgentId, EquipmentId, EvidenceId, ReadingId, UserId};
use ingest::domain::{MeterKind, MeterValue, ReadingStatus, Reason};
use ingest::upload::NewEvidence;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

macro_rules! reading_columns {
    () => {
        "id, equipment_id, meter_kind, segment, value, read_at, received_at, source, status, \
         reasons, confidence, evidence_id, idempotency_key, agent_id, submitted_by"
    };
}

fn reading(row: &AnyRow) -> Result<Reading, DbError> {
    let refused = |e: ingest::domain::ParseError| DbError::Refused(e.to_string());
    let reasons: String = row.try_get("reasons")?;
    Ok(Reading {
        id: ReadingId(row.try_get("id")?),
        equipment_id: EquipmentId(row.try_get("equipment_id")?),
        meter_kind: MeterKind::parse(&row.try_get::<String, _>("meter_kind")?).map_err(refused)?,
        segment: row.try_get("segment")?,
        value: MeterValue::new(row.try_get("value")?).map_err(refused)?,
        read_at: row.try_get("read_at")?,
        received_at: row.try_get("received_at")?,
        source: row
            .try_get::<String, _>("source")?
            .parse()
            .map_err(refused)?,
        status: row
            .try_get::<String, _>("status")?
            .parse()
            .map_err(refused)?,
        reasons: serde_json::from_str(&reasons)
            .map_err(|e| DbError::Refused(format!("stored reasons are not valid JSON: {e}")))?,
        confidence: row.try_get("confidence")?,
        evidence_id: row
            .try_get::<Option<i64>, _>("evidence_id")?
            .map(EvidenceId),
        idempotency_key: row.try_get("idempotency_key")?,
        agent_id: row.try_get::<Option<i64>, _>("agent_id")?.map(AgentId),
        submitted_by: row.try_get::<Option<i64>, _>("submitted_by")?.map(UserId),
    })
}

fn reasons_json(reasons: &[Reason]) -> Result<String, DbError> {
    serde_json::to_string(reasons).map_err(|e| DbError::Refused(e.to_string()))
}

/// A window of one device's readings, newest last. `after` continues from the last reading of
/// the previous page (keyset on read time, then id).
#[derive(Debug, Clone, Default)]
pub struct ReadingQuery {
    pub meter_kind: Option<MeterKind>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub after: Option<(i64, ReadingId)>,
    pub limit: u32,
}

impl TenantTx {
    /// Stores a decided reading once per idempotency key.
    pub async fn insert_reading(&mut self, new: &NewReading) -> Result<Stored, DbError> {
        if new.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(DbError::Refused(
                "confidence must be between 0 and 1".into(),
            ));
        }
        let (t, now) = (self.t(), self.now_ms());
        let inserted = sqlx::query(concat!(
            "INSERT INTO readings (tenant_id, equipment_id, meter_kind, segment, value, read_at, \
               received_at, source, status, reasons, confidence, evidence_id, idempotency_key, \
               agent_id, submitted_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING ",
            reading_columns!()
        ))
        .bind(t)
        .bind(new.equipment_id.0)
        .bind(new.meter_kind.as_str())
        .bind(new.segment)
        .bind(new.value.get())
        .bind(new.read_at)
        .bind(now)
        .bind(new.source.as_str())
        .bind(new.status.as_str())
        .bind(reasons_json(&new.reasons)?)
        .bind(new.confidence)
        .bind(new.evidence_id.map(|e| e.0))
        .bind(&new.idempotency_key)
        .bind(new.agent_id.map(|a| a.0))
        .bind(new.submitted_by.map(|u| u.0))
        .fetch_optional(self.conn())
        .await?;
        match inserted {
            Some(row) => Ok(Stored::New(reading(&row)?)),
            None => {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    reading_columns!(),
                    " FROM readings WHERE tenant_id = $1 AND idempotency_key = $2"
                ))
                .bind(t)
                .bind(&new.idempotency_key)
                .fetch_one(self.conn())
                .await?;
                Ok(Stored::Duplicate(reading(&row)?))
            }
        }
    }

    pub async fn reading(&mut self, id: ReadingId) -> Result<Reading, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            reading_columns!(),
            " FROM readings WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        reading(&row)
    }

    /// One device's readings, newest first, `limit` before `before` (read time, id): what the
    /// device page lists with each reading's provenance.
    pub async fn recent_readings(
        &mut self,
        equipment: EquipmentId,
        before: Option<(i64, ReadingId)>,
        limit: u32,
    ) -> Result<Vec<Reading>, DbError> {
        let t = self.t();
        let (before_at, before_id) = before.map_or((i64::MAX, i64::MAX), |(at, id)| (at, id.0));
        let rows = sqlx::query(concat!(
            "SELECT ",
            reading_columns!(),
            " FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
               AND (read_at < $3 OR (read_at = $3 AND id < $4)) \
             ORDER BY read_at DESC, id DESC LIMIT $5"
        ))
        .bind(t)
        .bind(equipment.0)
        .bind(before_at)
        .bind(before_id)
        .bind(page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(reading).collect()
    }

    /// One device's readings in time order (see [`ReadingQuery`]).
    pub async fn readings_of(
        &mut self,
        equipment: EquipmentId,
        q: &ReadingQuery,
    ) -> Result<Vec<Reading>, DbError> {
        let t = self.t();
        let (after_at, after_id) = q.after.map_or((i64::MIN, 0), |(at, id)| (at, id.0));
        let rows = sqlx::query(concat!(
            "SELECT ",
            reading_columns!(),
            " FROM readings \
             WHERE tenant_id = $1 AND equipment_id = $2 \
               AND ($3 IS NULL OR meter_kind = $3) \
               AND read_at >= $4 AND read_at < $5 \
               AND (read_at > $6 OR (read_at = $6 AND id > $7)) \
             ORDER BY read_at, id LIMIT $8"
        ))
        .bind(t)
        .bind(equipment.0)
        .bind(q.meter_kind.as_ref().map(MeterKind::as_str))
        .bind(q.from_ms.unwrap_or(i64::MIN))
        .bind(q.to_ms.unwrap_or(i64::MAX))
        .bind(after_at)
        .bind(after_id)
        .bind(page_limit(q.limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(reading).collect()
    }

    /// The most recent reading of a meter with the given status (the monotonic stage compares
    /// against the latest accepted one).
    pub async fn latest_reading(
        &mut self,
        equipment: EquipmentId,
        kind: &MeterKind,
        status: ReadingStatus,
    ) -> Result<Option<Reading>, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "SELECT ",
            reading_columns!(),
            " FROM readings \
             WHERE tenant_id = $1 AND equipment_id = $2 AND meter_kind = $3 AND status = $4 \
             ORDER BY read_at DESC, id DESC LIMIT 1"
        ))
        .bind(t)
        .bind(equipment.0)
        .bind(kind.as_str())
        .bind(status.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(reading).transpose()
    }

    /// Records a later decision (review outcome) with the reasons that led to it.
    pub async fn set_reading_status(
        &mut self,
        id: ReadingId,
        status: ReadingStatus,
        reasons: &[Reason],
    ) -> Result<Reading, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            "UPDATE readings SET status = $3, reasons = $4 WHERE tenant_id = $1 AND id = $2 RETURNING ",
            reading_columns!()
        ))
        .bind(t)
        .bind(id.0)
        .bind(status.as_str())
        .bind(reasons_json(reasons)?)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        reading(&row)
    }

    pub async fn create_evidence(
        &mut self,
        kind: &str,
        summary: &str,
        payload: Option<&str>,
    ) -> Result<Evidence, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(
            "INSERT INTO evidence (tenant_id, kind, summary, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, kind, summary, payload, file_id, created_at",
        )
        .bind(t)
        .bind(kind)
        .bind(summary)
        .bind(payload)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        evidence(&row)
    }

    /// Stores evidence records in one statement and returns their ids in the order given.
    /// RETURNING has no defined order, so each id is matched back by its record's contents;
    /// records with equal contents are interchangeable.
    pub async fn create_evidence_many(
        &mut self,
        records: &[NewEvidence],
    ) -> Result<Vec<i64>, DbError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (t, now) = (self.t(), self.now_ms());
        let list = serde_json::Value::Array(
            records
                .iter()
                .map(|r| serde_json::json!({ "kind": r.kind, "summary": r.summary, "payload": r.payload, "file_id": r.file_id }))
                .collect(),
        )
        .to_string();
        let rows = sqlx::query(match self.backend() {
            Backend::Postgres => {
                "INSERT INTO evidence (tenant_id, kind, summary, payload, file_id, created_at) \
                 SELECT $1, e->>'kind', e->>'summary', e->>'payload', (e->>'file_id')::bigint, $3 \
                 FROM jsonb_array_elements($2::jsonb) e RETURNING id, kind, summary, payload"
            }
            Backend::Sqlite => {
                "INSERT INTO evidence (tenant_id, kind, summary, payload, file_id, created_at) \
                 SELECT $1, json_extract(e.value, '$.kind'), json_extract(e.value, '$.summary'), \
                   json_extract(e.value, '$.payload'), json_extract(e.value, '$.file_id'), $3 \
                 FROM json_each($2) e RETURNING id, kind, summary, payload"
            }
        })
        .bind(t)
        .bind(list)
        .bind(now)
        .fetch_all(self.conn())
        .await?;
        let mut ids: BTreeMap<(String, String, Option<String>), Vec<i64>> = BTreeMap::new();
        for row in rows {
            ids.entry((
                row.try_get("kind")?,
                row.try_get("summary")?,
                row.try_get("payload")?,
            ))
            .or_default()
            .push(row.try_get("id")?);
        }
        records
            .iter()
            .map(|r| {
                ids.get_mut(&(r.kind.to_owned(), r.summary.clone(), r.payload.clone()))
                    .and_then(Vec::pop)
                    .ok_or_else(|| DbError::Refused("evidence was not stored".into()))
            })
            .collect()
    }

    pub async fn evidence(&mut self, id: EvidenceId) -> Result<Evidence, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, kind, summary, payload, file_id, created_at FROM evidence WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        evidence(&row)
    }
}

fn evidence(row: &AnyRow) -> Result<Evidence, DbError> {
    Ok(Evidence {
        id: EvidenceId(row.try_get("id")?),
        kind: row.try_get("kind")?,
        summary: row.try_get("summary")?,
        payload: row.try_get("payload")?,
        file_id: row.try_get("file_id")?,
        created_at: row.try_get("created_at")?,
    })
}
