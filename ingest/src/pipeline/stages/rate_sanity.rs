//! Pages per day against what this device does: its three-month average, else its model's
//! rated monthly volume, with a buffer. More pages than the device can physically print at its
//! rated speed is rejected outright; merely unusual volume goes to review (an added digit —
//! 123456 read as 1234567 — lands here).

use crate::domain::{MeterKind, Outcome};
use crate::pipeline::{DAY_MS, Finding, Input, date};

/// Counters the print engine drives; scan and fax counters are not bounded by print speed.
fn printed(kind: &MeterKind) -> bool {
    matches!(kind.as_str(), "total" | "mono" | "color" | "print" | "copy")
}

/// Clocks of agents and devices differ by minutes; the physical bound allows for that.
const SKEW_MS: i64 = 10 * 60_000;

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let s = input.submission;
    let cfg = input.config;
    let device = input.device();
    let mut out = Vec::new();
    for c in &s.counters {
        let Some(meter) = input.meter(&c.kind) else {
            continue;
        };
        let Some(before) = meter.before else { continue };
        if c.value <= before.value || s.read_at <= before.read_at {
            continue; // nothing printed, or not later: the monotonic and dedupe stages speak
        }
        let pages = c.value.get() - before.value.get();
        let elapsed = s.read_at - before.read_at;
        let since = date(before.read_at);

        if let Some(ppm) = device
            .and_then(|d| d.rated_ppm)
            .filter(|_| printed(&c.kind))
        {
            let possible = i64::from(ppm) * ((elapsed + SKEW_MS) / 60_000);
            if pages > possible {
                out.push(Finding::on(
                    &c.kind,
                    Outcome::Reject,
                    format!(
                        "{pages} pages since {since} is more than the device can print at its rated {ppm} pages per minute"
                    ),
                ));
                continue;
            }
        }

        // under a day, allow a whole day's worth: printing comes in bursts
        let days = (elapsed as f64 / DAY_MS).max(1.0);
        let rate = pages as f64 / days;
        let expected = meter
            .avg_daily_pages
            .map(|e| (e, "its 3-month average"))
            .or_else(|| {
                device
                    .and_then(|d| d.rated_monthly_volume)
                    .map(|v| (v as f64 / 30.4, "its model's rated volume"))
            });
        match expected {
            Some((per_day, basis)) => {
                let allowed = (per_day * cfg.rate_buffer).max(cfg.min_allowed_daily_pages);
                if rate > allowed {
                    out.push(Finding::on(
                        &c.kind,
                        Outcome::Flag,
                        format!("{rate:.0} pages a day since {since}, against {per_day:.0} a day from {basis}"),
                    ));
                }
            }
            None if rate > cfg.unknown_rate_daily_pages => out.push(Finding::on(
                &c.kind,
                Outcome::Flag,
                format!("{rate:.0} pages a day since {since}, with no history or rated volume to compare"),
            )),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::*;
    use crate::pipeline::{DeviceMatch, Facts, MeterFacts};

    fn with_avg(last: i64, at: i64, avg: Option<f64>) -> MeterFacts {
        MeterFacts {
            avg_daily_pages: avg,
            ..before(last, at)
        }
    }

    fn check_total(value: i64, meter: MeterFacts, facts: Facts) -> Vec<Finding> {
        run(
            check,
            &snmp(&[("total", value)]),
            &facts.with("total", meter),
        )
    }

    #[test]
    fn normal_volume_passes_against_history_or_rated_volume() {
        // 30 days at ~300/day against a 300/day average
        assert!(
            check_total(
                109_000,
                with_avg(100_000, NOW - 30 * DAY, Some(300.0)),
                known()
            )
            .is_empty()
        );
        // no history: rated 10,000/month ≈ 329/day, buffer 3
        assert!(check_total(120_000, with_avg(100_000, NOW - 30 * DAY, None), known()).is_empty());
        // a burst within the hour is judged against a whole day's allowance
        assert!(
            check_total(
                100_500,
                with_avg(100_000, NOW - 3_600_000, Some(300.0)),
                known()
            )
            .is_empty()
        );
    }

    #[test]
    fn an_added_digit_is_flagged_and_the_physically_impossible_rejected() {
        // 1.1 million pages in 30 days: a 30 ppm device could only just do it non-stop
        let f = check_total(
            1_234_567,
            with_avg(123_000, NOW - 30 * DAY, Some(400.0)),
            known(),
        );
        assert_eq!(outcomes(&f), [Outcome::Flag]);
        assert!(
            f[0].message
                .contains("against 400 a day from its 3-month average"),
            "{}",
            f[0].message
        );

        // the same jump in one day is beyond 30 ppm × 24 h: rejected
        let f = check_total(
            1_234_567,
            with_avg(123_000, NOW - DAY, Some(400.0)),
            known(),
        );
        assert_eq!(outcomes(&f), [Outcome::Reject]);
        assert!(
            f[0].message.contains("rated 30 pages per minute"),
            "{}",
            f[0].message
        );

        // without a rated speed, the same day is only flagged
        let mut unrated = known();
        if let DeviceMatch::Known(d) = &mut unrated.device {
            d.rated_ppm = None;
        }
        let f = check_total(
            1_234_567,
            with_avg(123_000, NOW - DAY, Some(400.0)),
            unrated,
        );
        assert_eq!(outcomes(&f), [Outcome::Flag]);
    }

    #[test]
    fn with_nothing_to_compare_only_extreme_rates_are_flagged() {
        let bare = Facts {
            device: DeviceMatch::Unknown {
                reported: "x".into(),
            },
            ..known()
        };
        assert!(
            check_total(
                150_000,
                with_avg(100_000, NOW - 30 * DAY, None),
                bare.clone()
            )
            .is_empty()
        );
        let f = check_total(1_100_000, with_avg(100_000, NOW - 30 * DAY, None), bare);
        assert_eq!(outcomes(&f), [Outcome::Flag]);
        assert!(f[0].message.contains("no history"), "{}", f[0].message);
    }

    #[test]
    fn scan_counters_are_not_bounded_by_print_speed() {
        let sub = snmp(&[("scan", 200_000)]);
        let facts = known().with("scan", with_avg(100_000, NOW - DAY, None));
        let f = run(check, &sub, &facts);
        assert_eq!(
            outcomes(&f),
            [Outcome::Flag],
            "unusual, so reviewed, but not impossible"
        );
    }
}
