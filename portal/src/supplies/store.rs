//! The catalogue, orders and toner levels in the database; every statement names the tenant.

use super::{
    CatalogueItem, ModelName, OrderId, Sku, SupplyCover, SupplyItemId, parse_colour, parse_kind,
};
use crate::db::{DbError, TenantTx};
use crate::ids::{AccountId, ContractId, EquipmentId, SiteId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// A catalogue item with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: SupplyItemId,
    pub item: CatalogueItem,
}

/// A catalogue item as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub id: i64,
    pub sku: String,
    pub oem_part_number: Option<String>,
    pub description: String,
    pub kind: String,
    pub colour: Option<String>,
    pub yield_pages: Option<i64>,
    pub price_cents: i64,
    pub max_order_qty: i64,
    pub active: bool,
    /// "Make Model"
    pub compatible_models: Vec<String>,
}

impl Stored {
    pub fn view(&self) -> ItemView {
        let i = &self.item;
        ItemView {
            id: self.id.0,
            sku: i.sku.to_string(),
            oem_part_number: i.oem_part_number.clone(),
            description: i.description.clone(),
            kind: i.kind.into(),
            colour: i.colour.map(Into::into),
            yield_pages: i.yield_pages,
            price_cents: i.price_cents,
            max_order_qty: i.max_order_qty,
            active: i.active,
            compatible_models: i.models.iter().map(ToString::to_string).collect(),
        }
    }
}

/// Where an order goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ShipAddress {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// An order as people see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: i64,
    pub number: i64,
    pub account_id: i64,
    pub account: String,
    pub site_id: Option<i64>,
    pub ship_to: ShipAddress,
    pub po_number: Option<String>,
    /// suggested, submitted, approved, picked, shipped, delivered or cancelled
    pub status: String,
    /// customer, staff or auto (replenishment)
    pub source: String,
    pub total_cents: i64,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub supply_item_id: i64,
    pub sku: String,
    pub description: String,
    pub equipment_id: Option<i64>,
    pub device: Option<String>,
    pub colour: Option<String>,
    pub quantity: i64,
    pub unit_price_cents: i64,
    /// The device's contract covers it: it costs the customer nothing.
    pub covered: bool,
    pub line_total_cents: i64,
}

/// One step on an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OrderEvent {
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
    pub actor: Option<String>,
    pub created_at: i64,
}

/// A new order, priced and checked.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub account: AccountId,
    pub site: Option<SiteId>,
    pub ship_to: &'a ShipAddress,
    pub po_number: Option<&'a str>,
    pub status: &'static str,
    pub source: &'static str,
    pub total_cents: i64,
    pub idempotency_key: Option<&'a str>,
    pub created_by: Option<UserId>,
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub account: Option<AccountId>,
    pub equipment: Option<EquipmentId>,
    pub status: Option<String>,
    /// Only orders not yet delivered or cancelled.
    pub open_only: bool,
}

/// A toner level a device reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelPoint {
    pub at: i64,
    pub percent: i64,
}

fn stored(row: &AnyRow, models: &BTreeMap<i64, Vec<ModelName>>) -> Result<Stored, DbError> {
    let id: i64 = row.try_get("id")?;
    let colour: Option<String> = row.try_get("color")?;
    Ok(Stored {
        id: SupplyItemId(id),
        item: CatalogueItem {
            sku: Sku::parse(&row.try_get::<String, _>("sku")?)?,
            oem_part_number: row.try_get("oem_part_number")?,
            description: row.try_get("description")?,
            kind: parse_kind(&row.try_get::<String, _>("kind")?)?,
            colour: colour.as_deref().map(parse_colour).transpose()?,
            yield_pages: row.try_get("yield_pages")?,
            price_cents: row.try_get("price_cents")?,
            max_order_qty: row.try_get("max_order_qty")?,
            active: row.try_get::<i64, _>("active")? == 1,
            models: models.get(&id).cloned().unwrap_or_default(),
        },
    })
}

