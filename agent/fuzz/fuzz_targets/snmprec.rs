//! A recording (snmprec text) of any shape, then reading a device from it: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static PROFILES: OnceLock<Vec<agent::device::Profile>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let profiles = PROFILES.get_or_init(|| agent::device::profiles().expect("embedded profiles"));
    if let Ok(snapshot) = agent::device::Snapshot::from_snmprec(text) {
        let report = agent::device::read(&snapshot, profiles);
        // what `poll --json` and `poll` print must always come out
        assert!(serde_json::to_string(&report).is_ok());
        let _ = report.summary();
    }
});
