//! Invoices from accepted meters. At the end of each cycle (the contract's billing day; a
//! month or a quarter) every counter the contract prices is read twice: where the last
//! invoice left it (or the last reading at the period's start, or a new device's first
//! reading) and the last reading of the period. A counter with no reading in the last
//! `ESTIMATE_AFTER_DAYS` of the period is estimated from its recent pages per day — the line
//! says so, and the next invoice starts from the estimate, which trues it up. Each line keeps
//! the readings and values it was computed from; one invoice per contract and period.
//! Periods run from midnight UTC to midnight UTC.

use super::arithmetic::{self, Kind, Line, Read, Usage};
use super::store::{ContractTerms, InvoiceLine, InvoiceView};
use crate::audit::Actor;
use crate::auth::{Permission, Principal};
use crate::db::{Db, DbError, TenantDb, TenantTx};
use crate::http::ApiError;
use crate::ids::{AccountId, ContractId, EquipmentId};
use chrono::{Datelike, Months, NaiveDate};

const DAY_MS: i64 = 86_400_000;
/// A counter whose last reading is older than this at the period's end is estimated.
pub const ESTIMATE_AFTER_DAYS: i64 = 7;
/// How far back the pages per day of an estimate are measured.
const AVERAGE_OVER_DAYS: i64 = 90;
/// Days from issue to due, unless the tenant's `billing.net_days` says otherwise.
const NET_DAYS: i64 = 30;

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

/// The period a contract bills on `on`: from the billing day a cycle before the latest billing
/// day at or before `on`, up to (not including) it — cut to the contract's own dates. `None`
/// when the contract was not in force in it.
pub fn period(c: &ContractTerms, on: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let day = c.billing_day.clamp(1, 28);
    let this_month = on.with_day(day)?;
    let end = if on.day() >= day {
        this_month
    } else {
        this_month.checked_sub_months(Months::new(1))?
    };
    let start = end.checked_sub_months(Months::new(if c.quarterly { 3 } else { 1 }))?;
    let start = start.max(c.starts_on);
    let end = match c.ends_on {
        Some(last) => end.min(last.succ_opt()?),
        None => end,
    };
    (start < end).then_some((start, end))
}

/// An invoice before it is issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub contract: ContractTerms,
    /// `[start, end)`
    pub period: (NaiveDate, NaiveDate),
    pub lines: Vec<Line>,
    pub subtotal_cents: i64,
}

/// One counter from where it was last billed to the period's end.
async fn counter(
    tx: &mut TenantTx,
    (e, device): (EquipmentId, &str),
    kind: &str,
    (from, to): (i64, i64),
) -> Result<Option<Usage>, DbError> {
    let billed = tx.last_billed(e, kind).await?;
    let start = match billed {
        Some(b) => b.end,
        None => match tx.reading_at(e, kind, from).await? {
            Some(a) => a.read,
            None => match tx.first_reading(e, kind, from, to).await? {
                Some(a) => a.read,
                None => return Ok(None),
            },
        },
    };
    let end = match tx.reading_at(e, kind, to - 1).await? {
        Some(a) if a.at >= to - ESTIMATE_AFTER_DAYS * DAY_MS => a.read,
        Some(a) => {
            let per_day = tx
                .pages_per_day(
                    e,
                    kind,
                    a.read.segment,
                    a.at - AVERAGE_OVER_DAYS * DAY_MS,
                    a.at,
                )
                .await?
                .unwrap_or(0.0);
            Read {
                id: 0,
                segment: a.read.segment,
                value: arithmetic::estimate(
                    a.read.value,
                    per_day,
                    (to - a.at) as f64 / DAY_MS as f64,
                ),
                estimated: true,
            }
        }
        None => return Ok(None),
    };
    let lasts = tx
        .segment_lasts(e, kind, start.segment, end.segment)
        .await?;
    Ok(Some(Usage {
        equipment: e.0,
        device: device.to_owned(),
        meter_kind: kind.to_owned(),
        start,
        end,
        pages: arithmetic::pages(start, end, &lasts),
        estimated_overage: billed.filter(|b| b.end.estimated).map_or(0, |b| b.overage),
    }))
}

/// What the contract's invoice for the period ending on or before `on` would be.
pub async fn draft(
    tx: &mut TenantTx,
    c: &ContractTerms,
    on: NaiveDate,
) -> Result<Option<Draft>, DbError> {
    let Some((start, end)) = period(c, on) else {
        return Ok(None);
    };
    let rates = tx.rates(c.id).await?;
    let mut usage = Vec::new();
    for (e, device) in tx.devices_on_contract(c.id).await? {
        for rate in &rates {
            if let Some(u) = counter(
                tx,
                (e, &device),
                &rate.meter_kind,
                (midnight(start), midnight(end)),
            )
            .await?
            {
                usage.push(u);
            }
        }
    }
    let kind = if c.pooled {
        Kind::Pooled
    } else {
        Kind::PerDevice
    };
    let lines = arithmetic::lines(kind, c.base_charge_cents, &rates, &usage);
    Ok(Some(Draft {
        contract: c.clone(),
        period: (start, end),
        subtotal_cents: lines.iter().map(|l| l.amount_cents).sum(),
        lines,
    }))
}

