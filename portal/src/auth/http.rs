//! The JSON side of password resets, for apps that are not the portal's own pages:
//! `POST /api/v1/password-reset` `{"dealer", "email"}` answers 202 whether or not the address
//! has an account; `POST /api/v1/password-reset/confirm` `{"token", "password"}`.

use super::reset;
use crate::audit::Client;
use crate::http::{ApiError, AppState, json_body};
use crate::tenants::TenantSlug;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use ingest::domain::EmailAddress;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    dealer: String,
    email: String,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    token: String,
    password: String,
}

/// The answer to a reset request: the same whether or not the address is known.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub status: &'static str,
}

pub async fn forgot(
    State(state): State<AppState>,
    client: Client,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let req: Forgot = json_body(&body)?;
    let slug = TenantSlug::parse(&req.dealer)?;
    let email = EmailAddress::parse(&req.email)?;
    let tenant = state
        .db
        .tenant_by_slug(&slug)
        .await
        .ok()
        .filter(|t| t.status == "active")
        .ok_or_else(|| ApiError::Invalid(format!("there is no dealer '{}'", slug.as_str())))?;
    let work = reset::request(
        &state.db.tenant(tenant.id),
        &state.config.base_url,
        email,
        &client,
    )
    .await?;
    let wake = state.mail_queued.clone();
    tokio::spawn(async move {
        let _ = work.await;
        wake.notify_one();
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "if an account uses this address, an e-mail with a reset link is on its way",
        }),
    ))
}

pub async fn reset(
    State(state): State<AppState>,
    client: Client,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let req: Reset = json_body(&body)?;
    reset::complete(&state.db, &state.hasher, &req.token, &req.password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
