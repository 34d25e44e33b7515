//! Supplies over JSON: the catalogue (`GET /api/v1/catalogue`, `POST /api/v1/catalogue`,
//! CSV at `GET /api/v1/catalogue/export` and `POST /api/v1/catalogue/import`), what fits a
//! device (`GET /api/v1/equipment/{id}/supplies`), a quote (`POST /api/v1/orders/quote`),
//! checkout (`POST /api/v1/orders` with an `Idempotency-Key` header), orders
//! (`GET /api/v1/orders`, `GET /api/v1/orders/{id}`) and their steps
//! (`POST /api/v1/orders/{id}/status`).

use super::cart;
use super::catalogue::{self, Offer};
use super::orders::{self, Checkout, Destination, LineRequest, Quote, Step};
use super::store::{ItemView, OrderEvent, OrderFilter, OrderLine, OrderView};
use super::{OrderId, RawItem};
use crate::accounts::Address;
use crate::auth::{Permission, Principal};
use crate::http::{ApiError, AppState, json_body};
use crate::ids::{EquipmentId, SiteId};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn catalogue(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<ItemView>>, ApiError> {
    let items = catalogue::list(&state.db.tenant(p.tenant), &p).await?;
    Ok(Json(items.iter().map(|s| s.view()).collect()))
}

/// Adds an item, or replaces the one with its SKU.
pub async fn put_item(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<ItemView>, ApiError> {
    let raw: RawItem = json_body(&body)?;
    Ok(Json(
        catalogue::put(&state.db.tenant(p.tenant), &p, &raw)
            .await?
            .view(),
    ))
}

pub async fn export(State(state): State<AppState>, p: Principal) -> Result<Response, ApiError> {
    let text = catalogue::export(&state.db.tenant(p.tenant), &p).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"catalogue.csv\"",
            ),
        ],
        text,
    )
        .into_response())
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// How many items the file named (added or replaced).
    items: usize,
}

pub async fn import(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Imported>, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Invalid("the file is not UTF-8 text".into()))?;
    let items = catalogue::import(&state.db.tenant(p.tenant), &p, text).await?;
    Ok(Json(Imported { items }))
}

