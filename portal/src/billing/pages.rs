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
    csrf: String,
    /// A fresh idempotency key for this page's pay form.
    key: String,
    open_cents: i64,
    open: String,
    can_pay: bool,
    methods: Vec<super::store::MethodView>,
    wire: Option<String>,
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
    let methods = match p.account() {
        Some(a) => state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.methods_of(a).await)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let open_cents = if matches!(invoice.status.as_str(), "issued" | "partially_paid") {
        invoice.total_cents - invoice.amount_paid_cents
    } else {
        0
    };
    web::ok(&DetailPage {
        chrome: Chrome::signed_in(&state, &session).await,
        csrf: session.csrf.clone(),
        key: hex::encode(rand::random::<[u8; 16]>()),
        open_cents,
        open: f.money(open_cents, &invoice.currency),
        can_pay: p
            .permissions
            .contains(&crate::auth::Permission::PaymentsMake)
            && p.account().is_some(),
        methods,
        wire: wire_instructions(&state, &session).await,
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

/// The tenant's wire-transfer instructions (`billing.wire_instructions`), if it gave any.
async fn wire_instructions(state: &AppState, session: &ActiveSession) -> Option<String> {
    state
        .db
        .tenant(session.principal.tenant)
        .read(async |tx| tx.setting("billing.wire_instructions").await)
        .await
        .ok()
        .flatten()
        .filter(|w| !w.trim().is_empty())
}

pub async fn pdf(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    let (invoice, lines) = match invoices::show(&state.db.tenant(p.tenant), p, id).await {
        Ok(x) => x,
        Err(e) => return failure(e),
    };
    let dealer = Chrome::signed_in(&state, &session).await.dealer;
    let wire = wire_instructions(&state, &session).await;
    let bytes = super::documents::invoice(&dealer, &invoice, &lines, &p.formats, wire.as_deref());
    pdf_response(&format!("invoice-{}.pdf", invoice.number), bytes)
}

fn pdf_response(name: &str, bytes: Vec<u8>) -> Response {
    use axum::response::IntoResponse;
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

pub async fn pay(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let p = &session.principal;
    // another account's (or tenant's) invoice is not there, whatever the form says
    if let Err(e) = invoices::show(&state.db.tenant(p.tenant), p, id).await {
        return failure(e);
    }
    let form = match crate::http::form::Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let field = |n: &str| {
        form.optional(n)
            .ok()
            .flatten()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let amount = match field("amount").as_str() {
        "" => None,
        a => match crate::supplies::parse_price(a) {
            Ok(c) => Some(c),
            Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        },
    };
    let req = super::payments::Pay {
        invoices: vec![id],
        amount_cents: amount,
        method: field("method").parse().unwrap_or(0),
        key: field("key"),
    };
    match super::payments::pay(&state.db.tenant(p.tenant), &state.gateway, p, &req).await {
        Ok(payment) if payment.status == "succeeded" => {
            web::see_other("/payments", Some("payment-made"))
        }
        Ok(_) => web::see_other("/payments", Some("payment-not-made")),
        Err(ApiError::Invalid(m) | ApiError::Conflict(m)) => {
            web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &m)
        }
        Err(e) => failure(e),
    }
}

struct PaymentRow {
    id: i64,
    when: String,
    amount: String,
    status: String,
    receipt: bool,
}

#[derive(Template)]
#[template(path = "payments.html")]
struct PaymentsPage {
    chrome: Chrome,
    rows: Vec<PaymentRow>,
    methods: Vec<super::store::MethodView>,
    can_pay: bool,
}

pub async fn payments(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let db = state.db.tenant(p.tenant);
    let loaded = db
        .read(async |tx| {
            let pays = tx.payments(p.account(), PAGE).await?;
            let methods = match p.account() {
                Some(a) => tx.methods_of(a).await?,
                None => Vec::new(),
            };
            Ok((pays, methods))
        })
        .await;
    let (pays, methods) = match loaded {
        Ok(x) => x,
        Err(e) => return failure(e.into()),
    };
    web::ok(&PaymentsPage {
        chrome: Chrome::signed_in(&state, &session)
            .await
            .with_notice(web::notice_of(&q)),
        rows: pays
            .into_iter()
            .map(|x| PaymentRow {
                id: x.id,
                when: f.when(x.created_at),
                amount: f.money(x.amount_cents, &x.currency),
                receipt: x.status == "succeeded",
                status: x.status,
            })
            .collect(),
        can_pay: p
            .permissions
            .contains(&crate::auth::Permission::PaymentsMake)
            && p.account().is_some(),
        methods,
    })
}

pub async fn receipt(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
) -> Response {
    let p = &session.principal;
    let db = state.db.tenant(p.tenant);
    let loaded = db
        .read(async |tx| {
            let pay = tx.payment(id).await?;
            let mut paid = Vec::new();
            for (invoice, cents) in &pay.allocations {
                paid.push((tx.invoice(*invoice).await?.number, *cents));
            }
            let method = match pay.method_id {
                Some(m) => Some(tx.payment_method(m).await?.view()),
                None => None,
            };
            Ok((pay, paid, method))
        })
        .await;
    let (pay, paid, method) = match loaded {
        Ok(x)
            if p.sees_account(crate::ids::AccountId(x.0.account_id))
                && x.0.status == "succeeded" =>
        {
            x
        }
        Ok(_) | Err(crate::db::DbError::NotFound) => {
            return web::error_page(StatusCode::NOT_FOUND, "There is no such receipt.");
        }
        Err(e) => return failure(e.into()),
    };
    let dealer = Chrome::signed_in(&state, &session).await.dealer;
    pdf_response(
        &format!("receipt-{id}.pdf"),
        super::documents::receipt(&dealer, &pay, &paid, method.as_ref(), &p.formats),
    )
}

#[derive(Template)]
#[template(path = "payment_method_new.html")]
struct NewMethodPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    last4: String,
}

/// Adding a card: the number is typed on the processor's page, which sends back a token.
pub async fn new_method(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    let last4 = super::gateway::Sandbox::last4(&token)
        .unwrap_or_default()
        .to_owned();
    web::ok(&NewMethodPage {
        chrome: Chrome::signed_in(&state, &session).await,
        csrf: session.csrf.clone(),
        token,
        last4,
    })
}

pub async fn add_method(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let p = &session.principal;
    let form = match crate::http::form::Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    let token = form
        .optional("token")
        .ok()
        .flatten()
        .unwrap_or("")
        .to_owned();
    let kind = super::gateway::Sandbox::kind(&token).unwrap_or("card");
    let last4 = super::gateway::Sandbox::last4(&token).map(str::to_owned);
    match super::payments::add_method(
        &state.db.tenant(p.tenant),
        p,
        kind,
        super::gateway::PaymentGateway::name(&state.gateway),
        &token,
        last4.as_deref(),
    )
    .await
    {
        Ok(_) => web::see_other("/payments", Some("method-added")),
        Err(ApiError::Invalid(m)) => web::error_page(StatusCode::UNPROCESSABLE_ENTITY, &m),
        Err(e) => failure(e),
    }
}
