//! Invitations: how people get an account. Staff holding `users.manage` invite staff and any
//! account's customers; a customer account admin invites users of their own account. Nobody can
//! hand out a role holding a permission they do not hold themselves.
//!
//! The e-mailed link carries `pxi_{tenant}_{secret}` (stored as its hash, valid
//! [`VALIDITY_MS`], once); accepting it sets a name and a password and signs the new user in.

use super::{NewUser, UserKind};
use crate::audit::Client;
use crate::auth::password::Hasher;
use crate::auth::signin::{self, SignedIn};
use crate::auth::{Permission, Principal, SessionPolicy, token_hash, token_tenant};
use crate::db::{Db, DbError, TenantDb, TenantTx};
use crate::ids::{AccountId, RoleId};
use crate::mailer::{Mail, MailKind};
use ingest::domain::EmailAddress;

pub const VALIDITY_MS: i64 = 7 * 86_400_000;

/// Who to invite, as whom.
#[derive(Debug, Clone)]
pub struct Invite {
    pub email: EmailAddress,
    pub role: RoleId,
    /// The customer account, for a customer role (a customer inviter's own by default).
    pub account: Option<AccountId>,
}

/// An invitation as the inviter sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub account_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What the person who opens the link sees before accepting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub email: String,
    pub dealer: String,
    pub role: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error(
        "this invitation is not valid: it was used, withdrawn, expired or cut short; ask for a new one"
    )]
    BadToken,
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Forbidden(#[from] crate::auth::Forbidden),
    #[error(transparent)]
    Password(#[from] crate::auth::password::PasswordError),
    #[error(transparent)]
    Invalid(#[from] ingest::domain::ParseError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for InviteError {
    fn from(e: sqlx::Error) -> Self {
        InviteError::Db(e.into())
    }
}

/// Invites someone; the e-mail is queued in the same transaction.
pub async fn invite(
    db: &TenantDb,
    base_url: &str,
    by: &Principal,
    invite: &Invite,
) -> Result<Invitation, InviteError> {
    by.require(Permission::UsersManage)?;
    let mut tx = db.begin().await?;
    let role = match tx.role(invite.role).await {
        Ok(r) => r,
        Err(DbError::NotFound) => return Err(InviteError::Refused("there is no such role".into())),
        Err(e) => return Err(e.into()),
    };
    let account = match (role.scope.as_str(), by.account(), invite.account) {
        ("staff", None, None) => None,
        ("staff", _, _) => {
            return Err(InviteError::Refused(if by.is_staff() {
                "a staff role is not for a customer account's user".into()
            } else {
                "customers can only invite users of their own account".into()
            }));
        }
        (_, Some(own), None) => Some(own),
        (_, Some(own), Some(asked)) if asked == own => Some(own),
        (_, Some(_), Some(_)) => {
            return Err(InviteError::Refused(
                "customers can only invite users of their own account".into(),
            ));
        }
        (_, None, Some(asked)) => Some(asked),
        (_, None, None) => {
            return Err(InviteError::Refused(
                "a customer role needs the customer account the user belongs to".into(),
            ));
        }
    };
    if let Some(a) = account {
        match tx.account(a).await {
            Ok(_) => {}
            Err(DbError::NotFound) => {
                return Err(InviteError::Refused("there is no such account".into()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let granted = tx.role_permissions(role.id).await?;
    if let Some(p) = granted.iter().find(|p| !by.permissions.contains(p)) {
        return Err(InviteError::Refused(format!(
            "the role {} holds {p}, which you do not hold yourself",
            role.name
        )));
    }
    match tx.user_by_email(&invite.email).await {
        Ok(_) => {
            return Err(InviteError::Refused(
                "someone with this e-mail address already has an account".into(),
            ));
        }
        Err(DbError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let (t, now) = (tx.t(), tx.now_ms());
    // a new invitation replaces one still open for the same address
    sqlx::query(
        "UPDATE invitations SET revoked_at = $3 WHERE tenant_id = $1 AND email = $2 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(t)
    .bind(invite.email.as_str())
    .bind(now)
    .execute(tx.conn())
    .await?;
    let token = crate::auth::new_token("pxi", tx.tenant_id());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invitations (tenant_id, email, account_id, role_id, invited_by, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(t)
    .bind(invite.email.as_str())
    .bind(account.map(|a| a.0))
    .bind(role.id.0)
    .bind(by.user.0)
    .bind(token_hash(&token))
    .bind(now)
    .bind(now + VALIDITY_MS)
    .fetch_one(tx.conn())
    .await?;
    let dealer = tx.tenant().await?.name;
    let inviter = tx.user(by.user).await?.display_name;
    tx.queue_mail(&Mail {
        kind: MailKind::Invitation,
        to: invite.email.clone(),
        subject: format!("You are invited to the {dealer} portal"),
        text: format!(
            "Hello,\n\n{inviter} invites you to the {dealer} customer portal.\n\
             To accept, choose your password here within 7 days:\n\n\
             {base}/invitations/accept?token={token}\n\n\
             If you do not expect this invitation, ignore this e-mail.\n",
            base = base_url.trim_end_matches('/'),
        ),
        reply_to: None,
    })
    .await?;
    tx.audit(
        &by.actor(),
        "user.invited",
        ("invitation", Some(id.to_string())),
        account,
        serde_json::json!({ "email": invite.email.as_str(), "role": role.name }),
    )
    .await?;
    tx.commit().await?;
    Ok(Invitation {
        id,
        email: invite.email.as_str().to_owned(),
        role: role.name,
        account_id: account.map(|a| a.0),
        created_at: now,
        expires_at: now + VALIDITY_MS,
    })
}

/// What an invitation link is for, or `BadToken`.
pub async fn welcome(db: &Db, token: &str) -> Result<Welcome, InviteError> {
    let tenant = token_tenant("pxi", token).ok_or(InviteError::BadToken)?;
    db.tenant(tenant)
        .read(async |tx| {
            let (t, now) = (tx.t(), tx.now_ms());
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT i.email, r.name FROM invitations i \
                 JOIN roles r ON r.tenant_id = i.tenant_id AND r.id = i.role_id \
                 WHERE i.tenant_id = $1 AND i.token_hash = $2 AND i.accepted_at IS NULL \
                   AND i.revoked_at IS NULL AND i.expires_at > $3",
            )
            .bind(t)
            .bind(token_hash(token))
            .bind(now)
            .fetch_optional(tx.conn())
            .await?;
            let (email, role) = row.ok_or(DbError::NotFound)?;
            Ok(Welcome {
                email,
                dealer: tx.tenant().await?.name,
                role,
            })
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => InviteError::BadToken,
            other => other.into(),
        })
}

/// Accepts an invitation: the account is created with the chosen name and password, and
/// signed in.
pub async fn accept(
    db: &Db,
    hasher: &Hasher,
    policy: SessionPolicy,
    token: &str,
    display_name: &str,
    password: &str,
    client: &Client,
) -> Result<SignedIn, InviteError> {
    let tenant = token_tenant("pxi", token).ok_or(InviteError::BadToken)?;
    let display_name = crate::tenants::parse_name("display name", display_name)?;
    let phc = hasher.hash(password).await?;
    let mut tx = db.tenant(tenant).begin().await?;
    let (email, account, role) = tx.use_invitation(token).await.map_err(|e| match e {
        DbError::NotFound => InviteError::BadToken,
        other => other.into(),
    })?;
    let email = EmailAddress::parse(&email)?;
    let kind = account.map_or(UserKind::Staff, UserKind::Customer);
    let new = NewUser::new(kind, email, &display_name)?.password_hash(phc);
    let user = tx.create_user(&new, &[role]).await.map_err(|e| match e {
        DbError::Conflict(_) => {
            InviteError::Refused("someone with this e-mail address already has an account".into())
        }
        other => other.into(),
    })?;
    let actor = crate::audit::Actor {
        kind: "user",
        id: Some(user.id.0),
        account,
        via: Some("invitation".into()),
        client: client.clone(),
    };
    tx.audit(
        &actor,
        "user.created",
        ("user", Some(user.id.to_string())),
        None,
        serde_json::json!({ "email": user.email.as_str(), "display_name": user.display_name }),
    )
    .await?;
    let signed_in = signin::open_session(&mut tx, &user, policy, client, None, None).await?;
    tx.commit().await?;
    Ok(signed_in)
}

/// Open invitations, for the people who manage users (customers: their account's).
pub async fn open_invitations(
    db: &TenantDb,
    by: &Principal,
) -> Result<Vec<Invitation>, InviteError> {
    by.require(Permission::UsersRead)?;
    let account = by.account();
    Ok(db
        .read(async |tx| {
            let (t, now) = (tx.t(), tx.now_ms());
            let rows: Vec<(i64, String, String, Option<i64>, i64, i64)> = sqlx::query_as(
                "SELECT i.id, i.email, r.name, i.account_id, i.created_at, i.expires_at FROM invitations i \
                 JOIN roles r ON r.tenant_id = i.tenant_id AND r.id = i.role_id \
                 WHERE i.tenant_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL \
                   AND i.expires_at > $2 AND ($3 = 0 OR i.account_id = $3) ORDER BY i.id DESC",
            )
            .bind(t)
            .bind(now)
            .bind(account.map_or(0, |a| a.0))
            .fetch_all(tx.conn())
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, email, role, account_id, created_at, expires_at)| Invitation {
                    id,
                    email,
                    role,
                    account_id,
                    created_at,
                    expires_at,
                })
                .collect())
        })
        .await?)
}

impl TenantTx {
    /// Marks a good invitation accepted (of two acceptances, one wins); its address, account
    /// and role.
    async fn use_invitation(
        &mut self,
        token: &str,
    ) -> Result<(String, Option<AccountId>, RoleId), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(
            "UPDATE invitations SET accepted_at = $3 WHERE tenant_id = $1 AND token_hash = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
             RETURNING email, account_id, role_id",
        )
        .bind(t)
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        let (email, account, role) = row.ok_or(DbError::NotFound)?;
        Ok((email, account.map(AccountId), RoleId(role)))
    }
}