pub async fn offers(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Offer>>, ApiError> {
    Ok(Json(
        catalogue::offers(&state.db.tenant(p.tenant), &p, EquipmentId(id)).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    equipment: i64,
    sku: String,
    quantity: i64,
}

impl LineBody {
    fn request(&self) -> LineRequest {
        LineRequest {
            equipment: EquipmentId(self.equipment),
            sku: self.sku.clone(),
            quantity: self.quantity,
        }
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteBody {
    lines: Vec<LineBody>,
}

pub async fn quote(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Quote>, ApiError> {
    let b: QuoteBody = json_body(&body)?;
    let lines: Vec<LineRequest> = b.lines.iter().map(LineBody::request).collect();
    Ok(Json(
        orders::quote(&state.db.tenant(p.tenant), &p, &lines).await?,
    ))
}

/// Where to deliver: `{"site": id}` or a typed address.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipToBody {
    site: Option<i64>,
    name: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

impl ShipToBody {
    fn destination(&self) -> Result<Destination, ApiError> {
        if let Some(site) = self.site {
            if self.line1.is_some() || self.city.is_some() {
                return Err(ApiError::Invalid(
                    "give a site or an address, not both".into(),
                ));
            }
            return Ok(Destination::Site(SiteId(site)));
        }
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let address = Address::new(
            &s(&self.line1),
            self.line2.as_deref(),
            &s(&self.city),
            self.region.as_deref(),
            &s(&self.postal_code),
            &s(&self.country),
        )?;
        Destination::address(&s(&self.name), &address)
    }
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    lines: Vec<LineBody>,
    ship_to: ShipToBody,
    po_number: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OrderDetail {
    order: OrderView,
    lines: Vec<OrderLine>,
    events: Vec<OrderEvent>,
}

/// Places an order; the same `Idempotency-Key` again answers with the same order (200).
pub async fn checkout(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<OrderDetail>), ApiError> {
    let key = idempotency_key(&headers)?;
    let b: CheckoutBody = json_body(&body)?;
    let c = Checkout {
        lines: b.lines.iter().map(LineBody::request).collect(),
        ship_to: b.ship_to.destination()?,
        po_number: b.po_number,
        key,
        from_cart: false,
    };
    let done = orders::checkout(&state.db.tenant(p.tenant), &p, &c).await?;
    answer(&state, &p, done).await
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    before: Option<i64>,
    limit: Option<u32>,
    equipment: Option<i64>,
    status: Option<String>,
    /// `true`: orders not yet delivered or cancelled.
    open: Option<bool>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OrdersPage {
    orders: Vec<OrderView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<OrdersPage>, ApiError> {
    p.require(Permission::OrdersRead)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = OrderFilter {
        account: p.account(),
        equipment: q.equipment.map(EquipmentId),
        status: q.status,
        open_only: q.open.unwrap_or(false),
    };
    let orders = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.orders(&filter, q.before, limit).await)
        .await?;
    let next = (orders.len() == limit as usize)
        .then(|| orders.last().map(|o| o.id))
        .flatten();
    Ok(Json(OrdersPage { orders, next }))
}

pub async fn get(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> Result<Json<OrderDetail>, ApiError> {
    let (order, lines, events) = orders::show(&state.db.tenant(p.tenant), &p, OrderId(id)).await?;
    Ok(Json(OrderDetail {
        order,
        lines,
        events,
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
    carrier: Option<String>,
    tracking_number: Option<String>,
    note: Option<String>,
}

pub async fn status(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<OrderView>, ApiError> {
    let b: StatusBody = json_body(&body)?;
    let done = orders::advance(
        &state.db.tenant(p.tenant),
        &p,
        OrderId(id),
        &Step {
            to: b.status,
            carrier: b.carrier,
            tracking_number: b.tracking_number,
            note: b.note,
        },
    )
    .await?;
    state.notified.users(p.tenant, &done.notified);
    Ok(Json(done.order))
}

pub async fn cart(State(state): State<AppState>, p: Principal) -> Result<Json<Quote>, ApiError> {
    Ok(Json(cart::show(&state.db.tenant(p.tenant), &p).await?))
}

/// Sets the quantities of these lines in the cart (0 takes one out); all or none.
pub async fn set_cart(
    State(state): State<AppState>,
    p: Principal,
    body: Bytes,
) -> Result<Json<Quote>, ApiError> {
    let b: QuoteBody = json_body(&body)?;
    let lines: Vec<LineRequest> = b.lines.iter().map(LineBody::request).collect();
    Ok(Json(
        cart::set(&state.db.tenant(p.tenant), &p, &lines).await?,
    ))
}

pub async fn clear_cart(
    State(state): State<AppState>,
    p: Principal,
) -> Result<StatusCode, ApiError> {
    cart::clear(&state.db.tenant(p.tenant), &p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartCheckoutBody {
    ship_to: ShipToBody,
    po_number: Option<String>,
}

/// Orders the cart and empties it; the same `Idempotency-Key` again answers with that order.
pub async fn cart_checkout(
    State(state): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<OrderDetail>), ApiError> {
    let key = idempotency_key(&headers)?;
    let b: CartCheckoutBody = json_body(&body)?;
    let db = state.db.tenant(p.tenant);
    let done = cart::checkout(&db, &p, b.ship_to.destination()?, b.po_number, key).await?;
    answer(&state, &p, done).await
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    Ok(headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::Invalid("send an Idempotency-Key header: one per checkout".into())
        })?
        .to_owned())
}

/// A placed order as a checkout answers it: 201 when this call placed it, 200 when the key
/// had already.
async fn answer(
    state: &AppState,
    p: &Principal,
    done: orders::Done,
) -> Result<(StatusCode, Json<OrderDetail>), ApiError> {
    state.notified.users(p.tenant, &done.notified);
    let (order, lines, events) =
        orders::show(&state.db.tenant(p.tenant), p, OrderId(done.order.id)).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(OrderDetail {
            order,
            lines,
            events,
        }),
    ))
}
