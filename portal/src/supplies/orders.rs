//! Ordering supplies: a checkout priced and checked on the server (the customer's own devices,
//! items that fit them, quantities within limits, a destination that is theirs), the dealer's
//! approval, picking, shipping with carrier and tracking number, delivery — each step an event
//! on the order's timeline, an audit entry and a notification for the other side. One checkout
//! is one order: its idempotency key makes a second submission (a double click, a retry, two
//! tabs at once) answer with the first order.

use super::store::{NewOrder, OrderEvent, OrderLine, OrderView, ShipAddress};
use super::{OrderId, Sku, check_quantity, covered, fits};
use crate::accounts::Address;
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::equipment::views::visible_equipment;
use crate::http::ApiError;
use crate::ids::{AccountId, EquipmentId, SiteId, UserId};
use crate::tenants::parse_name;
use crate::web::i18n::n_;

/// The steps of an order.
pub const STATUSES: &[(&str, &str)] = &[
    ("suggested", n_("Suggested")),
    ("submitted", n_("Submitted")),
    ("approved", n_("Approved")),
    ("picked", n_("Picked")),
    ("shipped", n_("Shipped")),
    ("delivered", n_("Delivered")),
    ("cancelled", n_("Cancelled")),
];

/// At most this many lines in one order.
pub const MAX_LINES: usize = 50;

/// Who moves an order along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Dealer staff holding `orders.approve`.
    Dealer,
    /// A customer holding `orders.create`, for their account's orders.
    Customer,
}

/// Where an order may go from where it is, and who may take it there. A customer confirms a
/// suggested order or cancels one not yet approved; the dealer does the rest.
pub fn may_move(from: &str, to: &str, role: Role) -> bool {
    match role {
        Role::Dealer => matches!(
            (from, to),
            ("suggested" | "submitted", "approved" | "cancelled")
                | ("approved", "picked" | "cancelled")
                | ("picked", "shipped" | "cancelled")
                | ("shipped", "delivered")
        ),
        Role::Customer => matches!(
            (from, to),
            ("suggested", "submitted" | "cancelled") | ("submitted", "cancelled")
        ),
    }
}

/// The steps `role` may take an order in `status` to.
pub fn next_steps(status: &str, role: Role) -> Vec<&'static str> {
    STATUSES
        .iter()
        .map(|(code, _)| *code)
        .filter(|to| may_move(status, to, role))
        .collect()
}

pub fn is_open(status: &str) -> bool {
    !matches!(status, "delivered" | "cancelled")
}

/// One line as a customer asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub equipment: EquipmentId,
    pub sku: String,
    pub quantity: i64,
}

/// Where an order goes: one of the account's sites, or an address typed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Site(SiteId),
    Address(ShipAddress),
}

impl Destination {
    /// A typed address, checked (name, street, city, postal code, two-letter country).
    pub fn address(name: &str, a: &Address) -> Result<Destination, ApiError> {
        Ok(Destination::Address(ShipAddress {
            name: parse_name("recipient", name)?,
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }))
    }
}

/// A checkout: the lines, where they go, the customer's PO number, and the key that makes a
/// repeated submission the same order.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub lines: Vec<LineRequest>,
    pub ship_to: Destination,
    pub po_number: Option<String>,
    pub key: String,
    /// Order what is in the person's cart (read in the checkout's transaction, then emptied)
    /// instead of `lines`.
    pub from_cart: bool,
}

/// What an order would cost, line by line, before it is placed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Quote {
    pub account_id: i64,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
}

/// An idempotency key: 8 to 100 letters, digits, `-` or `_`.
pub fn check_key(key: &str) -> Result<&str, ApiError> {
    let k = key.trim();
    if (8..=100).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(k)
    } else {
        Err(ApiError::Invalid(
            "the idempotency key must be 8 to 100 letters, digits, - or _".into(),
        ))
    }
}

