//! The profile pages: one page with the user's name and preferences, password, second factor,
//! sessions, tokens and data; the set-up page of the second factor.

use super::ProfileError;
use crate::auth::session::ActiveSession;
use crate::auth::{SessionStage, totp};
use crate::http::form::Form;
use crate::http::{AppState, cookies, with_cookies};
use crate::users::{Profile, ProfileInput};
use crate::web::formats::{DATE_STYLES, DateStyle, NUMBER_STYLES, NumberStyle};
use crate::web::{self, Chrome, FieldErrors};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ingest::domain::ParseError;
use std::collections::BTreeMap;

struct SessionRow {
    created_at: String,
    last_seen_at: String,
    ip: String,
    user_agent: String,
    current: bool,
}

struct TokenRow {
    id: i64,
    name: String,
    permissions: String,
    created_at: String,
    last_used_at: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    csrf: String,
    email: String,
    display_name: String,
    locale: String,
    locales: Vec<(&'static str, &'static str)>,
    time_zone: String,
    /// Every zone name of the tz database, offered as the field is typed.
    zones: Vec<&'static str>,
    date_format: String,
    date_formats: &'static [(DateStyle, &'static str, &'static str)],
    number_format: String,
    number_formats: &'static [(NumberStyle, &'static str, &'static str)],
    errors: FieldErrors,
    two_factor: bool,
    staff_must_use_two_factor: bool,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    grantable: Vec<&'static str>,
}

/// What a failed post wants shown again instead of what is stored.
#[derive(Default)]
struct Draft {
    profile: Option<ProfileInput>,
    errors: FieldErrors,
    new_token: Option<String>,
    notice: Option<String>,
}

async fn profile_page(
    state: &AppState,
    s: &ActiveSession,
    draft: Draft,
    status: StatusCode,
) -> Response {
    let me = &s.principal;
    let loaded = state
        .db
        .tenant(me.tenant)
        .read(async |tx| {
            Ok((
                tx.user(me.user).await?,
                tx.sessions_of(me.user).await?,
                tx.api_tokens_of(me.user).await?,
                tx.totp_state(me.user).await?.is_some_and(|t| t.confirmed),
                tx.staff_need_second_factor().await?,
            ))
        })
        .await;
    let (user, sessions, tokens, two_factor, required) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "profile not loaded");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your profile could not be loaded.",
            );
        }
    };
    let shown = draft.profile.unwrap_or_else(|| ProfileInput {
        display_name: user.display_name,
        locale: user.locale,
        time_zone: user.formats.zone.name().to_owned(),
        date_format: user.formats.date.code().to_owned(),
        number_format: user.formats.number.code().to_owned(),
    });
    let f = &me.formats;
    let page = ProfilePage {
        chrome: Chrome::signed_in(state, s).await.with_notice(draft.notice),
        csrf: s.csrf.clone(),
        email: user.email.as_str().to_owned(),
        display_name: shown.display_name,
        locale: shown.locale,
        locales: crate::web::i18n::Lang::choices().collect(),
        time_zone: shown.time_zone,
        zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        date_format: shown.date_format,
        date_formats: DATE_STYLES,
        number_format: shown.number_format,
        number_formats: NUMBER_STYLES,
        errors: draft.errors,
        two_factor,
        staff_must_use_two_factor: required && me.is_staff(),
        sessions: sessions
            .into_iter()
            .map(|x| SessionRow {
                created_at: f.when(x.created_at),
                last_seen_at: f.when(x.last_seen_at),
                ip: x.ip.unwrap_or_default(),
                user_agent: x.user_agent.unwrap_or_default(),
                current: x.id == s.id.0,
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                permissions: t.permissions.join(" "),
                created_at: f.when(t.created_at),
                last_used_at: t
                    .last_used_at
                    .map(|at| f.when(at))
                    .unwrap_or_else(|| "never".into()),
                revoked: t.revoked_at.is_some(),
            })
            .collect(),
        new_token: draft.new_token,
        grantable: me.permissions.iter().map(|p| p.as_str()).collect(),
    };
    web::render(status, &page)
}

pub async fn show(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let draft = Draft {
        notice: web::notice_of(&query),
        ..Draft::default()
    };
    profile_page(&state, &session, draft, StatusCode::OK).await
}

