//! The signed-in user's own account over JSON: `GET/PUT /api/v1/me`,
//! `POST /api/v1/me/password`, `GET/DELETE /api/v1/me/sessions`, `GET /api/v1/me/export`,
//! `GET/POST /api/v1/me/api-tokens`, `DELETE /api/v1/me/api-tokens/{id}`.

use super::ProfileError;
use crate::auth::session::SessionInfo;
use crate::auth::{ApiTokenInfo, Principal};
use crate::http::{ApiError, AppState, json_body};
use crate::users::{Profile, ProfileInput};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

impl From<ProfileError> for ApiError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::WrongPassword | ProfileError::WrongCode => {
                ApiError::Refused(e.to_string())
            }
            ProfileError::Refused(m) => ApiError::Invalid(m),
            ProfileError::Password(p) => p.into(),
            ProfileError::Throttled(t) => t.into(),
            ProfileError::Db(d) => d.into(),
        }
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub kind: &'static str,
    pub account_id: Option<i64>,
    pub locale: String,
    pub time_zone: &'static str,
    pub date_format: &'static str,
    pub number_format: &'static str,
    pub permissions: Vec<&'static str>,
    pub two_factor: bool,
}

pub async fn me(State(state): State<AppState>, p: Principal) -> Result<Json<Me>, ApiError> {
    let (u, two_factor) = state
        .db
        .tenant(p.tenant)
        .read(async |tx| {
            Ok((
                tx.user(p.user).await?,
                tx.totp_state(p.user).await?.is_some_and(|t| t.confirmed),
            ))
        })
        .await?;
    Ok(Json(Me {
        id: u.id.0,
        email: u.email.as_str().to_owned(),
        display_name: u.display_name,
        kind: if p.is_staff() { "staff" } else { "customer" },
        account_id: p.account().map(|a| a.0),
        locale: u.locale,
        time_zone: u.formats.zone.name(),
        date_format: u.formats.date.code(),
        number_format: u.formats.number.code(),
        permissions: p.permissions.iter().map(|x| x.as_str()).collect(),
        two_factor,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    display_name: String,
    locale: String,
    time_zone: String,
    /// Left out: unchanged (clients written before these existed keep working).
    #[serde(default)]
    date_format: Option<String>,
    #[serde(default)]
    number_format: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Me>, ApiError> {
    let b: ProfileBody = json_body(&body)?;
    let profile = Profile::parse(&ProfileInput {
        display_name: b.display_name,
        locale: b.locale,
        time_zone: b.time_zone,
        date_format: b
            .date_format
            .unwrap_or_else(|| p.formats.date.code().to_owned()),
        number_format: b
            .number_format
            .unwrap_or_else(|| p.formats.number.code().to_owned()),
    })?;
    super::update(&state.db.tenant(p.tenant), &p, &profile).await?;
    me(State(state), p).await
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current: String,
    password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<SessionsEnded>, ApiError> {
    let b: PasswordBody = json_body(&body)?;
    let ended = super::change_password(
        &state.db.tenant(p.tenant),
        &state.hasher,
        &p,
        &b.current,
        &b.password,
    )
    .await?;
    Ok(Json(SessionsEnded {
        sessions_ended: ended,
    }))
}

/// How many other sessions a change ended.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

pub async fn sessions(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(
        state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.sessions_of(p.user).await)
            .await?,
    ))
}

pub async fn end_all_sessions(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<SessionsEnded>, ApiError> {
    let ended = super::end_all_sessions(&state.db.tenant(p.tenant), &p).await?;
    Ok(Json(SessionsEnded {
        sessions_ended: ended,
    }))
}

/// The user's own data, as a file to download (page and API alike).
pub async fn export(State(state): State<AppState>, p: Principal) -> Result<Response, ApiError> {
    let data = crate::users::privacy::export(&state.db.tenant(p.tenant), &p).await?;
    let body = serde_json::to_vec_pretty(&data).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"printyx-my-data-{}.json\"", p.user.0),
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn tokens(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(
        state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.api_tokens_of(p.user).await)
            .await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    name: String,
    permissions: Vec<String>,
}

/// A new API token: shown this once, kept only as a hash.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewToken {
    pub token: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let b: TokenBody = json_body(&body)?;
    let token =
        super::create_token(&state.db.tenant(p.tenant), &p, &b.name, &b.permissions).await?;
    Ok((StatusCode::CREATED, Json(NewToken { token })))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    super::revoke_token(&state.db.tenant(p.tenant), &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
