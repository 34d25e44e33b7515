//! `/admin/security`: the tenant's sign-in policy.

use super::security::{self, SecuritySettings, SettingsError};
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::http::form::Form;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    csrf: String,
    require_staff_two_factor: bool,
    error: String,
}

async fn page(
    state: &AppState,
    s: &ActiveSession,
    shown: Option<SecuritySettings>,
    error: String,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let settings = match shown {
        Some(x) => x,
        None => match security::get(&state.db.tenant(s.principal.tenant), &s.principal).await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "security settings not loaded");
                return web::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The settings could not be loaded.",
                );
            }
        },
    };
    web::render(
        status,
        &SecurityPage {
            chrome: Chrome::signed_in(state, s).await.with_notice(notice),
            csrf: s.csrf.clone(),
            require_staff_two_factor: settings.require_staff_two_factor,
            error,
        },
    )
}

pub async fn security(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    page(
        &state,
        &session,
        None,
        String::new(),
        web::notice_of(&query),
        StatusCode::OK,
    )
    .await
}

pub async fn update_security(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let wanted = Form::parse(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        &body,
    )
    .and_then(|f| f.checked("require_staff_two_factor"))
    .map(|require_staff_two_factor| SecuritySettings {
        require_staff_two_factor,
    });
    let wanted = match wanted {
        Ok(w) => w,
        Err(e) => {
            return page(
                &state,
                &session,
                None,
                e.to_string(),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match security::set(
        &state.db.tenant(session.principal.tenant),
        &state.keys,
        &session.principal,
        wanted,
    )
    .await
    {
        Ok(_) => web::see_other("/admin/security", Some("security-saved")),
        Err(SettingsError::Refused(m)) => {
            page(
                &state,
                &session,
                Some(wanted),
                m,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "security settings not saved");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The settings could not be saved.",
            )
        }
    }
}
