//! A contract's rates in the database; every statement names the tenant.

use super::arithmetic::{Line, Rate, Read};
use crate::db::{DbError, TenantTx};
use crate::ids::{AccountId, ContractId, EquipmentId};
use chrono::NaiveDate;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

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

/// A contract as billing reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractTerms {
    pub id: ContractId,
    pub account: AccountId,
    pub number: String,
    pub pooled: bool,
    pub quarterly: bool,
    pub billing_day: u32,
    pub base_charge_cents: i64,
    pub currency: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub status: String,
}

/// A counter value at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub read: Read,
    pub at: i64,
}

/// Where the last issued invoice left a counter, and the overage it charged there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billed {
    pub end: Read,
    pub overage: i64,
}

/// An invoice as people see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    pub id: i64,
    pub number: i64,
    pub account_id: i64,
    pub account: String,
    pub contract_id: Option<i64>,
    /// First and last day of the period (inclusive), `YYYY-MM-DD`.
    pub period_start: String,
    pub period_end: String,
    /// draft, issued, partially_paid, paid or void
    pub status: String,
    pub currency: String,
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub amount_paid_cents: i64,
    pub issued_at: Option<i64>,
    pub due_at: Option<i64>,
}

/// One line of an invoice, with the readings it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceLine {
    /// base, usage, overage, true_up, supply or adjustment
    pub kind: String,
    pub description: String,
    pub equipment_id: Option<i64>,
    pub meter_kind: Option<String>,
    pub start_reading_id: Option<i64>,
    pub end_reading_id: Option<i64>,
    pub start_value: Option<i64>,
    pub end_value: Option<i64>,
    pub quantity: i64,
    pub unit_price_millicents: i64,
    pub amount_cents: i64,
    /// The end value is an estimate; the next invoice trues it up.
    pub estimated: bool,
}

fn day(s: &str) -> Result<NaiveDate, DbError> {
    s.parse()
        .map_err(|_| DbError::Refused(format!("a stored date '{s}' is not a date")))
}

fn terms(row: &AnyRow) -> Result<ContractTerms, DbError> {
    Ok(ContractTerms {
        id: ContractId(row.try_get("id")?),
        account: AccountId(row.try_get("account_id")?),
        number: row.try_get("number")?,
        pooled: row.try_get::<String, _>("kind")? == "pooled",
        quarterly: row.try_get::<String, _>("billing_cycle")? == "quarterly",
        billing_day: u32::try_from(row.try_get::<i64, _>("billing_day")?).unwrap_or(1),
        base_charge_cents: row.try_get("base_charge_cents")?,
        currency: row.try_get("currency")?,
        starts_on: day(&row.try_get::<String, _>("starts_on")?)?,
        ends_on: row
            .try_get::<Option<String>, _>("ends_on")?
            .as_deref()
            .map(day)
            .transpose()?,
        status: row.try_get("status")?,
    })
}

fn at(row: &AnyRow) -> Result<At, DbError> {
    Ok(At {
        read: Read {
            id: row.try_get("id")?,
            segment: row.try_get("segment")?,
            value: row.try_get("value")?,
            estimated: false,
        },
        at: row.try_get("read_at")?,
    })
}

macro_rules! contract_select {
    () => {
        "SELECT id, account_id, number, kind, billing_cycle, billing_day, base_charge_cents, currency, \
           starts_on, ends_on, status FROM contracts WHERE tenant_id = $1 "
    };
}

macro_rules! invoice_select {
    () => {
        "SELECT i.id, i.number, i.account_id, a.name AS account, i.contract_id, i.period_start, \
           i.period_end, i.status, i.currency, i.subtotal_cents, i.tax_cents, i.total_cents, \
           i.amount_paid_cents, i.issued_at, i.due_at \
         FROM invoices i JOIN accounts a ON a.tenant_id = i.tenant_id AND a.id = i.account_id \
         WHERE i.tenant_id = $1 "
    };
}

