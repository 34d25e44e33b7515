//! Every shared meter e-mail against its expected.json, by the README's matching rules: the
//! kind matches, every expected serial is reported with every expected counter exact (and the
//! read time where one is expected), and no device that is not expected is reported with
//! counters — a wrong number is worse than a missing one.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)] // the fixtures are small and ours

use ingest::email::{Limits, extract};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    let base = std::env::var_os("PRINTYX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let dir = base.join("email");
    assert!(
        dir.is_dir(),
        "e-mail fixtures not found at {}",
        dir.display()
    );
    dir
}

/// What is wrong with the extraction of one file, by the matching rules.
fn mismatches(file: &str, expected: &Value) -> Vec<String> {
    let raw = std::fs::read(dir().join(file)).unwrap();
    let got = serde_json::to_value(extract(&raw, &Limits::default())).unwrap();
    let mut out = Vec::new();
    if got["kind"] != expected["kind"] {
        out.push(format!(
            "kind {} (expected {}) {}",
            got["kind"], expected["kind"], got["warnings"]
        ));
    }
    let got_devices = got["devices"].as_array().unwrap();
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
            && !g["counters"].as_object().unwrap().is_empty()
        {
            out.push(format!(
                "WRONG: device {} reported with {}",
                g["serial"], g["counters"]
            ));
        }
    }
    out
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(dir().join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn check(prefixes: &[&str]) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, e) in expected() {
        if !prefixes.iter().any(|p| file.starts_with(p)) {
            continue;
        }
        checked += 1;
        let m = mismatches(&file, &e);
        if !m.is_empty() {
            failures.push(format!("{file}: {}", m.join("; ")));
        }
    }
    assert!(checked > 0, "no fixture matched {prefixes:?}");
    assert!(
        failures.is_empty(),
        "{} of {checked} files wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const DEVICE_REPORTS: &[&str] = &[
    "kyocera", "utax", "konica", "develop", "sharp", "ricoh", "xerox", "hp", "brother", "toshiba",
    "canon",
];

#[test]
fn device_reports_of_every_vendor_format() {
    check(DEVICE_REPORTS);
}

#[test]
fn junk_is_nothing_to_ingest() {
    check(&["junk"]);
}

#[test]
fn broken_mail_is_malformed_and_yields_no_reading() {
    check(&["malformed"]);
}

#[test]
fn customer_replies_give_only_what_the_customer_wrote() {
    check(&["reply"]);
}

#[test]
fn every_fixture_is_covered_by_one_of_the_tests_above() {
    for file in expected().keys() {
        assert!(
            DEVICE_REPORTS
                .iter()
                .chain(&["junk", "malformed", "reply"])
                .any(|p| file.starts_with(p)),
            "{file} is not checked"
        );
    }
}
