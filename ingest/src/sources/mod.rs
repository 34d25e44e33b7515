//! Where readings come from besides agent uploads (HTTP, in `upload`).

#[cfg(feature = "imap")]
pub mod imap;
#[cfg(feature = "mqtt")]
pub mod mqtt;
