//! The shared meter-photo fixtures (`../shared/fixtures/meter-photos`) and their labels.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The photo fixtures' directory (`PRINTYX_FIXTURES` overrides the shared fixtures root).
pub fn dir() -> PathBuf {
    crate::fixtures("meter-photos")
}

/// One labelled photo.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub file: String,
    pub kind: String,
    pub counters: BTreeMap<String, u64>,
    pub readable: bool,
}

/// Every labelled photo, in the order of labels.json.
pub fn labelled() -> Vec<Labelled> {
    let path = dir().join("labels.json");
    #[allow(clippy::disallowed_methods)] // a small fixture file
    let text = std::fs::read_to_string(&path).expect("labels.json");
    let labels: Vec<Value> = serde_json::from_str(&text).expect("labels.json is JSON");
    labels
        .iter()
        .map(|l| Labelled {
            file: l["file"].as_str().expect("file").to_owned(),
            kind: l["kind"].as_str().unwrap_or_default().to_owned(),
            counters: serde_json::from_value(l["counters"].clone()).expect("counters"),
            readable: l["readable"].as_bool().expect("readable"),
        })
        .collect()
}

/// A fixture photo's bytes.
pub fn bytes(file: &str) -> Vec<u8> {
    #[allow(clippy::disallowed_methods)] // fixture photos are a few MB
    std::fs::read(dir().join(file)).expect("fixture photo")
}
