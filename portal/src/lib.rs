//! The Printyx system of record and the `printyx` server.
//!
//! Modules are domains (tenants, accounts, users, equipment, readings…); inside each, the types
//! and rules come first, storage in `store.rs`. All storage goes through [`db::TenantDb`].

pub mod accounts;
pub mod agents;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod collection;
pub mod clock {
    //! Re-exported from ingest so both crates share one notion of time.
    pub use ingest::clock::{Clock, ManualClock, SystemClock};
}
pub mod config;
pub mod contracts;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod equipment;
pub mod files;
pub mod http;
pub mod ids;
pub mod mail;
pub mod mailer;
pub mod maintenance;
pub mod notifications;
pub mod photos;
pub mod profile;
pub mod readings;
pub mod requests;
pub mod review;
pub mod roles;
pub mod secrets;
pub mod server;
pub mod silence;
pub mod supplies;
pub mod telemetry;
pub mod tenants;
pub mod users;
pub mod web;
