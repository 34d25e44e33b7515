//! `GET /api/v1/discovered-devices`: what agents found that the dealer has not registered.

use super::DiscoveredDevice;
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::State;

pub async fn new_devices(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<DiscoveredDevice>>, ApiError> {
    principal.require(Permission::EquipmentManage)?;
    let devices = state
        .db
        .tenant(principal.tenant)
        .read(async |tx| tx.new_devices(500).await)
        .await?;
    Ok(Json(devices))
}

/// A device in the JSON API.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeviceJson {
    pub id: i64,
    pub serial: String,
    pub make: String,
    pub model: String,
    pub account_id: i64,
    pub account: String,
    pub site: Option<String>,
    pub status: String,
    pub asset_tag: Option<String>,
    pub last_reported_at: Option<i64>,
    /// Pages of the total counter per calendar month (UTC), oldest first; null: not known.
    pub monthly_total: Vec<MonthJson>,
    pub supplies: Vec<super::SupplyLevel>,
    pub alerts: Vec<super::OpenAlert>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonthJson {
    pub month: String,
    pub pages: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EquipmentPage {
    equipment: Vec<super::EquipmentRow>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Result<Json<EquipmentPage>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let rows = super::views::list(
        &state.db.tenant(p.tenant),
        &p,
        q.after.map(crate::ids::EquipmentId),
        limit,
    )
    .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(EquipmentPage {
        equipment: rows,
        next,
    }))
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Json<DeviceJson>, ApiError> {
    let d = super::views::detail(
        &state.db.tenant(p.tenant),
        &p,
        crate::ids::EquipmentId(id),
        None,
    )
    .await?;
    Ok(Json(DeviceJson {
        id: d.equipment.id.0,
        serial: d.equipment.serial.to_string(),
        make: d.equipment.make,
        model: d.equipment.model,
        account_id: d.equipment.account_id.0,
        account: d.account,
        site: d.site,
        status: d.equipment.status,
        asset_tag: d.equipment.asset_tag,
        last_reported_at: d.equipment.last_reported_at,
        monthly_total: d
            .monthly_total
            .into_iter()
            .map(|b| MonthJson {
                month: b.label,
                pages: b.value,
            })
            .collect(),
        supplies: d.supplies,
        alerts: d.alerts,
    }))
}
