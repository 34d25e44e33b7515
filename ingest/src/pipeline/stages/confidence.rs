//! How sure the reader (e-mail parser, OCR) was. Below the threshold, a person confirms.

use crate::domain::Outcome;
use crate::pipeline::{Finding, Input};

pub fn check(input: Input<'_>) -> Vec<Finding> {
    let min = input.config.min_confidence;
    input
        .submission
        .counters
        .iter()
        .filter_map(|c| {
            let conf = c.confidence?;
            (conf < min).then(|| {
                Finding::on(
                    &c.kind,
                    Outcome::Flag,
                    format!("read with confidence {conf:.2} (needs {min:.2})"),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReadingSource;
    use crate::pipeline::testing::*;

    #[test]
    fn low_confidence_is_flagged_exact_sources_have_none() {
        let mut sub = submission(ReadingSource::Photo, NOW, &[("total", 1), ("mono", 1)]);
        sub.counters[0].confidence = Some(0.62);
        sub.counters[1].confidence = Some(0.97);
        let f = run(check, &sub, &known());
        assert_eq!(outcomes(&f), [Outcome::Flag]);
        assert_eq!(f[0].kind.as_ref().unwrap().as_str(), "total");
        assert!(f[0].message.contains("0.62"));
        assert!(run(check, &snmp(&[("total", 1)]), &known()).is_empty());
    }
}
