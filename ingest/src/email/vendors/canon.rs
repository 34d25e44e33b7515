//! Canon numbered soft counters (`101: Total 1 : 215300`). 101 is the total, 108 the black
//! total, 501 the scans. The "2" counters (102, 109, 106) count large sheets twice and are
//! never taken for a total or a colour share.

use crate::email::report::{Builder, DeviceReading, Fields};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

const COUNTERS: &[(&str, &str)] = &[("101", "total"), ("108", "mono"), ("501", "scan")];

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let numbered: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let (code, rest) = l.trim().split_once(':')?;
            let code = code.trim();
            (code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()))
                .then(|| rest.rsplit_once(':').map(|(_, v)| (code, v.trim())))?
        })
        .collect();
    if !numbered.iter().any(|(c, _)| *c == "101") {
        return Vec::new();
    }
    let fields = Fields::parse(text, &[':']);
    let Some(mut b) = fields
        .get(&["Serial Number"])
        .and_then(|s| Builder::new(s, 0.95))
    else {
        return Vec::new();
    };
    let local = fields.get(&["Date"]).and_then(time::parse_local);
    b = b
        .model(fields.get(&["Product Name", "Model"]))
        .read_locally(local, header);
    for (code, name) in COUNTERS {
        b = b.counter(
            name,
            numbered.iter().find(|(c, _)| c == code).map(|(_, v)| *v),
        );
    }
    b.build().into_iter().collect()
}
