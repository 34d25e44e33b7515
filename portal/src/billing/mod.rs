//! Billing: where accepted meters become money, so every number must be explainable. This is
//! its first part: the arithmetic of an invoice ([`arithmetic`]: pages across counter resets,
//! per-device and pooled overage, estimates and their true-up, one rounding per line) and a
//! contract's rates per counter. Invoices from readings, payments and receipts build on it.

pub mod arithmetic;
pub mod documents;
pub mod gateway;
pub mod http;
pub mod invoices;
pub mod pages;
pub mod payments;
pub mod pdf;
pub mod store;
pub mod stripe;
