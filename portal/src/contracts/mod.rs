//! Contracts: what a customer's devices are under. For now what ordering needs — a contract's
//! dates and status, and which supplies it covers — and a way to put devices on one; the
//! billing issue adds rates, cycles and invoices.

pub mod http;

use crate::db::{DbError, TenantTx};
use crate::ids::{AccountId, ContractId, EquipmentId};
use crate::supplies::SupplyItemId;
use crate::tenants::parse_name;
use chrono::NaiveDate;
use ingest::domain::ParseError;

/// A new contract, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContract {
    pub account: AccountId,
    pub number: String,
    /// per_device or pooled
    pub kind: &'static str,
    /// monthly or quarterly
    pub billing_cycle: &'static str,
    pub billing_day: u8,
    pub base_charge_cents: i64,
    /// Covers every consumable (toner, drum, waste) that fits its devices.
    pub covers_supplies: bool,
    pub currency: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

impl NewContract {
    /// A monthly per-device contract from `starts_on`, billed on the 1st, no base charge.
    pub fn new(
        account: AccountId,
        number: &str,
        starts_on: NaiveDate,
    ) -> Result<NewContract, ParseError> {
        Ok(NewContract {
            account,
            number: parse_name("contract number", number)?,
            kind: "per_device",
            billing_cycle: "monthly",
            billing_day: 1,
            base_charge_cents: 0,
            covers_supplies: false,
            currency: "USD".into(),
            starts_on,
            ends_on: None,
        })
    }

    pub fn covering_supplies(mut self) -> Self {
        self.covers_supplies = true;
        self
    }

    pub fn ending(mut self, on: NaiveDate) -> Result<Self, ParseError> {
        if on < self.starts_on {
            return Err(ParseError::Invalid {
                what: "end date",
                value: on.to_string(),
                why: "a contract cannot end before it starts",
            });
        }
        self.ends_on = Some(on);
        Ok(self)
    }
}

impl TenantTx {
    pub async fn create_contract(&mut self, c: &NewContract) -> Result<ContractId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO contracts (tenant_id, account_id, number, kind, billing_cycle, billing_day, \
               base_charge_cents, covers_supplies, currency, starts_on, ends_on, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12) RETURNING id",
        )
        .bind(t)
        .bind(c.account.0)
        .bind(&c.number)
        .bind(c.kind)
        .bind(c.billing_cycle)
        .bind(i64::from(c.billing_day))
        .bind(c.base_charge_cents)
        .bind(i64::from(c.covers_supplies))
        .bind(&c.currency)
        .bind(c.starts_on.to_string())
        .bind(c.ends_on.map(|d| d.to_string()))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(ContractId(id))
    }

    /// Names a catalogue item the contract covers (whatever its kind).
    pub async fn cover_supply(
        &mut self,
        contract: ContractId,
        item: SupplyItemId,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "INSERT INTO contract_covered_supplies (tenant_id, contract_id, supply_item_id) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(contract.0)
        .bind(item.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Puts a device on a contract of its own account (or takes it off one).
    pub async fn put_on_contract(
        &mut self,
        equipment: EquipmentId,
        contract: Option<ContractId>,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done = sqlx::query(
            "UPDATE equipment SET contract_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 \
               AND ($3 IS NULL OR EXISTS (SELECT 1 FROM contracts c WHERE c.tenant_id = equipment.tenant_id \
                    AND c.id = $3 AND c.account_id = equipment.account_id))",
        )
        .bind(t)
        .bind(equipment.0)
        .bind(contract.map(|c| c.0))
        .bind(now)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(DbError::Refused(
                "the contract is not one of the device's account".into(),
            ))
        }
    }
}

/// A contract as the API takes it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    pub account: i64,
    pub number: String,
    /// per_device (default) or pooled
    pub kind: Option<String>,
    /// monthly (default) or quarterly
    pub billing_cycle: Option<String>,
    /// 1 to 28 (default 1)
    pub billing_day: Option<u8>,
    #[serde(default)]
    pub base_charge_cents: i64,
    /// Covers every consumable (toner, drum, waste) that fits its devices.
    #[serde(default)]
    pub covers_supplies: bool,
    pub currency: Option<String>,
    /// `YYYY-MM-DD`
    pub starts_on: String,
    pub ends_on: Option<String>,
    /// Per counter: included pages and the overage price in thousandths of a cent.
    #[serde(default)]
    pub rates: Vec<RateBody>,
    /// Catalogue items it covers whatever their kind.
    #[serde(default)]
    pub covered_skus: Vec<String>,
    /// The account's devices it is for.
    #[serde(default)]
    pub equipment: Vec<i64>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    pub meter_kind: String,
    pub included_pages: i64,
    pub overage_millicents: i64,
}

/// A contract as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ContractView {
    pub id: i64,
    pub account_id: i64,
    pub number: String,
    pub pooled: bool,
    pub quarterly: bool,
    pub billing_day: u32,
    pub base_charge_cents: i64,
    pub currency: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub rates: Vec<(String, i64, i64)>,
    pub equipment: Vec<i64>,
}

fn invalid(what: &'static str, value: &str, why: &'static str) -> ParseError {
    ParseError::Invalid {
        what,
        value: value.escape_debug().to_string(),
        why,
    }
}

