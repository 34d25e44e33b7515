//! A contract's rates in the database; every statement names the tenant.

use super::arithmetic::Rate;
use crate::db::{DbError, TenantTx};
use crate::ids::ContractId;

impl TenantTx {
    /// Sets the price of one counter on a contract (replacing the one it had).
    pub async fn set_rate(&mut self, contract: ContractId, rate: &Rate) -> Result<(), DbError> {
        if rate.included_pages < 0 || rate.overage_millicents < 0 {
            return Err(DbError::Refused("a rate is never negative".into()));
        }
        let t = self.t();
        sqlx::query(
            "INSERT INTO contract_rates (tenant_id, contract_id, meter_kind, included_pages, overage_millicents) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, contract_id, meter_kind) DO UPDATE SET \
               included_pages = excluded.included_pages, overage_millicents = excluded.overage_millicents",
        )
        .bind(t)
        .bind(contract.0)
        .bind(&rate.meter_kind)
        .bind(rate.included_pages)
        .bind(rate.overage_millicents)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A contract's rates, by counter.
    pub async fn rates(&mut self, contract: ContractId) -> Result<Vec<Rate>, DbError> {
        let t = self.t();
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT meter_kind, included_pages, overage_millicents FROM contract_rates \
             WHERE tenant_id = $1 AND contract_id = $2 ORDER BY meter_kind",
        )
        .bind(t)
        .bind(contract.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(meter_kind, included_pages, overage_millicents)| Rate {
                meter_kind,
                included_pages,
                overage_millicents,
            })
            .collect())
    }
}
