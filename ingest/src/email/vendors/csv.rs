//! Counter reports as CSV attachments, one row per device; each tool is a profile of column
//! names (data, not code). An empty cell is "not applicable": no counter, never 0.

use crate::email::report::{Builder, DeviceReading, normalise};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

#[derive(Debug)]
pub struct Profile {
    pub name: &'static str,
    pub serial: &'static [&'static str],
    pub model: &'static [&'static str],
    /// A column with the reading time; without one the message's Date is the reading time.
    pub date: &'static [&'static str],
    pub counters: &'static [(&'static str, &'static [&'static str])],
}

pub const PROFILES: &[Profile] = &[
    // Ricoh / Savin / Lanier Remote Communication Gate S "Counter Information Notification".
    // "Device Display Name" is the admin's text, not the model.
    Profile {
        name: "Ricoh RC Gate",
        serial: &["Serial Number"],
        model: &[],
        date: &[],
        counters: &[
            ("total", &["Total Counter"]),
            ("mono", &["B&W Total"]),
            ("color", &["Color Total"]),
            ("copy_mono", &["Copier B&W Counter"]),
            ("copy_color", &["Copier Full Color Counter"]),
            ("print_mono", &["Printer B&W Counter"]),
            ("print_color", &["Printer Full Color Counter"]),
            ("fax", &["Fax B&W Counter"]),
            ("large", &["A3/DLT"]),
        ],
    },
    // Brother Meter Read Tool device log. Drum count and jams are not meters.
    Profile {
        name: "Brother Meter Read Tool",
        serial: &["Serial No.", "Serial Number"],
        model: &["Model Name"],
        date: &["Date"],
        counters: &[
            ("total", &["Total Page Count"]),
            ("mono", &["Black&White Total", "B&W Total"]),
            ("color", &["Color Total"]),
            ("copy_mono", &["Copy (B&W)"]),
            ("copy_color", &["Copy (Color)"]),
            ("print_mono", &["Print (B&W)"]),
            ("print_color", &["Print (Color)"]),
            ("fax", &["Fax"]),
        ],
    },
];

/// RFC 4180 rows: quoted fields may hold commas, doubled quotes and line breaks.
pub fn rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let table = rows(text);
    let Some((head, body)) = table.split_first() else {
        return Vec::new();
    };
    let head: Vec<String> = head.iter().map(|h| normalise(h)).collect();
    let column = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| head.iter().position(|h| *h == normalise(n)))
    };
    let Some(profile) = PROFILES.iter().find(|p| {
        column(p.serial).is_some() && p.counters.first().is_some_and(|(_, c)| column(c).is_some())
    }) else {
        return Vec::new();
    };
    let serial = column(profile.serial);
    let mut out = Vec::new();
    for row in body {
        let cell = |i: Option<usize>| {
            i.and_then(|i| row.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let Some(mut b) = cell(serial).and_then(|s| Builder::new(s, 0.97)) else {
            continue;
        };
        let local = cell(column(profile.date)).and_then(time::parse_local);
        b = b
            .model(cell(column(profile.model)))
            .read_locally(local, header);
        for (name, columns) in profile.counters {
            b = b.counter(name, cell(column(columns)));
        }
        if b.has("total") {
            out.extend(b.build());
        }
    }
    let _ = profile.name;
    out
}
