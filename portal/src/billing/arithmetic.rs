//! The arithmetic of an invoice, apart from where its numbers come from: pages counted between
//! two readings of a counter (across confirmed counter resets), what a contract's rates make
//! of them per device or pooled, and the one rounding per line. Money is integer: cents on
//! invoices, thousandths of a cent (millicents) for per-page prices, so 0.8 ¢ a page is 800
//! and 12,345 pages at 0.8 ¢ are 9,876 ¢ exactly — rounded half away from zero once, on the
//! line, never per page.

use std::collections::BTreeMap;

/// Millicents in a cent.
pub const MILLICENTS: i64 = 1_000;

/// `quantity × millicents` in cents, rounded half away from zero.
pub fn line_cents(quantity: i64, millicents: i64) -> i64 {
    let m = i128::from(quantity) * i128::from(millicents);
    let half = i128::from(MILLICENTS / 2);
    let cents = if m >= 0 {
        (m + half) / i128::from(MILLICENTS)
    } else {
        (m - half) / i128::from(MILLICENTS)
    };
    i64::try_from(cents).unwrap_or(if cents > 0 { i64::MAX } else { i64::MIN })
}

/// A reading as billing uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The reading's id; 0 for an estimate, which is no reading.
    pub id: i64,
    /// Which counter segment: a confirmed reset starts the next one.
    pub segment: i64,
    pub value: i64,
    /// An estimate, made because no reading came in time; the next cycle trues it up.
    pub estimated: bool,
}

/// Pages counted from `start` to `end` of one counter. `last_of` gives the last value read in
/// each segment from `start`'s up to (not including) `end`'s: a confirmed reset restarts a
/// counter at zero, so each later segment counts from 0. Negative only when `start` was an
/// estimate above what the counter then showed (see [`Usage::true_up`]).
pub fn pages(start: Read, end: Read, last_of: &BTreeMap<i64, i64>) -> i64 {
    if end.segment == start.segment {
        return end.value - start.value;
    }
    let mut total = last_of.get(&start.segment).copied().unwrap_or(start.value) - start.value;
    for segment in (start.segment + 1)..end.segment {
        total += last_of.get(&segment).copied().unwrap_or(0);
    }
    total + end.value
}

/// One device's counter over a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub equipment: i64,
    pub device: String,
    pub meter_kind: String,
    pub start: Read,
    pub end: Read,
    pub pages: i64,
    /// When `start` was last cycle's estimate: the overage pages that estimate was charged
    /// for, the most a true-up may credit back.
    pub estimated_overage: i64,
}

impl Usage {
    /// Pages the last cycle's estimate over-counted, to credit (0 when the estimate was low:
    /// those pages are simply in this cycle's usage).
    pub fn true_up(&self) -> i64 {
        if self.start.estimated && self.pages < 0 {
            (-self.pages).min(self.estimated_overage)
        } else {
            0
        }
    }
}

/// A contract's price for one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub meter_kind: String,
    /// Pages included in the base charge: per device, or for the whole pool.
    pub included_pages: i64,
    pub overage_millicents: i64,
}

/// How a contract's included pages are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Each device has its own included pages.
    PerDevice,
    /// The contract's devices share them.
    Pooled,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// base, usage (within what is included: 0), overage or true_up (a credit)
    pub kind: &'static str,
    pub description: String,
    pub equipment: Option<i64>,
    pub meter_kind: Option<String>,
    /// The counter values the line was computed from (a device's lines only).
    pub span: Option<(Read, Read)>,
    pub quantity: i64,
    pub unit_millicents: i64,
    pub amount_cents: i64,
    pub estimated: bool,
}

fn usage_line(u: &Usage, included: Option<i64>) -> Line {
    Line {
        kind: "usage",
        description: match included {
            Some(i) => format!(
                "{}: {} pages ({} → {}), {} included",
                u.device,
                u.pages.max(0),
                u.start.value,
                u.end.value,
                i
            ),
            None => format!(
                "{}: {} pages ({} → {})",
                u.device,
                u.pages.max(0),
                u.start.value,
                u.end.value
            ),
        },
        equipment: Some(u.equipment),
        meter_kind: Some(u.meter_kind.clone()),
        span: Some((u.start, u.end)),
        quantity: u.pages.max(0),
        unit_millicents: 0,
        amount_cents: 0,
        estimated: u.end.estimated,
    }
}

