//! Meter readings as stored: every value with its source, evidence, decision and reasons.
//! Deciding is the ingest pipeline's job; this module keeps what it decided, once per
//! idempotency key.

pub mod http;
pub mod pages;
mod store;
pub mod submit;

pub use store::ReadingQuery;

use crate::ids::{AgentId, EquipmentId, EvidenceId, ReadingId, UserId};
use ingest::domain::{MeterKind, MeterValue, ReadingSource, ReadingStatus, Reason};

#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub id: ReadingId,
    pub equipment_id: EquipmentId,
    pub meter_kind: MeterKind,
    pub segment: i64,
    pub value: MeterValue,
    pub read_at: i64,
    pub received_at: i64,
    pub source: ReadingSource,
    pub status: ReadingStatus,
    pub reasons: Vec<Reason>,
    pub confidence: Option<f64>,
    pub evidence_id: Option<EvidenceId>,
    pub idempotency_key: String,
    pub agent_id: Option<AgentId>,
    pub submitted_by: Option<UserId>,
}

/// A decided reading to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReading {
    pub equipment_id: EquipmentId,
    pub meter_kind: MeterKind,
    pub segment: i64,
    pub value: MeterValue,
    pub read_at: i64,
    pub source: ReadingSource,
    pub status: ReadingStatus,
    pub reasons: Vec<Reason>,
    /// Parse or OCR confidence in 0..=1, when the source has one.
    pub confidence: Option<f64>,
    pub evidence_id: Option<EvidenceId>,
    /// The same key twice is the same reading (agent reading ids, message-id + device, …).
    pub idempotency_key: String,
    pub agent_id: Option<AgentId>,
    pub submitted_by: Option<UserId>,
}

/// What storing a reading did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    New(Reading),
    /// A reading with this idempotency key existed already; it is returned unchanged so the
    /// caller can tell a harmless re-send from a conflicting one.
    Duplicate(Reading),
}

/// Where a stored number came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub id: EvidenceId,
    /// snmp, mqtt, email, photo, manual, technician or estimate
    pub kind: String,
    pub summary: String,
    pub payload: Option<String>,
    /// The stored file it was read from (a photo), if any.
    pub file_id: Option<i64>,
    pub created_at: i64,
}
