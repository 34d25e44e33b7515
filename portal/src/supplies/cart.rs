//! A person's cart: items for one account's devices, gathered across pages and sessions,
//! checked as they go in (the device theirs, the item fitting it, the quantity within the
//! item's limit), priced whenever it is shown (covered items at 0), and ordered — and emptied
//! — in one transaction.

use super::orders::{self, Checkout, Destination, Done, LineRequest, Quote};
use super::store::OrderLine;
use crate::auth::{Permission, Principal};
use crate::db::{TenantDb, TenantTx};
use crate::http::ApiError;
use crate::ids::AccountId;

fn empty() -> Quote {
    Quote {
        account_id: 0,
        lines: Vec::new(),
        total_cents: 0,
    }
}

async fn lines_of(tx: &mut TenantTx, p: &Principal) -> Result<Vec<LineRequest>, ApiError> {
    let (_, lines) = tx.cart(p.user).await?;
    Ok(lines
        .into_iter()
        .map(|(equipment, sku, quantity)| LineRequest {
            equipment,
            sku,
            quantity,
        })
        .collect())
}

/// The cart, priced as it would be ordered now.
pub async fn show(db: &TenantDb, p: &Principal) -> Result<Quote, ApiError> {
    p.require(Permission::OrdersCreate)?;
    let mut tx = db.begin().await?;
    let lines = lines_of(&mut tx, p).await?;
    if lines.is_empty() {
        return Ok(empty());
    }
    orders::price(&mut tx, p, &lines).await
}

/// Sets the quantities of these lines (0 takes a line out); all or none: the cart after the
/// change must be one a checkout would take.
pub async fn set(db: &TenantDb, p: &Principal, changes: &[LineRequest]) -> Result<Quote, ApiError> {
    p.require(Permission::OrdersCreate)?;
    let mut tx = db.begin().await?;
    let mut lines = lines_of(&mut tx, p).await?;
    for c in changes {
        if c.quantity < 0 {
            return Err(ApiError::Invalid(format!(
                "{}: a quantity cannot be negative ({})",
                c.sku, c.quantity
            )));
        }
        let sku = c.sku.trim();
        match lines
            .iter_mut()
            .position(|l| l.equipment == c.equipment && l.sku == sku)
        {
            Some(i) if c.quantity == 0 => {
                lines.remove(i);
            }
            Some(i) => lines[i].quantity = c.quantity,
            None if c.quantity == 0 => {}
            None => lines.push(LineRequest {
                equipment: c.equipment,
                sku: sku.to_owned(),
                quantity: c.quantity,
            }),
        }
    }
    tx.clear_cart(p.user).await?;
    if lines.is_empty() {
        tx.commit().await?;
        return Ok(empty());
    }
    let quote = orders::price(&mut tx, p, &lines).await?;
    let account = AccountId(quote.account_id);
    for l in &quote.lines {
        keep(&mut tx, p, account, l).await?;
    }
    tx.commit().await?;
    Ok(quote)
}

async fn keep(
    tx: &mut TenantTx,
    p: &Principal,
    account: AccountId,
    l: &OrderLine,
) -> Result<(), ApiError> {
    let equipment = crate::ids::EquipmentId(l.equipment_id.unwrap_or(0));
    tx.set_cart_line(
        p.user,
        account,
        equipment,
        super::SupplyItemId(l.supply_item_id),
        l.quantity,
    )
    .await?;
    Ok(())
}

pub async fn clear(db: &TenantDb, p: &Principal) -> Result<(), ApiError> {
    p.require(Permission::OrdersCreate)?;
    Ok(db.run(async |tx| tx.clear_cart(p.user).await).await?)
}

/// Orders what is in the cart and empties it, in one transaction. The key makes a second
/// submission answer with the first order, even though the cart is empty by then.
pub async fn checkout(
    db: &TenantDb,
    p: &Principal,
    ship_to: Destination,
    po_number: Option<String>,
    key: String,
) -> Result<Done, ApiError> {
    orders::checkout(
        db,
        p,
        &Checkout {
            lines: Vec::new(),
            ship_to,
            po_number,
            key,
            from_cart: true,
        },
    )
    .await
}
