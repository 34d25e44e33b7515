//! Password reset by e-mail. The link carries `pxr_{tenant}_{secret}` (256 bits), stored only
//! as its hash, valid for [`VALIDITY_MS`] and once. Asking for a link answers the same whether
//! or not the address has an account: the lookup and the e-mail happen after the answer. A
//! completed reset ends every session of the user and forgives the account's failed sign-ins.

use super::password::Hasher;
use super::throttle::{Limit, ThrottleError, Throttled, bucket};
use super::{token_hash, token_tenant};
use crate::audit::{Actor, Client};
use crate::db::{Db, DbError, TenantDb, TenantTx};
use crate::ids::UserId;
use crate::mailer::{Mail, MailKind};
use ingest::domain::EmailAddress;

pub const VALIDITY_MS: i64 = 30 * 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error(
        "this link is not valid: it was already used, it expired, or it was cut short; ask for a new one"
    )]
    BadToken,
    #[error(transparent)]
    Password(#[from] super::password::PasswordError),
    #[error(transparent)]
    Throttled(Throttled),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<ThrottleError> for ResetError {
    fn from(e: ThrottleError) -> Self {
        match e {
            ThrottleError::Throttled(t) => ResetError::Throttled(t),
            ThrottleError::Db(e) => ResetError::Db(e),
        }
    }
}

/// Asks for a reset link for `email`. Refused only when this address (network) asked too
/// often; otherwise the rest happens in the background, within the next second, and the
/// caller answers at once, the same for every address. Returns the background work.
pub async fn request(
    db: &TenantDb,
    base_url: &str,
    email: EmailAddress,
    client: &Client,
) -> Result<tokio::task::JoinHandle<()>, ResetError> {
    let mut tx = db.begin().await?;
    tx.throttle(
        &bucket("reset:address", client.ip.as_deref().unwrap_or("-")),
        Limit::RESET_ADDRESS,
    )
    .await?;
    tx.commit().await?;
    let (db, base_url, client) = (db.clone(), base_url.to_owned(), client.clone());
    Ok(tokio::spawn(async move {
        // at a random moment of the next second: a request sent right behind this one must
        // not feel whether this one found an account (on SQLite it would wait for its writes)
        let jitter = rand::random_range(0..1000);
        tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
        if let Err(e) = send_link(&db, &base_url, &email, &client).await {
            tracing::warn!(error = %e, "password reset e-mail not queued");
        }
    }))
}

/// The background half of a request. It writes the same things whether or not the address
/// has an account (the per-address count and an audit entry), so that its load on the
/// database — which a next request could feel — does not tell either; only the token and the
/// e-mail itself are extra for a real account.
async fn send_link(
    db: &TenantDb,
    base_url: &str,
    email: &EmailAddress,
    client: &Client,
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let user = match tx.user_by_email(email).await {
        Ok(u) if u.status == "active" => Some(u),
        Ok(_) | Err(DbError::NotFound) => None,
        Err(e) => return Err(e),
    };
    let allowed = match tx
        .throttle(&bucket("reset:email", email.as_str()), Limit::RESET_EMAIL)
        .await
    {
        Ok(()) => true,
        Err(ThrottleError::Throttled(_)) => false,
        Err(ThrottleError::Db(e)) => return Err(e),
    };
    let account = user.as_ref().and_then(|u| match u.kind {
        crate::users::UserKind::Customer(a) => Some(a),
        crate::users::UserKind::Staff => None,
    });
    tx.audit(
        &Actor::anonymous(client),
        "auth.reset_requested",
        ("user", user.as_ref().map(|u| u.id.to_string())),
        account,
        serde_json::json!({ "email": email.as_str(), "sent": allowed && user.is_some() }),
    )
    .await?;
    if let (Some(user), true) = (&user, allowed) {
        let token = tx.create_reset_token(user.id).await?;
        let dealer = tx.tenant().await?.name;
        tx.queue_mail(&Mail {
            kind: MailKind::PasswordReset,
            to: email.clone(),
            subject: format!("Reset your {dealer} portal password"),
            text: format!(
                "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your {dealer} \
                 portal account.\nTo choose a new password, open this link within 30 minutes:\n\n\
                 {base}/password-reset/confirm?token={token}\n\n\
                 If you did not ask for this, ignore this e-mail: your password stays as it is.\n",
                name = user.display_name,
                base = base_url.trim_end_matches('/'),
            ),
            reply_to: None,
        })
        .await?;
    }
    tx.commit().await
}

/// Whether a reset link is (still) good, to show the form or say at once that it is not.
pub async fn check(db: &Db, token: &str) -> Result<(), ResetError> {
    let tenant = token_tenant("pxr", token).ok_or(ResetError::BadToken)?;
    db.tenant(tenant)
        .read(async |tx| tx.reset_token_user(token).await)
        .await
        .map_err(|e| match e {
            DbError::NotFound => ResetError::BadToken,
            other => other.into(),
        })
        .map(|_| ())
}

/// Sets the new password with a reset link, once.
pub async fn complete(
    db: &Db,
    hasher: &Hasher,
    token: &str,
    new_password: &str,
    client: &Client,
) -> Result<UserId, ResetError> {
    let tenant = token_tenant("pxr", token).ok_or(ResetError::BadToken)?;
    let phc = hasher.hash(new_password).await?;
    let mut tx = db.tenant(tenant).begin().await?;
    let user = match tx.use_reset_token(token).await {
        Ok(u) => u,
        Err(DbError::NotFound) => return Err(ResetError::BadToken),
        Err(e) => return Err(e.into()),
    };
    let user = tx.user(user).await?;
    tx.set_password_hash(user.id, &phc).await?;
    let ended = tx.end_sessions_of(user.id, None).await?;
    tx.clear_throttle(&super::signin::account_bucket(&user.email))
        .await?;
    let actor = Actor {
        kind: "user",
        id: Some(user.id.0),
        account: match user.kind {
            crate::users::UserKind::Customer(a) => Some(a),
            crate::users::UserKind::Staff => None,
        },
        via: Some("reset_link".into()),
        client: client.clone(),
    };
    tx.audit(
        &actor,
        "auth.password_reset",
        ("user", Some(user.id.to_string())),
        None,
        serde_json::json!({ "sessions_ended": ended }),
    )
    .await?;
    tx.commit().await?;
    Ok(user.id)
}

impl TenantTx {
    /// A new reset token for `user`; earlier unused ones stop working.
    async fn create_reset_token(&mut self, user: UserId) -> Result<String, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "UPDATE password_reset_tokens SET used_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        let token = super::new_token("pxr", self.tenant_id());
        sqlx::query(
            "INSERT INTO password_reset_tokens (tenant_id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t)
        .bind(user.0)
        .bind(token_hash(&token))
        .bind(now)
        .bind(now + VALIDITY_MS)
        .execute(self.conn())
        .await?;
        Ok(token)
    }

    async fn reset_token_user(&mut self, token: &str) -> Result<UserId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let user: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM password_reset_tokens WHERE tenant_id = $1 AND token_hash = $2 \
             AND used_at IS NULL AND expires_at > $3",
        )
        .bind(t)
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        user.map(UserId).ok_or(DbError::NotFound)
    }

    /// Marks a good token used (atomically: of two requests with it, one wins).
    async fn use_reset_token(&mut self, token: &str) -> Result<UserId, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let user: Option<i64> = sqlx::query_scalar(
            "UPDATE password_reset_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_hash = $2 \
             AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
        )
        .bind(t)
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        user.map(UserId).ok_or(DbError::NotFound)
    }
}
