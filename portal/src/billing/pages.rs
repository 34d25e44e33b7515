//! The invoice pages: the list, one invoice with every line and the readings behind it, and
//! its CSV. Thin adapters over the same operations as the JSON API.

use super::invoices;
use super::store::{InvoiceLine, InvoiceView};
use crate::auth::session::ActiveSession;
use crate::http::{ApiError, AppState};
use crate::web::formats::Formats;
use crate::web::{self, Chrome};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

fn failure(e: ApiError) -> Response {
    match e {
        ApiError::NotFound => web::error_page(StatusCode::NOT_FOUND, "There is no such invoice."),
        other => crate::equipment::pages::failure(other),
    }
}

struct Row {
    id: i64,
    number: i64,
    account: String,
    period: String,
    status: String,
    total: String,
    due: String,
}

#[derive(Template)]
#[template(path = "invoices.html")]
struct ListPage {
    chrome: Chrome,
    staff: bool,
    rows: Vec<Row>,
    older: Option<i64>,
}

const PAGE: u32 = 100;

fn period(f: &Formats, i: &InvoiceView) -> String {
    let day = |s: &str| {
        s.parse::<chrono::NaiveDate>()
            .ok()
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .map_or_else(|| s.to_owned(), |t| f.day(t.and_utc().timestamp_millis()))
    };
    format!("{} – {}", day(&i.period_start), day(&i.period_end))
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let before = q.get("before").and_then(|b| b.parse().ok());
    let invoices = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.invoices(p.account(), before, PAGE).await)
        .await
    {
        Ok(i) => i,
        Err(e) => return failure(e.into()),
    };
    let older = (invoices.len() == PAGE as usize)
        .then(|| invoices.last().map(|i| i.id))
        .flatten();
    web::ok(&ListPage {
        chrome: Chrome::signed_in(&state, &session).await,
        staff: p.is_staff(),
        rows: invoices
            .iter()
            .map(|i| Row {
                id: i.id,
                number: i.number,
                account: i.account.clone(),
                period: period(f, i),
                status: i.status.clone(),
                total: f.money(i.total_cents, &i.currency),
                due: i.due_at.map(|d| f.day(d)).unwrap_or_default(),
            })
            .collect(),
        older,
    })
}

struct LineRow {
    kind: String,
    description: String,
    quantity: String,
    price: String,
    amount: String,
    estimated: bool,
    start_reading: Option<i64>,
    end_reading: Option<i64>,
}

#[derive(Template)]
#[template(path = "invoice_detail.html")]
struct DetailPage {
    chrome: Chrome,
    invoice: InvoiceView,
    period: String,
    total: String,
    due: String,
    lines: Vec<LineRow>,
    any_estimate: bool,
}

fn line(f: &Formats, currency: &str, l: &InvoiceLine) -> LineRow {
    let per_page = l.unit_price_millicents;
    LineRow {
        kind: l.kind.clone(),
        description: l.description.clone(),
        quantity: f.number(l.quantity),
        // a per-page price in cents with its fraction ("0.800 ¢"); a base charge as money
        price: if l.kind == "base" {
            f.money(per_page / 1_000, currency)
        } else if per_page == 0 {
            String::new()
        } else {
            format!("{}.{:03} ¢", per_page / 1_000, per_page % 1_000)
        },
        amount: f.money(l.amount_cents, currency),
        estimated: l.estimated,
        start_reading: l.start_reading_id,
        end_reading: l.end_reading_id,
    }
}

pub async fn detail(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let (invoice, lines) = match invoices::show(&state.db.tenant(p.tenant), p, id).await {
        Ok(x) => x,
        Err(e) => return failure(e),
    };
    web::ok(&DetailPage {
        chrome: Chrome::signed_in(&state, &session).await,
        period: period(f, &invoice),
        total: f.money(invoice.total_cents, &invoice.currency),
        due: invoice.due_at.map(|d| f.day(d)).unwrap_or_default(),
        any_estimate: lines.iter().any(|l| l.estimated),
        lines: lines
            .iter()
            .map(|l| line(f, &invoice.currency, l))
            .collect(),
        invoice,
    })
}

pub async fn csv(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    match invoices::show(&state.db.tenant(p.tenant), p, id).await {
        Ok((invoice, lines)) => super::http::csv_response(&invoice, &lines),
        Err(e) => failure(e),
    }
}
