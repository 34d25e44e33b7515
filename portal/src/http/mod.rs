//! The HTTP surface. Handlers are thin: parse, authorise, call the domain, render.

pub mod error;

use crate::auth::Principal;
use crate::config::Config;
use crate::db::Db;
use crate::{agents, equipment, review};
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// How meter mail (and the photos in it) is taken in; its photo readers are shared by
    /// every request.
    pub intake: Arc<crate::mail::Intake>,
}

impl AppState {
    /// The state for a database and configuration, with the mail intake they imply.
    pub fn new(db: Db, config: Arc<Config>) -> Self {
        let intake = Arc::new(crate::mail::Intake::from_config(&config));
        AppState { db, config, intake }
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_seconds);
    // Bodies are refused by size before they are read; axum's own extractor limit is off so
    // that this is the one limit.
    let general = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/agent/enroll", post(agents::http::enroll))
        .route("/api/v1/review-items", get(review::http::list))
        .route(
            "/api/v1/discovered-devices",
            get(equipment::http::new_devices),
        )
        .route(
            "/api/v1/review-items/{id}/decision",
            post(review::http::decide),
        )
        .route(
            "/api/v1/meter-photos/{id}/confirm",
            post(crate::photos::http::confirm),
        )
        .route(
            "/api/v1/meter-photos/{id}/image",
            get(crate::photos::http::image),
        )
        .layer(RequestBodyLimitLayer::new(state.config.max_body_bytes));
    let uploads = Router::new()
        .route("/api/v1/agent/readings", post(agents::http::upload))
        .route("/api/v1/inbound-email", post(crate::mail::http::receive))
        .route(
            "/api/v1/equipment/{id}/meter-photos",
            post(crate::photos::http::upload),
        )
        .layer(RequestBodyLimitLayer::new(state.config.max_upload_bytes));
    Router::new()
        .merge(general)
        .merge(uploads)
        .layer(DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness: the process is up and serving. Deliberately touches nothing else.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. A load balancer sends no traffic until it does.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::Unavailable("database unreachable".into()).into_response()
        }
    }
}

/// Parses a JSON body with a message that says what is wrong (axum's own rejection is plain
/// text without the position).
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Invalid(format!("invalid JSON body: {e}")))
}

/// `Authorization: Bearer pxt_…` → the principal, or 401. (Browser sessions come with the
/// sign-in issue and will produce the same `Principal`.)
impl axum::extract::FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        state
            .db
            .authenticate_api_token(token)
            .await
            .map_err(|e| match e {
                crate::db::DbError::NotFound => ApiError::Unauthorized,
                other => other.into(),
            })
    }
}
