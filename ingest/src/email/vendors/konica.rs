//! Konica Minolta / Develop "Total Counter Notification": `[Key], value` per line, split on the
//! first comma, zero padding or not. `[Model Name]` is the admin's free text, not the model;
//! `[Send Date]` is a date only, so the reading time is the message's.

use crate::email::report::{Builder, DeviceReading, normalise};
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;

/// Counter name → the keys that state it.
const COUNTERS: &[(&str, &[&str])] = &[
    (
        "total",
        &["Total Counter", "Gesamtzähler", "Compteur total"],
    ),
    (
        "color",
        &[
            "Total Color Counter",
            "Total Colour Counter",
            "Gesamtzähler Farbe",
        ],
    ),
    ("mono", &["Total Black Counter", "Gesamtzähler Schwarz"]),
];
const SERIAL: &[&str] = &["Serial Number", "Seriennummer", "Numéro de série"];

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((key, value)) = rest.split_once(']') else {
            continue;
        };
        let value = value.trim_start().strip_prefix(',').unwrap_or("").trim();
        keys.entry(normalise(key))
            .or_insert_with(|| value.to_owned());
    }
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| keys.get(&normalise(n)).map(String::as_str))
    };
    let Some(mut b) = get(SERIAL).and_then(|s| Builder::new(s, 0.97)) else {
        return Vec::new();
    };
    for (name, labels) in COUNTERS {
        b = b.counter(name, get(labels));
    }
    if !b.has("total") {
        return Vec::new();
    }
    b.read_at(header).build().into_iter().collect()
}
