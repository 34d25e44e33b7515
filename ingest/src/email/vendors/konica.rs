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
        &["Total Counter", "Total", "Gesamtzähler", "Compteur total"],
    ),
    (
        "color",
        &[
            "Total Color Counter",
            "Total Colour Counter",
            "Total Full Color Counter",
            "Color Total Counter",
            "Gesamtzähler Farbe",
            "Compteur total couleur",
        ],
    ),
    (
        "mono",
        &[
            "Total Black Counter",
            "Total Black & White Counter",
            "Black Total Counter",
            "Gesamtzähler Schwarz",
            "Compteur total noir",
        ],
    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_entries_and_other_wordings() {
        let text = "[Model Name], bizhub C250i Studio\r\n[Serial Number], AA2J021006122\r\n[Operating Accumulation Time], 0.0, 5.9,\r\n 12.2, 3.1\r\n[Total Counter],00065210\r\n[Total Full Color Counter],00023015\r\n[Total Black & White Counter],00042195\r\n";
        let r = extract(text, None).pop().unwrap();
        assert_eq!(
            (r.counters["total"], r.counters["color"], r.counters["mono"]),
            (65_210, 23_015, 42_195)
        );
        assert_eq!(r.model, None, "[Model Name] is the admin's text");
    }
}
