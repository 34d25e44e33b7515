//! Invoices over JSON: `GET /api/v1/invoices`, `GET /api/v1/invoices/{id}` (with its lines and
//! the readings each was computed from), `GET /api/v1/invoices/{id}/csv`; for dealer staff the
//! next invoice of a contract before it is issued (`GET /api/v1/contracts/{id}/invoice-preview`)
//! and issuing it now (`POST /api/v1/contracts/{id}/invoices`).

use super::invoices::{self, Preview};
use super::store::{InvoiceLine, InvoiceView};
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState, json_body};
use crate::ids::ContractId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvoicesPage {
    invoices: Vec<InvoiceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<InvoicesPage>, ApiError> {
    p.require(Permission::InvoicesRead)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let invoices = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.invoices(p.account(), q.before, limit).await)
        .await?;
    let next = (invoices.len() == limit as usize)
        .then(|| invoices.last().map(|i| i.id))
        .flatten();
    Ok(Json(InvoicesPage { invoices, next }))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceDetail {
    invoice: InvoiceView,
    lines: Vec<InvoiceLine>,
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<InvoiceDetail>, ApiError> {
    let (invoice, lines) = invoices::show(&state.db.tenant(p.tenant), &p, id).await?;
    Ok(Json(InvoiceDetail { invoice, lines }))
}

pub async fn csv(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (invoice, lines) = invoices::show(&state.db.tenant(p.tenant), &p, id).await?;
    Ok(csv_response(&invoice, &lines))
}

pub(crate) fn csv_response(invoice: &InvoiceView, lines: &[InvoiceLine]) -> Response {
    let name = format!("attachment; filename=\"invoice-{}.csv\"", invoice.number);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        invoices::csv(invoice, lines),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnQuery {
    /// `YYYY-MM-DD`; today when left out.
    on: Option<String>,
}

fn on_or_today(state: &AppState, p: &Principal, on: Option<&str>) -> Result<NaiveDate, ApiError> {
    match on {
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| ApiError::Invalid(format!("'{s}' is not a date: write it as 2026-03-01"))),
        None => Ok(
            chrono::DateTime::from_timestamp_millis(state.db.tenant(p.tenant).now_ms())
                .unwrap_or_default()
                .date_naive(),
        ),
    }
}

pub async fn preview(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<OnQuery>,
) -> Result<Json<Preview>, ApiError> {
    let on = on_or_today(&state, &p, q.on.as_deref())?;
    Ok(Json(
        invoices::preview(&state.db.tenant(p.tenant), &p, ContractId(id), on).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// The period ending on or before this day (`YYYY-MM-DD`); today when left out.
    on: Option<String>,
}

pub async fn issue(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<(StatusCode, Json<InvoiceView>), ApiError> {
    let b: IssueBody = json_body(&body)?;
    let on = on_or_today(&state, &p, b.on.as_deref())?;
    let invoice = invoices::issue(&state.db.tenant(p.tenant), &p, ContractId(id), on).await?;
    Ok((StatusCode::CREATED, Json(invoice)))
}

/// What the sandbox's hosted tokenisation takes: a test card number, or a test bank account.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxCard {
    number: Option<String>,
    routing: Option<String>,
    account: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SandboxToken {
    token: String,
    /// card or ach
    kind: &'static str,
    last4: String,
}

/// The sandbox processor's tokenisation (what a processor's hosted page does): a number in, a
/// token out. The portal's own API never takes a number.
pub async fn sandbox_token(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<SandboxToken>, ApiError> {
    let sandbox = state.gateway.sandbox().ok_or(ApiError::NotFound)?;
    let b: SandboxCard = json_body(&body)?;
    let (token, kind) = match (&b.number, &b.routing, &b.account) {
        (Some(n), None, None) => (sandbox.tokenize_card(n), "card"),
        (None, Some(r), Some(a)) => (sandbox.tokenize_account(r, a), "ach"),
        _ => {
            return Err(ApiError::Invalid(
                "send a card number, or a routing and an account number".into(),
            ));
        }
    };
    let token = token.map_err(|m| ApiError::Invalid(m.into()))?;
    let last4 = crate::billing::gateway::Sandbox::last4(&token)
        .unwrap_or_default()
        .to_owned();
    Ok(Json(SandboxToken { token, kind, last4 }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodBody {
    /// card or ach
    kind: String,
    /// The processor's token for it.
    token: String,
}

pub async fn methods(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<super::store::MethodView>>, ApiError> {
    p.require(Permission::PaymentsMake)?;
    let Some(account) = p.account() else {
        return Ok(Json(Vec::new()));
    };
    Ok(Json(
        state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.methods_of(account).await)
            .await?,
    ))
}

pub async fn add_method(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<super::store::MethodView>), ApiError> {
    let b: MethodBody = json_body(&body)?;
    let last4 = crate::billing::gateway::Sandbox::last4(&b.token).map(str::to_owned);
    let m = super::payments::add_method(
        &state.db.tenant(p.tenant),
        &p,
        &b.kind,
        super::gateway::PaymentGateway::name(&state.gateway),
        &b.token,
        last4.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(m)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    invoices: Vec<i64>,
    /// Part of what is open; all of it when left out.
    amount_cents: Option<i64>,
    method: i64,
}

/// Pays invoices; the same `Idempotency-Key` again answers with the same payment (200).
pub async fn pay(
    State(state): State<AppState>,
    p: Principal,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<super::store::PaymentView>), ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Invalid("send an Idempotency-Key header: one per payment".into()))?
        .to_owned();
    let b: PayBody = json_body(&body)?;
    let db = state.db.tenant(p.tenant);
    let before = db.read(async |tx| tx.payment_by_key(&key).await).await?;
    let req = super::payments::Pay {
        invoices: b.invoices,
        amount_cents: b.amount_cents,
        method: b.method,
        key,
    };
    let payment = super::payments::pay(&db, &state.gateway, &p, &req).await?;
    let status = if before.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(payment)))
}

pub async fn payments(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<super::store::PaymentView>>, ApiError> {
    p.require(Permission::InvoicesRead)?;
    Ok(Json(
        state
            .db
            .tenant(p.tenant)
            .read(async |tx| tx.payments(p.account(), 200).await)
            .await?,
    ))
}

#[derive(Debug, serde::Deserialize)]
pub struct WebhookQuery {
    /// The dealer's short name: each dealer has its own endpoint secret.
    tenant: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookAnswer {
    /// `false` for an event handled before (a replay) or about nothing of ours.
    handled: bool,
}

/// Stripe's events for a dealer (`?tenant=acme`): taken only with a valid, fresh signature,
/// and each event once.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    Query(q): Query<WebhookQuery>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let slug = crate::tenants::TenantSlug::parse(&q.tenant).map_err(|_| ApiError::NotFound)?;
    let tenant = state
        .db
        .tenant_by_slug(&slug)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let db = state.db.tenant(tenant.id);
    let secret = match db
        .read(async |tx| tx.secret(&state.keys, "stripe.webhook").await)
        .await
    {
        Ok(s) => s,
        Err(crate::db::DbError::NotFound) => return Err(ApiError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    super::stripe::verify(&secret, header, &body, db.now_ms() / 1000)
        .map_err(|e| ApiError::Refused(e.to_string()))?;
    let event: serde_json::Value = json_body(&body)?;
    let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Err(ApiError::Invalid("an event has an id and a type".into()));
    };
    let object = &event["data"]["object"];
    let key = object["metadata"]["idempotency_key"]
        .as_str()
        .map(str::to_owned);
    let outcome = match kind {
        "payment_intent.succeeded" => super::stripe::outcome_of(200, object).ok(),
        "payment_intent.payment_failed" => super::stripe::outcome_of(200, object).ok(),
        _ => None,
    };
    let handled = db
        .run(async |tx| {
            if !tx.first_time_event(id, kind).await? {
                return Ok(false);
            }
            match (&key, &outcome) {
                (Some(k), Some(o)) => super::payments::event(tx, k, o.clone()).await,
                _ => Ok(false),
            }
        })
        .await?;
    Ok(Json(WebhookAnswer { handled }))
}

#[derive(askama::Template)]
#[template(path = "sandbox_card.html")]
struct SandboxPage {
    return_to: String,
    error: String,
}

/// The sandbox processor's hosted page: where a card or bank account number is typed. It
/// sends back only a token, to a path on this site.
pub async fn sandbox_page(
    State(state): State<AppState>,
    Query(q): Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    if state.gateway.sandbox().is_none() {
        return crate::web::error_page(StatusCode::NOT_FOUND, "There is no such page.");
    }
    crate::web::ok(&SandboxPage {
        return_to: crate::web::safe_next(q.get("return_to").map(String::as_str)),
        error: String::new(),
    })
}

pub async fn sandbox_submit(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let Some(sandbox) = state.gateway.sandbox() else {
        return crate::web::error_page(StatusCode::NOT_FOUND, "There is no such page.");
    };
    let Ok(form) = crate::http::form::Form::of_request(&headers, &body) else {
        return crate::web::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Send the form on this page.",
        );
    };
    let field = |n: &str| {
        form.optional(n)
            .ok()
            .flatten()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let return_to = crate::web::safe_next(Some(&field("return_to")));
    let token = if field("number").is_empty() {
        sandbox.tokenize_account(&field("routing"), &field("account"))
    } else {
        sandbox.tokenize_card(&field("number"))
    };
    match token {
        Ok(t) => crate::web::see_other(
            &format!(
                "{return_to}{}token={t}",
                if return_to.contains('?') { '&' } else { '?' }
            ),
            None,
        ),
        Err(m) => crate::web::render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SandboxPage {
                return_to,
                error: m.into(),
            },
        ),
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WireBody {
    invoices: Vec<i64>,
    amount_cents: i64,
    /// The bank statement's reference.
    reference: String,
}

/// A wire transfer found on the bank statement, recorded by billing staff.
pub async fn record_wire(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<super::store::PaymentView>), ApiError> {
    let b: WireBody = json_body(&body)?;
    let v = super::payments::record_wire(
        &state.db.tenant(p.tenant),
        &p,
        &b.invoices,
        b.amount_cents,
        &b.reference,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutopayBody {
    enabled: bool,
    /// The card or bank account to use (the account's default from now on).
    method: Option<i64>,
}

/// Pays new invoices automatically, or stops doing so.
pub async fn autopay(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: AutopayBody = json_body(&body)?;
    super::payments::set_autopay(&state.db.tenant(p.tenant), &p, b.enabled, b.method).await?;
    Ok(StatusCode::NO_CONTENT)
}