fn invalid(e: impl ToString, field: &str) -> Draft {
    let mut errors = FieldErrors::default();
    errors.add(field, e.to_string());
    Draft {
        errors,
        ..Draft::default()
    }
}

pub async fn update(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return profile_page(&state, &session, invalid(e, "display_name"), status).await,
    };
    let fields = (|| {
        let field = |name: &str, default: &str| {
            Ok::<_, crate::http::form::FormError>(
                form.optional(name)?.unwrap_or(default).to_owned(),
            )
        };
        Ok::<_, crate::http::form::FormError>(ProfileInput {
            display_name: field("display_name", "")?,
            locale: field("locale", "en")?,
            time_zone: field("time_zone", "UTC")?,
            date_format: field("date_format", "iso")?,
            number_format: field("number_format", "en")?,
        })
    })();
    let input = match fields {
        Ok(x) => x,
        Err(e) => return profile_page(&state, &session, invalid(e, "display_name"), status).await,
    };
    let profile = match Profile::parse(&input) {
        Ok(p) => p,
        Err(e) => {
            let field = match &e {
                ParseError::Invalid { what, .. } => match *what {
                    "language" => "locale",
                    "time zone" => "time_zone",
                    "date format" => "date_format",
                    "number format" => "number_format",
                    _ => "display_name",
                },
                _ => "display_name",
            };
            let mut draft = invalid(e, field);
            draft.profile = Some(input);
            return profile_page(&state, &session, draft, status).await;
        }
    };
    match super::update(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        &profile,
    )
    .await
    {
        Ok(()) => web::see_other("/profile", Some("profile-saved")),
        Err(e) => {
            tracing::error!(error = %e, "profile not saved");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your profile could not be saved.",
            )
        }
    }
}

