//! `GET /api/v1/audit-log?before=SEQ&limit=N`: the trail, newest first (staff: the tenant's;
//! customers: their account's).

use super::{Entry, Trail};
use crate::auth::Principal;
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::{Query, State};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EntriesPage {
    entries: Vec<Entry>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn trail(
    State(state): State<AppState>,
    p: Principal,
    Query(page): Query<Page>,
) -> Result<Json<EntriesPage>, ApiError> {
    p.require(crate::auth::Permission::AuditRead)?;
    let limit = page.limit.unwrap_or(100).clamp(1, 500);
    let of = p.account().map_or(Trail::Tenant, Trail::Account);
    let entries = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.audit_trail(of, page.before, limit).await)
        .await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(EntriesPage { entries, next }))
}
