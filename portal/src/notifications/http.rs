//! Notifications over JSON: `GET /api/v1/notifications?before=ID`, `GET
//! /api/v1/notifications/unread-count`, `POST /api/v1/notifications/{id}/read`, `POST
//! /api/v1/notifications/read-all`, `GET/PUT /api/v1/notifications/preferences`, and the live
//! stream `GET /api/v1/notifications/stream` (server-sent events, one `notification` event with
//! the notification as JSON each).

use super::{Channel, NotificationView};
use crate::auth::Principal;
use crate::db::{Db, DbError};
use crate::http::{ApiError, AppState, json_body};
use crate::ids::UserId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ingest::ids::TenantId;
use std::convert::Infallible;
use std::time::Duration;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NotificationsPage {
    notifications: Vec<NotificationView>,
    unread: i64,
    /// Pass as `before` for older ones; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(page): Query<Page>,
) -> Result<Json<NotificationsPage>, ApiError> {
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let (notifications, unread) = state
        .db
        .tenant(p.tenant)
        .read(async |tx| {
            Ok((
                tx.notifications_of(p.user, page.before, limit).await?,
                tx.unread_count(p.user).await?,
            ))
        })
        .await?;
    let next = (notifications.len() == limit as usize)
        .then(|| notifications.last().map(|n| n.id))
        .flatten();
    Ok(Json(NotificationsPage {
        notifications,
        unread,
        next,
    }))
}

pub async fn read(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .db
        .tenant(p.tenant)
        .run(async |tx| tx.mark_read(p.user, id).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MarkedRead {
    pub marked_read: u64,
}

pub async fn read_all(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<MarkedRead>, ApiError> {
    let n = state
        .db
        .tenant(p.tenant)
        .run(async |tx| tx.mark_all_read(p.user).await)
        .await?;
    Ok(Json(MarkedRead { marked_read: n }))
}

#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    event: String,
    channel: Channel,
    enabled: bool,
}

pub async fn preferences(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let prefs = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.preferences(p.user).await)
        .await?;
    Ok(Json(
        prefs
            .into_iter()
            .map(|((event, channel), enabled)| Preference {
                event,
                channel,
                enabled,
            })
            .collect(),
    ))
}

pub async fn set_preferences(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let wanted: Vec<Preference> = json_body(&body)?;
    state
        .db
        .tenant(p.tenant)
        .run(async |tx| {
            for w in &wanted {
                tx.set_preference(p.user, &w.event, w.channel, w.enabled)
                    .await?;
            }
            Ok(())
        })
        .await?;
    preferences(State(state), p).await
}

/// How often a stream looks for notifications other server processes wrote.
const POLL: Duration = Duration::from_secs(5);

/// New unread notifications of one user, as they come: woken at once by this process's
/// [`super::Wake`], and polling for what other processes wrote. Each item is one notification.
pub fn live(
    db: Db,
    rx: tokio::sync::broadcast::Receiver<(TenantId, UserId)>,
    tenant: TenantId,
    user: UserId,
    after: i64,
) -> impl Stream<Item = Result<NotificationView, DbError>> + Send + 'static {
    let state = (db, rx, after, std::collections::VecDeque::new());
    futures::stream::unfold(
        state,
        move |(db, mut rx, mut after, mut queue)| async move {
            loop {
                if let Some(n) = queue.pop_front() {
                    return Some((Ok(n), (db, rx, after, queue)));
                }
                tokio::select! {
                    woke = rx.recv() => {
                        if let Ok((t, u)) = woke && (t, u) != (tenant, user) {
                            continue;
                        }
                    }
                    () = tokio::time::sleep(POLL) => {}
                }
                match db
                    .tenant(tenant)
                    .read(async |tx| tx.unread_after(user, after).await)
                    .await
                {
                    Ok(new) => {
                        if let Some(last) = new.last() {
                            after = last.id;
                        }
                        queue.extend(new);
                    }
                    Err(e) => return Some((Err(e), (db, rx, after, queue))),
                }
            }
        },
    )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamFrom {
    after: Option<i64>,
}

pub async fn stream(
    State(state): State<AppState>,
    p: Principal,
    Query(from): Query<StreamFrom>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = match from.after {
        Some(a) => a,
        None => {
            state
                .db
                .tenant(p.tenant)
                .read(async |tx| tx.last_notification_id(p.user).await)
                .await?
        }
    };
    let events = futures::StreamExt::map(
        live(
            state.db.clone(),
            state.notified.subscribe(),
            p.tenant,
            p.user,
            after,
        ),
        |n| {
            Ok(match n {
                Ok(n) => Event::default()
                    .event("notification")
                    .id(n.id.to_string())
                    .json_data(&n)
                    .unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(error = %e, "notification stream");
                    Event::default().comment("temporarily unavailable")
                }
            })
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
