//! Sharp status mails. MX models: first line `YYYY/MM/DD HH:MM:SS`, `Key: value` device
//! lines, counters as `Label = n`; no overall total line (none is invented). AR models:
//! `Copy Count =`, `Print Count =`, `Total Count =`. Alert mails carry no counters.

use crate::email::report::{Builder, DeviceReading, Fields};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

const SERIAL: &[&str] = &["Serial Number", "Numéro de Série", "Seriennummer"];
const MODEL: &[&str] = &["Device Model", "Modèle du périphérique", "Gerätemodell"];

/// Counter name → labels (MX first, then AR).
const COUNTERS: &[(&str, &[&str])] = &[
    ("mono", &["Black & White Total Print Count"]),
    (
        "color",
        &["Color Total Print Count", "Full Color Total Print Count"],
    ),
    ("color_single", &["Single Color Total Print Count"]),
    ("copy_mono", &["Black & White Copy Count"]),
    ("copy_color", &["Full Color Copy Count"]),
    ("print_mono", &["Black & White Print Count"]),
    ("print_color", &["Full Color Print Count"]),
];

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let lower = text.to_lowercase();
    if !lower.contains("device counter information") && !lower.contains("total count =") {
        return Vec::new();
    }
    let devices = Fields::parse(text, &[':']);
    let counts = Fields::parse(text, &['=']);
    let Some(mut b) = devices.get(SERIAL).and_then(|s| Builder::new(s, 0.97)) else {
        return Vec::new();
    };
    let local = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .and_then(time::parse_local);
    b = b.model(devices.get(MODEL)).read_locally(local, header);
    for (name, labels) in COUNTERS {
        b = b.counter(name, counts.get(labels));
    }
    if let Some(total) = counts.get(&["Total Count"]) {
        // AR: a mono model whose total is copy + print
        b = b
            .counter("total", Some(total))
            .counter("mono", Some(total))
            .counter("copy_mono", counts.get(&["Copy Count"]))
            .counter("print_mono", counts.get(&["Print Count"]));
    }
    b.build().into_iter().collect()
}
