//! The sign-in pages: sign in, the second factor, sign out, forgotten password, new password.
//! Thin: read the form, call `signin` / `reset`, set cookies, render or redirect.

use super::SessionStage;
use super::reset::{self, ResetError};
use super::session::ActiveSession;
use super::signin::{self, Attempt, SignInError, SignedIn};
use crate::audit::Client;
use crate::http::form::{Form, FormError};
use crate::http::{AppState, cookies, with_cookies};
use crate::tenants::{Tenant, TenantSlug};
use crate::web::{self, Chrome, FieldErrors};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ingest::domain::EmailAddress;
use std::collections::BTreeMap;

/// A year: how long a browser remembers its device cookie and the dealer.
const YEAR_S: i64 = 365 * 86_400;

type QueryMap = Query<BTreeMap<String, String>>;

/// The dealer a form is about: from the query, else the one this browser last signed in with.
fn dealer_hint(headers: &HeaderMap, query: &BTreeMap<String, String>) -> String {
    query
        .get("dealer")
        .map(String::as_str)
        .or_else(|| cookies::get(headers, cookies::DEALER))
        .and_then(|d| TenantSlug::parse(d).ok())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

async fn dealer_named(state: &AppState, slug: &str) -> Option<Tenant> {
    let slug = TenantSlug::parse(slug).ok()?;
    state
        .db
        .tenant_by_slug(&slug)
        .await
        .ok()
        .filter(|t| t.status == "active")
}

async fn dealer_name(state: &AppState, slug: &str) -> Option<String> {
    dealer_named(state, slug).await.map(|t| t.name)
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    csrf: String,
    dealer: String,
    email: String,
    next: String,
    error: String,
}

pub async fn sign_in_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): QueryMap,
) -> Response {
    let next = web::safe_next(query.get("next").map(String::as_str));
    if let Some(cookie) = cookies::get(&headers, cookies::SESSION)
        && let Ok(s) = state
            .db
            .session(cookie, &Client::default(), state.session_policy())
            .await
        && s.stage == SessionStage::Complete
    {
        return Redirect::to(&next).into_response();
    }
    let (csrf, set) = web::pre_csrf(&headers);
    let dealer = dealer_hint(&headers, &query);
    let page = SignInPage {
        chrome: Chrome::public(dealer_name(&state, &dealer).await, &headers)
            .with_notice(web::notice_of(&query)),
        csrf,
        dealer,
        email: String::new(),
        next,
        error: String::new(),
    };
    web::with_cookie(web::ok(&page), set)
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    body: Bytes,
) -> Response {
    let (csrf, _) = web::pre_csrf(&headers);
    let form = Form::of_request(&headers, &body);
    let field = |name: &str| -> String {
        form.as_ref()
            .ok()
            .and_then(|f| f.optional(name).ok().flatten())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut page = SignInPage {
        chrome: Chrome::public(None, &headers),
        csrf,
        dealer: field("dealer"),
        email: field("email"),
        next: web::safe_next(Some(&field("next"))),
        error: String::new(),
    };
    let refuse = |mut page: SignInPage, status: StatusCode, error: String| {
        page.error = error;
        web::render(status, &page)
    };
    let form = match form {
        Ok(f) => f,
        Err(e) => return refuse(page, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let parsed = (|| -> Result<(String, String, String), FormError> {
        Ok((
            form.required("dealer", "Your dealer")?.trim().to_owned(),
            form.required("email", "Your e-mail address")?
                .trim()
                .to_owned(),
            form.required("password", "Your password")?.to_owned(),
        ))
    })();
    let (dealer, email, password) = match parsed {
        Ok(x) => x,
        Err(e) => return refuse(page, StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    let Some(tenant) = dealer_named(&state, &dealer).await else {
        return refuse(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("There is no dealer called '{dealer}'. Check the name your dealer gave you."),
        );
    };
    page.chrome = Chrome::public(Some(tenant.name.clone()), &headers);
    let Ok(email) = EmailAddress::parse(&email) else {
        return refuse(
            page,
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::web::i18n::n_("Write your e-mail address as name@example.com.").into(),
        );
    };
    let attempt = Attempt {
        email: &email,
        password: &password,
        device: cookies::get(&headers, cookies::DEVICE),
        old_session: cookies::get(&headers, cookies::SESSION),
        client: &client,
    };
    let db = state.db.tenant(tenant.id);
    match signin::sign_in(&db, &state.hasher, state.session_policy(), &attempt).await {
        Ok(signed_in) => after_sign_in(&signed_in, &page.next, Some(tenant.slug.as_str())),
        Err(SignInError::WrongCredentials) => refuse(
            page,
            StatusCode::UNAUTHORIZED,
            crate::web::i18n::n_("The e-mail address or the password is not right.").into(),
        ),
        Err(SignInError::Throttled(t)) => {
            let mut r = refuse(
                page,
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many attempts. Try again in {} minutes, or reset your password.",
                    t.minutes()
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&t.retry_after_s.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(SignInError::Db(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            refuse(
                page,
                StatusCode::INTERNAL_SERVER_ERROR,
                crate::web::i18n::n_("Signing in failed on our side. Try again in a moment.")
                    .into(),
            )
        }
    }
}

/// The answer to a successful sign-in (a password, or an accepted invitation): the session's
/// and the browser's cookies, and on to where the session's stage leads (`then` once fully
/// signed in).
pub(crate) fn after_sign_in(signed_in: &SignedIn, then: &str, dealer: Option<&str>) -> Response {
    let to = match signed_in.stage {
        SessionStage::Complete => then,
        SessionStage::NeedsSecondFactor => "/sign-in/second-factor",
        SessionStage::NeedsEnrolment => "/profile/two-factor",
    };
    let mut set = vec![cookies::set(
        cookies::SESSION,
        &signed_in.session.token,
        None,
    )];
    if let Some(slug) = dealer {
        set.push(cookies::set(cookies::DEALER, slug, Some(YEAR_S)));
    }
    if let Some(device) = &signed_in.new_device {
        set.push(cookies::set(cookies::DEVICE, device, Some(YEAR_S)));
    }
    with_cookies(Redirect::to(to).into_response(), &set)
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    csrf: String,
    error: String,
}

pub async fn second_factor_form(State(state): State<AppState>, session: ActiveSession) -> Response {
    web::ok(&SecondFactorPage {
        chrome: Chrome::signed_in(&state, &session).await,
        csrf: session.csrf.clone(),
        error: String::new(),
    })
}

pub async fn second_factor(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut page = SecondFactorPage {
        chrome: Chrome::signed_in(&state, &session).await,
        csrf: session.csrf.clone(),
        error: String::new(),
    };
    let code = match Form::of_request(&headers, &body)
        .and_then(|f| f.required("code", "The code").map(str::to_owned))
    {
        Ok(c) => c,
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let db = state.db.tenant(session.principal.tenant);
    match signin::second_factor(&db, &state.keys, state.session_policy(), &session, &code).await {
        Ok(new) => with_cookies(
            Redirect::to("/").into_response(),
            &[cookies::set(cookies::SESSION, &new.token, None)],
        ),
        Err(SignInError::WrongCredentials) => {
            page.error = crate::web::i18n::n_(
                "That code is not right (or was already used). Enter the current one.",
            )
            .into();
            web::render(StatusCode::UNAUTHORIZED, &page)
        }
        Err(SignInError::Throttled(t)) => {
            page.error = format!("Too many attempts. Try again in {} minutes.", t.minutes());
            web::render(StatusCode::TOO_MANY_REQUESTS, &page)
        }
        Err(SignInError::Db(e)) => {
            tracing::error!(error = %e, "second factor failed");
            page.error = crate::web::i18n::n_(
                "Checking the code failed on our side. Try again in a moment.",
            )
            .into();
            web::render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}

pub async fn sign_out(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    let actor = p.actor();
    let done = state
        .db
        .tenant(p.tenant)
        .run(async |tx| {
            tx.end_session(p.user, session.id).await?;
            tx.audit(
                &actor,
                "auth.sign_out",
                ("user", Some(p.user.to_string())),
                None,
                serde_json::json!({ "session": session.id.0 }),
            )
            .await
        })
        .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, "sign-out not recorded");
    }
    with_cookies(
        web::see_other("/sign-in", Some("signed-out")),
        &[cookies::clear(cookies::SESSION)],
    )
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    csrf: String,
    dealer: String,
    email: String,
    error: String,
}

pub async fn forgot_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): QueryMap,
) -> Response {
    let (csrf, set) = web::pre_csrf(&headers);
    let dealer = dealer_hint(&headers, &query);
    let page = ForgotPage {
        chrome: Chrome::public(dealer_name(&state, &dealer).await, &headers),
        csrf,
        dealer,
        email: String::new(),
        error: String::new(),
    };
    web::with_cookie(web::ok(&page), set)
}

pub async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    body: Bytes,
) -> Response {
    let (csrf, _) = web::pre_csrf(&headers);
    let form = Form::of_request(&headers, &body);
    let field = |name: &str| -> String {
        form.as_ref()
            .ok()
            .and_then(|f| f.optional(name).ok().flatten())
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut page = ForgotPage {
        chrome: Chrome::public(None, &headers),
        csrf,
        dealer: field("dealer"),
        email: field("email"),
        error: String::new(),
    };
    let (dealer, email) = match form.and_then(|f| {
        Ok((
            f.required("dealer", "Your dealer")?.trim().to_owned(),
            f.required("email", "Your e-mail address")?
                .trim()
                .to_owned(),
        ))
    }) {
        Ok(x) => x,
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let Some(tenant) = dealer_named(&state, &dealer).await else {
        page.error = format!("There is no dealer called '{dealer}'.");
        return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let Ok(email) = EmailAddress::parse(&email) else {
        page.error = crate::web::i18n::n_("Write your e-mail address as name@example.com.").into();
        return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    match reset::request(
        &state.db.tenant(tenant.id),
        &state.config.base_url,
        email,
        &client,
    )
    .await
    {
        Ok(work) => {
            // the mail is queued after the answer; the sender is woken when it is
            let wake = state.mail_queued.clone();
            tokio::spawn(async move {
                let _ = work.await;
                wake.notify_one();
            });
            web::see_other(
                &format!("/sign-in?dealer={}", tenant.slug.as_str()),
                Some("reset-sent"),
            )
        }
        Err(ResetError::Throttled(t)) => {
            page.error = format!(
                "Too many requests from your network. Try again in {} minutes.",
                t.minutes()
            );
            web::render(StatusCode::TOO_MANY_REQUESTS, &page)
        }
        Err(e) => {
            tracing::error!(error = %e, "reset request failed");
            page.error =
                crate::web::i18n::n_("That did not work on our side. Try again in a moment.")
                    .into();
            web::render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    valid: bool,
    error: String,
    errors: FieldErrors,
}

pub async fn reset_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): QueryMap,
) -> Response {
    let (csrf, set) = web::pre_csrf(&headers);
    let token = query.get("token").cloned().unwrap_or_default();
    let checked = reset::check(&state.db, &token).await;
    let page = ResetPage {
        chrome: Chrome::public(None, &headers),
        csrf,
        valid: checked.is_ok(),
        error: checked.err().map(|e| e.to_string()).unwrap_or_default(),
        token,
        errors: FieldErrors::default(),
    };
    let status = if page.valid {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    web::with_cookie(web::render(status, &page), set)
}

pub async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Client,
    body: Bytes,
) -> Response {
    let (csrf, _) = web::pre_csrf(&headers);
    let mut page = ResetPage {
        chrome: Chrome::public(None, &headers),
        csrf,
        token: String::new(),
        valid: true,
        error: String::new(),
        errors: FieldErrors::default(),
    };
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let fields = (|| -> Result<(String, String, String), FormError> {
        Ok((
            form.required("token", "The link's token")?.to_owned(),
            form.optional("password")?.unwrap_or_default().to_owned(),
            form.optional("confirm")?.unwrap_or_default().to_owned(),
        ))
    })();
    let (token, password, confirm) = match fields {
        Ok(x) => x,
        Err(e) => {
            page.error = e.to_string();
            return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    page.token = token.clone();
    if let Err(e) = super::password::check_length(&password) {
        page.errors.add("password", e.to_string());
    } else if password != confirm {
        page.errors
            .add("confirm", crate::web::i18n::n_("The two passwords differ."));
    }
    if !page.errors.is_empty() {
        return web::render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    match reset::complete(&state.db, &state.hasher, &token, &password, &client).await {
        Ok(_) => with_cookies(
            web::see_other("/sign-in", Some("password-reset")),
            &[cookies::clear(cookies::SESSION)],
        ),
        Err(ResetError::BadToken) => {
            page.valid = false;
            page.error = ResetError::BadToken.to_string();
            web::render(StatusCode::GONE, &page)
        }
        Err(ResetError::Password(e)) => {
            page.errors.add("password", e.to_string());
            web::render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => {
            tracing::error!(error = %e, "password reset failed");
            page.error =
                crate::web::i18n::n_("That did not work on our side. Try again in a moment.")
                    .into();
            web::render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}
