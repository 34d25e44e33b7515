//! Any MQTT payload: an observation for the outbox or a clear error, never a panic.
#![no_main]

use ingest::sources::mqtt::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = Message {
        topic: "site/device/meters".into(),
        payload: data.to_vec(),
    };
    if let Ok((_, observation)) = agent::mqtt::observation(&message) {
        assert!(observation.id.starts_with("mqtt-"));
        assert!(observation.validate().is_ok());
    }
});