/// How a profile operation's refusal is shown: next to `field`, with its status.
fn refusal(e: &ProfileError, field: &str) -> (Draft, StatusCode) {
    let status = match e {
        ProfileError::WrongPassword | ProfileError::WrongCode => StatusCode::UNAUTHORIZED,
        ProfileError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
        ProfileError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    if let ProfileError::Db(d) = e {
        tracing::error!(error = %d, "profile operation failed");
    }
    let message = match e {
        ProfileError::Db(_) => {
            crate::web::i18n::n_("That did not work on our side. Try again in a moment.").to_owned()
        }
        other => other.to_string(),
    };
    (invalid(message, field), status)
}

pub async fn change_password(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            return profile_page(
                &state,
                &session,
                invalid(e, "password"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let fields = (|| {
        Ok::<_, crate::http::form::FormError>((
            form.optional("current")?.unwrap_or_default().to_owned(),
            form.optional("password")?.unwrap_or_default().to_owned(),
            form.optional("confirm")?.unwrap_or_default().to_owned(),
        ))
    })();
    let (current, new, confirm) = match fields {
        Ok(x) => x,
        Err(e) => {
            return profile_page(
                &state,
                &session,
                invalid(e, "password"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if new != confirm {
        let draft = invalid(
            crate::web::i18n::n_("The two new passwords differ."),
            "confirm",
        );
        return profile_page(&state, &session, draft, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let db = state.db.tenant(session.principal.tenant);
    match super::change_password(&db, &state.hasher, &session.principal, &current, &new).await {
        Ok(_) => web::see_other("/profile", Some("password-changed")),
        Err(e) => {
            let field = match e {
                ProfileError::WrongPassword | ProfileError::Throttled(_) => "current",
                _ => "password",
            };
            let (draft, status) = refusal(&e, field);
            profile_page(&state, &session, draft, status).await
        }
    }
}

pub async fn end_all_sessions(State(state): State<AppState>, session: ActiveSession) -> Response {
    match super::end_all_sessions(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
    )
    .await
    {
        Ok(_) => with_cookies(
            web::see_other("/sign-in", Some("signed-out")),
            &[cookies::clear(cookies::SESSION)],
        ),
        Err(e) => {
            tracing::error!(error = %e, "sessions not ended");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your sessions could not be ended. Try again.",
            )
        }
    }
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    chrome: Chrome,
    csrf: String,
    required: bool,
    qr_svg: String,
    key: String,
    error: String,
}

async fn two_factor_page(
    state: &AppState,
    s: &ActiveSession,
    error: String,
    status: StatusCode,
) -> Response {
    let me = &s.principal;
    let db = state.db.tenant(me.tenant);
    let seed = match super::two_factor_seed(&db, &state.keys, me).await {
        Ok(seed) => seed,
        Err(e @ ProfileError::Refused(_)) => {
            return web::error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
        Err(e) => {
            tracing::error!(error = %e, "two-factor set-up failed");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Two-factor set-up failed on our side.",
            );
        }
    };
    let account = db
        .read(async |tx| tx.user(me.user).await)
        .await
        .map(|u| u.email.as_str().to_owned())
        .unwrap_or_default();
    let chrome = Chrome::signed_in(state, s).await;
    let uri = totp::provisioning_uri(&chrome.dealer, &account, &seed);
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    web::render(
        status,
        &TwoFactorPage {
            chrome,
            csrf: s.csrf.clone(),
            required: s.stage == SessionStage::NeedsEnrolment,
            qr_svg,
            key: totp::base32(&seed),
            error,
        },
    )
}

pub async fn two_factor_form(State(state): State<AppState>, session: ActiveSession) -> Response {
    let has = state
        .db
        .tenant(session.principal.tenant)
        .read(async |tx| tx.totp_state(session.principal.user).await)
        .await
        .ok()
        .flatten()
        .is_some_and(|t| t.confirmed);
    if has {
        return web::see_other("/profile", None);
    }
    two_factor_page(&state, &session, String::new(), StatusCode::OK).await
}

pub async fn two_factor_confirm(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let code = match Form::of_request(&headers, &body)
        .and_then(|f| f.required("code", "The code").map(str::to_owned))
    {
        Ok(c) => c,
        Err(e) => {
            return two_factor_page(
                &state,
                &session,
                e.to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let db = state.db.tenant(session.principal.tenant);
    match super::two_factor_confirm(&db, &state.keys, state.session_policy(), &session, &code).await
    {
        Ok(new) => with_cookies(
            web::see_other("/profile", Some("two-factor-on")),
            &[cookies::set(cookies::SESSION, &new.token, None)],
        ),
        Err(e) => {
            let (_, status) = refusal(&e, "code");
            two_factor_page(&state, &session, e.to_string(), status).await
        }
    }
}

pub async fn two_factor_disable(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let password = match Form::of_request(&headers, &body)
        .and_then(|f| f.required("password", "Your password").map(str::to_owned))
    {
        Ok(p) => p,
        Err(e) => {
            return profile_page(
                &state,
                &session,
                invalid(e, "disable"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let db = state.db.tenant(session.principal.tenant);
    match super::two_factor_disable(&db, &state.hasher, &session.principal, &password).await {
        Ok(()) => web::see_other("/profile", Some("two-factor-off")),
        Err(e) => {
            let (draft, status) = refusal(&e, "disable");
            profile_page(&state, &session, draft, status).await
        }
    }
}

pub async fn create_token(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            return profile_page(
                &state,
                &session,
                invalid(e, "token"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let name = match form.required("name", "A name for the token") {
        Ok(n) => n.to_owned(),
        Err(e) => {
            return profile_page(
                &state,
                &session,
                invalid(e, "token"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let db = state.db.tenant(session.principal.tenant);
    match super::create_token(&db, &session.principal, &name, form.all("permission")).await {
        Ok(token) => {
            let draft = Draft {
                new_token: Some(token),
                ..Draft::default()
            };
            profile_page(&state, &session, draft, StatusCode::CREATED).await
        }
        Err(e) => {
            let (draft, status) = refusal(&e, "token");
            profile_page(&state, &session, draft, status).await
        }
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    match super::revoke_token(
        &state.db.tenant(session.principal.tenant),
        &session.principal,
        id,
    )
    .await
    {
        Ok(()) => web::see_other("/profile", Some("token-revoked")),
        Err(crate::db::DbError::NotFound) => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such token of yours.")
        }
        Err(e) => {
            tracing::error!(error = %e, "token not revoked");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The token could not be revoked.",
            )
        }
    }
}
