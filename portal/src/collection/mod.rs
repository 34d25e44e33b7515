//! Meter collection: the cycle a meter is owed for, which devices still owe one, and asking the
//! account's contacts for it by e-mail (`requests.rs`).
//!
//! An account is billed on its billing day (its active contracts' earliest `billing_day`, the
//! 1st without a contract). The meters for that bill are the ones read in the collection
//! window: the `meters.window_days` days before the billing day, and the day itself. A device
//! owes a meter when the window is open and it has no accepted total read in it. A device an
//! agent reports (within the silence window) will report on its own; the others are the
//! customer's to send — on the meters page, by answering the request e-mail, or with a photo.

pub mod requests;
mod store;

pub use store::DeviceMeter;

use chrono::{Datelike, Days, Months, NaiveDate, TimeZone, Utc};

const DAY_MS: i64 = 86_400_000;

/// Tenant settings of collection, with their defaults and bounds.
pub const WINDOW_DAYS: (&str, u32, std::ops::RangeInclusive<u32>) =
    ("meters.window_days", 7, 1..=20);
pub const REMINDER_DAYS: (&str, u32, std::ops::RangeInclusive<u32>) =
    ("meters.reminder_days", 2, 0..=20);
/// The dealer's meter mailbox (`meters@dealer.example`): requests are answered to
/// `meters+<token>@dealer.example`. Unset, answers go to the sender's address with the token
/// in the subject only.
pub const REPLY_ADDRESS: &str = "meters.reply_address";

/// How a tenant collects meters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub window_days: u32,
    pub reminder_days: u32,
    pub reply_address: Option<ingest::domain::EmailAddress>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            window_days: WINDOW_DAYS.1,
            reminder_days: REMINDER_DAYS.1,
            reply_address: None,
        }
    }
}

/// One collection window, ending with a billing day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub billing_date: NaiveDate,
    /// From this moment a reading counts for the cycle (00:00 UTC, `window_days` before).
    pub opens_at: i64,
    /// The end of the billing day: the meter is late after it.
    pub due_at: i64,
}

fn midnight(d: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .timestamp_millis()
}

impl Cycle {
    /// The cycle whose billing day is today or the next one to come.
    pub fn current(now_ms: i64, billing_day: u32, window_days: u32) -> Cycle {
        let day = billing_day.clamp(1, 28);
        let today = Utc
            .timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or_default()
            .date_naive();
        let this_month = today.with_day(day).unwrap_or(today);
        let billing_date = if today <= this_month {
            this_month
        } else {
            this_month
                .checked_add_months(Months::new(1))
                .unwrap_or(this_month)
        };
        let opens = billing_date
            .checked_sub_days(Days::new(u64::from(window_days)))
            .unwrap_or(billing_date);
        Cycle {
            billing_date,
            opens_at: midnight(opens),
            due_at: midnight(billing_date) + DAY_MS,
        }
    }

    pub fn is_open(&self, now_ms: i64) -> bool {
        now_ms >= self.opens_at
    }

    /// `2026-04`: the cycle's name in `meter_requests.cycle`.
    pub fn label(&self) -> String {
        self.billing_date.format("%Y-%m").to_string()
    }

    /// `April 2026`, as people name it.
    pub fn name(&self) -> String {
        self.billing_date.format("%B %Y").to_string()
    }

    /// `MR-2604-000042`: the reference a request e-mail carries in its subject and body (the
    /// shape the reply reader looks for).
    pub fn reference(&self, request: i64) -> String {
        format!("MR-{}-{request:06}", self.billing_date.format("%y%m"))
    }
}

/// Whether, and from whom, a device's meter is still wanted this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owes {
    /// The window is not open yet, or a meter read in it was accepted.
    Nothing,
    /// An agent reports it; the meter will come on its own.
    Agent,
    /// The customer is to send it.
    Customer,
}

/// What `device` owes in `cycle` at `now`; an agent silent for longer than `silence_ms` no
/// longer counts on.
pub fn owes(device: &DeviceMeter, cycle: &Cycle, now: i64, silence_ms: i64) -> Owes {
    let read_in_window = device.last_total_at.is_some_and(|at| at >= cycle.opens_at);
    if !cycle.is_open(now) || read_in_window {
        Owes::Nothing
    } else if device
        .last_reported_at
        .is_some_and(|at| now - at <= silence_ms)
    {
        Owes::Agent
    } else {
        Owes::Customer
    }
}

