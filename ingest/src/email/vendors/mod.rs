//! Device report formats, one small module each, keyed on content (customers edit
//! subjects). Each reads one text — a body or an attachment — and returns the device readings
//! it states, or nothing when the text is not its format. [`EXTRACTORS`] is the list tried.

pub mod canon;
pub mod csv;
pub mod generic;
pub mod hp;
pub mod konica;
pub mod kyocera;
pub mod sharp;
pub mod toshiba;
pub mod xerox;

use super::report::DeviceReading;
use chrono::{DateTime, FixedOffset};

pub type Extractor = fn(&str, Option<DateTime<FixedOffset>>) -> Vec<DeviceReading>;

/// Every format, by name. ([`generic`] is the fallback, tried only when none of these reads
/// a text.)
pub const EXTRACTORS: &[(&str, Extractor)] = &[
    ("kyocera", kyocera::extract),
    ("konica_minolta", konica::extract),
    ("sharp", sharp::extract),
    ("xerox", xerox::extract),
    ("toshiba", toshiba::extract),
    ("canon", canon::extract),
    ("hp_autosend", hp::extract),
    ("csv", csv::extract),
];