fn invoice_view(r: &AnyRow) -> Result<InvoiceView, DbError> {
    Ok(InvoiceView {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        account_id: r.try_get("account_id")?,
        account: r.try_get("account")?,
        contract_id: r.try_get("contract_id")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        status: r.try_get("status")?,
        currency: r.try_get("currency")?,
        subtotal_cents: r.try_get("subtotal_cents")?,
        tax_cents: r.try_get("tax_cents")?,
        total_cents: r.try_get("total_cents")?,
        amount_paid_cents: r.try_get("amount_paid_cents")?,
        issued_at: r.try_get("issued_at")?,
        due_at: r.try_get("due_at")?,
    })
}

impl TenantTx {
    pub async fn contract_terms(&mut self, id: ContractId) -> Result<ContractTerms, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(contract_select!(), "AND id = $2"))
            .bind(t)
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        terms(&row)
    }

    pub async fn active_contracts(&mut self) -> Result<Vec<ContractTerms>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            contract_select!(),
            "AND status = 'active' ORDER BY id"
        ))
        .bind(t)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(terms).collect()
    }

    /// The active devices on a contract: id and "Make Model (serial)".
    pub async fn devices_on_contract(
        &mut self,
        c: ContractId,
    ) -> Result<Vec<(EquipmentId, String)>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT id, make, model, serial FROM equipment \
             WHERE tenant_id = $1 AND contract_id = $2 AND status = 'active' ORDER BY id",
        )
        .bind(t)
        .bind(c.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, make, model, serial)| {
                (EquipmentId(id), format!("{make} {model} ({serial})"))
            })
            .collect())
    }

    /// Where the last issued (not void) invoice left this counter.
    pub async fn last_billed(
        &mut self,
        e: EquipmentId,
        kind: &str,
    ) -> Result<Option<Billed>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT l.invoice_id, l.end_reading_id, l.end_segment, l.end_value, l.estimated \
             FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id \
             WHERE l.tenant_id = $1 AND l.equipment_id = $2 AND l.meter_kind = $3 AND l.kind = 'usage' \
               AND l.end_value IS NOT NULL AND i.status <> 'void' \
             ORDER BY i.period_end DESC, l.id DESC LIMIT 1",
        )
        .bind(t)
        .bind(e.0)
        .bind(kind)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let invoice: i64 = row.try_get("invoice_id")?;
        let overage: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 \
               AND equipment_id = $3 AND meter_kind = $4 AND kind = 'overage'",
        )
        .bind(t)
        .bind(invoice)
        .bind(e.0)
        .bind(kind)
        .fetch_one(self.conn())
        .await?;
        Ok(Some(Billed {
            end: Read {
                id: row
                    .try_get::<Option<i64>, _>("end_reading_id")?
                    .unwrap_or(0),
                segment: row.try_get::<Option<i64>, _>("end_segment")?.unwrap_or(0),
                value: row.try_get::<Option<i64>, _>("end_value")?.unwrap_or(0),
                estimated: row.try_get::<i64, _>("estimated")? == 1,
            },
            overage,
        }))
    }

    /// The last accepted reading of a counter at or before `at`.
    pub async fn reading_at(
        &mut self,
        e: EquipmentId,
        kind: &str,
        at_ms: i64,
    ) -> Result<Option<At>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, segment, value, read_at FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
               AND meter_kind = $3 AND status = 'accepted' AND read_at <= $4 \
             ORDER BY read_at DESC, id DESC LIMIT 1",
        )
        .bind(t)
        .bind(e.0)
        .bind(kind)
        .bind(at_ms)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(at).transpose()
    }

    /// The first accepted reading of a counter in `[from, to)`.
    pub async fn first_reading(
        &mut self,
        e: EquipmentId,
        kind: &str,
        from: i64,
        to: i64,
    ) -> Result<Option<At>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, segment, value, read_at FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
               AND meter_kind = $3 AND status = 'accepted' AND read_at >= $4 AND read_at < $5 \
             ORDER BY read_at, id LIMIT 1",
        )
        .bind(t)
        .bind(e.0)
        .bind(kind)
        .bind(from)
        .bind(to)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(at).transpose()
    }

    /// The last value read in each segment of a counter from `from` up to (not including) `to`.
    pub async fn segment_lasts(
        &mut self,
        e: EquipmentId,
        kind: &str,
        from: i64,
        to: i64,
    ) -> Result<BTreeMap<i64, i64>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT segment, MAX(value) FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
               AND meter_kind = $3 AND status = 'accepted' AND segment >= $4 AND segment < $5 \
             GROUP BY segment",
        )
        .bind(t)
        .bind(e.0)
        .bind(kind)
        .bind(from)
        .bind(to)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// A counter's pages per day over `[since, until]` in one segment, from its first and last
    /// readings there; `None` with fewer than two readings a day apart.
    pub async fn pages_per_day(
        &mut self,
        e: EquipmentId,
        kind: &str,
        segment: i64,
        since: i64,
        until: i64,
    ) -> Result<Option<f64>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT value, read_at FROM readings WHERE tenant_id = $1 AND equipment_id = $2 \
               AND meter_kind = $3 AND status = 'accepted' AND segment = $4 AND read_at >= $5 AND read_at <= $6 \
             ORDER BY read_at, id",
        )
        .bind(t)
        .bind(e.0)
        .bind(kind)
        .bind(segment)
        .bind(since)
        .bind(until)
        .fetch_all(self.conn())
        .await?;
        Ok(match (rows.first(), rows.last()) {
            (Some((v0, t0)), Some((v1, t1))) if t1 - t0 >= 86_400_000 => {
                Some((v1 - v0) as f64 / ((t1 - t0) as f64 / 86_400_000.0))
            }
            _ => None,
        })
    }

    /// Stores an issued invoice with its lines; a second invoice for the same contract and
    /// period is refused (`Conflict`).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_invoice(
        &mut self,
        c: &ContractTerms,
        period: (NaiveDate, NaiveDate),
        lines: &[Line],
        due_at: i64,
    ) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let number = self.next_number("invoice").await?;
        let subtotal: i64 = lines.iter().map(|l| l.amount_cents).sum();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO invoices (tenant_id, number, account_id, contract_id, period_start, period_end, \
               status, currency, subtotal_cents, tax_cents, total_cents, issued_at, due_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'issued', $7, $8, 0, $8, $9, $10, $9) RETURNING id",
        )
        .bind(t)
        .bind(number)
        .bind(c.account.0)
        .bind(c.id.0)
        .bind(period.0.to_string())
        .bind(period.1.to_string())
        .bind(&c.currency)
        .bind(subtotal)
        .bind(now)
        .bind(due_at)
        .fetch_one(self.conn())
        .await?;
        for l in lines {
            let reading = |r: &Read| (r.id > 0).then_some(r.id);
            sqlx::query(
                "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, description, equipment_id, meter_kind, \
                   start_reading_id, end_reading_id, quantity, unit_price_millicents, amount_cents, estimated, \
                   start_segment, start_value, end_segment, end_value) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(t)
            .bind(id)
            .bind(l.kind)
            .bind(&l.description)
            .bind(l.equipment)
            .bind(l.meter_kind.as_deref())
            .bind(l.span.as_ref().and_then(|(s, _)| reading(s)))
            .bind(l.span.as_ref().and_then(|(_, e)| reading(e)))
            .bind(l.quantity)
            .bind(l.unit_millicents)
            .bind(l.amount_cents)
            .bind(i64::from(l.estimated))
            .bind(l.span.map(|(s, _)| s.segment))
            .bind(l.span.map(|(s, _)| s.value))
            .bind(l.span.map(|(_, e)| e.segment))
            .bind(l.span.map(|(_, e)| e.value))
            .execute(self.conn())
            .await?;
        }
        Ok(id)
    }

    /// Whether the contract has an invoice (not void) for the period starting on `start`.
    pub async fn invoice_for_period(
        &mut self,
        c: ContractId,
        start: NaiveDate,
    ) -> Result<bool, DbError> {
        let t = self.t();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invoices WHERE tenant_id = $1 AND contract_id = $2 AND period_start = $3",
        )
        .bind(t)
        .bind(c.0)
        .bind(start.to_string())
        .fetch_one(self.conn())
        .await?;
        Ok(n > 0)
    }

    pub async fn invoice(&mut self, id: i64) -> Result<InvoiceView, DbError> {
        let t = self.t();
        let row = sqlx::query(concat!(invoice_select!(), "AND i.id = $2"))
            .bind(t)
            .bind(id)
            .fetch_optional(self.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        invoice_view(&row)
    }

    /// Newest first; an account's only when `account` is given.
    pub async fn invoices(
        &mut self,
        account: Option<AccountId>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<InvoiceView>, DbError> {
        let t = self.t();
        let rows = sqlx::query(concat!(
            invoice_select!(),
            "AND ($2 = 0 OR i.account_id = $2) AND i.id < $3 ORDER BY i.id DESC LIMIT $4"
        ))
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(before.unwrap_or(i64::MAX))
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(invoice_view).collect()
    }

    pub async fn invoice_lines(&mut self, id: i64) -> Result<Vec<InvoiceLine>, DbError> {
        let t = self.t();
        let rows = sqlx::query(
            "SELECT kind, description, equipment_id, meter_kind, start_reading_id, end_reading_id, start_value, \
               end_value, quantity, unit_price_millicents, amount_cents, estimated \
             FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY id",
        )
        .bind(t)
        .bind(id)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InvoiceLine {
                    kind: r.try_get("kind")?,
                    description: r.try_get("description")?,
                    equipment_id: r.try_get("equipment_id")?,
                    meter_kind: r.try_get("meter_kind")?,
                    start_reading_id: r.try_get("start_reading_id")?,
                    end_reading_id: r.try_get("end_reading_id")?,
                    start_value: r.try_get("start_value")?,
                    end_value: r.try_get("end_value")?,
                    quantity: r.try_get("quantity")?,
                    unit_price_millicents: r.try_get("unit_price_millicents")?,
                    amount_cents: r.try_get("amount_cents")?,
                    estimated: r.try_get::<i64, _>("estimated")? == 1,
                })
            })
            .collect()
    }
}

