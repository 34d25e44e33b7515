//! Readings over JSON: `GET /api/v1/equipment/{id}/readings?before=READ_AT.ID` (newest first,
//! each with its source, decision and reasons), `POST /api/v1/equipment/{id}/readings`
//! (`{"counters": {"total": N, …}, "submission": "token"}`: typed in, through the pipeline), and
//! `GET /api/v1/readings/{id}/evidence`.

use crate::auth::{Permission, Principal};
use crate::equipment::views::visible_equipment;
use crate::http::{ApiError, AppState, json_body};
use crate::ids::{EquipmentId, ReadingId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use ingest::domain::MeterKind;
use ingest::wire::ObservationResult;
use std::collections::BTreeMap;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReadingJson {
    pub id: i64,
    pub meter: String,
    pub value: i64,
    pub read_at: i64,
    pub received_at: i64,
    pub source: String,
    pub status: String,
    pub reasons: Vec<ingest::domain::Reason>,
    pub evidence_id: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReadingsPage {
    readings: Vec<ReadingJson>,
    /// Pass as `before` for older readings; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Before {
    before: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<Before>,
) -> Result<Json<ReadingsPage>, ApiError> {
    p.require(Permission::ReadingsRead)?;
    let before = match q.before.as_deref() {
        None => None,
        Some(b) => {
            let parsed = b.split_once('.').and_then(|(at, id)| {
                Some((at.parse::<i64>().ok()?, ReadingId(id.parse::<i64>().ok()?)))
            });
            Some(parsed.ok_or_else(|| {
                ApiError::Invalid("before: use the `next` value of the previous page".into())
            })?)
        }
    };
    const PAGE: u32 = 100;
    let readings = state
        .db
        .tenant(p.tenant)
        .read(async |tx| {
            visible_equipment(tx, &p, EquipmentId(id)).await?;
            tx.recent_readings(EquipmentId(id), before, PAGE).await
        })
        .await?;
    let next = (readings.len() == PAGE as usize)
        .then(|| readings.last().map(|r| format!("{}.{}", r.read_at, r.id.0)))
        .flatten();
    Ok(Json(ReadingsPage {
        readings: readings
            .into_iter()
            .map(|r| ReadingJson {
                id: r.id.0,
                meter: r.meter_kind.to_string(),
                value: r.value.get(),
                read_at: r.read_at,
                received_at: r.received_at,
                source: r.source.to_string(),
                status: r.status.to_string(),
                reasons: r.reasons,
                evidence_id: r.evidence_id.map(|e| e.0),
            })
            .collect(),
        next,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    counters: BTreeMap<String, u64>,
    submission: String,
}

pub async fn submit(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ObservationResult>, ApiError> {
    let s: Submission = json_body(&body)?;
    let mut counters = BTreeMap::new();
    for (k, v) in s.counters {
        let kind =
            MeterKind::parse(&k).map_err(|e| ApiError::Invalid(format!("counters.{k}: {e}")))?;
        counters.insert(kind, v);
    }
    let typed = super::submit::Typed {
        equipment: EquipmentId(id),
        counters,
        submission: s.submission,
    };
    let done = super::submit::submit(
        &state.db.tenant(p.tenant),
        &state.config.pipeline,
        &p,
        &typed,
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.result))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EvidenceJson {
    reading: ReadingJson,
    kind: Option<String>,
    summary: Option<String>,
    payload: Option<String>,
    /// The photo, when the reading was read from one.
    image: Option<String>,
}

pub async fn evidence(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<EvidenceJson>, ApiError> {
    let (r, e, _) =
        super::pages::with_evidence(&state.db.tenant(p.tenant), &p, ReadingId(id)).await?;
    Ok(Json(EvidenceJson {
        image: e
            .as_ref()
            .and_then(|e| e.file_id.filter(|_| e.kind == "photo"))
            .map(|f| format!("/api/v1/meter-photos/{f}/image")),
        kind: e.as_ref().map(|e| e.kind.clone()),
        summary: e.as_ref().map(|e| e.summary.clone()),
        payload: e.and_then(|e| e.payload),
        reading: ReadingJson {
            id: r.id.0,
            meter: r.meter_kind.to_string(),
            value: r.value.get(),
            read_at: r.read_at,
            received_at: r.received_at,
            source: r.source.to_string(),
            status: r.status.to_string(),
            reasons: r.reasons,
            evidence_id: r.evidence_id.map(|e| e.0),
        },
    }))
}
