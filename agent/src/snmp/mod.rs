//! Talking SNMP to copiers: who to ask (a [`Target`]), with what ([`Credentials`]), how
//! patiently ([`Limits`]), and what can go wrong ([`SnmpError`]).
//!
//! [`client::Client`] does the asking — GET and bounded GETBULK walks, every request under a
//! timeout with retries — and [`poll::poll`] decides what to ask a printer for.

pub mod client;
pub mod poll;

pub use client::Client;
pub use poll::{Polled, poll};

use std::fmt;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 161;

/// A device address: `host`, `host:port`, `[v6]` or `[v6]:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(raw: &str) -> Result<Self, SnmpError> {
        let bad = |why: &str| SnmpError::Address(format!("'{raw}': {why}"));
        let raw = raw.trim();
        let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None if after.is_empty() => (host, None),
                None => return Err(bad("unexpected text after ']'")),
            }
        } else if raw.matches(':').count() == 1 {
            let (h, p) = raw.split_once(':').ok_or_else(|| bad("no host"))?;
            (h, Some(p))
        } else {
            (raw, None)
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("port must be 1-65535"))?,
            None => DEFAULT_PORT,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How to authenticate to one device. v3 is never downgraded to v1/v2c: a v3 device that
/// refuses the keys is an error, not a reason to try communities.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    V1 {
        community: String,
    },
    /// Tried in order; [`Polled::community`] says which one answered.
    V2c {
        communities: Vec<String>,
    },
    V3(V3),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V1 { .. } => f.write_str("V1 { community: *** }"),
            Self::V2c { communities } => write!(f, "V2c {{ {} communities }}", communities.len()),
            Self::V3(v3) => v3.fmt(f),
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct V3 {
    pub user: String,
    pub auth: Option<(AuthProtocol, String)>,
    /// Needs `auth`.
    pub privacy: Option<(PrivProtocol, String)>,
}

impl fmt::Debug for V3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V3 {{ user: {:?}, level: {} }}", self.user, self.level())
    }
}

impl V3 {
    pub fn level(&self) -> &'static str {
        match (&self.auth, &self.privacy) {
            (None, _) => "noAuthNoPriv",
            (Some(_), None) => "authNoPriv",
            (Some(_), Some(_)) => "authPriv",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    Md5,
    Sha1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    Des,
    Aes128,
}

impl AuthProtocol {
    pub fn parse(raw: &str) -> Result<Self, SnmpError> {
        match raw.to_ascii_lowercase().as_str() {
            "md5" => Ok(Self::Md5),
            "sha" | "sha1" => Ok(Self::Sha1),
            other => Err(SnmpError::Credentials(format!(
                "auth protocol '{other}' is not md5 or sha"
            ))),
        }
    }
}

impl PrivProtocol {
    pub fn parse(raw: &str) -> Result<Self, SnmpError> {
        match raw.to_ascii_lowercase().as_str() {
            "des" => Ok(Self::Des),
            "aes" | "aes128" => Ok(Self::Aes128),
            other => Err(SnmpError::Credentials(format!(
                "privacy protocol '{other}' is not des or aes"
            ))),
        }
    }
}

/// How patient to be with one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per request.
    pub timeout: Duration,
    /// Requests asked again after a timeout or a garbled answer.
    pub retries: u32,
    /// Rows one walk may return; more is an endless table.
    pub max_rows: usize,
    /// Everything asked of one device in one poll.
    pub budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            retries: 1,
            max_rows: 2_000,
            budget: Duration::from_secs(60),
        }
    }
}

/// Why a device could not be read. One line each, naming the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    #[error("invalid address {0}")]
    Address(String),
    #[error("invalid SNMP credentials: {0}")]
    Credentials(String),
    #[error("{target}: cannot send to it: {why}")]
    Network { target: String, why: String },
    #[error("{target}: no answer after {tries} tries of {timeout_ms} ms")]
    NoAnswer {
        target: String,
        tries: u32,
        timeout_ms: u128,
    },
    #[error("{target}: SNMPv3 authentication failed for user '{user}': {why}")]
    Auth {
        target: String,
        user: String,
        why: String,
    },
    /// The device answers, but not as a device should: garbled or oversized PDUs, wrong
    /// request ids, OIDs going backwards, tables without end.
    #[error("{target}: faulty device: {why}")]
    Faulty { target: String, why: String },
}

impl SnmpError {
    /// True when the device may simply be off or unreachable.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Self::NoAnswer { .. } | Self::Network { .. })
    }
}
