//! The optional second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second
//! steps, 6 digits), which every authenticator app understands.
//!
//! The seed is kept sealed (`secrets`), a code is accepted one step either side of now (phone
//! clocks drift), and a step once used is never accepted again, so a code seen over someone's
//! shoulder cannot be replayed.

use crate::db::{DbError, TenantTx};
use crate::ids::UserId;
use crate::secrets::{Keyring, Sealed, totp_place};
use hmac::{Hmac, Mac};
use sqlx::Row;

pub const STEP_MS: i64 = 30_000;
const DIGITS: u32 = 6;
/// Steps accepted either side of the server's.
const SKEW_STEPS: i64 = 1;

/// The code for one time step.
fn code_at(seed: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(seed) else {
        return u32::MAX; // HMAC takes keys of any length
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    bin % 10u32.pow(DIGITS)
}

/// The step of a code the user typed that matches within the allowed skew, if any.
fn matching_step(seed: &[u8], typed: &str, now_ms: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = typed.parse().ok()?;
    let now = now_ms.div_euclid(STEP_MS);
    (now - SKEW_STEPS..=now + SKEW_STEPS).find(|&step| code_at(seed, step) == value)
}

/// RFC 4648 base32 without padding: how seeds are shown to people and apps.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app scans.
pub fn provisioning_uri(issuer: &str, account: &str, seed: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        base32(seed),
        enc(issuer)
    )
}

/// A user's second factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpState {
    pub confirmed: bool,
}

impl TenantTx {
    /// Starts (or restarts) enrolment: a new random seed, sealed, not yet confirmed. Returns
    /// the seed to show once. A confirmed factor is not replaced this way.
    pub async fn begin_totp(&mut self, keys: &Keyring, user: UserId) -> Result<Vec<u8>, DbError> {
        if self.totp_state(user).await?.is_some_and(|s| s.confirmed) {
            return Err(DbError::Conflict(
                "two-factor sign-in is already on; turn it off first".into(),
            ));
        }
        let seed: [u8; 20] = rand::random();
        let (t, now) = (self.t(), self.now_ms());
        let sealed = keys.seal(&totp_place(t, user.0), &seed)?;
        sqlx::query(
            "INSERT INTO totp_secrets (tenant_id, user_id, key_id, nonce, ciphertext, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET key_id = excluded.key_id, \
               nonce = excluded.nonce, ciphertext = excluded.ciphertext, confirmed_at = NULL, \
               last_used_step = NULL, created_at = excluded.created_at",
        )
        .bind(t)
        .bind(user.0)
        .bind(&sealed.key_id)
        .bind(sealed.nonce)
        .bind(sealed.ciphertext)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(seed.to_vec())
    }

    /// The seed of an enrolment not yet confirmed (to show it again), if there is one.
    pub async fn pending_totp_seed(
        &mut self,
        keys: &Keyring,
        user: UserId,
    ) -> Result<Option<Vec<u8>>, DbError> {
        let t = self.t();
        let row = sqlx::query(
            "SELECT key_id, nonce, ciphertext FROM totp_secrets \
             WHERE tenant_id = $1 AND user_id = $2 AND confirmed_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed = Sealed {
            key_id: row.try_get("key_id")?,
            nonce: row.try_get("nonce")?,
            ciphertext: row.try_get("ciphertext")?,
        };
        Ok(Some(keys.open(&totp_place(t, user.0), &sealed)?))
    }

    pub async fn totp_state(&mut self, user: UserId) -> Result<Option<TotpState>, DbError> {
        let t = self.t();
        let confirmed: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT confirmed_at FROM totp_secrets WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(t)
        .bind(user.0)
        .fetch_optional(self.conn())
        .await?;
        Ok(confirmed.map(|c| TotpState {
            confirmed: c.is_some(),
        }))
    }

    /// Checks a typed code against the user's seed (confirmed, or pending when `confirming`),
    /// and on success marks its step used and, when confirming, the factor confirmed.
    /// `Ok(false)` for a wrong, expired or replayed code.
    pub async fn check_totp(
        &mut self,
        keys: &Keyring,
        user: UserId,
        typed: &str,
        confirming: bool,
    ) -> Result<bool, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row = sqlx::query(
            "SELECT key_id, nonce, ciphertext, confirmed_at, last_used_step FROM totp_secrets \
             WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(t)
        .bind(user.0)
        .fetch_optional(self.conn())
        .await?
        .ok_or(DbError::NotFound)?;
        let confirmed = row.try_get::<Option<i64>, _>("confirmed_at")?.is_some();
        if confirmed == confirming {
            return Ok(false);
        }
        let sealed = Sealed {
            key_id: row.try_get("key_id")?,
            nonce: row.try_get("nonce")?,
            ciphertext: row.try_get("ciphertext")?,
        };
        let seed = keys.open(&totp_place(t, user.0), &sealed)?;
        let Some(step) = matching_step(&seed, typed, now) else {
            return Ok(false);
        };
        let last: Option<i64> = row.try_get("last_used_step")?;
        if last.is_some_and(|l| step <= l) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE totp_secrets SET last_used_step = $3, \
               confirmed_at = COALESCE(confirmed_at, $4) \
             WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(t)
        .bind(user.0)
        .bind(step)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    pub async fn remove_totp(&mut self, user: UserId) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM totp_secrets WHERE tenant_id = $1 AND user_id = $2")
            .bind(t)
            .bind(user.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// The code an authenticator shows at `now_ms` (tests and the demo's scripted sign-in).
pub fn current_code(seed: &[u8], now_ms: i64) -> String {
    format!("{:06}", code_at(seed, now_ms.div_euclid(STEP_MS)))
}

/// Decodes base32 (as shown on the setup page), for tests that play the authenticator app.
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA1 rows (8 digits there; the last 6 are ours).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let seed = b"12345678901234567890";
        for (seconds, eight) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(current_code(seed, seconds * 1000), eight[2..], "{seconds}");
        }
    }

    #[test]
    fn one_step_of_skew_is_allowed_and_two_are_not() {
        let seed = b"12345678901234567890";
        let now = 1_234_567_890_000;
        let code = current_code(seed, now);
        assert!(matching_step(seed, &code, now).is_some());
        assert!(matching_step(seed, &code, now + STEP_MS).is_some());
        assert!(matching_step(seed, &code, now - STEP_MS).is_some());
        assert!(matching_step(seed, &code, now + 3 * STEP_MS).is_none());
        assert!(matching_step(seed, "12345", now).is_none());
        assert!(matching_step(seed, "12345a", now).is_none());
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(
            matching_step(seed, &spaced, now).is_some(),
            "apps show 123 456"
        );
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        let seed: [u8; 20] = rand::random();
        assert_eq!(decode_base32(&base32(&seed)).unwrap(), seed);
        assert!(decode_base32("not base32!").is_none());
    }

    #[test]
    fn the_provisioning_uri_escapes_names() {
        let uri = provisioning_uri("ACME Copiers", "ada@acme.example", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Copiers:ada%40acme.example?secret=MZXW6YTBOI&issuer=ACME%20Copiers&algorithm=SHA1&digits=6&period=30"
        );
    }
}
