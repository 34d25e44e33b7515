//! `/audit`: the trail as its readers may see it — staff the tenant's, customers their
//! account's — newest first, a page at a time.

use super::{Entry, Trail};
use crate::auth::session::ActiveSession;
use crate::http::AppState;
use crate::web::{self, Chrome};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

const PAGE: u32 = 100;

struct Row {
    seq: i64,
    when: String,
    who: String,
    action: String,
    entity: String,
    summary: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct TrailPage {
    chrome: Chrome,
    staff: bool,
    entries: Vec<Row>,
    older: Option<i64>,
}

/// Who did it, as a person reads it.
pub fn who(e: &Entry) -> String {
    match (e.actor_kind.as_str(), &e.actor_name, e.actor_id) {
        ("user" | "api_token", Some(name), _) => {
            if e.actor_kind == "api_token" {
                format!("{name} (API token)")
            } else {
                name.clone()
            }
        }
        ("agent", _, Some(id)) => format!("agent {id}"),
        ("system", _, _) => "—".into(),
        (kind, _, Some(id)) => format!("{kind} {id}"),
        (kind, _, None) => kind.to_owned(),
    }
}

pub async fn trail(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let of = p.account().map_or(Trail::Tenant, Trail::Account);
    let entries = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.audit_trail(of, before, PAGE).await)
        .await;
    let entries = match entries {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "audit trail not read");
            return web::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The activity could not be shown.",
            );
        }
    };
    let older = (entries.len() == PAGE as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    web::ok(&TrailPage {
        chrome: Chrome::signed_in(&state, &session).await,
        staff: p.is_staff(),
        entries: entries
            .iter()
            .map(|e| Row {
                seq: e.seq,
                when: p.formats.when(e.occurred_at),
                who: who(e),
                action: e.action.clone(),
                entity: match &e.entity_id {
                    Some(id) => format!("{} {id}", e.entity_type),
                    None => e.entity_type.clone(),
                },
                summary: e.summary.to_string(),
                ip: e.ip.clone().unwrap_or_default(),
            })
            .collect(),
        older,
    })
}
