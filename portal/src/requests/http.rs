//! Service requests over JSON: `GET/POST /api/v1/requests` (`{"equipment", "priority",
//! "problem_type", "description", "preferred": [{"date", "window"}]}`), `GET
//! /api/v1/requests/{id}` (with its timeline and attachments), `POST
//! /api/v1/requests/{id}/attachments` (the body is the file; `X-File-Name` names it),
//! `POST /api/v1/requests/{id}/comments` (`{"text", "internal"?}`), `POST
//! /api/v1/requests/{id}/status` (`{"status", "note"?}`), `PUT /api/v1/requests/{id}/assignment`
//! (`{"technician": id | null}`), `PUT /api/v1/requests/{id}/schedule` (`{"start", "end"}`, epoch
//! ms).

use super::work::{self, Upload};
use super::{Attachment, Event, NewRequest, RequestId, RequestView};
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState, json_body};
use crate::ids::{EquipmentId, UserId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    before: Option<i64>,
    limit: Option<u32>,
    /// `true` (default): open requests only.
    open: Option<bool>,
    equipment: Option<i64>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RequestsPage {
    requests: Vec<RequestView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<RequestsPage>, ApiError> {
    p.require(Permission::RequestsRead)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = super::Filter {
        account: p.account(),
        equipment: q.equipment.map(EquipmentId),
        open_only: q.open.unwrap_or(true),
        assigned_to: None,
    };
    let requests = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.requests(&filter, q.before, limit).await)
        .await?;
    let next = (requests.len() == limit as usize)
        .then(|| requests.last().map(|r| r.id))
        .flatten();
    Ok(Json(RequestsPage { requests, next }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferred {
    date: String,
    window: Option<String>,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBody {
    equipment: i64,
    priority: String,
    problem_type: String,
    description: String,
    #[serde(default)]
    preferred: Vec<Preferred>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Detail {
    request: RequestView,
    events: Vec<Event>,
    attachments: Vec<Attachment>,
}

pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let b: NewBody = json_body(&body)?;
    let new = NewRequest::parse(
        EquipmentId(b.equipment),
        &b.priority,
        &b.problem_type,
        &b.description,
        b.preferred
            .into_iter()
            .map(|d| (d.date, d.window.unwrap_or_default()))
            .collect(),
    )?;
    let done = work::create(
        &state.db.tenant(p.tenant),
        &state.config.upload_dir,
        &p,
        &new,
        Vec::new(),
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok((StatusCode::CREATED, Json(done.request)))
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<Detail>, ApiError> {
    let (request, events, attachments) =
        work::show(&state.db.tenant(p.tenant), &p, RequestId(id)).await?;
    Ok(Json(Detail {
        request,
        events,
        attachments,
    }))
}

pub async fn attach(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<Attachment>>), ApiError> {
    let name = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("file")
        .to_owned();
    let attachments = work::attach(
        &state.db.tenant(p.tenant),
        &state.config.upload_dir,
        &p,
        RequestId(id),
        Upload {
            name,
            bytes: body.to_vec(),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(attachments)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    text: String,
    #[serde(default)]
    internal: bool,
}

pub async fn comment(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestView>, ApiError> {
    let b: CommentBody = json_body(&body)?;
    let done = work::comment(
        &state.db.tenant(p.tenant),
        &p,
        RequestId(id),
        &b.text,
        b.internal,
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.request))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
    note: Option<String>,
}

pub async fn status(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestView>, ApiError> {
    let b: StatusBody = json_body(&body)?;
    let done = work::change_status(
        &state.db.tenant(p.tenant),
        &p,
        RequestId(id),
        &b.status,
        b.note.as_deref(),
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.request))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    technician: Option<i64>,
}

pub async fn assign(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestView>, ApiError> {
    let b: AssignBody = json_body(&body)?;
    let done = work::assign(
        &state.db.tenant(p.tenant),
        &p,
        RequestId(id),
        b.technician.map(UserId),
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.request))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    start: i64,
    end: i64,
}

pub async fn schedule(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<RequestView>, ApiError> {
    let b: ScheduleBody = json_body(&body)?;
    let done = work::schedule(
        &state.db.tenant(p.tenant),
        &p,
        RequestId(id),
        b.start,
        b.end,
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.request))
}