/// Prices and checks the lines: every device the principal's and of one account, every item
/// in the catalogue, active and fitting its device, every quantity within the item's limit
/// (lines for the same device and item count together), covered items at 0.
pub(crate) async fn price(
    tx: &mut TenantTx,
    p: &Principal,
    lines: &[LineRequest],
) -> Result<Quote, ApiError> {
    if lines.is_empty() {
        return Err(ApiError::Invalid("add at least one item".into()));
    }
    if lines.len() > MAX_LINES {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_LINES} lines in one order"
        )));
    }
    // in the order the customer listed them; the same device and item twice count together
    let mut merged: Vec<((EquipmentId, Sku), i64)> = Vec::new();
    for l in lines {
        let sku = Sku::parse(&l.sku)?;
        if l.quantity < 1 {
            return Err(ApiError::Invalid(format!(
                "{sku}: order at least 1 (not {})",
                l.quantity
            )));
        }
        let k = (l.equipment, sku);
        match merged.iter_mut().find(|(m, _)| *m == k) {
            Some((_, q)) => *q = q.saturating_add(l.quantity),
            None => merged.push((k, l.quantity)),
        }
    }
    let today = chrono::DateTime::from_timestamp_millis(tx.now_ms())
        .unwrap_or_default()
        .date_naive();
    let mut account: Option<AccountId> = None;
    let mut out = Vec::new();
    for ((equipment, sku), quantity) in merged {
        let device = visible_equipment(tx, p, equipment).await?;
        if *account.get_or_insert(device.account_id) != device.account_id {
            return Err(ApiError::Invalid(
                "one order is for the devices of one account".into(),
            ));
        }
        let name = format!("{} {} ({})", device.make, device.model, device.serial);
        if device.status != "active" {
            return Err(ApiError::Invalid(format!("{name} is no longer in service")));
        }
        let item = match tx.supply_item_by_sku(&sku).await {
            Ok(i) if i.item.active => i,
            Ok(_) => return Err(ApiError::Invalid(format!("{sku} is no longer sold"))),
            Err(DbError::NotFound) => {
                return Err(ApiError::Invalid(format!(
                    "there is no item {sku} in the catalogue"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !fits(&item.item.models, &device.make, &device.model) {
            return Err(ApiError::Invalid(format!("{sku} does not fit {name}")));
        }
        let quantity = check_quantity(quantity, item.item.max_order_qty)
            .map_err(|e| ApiError::Invalid(format!("{sku}: {e}")))?;
        let cover = match device.contract_id {
            Some(c) => tx.supply_cover(c).await?,
            None => None,
        };
        let is_covered = covered(item.id, item.item.kind, cover.as_ref(), today);
        out.push(OrderLine {
            supply_item_id: item.id.0,
            sku: sku.to_string(),
            description: item.item.description.clone(),
            equipment_id: Some(device.id.0),
            device: Some(name),
            colour: item.item.colour.map(Into::into),
            quantity,
            unit_price_cents: item.item.price_cents,
            covered: is_covered,
            line_total_cents: if is_covered {
                0
            } else {
                item.item.price_cents * quantity
            },
        });
    }
    Ok(Quote {
        account_id: account.map_or(0, |a| a.0),
        total_cents: out.iter().map(|l| l.line_total_cents).sum(),
        lines: out,
    })
}

/// What an order would cost, without placing it.
pub async fn quote(db: &TenantDb, p: &Principal, lines: &[LineRequest]) -> Result<Quote, ApiError> {
    p.require(Permission::OrdersCreate)?;
    let mut tx = db.begin().await?;
    price(&mut tx, p, lines).await
}

/// What a change did: the order as it is now, and who was told.
#[derive(Debug, Clone)]
pub struct Done {
    pub order: OrderView,
    pub notified: Vec<UserId>,
    /// `false` when the checkout's key had already placed this order.
    pub created: bool,
}

/// The address an order for `account` goes to.
async fn destination(
    tx: &mut TenantTx,
    account: AccountId,
    d: &Destination,
) -> Result<(Option<SiteId>, ShipAddress), ApiError> {
    match d {
        Destination::Address(a) => Ok((None, a.clone())),
        Destination::Site(id) => match tx.site(*id).await {
            Ok(s) if s.account_id == account => Ok((
                Some(s.id),
                ShipAddress {
                    name: s.name,
                    line1: s.address.line1,
                    line2: s.address.line2,
                    city: s.address.city,
                    region: s.address.region,
                    postal_code: s.address.postal_code,
                    country: s.address.country,
                },
            )),
            Ok(_) | Err(DbError::NotFound) => Err(ApiError::Invalid(
                "deliver to one of the account's own sites".into(),
            )),
            Err(e) => Err(e.into()),
        },
    }
}

/// Places an order with priced lines (checkout and replenishment share it).
pub(crate) async fn place(
    tx: &mut TenantTx,
    new: &NewOrder<'_>,
    lines: &[OrderLine],
    actor: Option<UserId>,
) -> Result<OrderView, DbError> {
    let id = tx.insert_order(new).await?;
    for l in lines {
        tx.insert_order_line(id, l).await?;
    }
    tx.add_order_event(id, None, new.status, None, actor)
        .await?;
    tx.order(id).await
}

pub async fn checkout(db: &TenantDb, p: &Principal, c: &Checkout) -> Result<Done, ApiError> {
    match checkout_once(db, p, c).await {
        // the same checkout, finished by another submission meanwhile (its cart now empty)
        Err(ApiError::Invalid(m)) => match db
            .read(async |tx| tx.order_by_key(c.key.trim()).await)
            .await?
        {
            Some(o) => again(p, o),
            None => Err(ApiError::Invalid(m)),
        },
        other => other,
    }
}

async fn checkout_once(db: &TenantDb, p: &Principal, c: &Checkout) -> Result<Done, ApiError> {
    p.require(Permission::OrdersCreate)?;
    let key = check_key(&c.key)?;
    let po = c
        .po_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.chars().count() > 64 {
                Err(ApiError::Invalid(
                    "a PO number has at most 64 characters".into(),
                ))
            } else {
                Ok(parse_name("PO number", s)?)
            }
        })
        .transpose()?;
    let mut tx = db.begin().await?;
    if let Some(o) = tx.order_by_key(key).await? {
        return again(p, o);
    }
    let lines = if c.from_cart {
        let (_, held) = tx.cart(p.user).await?;
        if held.is_empty() {
            return Err(ApiError::Invalid("your cart is empty".into()));
        }
        held.into_iter()
            .map(|(equipment, sku, quantity)| LineRequest {
                equipment,
                sku,
                quantity,
            })
            .collect()
    } else {
        c.lines.clone()
    };
    let quote = price(&mut tx, p, &lines).await?;
    let account = AccountId(quote.account_id);
    let (site, ship_to) = destination(&mut tx, account, &c.ship_to).await?;
    let new = NewOrder {
        account,
        site,
        ship_to: &ship_to,
        po_number: po.as_deref(),
        status: "submitted",
        source: if p.is_staff() { "staff" } else { "customer" },
        total_cents: quote.total_cents,
        idempotency_key: Some(key),
        created_by: Some(p.user),
    };
    let order = match place(&mut tx, &new, &quote.lines, Some(p.user)).await {
        Ok(o) => o,
        // the same checkout, submitted at the same moment, won the race
        Err(DbError::Conflict(_)) => {
            drop(tx);
            let first = db.read(async |tx| tx.order_by_key(key).await).await?;
            return match first {
                Some(o) => again(p, o),
                None => Err(ApiError::Conflict(
                    "the order could not be placed; try again".into(),
                )),
            };
        }
        Err(e) => return Err(e.into()),
    };
    if c.from_cart {
        tx.clear_cart(p.user).await?;
    }
    let notified = tell(
        &mut tx,
        &order,
        Audience::Dealer,
        Some(p.user),
        "order.submitted",
        format!("Order {} waits for approval", order.number),
        format!("{} · {} line(s)", order.account, quote.lines.len()),
    )
    .await?;
    tx.audit(
        &p.actor(),
        "order.submitted",
        ("order", Some(order.id.to_string())),
        Some(account),
        serde_json::json!({ "number": order.number, "lines": quote.lines.len(),
            "total_cents": order.total_cents, "po_number": po }),
    )
    .await?;
    match tx.commit().await {
        Ok(()) => Ok(Done {
            order,
            notified,
            created: true,
        }),
        Err(DbError::Conflict(_)) => {
            let first = db.read(async |tx| tx.order_by_key(key).await).await?;
            first.map_or(
                Err(ApiError::Conflict(
                    "the order could not be placed; try again".into(),
                )),
                |o| again(p, o),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The answer to a checkout whose key already placed an order.
fn again(p: &Principal, o: OrderView) -> Result<Done, ApiError> {
    if p.sees_account(AccountId(o.account_id)) {
        Ok(Done {
            order: o,
            notified: Vec::new(),
            created: false,
        })
    } else {
        Err(ApiError::Conflict(
            "that idempotency key belongs to another order".into(),
        ))
    }
}

/// An order the principal may see: customers only their account's.
async fn visible_order(
    tx: &mut TenantTx,
    p: &Principal,
    id: OrderId,
) -> Result<OrderView, ApiError> {
    p.require(Permission::OrdersRead)?;
    let o = tx.order(id).await?;
    if p.sees_account(AccountId(o.account_id)) {
        Ok(o)
    } else {
        Err(ApiError::NotFound)
    }
}

/// An order with its lines and timeline.
pub async fn show(
    db: &TenantDb,
    p: &Principal,
    id: OrderId,
) -> Result<(OrderView, Vec<OrderLine>, Vec<OrderEvent>), ApiError> {
    let mut tx = db.begin().await?;
    let o = visible_order(&mut tx, p, id).await?;
    let lines = tx.order_lines(id).await?;
    let events = tx.order_events(id).await?;
    Ok((o, lines, events))
}

/// The role the principal acts in on orders, if any.
pub fn role_of(p: &Principal) -> Option<Role> {
    if p.is_staff() {
        p.permissions
            .contains(&Permission::OrdersApprove)
            .then_some(Role::Dealer)
    } else {
        p.permissions
            .contains(&Permission::OrdersCreate)
            .then_some(Role::Customer)
    }
}

/// A step on an order's way.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub to: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub note: Option<String>,
}

pub async fn advance(
    db: &TenantDb,
    p: &Principal,
    id: OrderId,
    step: &Step,
) -> Result<Done, ApiError> {
    let mut tx = db.begin().await?;
    let o = visible_order(&mut tx, p, id).await?;
    let to = STATUSES
        .iter()
        .map(|(c, _)| *c)
        .find(|c| *c == step.to.trim())
        .ok_or_else(|| {
            ApiError::Invalid(format!("there is no order status '{}'", step.to.trim()))
        })?;
    let role = role_of(p).ok_or(ApiError::Forbidden)?;
    if !may_move(&o.status, to, role) {
        return Err(ApiError::Conflict(format!(
            "an order that is {} cannot become {to} by you",
            o.status
        )));
    }
    let text = |what, s: &Option<String>| -> Result<Option<String>, ApiError> {
        match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) if s.chars().count() > 100 => {
                Err(ApiError::Invalid(format!("{what}: at most 100 characters")))
            }
            Some(s) => Ok(Some(parse_name(what, s)?)),
        }
    };
    let carrier = text("carrier", &step.carrier)?;
    let tracking = text("tracking number", &step.tracking_number)?;
    let note = match step
        .note
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(n) if n.chars().count() > 2000 => {
            return Err(ApiError::Invalid(
                "a note has at most 2000 characters".into(),
            ));
        }
        n => n.map(str::to_owned),
    };
    let shipping = match (to, &carrier, &tracking) {
        ("shipped", Some(c), Some(t)) => Some((c.as_str(), t.as_str())),
        ("shipped", ..) => {
            return Err(ApiError::Invalid(
                "a shipped order needs its carrier and tracking number".into(),
            ));
        }
        _ => None,
    };
    if !tx.move_order(id, &o.status, to, shipping).await? {
        return Err(ApiError::Conflict(
            "the order was changed meanwhile; reload it".into(),
        ));
    }
    tx.add_order_event(id, Some(&o.status), to, note.as_deref(), Some(p.user))
        .await?;
    let order = tx.order(id).await?;
    let label = super::orders::label(to);
    let (audience, event, title) = match role {
        Role::Dealer => (
            Audience::Customers,
            "order.updated",
            format!("Order {}: {label}", order.number),
        ),
        Role::Customer => (
            Audience::Dealer,
            if to == "submitted" {
                "order.submitted"
            } else {
                "order.updated"
            },
            format!("Order {} ({}): {label}", order.number, order.account),
        ),
    };
    let body = match (&order.carrier, &order.tracking_number) {
        (Some(c), Some(t)) if to == "shipped" => format!("{c}, tracking number {t}"),
        _ => note.clone().unwrap_or_default(),
    };
    let notified = tell(&mut tx, &order, audience, Some(p.user), event, title, body).await?;
    tx.audit(
        &p.actor(),
        "order.status",
        ("order", Some(id.to_string())),
        Some(AccountId(order.account_id)),
        serde_json::json!({ "number": order.number, "from": o.status, "to": to,
            "carrier": carrier, "tracking_number": tracking }),
    )
    .await?;
    tx.commit().await?;
    Ok(Done {
        order,
        notified,
        created: false,
    })
}

pub fn label(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(c, _)| *c == status)
        .map_or("", |(_, l)| *l)
}

/// Who hears about a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The account's people who follow its orders.
    Customers,
    /// The dealer's staff who approve orders.
    Dealer,
    Both,
}

