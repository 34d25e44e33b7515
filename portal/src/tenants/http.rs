//! `GET/PUT /api/v1/settings/security` `{"require_staff_two_factor": bool}`.

use super::security::{self, SecuritySettings, SettingsError};
use crate::auth::Principal;
use crate::http::{ApiError, AppState, json_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Refused(m) => ApiError::Invalid(m),
            SettingsError::Forbidden(f) => f.into(),
            SettingsError::Db(d) => d.into(),
        }
    }
}

pub async fn security(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<SecuritySettings>, ApiError> {
    Ok(Json(security::get(&state.db.tenant(p.tenant), &p).await?))
}

pub async fn update_security(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<SecuritySettings>, ApiError> {
    let wanted: SecuritySettings = json_body(&body)?;
    Ok(Json(
        security::set(&state.db.tenant(p.tenant), &state.keys, &p, wanted).await?,
    ))
}
