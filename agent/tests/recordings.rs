//! Every real recording in ../shared/fixtures/snmp, read from its file, against its
//! expected.json. (`snmp.rs` checks the same over the wire.)
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

mod common;

use agent::device::{Snapshot, profiles, read};

#[test]
fn every_recording_reads_as_expected() {
    let profiles = profiles().unwrap();
    let mut failures = Vec::new();
    for (name, want) in &common::expected() {
        let path = common::fixtures().join(format!("{name}.snmprec"));
        let text = std::fs::read_to_string(&path).unwrap();
        let report = read(&Snapshot::from_snmprec(&text).unwrap(), &profiles);
        let report = serde_json::to_value(&report).unwrap();
        failures.extend(common::mismatches(name, &report, want));
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
