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
    check_length(password)?;
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

/// Password hashing off the async runtime, at most one hash per core at a time: a hash takes
/// tens of milliseconds of CPU, and a burst of sign-ins must neither stall other requests nor
/// make the server thrash. Unknown users are checked against a dummy hash, so that an answer
/// takes as long for an address that has no account as for one that has.
#[derive(Debug, Clone)]
pub struct Hasher {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    dummy: std::sync::Arc<String>,
}

impl Hasher {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let dummy = hash_password("an unguessable dummy that no account has")
            .unwrap_or_else(|_| String::new());
        Hasher {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
            dummy: std::sync::Arc::new(dummy),
        }
    }

    /// Whether `password` matches `stored`; with no stored hash it checks the dummy and
    /// answers no, in the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (password, hash, real) = match stored {
            Some(h) => (password.to_owned(), h.to_owned(), true),
            None => (password.to_owned(), self.dummy.as_ref().clone(), false),
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        ok && real
    }

    /// Hashes a new password (checking its length first).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_length(password)?;
        let password = password.to_owned();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

/// The length rules, for checking a new password before anything is hashed or stored.
pub fn check_length(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort { min: MIN_LEN });
    }
    if len > MAX_LEN {
        return Err(PasswordError::TooLong { max: MAX_LEN });
    }
    Ok(())
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
