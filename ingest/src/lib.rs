//! Meter ingestion for Printyx.
//!
//! With default features off this crate is only the vocabulary shared by the agent and the
//! server: the domain types a reading is made of ([`domain`]) and the typed ids the ingest ports
//! speak of ([`ids`]). The `pipeline` feature (on by default) adds the validation pipeline;
//! the reading sources and extractors will build on it.

pub mod clock;
pub mod config;
pub mod domain;
#[cfg(feature = "email")]
pub mod email;
pub mod ids;
#[cfg(feature = "photo")]
pub mod photo;
#[cfg(feature = "pipeline")]
pub mod pipeline;
#[cfg(any(feature = "mqtt", feature = "imap"))]
pub mod sources;
#[cfg(feature = "pipeline")]
pub mod upload;
pub mod wire;

/// For `typed_id!` expansions in other crates (the id's schema).
#[cfg(feature = "openapi")]
#[doc(hidden)]
pub use utoipa as __utoipa;
