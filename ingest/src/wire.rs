//! The agent protocol, version 1: what `printyx-agent` sends and what the server answers.
//!
//! JSON over HTTPS. `POST /api/v1/agent/enroll` trades a one-time code for a token;
//! `POST /api/v1/agent/readings` (bearer token) takes a [`Batch`] and answers a
//! [`BatchResponse`] with one [`ObservationResult`] per observation. Batches and observations
//! carry ids chosen by the agent, so a batch sent twice — or the same observation re-sent in
//! another batch after a crash — is stored once and answered the same.
//!
//! Unknown fields are refused: a field the server does not understand must not be silently
//! dropped from evidence. Later versions bump [`PROTOCOL_VERSION`].

use crate::domain::{MeterKind, Reason};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PROTOCOL_VERSION: u32 = 1;
/// Observations per batch; the agent splits larger uploads.
pub const MAX_OBSERVATIONS: usize = 1_000;
/// Longest id, name or text field.
pub const MAX_TEXT: usize = 256;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    /// The one-time code the dealer gave, e.g. `acme-7KQ4M2XP9TZC`.
    pub code: String,
    pub hostname: String,
    pub agent_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    pub agent_id: i64,
    /// Shown once; the server keeps only its hash. The agent stores it with mode 0600.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    pub protocol: u32,
    /// Chosen by the agent; the same id again is the same batch.
    pub batch_id: String,
    pub agent_version: String,
    /// Agent clock, epoch milliseconds.
    pub sent_at: i64,
    pub observations: Vec<Observation>,
}

/// One device read once: its identity, its counters, supplies, status and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Observation {
    /// Unique per agent, assigned when the reading entered the outbox.
    pub id: String,
    /// When the device was read (agent clock), epoch milliseconds.
    pub read_at: i64,
    pub source: ObservationSource,
    pub device: DeviceIdentity,
    /// Counter values by meter kind (`total`, `mono`, `color`, …).
    #[serde(default)]
    pub meters: BTreeMap<MeterKind, u64>,
    /// Absent when supplies were not polled this time (the meters-only schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplies: Option<Vec<Supply>>,
    /// Absent when alerts were not polled; present and empty means "no alerts", which clears
    /// the device's open alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    /// Raw evidence (SNMP varbinds, the MQTT payload), kept with the reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    /// How sure the reader is of every counter, 0..=1 (an e-mail or photo extractor); absent
    /// where the source is exact (SNMP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ObservationSource {
    Snmp,
    Mqtt,
}

/// What the device said about itself. Identification uses serial, then MAC, then asset tag;
/// the IP address is recorded but never identifies a device on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_object_id: Option<String>,
}

/// A supply as the Printer-MIB reports it. Levels keep their special meanings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Supply {
    pub description: String,
    /// toner, ink, drum, waste_toner, fuser, … (prtMarkerSuppliesType)
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub level: Level,
    pub max_capacity: Level,
    /// level / max_capacity as a percentage, only when both are real numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
}

/// A supply level or capacity: a number, or one of the Printer-MIB's special values, which are
/// never turned into numbers. On the wire: a non-negative integer, or `"other"` (-1),
/// `"unknown"` (-2), `"some_remaining"` (-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Level {
    Value(i64),
    Other,
    Unknown,
    SomeRemaining,
}

impl Level {
    /// From the raw Printer-MIB integer.
    pub fn from_mib(raw: i64) -> Option<Self> {
        match raw {
            -1 => Some(Self::Other),
            -2 => Some(Self::Unknown),
            -3 => Some(Self::SomeRemaining),
            v if v >= 0 => Some(Self::Value(v)),
            _ => None,
        }
    }

