//! The notification centre (`/notifications`), its live stream for open pages (HTML fragments
//! over server-sent events, swapped in by htmx), and the preferences page.

use super::http::live;
use super::{Channel, EVENTS, NotificationView};
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::http::form::Form;
use crate::web::formats::Formats;
use crate::web::i18n::Lang;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::convert::Infallible;

const PAGE: u32 = 50;

struct Item {
    id: i64,
    title: String,
    body: String,
    when: String,
    link: Option<String>,
    unread: bool,
    csrf: String,
    lang: Lang,
}

fn item(n: NotificationView, csrf: &str, f: &Formats, lang: Lang) -> Item {
    Item {
        id: n.id,
        title: n.title,
        body: n.body,
        when: f.when(n.created_at),
        link: n.link,
        unread: n.read_at.is_none(),
        csrf: csrf.to_owned(),
        lang,
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct CentrePage {
    chrome: Chrome,
    csrf: String,
    items: Vec<Item>,
    last_id: i64,
    older: Option<i64>,
}

#[derive(Template)]
#[template(path = "notification_item.html")]
struct ItemFragment {
    n: Item,
}

pub async fn centre(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let loaded = state
        .db
        .tenant(p.tenant)
        .read(async |tx| {
            Ok((
                tx.notifications_of(p.user, before, PAGE).await?,
                tx.last_notification_id(p.user).await?,
            ))
        })
        .await;
    let (notes, last_id) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "notifications not loaded");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The notifications could not be shown.",
            );
        }
    };
    let older = (notes.len() == PAGE as usize)
        .then(|| notes.last().map(|n| n.id))
        .flatten();
    web::ok(&CentrePage {
        chrome: Chrome::signed_in(&state, &session).await,
        csrf: session.csrf.clone(),
        items: notes
            .into_iter()
            .map(|n| item(n, &session.csrf, &p.formats, p.lang))
            .collect(),
        last_id,
        older,
    })
}

pub async fn read(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    match state
        .db
        .tenant(p.tenant)
        .run(async |tx| tx.mark_read(p.user, id).await)
        .await
    {
        Ok(()) => web::see_other("/notifications", None),
        Err(crate::db::DbError::NotFound) => web::error_page(
            StatusCode::NOT_FOUND,
            "There is no such notification of yours.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "notification not marked");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "That did not work. Try again.",
            )
        }
    }
}

pub async fn read_all(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    match state
        .db
        .tenant(p.tenant)
        .run(async |tx| tx.mark_all_read(p.user).await)
        .await
    {
        Ok(_) => web::see_other("/notifications", None),
        Err(e) => {
            tracing::error!(error = %e, "notifications not marked");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "That did not work. Try again.",
            )
        }
    }
}

/// The live stream of an open page: each new notification as the list item to insert, and
/// the unread count for the badge in the menu.
pub async fn stream(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = session.principal.clone();
    let after = match query.get("after").and_then(|a| a.parse::<i64>().ok()) {
        Some(a) => a,
        None => match state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.last_notification_id(p.user).await)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "notification stream not opened");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
    };
    let (db, csrf) = (state.db.clone(), session.csrf.clone());
    let events = futures::StreamExt::then(
        live(
            state.db.clone(),
            state.notified.subscribe(),
            p.tenant,
            p.user,
            after,
        ),
        move |n| {
            let (db, csrf) = (db.clone(), csrf.clone());
            async move { fragment_events(&db, (p.tenant, p.user), (p.formats, p.lang), n, &csrf).await }
        },
    );
    let events = futures::StreamExt::flat_map(events, futures::stream::iter);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn fragment_events(
    db: &crate::db::Db,
    (tenant, user): (ingest::ids::TenantId, crate::ids::UserId),
    (formats, lang): (Formats, Lang),
    n: Result<NotificationView, crate::db::DbError>,
    csrf: &str,
) -> Vec<Result<Event, Infallible>> {
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "notification stream");
            return vec![Ok(Event::default().comment("temporarily unavailable"))];
        }
    };
    let id = n.id;
    let html = ItemFragment {
        n: item(n, csrf, &formats, lang),
    }
    .render()
    .unwrap_or_default();
    let mut out = vec![Ok(Event::default()
        .event("notification")
        .id(id.to_string())
        .data(html))];
    if let Ok(count) = db
        .tenant(tenant)
        .read(async |tx| tx.unread_count(user).await)
        .await
    {
        out.push(Ok(Event::default().event("unread").data(count.to_string())));
    }
    out
}

struct PreferenceRow {
    code: &'static str,
    label: &'static str,
    in_app: bool,
    email: bool,
}

#[derive(Template)]
#[template(path = "notification_preferences.html")]
struct PreferencesPage {
    chrome: Chrome,
    csrf: String,
    rows: Vec<PreferenceRow>,
}

pub async fn preferences(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let prefs = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.preferences(p.user).await)
        .await
    {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "preferences not loaded");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your settings could not be loaded.",
            );
        }
    };
    let on = |code: &str, channel: Channel| {
        prefs
            .get(&(code.to_owned(), channel))
            .copied()
            .unwrap_or(false)
    };
    web::ok(&PreferencesPage {
        chrome: Chrome::signed_in(&state, &session)
            .await
            .with_notice(web::notice_of(&query)),
        csrf: session.csrf.clone(),
        rows: EVENTS
            .iter()
            .map(|e| PreferenceRow {
                code: e.code,
                label: e.label,
                in_app: on(e.code, Channel::InApp),
                email: on(e.code, Channel::Email),
            })
            .collect(),
    })
}

pub async fn set_preferences(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    for value in form.all("in_app").iter().chain(form.all("email")) {
        if super::event_type(value).is_none() {
            return web::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("There is no event '{value}'."),
            );
        }
    }
    let p = &session.principal;
    let saved = state
        .db
        .tenant(p.tenant)
        .run(async |tx| {
            for e in EVENTS {
                let in_app = form.all("in_app").iter().any(|v| v == e.code);
                let email = form.all("email").iter().any(|v| v == e.code);
                tx.set_preference(p.user, e.code, Channel::InApp, in_app)
                    .await?;
                tx.set_preference(p.user, e.code, Channel::Email, email)
                    .await?;
            }
            Ok(())
        })
        .await;
    match saved {
        Ok(()) => web::see_other("/notifications/preferences", Some("preferences-saved")),
        Err(e) => {
            tracing::error!(error = %e, "preferences not saved");
            web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Your settings could not be saved.",
            )
        }
    }
}
