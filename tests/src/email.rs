//! The shared meter e-mail fixtures and the README's matching rules, for every test that
//! checks an extraction against expected.json (the library's, the CLI's, the mailbox's).

use serde_json::Value;
use std::path::PathBuf;

/// `../shared/fixtures/email` (or `$PRINTYX_FIXTURES/email`).
pub fn dir() -> PathBuf {
    crate::fixtures("email")
}

/// One fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

/// expected.json: file name → expectation.
pub fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// What is wrong with one extraction (`{"kind","devices","warnings"}`) by the matching rules:
/// the kind matches; every expected serial is reported with every expected counter exact
/// (and the read time where one is expected); no device that is not expected is reported with
/// counters — a wrong number is worse than a missing one.
pub fn mismatches(got: &Value, expected: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if got["kind"] != expected["kind"] {
        out.push(format!(
            "kind {} (expected {}) {}",
            got["kind"], expected["kind"], got["warnings"]
        ));
    }
    let none = Vec::new();
    let got_devices = got["devices"].as_array().unwrap_or(&none);
    let expected_devices = expected["devices"].as_array().unwrap();
    for e in expected_devices {
        let Some(g) = got_devices.iter().find(|g| g["serial"] == e["serial"]) else {
            out.push(format!(
                "device {} not reported {}",
                e["serial"], got["warnings"]
            ));
            continue;
        };
        for (name, value) in e["counters"].as_object().unwrap() {
            if g["counters"][name] != *value {
                out.push(format!(
                    "{} {name}: {} (expected {value})",
                    e["serial"], g["counters"][name]
                ));
            }
        }
        if !e["read_at"].is_null() && g["read_at"] != e["read_at"] {
            out.push(format!(
                "{} read_at {} (expected {})",
                e["serial"], g["read_at"], e["read_at"]
            ));
        }
    }
    for g in got_devices {
        if !expected_devices.iter().any(|e| e["serial"] == g["serial"])
            && g["counters"].as_object().is_some_and(|c| !c.is_empty())
        {
            out.push(format!(
                "WRONG: device {} reported with {}",
                g["serial"], g["counters"]
            ));
        }
    }
    out
}
