//! `GET /api/v1/review-items` and `POST /api/v1/review-items/{id}/decision`, for staff holding
//! `readings.review`.

use super::{Decision, ReviewItem, ReviewItemId};
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState, json_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ItemsPage {
    pub items: Vec<ReviewItem>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<Page>,
) -> Result<Json<ItemsPage>, ApiError> {
    principal.require(Permission::ReadingsReview)?;
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let items = state
        .db
        .tenant(principal.tenant)
        .read(async |tx| {
            tx.open_review_items(page.after.map(ReviewItemId), limit)
                .await
        })
        .await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|i| i.id.0))
        .flatten();
    Ok(Json(ItemsPage { items, next }))
}

pub async fn decide(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<ReviewItem>, ApiError> {
    principal.require(Permission::ReadingsReview)?;
    let decision: Decision = json_body(&body)?;
    let (item, notified) = super::decide(
        &state.db.tenant(principal.tenant),
        &principal,
        ReviewItemId(id),
        &decision,
    )
    .await?;
    state.notified.users(principal.tenant, &notified);
    Ok(Json(item))
}
