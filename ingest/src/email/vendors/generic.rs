//! A device report in a layout no vendor module knows: `Label: value` or `Label = value`
//! lines with a serial and a total, in English, German or French. Its readings are less sure
//! (confidence 0.7, below the pipeline's bar): they go to a person, never straight to billing.
//! Tried only when no vendor module read the text.

use crate::email::report::{Builder, DeviceReading, normalise};
use crate::email::time;
use chrono::{DateTime, FixedOffset};

const CONFIDENCE: f64 = 0.7;

const SERIAL: &[&str] = &[
    "serial number",
    "serial no",
    "serial no.",
    "serial",
    "s/n",
    "machine serial number",
    "seriennummer",
    "serien-nr",
    "serien-nr.",
    "numéro de série",
    "n° de série",
    "no de série",
];
const MODEL: &[&str] = &[
    "model",
    "model name",
    "device model",
    "modell",
    "modèle",
    "product name",
];
const DATE: &[&str] = &[
    "date",
    "date/time",
    "read date",
    "datum",
    "zeitpunkt",
    "date de relevé",
];
/// Counter name → labels, after lower-casing and dropping a trailing "counter", "count",
/// "pages" or "zähler".
const COUNTERS: &[(&str, &[&str])] = &[
    (
        "total",
        &[
            "total",
            "total impressions",
            "total printed",
            "gesamt",
            "gesamtseiten",
            "gesamtzahl",
            "compteur total",
            "total général",
            "total pages imprimées",
        ],
    ),
    (
        "mono",
        &[
            "black",
            "black & white",
            "black and white",
            "b&w",
            "b/w",
            "mono",
            "monochrome",
            "schwarz",
            "schwarzweiß",
            "schwarz/weiß",
            "s/w",
            "noir",
            "noir et blanc",
            "n&b",
            "noir & blanc",
        ],
    ),
    (
        "color",
        &[
            "color",
            "colour",
            "full color",
            "full colour",
            "farbe",
            "vollfarbe",
            "couleur",
            "quadrichromie",
        ],
    ),
];

fn label_key(label: &str) -> String {
    let mut l = normalise(label);
    for suffix in [
        " counter",
        " count",
        " pages",
        " seiten",
        "zähler",
        " impressions",
    ] {
        if let Some(stripped) = l.strip_suffix(suffix) {
            l = stripped.trim().to_owned();
        }
    }
    l
}

pub fn extract(text: &str, header: Option<DateTime<FixedOffset>>) -> Vec<DeviceReading> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some(i) = line.find([':', '=']) else {
            continue;
        };
        let (label, value) = (line[..i].trim(), line[i + 1..].trim());
        if !label.is_empty() && label.len() <= 40 && !value.is_empty() {
            pairs.push((normalise(label), value.to_owned()));
        }
    }
    let find = |labels: &[&str]| {
        pairs
            .iter()
            .find(|(l, _)| labels.contains(&l.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let Some(serial) = find(SERIAL).and_then(|s| s.split_whitespace().next()) else {
        return Vec::new();
    };
    let Some(mut b) = Builder::new(serial, CONFIDENCE) else {
        return Vec::new();
    };
    for (name, labels) in COUNTERS {
        // one value per counter: two different values under one label make it ambiguous
        let values: Vec<u64> = pairs
            .iter()
            .filter(|(l, _)| labels.contains(&label_key(l).as_str()))
            .filter_map(|(_, v)| crate::email::numbers::meter(v))
            .collect();
        if let [first, rest @ ..] = values.as_slice()
            && rest.iter().all(|v| v == first)
        {
            b = b.value(name, Some(*first));
        }
    }
    if !b.has("total") {
        return Vec::new();
    }
    let local = find(DATE).and_then(time::parse_local);
    b.model(find(MODEL))
        .read_locally(local, header)
        .build()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_layout_in_german_is_read_but_not_trusted() {
        let text = "Gerätebericht\nSeriennummer: LX9A002211\nModell: CX725\nGesamtzähler: 48.210\nSchwarz: 30.001\nFarbe: 18.209\n";
        let r = extract(text, None).pop().unwrap();
        assert_eq!(r.serial, "LX9A002211");
        assert_eq!(
            (r.counters["total"], r.counters["mono"], r.counters["color"]),
            (48_210, 30_001, 18_209)
        );
        assert!(
            r.confidence < 0.9,
            "below the pipeline's bar: a person confirms"
        );
    }

    #[test]
    fn french_labels_and_equals_signs() {
        let text =
            "Numéro de série = 7HX1234567\nCompteur total = 1 204 331\nNoir et blanc = 1 000 000\n";
        let r = extract(text, None).pop().unwrap();
        assert_eq!(
            (r.counters["total"], r.counters["mono"]),
            (1_204_331, 1_000_000)
        );
    }

    #[test]
    fn without_a_total_or_a_serial_nothing_is_read() {
        assert!(extract("Serial Number: X123456\nBlack: 100\n", None).is_empty());
        assert!(extract("Total: 100\nBlack: 80\n", None).is_empty());
        assert!(
            extract("Serial Number: X123456\nTotal: 4.8\n", None).is_empty(),
            "not a meter"
        );
    }

    #[test]
    fn two_different_values_under_one_label_are_ambiguous() {
        let text = "Serial Number: X123456\nTotal: 100\nBlack: 80\nBlack: 75\n";
        let r = extract(text, None).pop().unwrap();
        assert!(!r.counters.contains_key("mono"));
    }
}