/// The devices of one account (or all) whose meter the customer owes now, each with its cycle.
pub async fn owed(
    tx: &mut crate::db::TenantTx,
    account: Option<crate::ids::AccountId>,
    silence_ms: i64,
) -> Result<
    std::collections::BTreeMap<crate::ids::EquipmentId, (DeviceMeter, Cycle)>,
    crate::db::DbError,
> {
    let now = tx.now_ms();
    let settings = tx.collection_settings().await?;
    Ok(tx
        .device_meters(account)
        .await?
        .into_iter()
        .filter_map(|d| {
            let cycle = Cycle::current(now, d.billing_day, settings.window_days);
            (owes(&d, &cycle, now, silence_ms) == Owes::Customer)
                .then_some((d.equipment, (d, cycle)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, EquipmentId};

    fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_cycle_ends_on_the_next_billing_day() {
        let c = Cycle::current(at(2026, 3, 24, 10), 1, 7);
        assert_eq!(c.billing_date, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(c.opens_at, at(2026, 3, 25, 0));
        assert_eq!(c.due_at, at(2026, 4, 2, 0));
        assert!(!c.is_open(at(2026, 3, 24, 23)));
        assert!(c.is_open(at(2026, 3, 25, 0)));
        assert_eq!(
            (c.label().as_str(), c.name().as_str()),
            ("2026-04", "April 2026")
        );
        assert_eq!(c.reference(42), "MR-2604-000042");
        // on the billing day itself, the cycle is still that day's
        let c = Cycle::current(at(2026, 4, 1, 23), 1, 7);
        assert_eq!(c.label(), "2026-04");
        // the day after, the next month's
        assert_eq!(Cycle::current(at(2026, 4, 2, 0), 1, 7).label(), "2026-05");
        // a billing day in the middle of the month, across the year end
        let c = Cycle::current(at(2026, 12, 20, 0), 15, 5);
        assert_eq!(
            c.billing_date,
            NaiveDate::from_ymd_opt(2027, 1, 15).unwrap()
        );
        assert_eq!(c.opens_at, at(2027, 1, 10, 0));
        // days past 28 do not exist every month: held to the 28th
        assert_eq!(
            Cycle::current(at(2026, 2, 1, 0), 31, 7).billing_date,
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
    }

    fn device(last_total_at: Option<i64>, last_reported_at: Option<i64>) -> DeviceMeter {
        DeviceMeter {
            equipment: EquipmentId(1),
            account: AccountId(1),
            serial: "E-1".into(),
            make: "Ricoh".into(),
            model: "MP C3004".into(),
            site: None,
            billing_day: 1,
            last_total: last_total_at.map(|_| 1000),
            last_total_at,
            last_reported_at,
            has_mono: false,
            has_color: false,
        }
    }

    #[test]
    fn a_device_owes_a_meter_only_in_an_open_window_without_one() {
        let now = at(2026, 3, 28, 12);
        let c = Cycle::current(now, 1, 7);
        let hours = 3_600_000;
        let silence = 72 * hours;
        assert_eq!(owes(&device(None, None), &c, now, silence), Owes::Customer);
        assert_eq!(
            owes(&device(Some(at(2026, 3, 20, 0)), None), &c, now, silence),
            Owes::Customer,
            "read before the window opened"
        );
        assert_eq!(
            owes(&device(Some(at(2026, 3, 26, 0)), None), &c, now, silence),
            Owes::Nothing
        );
        assert_eq!(
            owes(&device(None, Some(now - 2 * hours)), &c, now, silence),
            Owes::Agent
        );
        assert_eq!(
            owes(&device(None, Some(now - 100 * hours)), &c, now, silence),
            Owes::Customer,
            "its agent fell silent"
        );
        let early = at(2026, 3, 10, 0);
        assert_eq!(
            owes(
                &device(None, None),
                &Cycle::current(early, 1, 7),
                early,
                silence
            ),
            Owes::Nothing,
            "the window is not open yet"
        );
    }
}