/// The lines a contract makes of a cycle's usage: the base charge, a usage line per device
/// and counter naming its readings, overage per device or for the pool, and true-up credits.
pub fn lines(kind: Kind, base_cents: i64, rates: &[Rate], usage: &[Usage]) -> Vec<Line> {
    let mut out = Vec::new();
    if base_cents > 0 {
        out.push(Line {
            kind: "base",
            description: "Base charge".into(),
            equipment: None,
            meter_kind: None,
            span: None,
            quantity: 1,
            unit_millicents: base_cents * MILLICENTS,
            amount_cents: base_cents,
            estimated: false,
        });
    }
    for rate in rates {
        let of_kind: Vec<&Usage> = usage
            .iter()
            .filter(|u| u.meter_kind == rate.meter_kind)
            .collect();
        let overage = |pages: i64, what: String, u: Option<&Usage>, estimated: bool| Line {
            kind: "overage",
            description: what,
            equipment: u.map(|u| u.equipment),
            meter_kind: Some(rate.meter_kind.clone()),
            span: u.map(|u| (u.start, u.end)),
            quantity: pages,
            unit_millicents: rate.overage_millicents,
            amount_cents: line_cents(pages, rate.overage_millicents),
            estimated,
        };
        match kind {
            Kind::PerDevice => {
                for u in &of_kind {
                    out.push(usage_line(u, Some(rate.included_pages)));
                    let over = u.pages - rate.included_pages;
                    if over > 0 {
                        out.push(overage(
                            over,
                            format!(
                                "{}: {} pages over {} included",
                                u.device, over, rate.included_pages
                            ),
                            Some(u),
                            u.end.estimated,
                        ));
                    }
                }
            }
            Kind::Pooled => {
                for u in &of_kind {
                    out.push(usage_line(u, None));
                }
                let total: i64 = of_kind.iter().map(|u| u.pages.max(0)).sum();
                let over = total - rate.included_pages;
                if over > 0 {
                    out.push(overage(
                        over,
                        format!(
                            "{} pages in the pool of {} devices, {} over {} included",
                            total,
                            of_kind.len(),
                            over,
                            rate.included_pages
                        ),
                        None,
                        of_kind.iter().any(|u| u.end.estimated),
                    ));
                }
            }
        }
        for u in &of_kind {
            let credit = u.true_up();
            if credit > 0 {
                out.push(Line {
                    kind: "true_up",
                    description: format!(
                        "{}: last cycle's estimate counted {} pages too many",
                        u.device, credit
                    ),
                    equipment: Some(u.equipment),
                    meter_kind: Some(rate.meter_kind.clone()),
                    span: Some((u.start, u.end)),
                    quantity: -credit,
                    unit_millicents: rate.overage_millicents,
                    amount_cents: line_cents(-credit, rate.overage_millicents),
                    estimated: false,
                });
            }
        }
    }
    out
}

