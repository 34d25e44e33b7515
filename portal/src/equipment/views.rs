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

/// A meter's value at a moment: the reading at that moment, or the straight line between the
/// accepted readings around it (same segment). `open_end`: at the present, the last reading
/// is the value (there is no later one yet). With its segment.
async fn value_at(
    tx: &mut TenantTx,
    id: EquipmentId,
    kind: &str,
    at: i64,
    open_end: bool,
) -> Result<Option<(f64, i64)>, DbError> {
    let Some(before) = tx.meter_near(id, kind, at, false).await? else {
        return Ok(None);
    };
    if before.read_at == at || open_end {
        return Ok(Some((before.value as f64, before.segment)));
    }
    let Some(after) = tx.meter_near(id, kind, at, true).await? else {
        return Ok(None);
    };
    if after.segment != before.segment || after.value < before.value {
        return Ok(None);
    }
    let share = (at - before.read_at) as f64 / (after.read_at - before.read_at) as f64;
    Ok(Some((
        before.value as f64 + (after.value - before.value) as f64 * share,
        before.segment,
    )))
}

/// Pages per month of one meter, the last `months` calendar months (UTC) up to `now`: the
/// meter's value at the month's end less its value at the month's start, each taken from the
/// readings around that moment. A month without readings on both sides, or across a counter
/// reset, is left a gap rather than guessed.
pub async fn monthly_pages(
    tx: &mut TenantTx,
    id: EquipmentId,
    kind: &str,
    now: i64,
    months: u32,
) -> Result<Vec<Bar>, DbError> {
    let today = Utc.timestamp_millis_opt(now).single().unwrap_or_default();
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
    let start_ms = |(y, m): (i32, u32)| {
        Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
            .single()
            .map_or(0, |d| d.timestamp_millis())
    };
    // the month boundaries, and the present as the current month's end
    let mut edges: Vec<(i64, bool)> = starts.iter().map(|s| (start_ms(*s), false)).collect();
    edges.push((now, true));
    let mut values = Vec::with_capacity(edges.len());
    for (at, open_end) in &edges {
        values.push(value_at(tx, id, kind, *at, *open_end).await?);
    }
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, month)| {
            let value = match (values[i], values[i + 1]) {
                (Some((a, sa)), Some((b, sb))) if sa == sb && b >= a => {
                    Some((b.round() - a.round()).max(0.0) as u64)
                }
                _ => None,
            };
            let label = Utc
                .with_ymd_and_hms(month.0, month.1, 1, 0, 0, 0)
                .single()
                .map(|d| d.format("%b %y").to_string())
                .unwrap_or_default();
            Bar { label, value }
        })
        .collect())
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
