//! `POST /api/v1/inbound-email`: the inbound-webhook pattern of mail providers — the body is
//! one raw RFC 5322 message — for integrations holding `mail.ingest`. The tenant is the
//! token's.

use super::Receipt;
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;

pub async fn receive(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> Result<Json<Receipt>, ApiError> {
    principal.require(Permission::MailIngest)?;
    if body.is_empty() {
        return Err(ApiError::Invalid(
            "the body must be one raw RFC 5322 message".into(),
        ));
    }
    let receipt = super::receive(&state.db.tenant(principal.tenant), &body, &state.intake).await?;
    Ok(Json(receipt))
}
