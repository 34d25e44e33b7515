//! The same reading again. (Re-sent idempotency keys never get this far: storage answers them
//! with the stored reading.) What is left is the same counter at the same instant.

use crate::domain::Outcome;
use crate::pipeline::{Finding, Input};

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let read_at = input.submission.read_at;
    input
        .submission
        .counters
        .iter()
        .filter_map(|c| {
            let before = input.meter(&c.kind)?.before?;
            (before.read_at == read_at).then(|| {
                if before.value == c.value {
                    Finding::on(
                        &c.kind,
                        Outcome::Duplicate,
                        "the same value for the same time is already stored",
                    )
                } else {
                    Finding::on(
                        &c.kind,
                        Outcome::Flag,
                        format!(
                            "{} was already accepted for this exact time; this says {}",
                            before.value, c.value
                        ),
                    )
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::*;

    #[test]
    fn same_time_same_value_is_a_duplicate_same_time_other_value_is_a_question() {
        let facts = known().with("total", before(1_000, NOW));
        assert_eq!(
            outcomes(&run(check, &snmp(&[("total", 1_000)]), &facts)),
            [Outcome::Duplicate]
        );
        assert_eq!(
            outcomes(&run(check, &snmp(&[("total", 1_001)]), &facts)),
            [Outcome::Flag]
        );
        // an earlier reading with the same value is not a duplicate: the device was idle
        let idle = known().with("total", before(1_000, NOW - DAY));
        assert!(run(check, &snmp(&[("total", 1_000)]), &idle).is_empty());
    }
}
