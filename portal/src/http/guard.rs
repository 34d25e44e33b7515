//! The one gate every route passes: it establishes who is asking (session cookie or API
//! token), checks what the route declared (`routes.rs`), checks the CSRF token of every
//! state-changing browser request, and records in the audit trail when a signed-in user asks
//! for an object that is not theirs to see (404).

use super::client::client_of;
use super::cookies;
use super::form::Form;
use super::routes::Access;
use super::{ApiError, AppState};
use crate::auth::session::ActiveSession;
use crate::auth::{Principal, SessionStage, constant_time_eq};
use crate::db::DbError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// What the gate of one route knows.
#[derive(Debug, Clone)]
pub struct Guard {
    pub state: AppState,
    pub access: Access,
    pub path: &'static str,
}

/// How a request proved who it is.
enum Identity {
    Token(Principal),
    Session(Box<ActiveSession>),
    /// A session cookie that no longer stands for a session (ended, expired): cleared.
    Stale,
    Nobody,
}

fn is_api(parts: &Parts) -> bool {
    parts.uri.path().starts_with("/api/")
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A sign-in is due: pages go to the sign-in form (and come back), the API answers 401.
fn sign_in_first(parts: &Parts, clear_cookie: bool) -> Response {
    let mut response = if is_api(parts) {
        ApiError::Unauthorized.into_response()
    } else {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let to = if changes_state(&parts.method) || back == "/" {
            "/sign-in".to_owned()
        } else {
            format!("/sign-in?next={}", crate::web::url_encode(&back))
        };
        Redirect::to(&to).into_response()
    };
    if clear_cookie {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookies::clear(cookies::SESSION));
    }
    response
}

async fn identify(
    g: &Guard,
    parts: &Parts,
    client: &crate::audit::Client,
) -> Result<Identity, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    if let Some(value) = bearer {
        let token = value
            .strip_prefix("Bearer ")
            .ok_or(ApiError::Unauthorized)?;
        return match g
            .state
            .db
            .authenticate_api_token(token.trim(), client)
            .await
        {
            Ok(p) => Ok(Identity::Token(p)),
            Err(DbError::NotFound) => Err(ApiError::Unauthorized),
            Err(e) => Err(e.into()),
        };
    }
    let Some(cookie) = cookies::get(&parts.headers, cookies::SESSION) else {
        return Ok(Identity::Nobody);
    };
    match g
        .state
        .db
        .session(cookie, client, g.state.session_policy())
        .await
    {
        Ok(s) => Ok(Identity::Session(Box::new(s))),
        Err(DbError::NotFound) => Ok(Identity::Stale),
        Err(e) => Err(e.into()),
    }
}

/// Reads a form body for its `csrf` field, giving the body back for the handler.
async fn csrf_field(parts: &Parts, body: Body) -> Result<(Option<String>, Body), Response> {
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, body));
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|_| {
        ApiError::TooLarge("the form is larger than this server accepts".into()).into_response()
    })?;
    // a form that cannot be read is refused for what it is (before any token is looked at)
    let form = Form::parse_body(&bytes).map_err(|e| refuse_form(parts, &e))?;
    let csrf = form
        .optional("csrf")
        .map_err(|e| refuse_form(parts, &e))?
        .map(str::to_owned);
    Ok((csrf, Body::from(bytes)))
}

fn refuse_form(parts: &Parts, e: &super::form::FormError) -> Response {
    if is_api(parts) {
        ApiError::Invalid(e.to_string()).into_response()
    } else {
        crate::web::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("The form could not be read: {e}. Nothing was changed."),
        )
    }
}

/// A file upload form (multipart) carries its token in the URL (`?csrf=…`): its fields cannot
/// be read before the whole upload is.
fn multipart_query_token(parts: &Parts) -> Option<String> {
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !multipart {
        return None;
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("csrf="))
            .map(str::to_owned)
    })
}

