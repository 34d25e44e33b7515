//! People over JSON: `GET /api/v1/users`, `GET /api/v1/users/{id}`,
//! `PUT /api/v1/users/{id}/roles` `{"roles": [id…]}`, `POST /api/v1/users/{id}/disable|enable|erase`,
//! `GET/POST /api/v1/invitations` `{"email", "role", "account"?}`.

use super::invitations::{self, Invitation, Invite};
use super::manage::{self, UserView};
use crate::auth::Principal;
use crate::http::{ApiError, AppState, json_body};
use crate::ids::{AccountId, RoleId, UserId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ingest::domain::EmailAddress;

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(manage::list(&state.db.tenant(p.tenant), &p).await?))
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        manage::get(&state.db.tenant(p.tenant), &p, UserId(id)).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesBody {
    roles: Vec<i64>,
}

pub async fn set_roles(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<UserView>, ApiError> {
    let b: RolesBody = json_body(&body)?;
    let roles: Vec<RoleId> = b.roles.into_iter().map(RoleId).collect();
    Ok(Json(
        manage::set_roles(&state.db.tenant(p.tenant), &p, UserId(id), &roles).await?,
    ))
}

pub async fn disable(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        manage::set_enabled(&state.db.tenant(p.tenant), &p, UserId(id), false).await?,
    ))
}

pub async fn enable(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        manage::set_enabled(&state.db.tenant(p.tenant), &p, UserId(id), true).await?,
    ))
}

pub async fn erase(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    super::privacy::erase(&state.db.tenant(p.tenant), &p, UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn invitations(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    Ok(Json(
        invitations::open_invitations(&state.db.tenant(p.tenant), &p).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    email: String,
    role: i64,
    account: Option<i64>,
}

pub async fn invite(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let b: InviteBody = json_body(&body)?;
    let invite = Invite {
        email: EmailAddress::parse(&b.email)?,
        role: RoleId(b.role),
        account: b.account.map(AccountId),
    };
    let created = invitations::invite(
        &state.db.tenant(p.tenant),
        &state.config.base_url,
        &p,
        &invite,
    )
    .await?;
    state.mail_queued.notify_one();
    Ok((StatusCode::CREATED, Json(created)))
}
