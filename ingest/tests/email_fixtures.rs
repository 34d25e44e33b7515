//! Every shared meter e-mail against its expected.json, by the README's matching rules
//! (`e2e::email::mismatches`), through the library.
#![cfg(feature = "email")]
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)] // the fixtures are small and ours

use e2e::email::{dir, expected, mismatches};
use ingest::email::{Limits, extract};

fn check(prefixes: &[&str]) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, e) in expected() {
        if !prefixes.iter().any(|p| file.starts_with(p)) {
            continue;
        }
        checked += 1;
        let raw = std::fs::read(dir().join(&file)).unwrap();
        let got = serde_json::to_value(extract(&raw, &Limits::default())).unwrap();
        let m = mismatches(&got, &e);
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
