//! The people pages: the user list with invitations and actions (`/admin/users`), and the
//! public page where an invitation is accepted.

use super::invitations::{self, Invite, InviteError, Welcome};
use super::manage::{self, ManageError};
use crate::audit::Client;
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::http::form::{Form, FormError};
use crate::ids::{AccountId, RoleId, UserId};
use crate::users::{Role, UserKind};
use crate::web::{self, Chrome, FieldErrors};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ingest::domain::EmailAddress;
use std::collections::BTreeMap;

struct UserRow {
    id: i64,
    display_name: String,
    email: String,
    account: String,
    roles: String,
    status: String,
    last_login: String,
    scope: &'static str,
    manageable: bool,
}

struct InvitationRow {
    email: String,
    role: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    csrf: String,
    users: Vec<UserRow>,
    roles: Vec<Role>,
    invitations: Vec<InvitationRow>,
    can_manage: bool,
    staff: bool,
    invite_email: String,
    invite_account: String,
    error: String,
    errors: FieldErrors,
}

#[derive(Default)]
struct Draft {
    invite_email: String,
    invite_account: String,
    error: String,
    errors: FieldErrors,
    notice: Option<String>,
}

async fn users_page(
    state: &AppState,
    s: &ActiveSession,
    draft: Draft,
    status: StatusCode,
) -> Response {
    let by = &s.principal;
    let db = state.db.tenant(by.tenant);
    let listed = db
        .read(async |tx| {
            let users = match by.account() {
                Some(a) => tx.users_of_account(a).await?,
                None => tx.list_users(None, 500).await?,
            };
            let mut rows = Vec::with_capacity(users.len());
            for u in users {
                let manageable = manage::may_manage(tx, by, &u).await?;
                let roles: Vec<String> = tx
                    .roles_of(u.id)
                    .await?
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                let (scope, account) = match u.kind {
                    UserKind::Staff => ("staff", "—".to_owned()),
                    UserKind::Customer(a) => ("customer", tx.account(a).await?.number),
                };
                rows.push(UserRow {
                    id: u.id.0,
                    display_name: u.display_name,
                    email: u.email.as_str().to_owned(),
                    account,
                    roles: roles.join(", "),
                    status: u.status,
                    last_login: u
                        .last_login_at
                        .map(|t| by.formats.when(t))
                        .unwrap_or_else(|| "never".into()),
                    scope,
                    manageable,
                });
            }
            Ok((rows, manage::grantable_roles(tx, by).await?))
        })
        .await;
    let invitations = invitations::open_invitations(&db, by).await;
    let ((users, roles), invitations) = match (listed, invitations) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => {
            tracing::error!(error = %e, "users not listed");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The users could not be listed.",
            );
        }
        (_, Err(e)) => {
            tracing::error!(error = %e, "invitations not listed");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The invitations could not be listed.",
            );
        }
    };
    let page = UsersPage {
        chrome: Chrome::signed_in(state, s).await.with_notice(draft.notice),
        csrf: s.csrf.clone(),
        users,
        roles,
        invitations: invitations
            .into_iter()
            .map(|i| InvitationRow {
                email: i.email,
                role: i.role,
                expires: by.formats.when(i.expires_at),
            })
            .collect(),
        can_manage: by
            .permissions
            .contains(&crate::auth::Permission::UsersManage),
        staff: by.is_staff(),
        invite_email: draft.invite_email,
        invite_account: draft.invite_account,
        error: draft.error,
        errors: draft.errors,
    };
    web::render(status, &page)
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let draft = Draft {
        notice: web::notice_of(&query),
        ..Draft::default()
    };
    users_page(&state, &session, draft, StatusCode::OK).await
}

fn draft_error(message: impl ToString, field: Option<&str>) -> Draft {
    let mut d = Draft::default();
    match field {
        Some(f) => d.errors.add(f, message.to_string()),
        None => d.error = message.to_string(),
    }
    d
}

pub async fn invite(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return users_page(&state, &session, draft_error(e, Some("invite")), bad).await,
    };
    let fields = (|| {
        Ok::<_, FormError>((
            form.optional("email")?
                .unwrap_or_default()
                .trim()
                .to_owned(),
            form.optional("role")?.unwrap_or_default().trim().to_owned(),
            form.optional("account")?
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ))
    })();
    let (email, role, account) = match fields {
        Ok(x) => x,
        Err(e) => return users_page(&state, &session, draft_error(e, Some("invite")), bad).await,
    };
    let mut draft = Draft {
        invite_email: email.clone(),
        invite_account: account.clone(),
        ..Draft::default()
    };
    let email = match EmailAddress::parse(&email) {
        Ok(e) => e,
        Err(e) => {
            draft.errors.add("email", e.to_string());
            return users_page(&state, &session, draft, bad).await;
        }
    };
    let Ok(role) = role.parse::<i64>().map(RoleId) else {
        draft
            .errors
            .add("invite", crate::web::i18n::n_("Choose a role."));
        return users_page(&state, &session, draft, bad).await;
    };
    let db = state.db.tenant(session.principal.tenant);
    let account = if account.is_empty() || !session.principal.is_staff() {
        None
    } else {
        match db
            .read(async |tx| tx.account_by_number(&account).await)
            .await
        {
            Ok(a) => Some(AccountId(a.id.0)),
            Err(_) => {
                draft.errors.add(
                    "invite",
                    format!("There is no customer account numbered '{account}'."),
                );
                return users_page(&state, &session, draft, bad).await;
            }
        }
    };
    let invite = Invite {
        email,
        role,
        account,
    };
    match invitations::invite(&db, &state.config.base_url, &session.principal, &invite).await {
        Ok(_) => {
            state.mail_queued.notify_one();
            web::see_other("/admin/users", Some("invited"))
        }
        Err(InviteError::Db(e)) => {
            tracing::error!(error = %e, "invitation failed");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The invitation could not be sent.",
            )
        }
        Err(e) => {
            draft.errors.add("invite", e.to_string());
            users_page(&state, &session, draft, bad).await
        }
    }
}

