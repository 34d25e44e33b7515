//! The supply pages: the shop (what fits each device, covered or priced), the review before
//! checkout (where it goes, the PO number), orders with their timeline and the dealer's steps,
//! and the dealer's catalogue with its CSV download and upload. Thin: parse, call the same
//! operations as the JSON API, render.

use super::cart;
use super::catalogue::{self, Offer};
use super::orders::{
    self, Destination, LineRequest, Quote, Role, Step, label, next_steps, role_of,
};
use super::store::{OrderFilter, OrderView, ShipAddress};
use super::{OrderId, price_text};
use crate::accounts::{Address, Site};
use crate::auth::Permission;
use crate::auth::session::ActiveSession;
use crate::equipment::Equipment;
use crate::http::form::Form;
use crate::http::{ApiError, AppState};
use crate::ids::{AccountId, EquipmentId, SiteId};
use crate::web::formats::Formats;
use crate::web::{self, Chrome};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

const CURRENCY_SETTING: &str = "currency";

fn failure(e: ApiError) -> Response {
    match e {
        ApiError::NotFound => {
            web::error_page(StatusCode::NOT_FOUND, "There is no such order or device.")
        }
        other => crate::equipment::pages::failure(other),
    }
}

/// The tenant's currency for prices on pages (`currency` setting, USD by default).
async fn currency(state: &AppState, session: &ActiveSession) -> String {
    state
        .db
        .tenant(session.principal.tenant)
        .read(async |tx| tx.setting(CURRENCY_SETTING).await)
        .await
        .ok()
        .flatten()
        .filter(|c| c.len() == 3)
        .unwrap_or_else(|| "USD".into())
}

struct OfferRow {
    sku: String,
    description: String,
    colour: String,
    covered: bool,
    price: String,
    max: i64,
    quantity: i64,
}

struct ShopDevice {
    id: i64,
    name: String,
    offers: Vec<OfferRow>,
}

#[derive(Template)]
#[template(path = "supplies.html")]
struct ShopPage {
    chrome: Chrome,
    csrf: String,
    devices: Vec<ShopDevice>,
    /// Staff order for one device at a time (from its page).
    pick_a_device: bool,
    error: String,
}

/// The devices a shop page lists: the one asked for, or (customers) all of their account's.
async fn shop_devices(
    state: &AppState,
    session: &ActiveSession,
    equipment: Option<EquipmentId>,
) -> Result<Vec<Equipment>, ApiError> {
    let p = &session.principal;
    let db = state.db.tenant(p.tenant);
    Ok(match (equipment, p.account()) {
        (Some(id), _) => vec![
            db.read(async |tx| crate::equipment::views::visible_equipment(tx, p, id).await)
                .await?,
        ],
        (None, Some(account)) => db
            .read(async |tx| tx.equipment_of_account(account, None, 200).await)
            .await?
            .into_iter()
            .filter(|e| e.status == "active")
            .collect(),
        (None, None) => Vec::new(),
    })
}

async fn shop_page(
    state: &AppState,
    session: &ActiveSession,
    equipment: Option<EquipmentId>,
    chosen: &BTreeMap<(i64, String), i64>,
    error: String,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let currency = currency(state, session).await;
    let db = state.db.tenant(p.tenant);
    let list = match shop_devices(state, session, equipment).await {
        Ok(l) => l,
        Err(e) => return failure(e),
    };
    let mut devices = Vec::new();
    for e in list {
        let offers: Vec<Offer> = match catalogue::offers(&db, p, e.id).await {
            Ok(o) => o,
            Err(err) => return failure(err),
        };
        devices.push(ShopDevice {
            id: e.id.0,
            name: format!("{} {} ({})", e.make, e.model, e.serial),
            offers: offers
                .into_iter()
                .map(|o| OfferRow {
                    quantity: chosen
                        .get(&(e.id.0, o.item.sku.clone()))
                        .copied()
                        .unwrap_or(0),
                    sku: o.item.sku,
                    description: o.item.description,
                    colour: o.item.colour.unwrap_or_default(),
                    covered: o.covered,
                    price: f.money(o.unit_price_cents, &currency),
                    max: o.item.max_order_qty,
                })
                .collect(),
        });
    }
    web::render(
        status,
        &ShopPage {
            chrome: Chrome::signed_in(state, session).await,
            csrf: session.csrf.clone(),
            pick_a_device: devices.is_empty() && p.account().is_none(),
            devices,
            error,
        },
    )
}

