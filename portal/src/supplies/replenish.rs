//! Automatic toner replenishment. From the levels a device's agent reports, per colour: the
//! cartridge in the device now (its levels since the last replacement), whether it is low
//! (under the tenant's threshold, 20 % by default) or will run out within the forecast window
//! (a straight line through its levels), and then the guards that keep one cartridge from
//! being ordered twice: an order for that colour still on its way; a cartridge delivered but
//! not yet put in (no replacement seen since); a replacement seen only just now (the device
//! may still report the old cartridge). A level that rises a little — a shaken cartridge —
//! is not a replacement. The colours a device needs ship together in one order, of the
//! cartridge its contract covers, suggested to the customer or approved at once (tenant
//! setting `supplies.auto_approve`).

use super::orders::{self, Audience};
use super::store::{LevelPoint, NewOrder, OrderLine, ShipAddress};
use super::{OrderId, covered, key};
use crate::audit::Actor;
use crate::db::{Db, DbError, TenantTx};
use crate::ids::EquipmentId;

const DAY_MS: i64 = 86_400_000;
/// A rise of at least this many points is a new cartridge; less is a shake or a sensor.
pub const REPLACEMENT_RISE: i64 = 30;
/// After a replacement, a device's reports are not trusted to be of the new cartridge yet.
pub const SETTLE_MS: i64 = 2 * DAY_MS;
/// How far back levels are read.
pub const HISTORY_MS: i64 = 120 * DAY_MS;

/// A tenant's replenishment settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `supplies.low_percent`: at or under this, a cartridge is low.
    pub low_percent: i64,
    /// `supplies.forecast_days`: a cartridge forecast to run out within this many days is
    /// ordered now (0: only the threshold counts).
    pub forecast_days: i64,
    /// `supplies.auto_approve`: orders go straight to the warehouse instead of waiting for the
    /// customer to confirm them.
    pub auto_approve: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            low_percent: 20,
            forecast_days: 10,
            auto_approve: false,
        }
    }
}

/// Why a colour needs a cartridge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Need {
    Low { percent: i64 },
    RunsOut { percent: i64, days: f64 },
}

/// Why a colour that needs a cartridge gets none now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    OnOrder,
    DeliveredNotInstalled,
    JustReplaced,
}

/// When the cartridge in the device now went in: the last rise of at least
/// [`REPLACEMENT_RISE`] points between two reports.
pub fn last_replacement(points: &[LevelPoint]) -> Option<i64> {
    points
        .windows(2)
        .filter(|w| w[1].percent - w[0].percent >= REPLACEMENT_RISE)
        .map(|w| w[1].at)
        .next_back()
}

/// The reports of the cartridge in the device now.
pub fn current_cartridge(points: &[LevelPoint]) -> &[LevelPoint] {
    let start = points
        .windows(2)
        .rposition(|w| w[1].percent - w[0].percent >= REPLACEMENT_RISE)
        .map_or(0, |i| i + 1);
    &points[start..]
}

/// Whether the cartridge in the device needs replacing soon. The level is the lowest of its
/// last reports (a shake that lifts it for a day does not hide a low cartridge); the
/// forecast is a least-squares line through the cartridge's reports, trusted only over two
/// days or more and while it falls.
pub fn need(points: &[LevelPoint], now: i64, policy: &Policy) -> Option<Need> {
    let cartridge = current_cartridge(points);
    let last = cartridge.last()?;
    let recent = cartridge
        .iter()
        .filter(|p| p.at >= last.at - DAY_MS)
        .map(|p| p.percent)
        .min()
        .unwrap_or(last.percent);
    let level = recent.min(last.percent);
    if level <= policy.low_percent {
        return Some(Need::Low { percent: level });
    }
    if policy.forecast_days == 0 || cartridge.len() < 3 {
        return None;
    }
    let first = cartridge.first()?;
    if last.at - first.at < 2 * DAY_MS {
        return None;
    }
    let n = cartridge.len() as f64;
    let xs: Vec<f64> = cartridge
        .iter()
        .map(|p| (p.at - first.at) as f64 / DAY_MS as f64)
        .collect();
    let ys: Vec<f64> = cartridge.iter().map(|p| p.percent as f64).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let per_day = sxy / sxx;
    if per_day >= 0.0 {
        return None;
    }
    // from the level now, at the rate seen, to empty
    let days_since_last = (now - last.at).max(0) as f64 / DAY_MS as f64;
    let days = level as f64 / -per_day - days_since_last;
    (days <= policy.forecast_days as f64).then_some(Need::RunsOut {
        percent: level,
        days: days.max(0.0),
    })
}

