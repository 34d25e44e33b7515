//! Storage and API tests: every body runs against SQLite and PostgreSQL (see `harness`).
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_debug_implementations
)]

mod agent_api;
mod agent_e2e;
mod api_contract;
mod audit;
mod billing;
mod browser;
mod customer;
mod dashboard;
mod demo;
mod harness;
mod isolation;
mod mail_imap;
mod mail_ingest;
mod mail_out;
mod meter_requests;
mod mqtt;
mod people;
mod photo_flow;
mod review_api;
mod routes;
mod schema;
mod schema_equivalence;
mod secrets;
mod service;
mod sign_in;
mod silence;
mod startup;
mod stores;
mod supplies;
