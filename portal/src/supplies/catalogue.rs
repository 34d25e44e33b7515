//! What people do with the catalogue: dealer staff keep it (one item, or a whole CSV file);
//! customers see, per device, what fits it and what it would cost them.

use super::csv::{self, ImportError};
use super::store::{ItemView, Stored};
use super::{CatalogueItem, RawItem, covered};
use crate::auth::{Permission, Principal};
use crate::db::TenantDb;
use crate::equipment::views::visible_equipment;
use crate::http::ApiError;
use crate::ids::EquipmentId;

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

pub async fn list(db: &TenantDb, p: &Principal) -> Result<Vec<Stored>, ApiError> {
    p.require(Permission::CatalogueManage)?;
    Ok(db.read(async |tx| tx.catalogue().await).await?)
}

/// Adds an item or replaces the one with its SKU.
pub async fn put(db: &TenantDb, p: &Principal, raw: &RawItem) -> Result<Stored, ApiError> {
    p.require(Permission::CatalogueManage)?;
    let item = CatalogueItem::parse(raw)?;
    let mut tx = db.begin().await?;
    let id = tx.put_supply_item(&item).await?;
    tx.audit(
        &p.actor(),
        "catalogue.item",
        ("supply_item", Some(id.to_string())),
        None,
        serde_json::json!({ "sku": item.sku.as_str(), "price_cents": item.price_cents,
            "active": item.active, "models": item.models.len() }),
    )
    .await?;
    let stored = tx.supply_item_by_sku(&item.sku).await?;
    tx.commit().await?;
    Ok(stored)
}

/// Imports a CSV file whole, or nothing; returns how many items it named.
pub async fn import(db: &TenantDb, p: &Principal, text: &str) -> Result<usize, ApiError> {
    p.require(Permission::CatalogueManage)?;
    let items = csv::import(text)?;
    let mut tx = db.begin().await?;
    for item in &items {
        tx.put_supply_item(item).await?;
    }
    tx.audit(
        &p.actor(),
        "catalogue.import",
        ("supply_item", None),
        None,
        serde_json::json!({ "items": items.len() }),
    )
    .await?;
    tx.commit().await?;
    Ok(items.len())
}

pub async fn export(db: &TenantDb, p: &Principal) -> Result<String, ApiError> {
    let items: Vec<CatalogueItem> = list(db, p).await?.into_iter().map(|s| s.item).collect();
    Ok(csv::export(&items))
}

/// An item a customer may order for a device, with what it costs them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Offer {
    pub item: ItemView,
    /// Covered by the device's contract: it costs nothing.
    pub covered: bool,
    /// What one costs the customer (0 when covered).
    pub unit_price_cents: i64,
}

/// What fits a device, covered items first.
pub async fn offers(
    db: &TenantDb,
    p: &Principal,
    equipment: EquipmentId,
) -> Result<Vec<Offer>, ApiError> {
    p.require(Permission::OrdersCreate)?;
    let mut tx = db.begin().await?;
    let device = visible_equipment(&mut tx, p, equipment).await?;
    let cover = match device.contract_id {
        Some(c) => tx.supply_cover(c).await?,
        None => None,
    };
    let today = chrono::DateTime::from_timestamp_millis(tx.now_ms())
        .unwrap_or_default()
        .date_naive();
    let mut offers: Vec<Offer> = tx
        .items_fitting(&device.make, &device.model)
        .await?
        .into_iter()
        .map(|s| {
            let is_covered = covered(s.id, s.item.kind, cover.as_ref(), today);
            Offer {
                covered: is_covered,
                unit_price_cents: if is_covered { 0 } else { s.item.price_cents },
                item: s.view(),
            }
        })
        .collect();
    offers.sort_by_key(|o| (!o.covered, o.item.sku.clone()));
    Ok(offers)
}
