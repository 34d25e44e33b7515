//! Browser sessions, kept on the server: the cookie holds `pxs_{tenant}_{secret}` and the
//! database only its SHA-256. A session ends at its idle expiry (no request for a while), at its
//! absolute expiry (however active), at sign-out, or when the user signs out everywhere, resets
//! the password or is disabled.
//!
//! Every sign-in creates a new session (a session id planted before sign-in is worthless), and
//! passing the second factor replaces the session by another, so the cookie that was good for
//! "password given" is not the one that is good for "fully signed in".

use super::{Permission, Principal, Via, token_hash, token_tenant};
use crate::audit::Client;
use crate::db::{Db, DbError, TenantTx};
use crate::ids::UserId;
use crate::users::UserKind;
use ingest::ids::TenantId;
use sqlx::Row;
use std::collections::BTreeSet;

ingest::typed_id!(SessionId);

/// How long sessions last (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_ms: 60 * 60_000,
            absolute_ms: 12 * 3_600_000,
        }
    }
}

/// A session's last-seen time is written at most this often (a write per request would put
/// every page view in SQLite's writer queue).
const TOUCH_EVERY_MS: i64 = 60_000;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Signed in: the principal's permissions apply.
    Complete,
    /// The password was right; the user's TOTP code is still due.
    NeedsSecondFactor,
    /// The password was right; the tenant requires a second factor for staff and this user
    /// has none yet: only setting one up is possible.
    NeedsEnrolment,
}

/// A session found by its cookie.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: SessionId,
    pub principal: Principal,
    pub stage: SessionStage,
    /// Proves a state-changing request came from our own page (hidden form field or header).
    pub csrf: String,
    pub display_name: String,
    touch_due: bool,
}

/// A session as its user sees it in the list of their sessions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A new session's cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub token: String,
    pub csrf: String,
}

impl TenantTx {
    /// Opens a session for `user`. `second_factor_at` is when the second factor was given
    /// (`None`: not given, which matters only for users who have one).
    pub async fn create_session(
        &mut self,
        user: UserId,
        policy: SessionPolicy,
        client: &Client,
        second_factor_at: Option<i64>,
        absolute_expires_at: Option<i64>,
    ) -> Result<NewSession, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let token = super::new_token("pxs", self.tenant_id());
        let csrf = hex::encode(rand::random::<[u8; 32]>());
        let absolute = absolute_expires_at.unwrap_or(now + policy.absolute_ms);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (tenant_id, user_id, token_hash, csrf_secret, created_at, last_seen_at, \
               idle_expires_at, absolute_expires_at, second_factor_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(t)
        .bind(user.0)
        .bind(token_hash(&token))
        .bind(&csrf)
        .bind(now)
        .bind((now + policy.idle_ms).min(absolute))
        .bind(absolute)
        .bind(second_factor_at)
        .bind(client.ip.as_deref())
        .bind(client.user_agent.as_deref())
        .fetch_one(self.conn())
        .await?;
        Ok(NewSession {
            id: SessionId(id),
            token,
            csrf,
        })
    }

    /// Replaces a session whose second factor was just given by a new one (new cookie, same
    /// absolute expiry).
    pub async fn promote_session(
        &mut self,
        session: SessionId,
        policy: SessionPolicy,
        client: &Client,
    ) -> Result<NewSession, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL \
             RETURNING user_id, absolute_expires_at",
        )
        .bind(t)
        .bind(session.0)
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        let (user, absolute) = row.ok_or(DbError::NotFound)?;
        self.create_session(UserId(user), policy, client, Some(now), Some(absolute))
            .await
    }

    /// Ends one session of `user` (sign-out, or a session in the user's list).
    pub async fn end_session(&mut self, user: UserId, session: SessionId) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        crate::db::one_row(
            sqlx::query(
                "UPDATE sessions SET revoked_at = $4 WHERE tenant_id = $1 AND id = $2 \
                 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(t)
            .bind(session.0)
            .bind(user.0)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    /// Ends every session of `user` but `except`. Returns how many ended.
    pub async fn end_sessions_of(
        &mut self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
             AND id <> $3 AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .bind(except.map_or(0, |s| s.0))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// The user's sessions that are still open, newest first.
    pub async fn sessions_of(&mut self, user: UserId) -> Result<Vec<SessionInfo>, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        type Row = (i64, i64, i64, Option<String>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, created_at, last_seen_at, ip, user_agent FROM sessions \
             WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL \
               AND idle_expires_at > $3 AND absolute_expires_at > $3 ORDER BY id DESC",
        )
        .bind(t)
        .bind(user.0)
        .bind(now)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_seen_at, ip, user_agent)| SessionInfo {
                    id,
                    created_at,
                    last_seen_at,
                    ip,
                    user_agent,
                },
            )
            .collect())
    }

    /// Deletes sessions that ended more than a week ago.
    pub async fn sweep_sessions(&mut self) -> Result<u64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let week_ago = now - 7 * 86_400_000;
        let done = sqlx::query(
            "DELETE FROM sessions WHERE tenant_id = $1 AND (absolute_expires_at < $2 \
             OR idle_expires_at < $2 OR revoked_at < $2)",
        )
        .bind(t)
        .bind(week_ago)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    async fn touch_session(&mut self, id: SessionId, policy: SessionPolicy) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $3, \
               idle_expires_at = CASE WHEN $4 < absolute_expires_at THEN $4 ELSE absolute_expires_at END \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(t)
        .bind(id.0)
        .bind(now)
        .bind(now + policy.idle_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Whether this tenant requires dealer staff to use a second factor.
    pub async fn staff_need_second_factor(&mut self) -> Result<bool, DbError> {
        Ok(self.setting(REQUIRE_STAFF_TOTP).await?.as_deref() == Some("1"))
    }
}

