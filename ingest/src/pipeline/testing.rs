//! Builders for stage tests: a submission and the facts around it in a line or two.

use super::*;

/// 2026-03-01T00:00:00Z
pub const NOW: i64 = 1_772_323_200_000;
pub const DAY: i64 = 86_400_000;

pub fn kind(code: &str) -> MeterKind {
    MeterKind::parse(code).unwrap()
}

pub fn submission(source: ReadingSource, read_at: i64, counters: &[(&str, i64)]) -> Submission {
    Submission {
        source,
        read_at,
        received_at: NOW,
        counters: counters
            .iter()
            .map(|(k, v)| Counter {
                kind: kind(k),
                value: MeterValue::new(*v).unwrap(),
                confidence: None,
            })
            .collect(),
    }
}

pub fn snmp(counters: &[(&str, i64)]) -> Submission {
    submission(ReadingSource::AgentSnmp, NOW, counters)
}

pub fn point(value: i64, read_at: i64) -> Point {
    Point {
        value: MeterValue::new(value).unwrap(),
        read_at,
    }
}

pub fn known() -> Facts {
    Facts {
        device: DeviceMatch::Known(DeviceFacts {
            equipment_id: EquipmentId(7),
            matched_by: MatchedBy::Serial,
            rated_ppm: Some(30),
            rated_monthly_volume: Some(10_000),
        }),
        meters: BTreeMap::new(),
    }
}

impl Facts {
    pub fn with(mut self, code: &str, meter: MeterFacts) -> Self {
        self.meters.insert(kind(code), meter);
        self
    }
}

pub fn before(value: i64, read_at: i64) -> MeterFacts {
    MeterFacts {
        before: Some(point(value, read_at)),
        ..MeterFacts::default()
    }
}

pub fn run(stage: fn(Input<'_>) -> Vec<Finding>, sub: &Submission, facts: &Facts) -> Vec<Finding> {
    stage(Input {
        submission: sub,
        facts,
        config: &PipelineConfig::default(),
    })
}

pub fn outcomes(findings: &[Finding]) -> Vec<Outcome> {
    findings.iter().map(|f| f.outcome).collect()
}
