//! `GET /api/v1/dashboard`: the start page's summary.

use super::Summary;
use crate::auth::Principal;
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::extract::State;

pub async fn get(State(state): State<AppState>, p: Principal) -> Result<Json<Summary>, ApiError> {
    Ok(Json(
        super::summary(&state.db.tenant(p.tenant), &p, state.silence_ms()).await?,
    ))
}
