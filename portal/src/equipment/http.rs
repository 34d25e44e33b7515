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
