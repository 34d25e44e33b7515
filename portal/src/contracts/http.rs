//! Contracts over JSON (dealer staff): `POST /api/v1/contracts` with its rates, covered items
//! and devices; `GET /api/v1/contracts/{id}`.

use super::{ContractBody, ContractView};
use crate::auth::Principal;
use crate::http::{ApiError, AppState, json_body};
use crate::ids::ContractId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<ContractView>), ApiError> {
    let b: ContractBody = json_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create(&state.db.tenant(p.tenant), &p, &b).await?),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<ContractView>, ApiError> {
    Ok(Json(
        super::show(&state.db.tenant(p.tenant), &p, ContractId(id)).await?,
    ))
}
