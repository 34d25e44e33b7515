//! One module per validation stage; each has the signature `fn check(Input) -> Vec<Finding>`
//! and its own tests.

pub mod confidence;
pub mod consistency;
pub mod dedupe;
pub mod identify;
pub mod monotonic;
pub mod rate_sanity;
pub mod timing;
