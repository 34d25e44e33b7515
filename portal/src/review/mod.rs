//! The review queue: readings the pipeline would not take alone, waiting for dealer staff.
//! Staff accept (optionally with a corrected value), reject, or confirm a counter reset, which
//! starts a new meter segment so billing never sees negative usage. Every decision is stored
//! with the reading's reasons and in the audit trail.

pub mod http;
mod store;

use crate::ids::{EquipmentId, ReadingId, UserId};
use ingest::domain::{MeterKind, MeterValue, ReadingSource, ReadingStatus, Reason};

ingest::typed_id!(ReviewItemId);

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReviewItem {
    pub id: ReviewItemId,
    pub status: String,
    pub reading_id: ReadingId,
    pub equipment_id: EquipmentId,
    pub serial: String,
    pub meter_kind: MeterKind,
    pub value: MeterValue,
    pub read_at: i64,
    pub source: ReadingSource,
    pub reading_status: ReadingStatus,
    pub reasons: Vec<Reason>,
    pub corrected_value: Option<i64>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
    pub created_at: i64,
}

/// What a reviewer decides.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Decision {
    /// The reading (or `corrected_value` instead) is right: it becomes accepted.
    Accept {
        #[serde(default)]
        corrected_value: Option<MeterValue>,
        #[serde(default)]
        note: Option<String>,
    },
    /// The reading is wrong: it is kept, rejected, never billed.
    Reject {
        #[serde(default)]
        note: Option<String>,
    },
    /// The counter really restarted (controller replaced): a new meter segment begins here.
    ConfirmReset {
        #[serde(default)]
        note: Option<String>,
    },
}

impl Decision {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Accept {
                corrected_value: None,
                ..
            } => "accepted",
            Self::Accept {
                corrected_value: Some(_),
                ..
            } => "corrected",
            Self::Reject { .. } => "rejected",
            Self::ConfirmReset { .. } => "reset_confirmed",
        }
    }

    pub fn note(&self) -> Option<&str> {
        match self {
            Self::Accept { note, .. } | Self::Reject { note } | Self::ConfirmReset { note } => {
                note.as_deref()
            }
        }
    }
}