    /// The Printer-MIB integer (how storage keeps it).
    pub fn to_mib(self) -> i64 {
        match self {
            Self::Value(v) => v,
            Self::Other => -1,
            Self::Unknown => -2,
            Self::SomeRemaining => -3,
        }
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => s.serialize_i64(*v),
            Self::Other => s.serialize_str("other"),
            Self::Unknown => s.serialize_str("unknown"),
            Self::SomeRemaining => s.serialize_str("some_remaining"),
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) if n >= 0 => Ok(Self::Value(n)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!(
                "level {n}: send the special values as \"other\", \"unknown\" or \"some_remaining\""
            ))),
            Raw::Text(t) => match t.as_str() {
                "other" => Ok(Self::Other),
                "unknown" => Ok(Self::Unknown),
                "some_remaining" => Ok(Self::SomeRemaining),
                other => Err(serde::de::Error::custom(format!("unknown level {other:?}"))),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    /// prtAlertCode or a hrPrinterDetectedErrorState bit name, e.g. `1101`, `no_toner`.
    pub code: String,
    pub severity: AlertSeverity,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchResponse {
    pub batch_id: String,
    pub results: Vec<ObservationResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservationResult {
    pub id: String,
    /// The observation as a whole: the least favourable of its counters' outcomes.
    pub outcome: ResultOutcome,
    pub counters: Vec<CounterResult>,
    /// Observation-level remarks (unknown device, …).
    #[serde(default)]
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CounterResult {
    pub kind: MeterKind,
    pub value: u64,
    pub outcome: ResultOutcome,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ResultOutcome {
    Accepted,
    Duplicate,
    Review,
    Rejected,
}

/// Why a batch is refused as a whole; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("protocol version {0} is not supported (this server speaks {PROTOCOL_VERSION})")]
    Protocol(u32),
    #[error("{0}")]
    Invalid(String),
}

impl Batch {
    /// Checks what serde cannot: sizes, ids, duplicates within the batch.
    pub fn validate(&self) -> Result<(), BatchError> {
        if self.protocol != PROTOCOL_VERSION {
            return Err(BatchError::Protocol(self.protocol));
        }
        let invalid = |m: String| Err(BatchError::Invalid(m));
        if !valid_id(&self.batch_id) {
            return invalid(
                "batch_id must be 1–256 characters of letters, digits and - _ . :".into(),
            );
        }
        if self.agent_version.len() > MAX_TEXT {
            return invalid("agent_version is too long".into());
        }
        if self.observations.is_empty() || self.observations.len() > MAX_OBSERVATIONS {
            return invalid(format!(
                "a batch holds 1 to {MAX_OBSERVATIONS} observations"
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &self.observations {
            if !seen.insert(o.id.as_str()) {
                return invalid(format!(
                    "observation id {} appears twice in the batch",
                    o.id
                ));
            }
            o.validate()?;
        }
        Ok(())
    }
}

impl Observation {
    /// Checks what serde cannot: the id, sizes, and that something other than an IP address
    /// identifies the device.
    pub fn validate(&self) -> Result<(), BatchError> {
        let invalid = |m: String| Err(BatchError::Invalid(m));
        let o = self;
        if !valid_id(&o.id) {
            return invalid(format!(
                "observation id {:?} must be 1–256 characters of letters, digits and - _ . :",
                o.id
            ));
        }
        if o.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return invalid(format!(
                "observation {}: confidence must be within 0..1",
                o.id
            ));
        }
        if o.meters.values().any(|v| i64::try_from(*v).is_err()) {
            return invalid(format!(
                "observation {}: a counter is beyond any page count",
                o.id
            ));
        }
        let id = &o.device;
        let texts = [
            &id.serial,
            &id.mac,
            &id.asset_tag,
            &id.ip,
            &id.vendor,
            &id.model,
            &id.sys_object_id,
        ];
        if texts
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_TEXT))
        {
            return invalid(format!("observation {}: a device field is too long", o.id));
        }
        if id.serial.is_none() && id.mac.is_none() && id.asset_tag.is_none() {
            return invalid(format!(
                "observation {}: the device needs a serial, MAC or asset tag (an IP address does not identify a device)",
                o.id
            ));
        }
        if o.supplies.as_ref().is_some_and(|s| s.len() > 64)
            || o.alerts.as_ref().is_some_and(|a| a.len() > 64)
        {
            return invalid(format!("observation {}: too many supplies or alerts", o.id));
        }
        Ok(())
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_TEXT
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "protocol": 1,
            "batch_id": "b-2026-03-01-0001",
            "agent_version": "0.1.0",
            "sent_at": 1_772_323_200_000_i64,
            "observations": [{
                "id": "obs-1",
                "read_at": 1_772_323_100_000_i64,
                "source": "snmp",
                "device": { "serial": "E174M12345", "mac": "00:1b:a9:12:34:56", "ip": "10.0.0.7" },
                "meters": { "total": 123456, "mono": 100000, "color": 23456 },
                "supplies": [
                    { "description": "Black Toner", "kind": "toner", "color": "black", "level": 45, "max_capacity": 100, "percent": 45 },
                    { "description": "Waste Toner Box", "kind": "waste_toner", "level": "some_remaining", "max_capacity": "unknown" }
                ],
                "alerts": [{ "code": "1104", "severity": "warning", "description": "Toner low" }]
            }]
        })
    }

    #[test]
    fn a_batch_round_trips_and_keeps_special_levels() {
        let batch: Batch = serde_json::from_value(sample()).unwrap();
        batch.validate().unwrap();
        let waste = &batch.observations[0].supplies.as_ref().unwrap()[1];
        assert_eq!(waste.level, Level::SomeRemaining);
        assert_eq!(waste.max_capacity.to_mib(), -2);
        assert_eq!(serde_json::to_value(&batch).unwrap(), sample());
    }

    #[test]
    fn malformed_batches_are_refused_with_a_reason() {
        let with = |path: &[&str], value: serde_json::Value| {
            let mut v = sample();
            let mut cur = &mut v;
            for p in &path[..path.len() - 1] {
                cur = if let Ok(i) = p.parse::<usize>() {
                    &mut cur[i]
                } else {
                    &mut cur[*p]
                };
            }
            cur[path[path.len() - 1]] = value;
            v
        };
        let parse = |v: serde_json::Value| {
            serde_json::from_value::<Batch>(v)
                .map_err(|e| e.to_string())
                .and_then(|b| b.validate().map_err(|e| e.to_string()))
        };
        let cases = [
            (with(&["protocol"], 2.into()), "protocol version 2"),
            (with(&["batch_id"], "has space".into()), "batch_id"),
            (with(&["observations"], serde_json::json!([])), "1 to 1000"),
            (
                with(
                    &["observations", "0", "supplies", "0", "level"],
                    (-3).into(),
                ),
                "some_remaining",
            ),
            (
                with(&["observations", "0", "meters", "total"], (-5).into()),
                "invalid value",
            ),
            (
                with(&["observations", "0", "meters", "Total"], 5.into()),
                "meter kind",
            ),
            (
                with(
                    &["observations", "0", "device"],
                    serde_json::json!({ "ip": "10.0.0.7" }),
                ),
                "does not identify",
            ),
            (
                with(&["observations", "0", "surprise"], true.into()),
                "unknown field",
            ),
            (
                with(&["observations", "0", "meters", "total"], u64::MAX.into()),
                "beyond any page count",
            ),
        ];
        for (value, expect) in cases {
            let err = parse(value).unwrap_err();
            assert!(err.contains(expect), "expected {expect:?} in: {err}");
        }
        let mut twice = sample();
        let first = twice["observations"][0].clone();
        twice["observations"].as_array_mut().unwrap().push(first);
        assert!(parse(twice).unwrap_err().contains("appears twice"));
    }

    #[test]
    fn mib_levels_map_both_ways() {
        for raw in [-3, -2, -1, 0, 75] {
            assert_eq!(Level::from_mib(raw).unwrap().to_mib(), raw);
        }
        assert_eq!(Level::from_mib(-4), None);
    }
}