impl ContractBody {
    pub fn parse(&self) -> Result<NewContract, ParseError> {
        let day = |what, s: &str| -> Result<NaiveDate, ParseError> {
            s.trim()
                .parse()
                .map_err(|_| invalid(what, s, "write it as 2026-03-01"))
        };
        let mut c = NewContract::new(
            AccountId(self.account),
            &self.number,
            day("start date", &self.starts_on)?,
        )?;
        c.kind = match self.kind.as_deref().unwrap_or("per_device") {
            "per_device" => "per_device",
            "pooled" => "pooled",
            other => return Err(invalid("kind", other, "per_device or pooled")),
        };
        c.billing_cycle = match self.billing_cycle.as_deref().unwrap_or("monthly") {
            "monthly" => "monthly",
            "quarterly" => "quarterly",
            other => return Err(invalid("billing cycle", other, "monthly or quarterly")),
        };
        c.billing_day = match self.billing_day.unwrap_or(1) {
            d @ 1..=28 => d,
            d => return Err(invalid("billing day", &d.to_string(), "1 to 28")),
        };
        if !(0..=100_000_000).contains(&self.base_charge_cents) {
            return Err(invalid(
                "base charge",
                &self.base_charge_cents.to_string(),
                "0 to 1,000,000.00",
            ));
        }
        c.base_charge_cents = self.base_charge_cents;
        c.covers_supplies = self.covers_supplies;
        if let Some(cur) = &self.currency {
            let cur = cur.trim().to_ascii_uppercase();
            if cur.len() != 3 || !cur.chars().all(|ch| ch.is_ascii_uppercase()) {
                return Err(invalid(
                    "currency",
                    &cur,
                    "a three-letter ISO code, e.g. USD, EUR",
                ));
            }
            c.currency = cur;
        }
        if let Some(end) = &self.ends_on {
            c = c.ending(day("end date", end)?)?;
        }
        for r in &self.rates {
            if r.included_pages < 0 || !(0..=10_000_000).contains(&r.overage_millicents) {
                return Err(invalid(
                    "rate",
                    &r.meter_kind,
                    "included pages and the price are never negative",
                ));
            }
            ingest::domain::MeterKind::parse(&r.meter_kind)?;
        }
        Ok(c)
    }
}

/// Creates a contract with its rates, covered items and devices (dealer staff), all or nothing.
pub async fn create(
    db: &crate::db::TenantDb,
    p: &crate::auth::Principal,
    body: &ContractBody,
) -> Result<ContractView, crate::http::ApiError> {
    use crate::http::ApiError;
    p.require(crate::auth::Permission::InvoicesManage)?;
    let new = body.parse()?;
    let mut tx = db.begin().await?;
    tx.account(new.account)
        .await
        .map_err(|_| ApiError::Invalid("there is no such account".into()))?;
    let id = tx.create_contract(&new).await?;
    for r in &body.rates {
        tx.set_rate(
            id,
            &crate::billing::arithmetic::Rate {
                meter_kind: r.meter_kind.clone(),
                included_pages: r.included_pages,
                overage_millicents: r.overage_millicents,
            },
        )
        .await?;
    }
    for sku in &body.covered_skus {
        let sku = crate::supplies::Sku::parse(sku)?;
        let item = tx
            .supply_item_by_sku(&sku)
            .await
            .map_err(|_| ApiError::Invalid(format!("there is no item {sku} in the catalogue")))?;
        tx.cover_supply(id, item.id).await?;
    }
    for e in &body.equipment {
        tx.put_on_contract(EquipmentId(*e), Some(id))
            .await
            .map_err(|e| match e {
                DbError::Refused(_) | DbError::NotFound => {
                    ApiError::Invalid("a contract's devices are devices of its account".into())
                }
                other => other.into(),
            })?;
    }
    tx.audit(
        &p.actor(),
        "contract.created",
        ("contract", Some(id.0.to_string())),
        Some(new.account),
        serde_json::json!({ "number": new.number, "kind": new.kind, "rates": body.rates.len(),
            "devices": body.equipment.len() }),
    )
    .await?;
    let view = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(view)
}

async fn view(tx: &mut TenantTx, id: ContractId) -> Result<ContractView, DbError> {
    let c = tx.contract_terms(id).await?;
    let rates = tx.rates(id).await?;
    let equipment = tx.devices_on_contract(id).await?;
    Ok(ContractView {
        id: id.0,
        account_id: c.account.0,
        number: c.number,
        pooled: c.pooled,
        quarterly: c.quarterly,
        billing_day: c.billing_day,
        base_charge_cents: c.base_charge_cents,
        currency: c.currency,
        starts_on: c.starts_on.to_string(),
        ends_on: c.ends_on.map(|d| d.to_string()),
        rates: rates
            .into_iter()
            .map(|r| (r.meter_kind, r.included_pages, r.overage_millicents))
            .collect(),
        equipment: equipment.into_iter().map(|(e, _)| e.0).collect(),
    })
}

pub async fn show(
    db: &crate::db::TenantDb,
    p: &crate::auth::Principal,
    id: ContractId,
) -> Result<ContractView, crate::http::ApiError> {
    p.require(crate::auth::Permission::InvoicesManage)?;
    Ok(db.read(async |tx| view(tx, id).await).await?)
}
