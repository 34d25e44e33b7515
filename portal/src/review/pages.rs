//! `/review`: the queue of readings waiting for a person, with a form per reading.

use super::{Decision, ReviewItemId};
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::http::form::Form;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ingest::domain::MeterValue;
use std::collections::BTreeMap;

struct Item {
    id: i64,
    reading_id: i64,
    equipment_id: i64,
    serial: String,
    kind: String,
    value: String,
    read_at: String,
    source: String,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct QueuePage {
    chrome: Chrome,
    csrf: String,
    items: Vec<Item>,
    error: String,
}

async fn queue(
    state: &AppState,
    session: &ActiveSession,
    error: String,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let items = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.open_review_items(None, 200).await)
        .await
    {
        Ok(i) => i,
        Err(e) => return crate::equipment::pages::failure(e.into()),
    };
    web::render(
        status,
        &QueuePage {
            chrome: Chrome::signed_in(state, session).await.with_notice(notice),
            csrf: session.csrf.clone(),
            items: items
                .into_iter()
                .map(|i| Item {
                    id: i.id.0,
                    reading_id: i.reading_id.0,
                    equipment_id: i.equipment_id.0,
                    serial: i.serial,
                    kind: i.meter_kind.to_string(),
                    value: p.formats.number(i.value.get()),
                    read_at: p.formats.when(i.read_at),
                    source: i.source.to_string(),
                    reasons: i.reasons.into_iter().map(|r| r.message).collect(),
                })
                .collect(),
            error,
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    queue(
        &state,
        &session,
        String::new(),
        web::notice_of(&query),
        StatusCode::OK,
    )
    .await
}

/// The decision a form states.
fn decision_of(form: &Form) -> Result<Decision, String> {
    let note = form
        .optional("note")
        .map_err(|e| e.to_string())?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let corrected = match form
        .optional("corrected_value")
        .map_err(|e| e.to_string())?
    {
        Some(raw) => crate::readings::pages::parse_typed_counter(raw)?
            .map(|v| MeterValue::new(v as i64).map_err(|e| e.to_string()))
            .transpose()?,
        None => None,
    };
    match form.optional("action").map_err(|e| e.to_string())? {
        Some("accept") => Ok(Decision::Accept {
            corrected_value: corrected,
            note,
        }),
        Some("reject") if corrected.is_none() => Ok(Decision::Reject { note }),
        Some("confirm_reset") if corrected.is_none() => Ok(Decision::ConfirmReset { note }),
        Some("reject" | "confirm_reset") => {
            Err(crate::web::i18n::n_("A corrected value goes with Accept only.").into())
        }
        _ => Err(crate::web::i18n::n_("Choose Accept, Reject or Counter was reset.").into()),
    }
}

pub async fn decide(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let decision = match Form::of_request(&headers, &body)
        .map_err(|e| e.to_string())
        .and_then(|f| decision_of(&f))
    {
        Ok(d) => d,
        Err(m) => return queue(&state, &session, m, None, bad).await,
    };
    let p = &session.principal;
    match super::decide(&state.db.tenant(p.tenant), p, ReviewItemId(id), &decision).await {
        Ok((_, notified)) => {
            state.notified.users(p.tenant, &notified);
            web::see_other("/review", Some("review-decided"))
        }
        Err(crate::db::DbError::NotFound) => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such review item.")
        }
        Err(crate::db::DbError::Conflict(m) | crate::db::DbError::Refused(m)) => {
            queue(&state, &session, m, None, bad).await
        }
        Err(e) => crate::equipment::pages::failure(e.into()),
    }
}
