//! Counters only count up. A value below the last accepted one is never negative usage: it is a
//! misread, a counter reset (controller replaced) or a 32-bit wrap, and a person decides which;
//! a confirmed reset starts a new meter segment.

use crate::domain::{MeterValue, Outcome};
use crate::pipeline::{Finding, Input, Point, date};

const U32_SPAN: i64 = 1 << 32;

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &input.submission.counters {
        let Some(meter) = input.meter(&c.kind) else {
            continue;
        };
        if let Some(before) = meter.before
            && c.value < before.value
        {
            out.push(Finding::on(
                &c.kind,
                Outcome::Flag,
                explain_drop(before, c.value),
            ));
        }
        if let Some(after) = meter.after
            && c.value > after.value
        {
            out.push(Finding::on(
                &c.kind,
                Outcome::Flag,
                format!(
                    "higher than the later reading {} of {}: one of the two is wrong",
                    after.value,
                    date(after.read_at)
                ),
            ));
        }
    }
    out
}

fn digits(n: i64) -> usize {
    n.max(1).ilog10() as usize + 1
}

fn explain_drop(before: Point, now: MeterValue) -> String {
    let (b, n) = (before.value.get(), now.get());
    let base = format!(
        "lower than the last accepted reading {b} of {}",
        date(before.read_at)
    );
    if (U32_SPAN / 10 * 9..U32_SPAN).contains(&b) && n < U32_SPAN / 10 {
        format!(
            "{base}: a 32-bit counter may have wrapped (that would be {} pages); confirm before billing",
            n + U32_SPAN - b
        )
    } else if digits(n) < digits(b) && n >= b / 10 {
        format!("{base}: a digit looks lost ({n} has fewer digits than {b})")
    } else if n < 1_000 || n < b / 100 {
        format!(
            "{base}: possible counter reset (controller replaced?); confirm it to start a new meter segment"
        )
    } else {
        format!("{base}: counters only count up")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::MeterFacts;
    use crate::pipeline::testing::*;

    fn flagged(value: i64, facts: MeterFacts) -> Vec<Finding> {
        run(
            check,
            &snmp(&[("total", value)]),
            &known().with("total", facts),
        )
    }

    #[test]
    fn equal_or_higher_passes() {
        assert!(flagged(1_000, before(1_000, NOW - DAY)).is_empty());
        assert!(flagged(1_500, before(1_000, NOW - DAY)).is_empty());
        assert!(
            run(check, &snmp(&[("total", 1)]), &known()).is_empty(),
            "no history: nothing to compare"
        );
    }

    #[test]
    fn every_drop_goes_to_review_with_its_likely_cause() {
        let cases = [
            (12_456, 123_456, "digit looks lost"),
            (37, 250_000, "counter reset"),
            (
                1_200,
                4_294_960_000,
                "32-bit counter may have wrapped (that would be 8496 pages)",
            ),
            (240_000, 250_000, "only count up"),
        ];
        for (now, last, cause) in cases {
            let f = flagged(now, before(last, NOW - DAY));
            assert_eq!(outcomes(&f), [Outcome::Flag], "{now} after {last}");
            assert!(
                f[0].message.contains(cause),
                "{now} after {last}: {}",
                f[0].message
            );
        }
    }

    #[test]
    fn a_late_reading_must_fit_between_its_neighbours() {
        let around = MeterFacts {
            before: Some(point(1_000, NOW - 2 * DAY)),
            after: Some(point(2_000, NOW + DAY)),
            ..MeterFacts::default()
        };
        assert!(flagged(1_500, around.clone()).is_empty());
        let f = flagged(2_500, around);
        assert_eq!(outcomes(&f), [Outcome::Flag]);
        assert!(
            f[0].message.contains("later reading 2000"),
            "{}",
            f[0].message
        );
    }
}
