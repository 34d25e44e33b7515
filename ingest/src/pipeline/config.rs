use serde::{Deserialize, Serialize};

/// The thresholds of the validation stages. The defaults lean to review: a person looking at a
/// good number costs little; a wrong number on an invoice costs the dealer its customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// A read time this far past the server's clock is a device clock problem.
    pub future_tolerance_minutes: i64,
    /// Readings older than this are not taken without review.
    pub max_age_days: i64,
    /// Allowed pages per day: the expected rate times this factor…
    pub rate_buffer: f64,
    /// …but never less than this (quiet devices have bursts).
    pub min_allowed_daily_pages: f64,
    /// With no history and no rated volume: more pages per day than this needs a person.
    pub unknown_rate_daily_pages: f64,
    /// Parse/OCR confidence below this goes to review.
    pub min_confidence: f64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            future_tolerance_minutes: 10,
            max_age_days: 120,
            rate_buffer: 3.0,
            min_allowed_daily_pages: 100.0,
            unknown_rate_daily_pages: 3_000.0,
            min_confidence: 0.9,
        }
    }
}
