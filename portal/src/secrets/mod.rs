//! Secrets the service keeps (TOTP seeds, IMAP passwords, gateway keys…): AES-256-GCM under a
//! key from the configuration, never the database.
//!
//! Each sealed value records the id of the key that sealed it (the first 16 hex digits of the
//! key's SHA-256), so keys can be rotated: put the new key in `secret_key`, the old one in
//! `previous_secret_keys`, run `printyx secrets rotate`, then drop the old key. The associated
//! data binds a ciphertext to where it is stored (tenant, table, name), so a row copied onto
//! another user's or tenant's row does not decrypt.

mod store;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "no secret_key is configured: set secret_key (32 random bytes, base64) to keep secrets"
    )]
    NoKey,
    #[error(
        "{what} is not a key: it must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    BadKey { what: String },
    #[error(
        "the secret was sealed with key {0}, which is not configured (secret_key or previous_secret_keys)"
    )]
    UnknownKey(String),
    #[error("the secret does not decrypt: it was altered or moved")]
    Corrupt,
}

/// A value as stored: which key sealed it, the nonce, the ciphertext with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

/// The configured keys: the current one seals, every one opens.
pub struct Keyring {
    current: Option<Key>,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn parse_key(what: &str, text: &str) -> Result<Key, SecretError> {
    let bad = || SecretError::BadKey {
        what: what.to_owned(),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| bad())?;
    if bytes.len() != 32 {
        return Err(bad());
    }
    let id = hex::encode(Sha256::digest(&bytes))[..16].to_owned();
    let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| bad())?;
    Ok(Key { id, cipher })
}

impl Keyring {
    /// A keyring that can neither seal nor open: every use says to configure a key.
    pub fn empty() -> Self {
        Keyring {
            current: None,
            previous: Vec::new(),
        }
    }

    /// Parses `secret_key` and `previous_secret_keys` (each 32 bytes in base64).
    pub fn new(current: Option<&str>, previous: &[String]) -> Result<Self, SecretError> {
        Ok(Keyring {
            current: current.map(|k| parse_key("secret_key", k)).transpose()?,
            previous: previous
                .iter()
                .enumerate()
                .map(|(i, k)| parse_key(&format!("previous_secret_keys[{i}]"), k))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn can_seal(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    /// Seals `plaintext` for the place named by `aad` with the current key.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> Result<Sealed, SecretError> {
        let key = self.current.as_ref().ok_or(SecretError::NoKey)?;
        let nonce: [u8; 12] = rand::random();
        let ciphertext = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Corrupt)?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens a sealed value stored at the place named by `aad`.
    pub fn open(&self, aad: &str, sealed: &Sealed) -> Result<Vec<u8>, SecretError> {
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::Corrupt)?;
        key.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Corrupt)
    }

    /// Whether `sealed` should be sealed again under the current key.
    pub fn is_stale(&self, sealed: &Sealed) -> bool {
        self.current_key_id()
            .is_some_and(|current| current != sealed.key_id)
    }
}

/// Where a named tenant secret lives, as associated data.
fn named_place(tenant: i64, name: &str) -> String {
    format!("printyx secret:{tenant}:{name}")
}

/// Where a user's TOTP seed lives, as associated data.
pub(crate) fn totp_place(tenant: i64, user: i64) -> String {
    format!("printyx totp:{tenant}:{user}")
}

/// A secret's name: `area.what`, letters, digits, `.`, `-`, `_`, at most 100 characters.
pub fn parse_secret_name(raw: &str) -> Result<String, ingest::domain::ParseError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ingest::domain::ParseError::Empty {
            what: "secret name",
        });
    }
    if s.len() > 100
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
    {
        return Err(ingest::domain::ParseError::Invalid {
            what: "secret name",
            value: s.escape_debug().to_string(),
            why: "use up to 100 letters, digits, '.', '-' and '_'",
        });
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_only_at_its_place_and_unaltered() {
        let ring = Keyring::new(Some(&key(1)), &[]).unwrap();
        let sealed = ring.seal("printyx totp:1:7", b"JBSWY3DPEHPK3PXP").unwrap();
        assert_ne!(sealed.ciphertext, b"JBSWY3DPEHPK3PXP".to_vec());
        assert_eq!(
            ring.open("printyx totp:1:7", &sealed).unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert_eq!(
            ring.open("printyx totp:1:8", &sealed),
            Err(SecretError::Corrupt),
            "another user's row"
        );
        let mut altered = sealed.clone();
        altered.ciphertext[0] ^= 1;
        assert_eq!(
            ring.open("printyx totp:1:7", &altered),
            Err(SecretError::Corrupt)
        );
    }

    #[test]
    fn every_value_gets_its_own_nonce() {
        let ring = Keyring::new(Some(&key(1)), &[]).unwrap();
        let (a, b) = (ring.seal("p", b"x").unwrap(), ring.seal("p", b"x").unwrap());
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn rotation_opens_with_the_previous_key_and_seals_with_the_new_one() {
        let old = Keyring::new(Some(&key(1)), &[]).unwrap();
        let sealed = old.seal("p", b"secret").unwrap();
        let rotated = Keyring::new(Some(&key(2)), &[key(1)]).unwrap();
        assert!(rotated.is_stale(&sealed));
        assert_eq!(rotated.open("p", &sealed).unwrap(), b"secret");
        let resealed = rotated.seal("p", b"secret").unwrap();
        assert!(!rotated.is_stale(&resealed));
        let new_only = Keyring::new(Some(&key(2)), &[]).unwrap();
        assert!(matches!(
            new_only.open("p", &sealed),
            Err(SecretError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_sealing_needs_one() {
        for bad in [
            "",
            "not base64!",
            &base64::engine::general_purpose::STANDARD.encode([0u8; 16]),
        ] {
            assert!(matches!(
                Keyring::new(Some(bad), &[]),
                Err(SecretError::BadKey { .. })
            ));
        }
        assert_eq!(Keyring::empty().seal("p", b"x"), Err(SecretError::NoKey));
    }
}