/// The quantities in the person's cart, by device and SKU.
async fn in_cart(state: &AppState, session: &ActiveSession) -> BTreeMap<(i64, String), i64> {
    let p = &session.principal;
    state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.cart(p.user).await)
        .await
        .map(|(_, lines)| {
            lines
                .into_iter()
                .map(|(e, sku, q)| ((e.0, sku), q))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn shop(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let equipment = q
        .get("equipment")
        .and_then(|e| e.parse().ok())
        .map(EquipmentId);
    let chosen = in_cart(&state, &session).await;
    shop_page(
        &state,
        &session,
        equipment,
        &chosen,
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The quantities of a shop form (`qty.{equipment}.{sku}`); an empty field is 0.
fn chosen(form: &Form) -> Result<BTreeMap<(i64, String), i64>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in form.with_prefix("qty.") {
        let Some((equipment, sku)) = name.split_once('.') else {
            continue;
        };
        let equipment: i64 = equipment
            .parse()
            .map_err(|_| "the form is not this page's".to_owned())?;
        let value = value.trim();
        let quantity: i64 = if value.is_empty() {
            0
        } else {
            value
                .parse()
                .map_err(|_| format!("{sku}: type a whole number of items, not '{value}'"))?
        };
        out.insert((equipment, sku.to_owned()), quantity);
    }
    Ok(out)
}

fn requests_of(chosen: &BTreeMap<(i64, String), i64>) -> Vec<LineRequest> {
    chosen
        .iter()
        .map(|((e, sku), q)| LineRequest {
            equipment: EquipmentId(*e),
            sku: sku.clone(),
            quantity: *q,
        })
        .collect()
}

struct QuoteRow {
    device: String,
    sku: String,
    description: String,
    quantity: i64,
    covered: bool,
    unit: String,
    total: String,
}

struct SiteOption {
    id: i64,
    text: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "supplies_review.html")]
struct ReviewPage {
    chrome: Chrome,
    csrf: String,
    rows: Vec<QuoteRow>,
    total: String,
    sites: Vec<SiteOption>,
    other: BTreeMap<&'static str, String>,
    po_number: String,
    key: String,
    error: String,
}

fn site_text(s: &Site) -> String {
    format!(
        "{}, {}, {} {}",
        s.name, s.address.line1, s.address.postal_code, s.address.city
    )
}

#[allow(clippy::too_many_arguments)]
async fn review_page(
    state: &AppState,
    session: &ActiveSession,
    quote: &Quote,
    form: Option<&Form>,
    key: String,
    error: String,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let currency = currency(state, session).await;
    let sites = state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.sites_of(AccountId(quote.account_id)).await)
        .await
        .unwrap_or_default();
    let field = |n: &str| {
        form.and_then(|f| f.optional(n).ok().flatten())
            .unwrap_or("")
            .to_owned()
    };
    let picked = field("site");
    let sites = sites
        .iter()
        .enumerate()
        .map(|(i, s)| SiteOption {
            id: s.id.0,
            text: site_text(s),
            selected: picked == s.id.0.to_string() || (picked.is_empty() && i == 0),
        })
        .collect();
    let other = [
        "name",
        "line1",
        "line2",
        "city",
        "region",
        "postal_code",
        "country",
    ]
    .into_iter()
    .map(|k| (k, field(k)))
    .collect();
    web::render(
        status,
        &ReviewPage {
            chrome: Chrome::signed_in(state, session).await,
            csrf: session.csrf.clone(),
            rows: quote
                .lines
                .iter()
                .map(|l| QuoteRow {
                    device: l.device.clone().unwrap_or_default(),
                    sku: l.sku.clone(),
                    description: l.description.clone(),
                    quantity: l.quantity,
                    covered: l.covered,
                    unit: f.money(l.unit_price_cents, &currency),
                    total: f.money(l.line_total_cents, &currency),
                })
                .collect(),
            total: f.money(quote.total_cents, &currency),
            sites,
            other,
            po_number: field("po_number"),
            key,
            error,
        },
    )
}

/// The shop form: sets the cart's quantities, then shows the cart.
pub async fn add(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            return shop_page(&state, &session, None, &BTreeMap::new(), e.to_string(), bad).await;
        }
    };
    let equipment = form
        .optional("equipment")
        .ok()
        .flatten()
        .and_then(|e| e.parse().ok())
        .map(EquipmentId);
    let chosen = match chosen(&form) {
        Ok(c) => c,
        Err(e) => return shop_page(&state, &session, equipment, &BTreeMap::new(), e, bad).await,
    };
    let p = &session.principal;
    match cart::set(&state.db.tenant(p.tenant), p, &requests_of(&chosen)).await {
        Ok(_) => web::see_other("/cart", None),
        Err(ApiError::Invalid(m)) => shop_page(&state, &session, equipment, &chosen, m, bad).await,
        Err(e) => failure(e),
    }
}