/// Tells the people on `audience`'s side (never `actor`); returns who was told.
pub(crate) async fn tell(
    tx: &mut TenantTx,
    o: &OrderView,
    audience: Audience,
    actor: Option<UserId>,
    event: &'static str,
    title: String,
    body: String,
) -> Result<Vec<UserId>, DbError> {
    let mut to: Vec<UserId> = Vec::new();
    if matches!(audience, Audience::Customers | Audience::Both) {
        to.extend(
            tx.account_users_holding(AccountId(o.account_id), Permission::OrdersRead)
                .await?,
        );
    }
    if matches!(audience, Audience::Dealer | Audience::Both) {
        to.extend(tx.staff_holding(Permission::OrdersApprove).await?);
    }
    to.sort();
    to.dedup();
    to.retain(|u| Some(*u) != actor);
    tx.notify(&crate::notifications::Note {
        event,
        subject: Some(o.id),
        title,
        body,
        link: Some(format!("/orders/{}", o.id)),
        recipients: &to,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dealer_runs_the_order_and_the_customer_confirms_or_cancels_early() {
        use Role::*;
        let cases = [
            ("submitted", "approved", Dealer, true),
            ("suggested", "approved", Dealer, true),
            ("approved", "picked", Dealer, true),
            ("picked", "shipped", Dealer, true),
            ("shipped", "delivered", Dealer, true),
            ("approved", "cancelled", Dealer, true),
            ("shipped", "cancelled", Dealer, false),
            ("delivered", "shipped", Dealer, false),
            ("submitted", "shipped", Dealer, false),
            ("cancelled", "approved", Dealer, false),
            ("suggested", "submitted", Customer, true),
            ("suggested", "cancelled", Customer, true),
            ("submitted", "cancelled", Customer, true),
            ("approved", "cancelled", Customer, false),
            ("submitted", "approved", Customer, false),
            ("shipped", "delivered", Customer, false),
        ];
        for (from, to, role, allowed) in cases {
            assert_eq!(
                may_move(from, to, role),
                allowed,
                "{from} → {to} by {role:?}"
            );
        }
        assert_eq!(next_steps("picked", Dealer), vec!["shipped", "cancelled"]);
        assert!(next_steps("delivered", Dealer).is_empty());
    }

    #[test]
    fn keys_are_long_enough_to_be_unique_and_plain() {
        assert!(check_key("3f2a9c1e-77aa").is_ok());
        for bad in [
            "short",
            "",
            "has space in it",
            "semi;colon-key",
            &"k".repeat(101),
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
