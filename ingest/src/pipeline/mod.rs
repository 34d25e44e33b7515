//! The validation pipeline: what happens to a reading between "a number arrived" and "this
//! number may be billed".
//!
//! Everything the decision needs is gathered first into [`Facts`] (through the storage ports),
//! then [`decide`] runs the [`STAGES`] in order — each a small pure function with one
//! signature — and turns their findings into a verdict per counter. Reading [`STAGES`] top to
//! bottom tells what is checked. Precision over recall: any doubt sends a counter to review,
//! and every verdict carries the reasons for it.

mod config;
pub mod stages;

pub use config::PipelineConfig;

use crate::domain::{MeterKind, MeterValue, Outcome, ReadingSource, ReadingStatus, Reason};
use crate::ids::EquipmentId;
use std::collections::BTreeMap;

/// Counters read from one device at one moment (one SNMP poll, one e-mail, one photo).
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub source: ReadingSource,
    /// When the device was read (device or agent clock).
    pub read_at: i64,
    /// When the server received it (server clock).
    pub received_at: i64,
    pub counters: Vec<Counter>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    pub kind: MeterKind,
    pub value: MeterValue,
    /// Parse or OCR confidence in 0..=1; `None` where the source is exact (SNMP, typed).
    pub confidence: Option<f64>,
}

/// What is known about the device and its meters, gathered before deciding.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub device: DeviceMatch,
    /// Per meter kind of the submission; a kind missing here has no history.
    pub meters: BTreeMap<MeterKind, MeterFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeviceMatch {
    /// No equipment of the tenant matches: the dealer sees it as a new device; nothing is
    /// billed. `reported` says what identified it (serial, MAC…).
    Unknown {
        reported: String,
    },
    Known(DeviceFacts),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    pub equipment_id: EquipmentId,
    pub matched_by: MatchedBy,
    /// Rated print speed, pages per minute.
    pub rated_ppm: Option<u32>,
    /// The manufacturer's recommended monthly volume.
    pub rated_monthly_volume: Option<u64>,
}

/// How the device was found. Never by IP address alone: addresses move between devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchedBy {
    Serial,
    /// The serial as reported differs from the registered one only by O/0, I/1, case or
    /// separators.
    SerialVariant {
        reported: String,
        registered: String,
    },
    Mac,
    AssetTag,
}

/// One meter's accepted history around the submission's read time, in the current segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterFacts {
    /// The segment a new reading joins (a confirmed counter reset starts the next one).
    pub segment: i64,
    /// The latest accepted reading at or before the read time.
    pub before: Option<Point>,
    /// The earliest accepted reading after the read time (readings can arrive late).
    pub after: Option<Point>,
    /// Average pages per day over the last three months, when there is enough history.
    pub avg_daily_pages: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub value: MeterValue,
    pub read_at: i64,
}

/// What one stage says, about one counter or (kind `None`) about the whole submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Option<MeterKind>,
    pub outcome: Outcome,
    pub message: String,
}

impl Finding {
    pub fn all(outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            kind: None,
            outcome,
            message: message.into(),
        }
    }

    pub fn on(kind: &MeterKind, outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            kind: Some(kind.clone()),
            outcome,
            message: message.into(),
        }
    }
}

/// Everything a stage may look at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub submission: &'a Submission,
    pub facts: &'a Facts,
    pub config: &'a PipelineConfig,
}

impl Input<'_> {
    pub fn meter(&self, kind: &MeterKind) -> Option<&MeterFacts> {
        self.facts.meters.get(kind)
    }

    pub fn device(&self) -> Option<&DeviceFacts> {
        match &self.facts.device {
            DeviceMatch::Known(d) => Some(d),
            DeviceMatch::Unknown { .. } => None,
        }
    }
}

/// A named validation step.
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    pub name: &'static str,
    pub check: fn(Input<'_>) -> Vec<Finding>,
}

/// The stages, in the order they run.
pub const STAGES: &[Stage] = &[
    Stage {
        name: "identify",
        check: stages::identify::check,
    },
    Stage {
        name: "dedupe",
        check: stages::dedupe::check,
    },
    Stage {
        name: "timing",
        check: stages::timing::check,
    },
    Stage {
        name: "monotonic",
        check: stages::monotonic::check,
    },
    Stage {
        name: "rate_sanity",
        check: stages::rate_sanity::check,
    },
    Stage {
        name: "consistency",
        check: stages::consistency::check,
    },
    Stage {
        name: "confidence",
        check: stages::confidence::check,
    },
];

/// The verdict on one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Final; feeds billing.
    Accepted,
    /// Waits for a person in the review queue.
    Review,
    /// Cannot be right; stored with its reasons, never billed.
    Rejected,
    /// Already stored; nothing to do.
    Duplicate,
}

impl Verdict {
    /// How a stored reading records it; a duplicate is not stored again.
    pub fn status(self) -> Option<ReadingStatus> {
        match self {
            Self::Accepted => Some(ReadingStatus::Accepted),
            Self::Review => Some(ReadingStatus::Review),
            Self::Rejected => Some(ReadingStatus::Rejected),
            Self::Duplicate => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CounterDecision {
    pub kind: MeterKind,
    pub value: MeterValue,
    pub verdict: Verdict,
    /// Every finding about this counter, in stage order (notes included).
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub equipment_id: Option<EquipmentId>,
    pub counters: Vec<CounterDecision>,
}

/// Runs every stage and decides each counter: any reject → rejected; else any flag → review;
/// else a duplicate finding → duplicate; else accepted.
pub fn decide(submission: &Submission, facts: &Facts, config: &PipelineConfig) -> Decision {
    let input = Input {
        submission,
        facts,
        config,
    };
    let findings: Vec<(&'static str, Finding)> = STAGES
        .iter()
        .flat_map(|stage| {
            (stage.check)(input)
                .into_iter()
                .map(move |f| (stage.name, f))
        })
        .collect();
    let counters = submission
        .counters
        .iter()
        .map(|c| {
            let reasons: Vec<Reason> = findings
                .iter()
                .filter(|(_, f)| f.kind.as_ref().is_none_or(|k| *k == c.kind))
                .map(|(stage, f)| Reason::new(stage, f.outcome, f.message.clone()))
                .collect();
            let has = |o: Outcome| reasons.iter().any(|r| r.outcome == o);
            let verdict = if has(Outcome::Reject) {
                Verdict::Rejected
            } else if has(Outcome::Flag) {
                Verdict::Review
            } else if has(Outcome::Duplicate) {
                Verdict::Duplicate
            } else {
                Verdict::Accepted
            };
            CounterDecision {
                kind: c.kind.clone(),
                value: c.value,
                verdict,
                reasons,
            }
        })
        .collect();
    Decision {
        equipment_id: input.device().map(|d| d.equipment_id),
        counters,
    }
}

/// Milliseconds in a day, for rates.
pub(crate) const DAY_MS: f64 = 86_400_000.0;

/// A UTC date for messages (`2026-03-01`), from epoch milliseconds.
pub(crate) fn date(ms: i64) -> String {
    // days since 1970-01-01 → civil date (Howard Hinnant's algorithm)
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