/// The cart, priced, with where it goes and the PO number.
pub async fn show_cart(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    match cart::show(&state.db.tenant(p.tenant), p).await {
        Ok(quote) => {
            let key = hex::encode(rand::random::<[u8; 16]>());
            review_page(
                &state,
                &session,
                &quote,
                None,
                key,
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(ApiError::Invalid(m)) => {
            // the cart no longer passes (an item withdrawn, a device retired): say so there
            shop_page(
                &state,
                &session,
                None,
                &in_cart(&state, &session).await,
                m,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => failure(e),
    }
}

pub async fn clear_cart(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    match cart::clear(&state.db.tenant(p.tenant), p).await {
        Ok(()) => web::see_other("/supplies", None),
        Err(e) => failure(e),
    }
}

fn destination(form: &Form) -> Result<Destination, String> {
    let field = |n: &str| {
        form.optional(n)
            .ok()
            .flatten()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    match field("site").as_str() {
        "other" | "" => {
            let address = Address::new(
                &field("line1"),
                Some(field("line2").as_str()),
                &field("city"),
                Some(field("region").as_str()),
                &field("postal_code"),
                &field("country"),
            )
            .map_err(|e| e.to_string())?;
            Destination::address(&field("name"), &address).map_err(|e| match e {
                ApiError::Invalid(m) => m,
                other => other.to_string(),
            })
        }
        site => site
            .parse()
            .map(|id| Destination::Site(SiteId(id)))
            .map_err(|_| "choose one of the sites".to_owned()),
    }
}

pub async fn checkout(
    State(state): State<AppState>,
    session: ActiveSession,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let p = &session.principal;
    let db = state.db.tenant(p.tenant);
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => {
            return shop_page(&state, &session, None, &BTreeMap::new(), e.to_string(), bad).await;
        }
    };
    let key = form.optional("key").ok().flatten().unwrap_or("").to_owned();
    let again = |m: String| {
        let (state, session, form, key) = (&state, &session, &form, key.clone());
        async move {
            match cart::show(
                &state.db.tenant(session.principal.tenant),
                &session.principal,
            )
            .await
            {
                Ok(quote) if !quote.lines.is_empty() => {
                    review_page(state, session, &quote, Some(form), key, m, bad).await
                }
                _ => shop_page(state, session, None, &BTreeMap::new(), m, bad).await,
            }
        }
    };
    let ship_to = match destination(&form) {
        Ok(d) => d,
        Err(m) => return again(m).await,
    };
    let po = form.optional("po_number").ok().flatten().map(str::to_owned);
    match cart::checkout(&db, p, ship_to, po, key.clone()).await {
        Ok(done) => {
            state.notified.users(p.tenant, &done.notified);
            web::see_other(&format!("/orders/{}", done.order.id), Some("order-placed"))
        }
        Err(ApiError::Invalid(m) | ApiError::Conflict(m)) => again(m).await,
        Err(e) => failure(e),
    }
}

struct OrderRow {
    id: i64,
    number: i64,
    account: String,
    status: &'static str,
    source: String,
    total: String,
    placed: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    staff: bool,
    can_order: bool,
    waiting_only: bool,
    rows: Vec<OrderRow>,
    older: Option<i64>,
}

const PAGE: u32 = 100;

fn order_row(o: OrderView, f: &Formats, currency: &str) -> OrderRow {
    OrderRow {
        id: o.id,
        number: o.number,
        account: o.account,
        status: label(&o.status),
        source: o.source,
        total: f.money(o.total_cents, currency),
        placed: f.when(o.created_at),
    }
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let p = &session.principal;
    let waiting_only = q.get("status").is_some_and(|s| s == "submitted");
    let filter = OrderFilter {
        account: p.account(),
        status: waiting_only.then(|| "submitted".to_owned()),
        equipment: q
            .get("equipment")
            .and_then(|e| e.parse().ok())
            .map(EquipmentId),
        ..OrderFilter::default()
    };
    let before = q.get("before").and_then(|b| b.parse().ok());
    let orders = match state
        .db
        .tenant(p.tenant)
        .read(async |tx| tx.orders(&filter, before, PAGE).await)
        .await
    {
        Ok(o) => o,
        Err(e) => return failure(e.into()),
    };
    let older = (orders.len() == PAGE as usize)
        .then(|| orders.last().map(|o| o.id))
        .flatten();
    let currency = currency(&state, &session).await;
    web::ok(&OrdersPage {
        chrome: Chrome::signed_in(&state, &session)
            .await
            .with_notice(web::notice_of(&q)),
        staff: p.is_staff(),
        can_order: p.permissions.contains(&Permission::OrdersCreate) && !p.is_staff(),
        waiting_only,
        rows: orders
            .into_iter()
            .map(|o| order_row(o, &p.formats, &currency))
            .collect(),
        older,
    })
}

struct LineRow {
    device: String,
    sku: String,
    description: String,
    quantity: i64,
    covered: bool,
    total: String,
}

struct EventRow {
    when: String,
    who: String,
    status: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "order_detail.html")]
struct DetailPage {
    chrome: Chrome,
    csrf: String,
    order: OrderView,
    status: &'static str,
    ship_to: ShipAddress,
    total: String,
    lines: Vec<LineRow>,
    events: Vec<EventRow>,
    /// (code, label) of the buttons the reader may press; shipping has its own form.
    steps: Vec<(&'static str, &'static str)>,
    may_ship: bool,
    error: String,
}

async fn detail_page(
    state: &AppState,
    session: &ActiveSession,
    id: i64,
    notice: Option<String>,
    error: String,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let f = &p.formats;
    let (order, lines, events) =
        match orders::show(&state.db.tenant(p.tenant), p, OrderId(id)).await {
            Ok(x) => x,
            Err(e) => return failure(e),
        };
    let currency = currency(state, session).await;
    let role = role_of(p);
    let all_steps = role
        .map(|r| next_steps(&order.status, r))
        .unwrap_or_default();
    let steps = all_steps
        .iter()
        .filter(|s| **s != "shipped")
        .map(|s| {
            (
                *s,
                match (role, *s) {
                    (Some(Role::Customer), "submitted") => {
                        crate::web::i18n::n_("Confirm this order")
                    }
                    (_, "cancelled") => crate::web::i18n::n_("Cancel this order"),
                    (_, other) => label(other),
                },
            )
        })
        .collect();
    web::render(
        status,
        &DetailPage {
            chrome: Chrome::signed_in(state, session).await.with_notice(notice),
            csrf: session.csrf.clone(),
            status: label(&order.status),
            ship_to: order.ship_to.clone(),
            total: f.money(order.total_cents, &currency),
            lines: lines
                .into_iter()
                .map(|l| LineRow {
                    device: l.device.unwrap_or_default(),
                    sku: l.sku,
                    description: l.description,
                    quantity: l.quantity,
                    covered: l.covered,
                    total: f.money(l.line_total_cents, &currency),
                })
                .collect(),
            events: events
                .into_iter()
                .map(|e| EventRow {
                    when: f.when(e.created_at),
                    who: e.actor.unwrap_or_default(),
                    status: label(&e.to_status),
                    note: e.note.unwrap_or_default(),
                })
                .collect(),
            steps,
            may_ship: all_steps.contains(&"shipped"),
            order,
            error,
        },
    )
}

pub async fn detail(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    detail_page(
        &state,
        &session,
        id,
        web::notice_of(&q),
        String::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn step(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let form = match Form::of_request(&headers, &body) {
        Ok(f) => f,
        Err(e) => return detail_page(&state, &session, id, None, e.to_string(), bad).await,
    };
    let field = |n: &str| form.optional(n).ok().flatten().map(str::to_owned);
    let step = Step {
        to: field("status").unwrap_or_default(),
        carrier: field("carrier"),
        tracking_number: field("tracking_number"),
        note: field("note"),
    };
    let p = &session.principal;
    match orders::advance(&state.db.tenant(p.tenant), p, OrderId(id), &step).await {
        Ok(done) => {
            state.notified.users(p.tenant, &done.notified);
            web::see_other(&format!("/orders/{id}"), Some("order-updated"))
        }
        Err(ApiError::Invalid(m) | ApiError::Conflict(m)) => {
            detail_page(&state, &session, id, None, m, bad).await
        }
        Err(e) => failure(e),
    }
}

struct ItemRow {
    sku: String,
    description: String,
    kind: String,
    colour: String,
    price: String,
    models: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    csrf: String,
    items: Vec<ItemRow>,
    error: String,
}

async fn catalogue_page(
    state: &AppState,
    session: &ActiveSession,
    notice: Option<String>,
    error: String,
    status: StatusCode,
) -> Response {
    let p = &session.principal;
    let items = match catalogue::list(&state.db.tenant(p.tenant), p).await {
        Ok(i) => i,
        Err(e) => return failure(e),
    };
    web::render(
        status,
        &CataloguePage {
            chrome: Chrome::signed_in(state, session).await.with_notice(notice),
            csrf: session.csrf.clone(),
            items: items
                .into_iter()
                .map(|s| ItemRow {
                    sku: s.item.sku.to_string(),
                    description: s.item.description,
                    kind: s.item.kind.into(),
                    colour: s.item.colour.unwrap_or("").into(),
                    price: price_text(s.item.price_cents),
                    models: s
                        .item
                        .models
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    active: s.item.active,
                })
                .collect(),
            error,
        },
    )
}

pub async fn catalogue_show(
    State(state): State<AppState>,
    session: ActiveSession,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    catalogue_page(
        &state,
        &session,
        web::notice_of(&q),
        String::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn catalogue_csv(State(state): State<AppState>, session: ActiveSession) -> Response {
    let p = &session.principal;
    match catalogue::export(&state.db.tenant(p.tenant), p).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"catalogue.csv\"",
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => failure(e),
    }
}

pub async fn catalogue_import(
    State(state): State<AppState>,
    session: ActiveSession,
    request: Request,
) -> Response {
    let bad = StatusCode::UNPROCESSABLE_ENTITY;
    let choose = crate::web::i18n::n_("Choose a CSV file to upload.");
    let Ok(mut multipart) = Multipart::from_request(request, &state).await else {
        return catalogue_page(&state, &session, None, choose.into(), bad).await;
    };
    let mut text = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            match field.bytes().await {
                Ok(b) if !b.is_empty() => text = Some(b),
                Ok(_) => {}
                Err(e) => return catalogue_page(&state, &session, None, e.to_string(), bad).await,
            }
        }
    }
    let Some(bytes) = text else {
        return catalogue_page(&state, &session, None, choose.into(), bad).await;
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return catalogue_page(
            &state,
            &session,
            None,
            "the file is not UTF-8 text (save it as CSV UTF-8)".into(),
            bad,
        )
        .await;
    };
    let p = &session.principal;
    match catalogue::import(&state.db.tenant(p.tenant), p, text).await {
        Ok(_) => web::see_other("/admin/catalogue", Some("catalogue-imported")),
        Err(ApiError::Invalid(m)) => catalogue_page(&state, &session, None, m, bad).await,
        Err(e) => failure(e),
    }
}