/// A draft as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub contract_id: i64,
    pub account_id: i64,
    pub period_start: String,
    pub period_end: String,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_cents: i64,
}

impl Draft {
    pub fn preview(&self) -> Preview {
        Preview {
            contract_id: self.contract.id.0,
            account_id: self.contract.account.0,
            period_start: self.period.0.to_string(),
            period_end: self
                .period
                .1
                .pred_opt()
                .unwrap_or(self.period.1)
                .to_string(),
            currency: self.contract.currency.clone(),
            lines: self
                .lines
                .iter()
                .map(|l| {
                    let id = |r: &Read| (r.id > 0).then_some(r.id);
                    InvoiceLine {
                        kind: l.kind.into(),
                        description: l.description.clone(),
                        equipment_id: l.equipment,
                        meter_kind: l.meter_kind.clone(),
                        start_reading_id: l.span.as_ref().and_then(|(s, _)| id(s)),
                        end_reading_id: l.span.as_ref().and_then(|(_, e)| id(e)),
                        start_value: l.span.map(|(s, _)| s.value),
                        end_value: l.span.map(|(_, e)| e.value),
                        quantity: l.quantity,
                        unit_price_millicents: l.unit_millicents,
                        amount_cents: l.amount_cents,
                        estimated: l.estimated,
                    }
                })
                .collect(),
            subtotal_cents: self.subtotal_cents,
        }
    }
}

/// Issues a contract's invoice for the period ending on or before `on`; `None` when there is
/// nothing to bill or it was issued already.
pub async fn issue_in(
    tx: &mut TenantTx,
    actor: &Actor,
    c: &ContractTerms,
    on: NaiveDate,
) -> Result<Option<InvoiceView>, DbError> {
    let Some(d) = draft(tx, c, on).await? else {
        return Ok(None);
    };
    if tx.invoice_for_period(c.id, d.period.0).await? {
        return Ok(None);
    }
    let net_days = tx
        .setting("billing.net_days")
        .await?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|d| (0..=120).contains(d))
        .unwrap_or(NET_DAYS);
    let last_day = d.period.1.pred_opt().unwrap_or(d.period.1);
    let due = tx.now_ms() + net_days * DAY_MS;
    let id = tx
        .insert_invoice(c, (d.period.0, last_day), &d.lines, due)
        .await?;
    let invoice = tx.invoice(id).await?;
    let to = tx
        .account_users_holding(c.account, Permission::InvoicesRead)
        .await?;
    tx.notify(&crate::notifications::Note {
        event: "invoice.issued",
        subject: Some(id),
        title: format!(
            "Invoice {} for {} to {}",
            invoice.number, invoice.period_start, invoice.period_end
        ),
        body: format!(
            "{}.{:02} {} due by {}",
            invoice.total_cents / 100,
            (invoice.total_cents % 100).abs(),
            invoice.currency,
            crate::web::when_utc(due)
        ),
        link: Some(format!("/invoices/{id}")),
        recipients: &to,
    })
    .await?;
    tx.audit(
        actor,
        "invoice.issued",
        ("invoice", Some(id.to_string())),
        Some(c.account),
        serde_json::json!({ "number": invoice.number, "contract": c.number, "period_start": invoice.period_start,
            "period_end": invoice.period_end, "total_cents": invoice.total_cents,
            "estimated_lines": d.lines.iter().filter(|l| l.estimated).count() }),
    )
    .await?;
    Ok(Some(invoice))
}

/// The next invoice of a contract, without issuing it (dealer staff).
pub async fn preview(
    db: &TenantDb,
    p: &Principal,
    c: ContractId,
    on: NaiveDate,
) -> Result<Preview, ApiError> {
    p.require(Permission::InvoicesManage)?;
    let mut tx = db.begin().await?;
    let terms = tx.contract_terms(c).await?;
    draft(&mut tx, &terms, on)
        .await?
        .map(|d| d.preview())
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "contract {} bills nothing for a period ending by {on}",
                terms.number
            ))
        })
}

/// Issues a contract's invoice now (dealer staff; the daily run does it on its own).
pub async fn issue(
    db: &TenantDb,
    p: &Principal,
    c: ContractId,
    on: NaiveDate,
) -> Result<InvoiceView, ApiError> {
    p.require(Permission::InvoicesManage)?;
    let mut tx = db.begin().await?;
    let terms = tx.contract_terms(c).await?;
    match issue_in(&mut tx, &p.actor(), &terms, on).await {
        Ok(Some(i)) => {
            tx.commit().await?;
            Ok(i)
        }
        Ok(None) => Err(ApiError::Conflict(format!(
            "contract {} has nothing to bill for a period ending by {on}, or it was invoiced already",
            terms.number
        ))),
        Err(DbError::Conflict(_)) => Err(ApiError::Conflict("it was invoiced already".into())),
        Err(e) => Err(e.into()),
    }
}

