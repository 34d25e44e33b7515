/// What a validation stage said about a reading. Every decision is stored with its reasons so
/// that a dealer (and a customer disputing a bill) can see why a number was taken or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    /// The stage that spoke, e.g. `monotonic`, `rate_sanity`.
    pub stage: String,
    pub outcome: Outcome,
    /// For people: "lower than the last accepted reading (123456 on 2026-10-01)".
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// Passed, with something worth recording.
    Note,
    /// Needs a person: the reading waits in the review queue.
    Flag,
    /// Cannot be right: the reading is refused.
    Reject,
    /// Already stored: the same reading arrived again.
    Duplicate,
}

impl Reason {
    pub fn new(stage: &str, outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            stage: stage.to_owned(),
            outcome,
            message: message.into(),
        }
    }
}
