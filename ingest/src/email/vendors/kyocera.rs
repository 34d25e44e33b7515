//! Kyocera / UTAX / TA "Counter", "Toner" and "Maintenance Report" mails: an indented
//! hierarchy (level 0 at the margin, level 1 one space, level 2 two), labels padded to a
//! column, `MeterDate` without zone. Keyed on the body, never on the admin-written subject.

use crate::email::report::{Builder, DeviceReading, Fields, normalise};
use crate::email::time;
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;

/// Labels by language; the first of each is Kyocera's English.
const SERIAL: &[&str] = &["Serial Number", "Seriennummer", "Numéro de série"];
const MODEL: &[&str] = &["Model Name", "Modellname", "Nom du modèle"];
const METER_DATE: &[&str] = &["MeterDate", "Zählerdatum", "Date du compteur"];

/// `path` (levels joined by `/`, normalised) → value, for every `label: value` line.
fn tree(text: &str) -> BTreeMap<String, String> {
    let mut stack: [Option<String>; 3] = [None, None, None];
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('<') {
            continue;
        }
        let level = line.len() - line.trim_start_matches(' ').len();
        if level > 2 {
            continue;
        }
        let Some((label, value)) = line.trim().split_once(':') else {
            continue;
        };
        let label = normalise(label);
        for deeper in stack.iter_mut().skip(level) {
            *deeper = None;
        }
        let value = value.trim();
        if value.is_empty() {
            stack[level] = Some(label);
            continue;
        }
        let mut path: Vec<&str> = stack[..level]
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        path.push(&label);
        out.entry(path.join("/"))
            .or_insert_with(|| value.to_owned());
    }
    out
}

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let t = tree(text);
    let get = |path: &str| t.get(path).map(String::as_str);
    // Required: the printed-pages total. A report without it (cut, or not a counter report)
    // states no reading.
    let Some(total) = get("counters by function/printed pages/total") else {
        return Vec::new();
    };
    let fields = Fields::parse(text, &[':']);
    let Some(serial) = fields.get(SERIAL) else {
        return Vec::new();
    };
    let Some(mut b) = Builder::new(serial, 0.98) else {
        return Vec::new();
    };
    let local = fields.get(METER_DATE).and_then(time::parse_local);
    b = b
        .model(fields.get(MODEL))
        .read_locally(local, header)
        .counter("total", Some(total))
        .counter("fax", get("counters by function/printed pages/fax"))
        .counter("scan", get("counters by function/scanned pages/total"));
    let usage = "usage by color mode (pages)";
    if t.keys().any(|k| k.starts_with(usage)) {
        let sum = |mode: &str, functions: &[&str]| -> Option<u64> {
            let values: Vec<u64> = functions
                .iter()
                .filter_map(|f| get(&format!("{usage}/{mode}/{f}")))
                .filter_map(crate::email::numbers::meter)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum())
        };
        b = b
            .value("mono", sum("black & white", &["copier", "printer", "fax"]))
            .counter("copy_mono", get(&format!("{usage}/black & white/copier")))
            .counter("print_mono", get(&format!("{usage}/black & white/printer")))
            .value("color", sum("full color", &["copier", "printer"]))
            .counter("copy_color", get(&format!("{usage}/full color/copier")))
            .counter("print_color", get(&format!("{usage}/full color/printer")))
            .value("color_single", sum("single color", &["copier", "printer"]));
    } else {
        // a mono model: every printed page is black
        b = b
            .counter("mono", Some(total))
            .counter(
                "copy_mono",
                get("counters by function/printed pages/copier"),
            )
            .counter(
                "print_mono",
                get("counters by function/printed pages/printer"),
            );
    }
    b.build().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Exchange delivers a device seen as external: a banner on top, trailing spaces gone.
    #[test]
    fn an_exchange_banner_and_stripped_padding_change_nothing() {
        let text = "CAUTION: This email originated from outside of the organization.\r\n\r\n\r\nEquipment ID:\r\nModel Name:             ECOSYS M3655idn\r\nSerial Number:          VCF5Z00612\r\nMeterDate:              Mon 03 Nov 2025 07:00:00\r\nCounters by Function:\r\n Printed Pages:\r\n  Copier:               9120\r\n  Printer:              77406\r\n  FAX:                  1208\r\n  Total:                87734\r\n Scanned Pages:\r\n  Total:                12933\r\nCounters by Duplex:\r\n  1-sided:              35094\r\n  Total:                87734\r\n";
        let r = extract(text, None).pop().unwrap();
        assert_eq!(r.serial, "VCF5Z00612");
        assert_eq!(
            (r.counters["total"], r.counters["mono"], r.counters["scan"]),
            (87_734, 87_734, 12_933)
        );
        assert_eq!(r.counters["print_mono"], 77_406);
    }

    #[test]
    fn a_report_cut_before_its_total_states_nothing() {
        let text = "Serial Number:          VCF5Z00612\r\nCounters by Function:\r\n Printed Pages:\r\n  Copier:               9120\r\n";
        assert!(extract(text, None).is_empty());
    }
}
