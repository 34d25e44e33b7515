//! The start page: what needs attention now, as cards (open service requests, devices whose
//! meter is owed this cycle, low toner, unpaid invoices and what is due, devices whose agent
//! fell silent), the actions people take most, and — for a customer — the pages each device
//! printed per month. Each card is there only for who may open what it links to. The page
//! (`pages.rs`) and `GET /api/v1/dashboard` (`http.rs`) show the same [`Summary`].

pub mod http;
pub mod pages;
mod store;

use crate::auth::{Permission, Principal};
use crate::db::TenantDb;
use crate::equipment::views::monthly_pages;
use crate::http::ApiError;
use crate::ids::EquipmentId;
use serde::Serialize;

/// Devices drawn in the customer's chart (the busiest first), and the months shown.
pub const CHART_DEVICES: u32 = 8;
pub const CHART_MONTHS: u32 = 6;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Service requests not yet completed, closed or cancelled.
    pub open_requests: Option<i64>,
    pub meters_due: Option<MetersDue>,
    /// Devices with a toner or ink at or below the low level.
    pub low_toner: Option<i64>,
    /// Devices whose agent has not reported within the silence window.
    pub stopped_reporting: Option<i64>,
    /// Unpaid invoices per currency.
    pub unpaid: Option<Vec<Unpaid>>,
    /// Pages per month of the customer's devices (customers only).
    pub monthly_pages: Option<MonthlyPages>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetersDue {
    /// Devices whose meter the customer is to send this cycle.
    pub devices: usize,
    /// The earliest due moment among them (epoch ms: the end of the billing day).
    pub due_by: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unpaid {
    pub currency: String,
    pub invoices: i64,
    /// What is left to pay, in cents.
    pub due_cents: i64,
    /// Of these, invoices past their due date.
    pub overdue: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthlyPages {
    /// `Jan 26`…, oldest first.
    pub months: Vec<String>,
    pub devices: Vec<DevicePages>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DevicePages {
    pub equipment_id: i64,
    pub name: String,
    /// Pages per month of the total counter; null: not known.
    pub pages: Vec<Option<u64>>,
}

/// What the principal's start page shows.
pub async fn summary(db: &TenantDb, p: &Principal, silence_ms: i64) -> Result<Summary, ApiError> {
    let may = |perm| p.permissions.contains(&perm);
    let account = p.account();
    Ok(db
        .read(async |tx| {
            let now = tx.now_ms();
            let open_requests = match may(Permission::RequestsRead) {
                true => Some(tx.open_request_count(account).await?),
                false => None,
            };
            let meters_due = match may(Permission::ReadingsSubmit) {
                true => {
                    let owed = crate::collection::owed(tx, account, silence_ms).await?;
                    Some(MetersDue {
                        devices: owed.len(),
                        due_by: owed.values().map(|(_, c)| c.due_at).min(),
                    })
                }
                false => None,
            };
            let (low_toner, stopped_reporting) = match may(Permission::EquipmentRead) {
                true => (
                    Some(tx.low_toner_count(account).await?),
                    Some(tx.silent_count(account, now - silence_ms).await?),
                ),
                false => (None, None),
            };
            let unpaid = match may(Permission::InvoicesRead) {
                true => Some(tx.unpaid_invoices(account).await?),
                false => None,
            };
            let monthly_pages = match (account, may(Permission::EquipmentRead)) {
                (Some(a), true) => {
                    let mut months = Vec::new();
                    let mut devices = Vec::new();
                    for (id, name) in tx.busiest_devices(a, CHART_DEVICES).await? {
                        let bars =
                            monthly_pages(tx, EquipmentId(id), "total", now, CHART_MONTHS).await?;
                        if months.is_empty() {
                            months = bars.iter().map(|b| b.label.clone()).collect();
                        }
                        devices.push(DevicePages {
                            equipment_id: id,
                            name,
                            pages: bars.into_iter().map(|b| b.value).collect(),
                        });
                    }
                    Some(MonthlyPages { months, devices })
                }
                _ => None,
            };
            Ok(Summary {
                open_requests,
                meters_due,
                low_toner,
                stopped_reporting,
                unpaid,
                monthly_pages,
            })
        })
        .await?)
}