/// The tenant setting that makes a second factor mandatory for staff.
pub const REQUIRE_STAFF_TOTP: &str = "security.require_staff_totp";

impl Db {
    /// The open session a cookie value stands for, with its user's principal; `NotFound` for
    /// anything else (malformed, unknown, ended, expired, a user no longer active).
    pub async fn session(
        &self,
        token: &str,
        client: &Client,
        policy: SessionPolicy,
    ) -> Result<ActiveSession, DbError> {
        let tenant: TenantId = token_tenant("pxs", token).ok_or(DbError::NotFound)?;
        let db = self.tenant(tenant);
        let session = db
            .read(async |tx| {
                let (t, now) = (tx.t(), tx.now_ms());
                let row = sqlx::query(
                    "SELECT s.id, s.user_id, s.csrf_secret, s.last_seen_at, s.second_factor_at, \
                       u.kind, u.account_id, u.status, u.display_name, \
                       u.time_zone, u.date_format, u.number_format, u.locale, \
                       (SELECT COUNT(*) FROM totp_secrets x WHERE x.tenant_id = s.tenant_id \
                          AND x.user_id = s.user_id AND x.confirmed_at IS NOT NULL) AS has_totp, \
                       (SELECT COUNT(*) FROM tenant_settings ts WHERE ts.tenant_id = s.tenant_id \
                          AND ts.key = $4 AND ts.value = '1') AS staff_need_totp \
                     FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
                     WHERE s.tenant_id = $1 AND s.token_hash = $2 AND s.revoked_at IS NULL \
                       AND s.idle_expires_at > $3 AND s.absolute_expires_at > $3",
                )
                .bind(t)
                .bind(token_hash(token))
                .bind(now)
                .bind(REQUIRE_STAFF_TOTP)
                .fetch_optional(tx.conn())
                .await?
                .ok_or(DbError::NotFound)?;
                if row.try_get::<String, _>("status")? != "active" {
                    return Err(DbError::NotFound);
                }
                let user = UserId(row.try_get("user_id")?);
                let kind = match row.try_get::<Option<i64>, _>("account_id")? {
                    None => UserKind::Staff,
                    Some(a) => UserKind::Customer(crate::ids::AccountId(a)),
                };
                let second_factor_done = row.try_get::<Option<i64>, _>("second_factor_at")?.is_some();
                let has_totp = row.try_get::<i64, _>("has_totp")? > 0;
                let required = kind == UserKind::Staff && row.try_get::<i64, _>("staff_need_totp")? > 0;
                let stage = match (second_factor_done, has_totp, required) {
                    (true, _, _) | (false, false, false) => SessionStage::Complete,
                    (false, true, _) => SessionStage::NeedsSecondFactor,
                    (false, false, true) => SessionStage::NeedsEnrolment,
                };
                let permissions: BTreeSet<Permission> = if stage == SessionStage::Complete {
                    tx.permissions_of(user).await?
                } else {
                    BTreeSet::new()
                };
                let id = SessionId(row.try_get("id")?);
                Ok(ActiveSession {
                    id,
                    principal: Principal {
                        tenant,
                        user,
                        kind,
                        permissions,
                        via: Via::Session(id),
                        client: client.clone(),
                        formats: crate::web::formats::Formats::from_codes(
                            &row.try_get::<String, _>("time_zone")?,
                            &row.try_get::<String, _>("date_format")?,
                            &row.try_get::<String, _>("number_format")?,
                        ),
                        lang: crate::web::i18n::Lang::from_code(
                            &row.try_get::<String, _>("locale")?,
                        ),
                    },
                    stage,
                    csrf: row.try_get("csrf_secret")?,
                    display_name: row.try_get("display_name")?,
                    touch_due: now - row.try_get::<i64, _>("last_seen_at")? >= TOUCH_EVERY_MS,
                })
            })
            .await?;
        if session.touch_due {
            db.run(async |tx| tx.touch_session(session.id, policy).await)
                .await?;
        }
        Ok(session)
    }
}
