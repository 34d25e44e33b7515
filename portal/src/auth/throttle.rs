//! Attempt limits for everything that checks a secret a person or program could guess: sign-in,
//! the second factor, password reset requests, agent enrolment.
//!
//! A bucket (an address, an account, a trusted browser…) allows `max` attempts per fixed window.
//! An attempt is counted *before* its secret is checked, in its own committed transaction, by one
//! statement that locks the bucket, so concurrent guesses cannot slip past the count; a success
//! may clear its bucket. Buckets live in the database, so every server process shares them.
//!
//! What keeps an attacker from locking a real user out is which buckets an attempt is charged
//! to, decided by the sign-in rules (`signin.rs`): a browser the user signed in from before
//! is counted on its own, not on the account's bucket that strangers fill.

use crate::db::{DbError, TenantTx};

/// At most `max` attempts per `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_ms: i64,
}

const MINUTE: i64 = 60_000;

impl Limit {
    /// Sign-in attempts from one network address, all accounts of the tenant.
    pub const SIGN_IN_ADDRESS: Limit = Limit {
        max: 30,
        window_ms: 15 * MINUTE,
    };
    /// Sign-in attempts for one account from browsers it has not signed in from.
    pub const SIGN_IN_ACCOUNT: Limit = Limit {
        max: 6,
        window_ms: 15 * MINUTE,
    };
    /// Sign-in attempts from one browser the account signed in from before.
    pub const SIGN_IN_DEVICE: Limit = Limit {
        max: 10,
        window_ms: 15 * MINUTE,
    };
    /// Second-factor codes for one user (10⁶ codes: 5 per 15 minutes is hopeless to guess).
    pub const SECOND_FACTOR: Limit = Limit {
        max: 5,
        window_ms: 15 * MINUTE,
    };
    /// Reset requests from one address.
    pub const RESET_ADDRESS: Limit = Limit {
        max: 10,
        window_ms: 60 * MINUTE,
    };
    /// Reset e-mails to one address: more are silently not sent (the answer stays the same).
    pub const RESET_EMAIL: Limit = Limit {
        max: 3,
        window_ms: 60 * MINUTE,
    };
    /// Failed enrolment codes from one address.
    pub const ENROLL_ADDRESS: Limit = Limit {
        max: 10,
        window_ms: 60 * MINUTE,
    };
}

/// Too many attempts: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {} minutes", self.minutes())]
pub struct Throttled {
    pub retry_after_s: i64,
}

impl Throttled {
    /// The wait in whole minutes, rounded up.
    pub fn minutes(&self) -> i64 {
        (self.retry_after_s + 59) / 60
    }
}

/// A bucket's key: what is counted (e.g. `sign-in:address`) and whose (the address…).
pub fn bucket(kind: &str, who: &str) -> String {
    // Keys come from requests: keep them bounded (the column allows 400).
    let who: String = who.chars().take(300).collect();
    format!("{kind}:{who}")
}

impl TenantTx {
    /// Counts one attempt against `bucket` and refuses it when the window already holds
    /// `limit.max`. One statement, which locks the bucket's row: concurrent attempts are
    /// counted one after the other on both databases. A refused attempt is counted too, but
    /// does not move the window, so waiting always helps.
    pub async fn throttle(&mut self, bucket: &str, limit: Limit) -> Result<(), ThrottleError> {
        let (t, now) = (self.t(), self.now_ms());
        let (start, attempts): (i64, i64) = sqlx::query_as(
            "INSERT INTO auth_throttle (tenant_id, bucket, window_start, attempts) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (tenant_id, bucket) DO UPDATE SET \
               window_start = CASE WHEN auth_throttle.window_start + $4 <= $3 THEN $3 \
                                   ELSE auth_throttle.window_start END, \
               attempts = CASE WHEN auth_throttle.window_start + $4 <= $3 THEN 1 \
                               ELSE auth_throttle.attempts + 1 END \
             RETURNING window_start, attempts",
        )
        .bind(t)
        .bind(bucket)
        .bind(now)
        .bind(limit.window_ms)
        .fetch_one(self.conn())
        .await?;
        if attempts > limit.max {
            return Err(ThrottleError::Throttled(Throttled {
                retry_after_s: (start + limit.window_ms - now + 999) / 1000,
            }));
        }
        Ok(())
    }

    /// Forgets the attempts counted against `bucket` (after a success).
    pub async fn clear_throttle(&mut self, bucket: &str) -> Result<(), DbError> {
        let t = self.t();
        sqlx::query("DELETE FROM auth_throttle WHERE tenant_id = $1 AND bucket = $2")
            .bind(t)
            .bind(bucket)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Deletes buckets whose window ended more than a day ago.
    pub async fn sweep_throttle(&mut self) -> Result<u64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done =
            sqlx::query("DELETE FROM auth_throttle WHERE tenant_id = $1 AND window_start < $2")
                .bind(t)
                .bind(now - 25 * 3_600_000)
                .execute(self.conn())
                .await?;
        Ok(done.rows_affected())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error(transparent)]
    Throttled(Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ThrottleError {
    fn from(e: sqlx::Error) -> Self {
        ThrottleError::Db(e.into())
    }
}
