//! Contracts: what a customer's devices are under. For now what ordering needs — a contract's
//! dates and status, and which supplies it covers — and a way to put devices on one; the
//! billing issue adds rates, cycles and invoices.

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
