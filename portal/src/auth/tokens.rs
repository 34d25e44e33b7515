//! API tokens for integrations and scripts: `pxt_{tenant_id}_{secret}`, stored as a SHA-256
//! hash, each scoped to a set of permissions no wider than its user's.

use super::{Permission, Principal, Via, token_hash, token_tenant};
use crate::audit::Client;
use crate::db::{Db, DbError, TenantTx, one_row};
use crate::ids::UserId;
use std::collections::BTreeSet;

/// A token as its owner sees it (never the secret, which is shown once at creation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TenantTx {
    /// Issues a token for `user` holding `permissions` (each must be one the user has).
    /// Returns the token, shown once, and its id.
    pub async fn create_api_token(
        &mut self,
        user: UserId,
        name: &str,
        permissions: &BTreeSet<Permission>,
    ) -> Result<String, DbError> {
        if self.user(user).await?.status != "active" {
            return Err(DbError::Refused(
                "only an active user can hold an API token".into(),
            ));
        }
        let held = self.permissions_of(user).await?;
        if let Some(p) = permissions.iter().find(|p| !held.contains(p)) {
            return Err(DbError::Refused(format!("the user does not hold {p}")));
        }
        if permissions.is_empty() {
            return Err(DbError::Refused(
                "a token needs at least one permission".into(),
            ));
        }
        let name = crate::tenants::parse_name("token name", name)?;
        let token = super::new_token("pxt", self.tenant_id());
        let scope = permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let (t, now) = (self.t(), self.now_ms());
        sqlx::query(
            "INSERT INTO api_tokens (tenant_id, name, token_hash, permissions, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t)
        .bind(name)
        .bind(token_hash(&token))
        .bind(scope)
        .bind(user.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(token)
    }

    /// The tokens `user` created, newest first.
    pub async fn api_tokens_of(&mut self, user: UserId) -> Result<Vec<ApiTokenInfo>, DbError> {
        let t = self.t();
        type Row = (i64, String, String, i64, Option<i64>, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, permissions, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE tenant_id = $1 AND created_by = $2 ORDER BY id DESC",
        )
        .bind(t)
        .bind(user.0)
        .fetch_all(self.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, permissions, created_at, last_used_at, revoked_at)| ApiTokenInfo {
                    id,
                    name,
                    permissions: permissions.split_whitespace().map(str::to_owned).collect(),
                    created_at,
                    last_used_at,
                    revoked_at,
                },
            )
            .collect())
    }

    /// Revokes one of `user`'s own tokens; another user's token is `NotFound`.
    pub async fn revoke_api_token(&mut self, user: UserId, id: i64) -> Result<(), DbError> {
        let (t, now) = (self.t(), self.now_ms());
        one_row(
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $4 WHERE tenant_id = $1 AND id = $2 \
                 AND created_by = $3 AND revoked_at IS NULL",
            )
            .bind(t)
            .bind(id)
            .bind(user.0)
            .bind(now)
            .execute(self.conn())
            .await?,
        )
    }

    /// Revokes every token of `user` (erasure, disabling). Returns how many.
    pub async fn revoke_api_tokens_of(&mut self, user: UserId) -> Result<u64, DbError> {
        let (t, now) = (self.t(), self.now_ms());
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND created_by = $2 \
             AND revoked_at IS NULL",
        )
        .bind(t)
        .bind(user.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }
}

impl Db {
    /// Who a bearer token speaks for: its user, limited to the permissions both the token and
    /// (still) the user hold. `NotFound` for anything else — malformed, unknown, revoked,
    /// expired, or a user no longer active.
    pub async fn authenticate_api_token(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<Principal, DbError> {
        let tenant = token_tenant("pxt", token).ok_or(DbError::NotFound)?;
        self.tenant(tenant)
            .run(async |tx| {
                let (t, now) = (tx.t(), tx.now_ms());
                let row: Option<(i64, i64, String)> = sqlx::query_as(
                    "UPDATE api_tokens SET last_used_at = $3 \
                     WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL \
                       AND (expires_at IS NULL OR expires_at > $3) \
                     RETURNING id, created_by, permissions",
                )
                .bind(t)
                .bind(token_hash(token))
                .bind(now)
                .fetch_optional(tx.conn())
                .await?;
                let (id, user_id, scope) = row.ok_or(DbError::NotFound)?;
                let user = tx.user(UserId(user_id)).await?;
                if user.status != "active" {
                    return Err(DbError::NotFound);
                }
                let held = tx.permissions_of(user.id).await?;
                let permissions = scope
                    .split_whitespace()
                    .filter_map(Permission::parse)
                    .filter(|p| held.contains(p))
                    .collect();
                Ok(Principal {
                    tenant,
                    user: user.id,
                    kind: user.kind,
                    permissions,
                    via: Via::ApiToken(id),
                    client: client.clone(),
                    formats: user.formats,
                    lang: crate::web::i18n::Lang::from_code(&user.locale),
                })
            })
            .await
    }
}