macro_rules! item_select {
    () => {
        "SELECT id, sku, oem_part_number, description, kind, color, yield_pages, price_cents, \
           max_order_qty, active FROM supply_items WHERE tenant_id = $1 "
    };
}

macro_rules! order_select {
    () => {
        "SELECT o.id, o.number, o.account_id, a.name AS account, o.site_id, o.ship_name, \
           o.ship_line1, o.ship_line2, o.ship_city, o.ship_region, o.ship_postal_code, \
           o.ship_country, o.po_number, o.status, o.source, o.total_cents, o.carrier, \
           o.tracking_number, o.created_by, o.created_at, o.updated_at \
         FROM orders o JOIN accounts a ON a.tenant_id = o.tenant_id AND a.id = o.account_id "
    };
}

fn order_view(row: &AnyRow) -> Result<OrderView, DbError> {
    Ok(OrderView {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        account_id: row.try_get("account_id")?,
        account: row.try_get("account")?,
        site_id: row.try_get("site_id")?,
        ship_to: ShipAddress {
            name: row.try_get("ship_name")?,
            line1: row.try_get("ship_line1")?,
            line2: row.try_get("ship_line2")?,
            city: row.try_get("ship_city")?,
            region: row.try_get("ship_region")?,
            postal_code: row.try_get("ship_postal_code")?,
            country: row.try_get("ship_country")?,
        },
        po_number: row.try_get("po_number")?,
        status: row.try_get("status")?,
        source: row.try_get("source")?,
        total_cents: row.try_get("total_cents")?,
        carrier: row.try_get("carrier")?,
        tracking_number: row.try_get("tracking_number")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl TenantTx {
    /// The models each item fits, by item.
    async fn item_models(
        &mut self,
        item: Option<SupplyItemId>,
    ) -> Result<BTreeMap<i64, Vec<ModelName>>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT sm.supply_item_id, m.make, m.model FROM supply_item_models sm \
             JOIN device_models m ON m.tenant_id = sm.tenant_id AND m.id = sm.model_id \
             WHERE sm.tenant_id = $1 AND ($2 = 0 OR sm.supply_item_id = $2) \
             ORDER BY m.make, m.model",
        )
        .bind(t)
        .bind(item.map_or(0, |i| i.0))
        .fetch_all(self.conn())
        .await?;
        let mut out: BTreeMap<i64, Vec<ModelName>> = BTreeMap::new();
        for r in rows {
            out.entry(r.try_get("supply_item_id")?)
                .or_default()
                .push(ModelName {
                    make: r.try_get("make")?,
                    model: r.try_get("model")?,
                });
        }
        Ok(out)
    }

    /// Adds an item or replaces the one with its SKU (models included); returns its id.
    pub async fn put_supply_item(&mut self, item: &CatalogueItem) -> Result<SupplyItemId, DbError> {
        let t = self.t();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO supply_items (tenant_id, sku, oem_part_number, description, kind, color, \
               yield_pages, price_cents, max_order_qty, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tenant_id, sku) DO UPDATE SET oem_part_number = excluded.oem_part_number, \
               description = excluded.description, kind = excluded.kind, color = excluded.color, \
               yield_pages = excluded.yield_pages, price_cents = excluded.price_cents, \
               max_order_qty = excluded.max_order_qty, active = excluded.active \
             RETURNING id",
        )
        .bind(t)
        .bind(item.sku.as_str())
        .bind(item.oem_part_number.as_deref())
        .bind(&item.description)
        .bind(item.kind)
        .bind(item.colour)
        .bind(item.yield_pages)
        .bind(item.price_cents)
        .bind(item.max_order_qty)
        .bind(i64::from(item.active))
        .fetch_one(self.conn())
        .await?;
        sqlx::query("DELETE FROM supply_item_models WHERE tenant_id = $1 AND supply_item_id = $2")
            .bind(t)
            .bind(id)
            .execute(self.conn())
            .await?;
        for m in &item.models {
            let model = self.device_model(m).await?;
            sqlx::query(
                "INSERT INTO supply_item_models (tenant_id, supply_item_id, model_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(t)
            .bind(id)
            .bind(model)
            .execute(self.conn())
            .await?;
        }
        Ok(SupplyItemId(id))
    }

    /// The id of a device model, added when the catalogue names one first; a model already
    /// known under another spelling ("RICOH mp c3004") is the same model.
    async fn device_model(&mut self, m: &ModelName) -> Result<i64, DbError> {
        let t = self.t();
        let known: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, make, model FROM device_models WHERE tenant_id = $1 AND lower(make) = $2",
        )
        .bind(t)
        .bind(super::key(&m.make))
        .fetch_all(self.conn())
        .await?;
        if let Some((id, ..)) = known.iter().find(|(_, make, model)| m.matches(make, model)) {
            return Ok(*id);
        }
        Ok(sqlx::query_scalar(
            "INSERT INTO device_models (tenant_id, make, model) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(t)
        .bind(&m.make)
        .bind(&m.model)
        .fetch_one(self.conn())
        .await?)
    }

    /// The whole catalogue, by SKU.
    pub async fn catalogue(&mut self) -> Result<Vec<Stored>, DbError> {
        let t = self.t();
        let models = self.item_models(None).await?;
        let rows = sqlx::query(concat!(item_select!(), "ORDER BY sku"))
            .bind(t)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(|r| stored(r, &models)).collect()
    }

    pub async fn supply_item_by_sku(&mut self, sku: &Sku) -> Result<Stored, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(item_select!(), "AND sku = $2"))
            .bind(t)
            .bind(sku.as_str())
            .fetch_optional(self.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        let id = SupplyItemId(row.try_get("id")?);
        let models = self.item_models(Some(id)).await?;
        stored(&row, &models)
    }

    /// The active items that fit a device of this make and model.
    pub async fn items_fitting(&mut self, make: &str, model: &str) -> Result<Vec<Stored>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT sm.supply_item_id FROM supply_item_models sm \
             JOIN device_models m ON m.tenant_id = sm.tenant_id AND m.id = sm.model_id \
             WHERE sm.tenant_id = $1 AND lower(m.make) = $2",
        )
        .bind(t)
        .bind(super::key(make))
        .fetch_all(self.conn())
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let models = self.item_models(None).await?;
        let rows = sqlx::query(concat!(item_select!(), "AND active = 1 ORDER BY sku"))
            .bind(t)
            .fetch_all(self.conn())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let s = stored(r, &models)?;
            if ids.contains(&s.id.0) && super::fits(&s.item.models, make, model) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// What a contract says about supplies; `None` for a contract of another tenant.
    pub async fn supply_cover(
        &mut self,
        contract: ContractId,
    ) -> Result<Option<SupplyCover>, DbError> {
        let t = self.t();
        let Some(row) = sqlx::query(
            "SELECT status, starts_on, ends_on, covers_supplies FROM contracts \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(contract.0)
        .fetch_optional(self.conn())
        .await?
        else {
            return Ok(None);
        };
        let date = |s: String| {
            s.parse::<chrono::NaiveDate>()
                .map_err(|_| DbError::Refused(format!("contract date '{s}'")))
        };
        let items: Vec<i64> = sqlx::query_scalar(
            "SELECT supply_item_id FROM contract_covered_supplies WHERE tenant_id = $1 AND contract_id = $2",
        )
        .bind(t)
        .bind(contract.0)
        .fetch_all(self.conn())
        .await?;
        Ok(Some(SupplyCover {
            status: row.try_get("status")?,
            starts_on: date(row.try_get("starts_on")?)?,
            ends_on: row
                .try_get::<Option<String>, _>("ends_on")?
                .map(date)
                .transpose()?,
            covers_consumables: row.try_get::<i64, _>("covers_supplies")? == 1,
            items: items.into_iter().map(SupplyItemId).collect(),
        }))
    }

    pub async fn insert_order(&mut self, o: &NewOrder<'_>) -> Result<OrderId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let number = self.next_number("order").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (tenant_id, number, account_id, site_id, ship_name, ship_line1, \
               ship_line2, ship_city, ship_region, ship_postal_code, ship_country, po_number, status, \
               source, total_cents, idempotency_key, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
             RETURNING id",
        )
        .bind(t)
        .bind(number)
        .bind(o.account.0)
        .bind(o.site.map(|s| s.0))
        .bind(&o.ship_to.name)
        .bind(&o.ship_to.line1)
        .bind(o.ship_to.line2.as_deref())
        .bind(&o.ship_to.city)
        .bind(o.ship_to.region.as_deref())
        .bind(&o.ship_to.postal_code)
        .bind(&o.ship_to.country)
        .bind(o.po_number)
        .bind(o.status)
        .bind(o.source)
        .bind(o.total_cents)
        .bind(o.idempotency_key)
        .bind(o.created_by.map(|u| u.0))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(OrderId(id))
    }

    pub async fn insert_order_line(
        &mut self,
        order: OrderId,
        line: &OrderLine,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "INSERT INTO order_lines (tenant_id, order_id, supply_item_id, equipment_id, color, quantity, \
               unit_price_cents, covered, line_total_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(t)
        .bind(order.0)
        .bind(line.supply_item_id)
        .bind(line.equipment_id)
        .bind(line.colour.as_deref())
        .bind(line.quantity)
        .bind(line.unit_price_cents)
        .bind(i64::from(line.covered))
        .bind(line.line_total_cents)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn add_order_event(
        &mut self,
        order: OrderId,
        from: Option<&str>,
        to: &str,
        note: Option<&str>,
        actor: Option<UserId>,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO order_events (tenant_id, order_id, from_status, to_status, note, actor_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t)
        .bind(order.0)
        .bind(from)
        .bind(to)
        .bind(note)
        .bind(actor.map(|a| a.0))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn order(&mut self, id: OrderId) -> Result<OrderView, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            order_select!(),
            "WHERE o.tenant_id = $1 AND o.id = $2"
        ))
        .bind(t)
        .bind(id.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        order_view(&row)
    }

    /// The order a checkout with this key made, if one did.
    pub async fn order_by_key(&mut self, key: &str) -> Result<Option<OrderView>, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(
            order_select!(),
            "WHERE o.tenant_id = $1 AND o.idempotency_key = $2"
        ))
        .bind(t)
        .bind(key)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(order_view).transpose()
    }

    /// Newest first, `before` an order id, at most `limit`.
    pub async fn orders(
        &mut self,
        f: &OrderFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrderView>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            order_select!(),
            "WHERE o.tenant_id = $1 AND ($2 = 0 OR o.account_id = $2) \
               AND ($3 = '' OR o.status = $3) \
               AND ($4 = 0 OR o.status NOT IN ('delivered', 'cancelled')) \
               AND ($5 = 0 OR EXISTS (SELECT 1 FROM order_lines l WHERE l.tenant_id = o.tenant_id \
                    AND l.order_id = o.id AND l.equipment_id = $5)) \
               AND o.id < $6 \
             ORDER BY o.id DESC LIMIT $7"
        ))
        .bind(t)
        .bind(f.account.map_or(0, |a| a.0))
        .bind(f.status.as_deref().unwrap_or(""))
        .bind(i64::from(f.open_only))
        .bind(f.equipment.map_or(0, |e| e.0))
        .bind(before.unwrap_or(i64::MAX))
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(order_view).collect()
    }

    pub async fn order_lines(&mut self, id: OrderId) -> Result<Vec<OrderLine>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT l.supply_item_id, i.sku, i.description, l.equipment_id, e.make, e.model, e.serial, \
               l.color, l.quantity, l.unit_price_cents, l.covered, l.line_total_cents \
             FROM order_lines l \
             JOIN supply_items i ON i.tenant_id = l.tenant_id AND i.id = l.supply_item_id \
             LEFT JOIN equipment e ON e.tenant_id = l.tenant_id AND e.id = l.equipment_id \
             WHERE l.tenant_id = $1 AND l.order_id = $2 ORDER BY l.id",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let device = match (
                    r.try_get::<Option<String>, _>("make")?,
                    r.try_get::<Option<String>, _>("model")?,
                    r.try_get::<Option<String>, _>("serial")?,
                ) {
                    (Some(make), Some(model), Some(serial)) => {
                        Some(format!("{make} {model} ({serial})"))
                    }
                    _ => None,
                };
                Ok(OrderLine {
                    supply_item_id: r.try_get("supply_item_id")?,
                    sku: r.try_get("sku")?,
                    description: r.try_get("description")?,
                    equipment_id: r.try_get("equipment_id")?,
                    device,
                    colour: r.try_get("color")?,
                    quantity: r.try_get("quantity")?,
                    unit_price_cents: r.try_get("unit_price_cents")?,
                    covered: r.try_get::<i64, _>("covered")? == 1,
                    line_total_cents: r.try_get("line_total_cents")?,
                })
            })
            .collect()
    }

    pub async fn order_events(&mut self, id: OrderId) -> Result<Vec<OrderEvent>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT ev.from_status, ev.to_status, ev.note, u.display_name AS actor, ev.created_at \
             FROM order_events ev LEFT JOIN users u ON u.tenant_id = ev.tenant_id AND u.id = ev.actor_id \
             WHERE ev.tenant_id = $1 AND ev.order_id = $2 ORDER BY ev.id",
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrderEvent {
                    from_status: r.try_get("from_status")?,
                    to_status: r.try_get("to_status")?,
                    note: r.try_get("note")?,
                    actor: r.try_get("actor")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Moves an order from `from` to `to` (with carrier and tracking when shipping); `false`
    /// when someone else moved it first.
    pub async fn move_order(
        &mut self,
        id: OrderId,
        from: &str,
        to: &str,
        shipping: Option<(&str, &str)>,
    ) -> Result<bool, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done = sqlx::query(
            "UPDATE orders SET status = $3, updated_at = $4, carrier = COALESCE($5, carrier), \
               tracking_number = COALESCE($6, tracking_number) \
             WHERE tenant_id = $1 AND id = $2 AND status = $7",
        )
        .bind(t)
        .bind(id.0)
        .bind(to)
        .bind(now)
        .bind(shipping.map(|s| s.0))
        .bind(shipping.map(|s| s.1))
        .bind(from)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The colours with an order for this device still on its way (not delivered or cancelled).
    pub async fn colours_on_order(
        &mut self,
        equipment: EquipmentId,
    ) -> Result<Vec<String>, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT l.color FROM order_lines l \
             JOIN orders o ON o.tenant_id = l.tenant_id AND o.id = l.order_id \
             WHERE l.tenant_id = $1 AND l.equipment_id = $2 AND l.color IS NOT NULL \
               AND o.status NOT IN ('delivered', 'cancelled')",
        )
        .bind(t)
        .bind(equipment.0)
        .fetch_all(self.conn())
        .await?)
    }

    /// When a cartridge of each colour was last delivered for this device.
    pub async fn last_deliveries(
        &mut self,
        equipment: EquipmentId,
    ) -> Result<BTreeMap<String, i64>, DbError> {
        let t = self.t();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT l.color, MAX(ev.created_at) FROM order_lines l \
             JOIN order_events ev ON ev.tenant_id = l.tenant_id AND ev.order_id = l.order_id \
             WHERE l.tenant_id = $1 AND l.equipment_id = $2 AND l.color IS NOT NULL \
               AND ev.to_status = 'delivered' GROUP BY l.color",
        )
        .bind(t)
        .bind(equipment.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Each toner colour's reported levels since `since`, oldest first.
    pub async fn toner_history(
        &mut self,
        equipment: EquipmentId,
        since: i64,
    ) -> Result<BTreeMap<String, Vec<LevelPoint>>, DbError> {
        let t = self.t();
        let rows: Vec<(Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT color, percent, observed_at FROM supply_levels \
             WHERE tenant_id = $1 AND equipment_id = $2 AND lower(kind) = 'toner' \
               AND percent IS NOT NULL AND observed_at >= $3 ORDER BY observed_at, id",
        )
        .bind(t)
        .bind(equipment.0)
        .bind(since)
        .fetch_all(self.conn())
        .await?;
        let mut out: BTreeMap<String, Vec<LevelPoint>> = BTreeMap::new();
        for (colour, percent, at) in rows {
            let colour = colour.map_or_else(|| "black".to_owned(), |c| super::key(&c));
            out.entry(colour)
                .or_default()
                .push(LevelPoint { at, percent });
        }
        Ok(out)
    }

    /// The active devices that reported a toner level since `since`.
    pub async fn devices_reporting_toner(
        &mut self,
        since: i64,
    ) -> Result<Vec<EquipmentId>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT s.equipment_id FROM supply_levels s \
             JOIN equipment e ON e.tenant_id = s.tenant_id AND e.id = s.equipment_id \
             WHERE s.tenant_id = $1 AND s.observed_at >= $2 AND lower(s.kind) = 'toner' \
               AND e.status = 'active' ORDER BY s.equipment_id",
        )
        .bind(t)
        .bind(since)
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(EquipmentId).collect())
    }

    /// What is in a person's cart: (device, SKU, quantity), in the order added, and the
    /// account it is for.
    pub async fn cart(
        &mut self,
        user: UserId,
    ) -> Result<(Option<AccountId>, Vec<(EquipmentId, String, i64)>), DbError> {
        let t = self.t();
        let account: Option<i64> = sqlx::query_scalar(
            "SELECT account_id FROM carts WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(t)
        .bind(user.0)
        .fetch_optional(self.conn())
        .await?;
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT l.equipment_id, i.sku, l.quantity FROM cart_lines l \
             JOIN carts c ON c.tenant_id = l.tenant_id AND c.id = l.cart_id \
             JOIN supply_items i ON i.tenant_id = l.tenant_id AND i.id = l.supply_item_id \
             WHERE l.tenant_id = $1 AND c.user_id = $2 ORDER BY l.id",
        )
        .bind(t)
        .bind(user.0)
        .fetch_all(self.conn())
        .await?;
        Ok((
            account.map(AccountId),
            rows.into_iter()
                .map(|(e, sku, q)| (EquipmentId(e), sku, q))
                .collect(),
        ))
    }

    /// Sets how many of an item for a device are in a person's cart (0 takes it out); the
    /// cart is for one account.
    pub async fn set_cart_line(
        &mut self,
        user: UserId,
        account: AccountId,
        equipment: EquipmentId,
        item: SupplyItemId,
        quantity: i64,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let cart: i64 = sqlx::query_scalar(
            "INSERT INTO carts (tenant_id, account_id, user_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(t)
        .bind(account.0)
        .bind(user.0)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        if quantity <= 0 {
            sqlx::query(
                "DELETE FROM cart_lines WHERE tenant_id = $1 AND cart_id = $2 AND supply_item_id = $3 \
                   AND equipment_id = $4",
            )
            .bind(t)
            .bind(cart)
            .bind(item.0)
            .bind(equipment.0)
            .execute(self.conn())
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO cart_lines (tenant_id, cart_id, supply_item_id, equipment_id, quantity) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, cart_id, supply_item_id, equipment_id) \
                 DO UPDATE SET quantity = excluded.quantity",
            )
            .bind(t)
            .bind(cart)
            .bind(item.0)
            .bind(equipment.0)
            .bind(quantity)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Empties a person's cart (after checkout, or when they say so).
    pub async fn clear_cart(&mut self, user: UserId) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM carts WHERE tenant_id = $1 AND user_id = $2")
            .bind(t)
            .bind(user.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
