//! Shared by the agent's integration tests: where the fixtures are, and how a device report
//! (the JSON `printyx-agent poll --json` prints) is checked against `expected.json`.
#![allow(dead_code, clippy::unwrap_used, clippy::disallowed_methods)]

use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// `shared/` sits beside the repository (as on the development machines and in CI);
/// `PRINTYX_FIXTURES` points elsewhere.
pub fn fixtures() -> PathBuf {
    let base = std::env::var_os("PRINTYX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = base.join("snmp");
    assert!(
        dir.is_dir(),
        "SNMP fixtures not found at {} (shared/ beside the repository, or PRINTYX_FIXTURES)",
        dir.display()
    );
    dir
}

/// Recording name → what a poller should report.
pub fn expected() -> Map<String, Value> {
    let path = fixtures().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert!(
        map.len() >= 20,
        "fixtures missing? {} recordings",
        map.len()
    );
    map
}

/// A Printer-MIB level as the wire protocol writes it.
fn wire_level(v: &Value) -> Value {
    match v.as_i64().unwrap() {
        -1 => json!("other"),
        -2 => json!("unknown"),
        -3 => json!("some_remaining"),
        n => json!(n),
    }
}

/// "2 (running)" → "running"
fn named(v: Option<&Value>) -> Value {
    v.and_then(Value::as_str)
        .map(|v| {
            json!(
                v.split_once('(')
                    .map_or(v, |(_, n)| n.trim_end_matches(')'))
            )
        })
        .unwrap_or(Value::Null)
}

/// Every difference between a report and what the recording should give, one line each.
pub fn mismatches(name: &str, report: &Value, want: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, got: &Value, want: &Value| {
        if got != want {
            out.push(format!("{name}: {what} is {got}, expected {want}"));
        }
    };
    let id = &report["identity"];
    check("vendor", &id["vendor"], &want["vendor"]);
    check("serial", &id["serial"], &want["serial"]);
    for (kind, key) in [
        ("total", "total_pages"),
        ("mono", "mono_pages"),
        ("color", "color_pages"),
    ] {
        let expected = want.get(key).cloned().unwrap_or(Value::Null);
        check(kind, &report["meters"][kind], &expected);
    }
    let want_supplies: Vec<Value> = want["supplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["description"],
                wire_level(&s["level"]),
                wire_level(&s["max_capacity"]),
                s["percent"]
            ])
        })
        .collect();
    let got_supplies: Vec<Value> = report["supplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["description"],
                s["level"],
                s["max_capacity"],
                s["percent"]
            ])
        })
        .collect();
    check("supplies", &json!(got_supplies), &json!(want_supplies));
    let status = want.get("status");
    check(
        "device status",
        &report["status"]["device"],
        &named(status.and_then(|s| s.get("hrDeviceStatus"))),
    );
    check(
        "printer status",
        &report["status"]["printer"],
        &named(status.and_then(|s| s.get("hrPrinterStatus"))),
    );
    let bits = status
        .and_then(|s| s.get("hrPrinterDetectedErrorState"))
        .map(|e| e["bits"].clone())
        .unwrap_or(json!([]));
    let got_bits = report["status"].get("errors").cloned().unwrap_or(json!([]));
    check("error bits", &got_bits, &bits);
    out
}
