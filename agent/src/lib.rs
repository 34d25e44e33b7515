//! `printyx-agent`: collects meters from copiers on a customer network and uploads them.
//!
//! It depends only on `ingest`'s wire and domain types: no web server, no OCR, no database
//! server driver, so it stays small enough to install anywhere.

pub mod collect;
pub mod config;
pub mod device;
pub mod discover;
pub mod mqtt;
pub mod outbox;
pub mod run;
pub mod simulator;
pub mod snmp;
pub mod upload;
