//! Roles over JSON: `GET /api/v1/permissions`, `GET/POST /api/v1/roles`
//! (`{"name", "scope", "permissions": […]}`), `PUT /api/v1/roles/{id}` (`{"name",
//! "permissions"}`), `DELETE /api/v1/roles/{id}`.

use super::{RoleSpec, RoleView};
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState, json_body};
use crate::ids::RoleId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PermissionInfo {
    name: &'static str,
    customer_may_hold: bool,
}

pub async fn permissions(p: Principal) -> Result<Json<Vec<PermissionInfo>>, ApiError> {
    p.require(Permission::RolesManage)?;
    Ok(Json(
        Permission::ALL
            .iter()
            .map(|x| PermissionInfo {
                name: x.as_str(),
                customer_may_hold: x.customer_may_hold(),
            })
            .collect(),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    Ok(Json(super::list(&state.db.tenant(p.tenant), &p).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    name: String,
    scope: String,
    permissions: Vec<String>,
}

pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let b: NewRole = json_body(&body)?;
    let spec = RoleSpec::parse(&b.name, &b.scope, &b.permissions)?;
    let view = super::create(&state.db.tenant(p.tenant), &p, &spec).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    name: String,
    permissions: Vec<String>,
}

pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RoleView>, ApiError> {
    let b: RoleChange = json_body(&body)?;
    let permissions = b
        .permissions
        .iter()
        .map(|x| {
            Permission::parse(x.trim())
                .ok_or_else(|| ApiError::Invalid(format!("there is no permission '{x}'")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Json(
        super::update(
            &state.db.tenant(p.tenant),
            &p,
            RoleId(id),
            &b.name,
            &permissions,
        )
        .await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    super::delete(&state.db.tenant(p.tenant), &p, RoleId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
