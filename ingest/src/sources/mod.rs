//! Where readings come from besides agent uploads (HTTP, in `upload`).

pub mod mqtt;
