//! When was it read? A read time in the future is a device (or agent) clock problem; a very old
//! one is a reading that should have come long ago. Either way, a person looks.

use crate::domain::Outcome;
use crate::pipeline::{DAY_MS, Finding, Input, date};

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let s = input.submission;
    let ahead_ms = s.read_at - s.received_at;
    let mut out = Vec::new();
    if ahead_ms > input.config.future_tolerance_minutes * 60_000 {
        out.push(Finding::all(
            Outcome::Flag,
            format!(
                "read time {} is {} minutes ahead of the server: check the device clock",
                date(s.read_at),
                ahead_ms / 60_000
            ),
        ));
    }
    let age_days = (s.received_at - s.read_at) as f64 / DAY_MS;
    if age_days > input.config.max_age_days as f64 {
        out.push(Finding::all(
            Outcome::Flag,
            format!(
                "read on {}, {} days before it arrived",
                date(s.read_at),
                age_days.floor()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReadingSource;
    use crate::pipeline::testing::*;

    #[test]
    fn small_skew_passes_future_and_stale_times_are_flagged() {
        let at = |t| submission(ReadingSource::AgentSnmp, t, &[("total", 1)]);
        assert!(
            run(check, &at(NOW + 5 * 60_000), &known()).is_empty(),
            "5 minutes of skew is normal"
        );
        assert!(run(check, &at(NOW - 30 * DAY), &known()).is_empty());
        let future = run(check, &at(NOW + 3 * 3_600_000), &known());
        assert_eq!(outcomes(&future), [Outcome::Flag]);
        assert!(
            future[0].message.contains("180 minutes ahead"),
            "{}",
            future[0].message
        );
        assert_eq!(
            outcomes(&run(check, &at(NOW - 200 * DAY), &known())),
            [Outcome::Flag]
        );
    }
}
