//! The portal's static files, compiled into the binary: nothing is loaded from elsewhere.

use axum::http::header;
use axum::response::IntoResponse;

const APP_CSS: &str = include_str!("../../assets/app.css");

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        APP_CSS,
    )
}

const APP_JS: &str = include_str!("../../assets/app.js");

/// The portal's own small script (progressive enhancements only).
pub async fn app_js() -> impl IntoResponse {
    script(APP_JS)
}

const HTMX: &str = include_str!("../../assets/vendor/htmx-2.0.11.min.js");
const HTMX_SSE: &str = include_str!("../../assets/vendor/htmx-ext-sse-2.2.4.min.js");

/// htmx (vendored, see `assets/vendor/README.md`).
pub async fn htmx() -> impl IntoResponse {
    script(HTMX)
}

/// htmx's server-sent-events extension.
pub async fn htmx_sse() -> impl IntoResponse {
    script(HTMX_SSE)
}

fn script(body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}
