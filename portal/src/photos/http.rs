//! The photo flow's JSON API: `POST /api/v1/equipment/{id}/meter-photos` (the body is the
//! image, `Content-Type: image/jpeg` or `image/png`), `POST /api/v1/meter-photos/{id}/confirm`
//! (`{"counters": {...}}`), `GET /api/v1/meter-photos/{id}/image`. Customers act on their own
//! account's devices only.

use super::flow::{self, Confirmation, Confirmed, PhotoRead};
use crate::auth::Principal;
use crate::http::{ApiError, AppState, json_body};
use crate::ids::EquipmentId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    Path(equipment): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PhotoRead>, ApiError> {
    let readers = state
        .intake
        .photos
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("no photo reader runs here".into()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let read = flow::upload(
        &state.db.tenant(principal.tenant),
        readers,
        &state.config.upload_dir,
        &principal,
        EquipmentId(equipment),
        &content_type,
        body.to_vec(),
    )
    .await?;
    Ok(Json(read))
}

pub async fn confirm(
    State(state): State<AppState>,
    principal: Principal,
    Path(photo): Path<i64>,
    body: Bytes,
) -> Result<Json<Confirmed>, ApiError> {
    let confirmation: Confirmation = json_body(&body)?;
    let confirmed = flow::confirm(
        &state.db.tenant(principal.tenant),
        &state.config.pipeline,
        &principal,
        photo,
        &confirmation,
    )
    .await?;
    Ok(Json(confirmed))
}

pub async fn image(
    State(state): State<AppState>,
    principal: Principal,
    Path(photo): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let (content_type, bytes) = flow::image(
        &state.db.tenant(principal.tenant),
        &state.config.upload_dir,
        state.config.max_upload_bytes,
        &principal,
        photo,
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes))
}
