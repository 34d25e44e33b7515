//! Meter ingestion for Printyx.
//!
//! With default features off this crate is only the vocabulary shared by the agent and the
//! server: the domain types a reading is made of ([`domain`]) and the typed ids the ingest ports
//! speak of ([`ids`]). The reading sources, extractors and the validation pipeline build on them.

pub mod clock;
pub mod config;
pub mod domain;
pub mod ids;