/// Whether something already takes care of a colour that needs a cartridge.
pub fn hold(
    points: &[LevelPoint],
    on_order: bool,
    last_delivery: Option<i64>,
    now: i64,
) -> Option<Hold> {
    let replaced = last_replacement(points);
    if on_order {
        Some(Hold::OnOrder)
    } else if last_delivery.is_some_and(|d| replaced.is_none_or(|r| r < d)) {
        Some(Hold::DeliveredNotInstalled)
    } else if replaced.is_some_and(|r| now - r < SETTLE_MS) {
        Some(Hold::JustReplaced)
    } else {
        None
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub orders: Vec<OrderId>,
    /// Devices that needed toner with no covered cartridge in the catalogue, or nowhere to
    /// send it: they need a person.
    pub skipped: Vec<(EquipmentId, &'static str)>,
}

impl TenantTx {
    pub async fn replenish_policy(&mut self) -> Result<Policy, DbError> {
        let d = Policy::default();
        let number = |v: Option<String>, default: i64, max: i64| {
            v.and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|v| (0..=max).contains(v))
                .unwrap_or(default)
        };
        Ok(Policy {
            low_percent: number(
                self.setting("supplies.low_percent").await?,
                d.low_percent,
                90,
            ),
            forecast_days: number(
                self.setting("supplies.forecast_days").await?,
                d.forecast_days,
                90,
            ),
            auto_approve: self.setting("supplies.auto_approve").await?.as_deref() == Some("1"),
        })
    }
}

/// Orders the toner the devices of one tenant need.
pub async fn sweep_tenant(tx: &mut TenantTx) -> Result<Swept, DbError> {
    let now = tx.now_ms();
    let policy = tx.replenish_policy().await?;
    let today = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .date_naive();
    let mut swept = Swept::default();
    for id in tx.devices_reporting_toner(now - HISTORY_MS).await? {
        let history = tx.toner_history(id, now - HISTORY_MS).await?;
        let on_order = tx.colours_on_order(id).await?;
        let delivered = tx.last_deliveries(id).await?;
        let wanted: Vec<(&String, Need)> = history
            .iter()
            .filter_map(|(colour, points)| need(points, now, &policy).map(|n| (colour, n)))
            .filter(|(colour, _)| {
                hold(
                    &history[*colour],
                    on_order.iter().any(|c| key(c) == **colour),
                    delivered
                        .iter()
                        .find(|(c, _)| key(c) == **colour)
                        .map(|(_, at)| *at),
                    now,
                )
                .is_none()
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let device = tx.equipment(id).await?;
        let cover = match device.contract_id {
            Some(c) => tx.supply_cover(c).await?,
            None => None,
        };
        let fitting = tx.items_fitting(&device.make, &device.model).await?;
        let name = format!("{} {} ({})", device.make, device.model, device.serial);
        let mut lines = Vec::new();
        for (colour, need) in &wanted {
            let item = fitting.iter().find(|s| {
                s.item.kind == "toner"
                    && s.item.colour == Some(colour.as_str())
                    && covered(s.id, s.item.kind, cover.as_ref(), today)
            });
            let Some(item) = item else {
                tracing::info!(device = id.0, colour = %colour, ?need, "toner low, but no covered cartridge fits");
                continue;
            };
            lines.push(OrderLine {
                supply_item_id: item.id.0,
                sku: item.item.sku.to_string(),
                description: item.item.description.clone(),
                equipment_id: Some(id.0),
                device: Some(name.clone()),
                colour: Some((*colour).clone()),
                quantity: 1,
                unit_price_cents: item.item.price_cents,
                covered: true,
                line_total_cents: 0,
            });
        }
        if lines.is_empty() {
            swept.skipped.push((id, "no covered cartridge fits"));
            continue;
        }
        let site = match device.site_id {
            Some(s) => Some(tx.site(s).await?),
            None => tx.sites_of(device.account_id).await?.into_iter().next(),
        };
        let Some(site) = site else {
            swept
                .skipped
                .push((id, "the account has no site to deliver to"));
            continue;
        };
        let ship_to = ShipAddress {
            name: site.name.clone(),
            line1: site.address.line1.clone(),
            line2: site.address.line2.clone(),
            city: site.address.city.clone(),
            region: site.address.region.clone(),
            postal_code: site.address.postal_code.clone(),
            country: site.address.country.clone(),
        };
        let status = if policy.auto_approve {
            "approved"
        } else {
            "suggested"
        };
        let order = orders::place(
            tx,
            &NewOrder {
                account: device.account_id,
                site: Some(site.id),
                ship_to: &ship_to,
                po_number: None,
                status,
                source: "auto",
                total_cents: 0,
                idempotency_key: None,
                created_by: None,
            },
            &lines,
            None,
        )
        .await?;
        let colours = lines
            .iter()
            .filter_map(|l| l.colour.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let (audience, title) = if policy.auto_approve {
            (Audience::Both, format!("Toner on its way for {name}"))
        } else {
            (
                Audience::Customers,
                format!("Toner is running low on {name}: confirm the order"),
            )
        };
        orders::tell(
            tx,
            &order,
            audience,
            None,
            if policy.auto_approve {
                "order.updated"
            } else {
                "order.suggested"
            },
            title,
            format!(
                "Order {} ({colours}), covered by your contract",
                order.number
            ),
        )
        .await?;
        tx.audit(
            &Actor::system(),
            "order.replenish",
            ("order", Some(order.id.to_string())),
            Some(device.account_id),
            serde_json::json!({ "number": order.number, "equipment": id.0, "colours": colours,
                "status": status, "needs": wanted.iter().map(|(c, n)| format!("{c}: {n:?}")).collect::<Vec<_>>() }),
        )
        .await?;
        swept.orders.push(OrderId(order.id));
    }
    Ok(swept)
}

/// One sweep over every tenant.
pub async fn sweep(db: &Db) -> Result<Swept, DbError> {
    let mut all = Swept::default();
    for tenant in db.list_tenants().await? {
        let done = db
            .tenant(tenant.id)
            .run(async |tx| sweep_tenant(tx).await)
            .await?;
        all.orders.extend(done.orders);
        all.skipped.extend(done.skipped);
    }
    Ok(all)
}

/// Every 15 minutes for as long as the server runs, waking the mail sender when it ordered.
pub async fn run(db: Db, mail: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        match sweep(&db).await {
            Ok(s) if !s.orders.is_empty() => mail.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "toner replenishment failed; trying again"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(900)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000 * DAY_MS;

    /// A recorded history: (days before now, percent).
    fn history(points: &[(f64, i64)]) -> Vec<LevelPoint> {
        points
            .iter()
            .map(|(days_ago, percent)| LevelPoint {
                at: NOW - (days_ago * DAY_MS as f64) as i64,
                percent: *percent,
            })
            .collect()
    }

    fn policy() -> Policy {
        Policy::default()
    }

    #[test]
    fn a_cartridge_under_the_threshold_is_low() {
        let h = history(&[(10.0, 60), (5.0, 40), (0.5, 18)]);
        assert_eq!(need(&h, NOW, &policy()), Some(Need::Low { percent: 18 }));
        let h = history(&[(10.0, 60), (0.5, 58)]);
        assert_eq!(need(&h, NOW, &policy()), None);
    }

    #[test]
    fn a_cartridge_running_out_within_the_window_is_ordered_before_it_is_low() {
        // 4 points a day from 50 %: 12.5 days to go, beyond the 10-day window
        let h = history(&[(6.0, 74), (4.0, 66), (2.0, 58), (0.0, 50)]);
        assert_eq!(need(&h, NOW, &policy()), None);
        // 7 points a day from 38 %: 5.4 days
        let fast = history(&[(6.0, 80), (4.0, 66), (2.0, 52), (0.0, 38)]);
        match need(&fast, NOW, &policy()) {
            Some(Need::RunsOut { percent: 38, days }) => {
                assert!((days - 38.0 / 7.0).abs() < 0.01, "{days}")
            }
            other => panic!("{other:?}"),
        }
        let slow = history(&[(30.0, 80), (15.0, 79), (0.0, 78)]);
        assert_eq!(need(&slow, NOW, &policy()), None, "months to go");
        let no_forecast = Policy {
            forecast_days: 0,
            ..policy()
        };
        assert_eq!(
            need(&fast, NOW, &no_forecast),
            None,
            "forecast off: only the threshold"
        );
        let one_day = history(&[(0.9, 80), (0.5, 60), (0.0, 40)]);
        assert_eq!(
            need(&one_day, NOW, &policy()),
            None,
            "a day of reports is too short to forecast"
        );
    }

    #[test]
    fn a_replacement_starts_a_new_cartridge_and_a_shake_does_not() {
        let replaced = history(&[(20.0, 30), (12.0, 8), (11.0, 100), (1.0, 90)]);
        assert_eq!(current_cartridge(&replaced).len(), 2);
        assert_eq!(need(&replaced, NOW, &policy()), None);
        assert_eq!(last_replacement(&replaced), Some(NOW - 11 * DAY_MS));

        // low, shaken (up 10 points for a day), then low again: still the same cartridge
        let shaken = history(&[(5.0, 15), (3.0, 9), (2.0, 19), (1.5, 25), (0.0, 12)]);
        assert_eq!(
            last_replacement(&shaken),
            None,
            "a shake is not a replacement"
        );
        assert_eq!(
            need(&shaken, NOW, &policy()),
            Some(Need::Low { percent: 12 })
        );
        // the bounce itself does not hide a low cartridge
        let bouncing = history(&[(3.0, 12), (0.8, 14), (0.1, 23)]);
        assert_eq!(
            need(&bouncing, NOW, &policy()),
            Some(Need::Low { percent: 14 })
        );
    }

    #[test]
    fn nothing_is_ordered_twice_for_one_empty_cartridge() {
        let low = history(&[(10.0, 40), (1.0, 10)]);
        assert_eq!(hold(&low, true, None, NOW), Some(Hold::OnOrder));
        // delivered three days ago, still the old cartridge in the device
        assert_eq!(
            hold(&low, false, Some(NOW - 3 * DAY_MS), NOW),
            Some(Hold::DeliveredNotInstalled)
        );
        // delivered, put in, and now that one is low: order again
        let again = history(&[(40.0, 5), (39.0, 100), (1.0, 10)]);
        assert_eq!(hold(&again, false, Some(NOW - 41 * DAY_MS), NOW), None);
        // just replaced: a stale low report is not trusted
        let stale = history(&[(3.0, 4), (1.0, 100), (0.5, 6)]);
        assert_eq!(hold(&stale, false, None, NOW), Some(Hold::JustReplaced));
        assert_eq!(hold(&low, false, None, NOW), None);
    }
}