/// An end reading for a counter that sent none in time: the last one plus its average daily
/// pages over the days since (rounded down: an estimate never charges a page in doubt).
pub fn estimate(last_value: i64, average_per_day: f64, days: f64) -> i64 {
    let more = (average_per_day.max(0.0) * days.max(0.0)).floor();
    last_value.saturating_add(more as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(id: i64, segment: i64, value: i64) -> Read {
        Read {
            id,
            segment,
            value,
            estimated: false,
        }
    }

    fn usage(equipment: i64, kind: &str, start: Read, end: Read, pages: i64) -> Usage {
        Usage {
            equipment,
            device: format!("D{equipment}"),
            meter_kind: kind.into(),
            start,
            end,
            pages,
            estimated_overage: 0,
        }
    }

    #[test]
    fn money_is_rounded_once_per_line_half_away_from_zero() {
        let cases = [
            (12_345, 800, 9_876),  // 9,876.0
            (1, 800, 1),           // 0.8 ¢ → 1 ¢
            (1, 499, 0),           // 0.499 ¢ → 0
            (1, 500, 1),           // half → up
            (3, 1_166, 3),         // 3.498 → 3 (not 3 × 1)
            (1_000, 1_166, 1_166), // exactly
            (-3, 500, -2),         // a credit of 1.5 ¢ → 2 ¢
            (0, 800, 0),
        ];
        for (quantity, millicents, cents) in cases {
            assert_eq!(
                line_cents(quantity, millicents),
                cents,
                "{quantity} × {millicents}"
            );
        }
        // per page, 3 pages at 0.4 ¢ would round to 0 each; per line they are 1 ¢
        assert_eq!(line_cents(3, 400), 1);
        assert_eq!(
            line_cents(i64::MAX, 1_000_000),
            i64::MAX,
            "saturates instead of wrapping"
        );
    }

    #[test]
    fn pages_are_counted_across_confirmed_resets() {
        let no_resets = BTreeMap::new();
        assert_eq!(
            pages(read(1, 0, 10_000), read(2, 0, 12_500), &no_resets),
            2_500
        );
        // reset in the cycle: 10,000 → 10,400 before it, 0 → 300 after
        let last_of = BTreeMap::from([(0, 10_400)]);
        assert_eq!(pages(read(1, 0, 10_000), read(2, 1, 300), &last_of), 700);
        // two resets: the middle segment counted whole from 0
        let last_of = BTreeMap::from([(0, 10_400), (1, 250)]);
        assert_eq!(
            pages(read(1, 0, 10_000), read(2, 2, 40), &last_of),
            400 + 250 + 40
        );
        // a segment with no reading of its own before the end counts nothing
        assert_eq!(
            pages(read(1, 0, 10_000), read(2, 1, 300), &BTreeMap::new()),
            300
        );
    }

    #[test]
    fn per_device_contracts_include_pages_per_device() {
        let rates = [Rate {
            meter_kind: "mono".into(),
            included_pages: 1_000,
            overage_millicents: 800,
        }];
        let u = [
            usage(1, "mono", read(1, 0, 0), read(2, 0, 1_500), 1_500),
            usage(2, "mono", read(3, 0, 0), read(4, 0, 600), 600),
            usage(2, "color", read(5, 0, 0), read(6, 0, 90), 90),
        ];
        let l = lines(Kind::PerDevice, 4_900, &rates, &u);
        let kinds: Vec<&str> = l.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            ["base", "usage", "overage", "usage"],
            "colour has no rate: not billed"
        );
        assert_eq!(l[2].quantity, 500);
        assert_eq!(l[2].amount_cents, 400);
        let (from, to) = l[2].span.unwrap();
        assert_eq!((from.id, to.id), (1, 2), "the readings used");
        assert_eq!(l.iter().map(|l| l.amount_cents).sum::<i64>(), 4_900 + 400);
    }

    #[test]
    fn pooled_contracts_share_their_included_pages() {
        let rates = [Rate {
            meter_kind: "mono".into(),
            included_pages: 2_000,
            overage_millicents: 800,
        }];
        let u = [
            usage(1, "mono", read(1, 0, 0), read(2, 0, 1_500), 1_500),
            usage(2, "mono", read(3, 0, 0), read(4, 0, 600), 600),
        ];
        let l = lines(Kind::Pooled, 0, &rates, &u);
        let kinds: Vec<&str> = l.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["usage", "usage", "overage"]);
        assert_eq!(
            (l[2].quantity, l[2].amount_cents),
            (100, 80),
            "2,100 pages, 100 over the pool"
        );
        // the same usage per device would have billed 500 pages
        let per_device = lines(
            Kind::PerDevice,
            0,
            &[Rate {
                included_pages: 1_000,
                ..rates[0].clone()
            }],
            &u,
        );
        assert_eq!(per_device.iter().map(|l| l.amount_cents).sum::<i64>(), 400);
        // a pool under its included pages costs nothing beyond the base
        let small = [usage(1, "mono", read(1, 0, 0), read(2, 0, 10), 10)];
        assert!(
            lines(Kind::Pooled, 0, &rates, &small)
                .iter()
                .all(|l| l.amount_cents == 0)
        );
    }

    #[test]
    fn an_estimate_is_marked_and_trued_up_next_cycle() {
        let rates = [Rate {
            meter_kind: "mono".into(),
            included_pages: 1_000,
            overage_millicents: 1_000,
        }];
        // cycle 1: no reading came; 30 days at 50 a day on top of 10,000
        let est = estimate(10_000, 50.0, 30.0);
        assert_eq!(est, 11_500);
        let estimated_end = Read {
            id: 9,
            segment: 0,
            value: est,
            estimated: true,
        };
        let c1 = lines(
            Kind::PerDevice,
            0,
            &rates,
            &[usage(1, "mono", read(1, 0, 10_000), estimated_end, 1_500)],
        );
        assert!(c1.iter().all(|l| l.estimated), "{c1:?}");
        assert_eq!(c1[1].amount_cents, 500);

        // cycle 2, the estimate was low: the rest is simply in this cycle's usage
        let low = usage(1, "mono", estimated_end, read(10, 0, 13_000), 1_500);
        assert_eq!(low.true_up(), 0);

        // cycle 2, the estimate was 300 pages high and the month was quiet: 300 credited at
        // the overage rate, as those were charged as overage
        let mut high = usage(1, "mono", estimated_end, read(10, 0, 11_200), -300);
        high.estimated_overage = 500;
        let c2 = lines(Kind::PerDevice, 0, &rates, &[high.clone()]);
        let credit: Vec<&Line> = c2.iter().filter(|l| l.kind == "true_up").collect();
        assert_eq!(credit.len(), 1);
        assert_eq!((credit[0].quantity, credit[0].amount_cents), (-300, -300));
        // never more than the estimate was charged for
        high.estimated_overage = 100;
        assert_eq!(high.true_up(), 100);
        assert_eq!(
            estimate(10_000, -5.0, 30.0),
            10_000,
            "a counter never runs backwards"
        );
    }
}
