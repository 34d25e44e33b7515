//! The HTTP surface: server-rendered pages and the JSON API under `/api/v1`, two thin adapters
//! over the same domain operations. Handlers parse, call the domain, render; who may call what
//! is declared once per route (`routes.rs`) and enforced by one gate (`guard.rs`).

mod assets;
pub mod client;
pub mod cookies;
pub mod error;
pub mod form;
mod guard;
pub mod openapi;
pub mod routes;

use crate::auth::password::Hasher;
use crate::auth::session::ActiveSession;
use crate::auth::{Principal, SessionPolicy};
use crate::config::Config;
use crate::db::Db;
use crate::secrets::Keyring;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use routes::{Access, RouteSpec, route_table};

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// How meter mail (and the photos in it) is taken in; its photo readers are shared by
    /// every request.
    pub intake: Arc<crate::mail::Intake>,
    /// Password hashing, off the async threads and bounded.
    pub hasher: Hasher,
    /// The keys secrets are sealed with.
    pub keys: Arc<Keyring>,
    /// Wakes the mail sender when a message was queued.
    pub mail_queued: Arc<Notify>,
    /// Wakes the open notification streams of users who were just notified.
    pub notified: crate::notifications::Wake,
    /// The payment processor: Stripe when configured, else the built-in sandbox.
    pub gateway: crate::billing::gateway::Processor,
}

impl AppState {
    /// How long an agent may be silent before its devices are no longer counted on to report.
    pub fn silence_ms(&self) -> i64 {
        i64::try_from(self.config.silence_window_hours.saturating_mul(3_600_000))
            .unwrap_or(i64::MAX)
    }

    /// The state for a database and configuration, with what they imply. Fails on a
    /// malformed `secret_key`.
    pub fn new(db: Db, config: Arc<Config>) -> Result<Self, crate::secrets::SecretError> {
        let intake = Arc::new(crate::mail::Intake::from_config(&config));
        let keys = Arc::new(Keyring::new(
            config.secret_key.as_deref(),
            &config.previous_secret_keys,
        )?);
        let gateway = crate::billing::gateway::Processor::from_config(config.stripe.as_ref());
        Ok(AppState {
            db,
            config,
            intake,
            hasher: Hasher::new(),
            keys,
            mail_queued: Arc::new(Notify::new()),
            notified: crate::notifications::Wake::default(),
            gateway,
        })
    }

    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle_ms: i64::try_from(self.config.session_idle_minutes)
                .unwrap_or(i64::MAX / 120_000)
                .saturating_mul(60_000),
            absolute_ms: i64::try_from(self.config.session_absolute_hours)
                .unwrap_or(i64::MAX / 7_200_000)
                .saturating_mul(3_600_000),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_seconds);
    let (routes, _) = route_table(&state);
    routes
        .fallback(not_found)
        // Each route has its own body limit (routes.rs); axum's extractor limit is off so that
        // it is the one limit.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(explain_too_large))
        .layer(axum::middleware::map_response(security_headers))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers every answer carries: no sniffing, no framing, no referrer (reset and invitation
/// links carry secrets in their query), scripts and styles only from here, and nothing that
/// may show a signed-in page cached.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    );
    set(h, "cache-control", "no-store");
    response
}

/// A body over a route's limit is refused before it is read (`tower_http`'s limit answers 413
/// with a bare "length limit exceeded"); say it in words people and programs can use.
async fn explain_too_large(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let bare = response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|ct| ct.to_str().is_ok_and(|ct| ct.starts_with("text/plain")));
    if !bare {
        return response;
    }
    let message = "That is larger than this server accepts (attachments and photos: 10 MB each). Nothing was stored.";
    if api {
        ApiError::TooLarge(message.into()).into_response()
    } else {
        crate::web::error_page(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        crate::web::error_page(StatusCode::NOT_FOUND, "There is no such page.")
    }
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

/// The principal the route's gate established (routes declared `SignedIn` or with a
/// permission); 401 where there is none.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// The browser session the gate found (pages; API-token requests have none).
impl FromRequestParts<AppState> for ActiveSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ActiveSession>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// Where the request came from (set by the gate for every route).
impl FromRequestParts<AppState> for crate::audit::Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<crate::audit::Client>()
            .cloned()
            .unwrap_or_else(|| client::client_of(parts, &state.config.trusted_proxies)))
    }
}

/// A response that sets (or clears) cookies.
pub fn with_cookies(mut response: Response, cookies: &[HeaderValue]) -> Response {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    response
}
