//! The review queue: readings the pipeline would not take alone, waiting for dealer staff.
//! Staff accept (optionally with a corrected value), reject, or confirm a counter reset, which
//! starts a new meter segment so billing never sees negative usage. Every decision is stored
//! with the reading's reasons and in the audit trail.

pub mod http;
pub mod pages;
mod store;

use crate::ids::{EquipmentId, ReadingId, UserId};
use ingest::domain::{MeterKind, MeterValue, ReadingSource, ReadingStatus, Reason};

ingest::typed_id!(ReviewItemId);

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, serde::Deserialize, utoipa::ToSchema)]
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

/// Decides a review item and tells the person who sent the reading (a customer who typed it
/// or photographed it) what became of it. Returns the item and who was notified.
pub async fn decide(
    db: &crate::db::TenantDb,
    p: &crate::auth::Principal,
    id: ReviewItemId,
    decision: &Decision,
) -> Result<(ReviewItem, Vec<UserId>), crate::db::DbError> {
    db.run(async |tx| {
        let item = tx.decide_review(id, decision, &p.actor()).await?;
        let reading = tx.reading(item.reading_id).await?;
        let notified = match reading.submitted_by {
            Some(person) if person != p.user => {
                let what = match decision {
                    Decision::Accept {
                        corrected_value: Some(v),
                        ..
                    } => {
                        format!("was corrected to {} and accepted", v.get())
                    }
                    Decision::Accept { .. } => "was accepted".to_owned(),
                    Decision::Reject { .. } => "was not accepted".to_owned(),
                    Decision::ConfirmReset { .. } => {
                        "was accepted: the counter was reset, a new count starts there".to_owned()
                    }
                };
                let note = decision
                    .note()
                    .map(|n| format!(" Note: {n}"))
                    .unwrap_or_default();
                tx.notify(&crate::notifications::Note {
                    event: "reading.decided",
                    subject: Some(item.equipment_id.0),
                    title: format!("Your {} reading of {} {what}", item.meter_kind, item.serial),
                    body: format!(
                        "The {} reading {} of {} {what}.{note}",
                        item.meter_kind,
                        item.value.get(),
                        item.serial
                    ),
                    link: Some(format!("/equipment/{}", item.equipment_id)),
                    recipients: &[person],
                })
                .await?
            }
            _ => Vec::new(),
        };
        Ok((item, notified))
    })
    .await
}