/// A payment method as stored: the processor's token, never a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRow {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub processor: String,
    pub token: Option<String>,
    pub last4: Option<String>,
    pub removed_at: Option<i64>,
}

/// A payment method as people see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct MethodView {
    pub id: i64,
    /// card, ach or wire
    pub kind: String,
    pub processor: String,
    pub last4: Option<String>,
}

impl MethodRow {
    pub fn view(&self) -> MethodView {
        MethodView {
            id: self.id,
            kind: self.kind.clone(),
            processor: self.processor.clone(),
            last4: self.last4.clone(),
        }
    }
}

/// A payment as people see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: i64,
    pub account_id: i64,
    pub method_id: Option<i64>,
    pub amount_cents: i64,
    pub currency: String,
    /// processing, pending (a retry is scheduled), succeeded, failed or returned
    pub status: String,
    pub created_at: i64,
    pub settled_at: Option<i64>,
    /// The invoices it pays, with how much of each.
    pub allocations: Vec<(i64, i64)>,
    pub attempts: i64,
}

impl TenantTx {
    pub async fn payment_method(&mut self, id: i64) -> Result<MethodRow, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT id, account_id, kind, processor, processor_token, last4, removed_at FROM payment_methods \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        Ok(MethodRow {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            kind: row.try_get("kind")?,
            processor: row.try_get("processor")?,
            token: row.try_get("processor_token")?,
            last4: row.try_get("last4")?,
            removed_at: row.try_get("removed_at")?,
        })
    }

    pub async fn insert_method(
        &mut self,
        account: AccountId,
        kind: &str,
        processor: &str,
        token: &str,
        last4: Option<&str>,
    ) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO payment_methods (tenant_id, account_id, kind, processor, processor_token, last4, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(t)
        .bind(account.0)
        .bind(kind)
        .bind(processor)
        .bind(token)
        .bind(last4)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn methods_of(&mut self, account: AccountId) -> Result<Vec<MethodView>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, processor, last4 FROM payment_methods \
             WHERE tenant_id = $1 AND account_id = $2 AND removed_at IS NULL ORDER BY id",
        )
        .bind(t)
        .bind(account.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, processor, last4)| MethodView {
                id,
                kind,
                processor,
                last4,
            })
            .collect())
    }

    pub async fn insert_payment(
        &mut self,
        account: AccountId,
        method: i64,
        amount: i64,
        currency: &str,
        by: Option<crate::ids::UserId>,
    ) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO payments (tenant_id, account_id, payment_method_id, amount_cents, currency, status, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'processing', $6, $7) RETURNING id",
        )
        .bind(t)
        .bind(account.0)
        .bind(method)
        .bind(amount)
        .bind(currency)
        .bind(by.map(|u| u.0))
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn allocate(
        &mut self,
        payment: i64,
        invoice: i64,
        amount: i64,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount_cents) VALUES ($1, $2, $3, $4)")
            .bind(t)
            .bind(payment)
            .bind(invoice)
            .bind(amount)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn insert_attempt(
        &mut self,
        payment: i64,
        number: i64,
        key: &str,
    ) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO payment_attempts (tenant_id, payment_id, attempt_no, idempotency_key, status, created_at) \
             VALUES ($1, $2, $3, $4, 'started', $5) RETURNING id",
        )
        .bind(t)
        .bind(payment)
        .bind(number)
        .bind(key)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn finish_attempt(
        &mut self,
        id: i64,
        status: &str,
        reference: Option<&str>,
        failure: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "UPDATE payment_attempts SET status = $3, gateway_reference = $4, failure_code = $5, retryable = $6, \
               next_retry_at = $7, completed_at = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id)
        .bind(status)
        .bind(reference)
        .bind(failure)
        .bind(i64::from(retry_at.is_some()))
        .bind(retry_at)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn set_payment_status(
        &mut self,
        payment: i64,
        status: &str,
        settled_at: Option<i64>,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("UPDATE payments SET status = $3, settled_at = COALESCE($4, settled_at) WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(payment)
            .bind(status)
            .bind(settled_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Adds (`sign` 1) or takes back (`sign` -1) a payment's allocations on its invoices.
    pub async fn apply_allocations(&mut self, payment: i64, sign: i64) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "UPDATE invoices SET amount_paid_cents = amount_paid_cents + $3 * (SELECT a.amount_cents \
               FROM payment_allocations a WHERE a.tenant_id = invoices.tenant_id AND a.invoice_id = invoices.id \
               AND a.payment_id = $2) \
             WHERE tenant_id = $1 AND id IN (SELECT a.invoice_id FROM payment_allocations a \
               WHERE a.tenant_id = $1 AND a.payment_id = $2)",
        )
        .bind(t)
        .bind(payment)
        .bind(sign)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "UPDATE invoices SET status = CASE WHEN amount_paid_cents >= total_cents THEN 'paid' \
               WHEN amount_paid_cents > 0 THEN 'partially_paid' ELSE 'issued' END \
             WHERE tenant_id = $1 AND status <> 'void' AND id IN (SELECT a.invoice_id FROM payment_allocations a \
               WHERE a.tenant_id = $1 AND a.payment_id = $2)",
        )
        .bind(t)
        .bind(payment)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn payment(&mut self, id: i64) -> Result<PaymentView, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT p.id, p.account_id, p.payment_method_id, p.amount_cents, p.currency, p.status, p.created_at, \
               p.settled_at, (SELECT COUNT(*) FROM payment_attempts x WHERE x.tenant_id = p.tenant_id \
               AND x.payment_id = p.id) AS attempts \
             FROM payments p WHERE p.tenant_id = $1 AND p.id = $2",
        )
        .bind(t)
        .bind(id)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        let allocations: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT invoice_id, amount_cents FROM payment_allocations WHERE tenant_id = $1 AND payment_id = $2 \
             ORDER BY invoice_id",
        )
        .bind(t)
        .bind(id)
        .fetch_all(self.conn())
        .await?;
        Ok(PaymentView {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            method_id: row.try_get("payment_method_id")?,
            amount_cents: row.try_get("amount_cents")?,
            currency: row.try_get("currency")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
            settled_at: row.try_get("settled_at")?,
            allocations,
            attempts: row.try_get("attempts")?,
        })
    }

    /// The payment an attempt with this key belongs to.
    pub async fn payment_by_key(&mut self, key: &str) -> Result<Option<PaymentView>, DbError> {
        let t = self.t();
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT payment_id FROM payment_attempts WHERE tenant_id = $1 AND idempotency_key = $2",
        )
        .bind(t)
        .bind(key)
        .fetch_optional(self.conn())
        .await?;
        match id {
            Some(id) => self.payment(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// An account's payments (every account's when `None`), newest first.
    pub async fn payments(
        &mut self,
        account: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<PaymentView>, DbError> {
        let t = self.t();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM payments WHERE tenant_id = $1 AND ($2 = 0 OR account_id = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(t)
        .bind(account.map_or(0, |a| a.0))
        .bind(crate::db::page_limit(limit))
        .fetch_all(self.conn())
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.payment(id).await?);
        }
        Ok(out)
    }

    /// The charge an attempt makes: the payment's amount, its method's token, the attempt's key.
    pub async fn charge_of(
        &mut self,
        payment: i64,
        key: &str,
    ) -> Result<super::gateway::Charge, DbError> {
        let t = self.t();
        let row: (i64, String, Option<String>) = sqlx::query_as(
            "SELECT p.amount_cents, p.currency, m.processor_token FROM payments p \
             JOIN payment_methods m ON m.tenant_id = p.tenant_id AND m.id = p.payment_method_id \
             WHERE p.tenant_id = $1 AND p.id = $2",
        )
        .bind(t)
        .bind(payment)
        .fetch_one(self.conn())
        .await?;
        Ok(super::gateway::Charge {
            idempotency_key: key.to_owned(),
            token: row.2.unwrap_or_default(),
            amount_cents: row.0,
            currency: row.1,
            description: format!("Payment {payment}"),
        })
    }

    /// Attempts with no answer: `unknown`, or `started` before `before` (a crash in between).
    pub async fn unanswered_attempts(
        &mut self,
        before: i64,
    ) -> Result<Vec<super::payments::Attempt>, DbError> {
        let t = self.t();
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT id, payment_id, attempt_no, idempotency_key FROM payment_attempts \
             WHERE tenant_id = $1 AND (status = 'unknown' OR (status = 'started' AND created_at < $2)) ORDER BY id",
        )
        .bind(t)
        .bind(before)
        .fetch_all(self.conn())
        .await?;
        let mut out = Vec::new();
        for (id, payment, number, key) in rows {
            let charge = self.charge_of(payment, &key).await?;
            out.push(super::payments::Attempt {
                payment,
                id,
                number,
                charge,
            });
        }
        Ok(out)
    }

    /// Payments whose last attempt failed with a retry now due: (payment, that attempt's number).
    pub async fn retries_due(&mut self, now: i64) -> Result<Vec<(i64, i64)>, DbError> {
        let t = self.t();
        Ok(sqlx::query_as(
            "SELECT payment_id, attempt_no FROM payment_attempts a WHERE tenant_id = $1 AND status = 'failed' \
               AND next_retry_at IS NOT NULL AND next_retry_at <= $2 \
               AND attempt_no = (SELECT MAX(b.attempt_no) FROM payment_attempts b \
                 WHERE b.tenant_id = a.tenant_id AND b.payment_id = a.payment_id) \
             ORDER BY payment_id",
        )
        .bind(t)
        .bind(now)
        .fetch_all(self.conn())
        .await?)
    }

    pub async fn first_key(&mut self, payment: i64) -> Result<String, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT idempotency_key FROM payment_attempts WHERE tenant_id = $1 AND payment_id = $2 AND attempt_no = 1",
        )
        .bind(t)
        .bind(payment)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn clear_retry(&mut self, payment: i64, attempt: i64) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("UPDATE payment_attempts SET next_retry_at = NULL WHERE tenant_id = $1 AND payment_id = $2 AND attempt_no = $3")
            .bind(t)
            .bind(payment)
            .bind(attempt)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn attempt_count(&mut self, payment: i64) -> Result<i64, DbError> {
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM payment_attempts WHERE tenant_id = $1 AND payment_id = $2",
        )
        .bind(t)
        .bind(payment)
        .fetch_one(self.conn())
        .await?)
    }

    /// Marks a payment's last attempt as returned by the bank with `code`.
    pub async fn return_last_attempt(
        &mut self,
        payment: i64,
        code: &str,
        retry_at: Option<i64>,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "UPDATE payment_attempts SET status = 'failed', failure_code = $3, retryable = $4, next_retry_at = $5 \
             WHERE tenant_id = $1 AND payment_id = $2 AND attempt_no = (SELECT MAX(b.attempt_no) FROM payment_attempts b \
               WHERE b.tenant_id = $1 AND b.payment_id = $2)",
        )
        .bind(t)
        .bind(payment)
        .bind(code)
        .bind(i64::from(retry_at.is_some()))
        .bind(retry_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl TenantTx {
    /// Records a processor's event id; `false` when it was handled already (a replay).
    pub async fn first_time_event(&mut self, id: &str, kind: &str) -> Result<bool, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done = sqlx::query(
            "INSERT INTO gateway_events (tenant_id, event_id, kind, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, event_id) DO NOTHING",
        )
        .bind(t)
        .bind(id)
        .bind(kind)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The attempt made with this key, and its status.
    pub async fn attempt_by_key(
        &mut self,
        key: &str,
    ) -> Result<Option<(super::payments::Attempt, String)>, DbError> {
        let t = self.t();
        let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT id, payment_id, attempt_no, status FROM payment_attempts WHERE tenant_id = $1 AND idempotency_key = $2",
        )
        .bind(t)
        .bind(key)
        .fetch_optional(self.conn())
        .await?;
        let Some((id, payment, number, status)) = row else {
            return Ok(None);
        };
        let charge = self.charge_of(payment, key).await?;
        Ok(Some((
            super::payments::Attempt {
                payment,
                id,
                number,
                charge,
            },
            status,
        )))
    }
}

