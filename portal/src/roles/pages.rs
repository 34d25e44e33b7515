//! The roles pages: the list with a form for a new role, and one role's edit form.

use super::{RoleError, RoleSpec, RoleView};
use crate::auth::Permission;
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::http::form::Form;
use crate::ids::RoleId;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use std::collections::BTreeMap;

struct PermissionRow {
    name: &'static str,
    customer: bool,
}

fn all_permissions() -> Vec<PermissionRow> {
    Permission::ALL
        .iter()
        .map(|p| PermissionRow {
            name: p.as_str(),
            customer: p.customer_may_hold(),
        })
        .collect()
}

fn form_of(headers: &HeaderMap, body: &[u8]) -> Result<Form, RoleError> {
    Form::parse(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        body,
    )
    .map_err(|e| RoleError::Refused(e.to_string()))
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    chrome: Chrome,
    csrf: String,
    roles: Vec<RoleView>,
    all_permissions: Vec<PermissionRow>,
    error: String,
}

#[derive(Template)]
#[template(path = "role_edit.html")]
struct RolePage {
    chrome: Chrome,
    csrf: String,
    role: RoleView,
    all_permissions: Vec<PermissionRow>,
    error: String,
}

fn failed(e: &RoleError) -> Response {
    match e {
        RoleError::Db(crate::db::DbError::NotFound) => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such role.")
        }
        other => {
            tracing::error!(error = %other, "roles page failed");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The roles could not be shown.",
            )
        }
    }
}

async fn roles_page(
    state: &AppState,
    s: &ActiveSession,
    error: String,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    match super::list(&state.db.tenant(s.principal.tenant), &s.principal).await {
        Ok(roles) => web::render(
            status,
            &RolesPage {
                chrome: Chrome::signed_in(state, s).await.with_notice(notice),
                csrf: s.csrf.clone(),
                roles,
                all_permissions: all_permissions(),
                error,
            },
        ),
        Err(e) => failed(&e),
    }
}

async fn role_page(
    state: &AppState,
    s: &ActiveSession,
    id: RoleId,
    error: String,
    status: StatusCode,
) -> Response {
    let view = state
        .db
        .tenant(s.principal.tenant)
        .read(async |tx| tx.role_view(id).await)
        .await;
    match view {
        Ok(role) => web::render(
            status,
            &RolePage {
                chrome: Chrome::signed_in(state, s).await,
                csrf: s.csrf.clone(),
                role,
                all_permissions: all_permissions(),
                error,
            },
        ),
        Err(e) => failed(&RoleError::Db(e)),
    }
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    roles_page(
        &state,
        &session,
        String::new(),
        web::notice_of(&query),
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let spec = form_of(&headers, &body).and_then(|f| {
        let name = f
            .optional("name")
            .map_err(|e| RoleError::Refused(e.to_string()))?
            .unwrap_or_default();
        let scope = f
            .optional("scope")
            .map_err(|e| RoleError::Refused(e.to_string()))?
            .unwrap_or_default();
        RoleSpec::parse(name, scope, f.all("permission"))
    });
    let done = match spec {
        Ok(spec) => {
            super::create(
                &state.db.tenant(session.principal.tenant),
                &session.principal,
                &spec,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => web::see_other("/admin/roles", Some("role-saved")),
        Err(RoleError::Refused(m)) => {
            roles_page(&state, &session, m, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => failed(&e),
    }
}

pub async fn edit(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    role_page(&state, &session, RoleId(id), String::new(), StatusCode::OK).await
}

pub async fn update(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = RoleId(id);
    let parsed = form_of(&headers, &body).and_then(|f| {
        let name = f
            .optional("name")
            .map_err(|e| RoleError::Refused(e.to_string()))?
            .unwrap_or_default()
            .to_owned();
        let permissions = f
            .all("permission")
            .iter()
            .map(|p| {
                Permission::parse(p)
                    .ok_or_else(|| RoleError::Refused(format!("there is no permission '{p}'")))
            })
            .collect::<Result<_, _>>()?;
        Ok((name, permissions))
    });
    let done = match parsed {
        Ok((name, permissions)) => {
            super::update(
                &state.db.tenant(session.principal.tenant),
                &session.principal,
                id,
                &name,
                &permissions,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => web::see_other("/admin/roles", Some("role-saved")),
        Err(RoleError::Refused(m)) => {
            role_page(&state, &session, id, m, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => failed(&e),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let id = RoleId(id);
    match super::delete(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        id,
    )
    .await
    {
        Ok(()) => web::see_other("/admin/roles", Some("role-deleted")),
        Err(RoleError::Refused(m)) => {
            role_page(&state, &session, id, m, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => failed(&e),
    }
}
