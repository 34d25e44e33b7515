//! What people see of their devices: the list, and one device with its meters month by month,
//! supplies, alerts and every reading with where it came from. Customers see their own
//! account's devices only; another account's device does not exist for them (404).

use super::{Equipment, EquipmentRow, OpenAlert, SupplyLevel};
use crate::auth::{Permission, Principal};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::http::ApiError;
use crate::ids::{EquipmentId, ReadingId};
use crate::readings::Reading;
use crate::web::chart::Bar;
use chrono::{Datelike, TimeZone, Utc};

/// A device the principal may act on: customers only their own account's (another account's
/// device is not found, as if it did not exist).
pub(crate) async fn visible_equipment(
    tx: &mut TenantTx,
    principal: &Principal,
    id: EquipmentId,
) -> Result<Equipment, DbError> {
    let equipment = tx.equipment(id).await?;
    if principal.sees_account(equipment.account_id) {
        Ok(equipment)
    } else {
        Err(DbError::NotFound)
    }
}

/// One page of the devices the principal sees.
pub async fn list(
    db: &TenantDb,
    p: &Principal,
    after: Option<EquipmentId>,
    limit: u32,
) -> Result<Vec<EquipmentRow>, ApiError> {
    p.require(Permission::EquipmentRead)?;
    Ok(db
        .read(async |tx| tx.equipment_rows(p.account(), after, limit).await)
        .await?)
}

/// Pages per month of one meter, the last `months` calendar months (UTC) up to `now`: the
/// difference of the last accepted values before each month's start. A month across a counter
/// reset is left a gap rather than guessed.
pub async fn monthly_pages(
    tx: &mut TenantTx,
    id: EquipmentId,
    kind: &str,
    now: i64,
    months: u32,
) -> Result<Vec<Bar>, DbError> {
    let today = Utc.timestamp_millis_opt(now).single().unwrap_or_default();
    // month starts, oldest first, ending with "now" for the current month
    let mut starts = Vec::new();
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..months {
        starts.push((y, m));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    starts.reverse();
    let mut bars = Vec::with_capacity(starts.len());
    let start_ms = |(y, m): (i32, u32)| {
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .map_or(0, |d| d.timestamp_millis())
    };
    for (i, month) in starts.iter().enumerate() {
        let from = start_ms(*month);
        let to = starts.get(i + 1).map_or(now + 1, |next| start_ms(*next));
        let (a, b) = (
            tx.meter_before(id, kind, from).await?,
            tx.meter_before(id, kind, to).await?,
        );
        let value = match (a, b) {
            (Some(a), Some(b)) if a.segment == b.segment && b.value >= a.value => {
                Some((b.value - a.value) as u64)
            }
            _ => None,
        };
        let label = Utc
            .with_ymd_and_hms(month.0, month.1, 1, 0, 0, 0)
            .single()
            .map(|d| d.format("%b %y").to_string())
            .unwrap_or_default();
        bars.push(Bar { label, value });
    }
    Ok(bars)
}

/// Everything the device page shows.
#[derive(Debug, Clone)]
pub struct Detail {
    pub equipment: Equipment,
    pub account: String,
    pub site: Option<String>,
    pub monthly_total: Vec<Bar>,
    pub supplies: Vec<SupplyLevel>,
    pub alerts: Vec<OpenAlert>,
    pub readings: Vec<Reading>,
}

pub const READINGS_PAGE: u32 = 50;

pub async fn detail(
    db: &TenantDb,
    p: &Principal,
    id: EquipmentId,
    readings_before: Option<(i64, ReadingId)>,
) -> Result<Detail, ApiError> {
    p.require(Permission::EquipmentRead)?;
    Ok(db
        .read(async |tx| {
            let equipment = visible_equipment(tx, p, id).await?;
            let account = tx.account(equipment.account_id).await?.name;
            let site = match equipment.site_id {
                Some(s) => Some(tx.site(s).await?.name),
                None => None,
            };
            let now = tx.now_ms();
            let monthly_total = monthly_pages(tx, id, "total", now, 12).await?;
            let readings = if p.permissions.contains(&Permission::ReadingsRead) {
                tx.recent_readings(id, readings_before, READINGS_PAGE)
                    .await?
            } else {
                Vec::new()
            };
            Ok(Detail {
                supplies: tx.supply_levels(id).await?,
                alerts: tx.open_alerts(id).await?,
                equipment,
                account,
                site,
                monthly_total,
                readings,
            })
        })
        .await?)
}