/// An invoice the principal may see, with its lines.
pub async fn show(
    db: &TenantDb,
    p: &Principal,
    id: i64,
) -> Result<(InvoiceView, Vec<InvoiceLine>), ApiError> {
    p.require(Permission::InvoicesRead)?;
    let mut tx = db.begin().await?;
    let i = tx.invoice(id).await?;
    if !p.sees_account(AccountId(i.account_id)) {
        return Err(ApiError::NotFound);
    }
    let lines = tx.invoice_lines(id).await?;
    Ok((i, lines))
}

/// An invoice as CSV: one row per line, with the readings and values used.
pub fn csv(i: &InvoiceView, lines: &[InvoiceLine]) -> String {
    let cell = |s: &str| {
        let s = if s.starts_with(['=', '+', '@', '-'])
            && !s.chars().all(|c| c == '-' || c.is_ascii_digit())
        {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from(
        "invoice,period_start,period_end,kind,description,equipment_id,meter_kind,start_reading_id,\
         end_reading_id,start_value,end_value,quantity,unit_price_millicents,amount_cents,estimated,currency\r\n",
    );
    for l in lines {
        let row = [
            i.number.to_string(),
            i.period_start.clone(),
            i.period_end.clone(),
            l.kind.clone(),
            cell(&l.description),
            opt(l.equipment_id),
            l.meter_kind.clone().unwrap_or_default(),
            opt(l.start_reading_id),
            opt(l.end_reading_id),
            opt(l.start_value),
            opt(l.end_value),
            l.quantity.to_string(),
            l.unit_price_millicents.to_string(),
            l.amount_cents.to_string(),
            if l.estimated { "yes" } else { "no" }.into(),
            i.currency.clone(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Issues every invoice that is due in one tenant (`on`: today).
pub async fn issue_due(tx: &mut TenantTx, on: NaiveDate) -> Result<Vec<InvoiceView>, DbError> {
    let mut issued = Vec::new();
    for c in tx.active_contracts().await? {
        if let Some(i) = issue_in(tx, &Actor::system(), &c, on).await? {
            issued.push(i);
        }
    }
    Ok(issued)
}

/// Every six hours for as long as the server runs: the invoices that are due, in every tenant.
pub async fn run(db: Db, mail: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        let mut any = false;
        match db.list_tenants().await {
            Ok(tenants) => {
                for t in tenants {
                    let tdb = db.tenant(t.id);
                    let today = chrono::DateTime::from_timestamp_millis(tdb.now_ms())
                        .unwrap_or_default()
                        .date_naive();
                    match tdb.run(async |tx| issue_due(tx, today).await).await {
                        Ok(i) => any |= !i.is_empty(),
                        Err(e) => {
                            tracing::warn!(tenant = t.id.0, error = %e, "invoices not issued; trying again")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "invoices not issued; trying again"),
        }
        if any {
            mail.notify_one();
        }
        tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(day: u32, quarterly: bool, starts: &str, ends: Option<&str>) -> ContractTerms {
        ContractTerms {
            id: ContractId(1),
            account: AccountId(1),
            number: "C-1".into(),
            pooled: false,
            quarterly,
            billing_day: day,
            base_charge_cents: 0,
            currency: "USD".into(),
            starts_on: starts.parse().unwrap(),
            ends_on: ends.map(|e| e.parse().unwrap()),
            status: "active".into(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_ends_on_the_latest_billing_day() {
        let cases = [
            (
                contract(1, false, "2025-01-01", None),
                "2026-03-01",
                Some(("2026-02-01", "2026-03-01")),
            ),
            (
                contract(1, false, "2025-01-01", None),
                "2026-03-17",
                Some(("2026-02-01", "2026-03-01")),
            ),
            (
                contract(15, false, "2025-01-01", None),
                "2026-03-14",
                Some(("2026-01-15", "2026-02-15")),
            ),
            (
                contract(15, false, "2025-01-01", None),
                "2026-01-20",
                Some(("2025-12-15", "2026-01-15")),
            ),
            (
                contract(1, true, "2025-01-01", None),
                "2026-04-02",
                Some(("2026-01-01", "2026-04-01")),
            ),
            // started mid-period: billed from its first day
            (
                contract(1, false, "2026-02-10", None),
                "2026-03-01",
                Some(("2026-02-10", "2026-03-01")),
            ),
            // not yet started, or ended before the period
            (contract(1, false, "2026-03-05", None), "2026-03-06", None),
            (
                contract(1, false, "2025-01-01", Some("2026-01-20")),
                "2026-03-01",
                None,
            ),
            // ended within the period: billed to its last day
            (
                contract(1, false, "2025-01-01", Some("2026-02-20")),
                "2026-03-01",
                Some(("2026-02-01", "2026-02-21")),
            ),
        ];
        for (c, on, expected) in cases {
            assert_eq!(
                period(&c, d(on)),
                expected.map(|(a, b)| (d(a), d(b))),
                "{on} {c:?}"
            );
        }
    }
}