fn csrf_refused(parts: &Parts) -> Response {
    let message =
        "This form has expired or did not come from this site. Reload the page and try again.";
    if is_api(parts) {
        ApiError::Refused(message.into()).into_response()
    } else {
        crate::web::error_page(StatusCode::FORBIDDEN, message)
    }
}

/// Cross-site requests that change state are refused whatever they carry (modern browsers
/// say where a request came from).
fn cross_site(parts: &Parts) -> bool {
    parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == HeaderValue::from_static("cross-site"))
}

pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let client = client_of(&parts, &g.state.config.trusted_proxies);
    parts.extensions.insert(client.clone());
    let mutating = changes_state(&parts.method);

    match g.access {
        Access::Public | Access::Agent => return next.run(Request::from_parts(parts, body)).await,
        Access::PublicForm => {
            if !mutating {
                return next.run(Request::from_parts(parts, body)).await;
            }
            let (field, body) = match csrf_field(&parts, body).await {
                Ok(x) => x,
                Err(r) => return r,
            };
            let cookie = cookies::get(&parts.headers, cookies::PRE_CSRF);
            let ok = matches!((cookie, field.as_deref()), (Some(c), Some(f)) if constant_time_eq(c.as_bytes(), f.as_bytes()));
            if !ok || cross_site(&parts) {
                return csrf_refused(&parts);
            }
            return next.run(Request::from_parts(parts, body)).await;
        }
        Access::During(_) | Access::SignedIn | Access::Permission(_) => {}
    }

    let identity = match identify(&g, &parts, &client).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let (principal, session) = match identity {
        Identity::Token(p) => (p, None),
        Identity::Session(s) => (s.principal.clone(), Some(s)),
        Identity::Stale => return sign_in_first(&parts, true),
        Identity::Nobody => return sign_in_first(&parts, false),
    };
    let stage = session.as_ref().map_or(SessionStage::Complete, |s| s.stage);
    let stage_ok = match g.access {
        Access::During(stages) => stages.contains(&stage),
        _ => stage == SessionStage::Complete,
    };
    if !stage_ok {
        if is_api(&parts) {
            return ApiError::Unauthorized.into_response();
        }
        return Redirect::to(match stage {
            SessionStage::NeedsSecondFactor => "/sign-in/second-factor",
            SessionStage::NeedsEnrolment => "/profile/two-factor",
            SessionStage::Complete => "/",
        })
        .into_response();
    }
    if let Access::Permission(p) = g.access
        && let Err(forbidden) = principal.require(p)
    {
        return if is_api(&parts) {
            ApiError::from(forbidden).into_response()
        } else {
            crate::web::error_page(
                StatusCode::FORBIDDEN,
                &format!("You do not have access to this page ({forbidden})."),
            )
        };
    }
    let mut body = body;
    if mutating && let Some(s) = &session {
        let header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let field = match header.or_else(|| multipart_query_token(&parts)) {
            Some(h) => Some(h),
            None => match csrf_field(&parts, body).await {
                Ok((field, b)) => {
                    body = b;
                    field
                }
                Err(r) => return r,
            },
        };
        let ok = field.is_some_and(|f| constant_time_eq(f.as_bytes(), s.csrf.as_bytes()));
        if !ok || cross_site(&parts) {
            return csrf_refused(&parts);
        }
    }

    let (method, uri_path) = (parts.method.clone(), parts.uri.path().to_owned());
    parts.extensions.insert(principal.clone());
    if let Some(s) = session {
        parts.extensions.insert(*s);
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status() == StatusCode::NOT_FOUND && g.path.contains('{') {
        // an object id that does not exist here — or exists for another account or tenant
        let actor = principal.actor();
        let recorded = g
            .state
            .db
            .tenant(principal.tenant)
            .run(async |tx| {
                tx.audit(
                    &actor,
                    "access.not_found",
                    ("route", Some(format!("{method} {}", g.path))),
                    None,
                    serde_json::json!({ "path": uri_path }),
                )
                .await
            })
            .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record a refused access");
        }
    }
    response
}
