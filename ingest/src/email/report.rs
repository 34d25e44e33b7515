//! What an extractor finds: one device's reading, built counter by counter.

use super::time;
use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Serialize;
use std::collections::BTreeMap;

/// One device reading stated by a mail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceReading {
    pub serial: String,
    pub model: Option<String>,
    /// ISO 8601 with offset; `None` for customer replies (the received time stands in).
    pub read_at: Option<String>,
    /// By counter name (`total`, `mono`, `color`, `color_single`, `copy_mono`, …).
    pub counters: BTreeMap<String, u64>,
    /// 0..1: how sure the extractor is that every number is the one named.
    pub confidence: f64,
}

impl DeviceReading {
    /// The read time in epoch milliseconds, when the mail states one.
    pub fn read_at_ms(&self) -> Option<i64> {
        self.read_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    }
}

/// Builds a [`DeviceReading`]; counters are set only from values that parse.
#[derive(Debug, Clone)]
pub struct Builder {
    reading: DeviceReading,
}

impl Builder {
    pub fn new(serial: &str, confidence: f64) -> Option<Self> {
        let serial = serial.trim();
        let valid = (3..=40).contains(&serial.len())
            && serial
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && serial.chars().any(|c| c.is_ascii_digit());
        valid.then(|| Self {
            reading: DeviceReading {
                serial: serial.to_owned(),
                model: None,
                read_at: None,
                counters: BTreeMap::new(),
                confidence,
            },
        })
    }

    pub fn model(mut self, model: Option<&str>) -> Self {
        self.reading.model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        self
    }

    pub fn read_at(mut self, at: Option<DateTime<FixedOffset>>) -> Self {
        self.reading.read_at = at.map(time::format);
        self
    }

    /// The body's local time in the header's zone, or the header's time when the body has
    /// none.
    pub fn read_locally(
        self,
        local: Option<NaiveDateTime>,
        header: Option<DateTime<FixedOffset>>,
    ) -> Self {
        let at = match local {
            Some(local) => time::localise(local, header),
            None => header,
        };
        self.read_at(at)
    }

    /// Sets `name` from a cell or value text; blanks, `-` and `-------` (not applicable) set
    /// nothing.
    pub fn counter(mut self, name: &str, raw: Option<&str>) -> Self {
        if let Some(v) = raw.and_then(super::numbers::meter) {
            self.reading.counters.insert(name.to_owned(), v);
        }
        self
    }

    pub fn value(mut self, name: &str, value: Option<u64>) -> Self {
        if let Some(v) = value {
            self.reading.counters.insert(name.to_owned(), v);
        }
        self
    }

    pub fn has(&self, name: &str) -> bool {
        self.reading.counters.contains_key(name)
    }

    /// The reading, when it states at least one counter.
    pub fn build(self) -> Option<DeviceReading> {
        (!self.reading.counters.is_empty()).then_some(self.reading)
    }
}

/// `Label: value` or `Label = value` lines, labels compared case- and space-insensitively.
#[derive(Debug, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    pub fn parse(text: &str, separators: &[char]) -> Self {
        let mut pairs = Vec::new();
        for line in text.lines() {
            let Some(i) = line.find(|c| separators.contains(&c)) else {
                continue;
            };
            let key = line[..i].trim();
            let value = line[i + 1..].trim();
            if !key.is_empty() {
                pairs.push((normalise(key), value.to_owned()));
            }
        }
        Self { pairs }
    }

    /// The first value under any of `keys`.
    pub fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| {
            let k = normalise(k);
            self.pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.as_str())
        })
    }
}

/// Lower case, runs of spaces as one, for comparing labels.
pub fn normalise(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
