//! Enrolled `printyx-agent` installations: one-time enrollment codes, bearer tokens, and the
//! upload endpoint that feeds their batches through the ingest pipeline.
//!
//! Secrets are stored only as SHA-256 hashes. Both carry what locates their tenant, because
//! with row-level security nothing can be looked up before the tenant is known: an enrollment
//! code is `{tenant-slug}-{code}` (typed by a person), a token `pxa_{tenant_id}_{secret}`.

pub mod http;
mod port;
mod store;

pub use store::EnrollError;

use crate::ids::AgentId;
use ingest::ids::TenantId;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Hex SHA-256: how enrollment codes and tokens are stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 12 characters a person can read aloud and type (no 0/O, 1/I/L): 60 bits.
fn new_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// 256 random bits as hex.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// How long an enrollment code stays valid.
pub const ENROLLMENT_VALIDITY_MS: i64 = 7 * 24 * 3_600_000;

/// An agent as the dealer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub hostname: Option<String>,
    pub version: Option<String>,
    pub enrolled_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A newly created agent and the code to enroll it (shown once).
#[derive(Debug, Clone)]
pub struct NewAgent {
    pub agent: Agent,
    pub enrollment_code: String,
}

/// Splits `{slug}-{code}`; the slug itself may contain dashes.
pub fn parse_enrollment_code(full: &str) -> Option<(&str, &str)> {
    let (slug, code) = full.trim().rsplit_once('-')?;
    (!slug.is_empty() && code.len() == 12).then_some((slug, code))
}

/// Splits `pxa_{tenant_id}_{secret}`.
pub fn parse_token(token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix("pxa_")?;
    let (tenant, secret) = rest.split_once('_')?;
    (secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| tenant.parse().ok().map(TenantId))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_tokens_carry_their_tenant() {
        let code = new_code();
        assert_eq!(code.len(), 12);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(
            parse_enrollment_code(&format!("acme-copiers-{code}")),
            Some(("acme-copiers", code.as_str()))
        );
        assert_eq!(parse_enrollment_code("nodash"), None);
        assert_eq!(parse_enrollment_code("acme-SHORT"), None);

        let token = format!("pxa_42_{}", new_secret());
        assert_eq!(parse_token(&token), Some(TenantId(42)));
        for bad in [
            "pxa_42_short",
            "pxb_42_00",
            "pxa_x_0000000000000000000000000000000000000000000000000000000000000000",
            "",
        ] {
            assert_eq!(parse_token(bad), None, "{bad}");
        }
        assert_ne!(secret_hash("a"), secret_hash("b"));
    }
}
