//! Password hashing: argon2id with t=2, m=19 MiB, p=1 (OWASP's minimum for argon2id).

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {min} characters")]
    TooShort { min: usize },
    #[error("the password must be at most {max} characters")]
    TooLong { max: usize },
    #[error("could not hash the password: {0}")]
    Hash(String),
}

pub const MIN_LEN: usize = 10;
/// Long enough for any pass phrase, short enough that hashing cannot be used to burn CPU.
pub const MAX_LEN: usize = 256;

/// Hashes a new password (PHC string with its own random salt).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort { min: MIN_LEN });
    }
    if len > MAX_LEN {
        return Err(PasswordError::TooLong { max: MAX_LEN });
    }
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches a stored PHC hash; a malformed hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LEN * 4 {
        return false;
    }
    hasher()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not-a-hash"));
    }

    #[test]
    fn same_password_gets_a_new_salt_each_time() {
        assert_ne!(
            hash_password("0123456789").unwrap(),
            hash_password("0123456789").unwrap()
        );
    }

    #[test]
    fn length_limits() {
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort { .. })
        ));
        assert!(matches!(
            hash_password(&"x".repeat(257)),
            Err(PasswordError::TooLong { .. })
        ));
    }
}
