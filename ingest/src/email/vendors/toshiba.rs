//! Toshiba e-STUDIO total counter notification: a `[PRINT COUNTER]` table (rows by function,
//! columns FULL COLOR / TWIN COLOR / BLACK / TOTAL, `-` not applicable) and a
//! `[SCAN COUNTER]` table.

use crate::email::report::{Builder, DeviceReading, Fields};
use crate::email::time;
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;

/// (row, column) → cell, for the table after `heading`.
fn table(text: &str, heading: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim().eq_ignore_ascii_case(heading))
        .skip(1);
    let Some(head) = lines.next() else {
        return out;
    };
    let columns: Vec<String> = head
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_uppercase)
        .collect();
    for line in lines {
        if line.trim().is_empty() || line.trim_start().starts_with('[') {
            break;
        }
        let cells: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let Some((row, values)) = cells.split_first() else {
            continue;
        };
        if values.len() != columns.len() {
            continue;
        }
        for (column, value) in columns.iter().zip(values) {
            out.insert((row.to_uppercase(), column.clone()), (*value).to_owned());
        }
    }
    out
}

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let print = table(text, "[PRINT COUNTER]");
    if print.is_empty() {
        return Vec::new();
    }
    let scan = table(text, "[SCAN COUNTER]");
    let fields = Fields::parse(text, &[':']);
    let Some(mut b) = fields
        .get(&["Serial Number"])
        .and_then(|s| Builder::new(s, 0.96))
    else {
        return Vec::new();
    };
    let cell = |t: &BTreeMap<(String, String), String>, r: &str, c: &str| {
        t.get(&(r.to_owned(), c.to_owned())).cloned()
    };
    let model = text
        .lines()
        .next()
        .map(|l| l.trim().trim_start_matches("TOSHIBA").trim().to_owned());
    let local = fields
        .get(&["Date/Time", "Date"])
        .and_then(time::parse_local);
    b = b
        .model(model.as_deref())
        .read_locally(local, header)
        .counter("total", cell(&print, "TOTAL", "TOTAL").as_deref())
        .counter("mono", cell(&print, "TOTAL", "BLACK").as_deref())
        .counter("color", cell(&print, "TOTAL", "FULL COLOR").as_deref())
        .counter("copy_mono", cell(&print, "COPY", "BLACK").as_deref())
        .counter("copy_color", cell(&print, "COPY", "FULL COLOR").as_deref())
        .counter("print_mono", cell(&print, "PRINTER", "BLACK").as_deref())
        .counter(
            "print_color",
            cell(&print, "PRINTER", "FULL COLOR").as_deref(),
        )
        .counter("fax", cell(&print, "FAX", "TOTAL").as_deref())
        .counter("scan", cell(&scan, "TOTAL", "TOTAL").as_deref());
    if !b.has("total") {
        return Vec::new();
    }
    b.build().into_iter().collect()
}
