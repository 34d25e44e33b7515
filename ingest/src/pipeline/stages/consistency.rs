//! Mono plus colour cannot exceed the total. When they do, at least one of the three is wrong,
//! and all three wait for a person.

use crate::domain::{MeterKind, Outcome};
use crate::pipeline::{Finding, Input};

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let value = |k: MeterKind| {
        input
            .submission
            .counters
            .iter()
            .find(|c| c.kind == k)
            .map(|c| (k, c.value.get()))
    };
    let (Some((total_kind, total)), mono, color) = (
        value(MeterKind::total()),
        value(MeterKind::mono()),
        value(MeterKind::color()),
    ) else {
        return vec![];
    };
    let parts: Vec<(MeterKind, i64)> = mono.into_iter().chain(color).collect();
    let sum: i64 = parts.iter().map(|(_, v)| v).sum();
    if sum <= total {
        return vec![];
    }
    let described = parts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" + ");
    let message = format!("{described} is more than the total {total}");
    std::iter::once(total_kind)
        .chain(parts.into_iter().map(|(k, _)| k))
        .map(|k| Finding::on(&k, Outcome::Flag, message.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::*;

    #[test]
    fn parts_within_the_total_pass() {
        assert!(
            run(
                check,
                &snmp(&[("total", 100), ("mono", 60), ("color", 40)]),
                &known()
            )
            .is_empty()
        );
        assert!(run(check, &snmp(&[("total", 100), ("mono", 70)]), &known()).is_empty());
        assert!(
            run(check, &snmp(&[("mono", 70), ("color", 70)]), &known()).is_empty(),
            "no total to compare"
        );
    }

    #[test]
    fn parts_beyond_the_total_flag_every_counter_involved() {
        let f = run(
            check,
            &snmp(&[("total", 100), ("mono", 80), ("color", 40), ("scan", 5)]),
            &known(),
        );
        assert_eq!(outcomes(&f), [Outcome::Flag; 3]);
        let kinds: Vec<&str> = f
            .iter()
            .map(|f| f.kind.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(kinds, ["total", "mono", "color"]);
        assert!(
            f[0].message
                .contains("mono 80 + color 40 is more than the total 100"),
            "{}",
            f[0].message
        );
        assert_eq!(
            outcomes(&run(
                check,
                &snmp(&[("total", 100), ("color", 101)]),
                &known()
            )),
            [Outcome::Flag; 2]
        );
    }
}