async fn after_manage(
    state: &AppState,
    session: &ActiveSession,
    done: Result<(), ManageError>,
    notice: &'static str,
) -> Response {
    match done {
        Ok(()) => web::see_other("/admin/users", Some(notice)),
        Err(ManageError::Db(crate::db::DbError::NotFound)) => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such user.")
        }
        Err(ManageError::Db(e)) => {
            tracing::error!(error = %e, "user not changed");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The user could not be changed.",
            )
        }
        Err(e) => {
            users_page(
                state,
                session,
                draft_error(e, None),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

pub async fn set_roles(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let roles: Result<Vec<RoleId>, String> = Form::of_request(&headers, &body)
        .map_err(|e| e.to_string())
        .and_then(|f| {
            f.all("role")
                .iter()
                .map(|r| {
                    r.parse::<i64>()
                        .map(RoleId)
                        .map_err(|_| crate::web::i18n::n_("Choose a role.").to_owned())
                })
                .collect()
        });
    let done = match roles {
        Ok(roles) => manage::set_roles(
            &state.db.tenant(session.principal.tenant),
            &session.principal,
            UserId(id),
            &roles,
        )
        .await
        .map(|_| ()),
        Err(m) => Err(ManageError::Refused(m)),
    };
    after_manage(&state, &session, done, "user-saved").await
}

pub async fn disable(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let done = manage::set_enabled(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        UserId(id),
        false,
    )
    .await
    .map(|_| ());
    after_manage(&state, &session, done, "user-saved").await
}

pub async fn enable(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let done = manage::set_enabled(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        UserId(id),
        true,
    )
    .await
    .map(|_| ());
    after_manage(&state, &session, done, "user-saved").await
}

pub async fn erase(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let done = super::privacy::erase(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        UserId(id),
    )
    .await;
    after_manage(&state, &session, done, "user-erased").await
}

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    welcome: Option<Welcome>,
    name: String,
    error: String,
    errors: FieldErrors,
}

pub async fn accept_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let (csrf, set) = web::pre_csrf(&headers);
    let token = query.get("token").cloned().unwrap_or_default();
    let welcome = invitations::welcome(&state.db, &token).await;
    let status = if welcome.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    let page = AcceptPage {
        chrome: Chrome::public(welcome.as_ref().ok().map(|w| w.dealer.clone()), &headers),
        csrf,
        token,
        error: welcome
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
        welcome: welcome.ok(),
        name: String::new(),
        errors: FieldErrors::default(),
    };
    web::with_cookie(web::render(status, &page), set)
}

pub async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    body: Bytes,
) -> Response {
    let (csrf, _) = web::pre_csrf(&headers);
    let mut page = AcceptPage {
        chrome: Chrome::public(None, &headers),
        csrf,
        token: String::new(),
        welcome: None,
        name: String::new(),
        error: String::new(),
        errors: FieldErrors::default(),
    };
    let fields = Form::of_request(&headers, &body).and_then(|f| {
        Ok((
            f.required("token", "The invitation's token")?.to_owned(),
            f.optional("name")?.unwrap_or_default().to_owned(),
            f.optional("password")?.unwrap_or_default().to_owned(),
            f.optional("confirm")?.unwrap_or_default().to_owned(),
        ))
    });
    let (token, name, password, confirm) = match fields {
        Ok(x) => x,
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    page.token = token.clone();
    page.name = name.clone();
    match invitations::welcome(&state.db, &token).await {
        Ok(w) => {
            page.chrome = Chrome::public(Some(w.dealer.clone()), &headers);
            page.welcome = Some(w);
        }
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::GONE, &page);
        }
    }
    if let Err(e) = crate::tenants::parse_name("your name", &name) {
        page.errors.add("name", e.to_string());
    }
    if let Err(e) = crate::auth::password::check_length(&password) {
        page.errors.add("password", e.to_string());
    } else if password != confirm {
        page.errors
            .add("confirm", crate::web::i18n::n_("The two passwords differ."));
    }
    if !page.errors.is_empty() {
        return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    match invitations::accept(
        &state.db,
        &state.hasher,
        state.session_policy(),
        &token,
        &name,
        &password,
        &client,
    )
    .await
    {
        Ok(signed_in) => crate::auth::pages::after_sign_in(&signed_in, "/", None),
        Err(InviteError::Db(e)) => {
            tracing::error!(error = %e, "invitation not accepted");
            page.error =
                crate::web::i18n::n_("That did not work on our side. Try again in a moment.")
                    .into();
            web::render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
        Err(e @ InviteError::BadToken) => {
            page.welcome = None;
            page.error = e.to_string();
            web::render(StatusCode::GONE, &page)
        }
        Err(e) => {
            page.error = e.to_string();
            web::render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