impl TenantTx {
    /// Open invoices of accounts that pay automatically, never tried yet, with the method to
    /// use: the account's default one, or its only one. (invoice, method)
    pub async fn autopay_due(&mut self) -> Result<Vec<(i64, i64)>, DbError> {
        let t = self.t();
        Ok(sqlx::query_as(
            "SELECT i.id, (SELECT m.id FROM payment_methods m WHERE m.tenant_id = i.tenant_id \
                 AND m.account_id = i.account_id AND m.removed_at IS NULL AND m.kind <> 'wire' \
                 ORDER BY m.is_default DESC, m.id LIMIT 1) AS method \
             FROM invoices i JOIN accounts a ON a.tenant_id = i.tenant_id AND a.id = i.account_id \
             WHERE i.tenant_id = $1 AND a.autopay = 1 AND i.status = 'issued' \
               AND NOT EXISTS (SELECT 1 FROM payment_allocations pa WHERE pa.tenant_id = i.tenant_id \
                 AND pa.invoice_id = i.id) \
               AND EXISTS (SELECT 1 FROM payment_methods m WHERE m.tenant_id = i.tenant_id \
                 AND m.account_id = i.account_id AND m.removed_at IS NULL AND m.kind <> 'wire') \
             ORDER BY i.id",
        )
        .bind(t)
        .fetch_all(self.conn())
        .await?)
    }

    /// Makes `method` the account's default (the one autopay uses).
    pub async fn set_default_method(
        &mut self,
        account: AccountId,
        method: i64,
    ) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query(
            "UPDATE payment_methods SET is_default = CASE WHEN id = $3 THEN 1 ELSE 0 END \
             WHERE tenant_id = $1 AND account_id = $2",
        )
        .bind(t)
        .bind(account.0)
        .bind(method)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A wire transfer billing staff found on the bank statement: a settled payment with
    /// its reference.
    pub async fn insert_wire(
        &mut self,
        account: AccountId,
        amount: i64,
        currency: &str,
        reference: &str,
        by: crate::ids::UserId,
    ) -> Result<i64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        Ok(sqlx::query_scalar(
            "INSERT INTO payments (tenant_id, account_id, amount_cents, currency, status, reference, created_by, \
               created_at, settled_at) VALUES ($1, $2, $3, $4, 'succeeded', $5, $6, $7, $7) RETURNING id",
        )
        .bind(t)
        .bind(account.0)
        .bind(amount)
        .bind(currency)
        .bind(reference)
        .bind(by.0)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }
}
