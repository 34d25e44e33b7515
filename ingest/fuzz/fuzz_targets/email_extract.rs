//! Any bytes as a message: extraction must return a kind, never panic, and never report a
//! reading from a message it calls malformed or junk.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ingest::email::Limits::default();
    let out = ingest::email::extract(data, &limits);
    if matches!(out.kind, ingest::email::MailKind::Malformed | ingest::email::MailKind::Junk) {
        assert!(out.devices.is_empty());
    }
});
