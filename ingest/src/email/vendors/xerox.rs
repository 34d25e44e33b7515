//! Xerox billing meters: Black / Color / Total Impressions and Total Large Impressions, with
//! dotted leaders or a colon. "Usage Counters" (sheets, images sent) are not billing meters.

use crate::email::report::{Builder, DeviceReading, Fields};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

const COUNTERS: &[(&str, &[&str])] = &[
    (
        "total",
        &[
            "Total Impressions",
            "Total Printed Impressions",
            "Impressions Total",
        ],
    ),
    (
        "mono",
        &[
            "Black Impressions",
            "Black Printed Impressions",
            "Black and White Impressions",
            "Black & White Impressions",
        ],
    ),
    (
        "color",
        &[
            "Color Impressions",
            "Colour Impressions",
            "Color Printed Impressions",
        ],
    ),
    ("large", &["Total Large Impressions"]),
];
const FAMILIES: &[&str] = &[
    "AltaLink",
    "VersaLink",
    "WorkCentre",
    "PrimeLink",
    "Phaser",
    "ColorQube",
    "DocuCentre",
    "ApeosPort",
    "Versant",
];

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    if !text.contains("Impressions") {
        return Vec::new();
    }
    // "Label ........ value" reads as "Label: value"
    let plain: String = text
        .lines()
        .map(|l| match l.find(" ..") {
            Some(i) => format!("{}:{}", &l[..i], l[i..].trim_start_matches([' ', '.'])),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let fields = Fields::parse(&plain, &[':']);
    let Some(mut b) = fields
        .get(&["Serial Number"])
        .and_then(|s| Builder::new(s, 0.97))
    else {
        return Vec::new();
    };
    let model = text.split_whitespace().collect::<Vec<_>>();
    let model = model
        .windows(2)
        .find(|w| FAMILIES.contains(&w[0]))
        .map(|w| format!("{} {}", w[0], w[1]));
    let local = fields
        .get(&["Meter Read Date", "Date", "Read Date"])
        .and_then(time::parse_local);
    b = b.model(model.as_deref()).read_locally(local, header);
    for (name, labels) in COUNTERS {
        b = b.counter(name, fields.get(labels));
    }
    if !b.has("total") && !b.has("mono") {
        return Vec::new();
    }
    b.build().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_wordings_and_usage_counters_left_out() {
        let text = "WorkCentre 7855\nSerial Number: 3351234567\nTotal Printed Impressions: 1,002,003\nBlack Printed Impressions: 900,000\nColour Impressions: 102,003\nSheets: 700,000\n";
        let r = extract(text, None).pop().unwrap();
        assert_eq!(r.counters.len(), 3, "{:?}", r.counters);
        assert_eq!(r.counters["total"], 1_002_003);
        assert_eq!(r.model.as_deref(), Some("WorkCentre 7855"));
    }
}
