//! Signing in: e-mail and password, then the second factor when the user has one.
//!
//! The rules that keep guessing slow without locking the real user out:
//! - an attempt from a browser the user signed in from before (its device cookie) is charged
//!   only to that browser's bucket;
//! - any other attempt is charged to its network address (all accounts) and to the account
//!   (attempts from strangers), and refused when either is full;
//! - the attempt is counted before the password is checked, and the answer is the same for a
//!   wrong password, an unknown address and a disabled account, in the same time (a dummy
//!   hash is checked when there is no account).

use super::password::Hasher;
use super::session::{ActiveSession, NewSession, SessionPolicy, SessionStage};
use super::throttle::{Limit, ThrottleError, Throttled, bucket};
use super::{token_hash, token_tenant};
use crate::audit::{Actor, Client};
use crate::db::{DbError, TenantDb, TenantTx};
use crate::ids::UserId;
use crate::users::{User, UserKind};
use ingest::domain::EmailAddress;

/// What the browser presents when signing in.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub email: &'a EmailAddress,
    pub password: &'a str,
    /// The device cookie, if this browser has one.
    pub device: Option<&'a str>,
    /// The session cookie it still carries, if any: ended, whatever happens.
    pub old_session: Option<&'a str>,
    pub client: &'a Client,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserId,
    pub session: NewSession,
    pub stage: SessionStage,
    /// A device cookie to give this browser (none when it already had a good one).
    pub new_device: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong password, unknown address, or an account that cannot sign in: never which.
    #[error("the e-mail address or the password is not right")]
    WrongCredentials,
    #[error(transparent)]
    Throttled(Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ThrottleError> for SignInError {
    fn from(e: ThrottleError) -> Self {
        match e {
            ThrottleError::Throttled(t) => SignInError::Throttled(t),
            ThrottleError::Db(e) => SignInError::Db(e),
        }
    }
}

/// The buckets an attempt is charged to.
fn buckets(a: &Attempt<'_>, trusted: Option<i64>) -> Vec<(String, Limit)> {
    match trusted {
        Some(device) => vec![(
            bucket("sign-in:device", &device.to_string()),
            Limit::SIGN_IN_DEVICE,
        )],
        None => vec![
            (
                bucket("sign-in:address", a.client.ip.as_deref().unwrap_or("-")),
                Limit::SIGN_IN_ADDRESS,
            ),
            (account_bucket(a.email), Limit::SIGN_IN_ACCOUNT),
        ],
    }
}

/// The bucket strangers' attempts on one account fill (cleared by a completed reset).
pub fn account_bucket(email: &EmailAddress) -> String {
    bucket("sign-in:account", email.as_str())
}

/// Signs in with e-mail and password.
pub async fn sign_in(
    db: &TenantDb,
    hasher: &Hasher,
    policy: SessionPolicy,
    a: &Attempt<'_>,
) -> Result<SignedIn, SignInError> {
    // 1. Count the attempt (committed before the password is looked at).
    let mut tx = db.begin().await?;
    let user = match tx.user_by_email(a.email).await {
        Ok(u) => Some(u),
        Err(DbError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let trusted = match (a.device, &user) {
        (Some(device), Some(u)) => tx.trusted_device(device, u.id).await?,
        _ => None,
    };
    for (b, limit) in buckets(a, trusted) {
        // a refused attempt is not counted anywhere: the transaction is dropped
        tx.throttle(&b, limit).await?;
    }
    let stored = match &user {
        Some(u) => tx.password_hash_of(u.id).await?,
        None => None,
    };
    tx.commit().await?;

    // 2. Check the password (the same work whether or not there is an account).
    let matches = hasher.verify(a.password, stored.as_deref()).await;
    let user = user.filter(|u| matches && u.status == "active");

    // 3. Record the outcome.
    let mut tx = db.begin().await?;
    let actor = Actor::anonymous(a.client);
    let Some(user) = user else {
        tx.audit(
            &actor,
            "auth.sign_in_failed",
            ("user", None),
            None,
            serde_json::json!({ "email": a.email.as_str() }),
        )
        .await?;
        tx.commit().await?;
        return Err(SignInError::WrongCredentials);
    };
    // the account's (or this browser's) count starts again; the address's does not
    for (b, _) in buckets(a, trusted) {
        if !b.starts_with("sign-in:address") {
            tx.clear_throttle(&b).await?;
        }
    }
    let signed_in = open_session(&mut tx, &user, policy, a.client, a.old_session, trusted).await?;
    tx.commit().await?;
    Ok(signed_in)
}

/// Opens a session for a user who just proved who they are (password, or an invitation
/// link with a new password), ending the session the browser carried; gives the browser a
/// device cookie unless it is already `trusted`.
pub(crate) async fn open_session(
    tx: &mut TenantTx,
    user: &User,
    policy: SessionPolicy,
    client: &Client,
    old_session: Option<&str>,
    trusted: Option<i64>,
) -> Result<SignedIn, DbError> {
    if let Some(old) = old_session {
        tx.end_session_by_token(old).await?;
    }
    let has_factor = tx.totp_state(user.id).await?.is_some_and(|s| s.confirmed);
    let required = user.kind == UserKind::Staff && tx.staff_need_second_factor().await?;
    let stage = match (has_factor, required) {
        (true, _) => SessionStage::NeedsSecondFactor,
        (false, true) => SessionStage::NeedsEnrolment,
        (false, false) => SessionStage::Complete,
    };
    let session = tx
        .create_session(user.id, policy, client, None, None)
        .await?;
    let new_device = match trusted {
        Some(device) => {
            tx.touch_trusted_device(device).await?;
            None
        }
        None => Some(tx.trust_device(user.id).await?),
    };
    tx.note_sign_in(user.id).await?;
    let actor = crate::audit::Actor {
        kind: "user",
        id: Some(user.id.0),
        account: match user.kind {
            UserKind::Staff => None,
            UserKind::Customer(a) => Some(a),
        },
        via: None,
        client: client.clone(),
    };
    tx.audit(
        &actor,
        "auth.sign_in",
        ("user", Some(user.id.to_string())),
        None,
        serde_json::json!({ "session": session.id.0, "stage": format!("{stage:?}") }),
    )
    .await?;
    Ok(SignedIn {
        user: user.id,
        session,
        stage,
        new_device,
    })
}

/// The second step: the code from the user's authenticator, for a session waiting for it.
/// On success the session is replaced by a complete one (new cookie).
pub async fn second_factor(
    db: &TenantDb,
    keys: &crate::secrets::Keyring,
    policy: SessionPolicy,
    pending: &ActiveSession,
    code: &str,
) -> Result<NewSession, SignInError> {
    let user = pending.principal.user;
    let user_bucket = bucket("second-factor:user", &user.0.to_string());
    let mut tx = db.begin().await?;
    tx.throttle(&user_bucket, Limit::SECOND_FACTOR).await?;
    tx.commit().await?;
    let actor = pending.principal.actor();
    let mut tx = db.begin().await?;
    if !tx.check_totp(keys, user, code, false).await? {
        tx.audit(
            &actor,
            "auth.second_factor_failed",
            ("user", Some(user.to_string())),
            None,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        return Err(SignInError::WrongCredentials);
    }
    tx.clear_throttle(&user_bucket).await?;
    let new = tx
        .promote_session(pending.id, policy, &pending.principal.client)
        .await?;
    tx.audit(
        &actor,
        "auth.second_factor",
        ("user", Some(user.to_string())),
        None,
        serde_json::json!({ "session": new.id.0 }),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

impl TenantTx {
    /// The trusted-device row a device cookie stands for, if it belongs to `user`.
    pub async fn trusted_device(
        &mut self,
        token: &str,
        user: UserId,
    ) -> Result<Option<i64>, DbError> {
        if token_tenant("pxd", token) != Some(self.tenant_id()) {
            return Ok(None);
        }
        let t = self.t();
        Ok(sqlx::query_scalar(
            "SELECT id FROM trusted_devices WHERE tenant_id = $1 AND token_hash = $2 AND user_id = $3",
        )
        .bind(t)
        .bind(token_hash(token))
        .bind(user.0)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Remembers this browser for `user`; returns its device cookie value.
    async fn trust_device(&mut self, user: UserId) -> Result<String, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let token = super::new_token("pxd", self.tenant_id());
        sqlx::query(
            "INSERT INTO trusted_devices (tenant_id, user_id, token_hash, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(t)
        .bind(user.0)
        .bind(token_hash(&token))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(token)
    }

    async fn touch_trusted_device(&mut self, id: i64) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "UPDATE trusted_devices SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends the session a cookie value stands for, if it is one of this tenant's.
    pub async fn end_session_by_token(&mut self, token: &str) -> Result<(), DbError> {
        if token_tenant("pxs", token) != Some(self.tenant_id()) {
            return Ok(());
        }
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(token_hash(token))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
